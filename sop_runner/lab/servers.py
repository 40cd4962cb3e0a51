"""Lab servers for the server SOPs (24, 25, 59) run through `sop`: long-lived systemd containers.

Each host is a podman container from the project's Debian image (``scripts/build_image.sh``)
with systemd as PID 1 and sshd as its real service. It is registered in NetBox as a virtual
machine in cluster ``clu-wonosobo-01`` with its address and a NetBox service ``ssh`` (tcp/22):
the roles read the ports a host must keep serving from those services. ``inventory/servers/``
reaches the hosts with the ``containers.podman.podman`` connection.

Container names are global to podman, so they carry this clone's id
(``sop-srv-lab-01-<id>``, the id being a hash of the clone's path); the inventory derives the
same name. Nothing leaves the machine except apt, which the roles use against Debian's mirror.

Run: ``python -m sop_runner.lab.servers up|down|status [-n N]`` (or ``scripts/lab/servers.sh``),
with NETBOX_URL/NETBOX_TOKEN or the lab's ``.lab/netbox.env`` for the NetBox registration.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from sop_runner.lab.paths import repo_root

__all__ = [
    "CLUSTER",
    "HOSTS",
    "SERVICES",
    "Server",
    "container_name",
    "down",
    "exec_in",
    "lab_id",
    "main",
    "register",
    "status",
    "up",
]

IMAGE = "localhost/debian-systemd:bookworm"
# The inventory (inventory/servers/hosts.yml) lists these names; `up -n N` starts the first N.
HOSTS = [f"srv-lab-{i:02d}" for i in range(1, 5)]
CLUSTER = "clu-wonosobo-01"
TAG = "sop-lab-server"
# What each lab host serves: the NetBox services the roles read (name = systemd unit).
SERVICES: list[dict[str, Any]] = [{"name": "ssh", "protocol": "tcp", "ports": [22]}]
_LABEL = "sop.lab.servers"
_BOOT_TIMEOUT_S = 60.0


def lab_id() -> str:
    """This clone's id: the same hash inventory/servers/group_vars derives from playbook_dir."""
    return hashlib.sha256(str(repo_root()).encode()).hexdigest()[:8]


def container_name(host: str) -> str:
    """The podman container of lab host ``host`` for this clone."""
    return f"sop-{host}-{lab_id()}"


@dataclass(frozen=True)
class Server:
    """A running lab host."""

    host: str
    container: str
    address: str
    running: bool
    ssh: str


def _podman(*args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=timeout)


