#!/usr/bin/python
"""Publish a server under a public address with nftables (DNAT in, SNAT out)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nft_nat
short_description: One-to-one NAT of a public IPv4 address to an inside address with nftables
description:
  - Keeps two rules per public address in table O(table) (created when missing), tagged with a
    comment C(<tag> <public>) so they are found again; a rule that differs is replaced.
  - Check mode and diff supported; nothing is written in check mode.
options:
  public: {description: Public IPv4 address., type: str, required: true}
  inside: {description: Inside IPv4 address (required for state=present)., type: str}
  state: {description: present or absent., type: str, default: present, choices: [present, absent]}
  table: {description: nftables table (family ip)., type: str, default: sop_nat}
  outside_interface: {description: Interface towards the edge router., type: str, default: eth0}
  exclude: {description: Destinations not source-NATed (internal space)., type: str, default: 10.0.0.0/8}
  tag: {description: Comment tag that marks this module's rules., type: str, default: sop57}
  exec_prefix:
    description: "Command prefix, e.g. [ip, netns, exec, sop-dmz-gw] in the lab."
    type: list
    elements: str
    default: []
"""

RETURN = r"""
rules: {description: The rules after the run (or planned in check mode)., type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.linuxnet import NAT_TABLE_TEMPLATE, nat_rules, parse_chain, tagged


def main():
    module = AnsibleModule(
        argument_spec={
            "public": {"type": "str", "required": True},
            "inside": {"type": "str"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "table": {"type": "str", "default": "sop_nat"},
            "outside_interface": {"type": "str", "default": "eth0"},
            "exclude": {"type": "str", "default": "10.0.0.0/8"},
            "tag": {"type": "str", "default": "sop57"},
            "exec_prefix": {"type": "list", "elements": "str", "default": []},
        },
        required_if=[["state", "present", ["inside"]]],
        supports_check_mode=True,
    )
    p = module.params
    prefix = p["exec_prefix"]

    def nft(*args, data=None, check=True):
        rc, out, err = module.run_command([*prefix, "nft", *list(args)], data=data)
        if check and rc != 0:
            module.fail_json(msg=f"nft {' '.join(args)} failed: {err.strip() or out.strip()}")
        return rc, out

    rc, _ = nft("list", "table", "ip", p["table"], check=False)
    table_exists = rc == 0
    want = nat_rules(p["public"], p["inside"], p["outside_interface"], p["exclude"], p["tag"]) \
        if p["state"] == "present" else {"prerouting": None, "postrouting": None}
    have, actions = {}, []
    for chain, rule in want.items():
        current = []
        if table_exists:
            _, listing = nft("-a", "list", "chain", "ip", p["table"], chain)
            current = tagged(parse_chain(listing), p["tag"], p["public"])
        have[chain] = [text for text, _ in current]
        for text, handle in current:
            if text != rule:
                actions.append(("delete", chain, handle, text))
        if rule and rule not in have[chain]:
            actions.append(("add", chain, None, rule))

    before = "".join(f"{c}: {r}\n" for c, rules in have.items() for r in rules)
    after = "".join(f"{c}: {r}\n" for c, r in want.items() if r)
    result = {"changed": bool(actions), "rules": [r for r in want.values() if r],
              "diff": {"before": before, "after": after}}
    if module.check_mode or not actions:
        module.exit_json(**result)
    if not table_exists and p["state"] == "present":
        nft("-f", "-", data=NAT_TABLE_TEMPLATE.format(table=p["table"]))
    for action, chain, handle, text in actions:
        if action == "delete":
            nft("delete", "rule", "ip", p["table"], chain, "handle", str(handle))
        else:
            nft("-f", "-", data=f"add rule ip {p['table']} {chain} {text}\n")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
