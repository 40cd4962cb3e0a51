#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""Data-centre asset transactions in NetBox: racks, install, remove, relocate, lifecycle (SOP 7-11, 14)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dcim_asset
short_description: Rack and device transactions in NetBox with preflight checks and a journal
description:
  - O(action=rack_add) (SOP 7) creates a rack at a site/location with its height.
  - O(action=install) (SOP 8 server, SOP 10 storage) puts a device of O(device_type) into
    O(rack) at O(position) (0 = the lowest free block that fits) with tenant, serial and
    power ports drawing O(power_draw_w) in total.
  - O(action=remove) (SOP 9) takes a device out of its rack (no rack, no position) and sets
    its status (default C(offline)).
  - O(action=relocate) (SOP 14) moves a device to another rack/position.
  - O(action=transition) (asset lifecycle) moves a device's status along the allowed
    transitions only.
  - Before any write: the tenant exists, the rack exists and is not deprecated, the units
    are free (refused with the free units and who occupies what), the rack's power budget
    (primary feeds, voltage x amperage x max utilisation) holds the new draw, and the serial
    is unique. Every change writes a journal entry on the device (or rack).
  - Idempotent; check mode computes the same checks and the diff and writes nothing.
options:
  netbox_url: {type: str, required: true}
  netbox_token: {type: str, required: true}
  netbox_timeout: {type: int, default: 30}
  action: {type: str, required: true, choices: [rack_add, install, remove, relocate, transition]}
  name: {type: str, required: true}
  site: {type: str, default: ''}
  location: {type: str, default: ''}
  tenant: {type: str, default: ''}
  rack: {type: str, default: ''}
  position: {type: int, default: 0}
  face: {type: str, default: front}
  u_height: {type: int, default: 42}
  device_type: {type: str, default: ''}
  role: {type: str, default: server}
  serial: {type: str, default: ''}
  power_draw_w: {type: int, default: 0}
  power_supplies: {type: int, default: 2}
  status: {type: str, default: ''}
  journal: {type: str, default: ''}
author: sop-runner contributors
"""

RETURN = r"""
checks: {description: free units, power budget and use before/after, type: dict, returned: always}
before: {description: the device (or rack) before, type: dict, returned: always}
after: {description: the device (or rack) after, type: dict, returned: always}
journal: {description: the journal entry written (or that would be), type: str, returned: always}
"""

import math

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.netbox_client import (
    NETBOX_CONNECTION_ARGS,
    NetBoxError,
    connect,
    get_one,
    request_error_text,
    require_pynetbox,
)

try:
    import pynetbox
except ImportError:  # reported by require_pynetbox
    pynetbox = None

# Asset lifecycle (document 004): which status may follow which.
TRANSITIONS = {
    "inventory": {"planned", "staged", "decommissioning"},
    "planned": {"staged", "active", "inventory", "decommissioning"},
    "staged": {"active", "failed", "planned", "offline"},
    "active": {"offline", "failed", "decommissioning"},
    "offline": {"active", "staged", "failed", "decommissioning"},
    "failed": {"active", "offline", "staged", "decommissioning"},
    "decommissioning": {"inventory", "offline"},
}


def _val(x):
    return getattr(x, "value", x) if x is not None else None


def _device_view(dev):
    if dev is None:
        return {"state": "absent"}
    return {
        "status": _val(dev.status),
        "tenant": dev.tenant.slug if dev.tenant else None,
        "site": dev.site.slug if dev.site else None,
        "rack": dev.rack.name if dev.rack else None,
        "position": int(dev.position) if dev.position is not None else None,
        "face": _val(dev.face),
        "device_type": dev.device_type.slug if dev.device_type else None,
        "serial": dev.serial or "",
    }


def _occupancy(api, rack, exclude_id=None):
    """{unit: device name} of the rack's occupied units (both faces: our racks are full depth)."""
    taken = {}
    heights = {}
    for dev in api.dcim.devices.filter(rack_id=rack.id, limit=0):
        if dev.id == exclude_id or dev.position is None:
            continue
        type_id = dev.device_type.id
        if type_id not in heights:
            heights[type_id] = math.ceil(float(api.dcim.device_types.get(type_id).u_height))
        height = heights[type_id]
        for unit in range(int(dev.position), int(dev.position) + height):
            taken[unit] = dev.name
    return taken


