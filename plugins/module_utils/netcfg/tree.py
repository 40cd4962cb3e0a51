"""An order-insensitive tree of configuration lines, built from indentation.

A node's key is its normalised line; children keep insertion order (for rendering and for
pushing additions in the intended order) but comparison is by key, so two configs that only
order independent lines differently compare equal.
"""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")


class Node:
    """One configuration line with its sub-lines."""

    __slots__ = ("children", "line")

    def __init__(self, line=""):
        self.line = line
        self.children = {}

    def add(self, line):
        node = self.children.get(line)
        if node is None:
            node = Node(line)
            self.children[line] = node
        return node

    def paths(self, prefix=()):
        """Every line as the tuple of its context lines and itself."""
        out = []
        for key, child in self.children.items():
            path = (*prefix, key)
            out.append(path)
            out.extend(child.paths(path))
        return out

    def find(self, path):
        node = self
        for key in path:
            node = node.children.get(key)
            if node is None:
                return None
        return node

    def insert(self, path):
        node = self
        for key in path:
            node = node.add(key)
        return node

    def remove(self, path):
        parent = self.find(path[:-1])
        if parent is not None:
            parent.children.pop(path[-1], None)

    def render(self, indent=0, step=1):
        lines = []
        for child in self.children.values():
            lines.append(" " * indent + child.line)
            lines.extend(child.render(indent + step, step))
        return lines


def normalise_line(line):
    return _SPACES.sub(" ", line.strip())


def parse_indented(text, ignore, block_end=()):
    """Build a tree from an indented config; ``ignore`` decides which lines are noise."""
    root = Node()
    stack = [(-1, root)]
    for raw in text.splitlines():
        if not raw.strip():
            continue
        line = normalise_line(raw)
        if ignore(line):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if line in block_end:
            # "exit" closes the innermost block whatever its indentation.
            while len(stack) > 1 and stack[-1][0] >= indent:
                stack.pop()
            continue
        while len(stack) > 1 and stack[-1][0] >= indent:
            stack.pop()
        node = stack[-1][1].add(line)
        stack.append((indent, node))
    return root
