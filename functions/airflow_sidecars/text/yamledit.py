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
insertions (yamlremove.py): `remove` after `inject` gives back the text as it was, line breaks
before closing brackets, trailing commas and comments included. The splices themselves, and
how they become the edited text, are yamlsplice.py's.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from airflow_sidecars.text import yamlemit
from airflow_sidecars.text.yamlread import Node, Path, UnsupportedYaml, dotted, is_null
from airflow_sidecars.text.yamlremove import Remover
from airflow_sidecars.text.yamlsplice import Loc
from airflow_sidecars.text.yamltext import first_dash


class Editor(Remover):
    """The edits planned on one text (append, insert, add a key, replace; remove, from
    Remover); `apply()` returns the edited text.

    Paths are walked from a root node: strings are mapping keys, ints sequence indices.
    """

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

    def _insert_key(self, loc: Loc, key: str, value: Any) -> None:
        node = loc.node
        assert isinstance(node, yaml.MappingNode)
        if node.flow_style or loc.in_flow:
            self._flow_insert(node, f"{yamlemit.flow(key)}: {yamlemit.flow(value)}")
        else:
            indent = node.value[0][0].start_mark.column
            lines = yamlemit.block_lines({key: value}, indent, self._seq_indent_near(loc))
            self.keep_last_value(node)
            self._insert_lines(self.lines.block_end(node), lines)

    def replace(self, root: Node, path: Path, value: Any) -> None:
        """Write `value` in place of the value at `path`."""
        self._depth = len(path)
        loc = self._resolve(root, path)
        if loc is None:
            raise UnsupportedYaml(f"{dotted(path)} does not exist")
        self._replace(loc, value)

    def entry_text(self, root: Node, path: Path) -> str | None:
        """The text that `replace` writes over when a mapping or a list takes the place of the
        value at `path` (None where there is none): `restore` writes it back over what was
        written there, which gives back the text as it was."""
        self._depth = len(path)
        loc = self._resolve(root, path)
        if loc is None:
            return None
        start, end = self._entry_span(loc)
        return self.text[start:end]

    def restore(self, root: Node, path: Path, text: str) -> None:
        """Write `text` (from entry_text) over the value at `path`, which inject wrote."""
        self._depth = len(path)
        loc = self._resolve(root, path)
        if loc is None:
            raise UnsupportedYaml(f"{dotted(path)} does not exist")
        start, end = self._entry_span(loc)
        self.splice(start, end, text)

    def _entry_span(self, loc: Loc) -> tuple[int, int]:
        """Where `_replace` writes a non-empty mapping or list over the node: a block
        collection to the start of the line after it, anything else its own text."""
        node = loc.node
        start, end = node.start_mark.index, node.end_mark.index
        block = isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value
        if block and not loc.in_flow:
            return start, self.lines.block_end(node)
        return start, end

    def _block_append(self, node: yaml.SequenceNode, loc: Loc, items: list[Any]) -> None:
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

    def _replace(self, loc: Loc, value: Any) -> None:
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
            end = self.lines.block_end(node)
            # the text ends without a line break after the node: neither does the new one
            tail = "\n" if self.text[end - 1 : end] == "\n" else ""
            self.splice(start, end, "\n".join([lines[0].lstrip(" "), *lines[1:]]) + tail)
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

    def _inline_empty(self, loc: Loc) -> bool:
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
