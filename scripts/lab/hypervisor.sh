#!/usr/bin/env bash
# Build the golden Debian 12 image the VPS lab boots (SOP 20-22): debootstrap minbase with
# systemd, dbus, openssh-server and a kernel, a first-boot unit that reads the VM's identity
# (hostname, address, gateway, SSH keys) from the kernel command line, then `mkfs.ext4 -d`
# into a raw disk converted to qcow2. The kernel and initrd are copied beside it: domains
# boot them directly (no boot loader), which also lets libvirt pass the identity.
#
# Cached outside the clone, keyed by a revision of what goes in; ~2 min the first time.
#
# Usage: scripts/lab/hypervisor.sh build-image [--force]
set -euo pipefail

SOP_CACHE="${SOP_CACHE:-$HOME/.cache/sop-runner}"
IMAGES="$SOP_CACHE/images"
SUITE=bookworm
MIRROR="${SOP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
INCLUDE=systemd-sysv,dbus,openssh-server,linux-image-amd64,iproute2,udev,e2fsprogs,kmod,procps
REV="$(printf '%s\n' "$SUITE" "$MIRROR" "$INCLUDE" vps-rev4 | sha256sum | cut -c1-12)"
NAME="debian-vps-$SUITE"

log() { printf '[hypervisor] %s\n' "$*" >&2; }
die() { printf '[hypervisor] error: %s\n' "$*" >&2; exit 1; }

build_image() {
  local force=${1:-0}
  if ((force == 0)) && [[ -f "$IMAGES/$NAME.qcow2" && "$(cat "$IMAGES/$NAME.rev" 2>/dev/null)" == "$REV" ]]; then
    log "golden image $IMAGES/$NAME.qcow2 (rev $REV) present"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
  command -v debootstrap >/dev/null || die "debootstrap missing: install scripts/packages/hypervisor.txt"
  mkdir -p "$IMAGES"
  local t0
  t0=$(date +%s)
  work="$(mktemp -d "$IMAGES/.build-XXXXXX")"
  trap 'rm -rf "${work:-}"' EXIT
  log "debootstrap $SUITE into $work (~2 min)"
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  local r="$work/root"

  # Host keys are made per VM at first boot; a shared key would let one VPS impersonate another.
  rm -f "$r"/etc/ssh/ssh_host_*
  echo "PermitRootLogin prohibit-password" >"$r/etc/ssh/sshd_config.d/10-sop.conf"
  echo "PasswordAuthentication no" >>"$r/etc/ssh/sshd_config.d/10-sop.conf"
  echo "UseDNS no" >>"$r/etc/ssh/sshd_config.d/10-sop.conf"
  : >"$r/etc/machine-id"
  printf '/dev/vda / ext4 defaults,noatime 0 1\n' >"$r/etc/fstab"

  # Hot-added vCPUs arrive offline; a VPS resize expects them to be used at once.
  printf 'SUBSYSTEM=="cpu", ACTION=="add", TEST=="online", ATTR{online}=="0", ATTR{online}="1"\n' \
    >"$r/etc/udev/rules.d/80-cpu-online.rules"

  cat >"$r/usr/local/sbin/sop-firstboot" <<'SCRIPT'
#!/bin/sh
# Identity from the kernel command line: sop.hostname= sop.ip=ADDR/LEN sop.gw= sop.dns=
# sop.keys=<base64 of authorized_keys>. Runs every boot (cheap), so a changed identity applies.
set -eu
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    sop.hostname=*) host="${arg#*=}" ;;
    sop.ip=*) ip="${arg#*=}" ;;
    sop.gw=*) gw="${arg#*=}" ;;
    sop.dns=*) dns="${arg#*=}" ;;
    sop.keys=*) keys="${arg#*=}" ;;
  esac
