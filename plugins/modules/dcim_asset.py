#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""Data-centre asset transactions in NetBox: racks, install, remove, relocate, storage capacity, lifecycle.

SOP 7-11, 14 of Wonosobo and the co-location of Kaltim (003).
"""

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
  - O(action=relocate) (SOP 14) moves a device (or every device in O(names), in order) to
    another rack/position; the plan reserves each device's units so the next one does not
    take them.
  - O(action=capacity_add) (SOP 11) adds O(capacity_tb) to a storage device's recorded
    capacity (custom field C(storage_capacity_tb)) and records O(media) as an inventory item.
  - O(rack) empty on install picks the first active rack of O(site) (by name) with the free
    units and the power; the refusal lists every rack's reason.
  - O(action=rack_add) with O(power_budget_w) records the rack's planned primary power feed
    (230 V, amperage sized for the budget at 80 %) on the site's power panel.
  - O(device_type) not in NetBox and O(device_type_u_height) > 0 registers the type (the
    first word of the model is the manufacturer), as the asset register of a co-location needs.
  - O(components) (C(Label=value) strings) become inventory items of the device, O(capacity_tb)
    on install is recorded in C(storage_capacity_tb); the result's C(items) lists them for a
    handover form (BAST).
  - O(action=transition) (asset lifecycle) moves a device's status (or every device in
    O(names), all checked before any is written) along the allowed transitions only; with
    O(tenant) the device is also assigned to that tenant (put into use); with O(journal) on a
    device whose status and tenant stay, the journal entry alone records the work, once.
  - Before any write, the tenant exists, the rack exists and is not deprecated, the units
    are free (refused with the free units and who occupies what), the rack's power budget
    (primary feeds, voltage x amperage x max utilisation) holds the new draw, and the serial
    is unique. Every change writes a journal entry on the device (or rack).
  - Idempotent; check mode computes the same checks and the diff and writes nothing.
options:
  netbox_url: {description: 'NetBox base URL, for example C(https://netbox.example).', type: str, required: true}
  netbox_token: {description: 'NetBox API token (v1 or C(nbt_) v2).', type: str, required: true}
  netbox_timeout: {description: 'Seconds to wait for each NetBox request.', type: int, default: 30}
  action: {description: 'The transaction: add a rack, install, remove, relocate or change the status of a device, or add storage capacity.', type: str, required: true, choices: [rack_add, install, remove, relocate, transition, capacity_add]}
  name: {description: 'Device name (or rack name for O(action=rack_add)).', type: str, default: ''}
  names: {description: 'Several devices for O(action=transition) or O(action=relocate); all are checked before any is written.', type: list, elements: str, default: []}
  positions: {description: 'Device name to rack unit, for O(action=relocate) with O(names).', type: dict, default: {}}
  power_budget_w: {description: 'Rack power budget in W, recorded as the rack''s planned primary power feed (O(action=rack_add)).', type: int, default: 0}
  device_type_u_height: {description: 'Height in U to register O(device_type) with when NetBox does not have it; 0 refuses an unknown type.', type: int, default: 0}
  capacity_tb: {description: 'Storage capacity in TB (added for O(action=capacity_add), recorded on install).', type: float, default: 0}
  media: {description: 'The media added, recorded as an inventory item (O(action=capacity_add)).', type: str, default: ''}
  components: {description: 'C(Label=value) strings recorded as inventory items of the device.', type: list, elements: str, default: []}
  domain: {description: 'Domain or service the device serves, kept in its description and the handover rows.', type: str, default: ''}
  change_id: {description: 'Name of the change (for example the run id) for O(action=capacity_add); a second apply adds nothing.', type: str, default: ''}
  site: {description: 'Site (slug) of the rack.', type: str, default: ''}
  location: {description: 'Location within the site of a new rack.', type: str, default: ''}
  tenant: {description: 'Tenant (slug) of the device.', type: str, default: ''}
  rack: {description: 'Rack name; empty on install picks the first rack of O(site) with room and power.', type: str, default: ''}
  position: {description: 'Lowest rack unit the device occupies.', type: int, default: 0}
  face: {description: 'Rack face the device is mounted on.', type: str, default: front}
  u_height: {description: 'Height of a new rack in U.', type: int, default: 42}
  device_type: {description: 'Device type (model) of the device.', type: str, default: ''}
  role: {description: 'Device role (slug).', type: str, default: server}
  serial: {description: 'Serial number; must be unique.', type: str, default: ''}
  power_draw_w: {description: 'Power the device draws in W, checked against the rack''s budget.', type: int, default: 0}
  power_supplies: {description: 'Power supplies of the device; the draw is shared between them.', type: int, default: 2}
  status: {description: 'Status to set; empty keeps the action''s default.', type: str, default: ''}
  journal: {description: 'Journal entry text; empty writes one describing the change.', type: str, default: ''}
author: sop-runner contributors
"""

