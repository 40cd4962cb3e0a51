"""Load the router lab's network intent into NetBox, idempotently.

The organisation seed (inventory/seed/*.yml) already holds the devices, interfaces and
addresses. This adds what the router lab needs on top:

* the Linux NAT gateway ``dmz-gw`` (public segment 203.0.113.3, DMZ 10.30.1.254),
* cables between the lab's interfaces (so the cable move can be recorded),
* routing intent (OSPF, BGP, router id) in each router's local config context,
* a ``sop_bandwidth_mbps`` custom field on tenants with each SKPD's rate (SOP 55).

Run: ``python -m sop_runner.lab.seed_network`` with NETBOX_URL/NETBOX_TOKEN (or .lab/netbox.env).
Every step looks first and writes only what differs, so a second run changes nothing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import pynetbox

from sop_runner.lab.paths import repo_root

__all__ = ["BANDWIDTH_MBPS", "ROUTING", "SeedReport", "load_env", "main", "seed"]

ROUTING: dict[str, dict[str, Any]] = {
    "rtr-edge-01": {
        "router_id": "10.30.255.1",
        "ospf": {
            "area": 0,
            "interfaces": {"eth1": {"network": "point-to-point", "retransmit_interval": 1}},
            "default_information_originate": True,
            "redistribute": [],
        },
        "bgp": {
            "asn": 64512,
            "neighbors": [
                {
                    "address": "198.51.100.1",
                    "remote_as": 64500,
                    "description": "rtr-isp",
                    "keepalive": 3,
                    "holdtime": 9,
                    "connect": 5,
                }
            ],
            "networks": ["203.0.113.0/24"],
        },
        # Published public addresses are routed to the NAT gateway's outside address.
        "public_nat_next_hop": "203.0.113.3",
        "static_routes": [],
    },
    "rtr-core-01": {
        "router_id": "10.30.255.2",
        "ospf": {
            "area": 0,
            "interfaces": {"eth1": {"network": "point-to-point", "retransmit_interval": 1}},
            "default_information_originate": False,
            "redistribute": ["connected"],
        },
        "static_routes": [],
    },
}

BANDWIDTH_MBPS = {
    "dinkes": 50,
    "bkd": 20,
    "bappeda": 20,
    "disdukcapil": 30,
    "disdik": 40,
    "diskominfo": 100,
}

DMZ_GW_NAME = "dmz-gw"
DMZ_GW_INTERFACES = {"eth0": "203.0.113.3/24", "eth1": "10.30.1.254/24"}
DMZ_GW_DESCRIPTIONS = {"eth0": "Public segment (NAT outside)", "eth1": "DMZ VLAN 20 (NAT inside)"}

CABLES = [
    (("rtr-edge-01", "eth0"), ("rtr-isp", "GigabitEthernet0/0/0")),
    (("rtr-edge-01", "eth1"), ("rtr-core-01", "eth1")),
    (("rtr-edge-01", "eth2"), ("dmz-gw", "eth0")),
]


@dataclass
class SeedReport:
    """What a run created or changed (empty on a second run)."""

    changes: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.changes.append(what)


def load_env() -> tuple[str, str]:
    """NETBOX_URL/NETBOX_TOKEN from the environment, else the lab's .lab/netbox.env."""
    url, token = os.environ.get("NETBOX_URL"), os.environ.get("NETBOX_TOKEN")
    env_file = repo_root() / ".lab" / "netbox.env"
    if (not url or not token) and env_file.is_file():
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        url = url or values.get("NETBOX_URL")
        token = token or values.get("NETBOX_TOKEN")
    if not url or not token:
        msg = "NETBOX_URL/NETBOX_TOKEN not set and .lab/netbox.env missing: is the NetBox lab up?"
        raise RuntimeError(msg)
    return url, token


def _ensure_device_role(nb: Any, report: SeedReport) -> Any:
    role = nb.dcim.device_roles.get(slug="nat-gateway")
    if role is None:
        role = nb.dcim.device_roles.create(name="NAT Gateway", slug="nat-gateway", color="9c27b0")
        report.note("device role nat-gateway")
    return role


