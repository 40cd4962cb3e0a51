#!/usr/bin/python
"""Idempotent CLI configuration of a network device over netmiko."""

from __future__ import annotations

DOCUMENTATION = r"""
module: net_config
short_description: Make a network device's running configuration match an intended one
description:
  - Reads the running configuration over SSH (netmiko), compares it with an intended
    configuration after dropping noise (FRR C(frr version)/C(frr defaults), C(!) separators,
    banners) and ignoring the order of independent lines, and pushes only the lines needed.
  - In check mode it reads and diffs only; it never enters configuration mode.
  - After a push it saves (C(write memory)), re-reads the device and diffs again; lines the
    device refused are reported in C(rejected) and the task fails.
  - Without O(config) it only reads, returning C(running_config) (for backups).
  - Platforms live in C(plugins/module_utils/netcfg/); C(frr) is tested in the router lab,
    C(ios) and C(routeros) are the seam with parsing and diff rules, untested against devices.
options:
  device: {description: Name used in messages (the inventory hostname)., type: str, required: true}
  host: {description: Address of the device's SSH service., type: str, required: true}
  port: {description: SSH port., type: int, default: 22}
  username: {description: Login user., type: str, required: true}
  password: {description: Login password., type: str}
  ssh_key_file: {description: Private key file, instead of a password., type: path}
  platform: {description: Device platform., type: str, default: frr, choices: [frr, ios, routeros]}
  config: {description: Intended configuration text (a whole config, or a part in merge mode)., type: str}
  mode:
    description:
      - C(merge) adds the missing lines only; C(replace) also removes lines not in O(config).
    type: str
    default: merge
    choices: [merge, replace]
  state:
    description: C(absent) removes the lines of O(config) that are present.
    type: str
    default: present
    choices: [present, absent]
  save: {description: Save the configuration after a change., type: bool, default: true}
  timeout: {description: Connect and authentication timeout in seconds., type: int, default: 10}
  return_running: {description: Return the running configuration read before any change., type: bool, default: false}
"""

RETURN = r"""
changed: {description: Whether lines were (or in check mode would be) pushed., type: bool}
commands: {description: The CLI lines, with their context lines, in push order., type: list}
applied: {description: Lines the device accepted., type: list}
rejected: {description: "Lines the device refused, each {line, message}.", type: list}
running_config: {description: Running config before the change (when asked, or without config)., type: str}
diff: {description: "Normalised before/after.", type: dict}
"""

import contextlib

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.connection import HAS_NETMIKO, DeviceError, connect
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.platforms import get_platform

MAX_PASSES = 3


def read_running(conn, platform):
    return conn.send_command(platform.show_running, read_timeout=30)


def push(conn, platform, commands):
    """Send the lines in one config session; return (applied, rejected, output)."""
    output = conn.send_config_set(
        commands, config_mode_command=platform.enter_config() or None, read_timeout=30,
        cmd_verify=True,
    )
    rejected = platform.rejected_lines(output)
    refused = {line for line, _ in rejected}
    applied = [c for c in commands if c not in refused]
    return applied, [{"line": line, "message": msg} for line, msg in rejected], output


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
            "config": {"type": "str"},
            "mode": {"type": "str", "default": "merge", "choices": ["merge", "replace"]},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "save": {"type": "bool", "default": True},
            "timeout": {"type": "int", "default": 10},
            "return_running": {"type": "bool", "default": False},
        },
        required_one_of=[["password", "ssh_key_file"]],
        supports_check_mode=True,
    )
    if not HAS_NETMIKO:
        module.fail_json(msg="net_config needs the netmiko Python library on the controller")
    p = module.params
    platform = get_platform(p["platform"])
    device = p["device"]
    try:
        conn = connect(platform, device, p["host"], p["port"], p["username"], p["password"],
                       p["ssh_key_file"], p["timeout"])
    except DeviceError as exc:
        module.fail_json(msg=str(exc), device=device)

    result = {"changed": False, "commands": [], "applied": [], "rejected": [], "device": device}
    try:
        running = read_running(conn, platform)
        if p["config"] is None:
            result["running_config"] = running
            module.exit_json(**result)
        if p["return_running"]:
            result["running_config"] = running
        plan = platform.plan(running, p["config"], p["mode"], p["state"])
        result["changed"] = plan.changed
        result["commands"] = plan.commands
        result["diff"] = {"before": plan.before + "\n", "after": plan.after + "\n",
                          "before_header": f"{device} running", "after_header": f"{device} intended"}
        if not plan.changed or module.check_mode:
            module.exit_json(**result)

        for _ in range(MAX_PASSES):
            applied, rejected, output = push(conn, platform, plan.commands)
            result["applied"].extend(applied)
            result["rejected"].extend(rejected)
            if rejected:
                result["output"] = output
                module.fail_json(
                    msg=f"{device}: the device refused {len(rejected)} line(s): "
                        + "; ".join(f"{r['line']!r} ({r['message']})" for r in rejected)
                        + ". Configuration NOT saved; applied lines are listed in 'applied'.",
                    **result)
            running = read_running(conn, platform)
            plan = platform.plan(running, p["config"], p["mode"], p["state"])
            if not plan.changed:
                break
        else:
            result["remaining"] = plan.commands
            module.fail_json(msg=f"{device}: configuration did not converge after {MAX_PASSES} passes; "
                                 f"still differing: {plan.commands}", **result)
        if p["save"]:
            out = conn.save_config()
            if "saved" not in out.lower() and "[OK]" not in out:
                module.fail_json(msg=f"{device}: saving the configuration failed: {out}", **result)
        result["diff"]["after"] = plan.after + "\n"
    except DeviceError as exc:
        module.fail_json(msg=str(exc), **result)
    except (OSError, EOFError) as exc:
        module.fail_json(msg=f"{device}: SSH session broke: {exc}", **result)
    finally:
        # The session may already be gone.
        with contextlib.suppress(Exception):
            conn.disconnect()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
