"""The splices planned on one text, and the edited text they make.

An edit of a YAML text is planned as splices: new text at a position of the text as it came,
or in place of a stretch of it. A Splicer keeps them and applies them in the order of their
positions. It also holds what the editor's operations share: the node a path names, where new
lines go, the `-` header of a last block scalar that text will follow, and the splices planned
on an embedded text carried into the outer one (splice_literal). What the operations write is
yamledit.py's and yamlremove.py's: this is the ground they stand on, apart from them so that
each of those reads as what it writes.
"""

from __future__ import annotations

import bisect
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.text import yamlemit
from airflow_sidecars.text.yamlread import Node, Path, UnsupportedYaml, mapping_get, mapping_key
from airflow_sidecars.text.yamltext import TextLines, first_dash, line_break_at, lone_cr_as_lf


class Loc(NamedTuple):
    node: Node
    key: Node | None  # the key node when `node` is a mapping value
    in_flow: bool  # `node` sits inside a flow collection


class Splice(NamedTuple):
    start: int
    # Insertions at one position: the one deeper in the tree first (a mount appended to the
    # last container goes before a container appended to the list that holds it; an item
    # appended to the last list of a mapping before a key added to that mapping), then in order.
    depth: int
    order: int  # unique within an editor, so sorting never compares the fields below
    end: int
    text: str


