#!/usr/bin/python
"""Read a router's intended state from NetBox (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: netbox_router_intent
short_description: A router's device record, interfaces with addresses, routing intent and published NAT addresses
description:
  - Read-only; safe in check mode. The result feeds the Jinja2 intended-config templates.
  - Routing intent is the C(routing) key of the device's local config context.
options:
  netbox_url: {description: NetBox base URL., type: str, required: true}
  netbox_token: {description: API token., type: str, required: true}
  device: {description: "Device name (or give O(role))", type: str}
  role: {description: "NetBox device role: use the one active device with it (e.g. edge-router).", type: str}
  public_address: {description: "Also look up this public address and its NAT inside address.", type: str}
  tenant: {description: "Also return this tenant's bandwidth (sop_bandwidth_mbps) and DMZ addresses.", type: str}
"""

RETURN = r"""
intent:
  description: >-
    {device: {...}, interfaces: [{name, description, enabled, mgmt_only, addresses}],
    routing: {...}, published: [{public, inside, tenant}]}
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.netbox import (
    HAS_PYNETBOX,
    NETBOX_ARGS,
    NetboxError,
    active_device_name,
    api,
    public_address,
    router_intent,
    tenant_bandwidth,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(NETBOX_ARGS, device={"type": "str"}, role={"type": "str"},
                           public_address={"type": "str"}, tenant={"type": "str"}),
        required_one_of=[["device", "role"]],
        supports_check_mode=True,
    )
    if not HAS_PYNETBOX:
        module.fail_json(msg="netbox_router_intent needs pynetbox on the controller")
    try:
        nb = api(module.params["netbox_url"], module.params["netbox_token"])
        name = module.params["device"] or active_device_name(nb, module.params["role"])
        intent = router_intent(nb, name)
        if module.params["tenant"]:
            intent["tenant"] = tenant_bandwidth(nb, module.params["tenant"])
        if module.params["public_address"]:
            intent["public_address"] = public_address(nb, module.params["public_address"])
    except NetboxError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pynetbox.RequestError, connection errors
        module.fail_json(msg=f"NetBox at {module.params['netbox_url']}: {exc}")
    module.exit_json(changed=False, intent=intent)


if __name__ == "__main__":
    main()
