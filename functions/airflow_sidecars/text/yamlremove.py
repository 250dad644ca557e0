"""Removal: the exact inverse of the editor's insertions (yamledit.py).

`remove` after `inject` gives back the text as it was: a removed block entry takes its lines,
a removed flow entry the separator that was written with it, and an emptied flow collection
keeps its brackets and the spaces between them; line breaks before closing brackets,
trailing commas and comments stay where they were. Cuts that touch become one, so the order
of the removals does not matter. Apart from the insertions, which the Editor adds on top of
this, because every rule here answers one of theirs and is read against it.
"""

from __future__ import annotations

import yaml

from airflow_sidecars.text.yamlread import Node, Path, UnsupportedYaml, dotted
from airflow_sidecars.text.yamlsplice import Loc, Splicer


class Remover(Splicer):
    """The removals an Editor plans (`remove`, and the emptied values `replace` writes)."""

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

    def _spell_null(self, loc: Loc, spelled: str) -> bool:
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
