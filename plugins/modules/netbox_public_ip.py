#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""Allocate (or release) one public address from NetBox's pool to a server's interface."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netbox_public_ip
short_description: Allocate a public IP address from the NetBox pool to a server interface
description:
  - SOP 57 (Permohonan IP Publik) step 5, the NetBox half. Gives one address of the public
    pool to an interface of an SKPD's device or virtual machine, with the SKPD as tenant, or
    releases it again.
  - Idempotent on the interface, not on the address. If the interface already holds an
    address of the pool, nothing is written; a resumed run therefore allocates once.
  - A new address is always taken by NetBox's own allocator (C(available-ips), which holds a
    database lock), never picked by this module, so concurrent runs get different addresses.
  - In check mode it reports the address the allocator would hand out now (the first free
    one) and writes nothing. Pass that address back as O(expect) on the apply so a plan that
    went stale in between fails instead of silently allocating another address.
options:
  netbox_url:
    description: Base URL of NetBox, e.g. C(http://127.0.0.1:8080).
    type: str
    required: true
  netbox_token:
    description: API token (v1, or v2 C(nbt_…)) allowed to read DCIM/virtualization and write IPAM.
    type: str
    required: true
  netbox_timeout:
    description: Seconds to wait for each NetBox API call.
    type: int
    default: 30
  tenant:
    description: Slug of the NetBox tenant (the requesting SKPD) that owns the address.
    type: str
    required: true
  server:
    description:
      - Name of the server. A device of that name wins; a virtual machine is used when no
        device has the name.
      - If the server has a tenant, it must be O(tenant).
    type: str
    required: true
  interface:
    description: Name of the interface on O(server) that carries the address.
    type: str
    default: eth0
  pool:
    description:
      - CIDR of the prefix to allocate from, e.g. C(203.0.113.0/28).
      - Empty means SOP 57's public pool, the single prefix tagged C(sop57-public-pool) or,
        when no prefix carries that tag, the single prefix whose role has the slug C(public).
    type: str
    default: ''
  dns_name:
    description: DNS name recorded on a newly allocated address.
    type: str
    default: ''
  description:
    description:
      - Description recorded on a newly allocated address (the runner puts its run id here).
    type: str
    default: ''
  state:
    description:
      - C(present) allocates, C(absent) releases (deletes) the pool address on the interface.
    type: str
    choices: [present, absent]
    default: present
  expect:
    description:
      - The address (C(a.b.c.d/len) or C(a.b.c.d)) an approved plan promised.
      - With O(state=present), fail as stale when the interface would end up with another
        address; a new allocation that comes back different is deleted before failing.
      - With O(state=absent), fail as stale when the interface holds another pool address.
      - Empty means no guard.
    type: str
    default: ''
  nat_inside:
    description:
      - Record the interface's own private (non-pool) IPv4 address as the NAT inside address
        of a newly allocated address, for a server published through the NAT gateway (SOP 57's
        router half routes and translates what NetBox records this way).
      - Fails, changing nothing, when the interface has no such address.
    type: bool
    default: false
notes:
  - Needs pynetbox on the interpreter that runs the module (the project's venv).
  - Free counts come from NetBox's available-ips list, which is capped at MAX_PAGE_SIZE
    (1000 by default); a pool larger than that reports at most that many free addresses.
  - An existing address is left as it is (dns_name and description are not rewritten).
requirements:
  - pynetbox >= 7.5
author:
  - sop-runner contributors
"""

EXAMPLES = r"""
- name: Change | SOP 57 step 5 | Allocate the public address in NetBox
  netbox_public_ip:
    netbox_url: "{{ lookup('ansible.builtin.env', 'NETBOX_URL') }}"
    netbox_token: "{{ lookup('ansible.builtin.env', 'NETBOX_TOKEN') }}"
    tenant: dinkes
    server: srv-dinkes-01
    interface: eth0
    dns_name: simpus.wonosobokab.go.id
    description: SOP 57 run 42
    expect: "{{ (sop_approved_plan | default({})).address | default('') }}"
  register: allocation

- name: Release it again
  netbox_public_ip:
    netbox_url: "{{ lookup('ansible.builtin.env', 'NETBOX_URL') }}"
    netbox_token: "{{ lookup('ansible.builtin.env', 'NETBOX_TOKEN') }}"
    tenant: dinkes
    server: srv-dinkes-01
    state: absent
"""

RETURN = r"""
address:
  description:
    - The address on the interface (already held, allocated, or in check mode the one that
      would be allocated), with the pool's prefix length. For O(state=absent) the released one.
    - Empty when O(state=absent) found nothing to release.
  type: str
  returned: always
  sample: 203.0.113.2/28
pool:
  description: CIDR of the pool the address comes from.
  type: str
  returned: always
  sample: 203.0.113.0/28
free_before:
  description: Free addresses in the pool before this task.
  type: int
  returned: always
  sample: 13
free_after:
  description: Free addresses in the pool after this task (in check mode, what they would be).
  type: int
  returned: always
  sample: 12
tenant:
  description: Tenant slug.
  type: str
  returned: always
server:
  description: Server name.
  type: str
  returned: always
server_type:
  description: C(device) or C(virtual_machine), whichever O(server) resolved to.
  type: str
  returned: always
interface:
  description: Interface name.
  type: str
  returned: always
netbox_ip_id:
  description: NetBox id of the IP address; null in check mode for an address not yet created.
  type: int
  returned: always
inside:
  description:
    - The interface's private (non-pool) IPv4 address without prefix length, the NAT inside
      address of a server published through the NAT gateway; empty when it has none.
  type: str
  returned: always
  sample: 10.30.1.11
published_via_nat:
  description:
    - Pool addresses that already reach the interface through static NAT (their C(nat_inside)
      is an address of the interface). They do not count as held; a warning says so when a
      new address is allocated anyway.
  type: list
  elements: str
  returned: always
  sample: [203.0.113.10/24]
diff:
  description: "C(before)/C(after) as C(<address> → <server>:<interface> (<tenant>))."
  type: dict
  returned: when diff mode is on
"""

# Ansible modules keep their documentation above the imports, hence E402.
import ipaddress  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.kominfo.sop.plugins.module_utils.netbox_client import (  # noqa: E402
    NETBOX_CONNECTION_ARGS,
    NetBoxError,
    NetBoxLookupError,
    connect,
    get_one,
    known_values,
    request_error_text,
    require_pynetbox,
    slug_of,
)

try:
    import pynetbox
    import requests
except ImportError:  # reported by require_pynetbox()
    pass

# How the seed data (inventory/seed/, docs/lab.md) marks SOP 57's pool: the tag wins, the
# prefix role is the fallback for a NetBox that models pools by role only.
PUBLIC_POOL_TAG = "sop57-public-pool"
PUBLIC_POOL_ROLE = "public"

# NetBox's available-ips view answers at most MAX_PAGE_SIZE addresses; limit=0 asks for that.
ALL_AVAILABLE = 0

STALE_PLAN = (
    "the approved plan is stale: it promised {expect} but {reason}; "
    "re-plan step 5 and have the new plan approved"
)


class Target:
    """The resolved NetBox objects of one request: tenant, server, interface, pool."""

    def __init__(self, api, params):
        self.api = api
        self.tenant = get_one(api.tenancy.tenants, "tenant", params["tenant"], "tenant")
        self.server_type, self.server = _resolve_server(api, params["server"])
        self._check_server_tenant()
        self.interface = _resolve_interface(api, self.server_type, self.server, params["interface"])
        self.pool = _resolve_pool(api, params["pool"])
        self.network = ipaddress.ip_network(str(self.pool.prefix))
        self._addresses = None

    def _check_server_tenant(self):
        owner = slug_of(self.server.tenant)
        if owner and owner != self.tenant.slug:
            raise NetBoxLookupError(
                f"server={self.server.name!r} belongs to tenant {owner!r}, not to "
                f"tenant={self.tenant.slug!r}: check the SKPD and the server name"
            )

    @property
    def assigned_object_type(self):
        return "dcim.interface" if self.server_type == "device" else "virtualization.vminterface"

    def label(self, address):
        """The one line approvers read in the diff."""
        return f"{address} → {self.server.name}:{self.interface.name} ({self.tenant.slug})\n"

    def _on_interface(self):
        if self._addresses is None:
            key = "interface_id" if self.server_type == "device" else "vminterface_id"
            self._addresses = list(self.api.ipam.ip_addresses.filter(**{key: self.interface.id}))
        return self._addresses

    def _in_pool(self, ip):
        pool_vrf = self.pool.vrf.id if self.pool.vrf else None
        vrf = ip.vrf.id if getattr(ip, "vrf", None) else None
        return vrf == pool_vrf and ipaddress.ip_interface(str(ip.address)).ip in self.network

    def held(self):
        """Addresses of the pool (same VRF) assigned to the interface, lowest first."""
        held = [ip for ip in self._on_interface() if self._in_pool(ip)]
        return sorted(held, key=lambda ip: ipaddress.ip_interface(str(ip.address)).ip)

    def inside(self):
        """The interface's lowest private IPv4 address outside the pool, or None."""
        own = [ip for ip in self._on_interface()
               if not self._in_pool(ip) and ipaddress.ip_interface(str(ip.address)).version == 4
               and ipaddress.ip_interface(str(ip.address)).ip.is_private]
        return min(own, key=lambda ip: ipaddress.ip_interface(str(ip.address)).ip, default=None)

    def published(self):
        """Pool addresses NAT-published to an address of the interface (the seed's model)."""
        return sorted(
            str(outside.address)
            for ip in self._on_interface()
            for outside in (getattr(ip, "nat_outside", None) or [])
            if ipaddress.ip_interface(str(outside.address)).ip in self.network
        )

    def free(self):
        """Free addresses of the pool in allocation order, as NetBox sees them now."""
        return [str(ip.address) for ip in self.pool.available_ips.list(limit=ALL_AVAILABLE)]


def _resolve_server(api, name):
    devices = list(api.dcim.devices.filter(name=name))
    if len(devices) == 1:
        return "device", devices[0]
    if len(devices) > 1:
        raise NetBoxLookupError(
            f"server={name!r}: {len(devices)} devices have that name "
            f"(ids {', '.join(str(d.id) for d in devices)}); make it unique in NetBox"
        )
    vms = list(api.virtualization.virtual_machines.filter(name=name))
    if len(vms) == 1:
        return "virtual_machine", vms[0]
    if len(vms) > 1:
        raise NetBoxLookupError(
            f"server={name!r}: {len(vms)} virtual machines have that name "
            f"(ids {', '.join(str(v.id) for v in vms)}); make it unique in NetBox"
        )
    raise NetBoxLookupError(
        f"server={name!r}: no device and no virtual machine has that name in NetBox; "
        f"devices: {known_values(api.dcim.devices, 'name')}; "
        f"virtual machines: {known_values(api.virtualization.virtual_machines, 'name')}"
    )


def _resolve_interface(api, server_type, server, name):
    if server_type == "device":
        endpoint, scope = api.dcim.interfaces, {"device_id": server.id}
    else:
        endpoint, scope = api.virtualization.interfaces, {"virtual_machine_id": server.id}
    matches = list(endpoint.filter(name=name, **scope))
    if len(matches) == 1:
        return matches[0]
    raise NetBoxLookupError(
        f"interface={name!r}: server {server.name!r} has no interface of that name; "
        f"its interfaces: {known_values(endpoint, 'name', **scope)}"
    )


def _public_pools(api):
    """The prefixes marked as SOP 57's pool: by tag first, else by role.

    Filtering on a tag or role slug NetBox does not know is an HTTP 400, so both are looked
    up first and filtered by id.
    """
    markers = (
        (api.extras.tags, PUBLIC_POOL_TAG, "tag_id"),
        (api.ipam.roles, PUBLIC_POOL_ROLE, "role_id"),
    )
    for endpoint, slug, scope in markers:
        for marker in endpoint.filter(slug=slug):
            pools = list(api.ipam.prefixes.filter(**{scope: marker.id}))
            if pools:
                return pools
    return []


def _describe_pools(pools):
    return ", ".join(str(p.prefix) for p in pools) or "(none)"


def _resolve_pool(api, cidr):
    if cidr:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            raise NetBoxLookupError(f"pool={cidr!r} is not a network in CIDR form: {exc}") from exc
        matches = list(api.ipam.prefixes.filter(prefix=str(network)))
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NetBoxLookupError(
                f"pool={cidr!r}: no such prefix in NetBox; public pools (tag "
                f"{PUBLIC_POOL_TAG!r} or role {PUBLIC_POOL_ROLE!r}): "
                f"{_describe_pools(_public_pools(api))}"
            )
        raise NetBoxLookupError(
            f"pool={cidr!r}: {len(matches)} prefixes (in different VRFs) have that CIDR; "
            "cannot tell which one is the pool"
        )
    matches = _public_pools(api)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NetBoxLookupError(
            f"pool='': no prefix is tagged {PUBLIC_POOL_TAG!r} or has the role "
            f"{PUBLIC_POOL_ROLE!r} in NetBox, so there is no default public pool; "
            "set pool to a prefix CIDR"
        )
    raise NetBoxLookupError(
        f"pool='': {len(matches)} prefixes are marked as the public pool "
        f"({_describe_pools(matches)}); set pool to one of them"
    )


def _same_address(one, other):
    """Compare two addresses ignoring the prefix length (``expect`` may come without it)."""
    try:
        return ipaddress.ip_interface(one).ip == ipaddress.ip_interface(other).ip
    except ValueError:
        return False


def _keep_held(module, target, held, result):
    """The interface already has a pool address: nothing to write, but check it is ours."""
    expect = module.params["expect"]
    address = held[0]
    result.update(address=str(address.address), netbox_ip_id=address.id)
    if slug_of(address.tenant) != target.tenant.slug:
        raise NetBoxError(
            f"{address.address} is already on {target.server.name}:{target.interface.name} "
            f"but belongs to tenant {slug_of(address.tenant)!r}, not {target.tenant.slug!r}; "
            "fix it in NetBox by hand",
            **result,
        )
    if expect and not _same_address(expect, address.address):
        raise NetBoxError(
            STALE_PLAN.format(
                expect=expect, reason=f"the interface already holds {address.address}"
            ),
            **result,
        )
    if len(held) > 1:
        module.warn(
            f"{target.server.name}:{target.interface.name} holds {len(held)} addresses "
            f"of {target.pool.prefix}: {', '.join(str(ip.address) for ip in held)}"
        )
    line = target.label(address.address)
    result["diff"] = {"before": line, "after": line}
    return result


def present(module, target):
    params = module.params
    expect = params["expect"]
    free = target.free()
    held = target.held()
    result = _result(target, free_before=len(free), free_after=len(free))

    if held:
        return _keep_held(module, target, held, result)

    if not free:
        raise NetBoxError(
            f"the pool {target.pool.prefix} has no free address left; "
            "ask for a larger public allocation or release an unused address",
            **result,
        )
    planned = free[0]
    inside = target.inside()
    if params["nat_inside"] and inside is None:
        raise NetBoxError(
            f"nat_inside is set but {target.server.name}:{target.interface.name} has no private "
            "IPv4 address in NetBox to translate to; add it there first",
            **result,
        )
    if result["published_via_nat"]:
        module.warn(
            f"{target.server.name}:{target.interface.name} is already published through NAT "
            f"as {', '.join(result['published_via_nat'])}; allocating another pool address "
            "to the interface itself"
        )
    if expect and not _same_address(expect, planned):
        # Cheap check before writing: the promised address is gone, or another one
        # became free ahead of it. Either way the approvers approved something else.
        reason = (
            f"{expect} is no longer free (taken meanwhile)"
            if not any(_same_address(expect, ip) for ip in free)
            else f"NetBox's allocator would now hand out {planned}"
        )
        raise NetBoxError(STALE_PLAN.format(expect=expect, reason=reason), **result)

    result.update(address=planned, free_after=len(free) - 1, changed=True)
    result["diff"] = {"before": "", "after": target.label(planned)}
    if module.check_mode:
        return result

    try:
        created = target.pool.available_ips.create(
            {
                "tenant": target.tenant.id,
                "status": "active",
                "assigned_object_type": target.assigned_object_type,
                "assigned_object_id": target.interface.id,
                "dns_name": params["dns_name"],
                "description": params["description"],
                **({"nat_inside": inside.id} if params["nat_inside"] else {}),
            }
        )
    except pynetbox.AllocationError as exc:
        raise NetBoxError(
            f"the pool {target.pool.prefix} became full before the allocation (HTTP 409)",
            **result,
        ) from exc
    result.update(address=str(created.address), netbox_ip_id=created.id)
    result["diff"]["after"] = target.label(created.address)

    if expect and not _same_address(expect, created.address):
        # Another run took the promised address between our check and the allocation.
        created.delete()
        result.update(netbox_ip_id=None, changed=False)
        raise NetBoxError(
            STALE_PLAN.format(
                expect=expect,
                reason=f"NetBox allocated {created.address} (the planned one was taken "
                "meanwhile); that allocation was deleted again",
            ),
            **result,
        )
    result["free_after"] = len(target.free())
    return result


def absent(module, target):
    expect = module.params["expect"]
    free = target.free()
    held = target.held()
    result = _result(target, free_before=len(free), free_after=len(free))
    if not held:
        result["diff"] = {"before": "", "after": ""}
        return result

    address = held[0]
    result.update(address=str(address.address), netbox_ip_id=address.id)
    if expect and not _same_address(expect, address.address):
        raise NetBoxError(
            STALE_PLAN.format(expect=expect, reason=f"the interface holds {address.address}"),
            **result,
        )
    if slug_of(address.tenant) != target.tenant.slug:
        raise NetBoxError(
            f"{address.address} on {target.server.name}:{target.interface.name} belongs to "
            f"tenant {slug_of(address.tenant)!r}, not {target.tenant.slug!r}; not releasing it",
            **result,
        )
    if len(held) > 1:
        module.warn(
            f"{target.server.name}:{target.interface.name} holds {len(held)} addresses of "
            f"{target.pool.prefix}; releasing the lowest, {address.address}, only"
        )
    result.update(free_after=len(free) + 1, changed=True)
    result["diff"] = {"before": target.label(address.address), "after": ""}
    if module.check_mode:
        return result
    address.delete()
    result["free_after"] = len(target.free())
    return result


def _result(target, free_before, free_after):
    return {
        "changed": False,
        "address": "",
        "pool": str(target.pool.prefix),
        "free_before": free_before,
        "free_after": free_after,
        "tenant": target.tenant.slug,
        "server": target.server.name,
        "server_type": target.server_type,
        "interface": target.interface.name,
        "netbox_ip_id": None,
        "published_via_nat": target.published(),
        "inside": str(inside.address).split("/")[0] if (inside := target.inside()) else "",
    }


def main():
    argument_spec = dict(NETBOX_CONNECTION_ARGS)
    argument_spec.update(
        tenant={"type": "str", "required": True},
        server={"type": "str", "required": True},
        interface={"type": "str", "default": "eth0"},
        pool={"type": "str", "default": ""},
        dns_name={"type": "str", "default": ""},
        description={"type": "str", "default": ""},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        expect={"type": "str", "default": ""},
        nat_inside={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    require_pynetbox(module)
    params = module.params
    for option in ("tenant", "server", "interface"):
        if not (params[option] or "").strip():
            module.fail_json(msg=f"{option} is empty: name the {option} in NetBox")

    try:
        api = connect(params["netbox_url"], params["netbox_token"], params["netbox_timeout"])
        target = Target(api, params)
        action = present if params["state"] == "present" else absent
        result = action(module, target)
    except NetBoxError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    except pynetbox.RequestError as exc:
        module.fail_json(msg=f"NetBox refused a request: {request_error_text(exc)}")
    except requests.exceptions.RequestException as exc:
        module.fail_json(msg=f"lost the connection to NetBox: {exc}")

    if not getattr(module, "_diff", False):  # AnsibleModule's diff-mode flag
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
