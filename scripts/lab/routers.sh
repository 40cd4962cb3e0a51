#!/usr/bin/env bash
# Router lab: FRRouting 8.4 routers in network namespaces, a Linux dmz-gw (nftables NAT, tc
# shaping) and an SKPD server, all wired through a "patch panel" namespace of bridges so a
# cable can be moved from one router to another without deleting interfaces.
#
#   scripts/lab/routers.sh up|down|status
#   scripts/lab/routers.sh cables edge-02|edge-01   # technician moves the edge cables
#   scripts/lab/routers.sh vlan ROUTER IFACE VID     # create a dot1q sub-interface (the
#                                                    # "hardware" half FRR cannot do)
#
# Nothing leaves the machine: every address lives inside namespaces this script creates;
# sshd per router listens on 127.0.100.x (loopback) only.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

LAB="${SOP_ROUTER_LAB_DIR:-$SOP_ROOT/.lab/routers}"
NSP="${SOP_NETNS_PREFIX:-sop-}"
SSH_PORT="${SOP_ROUTER_SSH_PORT:-2222}"
SSH_USER="${SOP_ROUTER_USER:-sopnet}"
FRR_BIN=/usr/lib/frr
ROUTERS=(rtr-edge-01 rtr-core-01 rtr-isp rtr-edge-02)
HOSTS=(dmz-gw srv-dmz-dinkes-01 srv-dmz-bkd-01)
PATCH="${NSP}patch"

declare -A MGMT=([rtr-edge-01]=127.0.100.11 [rtr-core-01]=127.0.100.12 [rtr-isp]=127.0.100.13 [rtr-edge-02]=127.0.100.14)
declare -A SHORT=([rtr-edge-01]=e01 [rtr-core-01]=cor [rtr-isp]=isp [rtr-edge-02]=e02 [dmz-gw]=dmz
                  [srv-dmz-dinkes-01]=sdk [srv-dmz-bkd-01]=sbk)
# node:iface:bridge[:pvid]. The names and addresses follow NetBox (inventory/seed/*.yml).
# rtr-edge-02's ports exist but stay unpatched (no carrier) until the cables are moved.
LINKS=(
  "rtr-isp:eth0:br-wan" "rtr-edge-01:eth0:br-wan" "rtr-edge-02:eth0:"
  "rtr-edge-01:eth1:br-core" "rtr-core-01:eth1:br-core" "rtr-edge-02:eth1:"
  "rtr-edge-01:eth2:br-pub" "dmz-gw:eth0:br-pub" "rtr-edge-02:eth2:"
  "rtr-core-01:eth2:" "rtr-core-01:eth3:"
  "dmz-gw:eth1:br-v20" "srv-dmz-dinkes-01:eth0:br-v20" "srv-dmz-bkd-01:eth0:br-v20"
)
EDGE_PORTS=(eth0 eth1 eth2)
declare -A EDGE_FAR=([eth0]=isp-eth0 [eth1]=cor-eth1 [eth2]=dmz-eth0)
declare -A EDGE_BR=([eth0]=br-wan [eth1]=br-core [eth2]=br-pub)
# The core's SVIs (NetBox: rtr-core-01 vlanNN). This kernel has no 802.1Q (8021q) nor VLAN-aware
# bridges, so an SVI is a veth into its own bridge "br-vNN": the same L3 view from FRR.
CORE_VLANS=(10 20 100 110 120 130 140 150)
declare -A SERVER_IP=([srv-dmz-dinkes-01]=10.30.1.11 [srv-dmz-bkd-01]=10.30.1.12)

ns() { echo "${NSP}$1"; }
has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Baseline configurations: what NetBox's seed (sop_runner/lab/seed_network.py) describes, so a
# fresh lab has no drift. rtr-edge-02 is blank: it only gets a config when it replaces the edge.
baseline_config() {
  case "$1" in
    rtr-edge-01) cat <<'EOF'
frr defaults traditional
hostname rtr-edge-01
service integrated-vtysh-config
!
ip route 203.0.113.10/32 203.0.113.3
!
interface eth0
 description WAN: uplink to rtr-isp
 ip address 198.51.100.2/30
exit
!
interface eth1
 description to rtr-core-01 eth1
 ip address 10.30.255.1/30
 ip ospf area 0
 ip ospf network point-to-point
 ip ospf retransmit-interval 1
