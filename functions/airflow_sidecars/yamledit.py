"""Byte-preserving edits of YAML text.

The design choice that everything else rests on: we never re-serialise a document. libyaml
parses the text into nodes that remember where they start and end; an edit is a splice of new
text at such a position (append after the last item of a sequence, add a key after the last
key of a mapping, replace one value). Every byte outside the splices - comments, quoting, key
order, blank lines, trailing spaces, orchestrator annotations - comes back as it came in, which
is stronger than a comment-preserving round trip and an order of magnitude faster (a
ruamel.yaml round trip of one render costs more than kustomize's whole run).

New content takes the indentation of the place it goes into (yamlemit.py). Inside flow
collections (and so in JSON input), and into an empty one on its key's line (`env: []`), new
content is written as JSON, which is valid YAML flow. Removal is the exact inverse of these
insertions: `remove` after `inject` gives back the text as it was, line breaks before closing
brackets, trailing commas and comments included.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, NamedTuple

import yaml

from . import yamlemit
from .yamlread import (
    Node,
    Path,
    UnsupportedYaml,
    dotted,
    is_null,
    mapping_get,
    mapping_key,
)
from .yamltext import TextLines, first_dash, line_break_at, lone_cr_as_lf


class _Loc(NamedTuple):
    node: Node
    key: Node | None  # the key node when `node` is a mapping value
    in_flow: bool  # `node` sits inside a flow collection


class _Splice(NamedTuple):
    start: int
    # Insertions at one position: the one deeper in the tree first (a mount appended to the
    # last container goes before a container appended to the list that holds it; an item
    # appended to the last list of a mapping before a key added to that mapping), then in order.
    depth: int
    order: int  # unique within an editor, so sorting never compares the fields below
    end: int
    text: str


class Editor:
    """Splices planned on one text; `apply()` returns the edited text.

    Paths are walked from a root node: strings are mapping keys, ints sequence indices.

    Text that ends its lines with `\r` (alone) or `\r\n` is edited as if they were `\n`
    (`text`, of the same length as the input, so node marks fit both); `apply` takes every
    unedited byte from the input as it came (`original`), and new text breaks its lines the way
    the line it goes into does.
    """

    def __init__(self, text: str, *, seq_indent: int = 2) -> None:
        self.original = text
        self.text = lone_cr_as_lf(text)
        self.seq_indent = seq_indent
        self._depth = 0  # tree depth of the text being written, for ordering (see _Splice)
        self._splices: list[_Splice] = []
        self.lines = TextLines(self.text)
        # (mapping node, key) -> what this editor added there so far, and the splices it took
        # (key None: everything written into an empty or null value)
        self._added: dict[tuple[int, str | None], tuple[Any, list[_Splice]]] = {}
        self._stripped: set[int] = set()  # block scalar headers made `-` (keep_last_value)
        # flow collection -> the indices removed from it so far, and the cuts that took them
        self._flow_removed: dict[int, tuple[set[int], list[_Splice]]] = {}

    @property
    def changed(self) -> bool:
        return bool(self._splices)

    # -- operations -------------------------------------------------------------------------

    def append(self, root: Node, path: Path, items: list[Any]) -> None:
        """Append `items` to the sequence at `path` (which may be null, `[]` or missing its
        last key: then the key is added to the parent mapping)."""
        if not items:
            return
        self._depth = len(path) + 1
        loc = self._resolve(root, path)
        if loc is None:
            self.add_key(root, path[:-1], str(path[-1]), items)
            return
        node = loc.node
        if isinstance(node, yaml.SequenceNode) and node.value:
            if node.flow_style or loc.in_flow:
                self._flow_insert(node, ", ".join(yamlemit.flow(item) for item in items))
            else:
                self._block_append(node, loc, items)
            return
        if self._inline_empty(loc):
            self._write_inside(node, ", ".join(yamlemit.flow(item) for item in items))
            return
        if isinstance(node, yaml.SequenceNode) or is_null(node):
            self._replace(loc, items)
            return
        raise UnsupportedYaml(f"{dotted(path)} is not a list")

    def insert(self, root: Node, path: Path, items: list[Any]) -> None:
        """Insert `items` before the sequence entry at `path` (a path ending in an index)."""
        if not items:
            return
        self._depth = len(path)
        *parent_path, index = path
        parent = self._resolve(root, tuple(parent_path))
        node = parent.node if parent is not None else None
        if not isinstance(node, yaml.SequenceNode) or not isinstance(index, int):
            raise UnsupportedYaml(f"{dotted(tuple(parent_path))} is not a list")
        entry = node.value[index]
        if node.flow_style or parent is None or parent.in_flow:
            text = "".join(yamlemit.flow(item) + ", " for item in items)
            self.splice(entry.start_mark.index, entry.start_mark.index, text)
            return
        dash = self.text.rfind("-", 0, entry.start_mark.index)
        lines: list[str] = []
        for item in items:
            lines += yamlemit.block_lines(
                [item], first_dash(self.text, node)[1], self._seq_indent_near(parent)
            )
        self._insert_lines(self.lines.start(dash), lines)

    def add_key(self, root: Node, path: Path, key: str, value: Any) -> None:
        """Add `key: value` at the end of the mapping at `path` (created when missing). Keys
        added to one mapping, or into one missing or empty value, are written together: two
        appends to `spec: {}` fill it once, and a missing parent is created once."""
        self._depth = len(path) + 1
        loc = self._resolve(root, path)
        if loc is None:
            if not path:
                raise UnsupportedYaml("the document is empty")
            self.add_key(root, path[:-1], str(path[-1]), {key: value})
            return
        node = loc.node
        if isinstance(node, yaml.MappingNode) and node.value:
            memo: tuple[int, str | None] = (id(node), key)
            new = value

            def write(content: Any) -> None:
                self._insert_key(loc, key, content)

        elif self._inline_empty(loc):
            memo, new = (id(node), None), {key: value}

            def write(content: Any) -> None:
                self._write_inside(
                    node,
                    ", ".join(
                        f"{yamlemit.flow(k)}: {yamlemit.flow(v)}" for k, v in content.items()
                    ),
                )

        elif isinstance(node, yaml.MappingNode) or is_null(node):
            memo, new = (id(node), None), {key: value}

            def write(content: Any) -> None:
                self._replace(loc, content)

        else:
            raise UnsupportedYaml(f"{dotted(path)} is not a mapping")
        earlier = self._added.get(memo)
        if earlier is not None:  # written here before in this run: write the union instead
            self._splices = [splice for splice in self._splices if splice not in earlier[1]]
            new = _union(earlier[0], new)
        before = len(self._splices)
        write(new)
        self._added[memo] = (new, self._splices[before:])

    def _insert_key(self, loc: _Loc, key: str, value: Any) -> None:
        node = loc.node
        assert isinstance(node, yaml.MappingNode)
        if node.flow_style or loc.in_flow:
            self._flow_insert(node, f"{yamlemit.flow(key)}: {yamlemit.flow(value)}")
        else:
            indent = node.value[0][0].start_mark.column
            lines = yamlemit.block_lines({key: value}, indent, self._seq_indent_near(loc))
            self.keep_last_value(node)
            self._insert_lines(self.lines.block_end(node), lines)

    def remove(self, root: Node, path: Path) -> None:
        """Remove the sequence entry (a path ending in an index) or the mapping key and its
        value (ending in a key) at `path`: its lines in a block collection, its text and one
        comma in a flow one. The last entry of a collection is not removed this way: the
        caller writes the emptied collection (`[]`, null) or removes its key."""
        self._depth = len(path)
        *parent_path, last = path
        parent = self._resolve(root, tuple(parent_path))
        node = parent.node if parent is not None else None
        entries: list[tuple[Node, Node]] = []
        if isinstance(node, yaml.SequenceNode):
            entries = [(entry, entry) for entry in node.value]
            index = last if isinstance(last, int) else -1
        elif isinstance(node, yaml.MappingNode):
            entries = [(key, value) for key, value in node.value]
            keys = [getattr(key, "value", None) for key, _ in entries]
            index = keys.index(last) if last in keys else -1
        if parent is None or not 0 <= index < len(entries) or len(entries) < 2:
            raise UnsupportedYaml(f"{dotted(path)} cannot be removed")
        if node is not None and (getattr(node, "flow_style", False) or parent.in_flow):
            self._flow_remove(node, entries, index)
            return
        first, final = entries[index]
        if (
            self._after_dash(first)
            and isinstance(node, yaml.MappingNode)
            and index + 1 < len(entries)
        ):
            # `- first: 1\n  second: 2`: the next key moves up onto the dash's line, where the
            # mapping's keys start (the same column as its own line's); see _cut
            self._cut(first.start_mark.index, self._line_of_entry(entries[index + 1][0], False))
            return
        start = self._line_of_entry(first, isinstance(node, yaml.SequenceNode))
        end = (
            self._line_of_entry(entries[index + 1][0], isinstance(node, yaml.SequenceNode))
            if index + 1 < len(entries)
            else self.lines.block_end(final)
        )
        self._cut(start, end)

    def _flow_remove(self, node: Node, entries: list[tuple[Node, Node]], index: int) -> None:
        """Remove a flow entry as the exact inverse of how inject wrote it: entries that end
        the collection go with the separator before them (append wrote `, entry` after the
        last one), the others with the separator after them (insert wrote `entry, ` before
        the one that follows). Every removal from one collection so far is cut again as runs
        of neighbours, so the order of the calls does not matter, and a line break, comment or
        trailing comma around the entries stays where it was."""
        removed, earlier = self._flow_removed.get(id(node), (set(), []))
        removed = removed | {index}
        self._splices = [splice for splice in self._splices if splice not in earlier]
        before = len(self._splices)
        runs: list[list[int]] = []
        for position in sorted(removed):
            if runs and runs[-1][-1] == position - 1:
                runs[-1].append(position)
            else:
                runs.append([position])
        for run in runs:
            first, last = run[0], run[-1]
            if last + 1 < len(entries):
                self.splice(
                    entries[first][0].start_mark.index, entries[last + 1][0].start_mark.index, ""
                )
            else:
                self.splice(
                    entries[first - 1][1].end_mark.index, entries[last][1].end_mark.index, ""
                )
        self._flow_removed[id(node)] = (removed, self._splices[before:])

    def _cut(self, start: int, end: int) -> None:
        """Remove text; cuts that overlap or touch become one (entries removed one after the
        other from a list are one stretch of text)."""
        for splice in [
            s for s in self._splices if s.text == "" and s.start <= end and start <= s.end
        ]:
            self._splices.remove(splice)
            start, end = min(start, splice.start), max(end, splice.end)
        text = self.text
        if end == len(text) and not text.endswith("\n") and start > 0 and text[start - 1] == "\n":
            start -= 1  # the text ended without a line break: so it still does (CR LF too)
            start -= start > 0 and text[start - 1] == "\r"
        if self._after_dash_at(start) and (end == 0 or text[end - 1] == "\n"):
            # the cut starts after a sequence entry's dash (its first key goes) and runs to a
            # line start: the key on that line moves up behind the dash, without its indent
            while end < len(text) and text[end] == " ":
                end += 1
        self.splice(start, end, "")

    def _after_dash(self, key: Node) -> bool:
        """Whether a block mapping's key follows the dash of its sequence entry on its line."""
        return self._after_dash_at(key.start_mark.index)

    def _after_dash_at(self, position: int) -> bool:
        before = self.text[self.lines.start(position) : position]
        return "-" in before and not before.replace("-", "").strip()

    def _line_of_entry(self, first: Node, in_sequence: bool) -> int:
        """The start of the line a block entry begins on (its dash, or its key), which nothing
        else may share."""
        at = (
            self.text.rfind("-", 0, first.start_mark.index)
            if in_sequence
            else (first.start_mark.index)
        )
        line_start = self.lines.start(at)
        if self.text[line_start:at].strip():
            raise UnsupportedYaml("an entry that shares its line cannot be removed")
        return line_start

    def replace(self, root: Node, path: Path, value: Any) -> None:
        """Write `value` in place of the value at `path`."""
        self._depth = len(path)
        loc = self._resolve(root, path)
        if loc is None:
            raise UnsupportedYaml(f"{dotted(path)} does not exist")
        self._replace(loc, value)

    def discard(self) -> None:
        """Forget every planned edit (validate plans like inject, then hands the input back)."""
        self._splices.clear()
        self._added.clear()
        self._stripped.clear()
        self._flow_removed.clear()

    def splice(self, start: int, end: int, text: str) -> None:
        """A raw splice, for callers that computed new text themselves."""
        self._splices.append(_Splice(start, -self._depth, len(self._splices), end, text))

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

    # -- helpers ----------------------------------------------------------------------------

    def _resolve(self, root: Node, path: Path) -> _Loc | None:
        loc = _Loc(root, None, False)
        for step in path:
            node = loc.node
            in_flow = loc.in_flow or bool(getattr(node, "flow_style", False))
            if isinstance(step, int):
                if not isinstance(node, yaml.SequenceNode) or step >= len(node.value):
                    return None
                loc = _Loc(node.value[step], None, in_flow)
            else:
                child = mapping_get(node, step)
                if child is None:
                    return None
                key_node = mapping_key(node, step)
                loc = _Loc(child, key_node, in_flow)
        return loc

    def _seq_indent_near(self, loc: _Loc) -> int:
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

    def _block_append(self, node: yaml.SequenceNode, loc: _Loc, items: list[Any]) -> None:
        dash_line, dash_col = first_dash(self.text, node)
        first = node.value[0]
        offset = 2
        if first.start_mark.line == dash_line:
            offset = max(2, first.start_mark.column - dash_col)
        seq_indent = self._seq_indent_near(loc)
        lines: list[str] = []
        for item in items:
            item_lines = yamlemit.block_lines([item], dash_col, seq_indent)
            # block_lines writes "- " + content at dash_col; keep the input's dash-to-content gap
            if offset != 2:
                item_lines = _regap(item_lines, dash_col, offset)
            lines += item_lines
        self.keep_last_value(node)
        self._insert_lines(self.lines.block_end(node), lines)

    def _replace(self, loc: _Loc, value: Any) -> None:
        """Write `value` over a node. One case per way a value can be written in YAML (block
        scalar, flow, block collection, an empty value after its key, a value on its own line),
        kept together because each decides where the old text ends and the new one starts."""
        node = loc.node
        start, end = node.start_mark.index, node.end_mark.index
        collection = isinstance(value, (dict, list)) and bool(value)
        if (
            value in ([], {})
            and isinstance(node, yaml.CollectionNode)
            and node.flow_style
            and node.value
            and isinstance(value, list) == isinstance(node, yaml.SequenceNode)
        ):
            self._empty_flow(node)
            return
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">") and not loc.in_flow:
            # A block scalar's text runs to the start of the line after it: the value goes on
            # the key's line, and that line keeps its end.
            text = yamlemit.flow(value) if collection else yamlemit.inline(value)
            self.splice(start, self.lines.block_end(node), text + "\n")
            return
        if loc.in_flow or (
            isinstance(node, yaml.CollectionNode) and node.flow_style and not collection
        ):
            self.splice(start, end, yamlemit.flow(value) if loc.in_flow else yamlemit.inline(value))
            return
        if not collection:
            if isinstance(value, yamlemit.Null) and self._spell_null(loc, value.spelled):
                return
            if (
                value is None
                and isinstance(node, yaml.CollectionNode)
                and not node.flow_style
                and loc.key is not None
                and node.start_mark.line > loc.key.start_mark.line
            ):
                # `key:` and nothing: null, as Helm renders an empty value (and as it was
                # before an append made a block of it)
                self._cut(self.lines.start(start), self.lines.block_end(node))
            elif (
                isinstance(node, yaml.CollectionNode)
                and not node.flow_style
                and loc.key is not None
                and node.start_mark.column <= loc.key.start_mark.column
            ):
                # an indentless block list (`key:\n- a`): a value on the next line must be
                # indented past its key, where the dash was not
                line_start = self.lines.start(start)
                text = " " * (loc.key.start_mark.column + 2) + yamlemit.inline(value) + "\n"
                self.splice(line_start, self.lines.block_end(node), text)
            elif isinstance(node, yaml.CollectionNode) and not node.flow_style:
                # a block collection becomes a scalar: cut its lines, write the value after the key
                self.splice(start, self.lines.block_end(node), yamlemit.inline(value) + "\n")
            else:
                self.splice(start, end, yamlemit.inline(value))
            return
        if isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
            indent = node.start_mark.column
            lines = yamlemit.block_lines(value, indent, self._seq_indent_near(loc))
            self.splice(
                start,
                self.lines.block_end(node),
                "\n".join([lines[0].lstrip(" "), *lines[1:]]) + "\n",
            )
            return
        if loc.key is None:  # `- []` or a root scalar: JSON keeps it one valid line
            self.splice(start, end, yamlemit.flow(value))
            return
        key_col = loc.key.start_mark.column
        indent = key_col + (self.seq_indent if isinstance(value, list) else 2)
        lines = yamlemit.block_lines(value, indent, self.seq_indent)
        line_start = self.lines.start(start)
        if node.start_mark.line == loc.key.start_mark.line or self.text[line_start:start].strip():
            # `key: []` / `key:` / `key: ~`: drop the token, the block follows the key's line
            if end > start:
                while start > 0 and self.text[start - 1] == " ":
                    start -= 1  # `key: []` becomes `key:`, not `key: `
                self.splice(start, end, "")
            self._insert_lines(self.lines.end(end), lines)
        else:
            # `key:\n    []` (the chart writes empty values like this): the block takes its line
            self.splice(line_start, end, "\n".join(lines))

    def _flow_insert(self, node: Node, entry: str) -> None:
        """Write `, entry` right after the last entry of a non-empty flow collection. What
        follows that entry stays after the new one as it was: a trailing comma, a comment, the
        line break before the closing bracket of a list laid out on several lines (JSON).
        Removing the entry again cuts exactly this text (`_flow_remove`)."""
        last = node.value[-1]
        last_end = (last[1] if isinstance(node, yaml.MappingNode) else last).end_mark.index
        self.splice(last_end, last_end, ", " + entry)

    def _inline_empty(self, loc: _Loc) -> bool:
        """Whether the node is an empty flow collection that new entries go inside of: in a
        flow collection (JSON), or written on its key's line (`volumeMounts: [ ]`). Its
        brackets and the spaces between them stay, so that taking the entries out again
        gives back the same text (`_empty_flow`). `key:` with `[]` on a line of its own, as
        Helm renders an empty list, becomes a block list instead: taking it back writes the
        `[]` on its line again."""
        node = loc.node
        if not isinstance(node, yaml.CollectionNode) or not node.flow_style or node.value:
            return False
        return loc.in_flow or loc.key is None or node.start_mark.line == loc.key.start_mark.line

    def _write_inside(self, node: Node, entries: str) -> None:
        """Write entries right after the opening bracket of an empty flow collection (a tag
        may come before it)."""
        bracket = "{" if isinstance(node, yaml.MappingNode) else "["
        position = self.text.index(bracket, node.start_mark.index) + 1
        if any(s.start == position == s.end and s.text for s in self._splices):
            entries = ", " + entries  # written into it before in this run: one more entry
        self.splice(position, position, entries)

    def _empty_flow(self, node: Node) -> None:
        """Take every entry out of a flow collection, and nothing else: the exact inverse of
        `_write_inside` (`[ ]` stays `[ ]`). A comma after the last entry goes with it: `[ , ]`
        is not YAML."""
        assert isinstance(node, yaml.CollectionNode)
        first, last = node.value[0], node.value[-1]
        start = (first[0] if isinstance(node, yaml.MappingNode) else first).start_mark.index
        end = (last[1] if isinstance(node, yaml.MappingNode) else last).end_mark.index
        close = node.end_mark.index - 1
        gap = [line.split("#", 1)[0] for line in self.text[end:close].split("\n")]
        if "," in gap[0]:
            end += gap[0].index(",") + 1
        elif any("," in line for line in gap):
            end = self.text.index(",", end) + 1
        self.splice(start, end, "")

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

    def _spell_null(self, loc: _Loc, spelled: str) -> bool:
        """A block collection on the lines after its key becomes `key: null` (as spelled)
        again: its lines cut, the token after the colon. False where the key's line holds
        more than the colon (a comment): the caller writes the null its own way."""
        node, key = loc.node, loc.key
        if key is None or not isinstance(node, yaml.CollectionNode) or node.flow_style:
            return False
        if node.start_mark.line <= key.start_mark.line:
            return False
        line_break = self.text.find("\n", key.end_mark.index)
        content_end = line_break - (self.text[line_break - 1] == "\r")
        if line_break < 0 or self.text[key.end_mark.index : content_end].strip() != ":":
            return False
        self._cut(self.lines.start(node.start_mark.index), self.lines.block_end(node))
        self.splice(content_end, content_end, " " + spelled)
        return True

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

    def splice_literal(self, node: Node, inner: Editor) -> None:
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


