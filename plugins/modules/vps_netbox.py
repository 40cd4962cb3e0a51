#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""Record a VPS in NetBox: VM, interface, address from the prefix, status (SOP 20, 21, 22)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vps_netbox
short_description: Register, resize or decommission a VPS in NetBox
description:
  - O(state=present) makes sure the virtual machine O(name) exists in O(cluster) with the
    tenant, vCPUs, memory and disk asked for, an interface O(interface) and one address of
    O(prefix) on it as primary IPv4. An address already on the interface is kept (a resumed
    run allocates once); a new one comes from NetBox's own allocator (available-ips), never
    from this module.
  - O(state=absent) sets the VM's status to C(decommissioning), deletes its addresses (the
    address goes back to the prefix) and, with O(delete_record=true), deletes the VM too.
  - Check mode reports the address NetBox would hand out now and writes nothing. O(expect)
    makes an apply fail when NetBox would hand out another address than the approved plan's.
options:
  netbox_url: {description: 'NetBox base URL, for example C(https://netbox.example).', type: str, required: true}
  netbox_token: {description: 'NetBox API token (v1 or C(nbt_) v2).', type: str, required: true}
  netbox_timeout: {description: 'Seconds to wait for each NetBox request.', type: int, default: 30}
  state: {description: 'C(present) registers or updates the VM; C(absent) decommissions it.', type: str, default: present, choices: [present, absent]}
  name: {description: 'Virtual machine name.', type: str, required: true}
  cluster: {description: 'Cluster the VM belongs to.', type: str, required: true}
  tenant: {description: 'Tenant (slug) of the VM.', type: str, default: ''}
  prefix: {description: 'Prefix (CIDR) the address comes from; empty takes the tenant''s SKPD LAN prefix, else the shared server prefix.', type: str, default: ''}
  interface: {description: 'Interface of the VM that carries the address.', type: str, default: eth0}
  vcpus: {description: 'vCPUs to record.', type: int}
  memory_mb: {description: 'Memory to record, in MiB.', type: int}
  disk_gb: {description: 'Disk to record, in GB.', type: int}
  status: {description: 'Status of the VM for O(state=present).', type: str, default: active}
  description: {description: 'Description of the VM.', type: str, default: ''}
  expect: {description: 'Address (CIDR or plain) the approved plan showed; the apply fails when NetBox would give another.', type: str, default: ''}
  delete_record: {description: 'With O(state=absent), also delete the VM record.', type: bool, default: false}
