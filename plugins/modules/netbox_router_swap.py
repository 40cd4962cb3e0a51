#!/usr/bin/python
"""Record in NetBox that one router replaced another."""

from __future__ import annotations

DOCUMENTATION = r"""
module: netbox_router_swap
short_description: Move a replaced router's addresses, primary IP, cables and routing intent to its replacement
description:
  - Moves every IP address from the old router's interfaces to the same-named interfaces of the
    new one, the primary IPv4, cable terminations and the C(routing) config context, and sets
    both devices' status. Idempotent, a finished swap has nothing left to move.
  - Check mode lists the steps without writing.
options:
  netbox_url: {description: NetBox base URL., type: str, required: true}
  netbox_token: {description: API token., type: str, required: true}
  old: {description: The replaced router., type: str, required: true}
  new: {description: The replacement., type: str, required: true}
  old_status: {description: Status of the replaced router afterwards., type: str, default: offline}
  new_status: {description: Status of the replacement afterwards., type: str, default: active}
"""

RETURN = r"""
steps: {description: What was (or in check mode would be) changed., type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.netbox import HAS_PYNETBOX, NETBOX_ARGS, NetboxError, api, plan_swap


def main():
    module = AnsibleModule(
        argument_spec=dict(
            NETBOX_ARGS,
            old={"type": "str", "required": True},
            new={"type": "str", "required": True},
            old_status={"type": "str", "default": "offline"},
            new_status={"type": "str", "default": "active"},
        ),
        supports_check_mode=True,
    )
    if not HAS_PYNETBOX:
        module.fail_json(msg="netbox_router_swap needs pynetbox on the controller")
    p = module.params
    done = []
    try:
        nb = api(p["netbox_url"], p["netbox_token"])
        steps = plan_swap(nb, p["old"], p["new"], p["old_status"], p["new_status"])
        titles = [title for title, _ in steps]
        diff = {"before": "", "after": "".join(f"{t}\n" for t in titles)}
        if module.check_mode or not steps:
            module.exit_json(changed=bool(steps), steps=titles, diff=diff)
        for title, apply in steps:
            apply()
            done.append(title)
    except NetboxError as exc:
        module.fail_json(msg=str(exc), done=done)
    except Exception as exc:  # pynetbox.RequestError carries NetBox's validation message
        module.fail_json(msg=f"NetBox refused a step after {len(done)} done: {exc}", done=done)
    module.exit_json(changed=True, steps=done, diff=diff)


if __name__ == "__main__":
    main()