exit
!
interface eth2
 description Public segment 203.0.113.0/24
 ip address 203.0.113.1/24
 ip address 203.0.113.2/24
exit
!
router bgp 64512
 bgp router-id 10.30.255.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.1 remote-as 64500
 neighbor 198.51.100.1 description rtr-isp
 neighbor 198.51.100.1 timers 3 9
 neighbor 198.51.100.1 timers connect 5
 !
 address-family ipv4 unicast
  network 203.0.113.0/24
 exit-address-family
exit
!
router ospf
 ospf router-id 10.30.255.1
 default-information originate
exit
!
EOF
    ;;
    rtr-core-01)
      cat <<'EOF'
frr defaults traditional
hostname rtr-core-01
service integrated-vtysh-config
!
interface eth1
 description to rtr-edge-01 eth1
 ip address 10.30.255.2/30
 ip ospf area 0
 ip ospf network point-to-point
 ip ospf retransmit-interval 1
exit
!
interface eth2
 description trunk to hv-01
exit
!
interface eth3
 description trunk to hv-02
exit
!
interface vlan10
 description SVI MGMT
 ip address 10.30.0.1/24
exit
!
interface vlan20
 description SVI DMZ
 ip address 10.30.1.1/24
exit
!
interface vlan100
 description SVI SRV-DISKOMINFO
 ip address 10.30.100.1/24
exit
!
interface vlan110
 description SVI SKPD-DINKES
 ip address 10.30.110.1/24
exit
!
interface vlan120
 description SVI SKPD-BKD
 ip address 10.30.120.1/24
exit
!
interface vlan130
 description SVI SKPD-BAPPEDA
 ip address 10.30.130.1/24
exit
!
interface vlan140
 description SVI SKPD-DISDUKCAPIL
 ip address 10.30.140.1/24
exit
!
interface vlan150
 description SVI SKPD-DISDIK
 ip address 10.30.150.1/24
exit
!
router ospf
 ospf router-id 10.30.255.2
 redistribute connected
exit
!
EOF
    ;;
    rtr-isp) cat <<'EOF'
frr defaults traditional
hostname rtr-isp
service integrated-vtysh-config
!
ip route 10.30.0.0/16 198.51.100.2
!
interface eth0
 description Customer: Diskominfo Wonosobo
 ip address 198.51.100.1/30
exit
!
interface lo
 ip address 192.0.2.1/32
exit
!
router bgp 64500
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 neighbor 198.51.100.2 remote-as 64512
 neighbor 198.51.100.2 description dc-wonosobo
 neighbor 198.51.100.2 timers 3 9
 neighbor 198.51.100.2 timers connect 5
 !
 address-family ipv4 unicast
  network 192.0.2.1/32
  neighbor 198.51.100.2 default-originate
 exit-address-family
exit
!
EOF
    ;;
    *) printf 'frr defaults traditional\nhostname %s\nservice integrated-vtysh-config\n!\n' "$1" ;;
  esac
}