def _power(api, rack, exclude_id=None):
    """(budget W, used W) of the rack: primary feeds' capacity and the devices' allocated draw."""
    budget = 0
    for feed in api.dcim.power_feeds.filter(rack_id=rack.id, limit=0):
        if _val(feed.type) == "redundant" or _val(feed.status) not in ("active", "planned"):
            continue
        budget += int(feed.voltage * feed.amperage * (feed.max_utilization or 100) / 100)
    used = 0
    for dev in api.dcim.devices.filter(rack_id=rack.id, limit=0):
        if dev.id == exclude_id:
            continue
        for port in api.dcim.power_ports.filter(device_id=dev.id, limit=0):
            used += int(port.allocated_draw or 0)
    return budget, used


def _fit(module, api, rack, height, position, exclude_id, checks):
    rack_units = int(rack.u_height)
    taken = _occupancy(api, rack, exclude_id)
    free = [u for u in range(1, rack_units + 1) if u not in taken]
    checks.update(rack=rack.name, rack_units=rack_units, free_units_before=len(free), needed_units=height)
    if position == 0:
        for start in range(1, rack_units - height + 2):
            if all(u not in taken for u in range(start, start + height)):
                position = start
                break
        else:
            raise NetBoxError(
                f"rack {rack.name} has no {height} contiguous free units: {len(free)} of {rack_units} free "
                f"({_ranges(free) or 'none'})")
    wanted = list(range(position, position + height))
    if wanted[-1] > rack_units:
        raise NetBoxError(f"rack {rack.name} has {rack_units} units: a {height}U device at U{position} would end "
                          f"at U{wanted[-1]}")
    clash = {u: taken[u] for u in wanted if u in taken}
    if clash:
        who = ", ".join(f"U{u} {n}" for u, n in sorted(clash.items()))
        raise NetBoxError(
            f"too few free units in rack {rack.name} at U{position}: needs {height} (U{wanted[0]}-U{wanted[-1]}), "
            f"{height - len(clash)} free there; occupied: {who}; rack has {len(free)} of {rack_units} units free "
            f"({_ranges(free) or 'none'})")
    checks.update(position=position, units=wanted, free_units_after=len(free) - height)
    return position


def _ranges(units):
    out, start, prev = [], None, None
    for u in units:
        if start is None:
            start = prev = u
        elif u == prev + 1:
            prev = u
        else:
            out.append(f"U{start}" if start == prev else f"U{start}-U{prev}")
            start = prev = u
    if start is not None:
        out.append(f"U{start}" if start == prev else f"U{start}-U{prev}")
    return ", ".join(out)


def _power_check(api, rack, draw, exclude_id, checks):
    budget, used = _power(api, rack, exclude_id)
    checks.update(power_budget_w=budget, power_used_w=used, power_after_w=used + draw)
    if budget and used + draw > budget:
        raise NetBoxError(f"power budget of rack {rack.name} exceeded: {used} W used + {draw} W = {used + draw} W "
                          f"> {budget} W (primary feeds)")


def _journal(api, obj_type, obj_id, text):
    api.extras.journal_entries.create(assigned_object_type=obj_type, assigned_object_id=obj_id, kind="info",
                                      comments=text)


def _get_device(api, name):
    matches = list(api.dcim.devices.filter(name=name))
    if len(matches) > 1:
        raise NetBoxError(f"{len(matches)} devices are named {name!r}; make the name unique")
    return matches[0] if matches else None


def _device_type(api, value):
    found = list(api.dcim.device_types.filter(slug=value)) or [
        t for t in api.dcim.device_types.all() if t.model.lower() == value.lower()]
    if len(found) != 1:
        known = ", ".join(sorted(t.slug for t in api.dcim.device_types.all()))
        raise NetBoxError(f"device_type={value!r}: no single device type with that slug or model; known: {known}")
    return found[0]


def rack_add(module, api, p, result):
    site = get_one(api.dcim.sites, "site", p["site"], "site")
    rack = api.dcim.racks.get(name=p["name"], site_id=site.id)
    before = {"state": "absent"} if rack is None else {"u_height": int(rack.u_height), "status": _val(rack.status)}
    after = {"u_height": p["u_height"], "status": p["status"] or "active"}
    if rack is not None:
        after = before  # an existing rack is not reshaped by SOP 7
    result.update(before=before, after=after, changed=rack is None)
    result["journal"] = p["journal"] or f"Rak {p['name']} ({p['u_height']}U) ditambahkan di {site.name}"
    if module.check_mode or rack is not None:
        return
    fields = {"name": p["name"], "site": site.id, "u_height": p["u_height"], "status": p["status"] or "active"}
    if p["location"]:
        fields["location"] = get_one(api.dcim.locations, "location", p["location"], "location").id
    if p["tenant"]:
        fields["tenant"] = get_one(api.tenancy.tenants, "tenant", p["tenant"], "tenant").id
    rack = api.dcim.racks.create(**fields)
    _journal(api, "dcim.rack", rack.id, result["journal"])