RETURN = r"""
checks: {description: free units, power budget and use before/after, type: dict, returned: always}
before: {description: the device (or rack) before, type: dict, returned: always}
after: {description: the device (or rack) after, type: dict, returned: always}
journal: {description: the journal entry written (or that would be), type: str, returned: always}
devices: {description: per device (relocate of several) name, before, after, checks, journal, type: list, returned: always}
items: {description: handover rows (Uraian, Keterangan) of the device as registered, type: list, returned: always}
"""

import math
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netbox_client import (
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

CAPACITY_FIELD = "storage_capacity_tb"
# A rack's planned feed (SOP 7): single-phase 230 V, loaded to at most 80 % like the seeded feeds.
FEED_VOLTAGE = 230
FEED_UTILISATION = 80

# Asset lifecycle (document 004): which status may follow which.
TRANSITIONS = {
    # In stock -> active: an asset handed over from the store straight into use (004 procedure 3).
    "inventory": {"planned", "staged", "active", "decommissioning"},
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


def _fit(api, rack, height, position, exclude_id, checks, reserved=None):
    """The position the device takes in ``rack`` (``position`` 0: lowest block that fits).

    ``reserved`` holds units promised to earlier devices of the same plan (check mode writes
    nothing, so NetBox does not know them yet).
    """
    rack_units = int(rack.u_height)
    taken = {**_occupancy(api, rack, exclude_id), **(reserved or {})}
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


def _power_check(api, rack, draw, exclude_id, checks, reserved_w=0):
    budget, used = _power(api, rack, exclude_id)
    used += reserved_w
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


def _slugify(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _device_type(api, value, create_u_height=0):
    """(record or None, slug, model, height): by slug, model or "manufacturer model".

    An unknown type with ``create_u_height`` > 0 is one to register (record None).
    """
    wanted = value.strip().lower()
    every = list(api.dcim.device_types.all())
    found = [t for t in every if wanted in (t.slug, t.model.lower(), f"{t.manufacturer.name} {t.model}".lower())]
    if len(found) == 1:
        return found[0], found[0].slug, found[0].model, math.ceil(float(found[0].u_height))
    if not found and create_u_height > 0 and wanted:
        return None, _slugify(value), value.strip(), create_u_height
    known = ", ".join(sorted(t.slug for t in every))
    hint = "" if found else "; give its height (device_type_u_height) to register a new type"
    raise NetBoxError(f"device_type={value!r}: no single device type with that slug or model{hint}; known: {known}")


def _register_type(api, slug, model):
    """Create a device type (and its manufacturer: the model's first word) for the asset register."""
    maker = model.split()[0] if " " in model else "Generik"
    manufacturer = api.dcim.manufacturers.get(slug=_slugify(maker)) or api.dcim.manufacturers.create(
        name=maker, slug=_slugify(maker))
    rest = model[len(maker):].strip() if " " in model else model
    return manufacturer, rest or model


def _role(api, slug, check_mode, checks):
    """The device role; a missing one (e.g. storage on a lab without it) is created with the device."""
    role = api.dcim.device_roles.get(slug=slug)
    if role is None:
        checks["device_role_created"] = slug
        if not check_mode:
            role = api.dcim.device_roles.create(name=slug.replace("-", " ").title(), slug=slug, color="9c27b0")
    return role


def _capacity_field(api, check_mode, checks):
    """The custom field that records a storage device's capacity; created the first time it is needed."""
    if api.extras.custom_fields.get(name=CAPACITY_FIELD) is None:
        checks["custom_field_created"] = CAPACITY_FIELD
        if not check_mode:
            api.extras.custom_fields.create(name=CAPACITY_FIELD, label="Kapasitas storage (TB)", type="decimal",
                                            object_types=["dcim.device"],
                                            description="Recorded by SOP 10 (install) and SOP 11 (capacity add)")


def _components(p):
    """{label: value} of the O(components) strings ("Prosesor=Intel Xeon Silver 4310")."""
    out = {}
    for item in p["components"]:
        label, sep, value = item.partition("=")
        if not sep or not label.strip():
            raise NetBoxError(f"components: {item!r} is not 'Label=value'")
        out[label.strip()] = value.strip()
    return out


def _capacity_of(dev):
    value = (dev.custom_fields or {}).get(CAPACITY_FIELD) if dev is not None else None
    return round(float(value), 2) if value not in (None, "") else 0.0


def rack_add(module, api, p, result):
    site = get_one(api.dcim.sites, "site", p["site"], "site")
    rack = api.dcim.racks.get(name=p["name"], site_id=site.id)
    feed_name = f"{p['name']}-A"
    amperage = math.ceil(p["power_budget_w"] / (FEED_VOLTAGE * FEED_UTILISATION / 100)) if p["power_budget_w"] else 0
    feed = api.dcim.power_feeds.get(name=feed_name, rack_id=rack.id) if rack is not None else None
    before = {"state": "absent"} if rack is None else {"u_height": int(rack.u_height), "status": _val(rack.status),
                                                       "power_budget_w": _power(api, rack)[0]}
    after = {"u_height": p["u_height"], "status": p["status"] or "active", "power_budget_w": 0}
    if rack is not None:
        after = dict(before)  # an existing rack is not reshaped by SOP 7
    if amperage and feed is None:
        # Budget of the new feed exactly as the install preflight computes it (V x A x utilisation).
        after["power_budget_w"] = after["power_budget_w"] + int(FEED_VOLTAGE * amperage * FEED_UTILISATION / 100)
        result["checks"].update(power_feed=feed_name, feed_amperage=amperage, feed_voltage=FEED_VOLTAGE,
                                feed_max_utilization=FEED_UTILISATION)
    result["checks"].update(rack=p["name"], rack_units=after["u_height"], power_budget_w=after["power_budget_w"])
    result.update(before=before, after=after, changed=before != after)
    result["journal"] = p["journal"] or (
        f"Rak {p['name']} ({p['u_height']}U) ditambahkan di {site.name}"
        + (f", anggaran daya {after['power_budget_w']} W (feed {feed_name} {FEED_VOLTAGE} V {amperage} A)"
           if amperage else ""))
    if module.check_mode or not result["changed"]:
        return
    panel = None
    if amperage:
        panels = list(api.dcim.power_panels.filter(site_id=site.id))
        if not panels:
            raise NetBoxError(f"site {p['site']} has no power panel to feed rack {p['name']} from: add one in NetBox")
        panel = panels[0]
    if rack is None:
        fields = {"name": p["name"], "site": site.id, "u_height": p["u_height"], "status": p["status"] or "active"}
        if p["location"]:
            fields["location"] = get_one(api.dcim.locations, "location", p["location"], "location").id
        if p["tenant"]:
            fields["tenant"] = get_one(api.tenancy.tenants, "tenant", p["tenant"], "tenant").id
        rack = api.dcim.racks.create(**fields)
    if panel is not None:
        api.dcim.power_feeds.create(power_panel=panel.id, rack=rack.id, name=feed_name, status="planned",
                                    type="primary", supply="ac", phase="single-phase", voltage=FEED_VOLTAGE,
                                    amperage=amperage, max_utilization=FEED_UTILISATION)
    _journal(api, "dcim.rack", rack.id, result["journal"])


def _pick_rack(api, p, height, checks):
    """The first active rack of the site (by name) with ``height`` free units and the power."""
    site = get_one(api.dcim.sites, "site", p["site"], "site")
    reasons = []
    for rack in sorted(api.dcim.racks.filter(site_id=site.id, status="active"), key=lambda r: r.name):
        trial = {}
        try:
            _fit(api, rack, height, 0, None, trial)
            _power_check(api, rack, p["power_draw_w"], None, trial)
        except NetBoxError as exc:
            reasons.append(str(exc))
            continue
        checks["rack_chosen_from"] = f"{len(reasons) + 1} active racks of {site.slug} tried in name order"
        return rack
    raise NetBoxError(f"no active rack of site {site.slug} can take a {height}U device drawing {p['power_draw_w']} W: "
                      + "; ".join(reasons or ["the site has no active rack"]))


def install(module, api, p, result):
    checks = result["checks"]
    tenant = get_one(api.tenancy.tenants, "tenant", p["tenant"], "tenant")
    dtype, type_slug, model, height = _device_type(api, p["device_type"], p["device_type_u_height"])
    if dtype is None:
        checks["device_type_created"] = type_slug
    dev = _get_device(api, p["name"])
    if p["rack"]:
        rack = get_one(api.dcim.racks, "rack", p["rack"], "rack", field="name")
    elif dev is not None and dev.rack:
        rack = api.dcim.racks.get(dev.rack.id)
    else:
        rack = _pick_rack(api, p, height, checks)
    if _val(rack.status) == "deprecated":
        raise NetBoxError(f"rack {rack.name} is deprecated")
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
    position = _fit(api, rack, height, position, exclude, checks)
    _power_check(api, rack, p["power_draw_w"], exclude, checks)
    components = _components(p)
    status = p["status"] or "active"
    after = {"status": status, "tenant": tenant.slug, "site": rack.site.slug, "rack": rack.name,
             "position": position, "face": p["face"], "device_type": type_slug, "serial": p["serial"]}
    if components:
        before["components"] = _inventory(api, dev)
        after["components"] = {**before["components"], **components}
    if p["capacity_tb"]:
        before["capacity_tb"] = _capacity_of(dev)
        after["capacity_tb"] = round(p["capacity_tb"], 2)
    if p["domain"]:
        before["domain"] = dev.description if dev is not None else ""
        after["domain"] = p["domain"]
    if dev is not None and dev.role and dev.role.slug != p["role"]:
        raise NetBoxError(f"{p['name']} exists with role {dev.role.slug}, not {p['role']}")
    result.update(before=before, after=after, changed=before != after)
    last = position + height - 1
    result["items"] = _items(p, model, rack, position, last, components)
    result["journal"] = p["journal"] or (
        f"Dipasang di rak {rack.name} U{position}-U{last} ({model}, SN {p['serial'] or '-'}, "
        f"{p['power_draw_w']} W), tenant {tenant.slug}"
        + (f", kapasitas {after['capacity_tb']} TB" if p["capacity_tb"] else ""))
    role = _role(api, p["role"], module.check_mode or not result["changed"], checks)
    if p["capacity_tb"]:
        _capacity_field(api, module.check_mode or not result["changed"], checks)
    if module.check_mode or not result["changed"]:
        return
    if dtype is None:
        manufacturer, short = _register_type(api, type_slug, model)
        dtype = api.dcim.device_types.create(manufacturer=manufacturer.id, model=short, slug=type_slug,
                                             u_height=height)
    fields = {"name": p["name"], "device_type": dtype.id, "role": role.id, "site": rack.site.id, "rack": rack.id,
              "position": position, "face": p["face"], "tenant": tenant.id, "serial": p["serial"], "status": status}
    if p["domain"]:
        fields["description"] = p["domain"]
    if p["capacity_tb"]:
        fields["custom_fields"] = {CAPACITY_FIELD: after["capacity_tb"]}
    fields["location"] = rack.location.id if rack.location else None
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
    existing = {i.name: i for i in api.dcim.inventory_items.filter(device_id=dev.id)}
    for label, value in components.items():
        if label not in existing:
            api.dcim.inventory_items.create(device=dev.id, name=label, description=value[:200])
        elif existing[label].description != value[:200]:
            existing[label].update({"description": value[:200]})
    _journal(api, "dcim.device", dev.id, result["journal"])


def _inventory(api, dev):
    if dev is None:
        return {}
    return {i.name: i.description for i in api.dcim.inventory_items.filter(device_id=dev.id)}


def _items(p, model, rack, position, last, components):
    """Handover rows (BAST) of the device as it is registered: identity, components, place."""
    rows = [{"name": "Nama Server", "value": p["name"]}, {"name": "Type & Merk", "value": model},
            {"name": "S/N", "value": p["serial"] or "-"}]
    rows += [{"name": label, "value": value} for label, value in components.items()]
    if p["capacity_tb"]:
        rows.append({"name": "Kapasitas (TB)", "value": str(round(p["capacity_tb"], 2))})
    if p["domain"]:
        rows.append({"name": "Domain", "value": p["domain"]})
    place = f"{rack.site.name}, {rack.location.name + ', ' if rack.location else ''}rak {rack.name} U{position}-U{last}"
    rows.append({"name": "Letak Server", "value": place})
    return rows


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
    """SOP 14: one device (O(name)) or several (O(names)) to O(rack), in order."""
    names = p["names"] or [p["name"]]
    rack = get_one(api.dcim.racks, "rack", p["rack"], "rack", field="name")
    reserved, reserved_w, done = {}, 0, []
    for name in names:
        one = {"checks": {}}
        # Several devices: each one's approved position (0 = first fit), never one shared U.
        position = int(p["positions"].get(name) or 0) if p["names"] else p["position"]
        draw = _relocate_one(module, api, p, rack, name, position, one, reserved, reserved_w)
        if module.check_mode and one["changed"]:
            # Check mode writes nothing: hold this device's units and draw for the next one.
            reserved.update({u: name for u in one["checks"]["units"]})
            reserved_w += draw
        done.append({"name": name, **one})
    if len(names) == 1 and not p["names"]:
        result.update({k: v for k, v in done[0].items() if k != "name"})
        return
    result.update(devices=done, changed=any(d["changed"] for d in done),
                  before={d["name"]: d["before"] for d in done}, after={d["name"]: d["after"] for d in done},
                  checks={d["name"]: d["checks"] for d in done}, journal="; ".join(f"{d['name']}: {d['journal']}"
                                                                                   for d in done))


def _relocate_one(module, api, p, rack, name, position, result, reserved, reserved_w):
    """Move one device; returns its allocated draw (W)."""
    dev = _get_device(api, name)
    if dev is None:
        raise NetBoxError(f"no device named {name!r} in NetBox")
    if p["tenant"] and (not dev.tenant or dev.tenant.slug != p["tenant"]):
        raise NetBoxError(f"{name} belongs to {dev.tenant.slug if dev.tenant else 'no tenant'}, not {p['tenant']}")
    dtype = api.dcim.device_types.get(dev.device_type.id)
    height = math.ceil(float(dtype.u_height))
    if dev.rack and dev.rack.id == rack.id and position in (0, dev.position):
        position = int(dev.position)
    position = _fit(api, rack, height, position, dev.id, result["checks"], reserved)
    draw = sum(int(x.allocated_draw or 0) for x in api.dcim.power_ports.filter(device_id=dev.id))
    same_rack = dev.rack and dev.rack.id == rack.id
    _power_check(api, rack, 0 if same_rack else draw, dev.id if same_rack else None, result["checks"], reserved_w)
    before = _device_view(dev)
    after = {**before, "rack": rack.name, "site": rack.site.slug, "position": position, "face": p["face"]}
    result.update(before=before, after=after, changed=before != after)
    result["journal"] = p["journal"] or (
        f"Dipindahkan dari {before['rack'] or '-'} U{before['position'] or '-'} ke {rack.name} U{position}")
    if module.check_mode or not result["changed"]:
        return draw
    # The device takes the rack's location, or none: NetBox refuses a rack outside the device's location.
    fields = {"site": rack.site.id, "rack": rack.id, "position": position, "face": p["face"],
              "location": rack.location.id if rack.location else None}
    dev.update(fields)
    _journal(api, "dcim.device", dev.id, result["journal"])
    return draw


def capacity_add(module, api, p, result):
    """SOP 11: the storage's recorded capacity grows by O(capacity_tb); the media become an inventory item.

    O(change_id) names the change (the run): an item of that name means it is already applied.
    """
    dev = _get_device(api, p["name"])
    if dev is None:
        raise NetBoxError(f"no device named {p['name']!r} in NetBox")
    if not dev.role or dev.role.slug != p["role"]:
        raise NetBoxError(f"{p['name']} has role {dev.role.slug if dev.role else '-'}, not {p['role']}: "
                          "capacity is recorded on storage devices only")
    if p["capacity_tb"] <= 0:
        raise NetBoxError(f"capacity_tb must be more than 0 TB (got {p['capacity_tb']})")
    if not p["change_id"]:
        raise NetBoxError("change_id is empty: name the change (e.g. the run id) so a second apply adds nothing")
    item_name = f"Penambahan {p['change_id']}"
    done = next(iter(api.dcim.inventory_items.filter(device_id=dev.id, name=item_name)), None)
    current = _capacity_of(dev)
    before = {"capacity_tb": current, "status": _val(dev.status)}
    added = 0.0 if done is not None else round(p["capacity_tb"], 2)
    after = {"capacity_tb": round(current + added, 2), "status": p["status"] or _val(dev.status)}
    result["checks"].update(capacity_before_tb=current, capacity_added_tb=round(p["capacity_tb"], 2),
                            capacity_after_tb=round(current + (p["capacity_tb"] if done is None else 0), 2),
                            already_applied=done is not None)
    result.update(before=before, after=after, changed=before != after)
    result["journal"] = p["journal"] or (
        f"Kapasitas storage ditambah {round(p['capacity_tb'], 2)} TB: {current} TB -> {after['capacity_tb']} TB"
        + (f" ({p['media']})" if p["media"] else ""))
    _capacity_field(api, module.check_mode or not result["changed"], result["checks"])
    if module.check_mode or not result["changed"]:
        return
    dev.update({"custom_fields": {CAPACITY_FIELD: after["capacity_tb"]}, "status": after["status"]})
    if done is None:
        api.dcim.inventory_items.create(device=dev.id, name=item_name, part_id=f"{round(p['capacity_tb'], 2)} TB",
                                        description=(p["media"] or "-")[:200])
    _journal(api, "dcim.device", dev.id, result["journal"])


def transition(module, api, p, result):
    """Asset lifecycle: one device (O(name)) or several (O(names)); every one is checked before any is written."""
    if not p["names"]:
        _transition_one(module, api, p, p["name"], result)
        return
    done = []
    for name in p["names"]:
        one = {"checks": {}}
        _transition_one(module, api, {**p, "check_only": True}, name, one)
        done.append({"name": name, **one})
    if not module.check_mode:
        for d in done:
            _transition_one(module, api, p, d["name"], {"checks": {}})
    result.update(devices=done, changed=any(d["changed"] for d in done),
                  before={d["name"]: d["before"] for d in done}, after={d["name"]: d["after"] for d in done},
                  journal="; ".join(f"{d['name']}: {d['journal']}" for d in done))


def _transition_one(module, api, p, name, result):
    dev = _get_device(api, name)
    if dev is None:
        raise NetBoxError(f"no device named {name!r} in NetBox")
    cur = _val(dev.status)
    want = p["status"]
    before = _device_view(dev)
    after = {**before, "status": want}
    if cur != want and want not in TRANSITIONS.get(cur, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(cur, set()))) or "none"
        raise NetBoxError(f"{name}: status {cur} cannot become {want}; allowed from {cur}: {allowed}")
    fields = {"status": want} if cur != want else {}
    if p["tenant"]:
        # Put into use (004 procedure 3): the device now belongs to the receiving unit.
        tenant = get_one(api.tenancy.tenants, "tenant", p["tenant"], "tenant")
        after["tenant"] = tenant.slug
        if before["tenant"] != tenant.slug:
            fields["tenant"] = tenant.id
    # An explicit journal on a device whose status stays (maintenance of an active device)
    # still records the work, once: the same text already on the device means it is done.
    record = bool(p["journal"]) and not fields and not any(
        j.comments == p["journal"]
        for j in api.extras.journal_entries.filter(assigned_object_type="dcim.device", assigned_object_id=dev.id))
    result.update(before=before, after=after, changed=bool(fields) or record)
    result["journal"] = p["journal"] or f"Status {cur} -> {want}" + (
        f", tenant {after['tenant']}" if "tenant" in fields else "")
    if module.check_mode or p.get("check_only") or not result["changed"]:
        return
    if fields:
        dev.update(fields)
    _journal(api, "dcim.device", dev.id, result["journal"])


ACTIONS = {"rack_add": rack_add, "install": install, "remove": remove, "relocate": relocate,
           "transition": transition, "capacity_add": capacity_add}


def main():
    module = AnsibleModule(
        argument_spec={
            **NETBOX_CONNECTION_ARGS,
            "action": {"type": "str", "required": True, "choices": list(ACTIONS)},
            "name": {"type": "str", "default": ""},
            "names": {"type": "list", "elements": "str", "default": []},
            "positions": {"type": "dict", "default": {}},
            "site": {"type": "str", "default": ""},
            "location": {"type": "str", "default": ""},
            "tenant": {"type": "str", "default": ""},
            "rack": {"type": "str", "default": ""},
            "position": {"type": "int", "default": 0},
            "face": {"type": "str", "default": "front"},
            "u_height": {"type": "int", "default": 42},
            "power_budget_w": {"type": "int", "default": 0},
            "device_type": {"type": "str", "default": ""},
            "device_type_u_height": {"type": "int", "default": 0},
            "role": {"type": "str", "default": "server"},
            "serial": {"type": "str", "default": ""},
            "power_draw_w": {"type": "int", "default": 0},
            "power_supplies": {"type": "int", "default": 2},
            "capacity_tb": {"type": "float", "default": 0},
            "media": {"type": "str", "default": ""},
            "change_id": {"type": "str", "default": ""},
            "components": {"type": "list", "elements": "str", "default": []},
            "domain": {"type": "str", "default": ""},
            "status": {"type": "str", "default": ""},
            "journal": {"type": "str", "default": ""},
        },
        required_if=[("action", "install", ("tenant", "device_type")), ("action", "relocate", ("rack",)),
                     ("action", "transition", ("status",)), ("action", "rack_add", ("site",))],
        required_one_of=[("name", "names")],
        supports_check_mode=True,
    )
    require_pynetbox(module)
    p = module.params
    result = {"changed": False, "checks": {}, "before": {}, "after": {}, "journal": "", "devices": [], "items": []}
    try:
        api = connect(p["netbox_url"], p["netbox_token"], p["netbox_timeout"])
        ACTIONS[p["action"]](module, api, p, result)
    except NetBoxError as exc:
        module.fail_json(msg=str(exc), **result)
    except pynetbox.RequestError as exc:
        module.fail_json(msg=f"NetBox refused {p['action']} of {p['name'] or p['names']}: {request_error_text(exc)}",
                         **result)
    if module._diff:  # noqa: SLF001 - Ansible's own flag for --diff
        result["diff"] = {"before": result["before"], "after": result["after"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