def exec_in(host: str, *argv: str, check: bool = True, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside lab host ``host`` (as root, like the playbooks)."""
    return _podman("exec", container_name(host), *argv, check=check, timeout=timeout)


def _nofile() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return min(hard if hard != resource.RLIM_INFINITY else 65536, 65536)


def _exists(container: str) -> bool:
    return _podman("container", "exists", container, check=False).returncode == 0


def _running(container: str) -> bool:
    out = _podman("inspect", "--format", "{{.State.Running}}", container, check=False)
    return out.returncode == 0 and out.stdout.strip() == "true"


def _address(container: str) -> str:
    out = _podman("inspect", "--format", "{{.NetworkSettings.IPAddress}}", container, check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def _start(host: str) -> None:
    name = container_name(host)
    if _running(name):
        return
    if _exists(name):
        _podman("start", name)
        return
    # The same flags as .config/molecule/config.yml: runc (crun fails on this host's mixed
    # cgroups), systemd as PID 1, NET_ADMIN for nftables (SOP 59), limits within the host's.
    nofile = _nofile()
    _podman(
        "run", "-d", "--name", name, "--hostname", host, "--runtime=runc", "--systemd=always",
        "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
        "--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=32768:32768",
        "--label", f"{_LABEL}={lab_id()}", IMAGE, "/sbin/init",
    )  # fmt: skip


def _wait_booted(host: str) -> None:
    """Until systemd finished booting and sshd is active (sshd generates host keys first)."""
    deadline = time.monotonic() + _BOOT_TIMEOUT_S
    state = ""
    while time.monotonic() < deadline:
        out = exec_in(host, "systemctl", "is-active", "ssh", check=False, timeout=30)
        state = out.stdout.strip()
        if state == "active":
            return
        time.sleep(1)
    msg = f"{host}: sshd not active {_BOOT_TIMEOUT_S:.0f} s after start (state {state!r})"
    raise RuntimeError(msg)


def _build_image() -> None:
    proc = subprocess.run(
        ["bash", str(repo_root() / "scripts" / "build_image.sh")], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        msg = f"scripts/build_image.sh failed: {proc.stderr[-2000:]}"
        raise RuntimeError(msg)


def up(count: int = 2) -> list[Server]:
    """Start the first ``count`` lab hosts (idempotent) and wait until sshd runs on each."""
    if not 1 <= count <= len(HOSTS):
        msg = f"count must be between 1 and {len(HOSTS)} (inventory/servers/hosts.yml lists {len(HOSTS)})"
        raise ValueError(msg)
    _build_image()
    hosts = HOSTS[:count]
    for host in hosts:
        _start(host)
    for host in hosts:
        _wait_booted(host)
    return [s for s in status() if s.host in hosts]


def down() -> list[str]:
    """Remove every lab host of this clone; returns the containers removed."""
    out = _podman("ps", "-a", "--filter", f"label={_LABEL}={lab_id()}", "--format", "{{.Names}}")
    names = [n for n in out.stdout.split() if n]
    for name in names:
        _podman("rm", "-f", "-t", "2", name, check=False)
    return names


def status() -> list[Server]:
    """Every lab host of the inventory and whether it runs."""
    rows = []
    for host in HOSTS:
        name = container_name(host)
        running = _running(name)
        ssh = exec_in(host, "systemctl", "is-active", "ssh", check=False, timeout=30).stdout.strip() if running else ""
        rows.append(Server(host, name, _address(name) if running else "", running, ssh or "-"))
    return rows


def _ensure(endpoint: Any, lookup: dict[str, Any], payload: dict[str, Any], changes: list[str], what: str) -> Any:
    obj = endpoint.get(**lookup)
    if obj is None:
        changes.append(f"created {what}")
        return endpoint.create(**payload)
    diff = {k: v for k, v in payload.items() if _plain(getattr(obj, k, None)) != v}
    if diff:
        obj.update(diff)
        changes.append(f"updated {what}: {', '.join(sorted(diff))}")
    return obj


def _plain(value: Any) -> Any:
    """A pynetbox attribute as the value a payload would carry (related objects by id)."""
    if hasattr(value, "id"):
        return value.id
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def register(api: Any, servers: list[Server]) -> list[str]:
    """Record ``servers`` in NetBox: VM, interface eth0, its address as primary IPv4, services.

    Idempotent: looks first and writes only what differs (the address changes when a
    container is recreated). Returns what changed.
    """
    changes: list[str] = []
    cluster = api.virtualization.clusters.get(name=CLUSTER)
    if cluster is None:
        msg = f"cluster {CLUSTER} is not in NetBox: load the organisation seed (`sop lab up`)"
        raise RuntimeError(msg)
    tag = _ensure(api.extras.tags, {"slug": TAG}, {"name": TAG, "slug": TAG, "color": "607d8b"}, changes, "tag")
    for srv in servers:
        if not srv.address:
            msg = f"{srv.host} has no address: is it running? (`python -m sop_runner.lab.servers up`)"
            raise RuntimeError(msg)
        vm = _ensure(
            api.virtualization.virtual_machines,
            {"name": srv.host},
            {"name": srv.host, "cluster": cluster.id, "status": "active", "tags": [tag.id],
             "description": f"lab server (podman container {srv.container})"},
            changes, f"vm {srv.host}",
        )  # fmt: skip
        iface = _ensure(
            api.virtualization.interfaces,
            {"virtual_machine_id": vm.id, "name": "eth0"},
            {"virtual_machine": vm.id, "name": "eth0"},
            changes, f"interface {srv.host}:eth0",
        )  # fmt: skip
        address = f"{srv.address}/16"
        stale = [ip for ip in api.ipam.ip_addresses.filter(vminterface_id=iface.id) if str(ip.address) != address]
        if stale and vm.primary_ip4 is not None:
            vm.update({"primary_ip4": None})
        for ip in stale:
            ip.delete()
            changes.append(f"removed old address {ip.address} of {srv.host}")
        ip = _ensure(
            api.ipam.ip_addresses,
            {"address": address, "vminterface_id": iface.id},
            {"address": address, "status": "active", "assigned_object_type": "virtualization.vminterface",
             "assigned_object_id": iface.id, "description": f"{srv.host} eth0 (podman bridge)"},
            changes, f"address {address} on {srv.host}:eth0",
        )  # fmt: skip
        vm = api.virtualization.virtual_machines.get(vm.id)
        if _plain(vm.primary_ip4) != ip.id:
            vm.update({"primary_ip4": ip.id})
            changes.append(f"primary IPv4 of {srv.host}: {address}")
        for svc in SERVICES:
            _ensure(
                api.ipam.services,
                {"virtual_machine_id": vm.id, "name": svc["name"]},
                {"parent_object_type": "virtualization.virtualmachine", "parent_object_id": vm.id,
                 "name": svc["name"], "protocol": svc["protocol"], "ports": svc["ports"]},
                changes, f"service {svc['name']} on {srv.host}",
            )  # fmt: skip
    return changes


def _netbox() -> Any:
    import pynetbox

    from sop_runner.lab.seed_network import load_env

    url, token = load_env()
    return pynetbox.api(url, token=token)


def main(argv: list[str] | None = None) -> int:
    """CLI: ``up [-n N] [--no-netbox]``, ``down``, ``status`` (``--json`` for machines)."""
    ap = argparse.ArgumentParser(prog="servers", description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("action", choices=["up", "down", "status"])
    ap.add_argument("-n", "--count", type=int, default=2, help=f"hosts to start (1-{len(HOSTS)}, default 2)")
    ap.add_argument("--no-netbox", action="store_true", help="do not register the hosts in NetBox")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        if args.action == "down":
            for name in down():
                print(f"servers: removed {name}")
            return 0
        if args.action == "up":
            servers = up(args.count)
            if not args.no_netbox:
                for change in register(_netbox(), servers):
                    print(f"servers: netbox: {change}")
        rows = status()
    except (RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        print(f"servers: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
    else:
        for r in rows:
            state = "running" if r.running else "stopped"
            print(f"{r.host:12} {r.container:28} {state:8} {r.address or '-':15} ssh {r.ssh}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