def _ensure_dmz_gw(nb: Any, report: SeedReport) -> None:
    edge = nb.dcim.devices.get(name="rtr-edge-01")
    if edge is None:
        msg = "rtr-edge-01 is not in NetBox: load the organisation seed first"
        raise RuntimeError(msg)
    device = nb.dcim.devices.get(name=DMZ_GW_NAME)
    if device is None:
        platform = nb.dcim.platforms.get(slug="debian")
        device_type = nb.dcim.device_types.get(slug="poweredge-r250") or edge.device_type
        device = nb.dcim.devices.create(
            name=DMZ_GW_NAME,
            role=_ensure_device_role(nb, report).id,
            device_type=device_type.id,
            site=edge.site.id,
            tenant=edge.tenant.id if edge.tenant else None,
            platform=platform.id if platform else None,
            status="active",
            description="Linux NAT gateway (nftables) and shaper (tc) of the DMZ",
        )
        report.note("device dmz-gw")
    for name, address in DMZ_GW_INTERFACES.items():
        iface = nb.dcim.interfaces.get(device_id=device.id, name=name)
        if iface is None:
            iface = nb.dcim.interfaces.create(
                device=device.id,
                name=name,
                type="1000base-t",
                description=DMZ_GW_DESCRIPTIONS[name],
            )
            report.note(f"interface dmz-gw:{name}")
        ip = nb.ipam.ip_addresses.get(address=address)
        if ip is None:
            nb.ipam.ip_addresses.create(
                address=address,
                status="active",
                assigned_object_type="dcim.interface",
                assigned_object_id=iface.id,
                description=f"dmz-gw {name}",
            )
            report.note(f"address {address} on dmz-gw:{name}")
        elif ip.assigned_object_id != iface.id:
            ip.update({"assigned_object_type": "dcim.interface", "assigned_object_id": iface.id})
            report.note(f"address {address} moved to dmz-gw:{name}")


def _ensure_cables(nb: Any, report: SeedReport) -> None:
    for (dev_a, if_a), (dev_b, if_b) in CABLES:
        a = nb.dcim.interfaces.get(device=dev_a, name=if_a)
        b = nb.dcim.interfaces.get(device=dev_b, name=if_b)
        if a is None or b is None:
            continue
        if a.cable is not None or b.cable is not None:
            continue
        nb.dcim.cables.create(
            a_terminations=[{"object_type": "dcim.interface", "object_id": a.id}],
            b_terminations=[{"object_type": "dcim.interface", "object_id": b.id}],
            status="connected",
        )
        report.note(f"cable {dev_a}:{if_a} <-> {dev_b}:{if_b}")


def _ensure_routing(nb: Any, report: SeedReport) -> None:
    for name, routing in ROUTING.items():
        device = nb.dcim.devices.get(name=name)
        if device is None:
            continue
        context = dict(device.local_context_data or {})
        if context.get("routing") is None:
            context["routing"] = routing
            device.update({"local_context_data": context})
            report.note(f"routing intent of {name}")


def _ensure_bandwidth(nb: Any, report: SeedReport) -> None:
    if nb.extras.custom_fields.get(name="sop_bandwidth_mbps") is None:
        nb.extras.custom_fields.create(
            name="sop_bandwidth_mbps",
            label="Bandwidth (Mbit/s)",
            type="integer",
            object_types=["tenancy.tenant"],
            description="Internet bandwidth granted to the SKPD (SOP 55)",
        )
        report.note("custom field sop_bandwidth_mbps")
    for slug, rate in BANDWIDTH_MBPS.items():
        tenant = nb.tenancy.tenants.get(slug=slug)
        if tenant is None:
            continue
        if (tenant.custom_fields or {}).get("sop_bandwidth_mbps") is None:
            tenant.update({"custom_fields": {"sop_bandwidth_mbps": rate}})
            report.note(f"bandwidth of {slug}: {rate} Mbit/s")


def seed(nb: Any) -> SeedReport:
    """Bring NetBox to the router lab's intent; returns what changed."""
    report = SeedReport()
    _ensure_dmz_gw(nb, report)
    _ensure_cables(nb, report)
    _ensure_routing(nb, report)
    _ensure_bandwidth(nb, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI entry: seed, print the changes, exit 0 (1 when NetBox is not reachable)."""
    del argv
    try:
        url, token = load_env()
        report = seed(pynetbox.api(url, token=token))
    except (RuntimeError, pynetbox.RequestError) as exc:
        print(f"seed_network: {exc}", file=sys.stderr)
        return 1
    for change in report.changes:
        print(f"seed_network: {change}")
    if not report.changes:
        print("seed_network: nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
