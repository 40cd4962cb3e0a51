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
  device: {description: Device name., type: str, required: true}
"""

RETURN = r"""
intent:
  description: "{device: {...}, interfaces: [{name, description, enabled, mgmt_only, addresses}], routing: {...}, published: [{public, inside, tenant}]}"
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.netcfg.netbox import HAS_PYNETBOX, NETBOX_ARGS, NetboxError, api, router_intent


def main():
    module = AnsibleModule(
        argument_spec=dict(NETBOX_ARGS, device={"type": "str", "required": True}),
        supports_check_mode=True,
    )
    if not HAS_PYNETBOX:
        module.fail_json(msg="netbox_router_intent needs pynetbox on the controller")
    try:
        nb = api(module.params["netbox_url"], module.params["netbox_token"])
        intent = router_intent(nb, module.params["device"])
    except NetboxError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pynetbox.RequestError, connection errors
        module.fail_json(msg=f"NetBox at {module.params['netbox_url']}: {exc}")
    module.exit_json(changed=False, intent=intent)


if __name__ == "__main__":
    main()
