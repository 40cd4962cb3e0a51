"""MikroTik RouterOS (``/export`` format). The seam is in place but untested: RouterOS has no
indented blocks but menu paths (``/ip address``) with ``add key=value`` items, and removal is
``remove [find where ...]`` rather than a negated line."""

from __future__ import annotations

import re

from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.base import Platform
from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.tree import Node, normalise_line


class RouterOsPlatform(Platform):
    name = "routeros"
    netmiko_device_type = "mikrotik_routeros"
    show_running = "/export terse"
    ignore_patterns = (r"^#.*$",)
    error_patterns = (r"^(failure|bad command name|syntax error|expected end of command|input does not match)",)
    prompt_pattern = r"^\[\S+@\S+\] .*>\s?(.*)$"

    def parse(self, text):
        """``/export terse`` prints one item per line: ``/ip address add address=... ``."""
        root = Node()
        for raw in text.splitlines():
            line = normalise_line(raw)
            if not line or self.is_noise(line):
                continue
            m = re.match(r"^(/[^=]+?) (add|set) (.*)$", line)
            if m:
                root.add(m.group(1)).add(f"{m.group(2)} {m.group(3)}")
            else:
                root.add(line)
        return root

    def render(self, tree):
        return "\n".join(f"{menu.line} {item.line}" for menu in tree.children.values()
                         for item in menu.children.values())

    def addition_commands(self, paths):
        return [" ".join(p) for p in paths if len(p) == 2]

    def removal_commands(self, paths):
        out = []
        for path in paths:
            if len(path) != 2 or not path[1].startswith("add "):
                continue
            keys = " ".join(kv for kv in path[1][4:].split() if "=" in kv and not kv.startswith("comment="))
            out.append(f"{path[0]} remove [find where {keys}]")
        return out

    def enter_config(self):
        return ""
