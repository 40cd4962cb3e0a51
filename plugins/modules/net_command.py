#!/usr/bin/python
"""Run read-only show commands on a network device (for preflight and verification)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: net_command
short_description: Run show commands over netmiko and return their output (parsed when JSON)
description:
  - Read-only. Refuses commands that do not start with C(show) so it cannot change a device.
  - Safe in check mode (it runs the commands; a probe, not a change).
options:
  device: {description: Name used in messages., type: str, required: true}
  host: {description: SSH address., type: str, required: true}
  port: {description: SSH port., type: int, default: 22}
  username: {description: Login user., type: str, required: true}
  password: {description: Login password., type: str}
  ssh_key_file: {description: Private key file., type: path}
  platform: {description: Device platform., type: str, default: frr, choices: [frr, ios, routeros]}
  commands: {description: Show commands., type: list, elements: str, required: true}
  timeout: {description: Connect timeout in seconds., type: int, default: 10}
"""

RETURN = r"""
outputs: {description: Output per command., type: list}
parsed: {description: Output parsed as JSON per command (null when not JSON)., type: list}
"""

import contextlib
import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.connection import HAS_NETMIKO, DeviceError, connect
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.platforms import get_platform


def main():
    module = AnsibleModule(
        argument_spec={
            "device": {"type": "str", "required": True},
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 22},
            "username": {"type": "str", "required": True},
            "password": {"type": "str", "no_log": True},
            "ssh_key_file": {"type": "path", "no_log": False},
            "platform": {"type": "str", "default": "frr", "choices": ["frr", "ios", "routeros"]},
            "commands": {"type": "list", "elements": "str", "required": True},
            "timeout": {"type": "int", "default": 10},
        },
        required_one_of=[["password", "ssh_key_file"]],
        supports_check_mode=True,
    )
    if not HAS_NETMIKO:
        module.fail_json(msg="net_command needs netmiko on the controller")
    p = module.params
    bad = [c for c in p["commands"] if not c.strip().startswith(("show ", "/"))]
    if bad:
        module.fail_json(msg=f"net_command only runs show commands; refused: {bad}")
    platform = get_platform(p["platform"])
    try:
        conn = connect(platform, p["device"], p["host"], p["port"], p["username"], p["password"],
                       p["ssh_key_file"], p["timeout"])
    except DeviceError as exc:
        module.fail_json(msg=str(exc), device=p["device"])
    stdout, parsed = [], []
    try:
        for command in p["commands"]:
            out = conn.send_command(command, read_timeout=30)
            stdout.append(out)
            try:
                parsed.append(json.loads(out))
            except ValueError:
                parsed.append(None)
    except (OSError, EOFError) as exc:
        module.fail_json(msg=f"{p['device']}: SSH session broke: {exc}")
    finally:
        # The session may already be gone.
        with contextlib.suppress(Exception):
            conn.disconnect()
    module.exit_json(changed=False, outputs=stdout, parsed=parsed, device=p["device"])


if __name__ == "__main__":
    main()