done
if [ -n "${host:-}" ]; then
  echo "$host" >/etc/hostname
  hostname "$host"
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$host" >/etc/hosts
fi
mkdir -p /etc/systemd/network /root/.ssh
{
  echo "[Match]"; echo "Name=eth0"; echo "[Network]"
  if [ -n "${ip:-}" ]; then echo "Address=$ip"; else echo "DHCP=ipv4"; fi
  [ -n "${gw:-}" ] && echo "Gateway=$gw"
  [ -n "${dns:-}" ] && echo "DNS=$dns"
} >/etc/systemd/network/10-eth0.network
if [ -n "${keys:-}" ]; then
  echo "$keys" | base64 -d >/root/.ssh/authorized_keys
  chmod 700 /root/.ssh; chmod 600 /root/.ssh/authorized_keys
fi
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
# The disk may have grown while the VM was off: take the space (online resize is harmless).
resize2fs /dev/vda >/dev/null 2>&1 || true
SCRIPT
  chmod 755 "$r/usr/local/sbin/sop-firstboot"
  cat >"$r/etc/systemd/system/sop-firstboot.service" <<'UNIT'
[Unit]
Description=VPS identity from the kernel command line (sop-runner lab)
DefaultDependencies=no
After=local-fs.target
Before=network-pre.target ssh.service systemd-networkd.service
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/sop-firstboot
RemainAfterExit=yes

