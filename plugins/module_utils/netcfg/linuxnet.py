"""Linux gateway helpers (nftables NAT, tc shaping) shared by nft_nat and tc_class.

Commands run through an optional prefix (``ip netns exec NS`` in the lab, nothing on a real
host), so the same modules drive a namespace or a machine.
"""

from __future__ import annotations

import re

NAT_TABLE_TEMPLATE = """table ip {table} {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
  }}
}}
"""

_HANDLE = re.compile(r"^(?P<rule>.*?)\s*# handle (?P<handle>\d+)$")


def nat_rules(public, inside, outside_if, exclude, tag):
    """The two rules that publish ``inside`` as ``public`` (chain -> rule text, as nft lists it)."""
    comment = f'comment "{tag} {public}"'
    return {
        "prerouting": f"ip daddr {public} dnat to {inside} {comment}",
        "postrouting": f'oifname "{outside_if}" ip saddr {inside} ip daddr != {exclude} snat to {public} {comment}',
    }


def parse_chain(listing):
    """Rules of an ``nft -a list chain`` output: [(text, handle)]."""
    rules = []
    for raw in listing.splitlines():
        line = raw.strip()
        m = _HANDLE.match(line)
        if not m or line.startswith(("chain ", "table ")) or m.group("rule").endswith("{"):
            continue
        rules.append((m.group("rule"), int(m.group("handle"))))
    return rules


def tagged(rules, tag, public):
    marker = f'comment "{tag} {public}"'
    return [(text, handle) for text, handle in rules if text.endswith(marker)]


def rate_to_kbit(rate):
    """tc prints rates like 50Mbit, 1500Kbit, 800bit: normalise to kbit."""
    m = re.match(r"^(\d+(?:\.\d+)?)([KMG]?)bit$", rate)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    return int(value * {"": 0.001, "K": 1, "M": 1000, "G": 1000000}[unit])
