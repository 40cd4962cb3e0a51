"""What every platform shares: parse, diff, plan the commands, spot rejected lines.

A platform class overrides only what differs: which lines are noise, how a block ends, how a
line is negated, which answers mean "the device refused this line".
"""

from __future__ import annotations

import difflib
import re

from ansible_collections.kominfo.sop.plugins.module_utils.netcfg.tree import parse_indented


class Plan:
    """The difference between a running and an intended configuration."""

    def __init__(self, missing, extra, commands, before, after):
        self.missing = missing  # paths (context..., line) to add
        self.extra = extra  # paths to remove
        self.commands = commands  # CLI lines, with context lines, in push order
        self.before = before
        self.after = after

    @property
    def changed(self):
        return bool(self.missing or self.extra)

    def unified(self, name="running-config"):
        return "".join(
            difflib.unified_diff(
                (self.before + "\n").splitlines(True),
                (self.after + "\n").splitlines(True),
                f"{name} (running)",
                f"{name} (intended)",
            )
        )


class Platform:
    """Indented CLI configuration (IOS-like); subclasses adjust the details."""

    name = "generic"
    netmiko_device_type = "cisco_ios"
    show_running = "show running-config"
    #: lines that carry no configuration (banners, version stamps, separators)
    ignore_patterns = (r"^!.*$", r"^end$", r"^Building configuration\.\.\.$", r"^Current configuration.*$")
    block_end = ("exit",)
    #: device answers that mean the previous line was refused
    error_patterns = (r"^% ?(Invalid|Incomplete|Ambiguous|Unknown|Unrecognized)",)
    prompt_pattern = r"^\S+\(config[^)]*\)#\s?(.*)$"
    indent_step = 1
    #: a line is removed from the device by negating it inside its context
    negate_prefix = "no "

    def __init__(self):
        self._ignore = [re.compile(p) for p in self.ignore_patterns]
        self._errors = [re.compile(p, re.IGNORECASE) for p in self.error_patterns]
        self._prompt = re.compile(self.prompt_pattern)

    # -- parsing ---------------------------------------------------------------------------
    def is_noise(self, line):
        return any(p.match(line) for p in self._ignore)

    def parse(self, text):
        return parse_indented(text, self.is_noise, self.block_end)

    def render(self, tree):
        return "\n".join(tree.render(0, self.indent_step))

    # -- diff ------------------------------------------------------------------------------
    def plan(self, running_text, intended_text, mode="merge", state="present"):
        """Which lines to add and remove so the device matches the intent.

        ``merge`` adds missing lines only; ``replace`` also removes lines the intent does not
        have; ``state=absent`` removes the intended lines that are present.
        """
        running = self.parse(running_text)
        intended = self.parse(intended_text)
        have = set(running.paths())
        want_paths = intended.paths()
        if state == "absent":
            # Only leaves are removed: "interface eth0" in an absent request names the context.
            leaves = [p for p in want_paths if not intended.find(p).children]
            missing, extra = [], [p for p in leaves if p in have]
        else:
            missing = [p for p in want_paths if p not in have]
            extra = []
            if mode == "replace":
                want = set(want_paths)
                extra = [p for p in running.paths() if p not in want]
        extra = self.prune_removals(extra)
        after = self.parse(running_text)
        for path in extra:
            after.remove(path)
        for path in missing:
            after.insert(path)
        commands = self.removal_commands(extra) + self.addition_commands(missing)
        return Plan(missing, extra, commands, self.render(running), self.render(after))

    def prune_removals(self, extra):
        """Drop removals made redundant by removing their parent."""
        extra_set = set(extra)
        return [p for p in extra if not any(p[:i] in extra_set for i in range(1, len(p)))]

    def negate(self, line):
        if line.startswith(self.negate_prefix):
            return line[len(self.negate_prefix):]
        return self.negate_prefix + line

    def addition_commands(self, paths):
        return self._with_context(paths, lambda line: line)

    def removal_commands(self, paths):
        # Deepest first, so children go before their blocks.
        ordered = sorted(paths, key=len, reverse=True)
        return self._with_context(ordered, self.negate)

    def _with_context(self, paths, transform):
        commands, current = [], ()
        for path in paths:
            context = path[:-1]
            if context != current:
                if current:
                    commands.extend(self.leave_context(len(current)))
                commands.extend(context)
                current = context
            commands.append(transform(path[-1]))
        if current:
            commands.extend(self.leave_context(len(current)))
        return commands

    def leave_context(self, depth):
        return ["exit"] * depth

    # -- device answers --------------------------------------------------------------------
    def rejected_lines(self, output):
        """Lines the device refused, from the echoed config session: [(line, message)]."""
        rejected, last = [], None
        for raw in output.splitlines():
            text = raw.strip()
            match = self._prompt.match(text)
            if match:
                last = match.group(1).strip()
                continue
            if last and any(p.match(text) for p in self._errors):
                rejected.append((last, text))
                last = None
        return rejected

    def enter_config(self):
        return "configure terminal"
