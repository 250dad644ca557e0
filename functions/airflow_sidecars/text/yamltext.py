"""Where things are in YAML text: lines, where a block node's text ends, where a block
sequence's dashes sit. The editor (yamledit.py) splices at these positions."""

from __future__ import annotations

import bisect
import re

import yaml

from airflow_sidecars.text.yamlread import Node

_LONE_CR = re.compile("\r(?!\n)")


def lone_cr_as_lf(text: str) -> str:
    """`text` with each lone `\r` (an old Mac line end) made `\n`.

    A lone `\r` is a line break to every YAML reader, anywhere in a document, and a value
    reads the same with either break (YAML folds every break in a scalar to `\n`). The
    positions we splice at are found by looking for `\n`; this keeps every index where it
    was (one character for one), so node marks and splices fit the text as it came in.
    `\r\n` is left alone: its `\n` already ends the line."""
    return _LONE_CR.sub("\n", text) if "\r" in text else text


def line_break_at(text: str, position: int) -> str:
    """The line break that ends the line `position` is on (the last one before it where the
    text ends without one; `\n` when the text has none): text spliced into that line breaks
    its lines the same way. Each search stops at the nearest `\n`: a `\r` far away in a
    large text is not looked for on every splice."""
    newline = text.find("\n", position)
    end = len(text) if newline < 0 else newline
    at = text.find("\r", position, end)
    if at < 0:
        at = newline
    if at < 0:  # the last line, without a break: the one before it
        newline = text.rfind("\n", 0, position)
        at = max(newline, text.rfind("\r", newline + 1, position))
    if at < 0:
        return "\n"
    if text[at] == "\n":
        return "\r\n" if at > 0 and text[at - 1] == "\r" else "\n"
    return "\r\n" if text[at + 1 : at + 2] == "\n" else "\r"


class TextLines:
    """Positions of one text's lines (the line index is built on first use)."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def block_end(self, node: Node) -> int:
        """Where the text of a block node ends: the start of the line after its last content
        (so a trailing comment on that line stays with it)."""
        leaf = node
        while isinstance(leaf, yaml.CollectionNode) and leaf.value and not leaf.flow_style:
            last = leaf.value[-1]
            leaf = last[1] if isinstance(leaf, yaml.MappingNode) else last
        end = leaf.end_mark.index
        if isinstance(leaf, yaml.ScalarNode) and leaf.style in ("|", ">") and self._keeps(leaf):
            return self.start(end) if end < len(self.text) else end
        position = end
        while position > leaf.start_mark.index and self.text[position - 1] in " \t\r\n":
            position -= 1
        return self.end(position)

    def _keeps(self, node: Node) -> bool:
        header = self.text[node.start_mark.index : self.end(node.start_mark.index)]
        return "+" in header.split("#", 1)[0]

    def end(self, position: int) -> int:
        """The start of the next line (or the end of the text)."""
        newline = self.text.find("\n", position)
        return len(self.text) if newline < 0 else newline + 1

    def start(self, position: int) -> int:
        return self.text.rfind("\n", 0, position) + 1

    def starts(self) -> list[int]:
        if self._starts is None:
            starts = [0]
            find = self.text.find
            position = find("\n")
            while position >= 0:
                starts.append(position + 1)
                position = find("\n", position + 1)
            self._starts = starts
        return self._starts

    def number(self, position: int) -> int:
        return bisect.bisect_right(self.starts(), position) - 1


def first_dash(text: str, node: yaml.SequenceNode) -> tuple[int, int]:
    """(line, column) of a non-empty block sequence's first `-`. The node's own start mark is
    there unless an anchor or a tag comes first (`containers: !!seq`), which it stands on."""
    first = node.value[0].start_mark
    dash = text.rfind("-", 0, first.index)
    line_start = text.rfind("\n", 0, dash) + 1
    # Counted back from the item's own line: counting from the start of the text made each
    # call cost the text's length, and a 50 MB stream quadratic.
    return first.line - text.count("\n", dash, first.index), dash - line_start


def detect_seq_indent(root: Node, text: str, default: int = 2) -> int:
    """How far this document's block sequences sit right of their key (kpt's "seqindent");
    `text` is what `root` was composed from."""
    stack = [root]
    seen: set[int] = set()  # an alias graph (`x: &a [*a]`) is walked once per node
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if (
                    isinstance(value_node, yaml.SequenceNode)
                    and value_node.value
                    and not value_node.flow_style
                    and first_dash(text, value_node)[0] > key_node.start_mark.line
                ):
                    indent: int = first_dash(text, value_node)[1] - key_node.start_mark.column
                    return max(0, indent)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return default