def install(module, api, p, result):
    checks = result["checks"]
    tenant = get_one(api.tenancy.tenants, "tenant", p["tenant"], "tenant")
    rack = get_one(api.dcim.racks, "rack", p["rack"], "rack", field="name")
    if _val(rack.status) == "deprecated":
        raise NetBoxError(f"rack {rack.name} is deprecated")
    dtype = _device_type(api, p["device_type"])
    height = math.ceil(float(dtype.u_height))
    dev = _get_device(api, p["name"])
    before = _device_view(dev)
    if dev is not None and dev.rack and dev.rack.id != rack.id:
        raise NetBoxError(f"{p['name']} is already installed in rack {dev.rack.name} U{dev.position}: "
                          "use relocate (SOP 14) to move it")
    if p["serial"]:
        twins = [d for d in api.dcim.devices.filter(serial=p["serial"]) if dev is None or d.id != dev.id]
        if twins:
            raise NetBoxError(f"serial {p['serial']!r} already belongs to {twins[0].name}; serials must be unique")
    exclude = dev.id if dev is not None else None
    position = p["position"]
    if dev is not None and dev.rack and position in (0, dev.position):
        position = int(dev.position)
    position = _fit(module, api, rack, height, position, exclude, checks)
    _power_check(api, rack, p["power_draw_w"], exclude, checks)
    status = p["status"] or "active"
    after = {"status": status, "tenant": tenant.slug, "site": rack.site.slug, "rack": rack.name,
             "position": position, "face": p["face"], "device_type": dtype.slug, "serial": p["serial"]}
    result.update(before=before, after=after, changed=before != after)
    result["journal"] = p["journal"] or (
        f"Dipasang di rak {rack.name} U{position}-U{position + height - 1} ({dtype.model}, SN {p['serial'] or '-'}, "
        f"{p['power_draw_w']} W), tenant {tenant.slug}")
    if module.check_mode or not result["changed"]:
        return
    role = get_one(api.dcim.device_roles, "role", p["role"], "device role")
    fields = {"name": p["name"], "device_type": dtype.id, "role": role.id, "site": rack.site.id, "rack": rack.id,
              "position": position, "face": p["face"], "tenant": tenant.id, "serial": p["serial"], "status": status}
    if rack.location:
        fields["location"] = rack.location.id
    if dev is None:
        dev = api.dcim.devices.create(**fields)
    else:
        dev.update(fields)
    ports = list(api.dcim.power_ports.filter(device_id=dev.id))
    share = math.ceil(p["power_draw_w"] / max(p["power_supplies"], 1)) if p["power_draw_w"] else 0
    for i in range(1, p["power_supplies"] + 1):
        port = next((x for x in ports if x.name == f"PSU{i}"), None)
        if port is None:
            api.dcim.power_ports.create(device=dev.id, name=f"PSU{i}", allocated_draw=share or None,
                                        maximum_draw=share or None)
        elif int(port.allocated_draw or 0) != share:
            port.update({"allocated_draw": share or None, "maximum_draw": share or None})
    _journal(api, "dcim.device", dev.id, result["journal"])


def remove(module, api, p, result):
    dev = _get_device(api, p["name"])
    if dev is None:
        raise NetBoxError(f"no device named {p['name']!r} in NetBox")
    if p["serial"] and dev.serial != p["serial"]:
        raise NetBoxError(f"{p['name']} has serial {dev.serial!r}, not {p['serial']!r}: wrong device")
    if p["tenant"] and (not dev.tenant or dev.tenant.slug != p["tenant"]):
        raise NetBoxError(f"{p['name']} belongs to {dev.tenant.slug if dev.tenant else 'no tenant'}, not {p['tenant']}")
    before = _device_view(dev)
    status = p["status"] or "offline"
    after = {**before, "rack": None, "position": None, "face": None, "status": status}
    result.update(before=before, after=after, changed=before != after)
    if before["rack"]:
        budget, used = _power(api, dev.rack)
        free = [u for u in range(1, int(dev.rack.u_height) + 1) if u not in _occupancy(api, dev.rack)]
        result["checks"].update(rack=dev.rack.name, free_units_before=len(free), power_budget_w=budget,
                                power_used_w=used)
    result["journal"] = p["journal"] or (
        f"Dilepas dari rak {before['rack']} U{before['position']}; status {before['status']} -> {status}")
    if module.check_mode or not result["changed"]:
        return
    dev.update({"rack": None, "position": None, "face": "", "status": status})
    _journal(api, "dcim.device", dev.id, result["journal"])