author: sop-runner contributors
"""

RETURN = r"""
address: {description: the VM's address (CIDR), type: str, returned: always}
gateway: {description: the address the lab uses as the VM's gateway (last of the prefix), type: str, returned: always}
dns: {description: the lab's resolver address inside the prefix (last but one), type: str, returned: always}
prefix: {description: the prefix, type: str, returned: always}
vm_id: {description: NetBox id of the VM (None in a plan of a new VM), type: int, returned: always}
"""

import ipaddress

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


def _prefix_for(api, cidr, tenant):
    """The named prefix, else the tenant's SKPD LAN prefix, else the shared server prefix."""
    if cidr:
        matches = list(api.ipam.prefixes.filter(prefix=cidr))
        if len(matches) != 1:
            raise NetBoxError(f"prefix={cidr!r}: {len(matches)} prefixes in NetBox have that CIDR")
        return matches[0]
    for scope in ({"tenant": tenant, "role": "skpd-lan"}, {"tenant": tenant, "role": "server"}, {"role": "server"}):
        if not scope.get("tenant", True):
            continue
        matches = list(api.ipam.prefixes.filter(status="active", **scope))
        if len(matches) == 1:
            return matches[0]
    raise NetBoxError(f"no prefix for tenant {tenant!r}: give prefix= or add a skpd-lan/server prefix in NetBox")


def _lab_edges(prefix):
    """Gateway and resolver of the lab's user-mode network: the last two host addresses."""
    net = ipaddress.ip_network(prefix)
    hosts = list(net.hosts())
    return hosts[-1], hosts[-2], net.prefixlen


def _spec(p):
    return {k: p[k] for k in ("vcpus", "memory_mb", "disk_gb") if p[k] is not None}


def _record(vm, address):
    if vm is None:
        return {"state": "absent"}
    return {
        "status": vm.status.value if vm.status else None,
        "tenant": vm.tenant.slug if vm.tenant else None,
        "cluster": vm.cluster.name if vm.cluster else None,
        "vcpus": int(vm.vcpus) if vm.vcpus is not None else None,
        "memory_mb": vm.memory,
        "disk_gb": (vm.disk // 1000) if vm.disk else None,
        "address": address,
    }


def _iface_ips(api, iface):
    return list(api.ipam.ip_addresses.filter(vminterface_id=iface.id)) if iface else []


def present(module, api, result):
    p = module.params
    cluster = get_one(api.virtualization.clusters, "cluster", p["cluster"], "cluster", field="name")
    tenant = get_one(api.tenancy.tenants, "tenant", p["tenant"], "tenant") if p["tenant"] else None
    prefix = _prefix_for(api, p["prefix"], p["tenant"])
    gateway, dns, plen = _lab_edges(prefix.prefix)
    result.update(prefix=prefix.prefix, gateway=str(gateway), dns=str(dns))
    vm = api.virtualization.virtual_machines.get(name=p["name"], cluster_id=cluster.id)
    iface = api.virtualization.interfaces.get(virtual_machine_id=vm.id, name=p["interface"]) if vm else None
    ips = [ip for ip in _iface_ips(api, iface)
           if ipaddress.ip_interface(ip.address).ip in ipaddress.ip_network(prefix.prefix)]
    if ips:
        address = ips[0].address
    else:
        free = prefix.available_ips.list(limit=3)
        free = [a for a in free if ipaddress.ip_interface(a.address).ip not in (gateway, dns)]
        if not free:
            raise NetBoxError(f"prefix {prefix.prefix} has no free address for {p['name']}")
        address = free[0].address
    if p["expect"] and ipaddress.ip_interface(p["expect"]).ip != ipaddress.ip_interface(address).ip:
        raise NetBoxError(f"the approved plan is stale: it promised {p['expect']} but NetBox would give {address}; "
                          "re-plan and approve again")
    before = _record(vm, ips[0].address if ips else None)
    # NetBox 4 stores disk in MB (decimal); the request speaks GB.
    want = {"status": p["status"], "tenant": tenant.slug if tenant else None, "cluster": cluster.name,
            "vcpus": p["vcpus"], "memory_mb": p["memory_mb"], "disk_gb": p["disk_gb"], "address": address}
    want = {k: (before.get(k) if v is None else v) for k, v in want.items()}
    result["before"], result["after"] = before, want
    result["address"] = address
    result["vm_id"] = vm.id if vm else None
    result["changed"] = before != want
    if module.check_mode or not result["changed"]:
        return
    fields = {"status": p["status"], "cluster": cluster.id, "site": cluster.scope_id if getattr(cluster, "scope_type", "")
              == "dcim.site" else None, "tenant": tenant.id if tenant else None, "description": p["description"]}
    if p["vcpus"] is not None:
        fields["vcpus"] = p["vcpus"]
    if p["memory_mb"] is not None:
        fields["memory"] = p["memory_mb"]
    if p["disk_gb"] is not None:
        fields["disk"] = p["disk_gb"] * 1000
    fields = {k: v for k, v in fields.items() if v is not None}
    if vm is None:
        vm = api.virtualization.virtual_machines.create(name=p["name"], **fields)
    else:
        vm.update({k: v for k, v in fields.items() if k != "description" or not vm.description})
    if iface is None:
        iface = api.virtualization.interfaces.create(virtual_machine=vm.id, name=p["interface"])
    if not ips:
        ip = prefix.available_ips.create({
            "status": "active", "tenant": tenant.id if tenant else None, "dns_name": "",
            "description": p["description"] or f"VPS {p['name']}",
            "assigned_object_type": "virtualization.vminterface", "assigned_object_id": iface.id})
        got = ipaddress.ip_interface(ip.address).ip
        if got in (gateway, dns) or (p["expect"] and got != ipaddress.ip_interface(p["expect"]).ip):
            ip.delete()
            raise NetBoxError(f"NetBox allocated {ip.address}, not the planned {address}: the plan is stale")
        address = ip.address
        result["address"] = address
        vm.update({"primary_ip4": ip.id})
    elif vm.primary_ip4 is None or vm.primary_ip4.id != ips[0].id:
        vm.update({"primary_ip4": ips[0].id})
    result["vm_id"] = vm.id
    result["after"]["address"] = address
    _ = plen


def absent(module, api, result):
    p = module.params
    cluster = get_one(api.virtualization.clusters, "cluster", p["cluster"], "cluster", field="name")
    vm = api.virtualization.virtual_machines.get(name=p["name"], cluster_id=cluster.id)
    if vm is None:
        result["before"] = result["after"] = {"state": "absent"}
        return
    if p["tenant"] and (vm.tenant is None or vm.tenant.slug != p["tenant"]):
        owner = vm.tenant.slug if vm.tenant else "no tenant"
        raise NetBoxError(f"VM {p['name']} belongs to {owner}, not {p['tenant']}: refusing to delete it")
    ifaces = list(api.virtualization.interfaces.filter(virtual_machine_id=vm.id))
    ips = [ip for i in ifaces for ip in _iface_ips(api, i)]
    result["address"] = ips[0].address if ips else ""
    result["vm_id"] = vm.id
    before = _record(vm, result["address"] or None)
    after = {"state": "absent"} if p["delete_record"] else {**before, "status": "decommissioning", "address": None}
    result["before"], result["after"] = before, after
    result["released"] = [ip.address for ip in ips]
    result["changed"] = before != after
    if module.check_mode or not result["changed"]:
        return
    if vm.primary_ip4:
        vm.update({"primary_ip4": None})
    for ip in ips:
        ip.delete()
    if p["delete_record"]:
        vm.delete()
    else:
        vm.update({"status": "decommissioning"})


def main():
    module = AnsibleModule(
        argument_spec={
            **NETBOX_CONNECTION_ARGS,
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "name": {"type": "str", "required": True},
            "cluster": {"type": "str", "required": True},
            "tenant": {"type": "str", "default": ""},
            "prefix": {"type": "str", "default": ""},
            "interface": {"type": "str", "default": "eth0"},
            "vcpus": {"type": "int"},
            "memory_mb": {"type": "int"},
            "disk_gb": {"type": "int"},
            "status": {"type": "str", "default": "active"},
            "description": {"type": "str", "default": ""},
            "expect": {"type": "str", "default": ""},
            "delete_record": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    require_pynetbox(module)
    p = module.params
    result = {"changed": False, "address": "", "gateway": "", "dns": "", "prefix": "", "vm_id": None}
    try:
        api = connect(p["netbox_url"], p["netbox_token"], p["netbox_timeout"])
        (present if p["state"] == "present" else absent)(module, api, result)
    except NetBoxError as exc:
        module.fail_json(msg=str(exc), **result)
    except pynetbox.RequestError as exc:
        module.fail_json(msg=f"NetBox refused a change for VM {p['name']}: {request_error_text(exc)}", **result)
    if module._diff:  # noqa: SLF001 - Ansible's own flag for --diff
        result["diff"] = {"before": result.get("before", {}), "after": result.get("after", {})}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
