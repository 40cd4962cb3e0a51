"""NetBox side of the network roles: read a router's intent, write back a replacement.

Kept apart from the platform classes: these talk HTTP to NetBox (pynetbox), not SSH to
devices. Every writer computes the change first so check mode can return it unwritten.
"""

from __future__ import annotations

import ipaddress

try:
    import pynetbox

    HAS_PYNETBOX = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_PYNETBOX = False


class NetboxError(Exception):
    """NetBox refused a request or lacks an object the role relies on."""


NETBOX_ARGS = {
    "netbox_url": {"type": "str", "required": True},
    "netbox_token": {"type": "str", "required": True, "no_log": True},
}


def api(url, token):
    nb = pynetbox.api(url, token=token)
    nb.http_session.timeout = 20
    return nb


def get_device(nb, name):
    device = nb.dcim.devices.get(name=name)
    if device is None:
        raise NetboxError(f"device {name!r} is not in NetBox")
    return device


def _slug(obj):
    return getattr(obj, "slug", None) if obj else None


def device_summary(device):
    return {
        "id": device.id,
        "name": device.name,
        "status": device.status.value if device.status else None,
        "site": _slug(device.site),
        "platform": _slug(device.platform),
        "role": _slug(device.role),
        "tenant": _slug(device.tenant),
        "primary_ip4": device.primary_ip4.address if device.primary_ip4 else None,
    }


def interfaces_with_addresses(nb, device):
    ips = {}
    for ip in nb.ipam.ip_addresses.filter(device_id=device.id, limit=1000):
        ips.setdefault(ip.assigned_object_id, []).append(ip)
    out = []
    for iface in nb.dcim.interfaces.filter(device_id=device.id, limit=1000):
        addrs = sorted(ips.get(iface.id, []), key=lambda i: (
            (i.role.value if i.role else "") == "secondary", ipaddress.ip_interface(i.address)))
        out.append({
            "id": iface.id,
            "name": iface.name,
            "description": iface.description or "",
            "enabled": bool(iface.enabled),
            "mgmt_only": bool(iface.mgmt_only),
            "type": iface.type.value if iface.type else None,
            "cable": iface.cable.id if iface.cable else None,
            "addresses": [a.address for a in addrs if a.family.value == 4],
        })
    return sorted(out, key=lambda i: _natural(i["name"]))


def _natural(name):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def published_addresses(nb):
    """Public addresses with a NAT inside address: what the edge routes and dmz-gw translates."""
    out = []
    for ip in nb.ipam.ip_addresses.filter(parent="203.0.113.0/24", limit=1000):
        if ip.nat_inside and ip.status and ip.status.value in ("active", "reserved"):
            out.append({
                "public": ip.address.split("/")[0],
                "inside": ip.nat_inside.address.split("/")[0],
                "tenant": _slug(ip.tenant),
                "status": ip.status.value,
                "id": ip.id,
            })
    return sorted(out, key=lambda p: ipaddress.ip_address(p["public"]))


def router_intent(nb, name):
    device = get_device(nb, name)
    context = device.local_context_data or {}
    return {
        "device": device_summary(device),
        "interfaces": interfaces_with_addresses(nb, device),
        "routing": context.get("routing") or {},
        "published": published_addresses(nb) if (context.get("routing") or {}).get("public_nat_next_hop") else [],
    }


def _terminations(cable, side):
    return [{"object_type": t.object_type, "object_id": t.object_id}
            for t in getattr(cable, f"{side}_terminations")]