class Splicer:
    """Splices planned on one text; `apply()` returns the edited text.

    Text that ends its lines with `\r` (alone) or `\r\n` is edited as if they were `\n`
    (`text`, of the same length as the input, so node marks fit both); `apply` takes every
    unedited byte from the input as it came (`original`), and new text breaks its lines the way
    the line it goes into does.
    """

    def __init__(self, text: str, *, seq_indent: int = 2) -> None:
        self.original = text
        self.text = lone_cr_as_lf(text)
        self.seq_indent = seq_indent
        self._depth = 0  # tree depth of the text being written, for ordering (see Splice)
        self._splices: list[Splice] = []
        self.lines = TextLines(self.text)
        # (mapping node, key) -> what this editor added there so far, and the splices it took
        # (key None: everything written into an empty or null value)
        self._added: dict[tuple[int, str | None], tuple[Any, list[Splice]]] = {}
        self._stripped: set[int] = set()  # block scalar headers made `-` (keep_last_value)
        # flow collection -> the indices removed from it so far, and the cuts that took them
        self._flow_removed: dict[int, tuple[set[int], list[Splice]]] = {}

    @property
    def changed(self) -> bool:
        return bool(self._splices)

    def discard(self) -> None:
        """Forget every planned edit (validate plans like inject, then hands the input back)."""
        self._splices.clear()
        self._added.clear()
        self._stripped.clear()
        self._flow_removed.clear()

    def splice(self, start: int, end: int, text: str) -> None:
        """A raw splice, for callers that computed new text themselves."""
        self._splices.append(Splice(start, -self._depth, len(self._splices), end, text))

    def splices(self) -> list[tuple[int, int, str]]:
        return [(s.start, s.end, s.text) for s in sorted(self._splices)]

    def apply(self) -> str:
        """The text with every splice applied (splices at one position keep their order)."""
        if not self._splices:
            return self.original
        parts: list[str] = []
        cursor = 0
        original = self.original
        own_breaks = "\r" in original
        for splice in sorted(self._splices):
            if splice.start < cursor:
                raise UnsupportedYaml("internal: two edits overlap")
            text = splice.text
            if own_breaks and "\n" in text:
                text = text.replace("\n", line_break_at(original, splice.start))
            parts += [original[cursor : splice.start], text]
            cursor = splice.end
        parts.append(original[cursor:])
        return "".join(parts)

    def _resolve(self, root: Node, path: Path) -> Loc | None:
        loc = Loc(root, None, False)
        for step in path:
            node = loc.node
            in_flow = loc.in_flow or bool(getattr(node, "flow_style", False))
            if isinstance(step, int):
                if not isinstance(node, yaml.SequenceNode) or step >= len(node.value):
                    return None
                loc = Loc(node.value[step], None, in_flow)
            else:
                child = mapping_get(node, step)
                if child is None:
                    return None
                key_node = mapping_key(node, step)
                loc = Loc(child, key_node, in_flow)
        return loc

    def _seq_indent_near(self, loc: Loc) -> int:
        node = loc.node
        if (
            isinstance(node, yaml.SequenceNode)
            and node.value
            and loc.key is not None
            and not node.flow_style
        ):
            line, column = first_dash(self.text, node)
            if line > loc.key.start_mark.line:
                return max(0, column - loc.key.start_mark.column)
        return self.seq_indent

    def _insert_lines(self, position: int, lines: list[str]) -> None:
        block = "\n".join(lines) + "\n"
        if position > 0 and self.text[position - 1] != "\n":  # the text ends without a newline
            block = "\n" + block[:-1]
        self.splice(position, position, block)

    def keep_last_value(self, node: Node) -> None:
        """Text is about to follow `node`, whose text ends the input without a line break. If
        its last value is a literal or folded block scalar, the line break that text needs
        would become part of that value (clip and keep chomping): its header says `-` (strip)
        instead, which reads the same value."""
        text = self.text
        if not text or text.endswith("\n"):
            return
        leaf = node
        while isinstance(leaf, yaml.CollectionNode) and leaf.value and not leaf.flow_style:
            last = leaf.value[-1]
            leaf = last[1] if isinstance(leaf, yaml.MappingNode) else last
        if (
            not isinstance(leaf, yaml.ScalarNode)
            or leaf.style not in ("|", ">")
            or leaf.end_mark.index < len(text.rstrip(" \t"))
        ):
            return
        start = leaf.start_mark.index + 1  # after `|` or `>`
        end = start
        while end < len(text) and text[end] in "+-0123456789":
            end += 1
        if "-" not in text[start:end] and start not in self._stripped:
            self._stripped.add(start)
            digits = "".join(c for c in text[start:end] if c.isdigit())
            self.splice(start, end, "-" + digits)

    def _indicated_indent(self, header_start: int, header: str) -> int | None:
        """The content indentation a block scalar's indentation indicator (`|2-`) sets: the
        key's indentation plus the digit, where the key starts its line (`  key: |2`); None
        without an indicator, or where the key follows a dash."""
        digits = [ch for ch in header if ch.isdigit()]
        line = self.text[self.lines.start(header_start) : header_start]
        key_indent = len(line) - len(line.lstrip(" "))
        if len(digits) != 1 or line.lstrip(" ").startswith("-"):
            return None
        return key_indent + int(digits[0])

    def splice_literal(self, node: Node, inner: Splicer) -> None:
        """Carry the edits planned on the text of a literal block scalar (`|`) into the outer text,
        line by line, so that the embedded document keeps its comments and spacing too (the
        KubernetesExecutor pod template is such a string inside a ConfigMap). A literal block
        that is not plain (an indentation indicator) is written as one quoted line instead.
        The position mapping is a closure: it is only meaningful for this pair of texts."""
        if not inner.changed:
            return
        header_end = self.lines.end(node.start_mark.index)
        header = self.text[node.start_mark.index : header_end].split("#", 1)[0]
        body_lines = self.text[header_end : node.end_mark.index].split("\n")
        indents = [len(line) - len(line.lstrip(" ")) for line in body_lines if line.strip()]
        indicated = self._indicated_indent(node.start_mark.index, header)
        if indicated is not None:
            indents = [indicated]  # the content's indentation, whatever its first line's
        if (
            getattr(node, "style", None) != "|"
            or not indents
            or (indicated is None and any(ch.isdigit() for ch in header))
        ):
            # Not a plain literal block: one double-quoted line is always valid in place.
            end = node.end_mark.index
            ends_line = end > 0 and self.text[end - 1] == "\n"
            self.splice(
                node.start_mark.index,
                end,
                yamlemit.flow(inner.apply()) + ("\n" if ends_line else ""),
            )
            return
        indent = indents[0]
        pad = " " * indent
        first_line = self.lines.number(header_end)
        inner_starts = inner.lines.starts()
        outer_starts = self.lines.starts()

        def outer_position(position: int) -> tuple[int, bool]:
            line = bisect.bisect_right(inner_starts, position) - 1
            column = position - inner_starts[line]
            start = (
                outer_starts[first_line + line]
                if first_line + line < len(outer_starts)
                else len(self.text)
            )
            return (start + indent + column, False) if column else (start, True)

        for start, end, text in inner.splices():
            outer_start, at_line_start = outer_position(start)
            outer_end = outer_position(end)[0] if end != start else outer_start
            lines = text.split("\n")
            padded = [
                pad + line if line and (number or at_line_start) else line
                for number, line in enumerate(lines)
            ]
            self.splice(outer_start, outer_end, "\n".join(padded))
