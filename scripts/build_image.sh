#!/usr/bin/env bash
# Build the systemd-capable Debian 12 image that every Molecule scenario runs on, without any
# image registry: debootstrap a minbase rootfs, trim it, cache it as a .tar.zst outside the
# clone, and `podman import` it as localhost/debian-systemd:bookworm.
#
# Idempotent: an existing image with the current revision is reused; otherwise a cached tarball
# of the current revision is imported (~3 s); only when neither exists does debootstrap run
# (~2 min). --force rebuilds everything.
#
# Usage: scripts/build_image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

IMAGE="${SOP_IMAGE:-localhost/debian-systemd:bookworm}"
SUITE=bookworm
MIRROR="${SOP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${SOP_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CACHE_DIR="$SOP_CACHE/images"
TARBALL="$CACHE_DIR/debian-systemd-$SUITE.tar.zst"

# What the roles' tests need besides systemd and Python: sshd, nftables, debsums and ss for
# dmz_incident; procps for the service probes. Installing them per test run would cost
# ~20 s of apt per scenario; in the image they cost ~6 MB once.
INCLUDE=(
  python3 python3-apt systemd systemd-sysv dbus ca-certificates
  iproute2 procps openssh-server nftables debsums
)
# The revision changes whenever what goes into the image changes, so a stale cache is rebuilt.
REV="$(printf '%s\n' "$SUITE" "$MIRROR" "${INCLUDE[@]}" "rev5" | sha256sum | cut -c1-12)"

force=0
[[ "${1:-}" == "--force" ]] && force=1

command -v podman >/dev/null || die "podman missing: run scripts/bootstrap.sh (scripts/packages/molecule.txt)"

if ((force == 0)) && podman image exists "$IMAGE" \
   && [[ "$(podman image inspect --format '{{ index .Config.Labels "sop.image.rev" }}' "$IMAGE" 2>/dev/null)" == "$REV" ]]; then
  log "image: $IMAGE (rev $REV) present, nothing to do"
  exit 0
fi

import_tarball() {
  log "image: importing $TARBALL as $IMAGE"
  zstd -dc "$TARBALL" | podman import \
    --change 'CMD ["/sbin/init"]' \
    --change 'ENV container=podman' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL sop.image.rev=$REV" \
    - "$IMAGE" >/dev/null
}

if ((force == 0)) && [[ -f "$TARBALL" && "$(cat "$TARBALL.rev" 2>/dev/null)" == "$REV" ]]; then
  import_tarball
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/bootstrap.sh"
t0=$(date +%s)
mkdir -p "$CACHE_DIR"
rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT

log "image: debootstrap $SUITE minbase into $rootfs (~2 min)"
inc="$(IFS=,; echo "${INCLUDE[*]}")"
debootstrap --variant=minbase --include="$inc" "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; die "debootstrap failed (log: $rootfs.log)"; }
rm -f "$rootfs.log"

# Suites the roles need: -updates and -security carry the newer versions os_upgrade installs.
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
# Bring the image up to the current point release and security updates: debootstrap installs
# from the release suite only, and every scenario would otherwise spend its time upgrading
# the same ~17 packages. os_upgrade's test pins its own old package in prepare.
mount -t proc proc "$rootfs/proc"
trap 'umount "$rootfs/proc" 2>/dev/null || true; rm -rf "$rootfs"' EXIT
chroot "$rootfs" apt-get -qq update
DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get -qq -y dist-upgrade >/dev/null
chroot "$rootfs" apt-get -qq clean
umount "$rootfs/proc"

# No interactive prompts and no recommends in tests; the roles do not rely on either.
cat >"$rootfs/etc/apt/apt.conf.d/90sop-test" <<'EOF'
APT::Install-Recommends "false";
Dpkg::Options { "--force-confdef"; "--force-confold"; };
EOF
# Units that make no sense or hang in a container.
for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
            systemd-modules-load.service getty@tty1.service console-getty.service \
            systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# ssh host keys are generated on first boot of each instance, never shared through the image.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat >"$rootfs/etc/systemd/system/ssh.service.d/hostkeys.conf" <<'EOF'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
: >"$rootfs/etc/machine-id"

# Trim: docs, man pages, locales and package caches (~40 % of a minbase rootfs).
rm -rf "$rootfs"/usr/share/{doc,man,info}/* "$rootfs"/usr/share/locale/* \
       "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/var/log/*.log "$rootfs"/tmp/*
# Package lists: drop them and backdate the directory, so the roles' first
# `apt update` with cache_valid_time really runs (a fresh mtime would make apt skip it and the
# -updates/-security suites above would be missing).
find "$rootfs/var/lib/apt/lists" -maxdepth 1 -type f -delete
touch -d '2000-01-01 00:00:00' "$rootfs/var/lib/apt/lists" "$rootfs/var/cache/apt"

log "image: packing $TARBALL"
tar -C "$rootfs" --numeric-owner --xattrs -cf - . | zstd -q -T0 -10 -o "$TARBALL.tmp" -f
mv -f "$TARBALL.tmp" "$TARBALL"
echo "$REV" >"$TARBALL.rev"
import_tarball
log "image: $IMAGE built in $(( $(date +%s) - t0 )) s ($(du -h "$TARBALL" | cut -f1))"