def plan_swap(nb, old_name, new_name, old_status, new_status):
    """What NetBox must change when ``new`` takes over ``old``: a list of (description, apply)."""
    old, new = get_device(nb, old_name), get_device(nb, new_name)
    steps = []
    new_ifaces = {i.name: i for i in nb.dcim.interfaces.filter(device_id=new.id, limit=1000)}
    old_ifaces = list(nb.dcim.interfaces.filter(device_id=old.id, limit=1000))
    primary = old.primary_ip4
    if primary is not None:
        steps.append((f"{old_name}: clear primary IPv4 {primary.address}",
                      lambda: old.update({"primary_ip4": None})))
    for iface in old_ifaces:
        target = new_ifaces.get(iface.name)
        addresses = list(nb.ipam.ip_addresses.filter(interface_id=iface.id, limit=1000))
        if (addresses or iface.cable) and target is None:
            raise NetboxError(f"{new_name} has no interface {iface.name} to take over {old_name}'s")
        for ip in addresses:
            steps.append((f"{ip.address}: {old_name}:{iface.name} -> {new_name}:{target.name}",
                          lambda ip=ip, target=target: ip.update(
                              {"assigned_object_type": "dcim.interface", "assigned_object_id": target.id})))
        if target is not None and iface.description and target.description != iface.description:
            # The spare's port takes over the old port's role, and its description with it.
            steps.append((f"{new_name}:{target.name} description {iface.description!r}",
                          lambda target=target, text=iface.description: target.update({"description": text})))
        if iface.cable:
            cable = nb.dcim.cables.get(iface.cable.id)
            if target.cable is not None:
                raise NetboxError(f"{new_name}:{target.name} already has a cable")

            def move(cable=cable, src=iface.id, dst=target.id):
                data = {}
                for side in ("a", "b"):
                    terms = _terminations(cable, side)
                    for t in terms:
                        if t["object_type"] == "dcim.interface" and t["object_id"] == src:
                            t["object_id"] = dst
                    data[f"{side}_terminations"] = terms
                cable.update(data)

            steps.append((f"cable #{cable.id}: {old_name}:{iface.name} -> {new_name}:{target.name}", move))
    if primary is not None:
        steps.append((f"{new_name}: primary IPv4 {primary.address}",
                      lambda: new.update({"primary_ip4": primary.id})))
    routing = (old.local_context_data or {}).get("routing")
    if routing is not None:
        new_ctx = dict(new.local_context_data or {}, routing=routing)
        old_ctx = {k: v for k, v in (old.local_context_data or {}).items() if k != "routing"}
        steps.append((f"routing intent: {old_name} -> {new_name}",
                      lambda: (new.update({"local_context_data": new_ctx}),
                               old.update({"local_context_data": old_ctx or None}))))
    if old.status.value != old_status:
        steps.append((f"{old_name}: status {old.status.value} -> {old_status}",
                      lambda: old.update({"status": old_status})))
    if new.status.value != new_status:
        steps.append((f"{new_name}: status {new.status.value} -> {new_status}",
                      lambda: new.update({"status": new_status})))
    return steps


def active_device_name(nb, role):
    """The single active device with NetBox role ``role`` (e.g. the edge router in service)."""
    found = [d.name for d in nb.dcim.devices.filter(role=role, status="active", limit=100)]
    if len(found) != 1:
        raise NetboxError(f"expected one active device with role {role!r}, NetBox has {found}")
    return found[0]


def public_address(nb, public):
    """A public address record and what it is NATed to: {public, inside, inside_device, ...}."""
    matches = [ip for ip in nb.ipam.ip_addresses.filter(q=public, limit=50)
               if ip.address.split("/")[0] == public]
    if not matches:
        return None
    ip = matches[0]
    inside = ip.nat_inside
    inside_device = None
    if inside is not None:
        full = nb.ipam.ip_addresses.get(inside.id)
        obj = full.assigned_object
        if obj is not None:
            inside_device = getattr(getattr(obj, "device", None), "name", None) or \
                getattr(getattr(obj, "virtual_machine", None), "name", None)
    return {
        "id": ip.id,
        "public": public,
        "prefix_length": int(ip.address.split("/")[1]),
        "status": ip.status.value if ip.status else None,
        "tenant": _slug(ip.tenant),
        "inside": inside.address.split("/")[0] if inside else None,
        "inside_device": inside_device,
        "dns_name": ip.dns_name or "",
    }