_INDICATOR = re.compile(r"^([|>])(\d)")


def _regap(lines: list[str], dash_col: int, offset: int) -> list[str]:
    """Re-indent one emitted item so its content sits `offset` columns after the dash. A block
    scalar that is the item itself counts its indentation indicator from the dash's column, so
    the indicator grows by the same shift as its lines."""
    indicator = _INDICATOR.match(lines[0][dash_col + 2 :])
    if indicator is not None and int(indicator.group(2)) + offset - 2 > 9:
        return lines  # an indicator has one digit: this item keeps the gap of 2, also valid
    shift = " " * (offset - 2)
    out = []
    for number, line in enumerate(lines):
        if number == 0:
            content = _INDICATOR.sub(
                lambda m: f"{m.group(1)}{int(m.group(2)) + offset - 2}", line[dash_col + 2 :]
            )
            out.append(line[: dash_col + 1] + " " + shift + content)
        elif line:
            out.append(shift + line)
        else:
            out.append(line)
    return out


def _union(earlier: Any, later: Any) -> Any:
    """Two additions to one place as one: mappings merged, lists joined."""
    if isinstance(earlier, dict) and isinstance(later, dict):
        merged = dict(earlier)
        for key, value in later.items():
            merged[key] = _union(merged[key], value) if key in merged else value
        return merged
    if isinstance(earlier, list) and isinstance(later, list):
        return [*earlier, *later]
    return later