ensure_user() {
  local shell="$LAB/bin/vtysh-login"
  if ! id "$SSH_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir "$LAB" --shell "$shell" -G frrvty,frr "$SSH_USER"
    touch "$LAB/.created-user"
  fi
  usermod --shell "$shell" -G frrvty,frr "$SSH_USER"
  [[ -s "$LAB/password" ]] || (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$LAB/password")
  echo "$SSH_USER:$(cat "$LAB/password")" | chpasswd
}

write_login_shell() {
  mkdir -p "$LAB/bin"
  # The login shell: vtysh against this router's sockets. sshd runs inside the router's UTS
  # namespace, so `hostname` names the router and vtysh saves the right hostname.
  cat >"$LAB/bin/vtysh-login" <<EOF
#!/bin/sh
r=\$(hostname)
if [ "\$1" = "-c" ]; then shift; exec /usr/bin/vtysh --vty_socket "$LAB/\$r/run" --config_dir "$LAB/\$r/etc" -c "\$*"; fi
exec /usr/bin/vtysh --vty_socket "$LAB/\$r/run" --config_dir "$LAB/\$r/etc"
EOF
  chmod 755 "$LAB/bin/vtysh-login"
}

make_node_ns() {
  local node="$1" n; n="$(ns "$node")"
  has_ns "$n" || ip netns add "$n"
  ip -n "$n" link set lo up
  ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.arp_notify=1 \
    net.ipv4.conf.default.arp_notify=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

make_links() {
  has_ns "$PATCH" || ip netns add "$PATCH"
  ip -n "$PATCH" link set lo up
  local l node ifc br peer fresh=0
  [[ -f "$LAB/cables" ]] || fresh=1
  for br in br-wan br-core br-pub br-v20; do ensure_bridge "$br"; done
  for l in "${LINKS[@]}"; do
    IFS=: read -r node ifc br <<<"$l"
    peer="${SHORT[$node]}-$ifc"
    if ! ip -n "$(ns "$node")" link show "$ifc" >/dev/null 2>&1; then
      ip -n "$(ns "$node")" link add name "$ifc" type veth peer name "$peer" netns "$PATCH"
    fi
    ip -n "$(ns "$node")" link set "$ifc" up
    ((fresh)) || continue
    if [[ -n "$br" ]]; then
      ip -n "$PATCH" link set "$peer" master "$br" up
    elif [[ $node == rtr-edge-02 ]]; then
      ip -n "$PATCH" link set "$peer" down
    else
      ip -n "$PATCH" link set "$peer" up
    fi
  done
  local v
  for v in "${CORE_VLANS[@]}"; do cmd_vlan rtr-core-01 eth2 "$v"; done
  ((fresh)) && echo rtr-edge-01 >"$LAB/cables"
  return 0
}

ensure_bridge() {
  ip -n "$PATCH" link show "$1" >/dev/null 2>&1 || ip -n "$PATCH" link add name "$1" type bridge mcast_snooping 0
  ip -n "$PATCH" link set "$1" up
}

# Put the interface addresses of frr.conf on the kernel interfaces before zebra starts, as a
# Linux router's boot does. Why: FRR 8.4's zebra loses the connected route when two addresses
# of one prefix (rtr-edge-01 eth2: 203.0.113.1/24 and .2/24) are both added by the boot-time
# `vtysh -b` in one burst (a race in its connected-route bookkeeping, fixed in later FRR). The
# connected route is then missing: `network 203.0.113.0/24` stays invalid, rtr-isp never learns
# the public segment and nothing published there is reachable. Addresses zebra reads from the
# kernel at start-up are processed one by one, so the route is always installed. Adding them
# at run time (netmiko, one line at a time) is not affected.
preload_addresses() {
  local r="$1" conf="$2" n ifc="" line
  n="$(ns "$r")"
  [[ -f "$conf" ]] || return 0
  while IFS= read -r line; do
    case "$line" in
      "interface "*) ifc="${line#interface }" ;;
      "exit"|"!") ifc="" ;;
      " ip address "*)
        [[ -n "$ifc" ]] && ip -n "$n" link show "$ifc" >/dev/null 2>&1 || continue
        ip -n "$n" addr replace "${line# ip address }" dev "$ifc"
        ;;
    esac
  done <"$conf"
}

start_router() {
  local r="$1" d="$LAB/$1" n; n="$(ns "$1")"
  mkdir -p "$d/etc" "$d/run" "$d/log"
  [[ -f "$d/etc/frr.conf" ]] || baseline_config "$r" >"$d/etc/frr.conf"
  printf 'service integrated-vtysh-config\n' >"$d/etc/vtysh.conf"
  chown -R frr:frr "$d"; chmod 775 "$d/etc" "$d/run"; chmod 664 "$d/etc/frr.conf"
  # A persistent UTS namespace per router, bound to a file: daemons and sshd share it.
  if [[ ! -f "$d/uts" ]] || ! nsenter --uts="$d/uts" true 2>/dev/null; then
    touch "$d/uts"
    unshare --uts="$d/uts" hostname "$r"
  fi
  local in=(nsenter --uts="$d/uts" ip netns exec "$n")
  local started=0 daemon
  pid_alive "$d/run/zebra.pid" || preload_addresses "$r" "$d/etc/frr.conf"
  for daemon in zebra staticd ospfd bgpd; do
    pid_alive "$d/run/$daemon.pid" && continue
    local extra=(-z "$d/run/zserv.api")
    "${in[@]}" "$FRR_BIN/$daemon" -d -P 0 -f /dev/null --vty_socket "$d/run" -i "$d/run/$daemon.pid" \
      --log "file:$d/log/$daemon.log" "${extra[@]}" 2>>"$d/log/start.err" || die "$r: $daemon failed to start (see $d/log/$daemon.log)"
    if [[ $daemon == zebra ]]; then
      for _ in $(seq 50); do [[ -S "$d/run/zserv.api" ]] && break; sleep 0.1; done
    fi
    started=1
  done
  if ((started)); then
    nsenter --uts="$d/uts" /usr/bin/vtysh --vty_socket "$d/run" --config_dir "$d/etc" -b >"$d/log/boot.log" 2>&1 \
      || die "$r: applying frr.conf failed: $(tail -5 "$d/log/boot.log")"
  fi
  start_sshd "$r"
}

