#!/usr/bin/python
"""Allocate (or find) an SKPD network segment in NetBox: VLAN, prefix, SVI and gateway."""

from __future__ import annotations

DOCUMENTATION = r"""
module: netbox_segment
short_description: Next free VLAN and prefix for an SKPD, with the router's SVI and gateway address
description:
  - Idempotent by name; a VLAN of that name in the group is reused with its prefix.
  - Allocation goes through NetBox's available-vlans and available-prefixes endpoints.
  - Check mode returns the values NetBox would allocate now, without creating anything.
options:
  netbox_url: {description: NetBox base URL., type: str, required: true}
  netbox_token: {description: API token., type: str, required: true}
  tenant: {description: Tenant (SKPD) slug., type: str, required: true}
  name: {description: VLAN name., type: str, required: true}
  container: {description: Container prefix to allocate from., type: str, required: true}
  prefix_length: {description: Size of the new prefix., type: int, default: 24}
  vlan_group: {description: VLAN group slug., type: str, required: true}
  vid_min: {description: Lowest VID to use., type: int, default: 100}
  vid_max: {description: Highest VID to use., type: int, default: 999}
  router: {description: Router carrying the gateway (SVI)., type: str, required: true}
"""

RETURN = r"""
segment: {description: "{tenant, name, vid, prefix, gateway, interface, router, description}", type: dict}
created: {description: What was (or would be) created., type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.netbox import (
    HAS_PYNETBOX,
    NETBOX_ARGS,
    NetboxError,
    api,
    create_segment,
    plan_segment,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            NETBOX_ARGS,
            tenant={"type": "str", "required": True},
            name={"type": "str", "required": True},
            container={"type": "str", "required": True},
            prefix_length={"type": "int", "default": 24},
            vlan_group={"type": "str", "required": True},
            vid_min={"type": "int", "default": 100},
            vid_max={"type": "int", "default": 999},
            router={"type": "str", "required": True},
        ),
        supports_check_mode=True,
    )
    if not HAS_PYNETBOX:
        module.fail_json(msg="netbox_segment needs pynetbox on the controller")
    p = module.params
    try:
        nb = api(p["netbox_url"], p["netbox_token"])
        segment, missing, objs = plan_segment(nb, p["tenant"], p["name"], p["container"],
                                              p["prefix_length"], p["vlan_group"], p["router"],
                                              p["vid_min"], p["vid_max"])
        if missing and not module.check_mode:
            segment = create_segment(nb, segment, missing, objs, p["prefix_length"])
    except NetboxError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pynetbox.RequestError (e.g. 409 when the pool is exhausted)
        module.fail_json(msg=f"NetBox refused the allocation: {exc}")
    after = "".join(f"{k}: {v}\n" for k, v in segment.items())
    module.exit_json(changed=bool(missing), segment=segment, created=missing,
                     diff={"before": "" if missing else after, "after": after})


if __name__ == "__main__":
    main()
