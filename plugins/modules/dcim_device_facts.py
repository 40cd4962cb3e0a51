#!/usr/bin/python
# Copyright: sop-runner contributors
# Apache License 2.0 (see pyproject.toml)
"""What an OS installer needs to know about a NetBox device (SOP 23)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dcim_device_facts
short_description: Name, tenant, serial, primary IPv4, gateway and prefix of a NetBox device
description:
  - Reads the device O(name) and the prefix that holds its primary IPv4; the gateway is the
    prefix's first host address (the data centre's convention). A read-only probe.
options:
  netbox_url: {description: 'NetBox base URL, for example C(https://netbox.example).', type: str, required: true}
  netbox_token: {description: 'NetBox API token (v1 or C(nbt_) v2).', type: str, required: true}
  netbox_timeout: {description: 'Seconds to wait for each NetBox request.', type: int, default: 30}
  name: {description: 'Device name in NetBox.', type: str, required: true}
author: sop-runner contributors
"""

RETURN = r"""
device: {description: name, status, tenant, serial, platform, address, ip, prefixlen, gateway, netmask, type: dict, returned: always}
"""

import ipaddress

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netbox_client import NETBOX_CONNECTION_ARGS, NetBoxError, connect, require_pynetbox


def main():
    module = AnsibleModule(argument_spec={**NETBOX_CONNECTION_ARGS, "name": {"type": "str", "required": True}},
                           supports_check_mode=True)
    require_pynetbox(module)
    p = module.params
    try:
        api = connect(p["netbox_url"], p["netbox_token"], p["netbox_timeout"])
        dev = api.dcim.devices.get(name=p["name"])
        if dev is None:
            raise NetBoxError(f"no device named {p['name']!r} in NetBox")
        if dev.primary_ip4 is None:
            raise NetBoxError(f"{p['name']} has no primary IPv4 in NetBox: assign one before installing an OS")
        iface = ipaddress.ip_interface(dev.primary_ip4.address)
        prefixes = sorted(api.ipam.prefixes.filter(contains=str(iface.ip)),
                          key=lambda x: ipaddress.ip_network(x.prefix).prefixlen)
        net = ipaddress.ip_network(prefixes[-1].prefix) if prefixes else iface.network
    except NetBoxError as exc:
        module.fail_json(msg=str(exc))
    device = {
        "name": dev.name,
        "status": dev.status.value if dev.status else None,
        "tenant": dev.tenant.slug if dev.tenant else "",
        "serial": dev.serial or "",
        "platform": dev.platform.slug if dev.platform else "",
        "address": str(iface),
        "ip": str(iface.ip),
        "prefixlen": net.prefixlen,
        "netmask": str(net.netmask),
        "prefix": str(net),
        "gateway": str(next(net.hosts())),
        "id": dev.id,
    }
    module.exit_json(changed=False, device=device)


if __name__ == "__main__":
    main()