[Install]
WantedBy=sysinit.target
UNIT
  chroot "$r" systemctl enable sop-firstboot.service systemd-networkd.service ssh.service >/dev/null 2>&1
  # Fewer units, faster boot under TCG: nothing here needs timers or getty on a VGA console.
  for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
              fstrim.timer getty@tty1.service systemd-timesyncd.service \
              systemd-update-utmp-runlevel.service systemd-update-utmp.service; do
    chroot "$r" systemctl mask "$unit" >/dev/null 2>&1 || true
  done
  chroot "$r" systemctl set-default multi-user.target >/dev/null 2>&1

  # A 36 MB "most" initrd costs ~10 s of TCG boot; the guest only ever needs virtio and ext4.
  printf 'MODULES=list\n' >"$r/etc/initramfs-tools/conf.d/sop-modules"
  printf 'virtio_pci\nvirtio_blk\nvirtio_net\nvirtio_balloon\next4\n' >>"$r/etc/initramfs-tools/modules"
  chroot "$r" update-initramfs -u -k all >/dev/null 2>&1 || die "update-initramfs failed in the image"
  cp "$(ls -1 "$r"/boot/vmlinuz-* | tail -1)" "$work/$NAME.vmlinuz"
  cp "$(ls -1 "$r"/boot/initrd.img-* | tail -1)" "$work/$NAME.initrd"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/usr/share/doc/* "$r"/usr/share/man/*
  truncate -s 2G "$work/root.raw"
  mkfs.ext4 -q -L root -d "$r" "$work/root.raw"
  qemu-img convert -q -c -O qcow2 "$work/root.raw" "$work/$NAME.qcow2"
  mv -f "$work/$NAME.vmlinuz" "$work/$NAME.initrd" "$IMAGES/"
  mv -f "$work/$NAME.qcow2" "$IMAGES/$NAME.qcow2"
  echo "$REV" >"$IMAGES/$NAME.rev"
  rm -rf "$work"; trap - EXIT
  log "golden image built in $(( $(date +%s) - t0 )) s: $IMAGES/$NAME.qcow2"
}

# The disk a lab "bare-metal" server gets from the lab installer (SOP 23): an MBR disk with a
# FAT boot partition (syslinux, the golden kernel and initrd) and the golden root file system,
# shrunk to what it holds plus room to work. Made without mounting anything (mtools, syslinux
# --install on an image, dd at partition offsets), so it builds wherever the golden image does.
# The installer streams it from the answer-file server and then configures the copy from the
# answer file (hostname, address, root key, host keys), as an image-based installer does.
BM_NAME="debian-bm-$SUITE"
BM_REV="$(printf '%s\n' "$REV" bm-rev1 | sha256sum | cut -c1-12)"

build_bm_image() {
  local force=${1:-0}
  if ((force == 0)) && [[ -f "$IMAGES/$BM_NAME.raw.gz" && "$(cat "$IMAGES/$BM_NAME.rev" 2>/dev/null)" == "$BM_REV" ]]; then
    log "bare-metal image $IMAGES/$BM_NAME.raw.gz (rev $BM_REV) present"
    return 0
  fi
  build_image 0
  for tool in mkfs.vfat mcopy syslinux sfdisk resize2fs; do
    command -v "$tool" >/dev/null || die "$tool missing: install scripts/packages/hypervisor.txt"
  done
  local mbr=/usr/lib/syslinux/mbr/mbr.bin t0
  [[ -f $mbr ]] || die "$mbr missing: apt-get install syslinux-common"
  t0=$(date +%s)
  work="$(mktemp -d "$IMAGES/.bm-XXXXXX")"
  trap 'rm -rf "${work:-}"' EXIT
  qemu-img convert -O raw "$IMAGES/$NAME.qcow2" "$work/root.raw"
  e2fsck -fp "$work/root.raw" >/dev/null
  resize2fs -M "$work/root.raw" >/dev/null 2>&1
  local blocks bsize root_mib
  blocks=$(dumpe2fs -h "$work/root.raw" 2>/dev/null | awk -F: '/^Block count/ {print $2+0}')
  bsize=$(dumpe2fs -h "$work/root.raw" 2>/dev/null | awk -F: '/^Block size/ {print $2+0}')
  root_mib=$(( blocks * bsize / 1048576 + 256 ))
  resize2fs "$work/root.raw" "${root_mib}M" >/dev/null 2>&1
  truncate -s "${root_mib}M" "$work/root.raw"

  local boot_mib=48
  # Hidden sectors = the partition's start, so syslinux's boot sector finds itself on the disk.
  mkfs.vfat -n SOPBOOT -h 2048 -C "$work/boot.img" $((boot_mib * 1024)) >/dev/null
  printf 'DEFAULT sop\nPROMPT 0\nTIMEOUT 0\nLABEL sop\n  KERNEL /vmlinuz\n  INITRD /initrd\n  APPEND root=/dev/vda2 ro console=ttyS0 quiet\n' \
    >"$work/syslinux.cfg"
  mcopy -i "$work/boot.img" "$IMAGES/$NAME.vmlinuz" ::/vmlinuz
  mcopy -i "$work/boot.img" "$IMAGES/$NAME.initrd" ::/initrd
  mcopy -i "$work/boot.img" "$work/syslinux.cfg" ::/syslinux.cfg
  syslinux --install "$work/boot.img"

  truncate -s $((1 + boot_mib + root_mib))M "$work/disk.raw"
  printf 'label: dos\nstart=2048, size=%d, type=c, bootable\nstart=%d, type=83\n' \
    $((boot_mib * 2048)) $(((1 + boot_mib) * 2048)) | sfdisk -q "$work/disk.raw"
  dd if="$mbr" of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
  dd if="$work/boot.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
  dd if="$work/root.raw" of="$work/disk.raw" bs=1M seek=$((1 + boot_mib)) conv=notrunc,sparse status=none
  gzip -1 -c "$work/disk.raw" >"$work/$BM_NAME.raw.gz"
  mv -f "$work/$BM_NAME.raw.gz" "$IMAGES/$BM_NAME.raw.gz"
  echo "$BM_REV" >"$IMAGES/$BM_NAME.rev"
  rm -rf "$work"; trap - EXIT
  log "bare-metal image built in $(( $(date +%s) - t0 )) s: $IMAGES/$BM_NAME.raw.gz ($((1 + boot_mib + root_mib)) MiB disk)"
}

case "${1:-}" in
  build-image) build_image "$([[ "${2:-}" == --force ]] && echo 1 || echo 0)" ;;
  build-bm-image) build_bm_image "$([[ "${2:-}" == --force ]] && echo 1 || echo 0)" ;;
  image-path) echo "$IMAGES/$NAME.qcow2" ;;
  bm-image-path) echo "$IMAGES/$BM_NAME.raw.gz" ;;
  *) echo "usage: $0 build-image [--force] | build-bm-image [--force] | image-path | bm-image-path" >&2; exit 2 ;;
esac