def plan_segment(nb, tenant_slug, name, container, prefix_length, group_slug, router, vid_min, vid_max):
    """Find or plan an SKPD segment: VLAN, prefix, SVI and gateway address.

    Returns (segment, missing): ``segment`` describes the result (existing or planned values),
    ``missing`` lists what must be created. Planning reads NetBox's own allocators
    (available-vlans, available-prefixes) so check mode shows the numbers a real run gets.
    """
    tenant = nb.tenancy.tenants.get(slug=tenant_slug)
    if tenant is None:
        raise NetboxError(f"tenant {tenant_slug!r} is not in NetBox")
    group = nb.ipam.vlan_groups.get(slug=group_slug)
    if group is None:
        raise NetboxError(f"VLAN group {group_slug!r} is not in NetBox")
    parent = nb.ipam.prefixes.get(prefix=container)
    if parent is None:
        raise NetboxError(f"container prefix {container} is not in NetBox")
    device = get_device(nb, router)
    missing = []
    vlan = nb.ipam.vlans.get(group_id=group.id, name=name)
    if vlan is None:
        # NetBox's available-vlans pages from VID 1; the SKPD range starts higher. The (group,
        # vid) uniqueness constraint still stops two runs taking the same VID.
        used = {v.vid for v in nb.ipam.vlans.filter(group_id=group.id, limit=5000)}
        free = [vid for vid in range(vid_min, vid_max + 1) if vid not in used]
        if not free:
            raise NetboxError(f"no free VLAN between {vid_min} and {vid_max} in {group_slug}")
        vid = free[0]
        missing.append("vlan")
    else:
        vid = vlan.vid
    prefix = nb.ipam.prefixes.get(vlan_id=vlan.id) if vlan is not None else None
    if prefix is None:
        free = [p["prefix"] for p in parent.available_prefixes.list()]
        candidates = []
        for block in free:
            net = ipaddress.ip_network(block)
            if net.prefixlen <= prefix_length:
                candidates.append(next(net.subnets(new_prefix=prefix_length)))
        if not candidates:
            raise NetboxError(f"{container} has no free /{prefix_length}")
        network = str(sorted(candidates, key=lambda n: n.network_address)[0])
        missing.append("prefix")
    else:
        network = prefix.prefix
    net = ipaddress.ip_network(network)
    gateway = f"{next(net.hosts())}/{net.prefixlen}"
    iface_name = f"vlan{vid}"
    iface = nb.dcim.interfaces.get(device_id=device.id, name=iface_name)
    if iface is None:
        missing.append("interface")
    ip = nb.ipam.ip_addresses.get(address=gateway)
    if ip is None or iface is None or ip.assigned_object_id != iface.id:
        missing.append("gateway")
    segment = {"tenant": tenant_slug, "name": name, "vid": vid, "prefix": network,
               "gateway": gateway, "interface": iface_name, "router": router,
               "description": f"SVI {name}"}
    return segment, missing, {"tenant": tenant, "group": group, "parent": parent,
                              "device": device, "vlan": vlan, "prefix": prefix, "iface": iface}


def create_segment(nb, segment, missing, objs, prefix_length):
    tenant, group, device = objs["tenant"], objs["group"], objs["device"]
    vlan = objs["vlan"]
    if "vlan" in missing:
        vlan = nb.ipam.vlans.create(group=group.id, vid=segment["vid"], name=segment["name"],
                                    tenant=tenant.id, status="active")
        segment["vid"] = vlan.vid
        segment["interface"] = f"vlan{vlan.vid}"
    if "prefix" in missing:
        created = objs["parent"].available_prefixes.create({
            "prefix_length": prefix_length, "status": "active", "tenant": tenant.id,
            "vlan": vlan.id, "scope_type": "dcim.site", "scope_id": device.site.id,
            "description": segment["name"]})
        prefix = created["prefix"] if isinstance(created, dict) else created.prefix
        net = ipaddress.ip_network(prefix)
        segment["prefix"] = prefix
        segment["gateway"] = f"{next(net.hosts())}/{net.prefixlen}"
    iface = nb.dcim.interfaces.get(device_id=device.id, name=segment["interface"])
    if iface is None:
        iface = nb.dcim.interfaces.create(device=device.id, name=segment["interface"], type="virtual",
                                          description=segment["description"])
    ip = nb.ipam.ip_addresses.get(address=segment["gateway"])
    if ip is None:
        nb.ipam.ip_addresses.create(address=segment["gateway"], status="active", tenant=tenant.id,
                                    assigned_object_type="dcim.interface", assigned_object_id=iface.id,
                                    description="Gateway")
    elif ip.assigned_object_id != iface.id:
        ip.update({"assigned_object_type": "dcim.interface", "assigned_object_id": iface.id})
    return segment


def tenant_bandwidth(nb, slug, prefix_role="dmz"):
    """An SKPD's granted rate (custom field sop_bandwidth_mbps) and its addresses in the DMZ."""
    tenant = nb.tenancy.tenants.get(slug=slug)
    if tenant is None:
        raise NetboxError(f"tenant {slug!r} is not in NetBox")
    rate = (tenant.custom_fields or {}).get("sop_bandwidth_mbps")
    addresses = []
    for prefix in nb.ipam.prefixes.filter(role=prefix_role, limit=100):
        for ip in nb.ipam.ip_addresses.filter(parent=prefix.prefix, tenant_id=tenant.id, limit=1000):
            if (ip.description or "").lower() != "gateway":
                addresses.append(ip.address.split("/")[0])
    return {"tenant": slug, "tenant_id": tenant.id, "rate_mbps": rate, "addresses": sorted(set(addresses))}