def relocate(module, api, p, result):
    dev = _get_device(api, p["name"])
    if dev is None:
        raise NetBoxError(f"no device named {p['name']!r} in NetBox")
    rack = get_one(api.dcim.racks, "rack", p["rack"], "rack", field="name")
    dtype = api.dcim.device_types.get(dev.device_type.id)
    height = math.ceil(float(dtype.u_height))
    position = p["position"]
    if dev.rack and dev.rack.id == rack.id and position in (0, dev.position):
        position = int(dev.position)
    position = _fit(module, api, rack, height, position, dev.id, result["checks"])
    draw = sum(int(x.allocated_draw or 0) for x in api.dcim.power_ports.filter(device_id=dev.id))
    same_rack = dev.rack and dev.rack.id == rack.id
    _power_check(api, rack, 0 if same_rack else draw, dev.id if same_rack else None, result["checks"])
    before = _device_view(dev)
    after = {**before, "rack": rack.name, "site": rack.site.slug, "position": position, "face": p["face"]}
    result.update(before=before, after=after, changed=before != after)
    result["journal"] = p["journal"] or (
        f"Dipindahkan dari {before['rack'] or '-'} U{before['position'] or '-'} ke {rack.name} U{position}")
    if module.check_mode or not result["changed"]:
        return
    fields = {"site": rack.site.id, "rack": rack.id, "position": position, "face": p["face"]}
    if rack.location:
        fields["location"] = rack.location.id
    dev.update(fields)
    _journal(api, "dcim.device", dev.id, result["journal"])


def transition(module, api, p, result):
    dev = _get_device(api, p["name"])
    if dev is None:
        raise NetBoxError(f"no device named {p['name']!r} in NetBox")
    cur = _val(dev.status)
    want = p["status"]
    before = _device_view(dev)
    result.update(before=before, after={**before, "status": want}, changed=cur != want)
    if cur != want and want not in TRANSITIONS.get(cur, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(cur, set()))) or "none"
        raise NetBoxError(f"{p['name']}: status {cur} cannot become {want}; allowed from {cur}: {allowed}")
    result["journal"] = p["journal"] or f"Status {cur} -> {want}"
    if module.check_mode or not result["changed"]:
        return
    dev.update({"status": want})
    _journal(api, "dcim.device", dev.id, result["journal"])


def main():
    module = AnsibleModule(
        argument_spec={
            **NETBOX_CONNECTION_ARGS,
            "action": {"type": "str", "required": True,
                       "choices": ["rack_add", "install", "remove", "relocate", "transition"]},
            "name": {"type": "str", "required": True},
            "site": {"type": "str", "default": ""},
            "location": {"type": "str", "default": ""},
            "tenant": {"type": "str", "default": ""},
            "rack": {"type": "str", "default": ""},
            "position": {"type": "int", "default": 0},
            "face": {"type": "str", "default": "front"},
            "u_height": {"type": "int", "default": 42},
            "device_type": {"type": "str", "default": ""},
            "role": {"type": "str", "default": "server"},
            "serial": {"type": "str", "default": ""},
            "power_draw_w": {"type": "int", "default": 0},
            "power_supplies": {"type": "int", "default": 2},
            "status": {"type": "str", "default": ""},
            "journal": {"type": "str", "default": ""},
        },
        required_if=[("action", "install", ("tenant", "rack", "device_type")), ("action", "relocate", ("rack",)),
                     ("action", "transition", ("status",)), ("action", "rack_add", ("site",))],
        supports_check_mode=True,
    )
    require_pynetbox(module)
    p = module.params
    result = {"changed": False, "checks": {}, "before": {}, "after": {}, "journal": ""}
    try:
        api = connect(p["netbox_url"], p["netbox_token"], p["netbox_timeout"])
        {"rack_add": rack_add, "install": install, "remove": remove, "relocate": relocate,
         "transition": transition}[p["action"]](module, api, p, result)
    except NetBoxError as exc:
        module.fail_json(msg=str(exc), **result)
    except pynetbox.RequestError as exc:
        module.fail_json(msg=f"NetBox refused {p['action']} of {p['name']}: {request_error_text(exc)}", **result)
    if module._diff:  # noqa: SLF001 - Ansible's own flag for --diff
        result["diff"] = {"before": result["before"], "after": result["after"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
