#!/usr/bin/python
"""Shape an SKPD's traffic with an HTB class, classified by nftables."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tc_class
short_description: One HTB class per SKPD on a Linux gateway, fed by an nftables classifier
description:
  - Ensures an HTB root qdisc C(1:) on O(dev) (unclassified traffic stays unshaped), a class
    C(1:<minor>) with rate and ceiling O(rate_mbit), and an nftables rule in table C(ip sop_qos)
    that sets the packet priority of traffic to O(addresses) to that class.
  - Idempotent; check mode and diff supported.
options:
  dev: {description: Interface whose egress is shaped., type: str, required: true}
  minor: {description: Class minor number (hex digits)., type: str, required: true}
  rate_mbit: {description: Rate and ceiling in Mbit/s (required for present)., type: int}
  addresses: {description: Destination addresses classified into the class., type: list, elements: str, default: []}
  name: {description: Label used in the nftables comment (the tenant)., type: str, required: true}
  state: {description: present or absent., type: str, default: present, choices: [present, absent]}
  exec_prefix:
    description: "Command prefix, e.g. [ip, netns, exec, sop-dmz-gw]."
    type: list
    elements: str
    default: []
"""

RETURN = r"""
class_line: {description: The class as tc lists it after the run., type: str}
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.linuxnet import parse_chain, rate_to_kbit

QOS_TABLE = """table ip sop_qos {
  chain postrouting {
    type filter hook postrouting priority filter; policy accept;
  }
}
"""


def main():
    module = AnsibleModule(
        argument_spec={
            "dev": {"type": "str", "required": True},
            "minor": {"type": "str", "required": True},
            "rate_mbit": {"type": "int"},
            "addresses": {"type": "list", "elements": "str", "default": []},
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "exec_prefix": {"type": "list", "elements": "str", "default": []},
        },
        required_if=[["state", "present", ["rate_mbit"]]],
        supports_check_mode=True,
    )
    p = module.params
    prefix, dev, minor = p["exec_prefix"], p["dev"], p["minor"].lower()
    classid = f"1:{minor}"

    def run(*args, data=None, check=True):
        rc, out, err = module.run_command(prefix + list(args), data=data)
        if check and rc != 0:
            module.fail_json(msg=f"{' '.join(args)} failed: {err.strip() or out.strip()}")
        return rc, out

    _, qdiscs = run("tc", "qdisc", "show", "dev", dev)
    has_root = bool(re.search(r"^qdisc htb 1: root", qdiscs, re.M))
    _, classes = run("tc", "class", "show", "dev", dev)
    line = next((ln for ln in classes.splitlines() if ln.startswith(f"class htb {classid} ")), "")
    m = re.search(r" rate (\S+) ceil (\S+)", line)
    have_rate = (rate_to_kbit(m.group(1)), rate_to_kbit(m.group(2))) if m else None

    marker = f'comment "sop55 {p["name"]}"'
    rc, _ = run("nft", "list", "table", "ip", "sop_qos", check=False)
    table = rc == 0
    rules = []
    if table:
        _, listing = run("nft", "-a", "list", "chain", "ip", "sop_qos", "postrouting")
        rules = [(t, h) for t, h in parse_chain(listing) if t.endswith(marker)]
    want_rule = None
    if p["state"] == "present" and p["addresses"]:
        addrs = sorted(set(p["addresses"]), key=lambda a: tuple(int(x) for x in a.split(".")))
        match = f"{{ {', '.join(addrs)} }}" if len(addrs) > 1 else addrs[0]
        want_rule = f'oifname "{dev}" ip daddr {match} meta priority set {classid} {marker}'

    actions = []
    if p["state"] == "present":
        want_kbit = p["rate_mbit"] * 1000
        if not has_root:
            actions.append(["tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb"])
        if have_rate != (want_kbit, want_kbit):
            actions.append(["tc", "class", "replace", "dev", dev, "parent", "1:", "classid", classid,
                            "htb", "rate", f"{p['rate_mbit']}mbit", "ceil", f"{p['rate_mbit']}mbit"])
    elif line:
        actions.append(["tc", "class", "del", "dev", dev, "classid", classid])
    nft_actions = [("delete", h) for t, h in rules if t != want_rule]
    if want_rule and want_rule not in [t for t, _ in rules]:
        nft_actions.append(("add", want_rule))

    before = (f"class {classid} rate {have_rate[0]}kbit\n" if have_rate else "") + \
        "".join(f"nft: {t}\n" for t, _ in rules)
    after = (f"class {classid} rate {p['rate_mbit'] * 1000}kbit\n" if p["state"] == "present" else "") + \
        (f"nft: {want_rule}\n" if want_rule else "")
    changed = bool(actions or nft_actions)
    result = {"changed": changed, "diff": {"before": before, "after": after}, "class_line": line}
    if module.check_mode or not changed:
        module.exit_json(**result)
    for action in actions:
        run(*action)
    if nft_actions and not table:
        run("nft", "-f", "-", data=QOS_TABLE)
    for kind, arg in nft_actions:
        if kind == "delete":
            run("nft", "delete", "rule", "ip", "sop_qos", "postrouting", "handle", str(arg))
        else:
            run("nft", "-f", "-", data=f"add rule ip sop_qos postrouting {arg}\n")
    _, classes = run("tc", "class", "show", "dev", dev)
    result["class_line"] = next((ln for ln in classes.splitlines() if ln.startswith(f"class htb {classid} ")), "")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