start_sshd() {
  local r="$1" d="$LAB/$1"
  pid_alive "$d/run/sshd.pid" && return 0
  if ss -Hltn "src ${MGMT[$r]}:$SSH_PORT or src 0.0.0.0:$SSH_PORT" | grep -q .; then
    die "port ${MGMT[$r]}:$SSH_PORT is taken; set SOP_ROUTER_SSH_PORT"
  fi
  [[ -f "$LAB/ssh/host_ed25519" ]] || { mkdir -p "$LAB/ssh"; ssh-keygen -q -t ed25519 -N '' -f "$LAB/ssh/host_ed25519"; }
  cat >"$d/sshd_config" <<EOF
ListenAddress ${MGMT[$r]}:$SSH_PORT
HostKey $LAB/ssh/host_ed25519
PidFile $d/run/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $LAB/ssh/authorized_keys
AllowUsers $SSH_USER
PermitRootLogin no
StrictModes no
UseDNS no
X11Forwarding no
AllowTcpForwarding no
LogLevel ERROR
EOF
  mkdir -p /run/sshd
  nsenter --uts="$d/uts" /usr/sbin/sshd -f "$d/sshd_config" -E "$d/log/sshd.log" || die "$r: sshd failed ($d/log/sshd.log)"
}

setup_hosts() {
  local g; g="$(ns dmz-gw)"
  ip -n "$g" addr replace 203.0.113.3/24 dev eth0
  ip -n "$g" addr replace 10.30.1.254/24 dev eth1
  ip -n "$g" route replace default via 203.0.113.1
  # dmz-gw's NAT table: the public addresses NetBox already lists as published (203.0.113.10
  # -> srv-dmz-dinkes-01), in the format roles/public_ip_nat manages.
  if ! ip netns exec "$g" nft list table ip sop_nat >/dev/null 2>&1; then
    ip netns exec "$g" nft -f - <<'EOF'
table ip sop_nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr 203.0.113.10 dnat to 10.30.1.11 comment "sop57 203.0.113.10"
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" ip saddr 10.30.1.11 ip daddr != 10.0.0.0/8 snat to 203.0.113.10 comment "sop57 203.0.113.10"
  }
}
EOF
  fi
  local s srv
  for srv in "${!SERVER_IP[@]}"; do
    s="$(ns "$srv")"
    ip -n "$s" addr replace "${SERVER_IP[$srv]}/24" dev eth0
    ip -n "$s" route replace default via 10.30.1.254
    # The SKPD's web server: answers any TCP connection on :80 with its name.
    if ! pid_alive "$LAB/$srv.pid"; then
      ip netns exec "$s" setsid socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:"echo $srv" >/dev/null 2>&1 &
      echo $! >"$LAB/$srv.pid"
    fi
  done
}

cmd_up() {
  command -v "$FRR_BIN/zebra" >/dev/null || die "FRR is not installed: bash scripts/bootstrap.sh (scripts/packages/routers.txt)"
  local t0; t0=$(date +%s.%N)
  mkdir -p "$LAB"
  write_login_shell
  ensure_user
  local node
  for node in "${ROUTERS[@]}" "${HOSTS[@]}"; do make_node_ns "$node"; done
  make_links
  for node in "${ROUTERS[@]}"; do start_router "$node"; done
  setup_hosts
  printf '%s\n' "${ROUTERS[@]}" "${HOSTS[@]}" patch >"$LAB/created-namespaces"
  log "router lab up in $(python3 -c "import time; print(round(time.time()-$t0, 1))") s (user $SSH_USER, password in $LAB/password)"
}

