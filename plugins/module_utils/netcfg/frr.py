"""FRRouting (vtysh). Tested against FRR 8.4 in the router lab."""

from __future__ import annotations

import re

from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.base import Platform


class FrrPlatform(Platform):
    name = "frr"
    # vtysh speaks enough IOS for netmiko's cisco_ios driver (prompt, config mode, write mem).
    netmiko_device_type = "cisco_ios"
    ignore_patterns = (
        *Platform.ignore_patterns,
        r"^frr version .*$",
        r"^frr defaults .*$",
        r"^service integrated-vtysh-config$",
    )
    block_end = ("exit", "exit-address-family", "exit-vrf", "end")
    error_patterns = (
        r"^% ?(Unknown command|Invalid|Command incomplete|Ambiguous|Specify|Malformed|"
        r"Can't|Cannot|There is no|No such|Please|Configuration failed|Unknown)",
        r"^% \[\w+\]",
    )

    _NEIGHBOR_ROOT = re.compile(r"^neighbor (\S+) (remote-as|peer-group|interface) ")

    def prune_removals(self, extra):
        """``no neighbor X remote-as`` removes every line of that neighbor: drop the rest."""
        extra = super().prune_removals(extra)
        gone = set()
        for path in extra:
            m = self._NEIGHBOR_ROOT.match(path[-1])
            if m:
                gone.add((path[:-1], m.group(1)))
        out = []
        for path in extra:
            line = path[-1]
            m = self._NEIGHBOR_ROOT.match(line)
            if not m and line.startswith("neighbor "):
                peer = line.split()[1]
                # Also children of the bgp instance's address families.
                if any(ctx == path[: len(ctx)] and peer == p for ctx, p in gone):
                    continue
            out.append(path)
        return out

    def negate(self, line):
        # FRR refuses "no hostname X" and "no description X" with the argument on some nodes;
        # the bare forms are accepted everywhere.
        if line.startswith("description "):
            return "no description"
        if line.startswith("hostname "):
            return "no hostname"
        return super().negate(line)
