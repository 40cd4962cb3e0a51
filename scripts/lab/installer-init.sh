#!/bin/busybox-sop sh
# The lab's installer (SOP 23), booted from the installer ISO the os_install role builds.
# Like debian-installer it takes `url=` from the kernel command line, brings the network up
# by DHCP and fetches the answer file. With `sop.image=<url>` it is an image-based installer:
# it streams a bootable disk image onto the answer file's disk (partman-auto/disk), then
# configures the copy from the answer file (hostname, static address, DNS, SSH host key) and
# runs the answer file's late_command with `in-target` = chroot into the new system, which
# writes the root key and calls back. It powers off at the end, as
# `debian-installer/exit/poweroff` asks. Kickstart and autoinstall need their own installers
# (Anaconda, Subiquity): this one refuses them with a failed call-back.
B=/bin/busybox-sop
$B mkdir -p /proc /sys /dev /tmp /target /sbin-sop
$B mount -t proc proc /proc; $B mount -t sysfs sys /sys; $B mount -t devtmpfs dev /dev
$B --install -s /sbin-sop; export PATH=/sbin-sop:$PATH
say() { echo "sop-installer: $*"; }
# A failure is reported to the answer-file server (status=failed) so the step ends at once
# with the reason instead of waiting out its timeout.
fail() {
  say "FAILED: $*"
  [ -n "${url:-}" ] && wget -q -O /dev/null --post-data "device=${device:-?}&status=failed&reason=$*" \
    "${url%/*/*}/callback"
  sync; poweroff -f
}
# In dependency order; insmod by path (no udev, no depmod lookups needed).
for m in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover \
         virtio_net virtio_blk crc16 mbcache jbd2 crc32c_generic ext4; do
  f=$(find /usr/lib/modules -name "$m.ko*" | head -1)
  [ -n "$f" ] && insmod "$f" 2>/dev/null
done
n=0
until [ -e /sys/class/net/eth0 ] && [ -e /dev/vda ]; do n=$((n+1)); [ $n -ge 50 ] && break; sleep 0.2; done
ip link set eth0 up
cat >/tmp/dhcp <<'EOF'
#!/bin/busybox-sop sh
[ "$1" = bound ] || exit 0
/bin/busybox-sop ip addr add "$ip/${mask:-24}" dev "$interface"
[ -n "$router" ] && /bin/busybox-sop ip route add default via "${router%% *}"
exit 0
EOF
chmod 755 /tmp/dhcp
udhcpc -i eth0 -q -n -t 10 -s /tmp/dhcp >/dev/null 2>&1 || fail "no DHCP answer on eth0"
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s|^$1=||p" | head -1; }
url=$(arg url); image=$(arg sop.image); device=${url%/*}; device=${device##*/}
say "fetching $url"
n=0
until wget -q -O /tmp/answer "$url"; do n=$((n+1)); [ $n -ge 20 ] && fail "no answer file at $url"; sleep 1; done
sum=$(sha256sum /tmp/answer | cut -d' ' -f1)
pre() { sed -n "s|^d-i $1 [a-z]* *||p" /tmp/answer | head -1; }
disk=$(pre partman-auto/disk); disk=${disk:-/dev/vda}

head -1 /tmp/answer | grep -q '^#_preseed_V1' || fail "the lab installer installs from a preseed only"
[ -n "$image" ] || fail "no sop.image= on the kernel command line"
say "writing $image to $disk"
set -o pipefail
wget -q -O - "$image" | gunzip -c | dd of="$disk" bs=1M conv=fsync 2>/dev/null || fail "could not write $image"
set +o pipefail
blockdev --rereadpt "$disk"
n=0; until [ -e "${disk}2" ]; do n=$((n+1)); [ $n -ge 50 ] && fail "no ${disk}2 after writing"; sleep 0.2; done
mount -t ext4 "${disk}2" /target || fail "cannot mount ${disk}2"
host=$(pre netcfg/get_hostname); domain=$(pre netcfg/get_domain); addr=$(pre netcfg/get_ipaddress)
gw=$(pre netcfg/get_gateway); dns=$(pre netcfg/get_nameservers)
eval "$(ipcalc -p "$addr" "$(pre netcfg/get_netmask)")"
say "configuring $host ($addr/$PREFIX via $gw)"
echo "$host" >/target/etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s.%s %s\n' "$host" "$domain" "$host" >/target/etc/hosts
printf '%s / ext4 defaults,noatime 0 1\n' "${disk}2" >/target/etc/fstab
mkdir -p /target/etc/systemd/network
# By MAC: the installed kernel names the NIC by its slot (ens9), the installer's calls it eth0.
{ echo "[Match]"; echo "MACAddress=$(cat /sys/class/net/eth0/address)"; echo "[Network]"; echo "Address=$addr/$PREFIX"; echo "Gateway=$gw"
  for d in $dns; do echo "DNS=$d"; done; echo "Domains=$domain"; } >/target/etc/systemd/network/10-eth0.network
# The image's first-boot unit takes a VPS identity from the kernel command line; an
# installed server has its identity on disk now.
rm -f /target/etc/systemd/system/sysinit.target.wants/sop-firstboot.service
mount -o bind /dev /target/dev; mount -t proc proc /target/proc
chroot /target ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key </dev/null \
  || fail "ssh-keygen in the new system"
printf 'SOP-INSTALLED %s %s %s\n' "$sum" "$url" "$image" >/target/var/log/sop-installer.log
cp /tmp/answer /target/var/log/sop-installer.answer
late=$(sed -n 's|^d-i preseed/late_command string ||p' /tmp/answer)
say "late_command"
# d-i's in-target runs a command inside the installed system.
in_target() { chroot /target "$@"; }
eval "$(echo "$late" | sed 's/in-target /in_target /g')" || fail "late_command"
sync; umount /target/proc /target/dev /target
sync
say "done, powering off"
poweroff -f
