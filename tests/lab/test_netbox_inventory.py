"""The dynamic inventory (inventory/netbox.yml, netbox.netbox.nb_inventory) against the lab NetBox.

NetBox is the source of truth for hosts: what Ansible sees must be what NetBox holds, host by
host (name, address, platform, role, tenant), not a copy kept beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sop_runner.config import repo_root

pytestmark = pytest.mark.netbox


def _inventory(url: str, token: str) -> dict[str, Any]:
    env = {**os.environ, "NETBOX_API": url, "NETBOX_TOKEN": token, "ANSIBLE_CONFIG": str(repo_root() / "ansible.cfg")}
    tool = Path(sys.executable).with_name("ansible-inventory")
    done = subprocess.run(
        [str(tool), "-i", str(repo_root() / "inventory" / "netbox.yml"), "--list"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Unable to parse" not in done.stderr, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _plain(value: Any) -> Any:
    """ansible-inventory marks values from the plugin as unsafe ({"__ansible_unsafe": ...})."""
    return value["__ansible_unsafe"] if isinstance(value, dict) and "__ansible_unsafe" in value else value


def _members(inv: dict[str, Any], group: str) -> set[str]:
    return set(inv.get(group, {}).get("hosts", []))


def test_inventory_is_what_netbox_holds(netbox_lab: tuple[str, str], netbox_api: Any) -> None:
    inv = _inventory(*netbox_lab)
    hostvars: dict[str, dict[str, Any]] = inv["_meta"]["hostvars"]
    devices = list(netbox_api.dcim.devices.all())
    vms = list(netbox_api.virtualization.virtual_machines.all())
    assert devices and vms, "the lab seed has devices and VMs"
    assert {d.name for d in devices} | {v.name for v in vms} <= set(hostvars)

    for item in devices + vms:
        host = hostvars[item.name]
        if item.primary_ip4 is not None:
            assert _plain(host["ansible_host"]) == str(item.primary_ip4.address).split("/")[0], item.name
        if getattr(item, "platform", None) is not None:
            assert item.name in _members(inv, f"platform_{item.platform.slug}")
        if item.tenant is not None:
            assert item.name in _members(inv, f"tenant_{item.tenant.slug}")
    for device in devices:
        assert device.name in _members(inv, f"role_{device.role.slug}")
    # A router's platform decides how the network modules talk to it.
    frr = {d.name for d in devices if d.platform is not None and d.platform.slug == "frr"}
    assert frr and frr == _members(inv, "platform_frr")