stop_pidfile() {
  local f="$1" p
  [[ -f "$f" ]] || return 0
  p="$(cat "$f")"
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

cmd_down() {
  [[ -d "$LAB" ]] || { log "router lab is not up"; return 0; }
  local r f node
  for f in "$LAB"/srv-*.pid; do stop_pidfile "$f"; done
  for r in "${ROUTERS[@]}"; do
    for f in "$LAB/$r"/run/*.pid; do stop_pidfile "$f"; done
    [[ -f "$LAB/$r/uts" ]] && umount "$LAB/$r/uts" 2>/dev/null || true
  done
  if [[ -f "$LAB/created-namespaces" ]]; then
    while read -r node; do has_ns "$(ns "$node")" && ip netns del "$(ns "$node")"; done <"$LAB/created-namespaces"
  fi
  if [[ -f "$LAB/.created-user" ]]; then userdel "$SSH_USER" 2>/dev/null || true; fi
  rm -rf "$LAB"
  log "router lab down"
}

cmd_status() {
  [[ -d "$LAB" ]] || { echo "router lab: down"; return 3; }
  local r daemon ok=0
  echo "router lab: $LAB (edge cables on $(cat "$LAB/cables" 2>/dev/null))"
  for r in "${ROUTERS[@]}"; do
    local states=()
    for daemon in zebra staticd ospfd bgpd sshd; do
      if pid_alive "$LAB/$r/run/$daemon.pid"; then states+=("$daemon:up"); else states+=("$daemon:DOWN"); ok=1; fi
    done
    printf '  %-12s ssh %s:%s  %s\n' "$r" "${MGMT[$r]}" "$SSH_PORT" "${states[*]}"
  done
  for r in "${HOSTS[@]}" patch; do
    if has_ns "$(ns "$r")"; then printf '  %-12s netns %s\n' "$r" "$(ns "$r")"; else printf '  %-12s MISSING\n' "$r"; ok=1; fi
  done
  return $ok
}

# The technician's cable move: unplug the edge router's ports at the patch panel and plug the
# other router in. The far ends (rtr-isp, rtr-core-01) see their link flap, as with a real
# re-plug, so BGP and OSPF notice at once instead of waiting for hold timers.
cmd_cables() {
  local to="${1:-}" from
  case "$to" in
    edge-02|rtr-edge-02) to=rtr-edge-02; from=rtr-edge-01 ;;
    edge-01|rtr-edge-01) to=rtr-edge-01; from=rtr-edge-02 ;;
    *) die "usage: routers.sh cables edge-02|edge-01" ;;
  esac
  [[ -f "$LAB/cables" ]] || die "router lab is not up"
  if [[ "$(cat "$LAB/cables")" == "$to" ]]; then log "cables already on $to"; return 0; fi
  local p
  for p in "${EDGE_PORTS[@]}"; do
    ip -n "$PATCH" link set "${EDGE_FAR[$p]}" down
    ip -n "$PATCH" link set "${SHORT[$from]}-$p" nomaster
    ip -n "$PATCH" link set "${SHORT[$from]}-$p" down
    ip -n "$PATCH" link set "${SHORT[$to]}-$p" master "${EDGE_BR[$p]}" up
  done
  sleep 0.5
  for p in "${EDGE_PORTS[@]}"; do ip -n "$PATCH" link set "${EDGE_FAR[$p]}" up; done
  echo "$to" >"$LAB/cables"
  log "edge cables moved from $from to $to"
}

cmd_vlan() {
  local r="${1:?router}" ifc="${2:?interface}" vid="${3:?vlan id}" n
  n="$(ns "$r")"
  has_ns "$n" || die "no namespace for $r"
  if [[ "${4:-}" == "absent" ]]; then
    ip -n "$n" link del "vlan$vid" 2>/dev/null || true
    ip -n "$PATCH" link del "br-v$vid" 2>/dev/null || true
    return 0
  fi
  # NetBox names SVIs "vlanNN": a veth into the VLAN's bridge (see CORE_VLANS).
  ensure_bridge "br-v$vid"
  if ! ip -n "$n" link show "vlan$vid" >/dev/null 2>&1; then
    ip -n "$n" link add name "vlan$vid" type veth peer name "${SHORT[$r]}-v$vid" netns "$PATCH"
  fi
  ip -n "$PATCH" link set "${SHORT[$r]}-v$vid" master "br-v$vid" up
  ip -n "$n" link set "vlan$vid" up
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  cables) shift; cmd_cables "$@" ;;
  vlan) shift; cmd_vlan "$@" ;;
  *) echo "usage: $0 up|down|status|cables edge-02|edge-01|vlan ROUTER IFACE VID [absent]" >&2; exit 2 ;;
esac
