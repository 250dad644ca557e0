"""Byte-preserving edits of YAML text.

The design choice that everything else rests on: we never re-serialise a document. libyaml
parses the text into nodes that remember where they start and end; an edit is a splice of new
text at such a position (append after the last item of a sequence, add a key after the last
key of a mapping, replace one value). Every byte outside the splices - comments, quoting, key
order, blank lines, trailing spaces, orchestrator annotations - comes back as it came in, which
is stronger than a comment-preserving round trip and an order of magnitude faster (see
docs of issue #3: a ruamel.yaml round trip of one render costs more than kustomize's whole run).

New content takes the indentation of the place it goes into (yamlemit.py). Inside flow
collections (and so in JSON input) new content is written as JSON, which is valid YAML flow.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from typing import Any, NamedTuple

import yaml

from . import yamlemit

Node = yaml.Node
Path = tuple[str | int, ...]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COLLECTION_TAGS: dict[type[Node], str] = {
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
    yaml.MappingNode: "tag:yaml.org,2002:map",
}


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader with a memo for implicit tags.

    libyaml calls back into Python to resolve the tag of every scalar; with the generic
    resolver that was a fifth of the parse time of a large render (issue #3). Renders repeat
    the same plain scalars (keys, `name`, `true`) thousands of times, so each distinct value
    is resolved once, by the safe resolver itself, so that the tags stay exactly its tags.
    The safe loader has no path resolvers, which makes the descend/ascend hooks no-ops.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[str, str] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
            tag = self._tags.get(value)
            if tag is None:
                tag = self._tags[value] = super().resolve(kind, value, implicit)
            return tag
        return _COLLECTION_TAGS[kind]


class YamlEditError(Exception):
    """The text cannot be edited in place (an alias, a merge key, a shape we do not write into)."""


def compose_all(text: str) -> list[Node | None]:
    """Every document of a stream as a node tree (None for an empty document)."""
    check_depth(text)
    return list(yaml.compose_all(text, Loader=_Loader))


# Kubernetes objects nest a few dozen levels at most (a CRD's schema perhaps a hundred). Far
# deeper input is hostile: libyaml's composer recurses in C and crashes the process at some
# ten thousand levels, and Python's recursion limit stops the data conversion long before.
MAX_DEPTH = 200


def check_depth(text: str) -> None:
    """Raise a YAML error at the first node nested deeper than MAX_DEPTH.

    A cheap bound comes first: each level of nesting needs a flow bracket or more leading
    indentation, dashes or `? `/`: ` on its line (a block sequence may share its key's
    indentation, hence twice the lead). A document whose count of `[`/`{` plus twice its
    deepest line lead stays under the limit cannot nest deeper; that takes string counts and
    a regex search per document, at C speed. Only documents that fail the bound are walked by
    libyaml's event parser, which does not recurse."""
    if _within_bound(text, 0, len(text)):
        return
    for start, end in itertools.pairwise(_document_starts(text)):
        if end > start and not _within_bound(text, start, end):
            _walk_depth(text[start:end], text.count("\n", 0, start))


def _document_starts(text: str) -> list[int]:
    """0, the start of each `---` document marker line, and the end of the text."""
    starts = [0]
    position = text.find("\n---")
    while position >= 0:
        after = text[position + 4 : position + 5]
        if after in ("", " ", "\t", "\n", "\r"):
            starts.append(position + 1)
        position = text.find("\n---", position + 4)
    starts.append(len(text))
    return starts


def _within_bound(text: str, start: int, end: int) -> bool:
    budget = MAX_DEPTH - text.count("[", start, end) - text.count("{", start, end)
    # brackets + 2 * (lead + 1) <= MAX_DEPTH  <=>  every line lead < budget // 2
    if budget < 2:
        return False
    first_line, other_lines = _leads_of_at_least(budget // 2)
    # Other lines are found from their newline: a literal first character keeps re fast.
    return (
        first_line.match(text, start, end) is None and other_lines.search(text, start, end) is None
    )


@functools.cache
def _leads_of_at_least(length: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    lead = rf"[ ?:-]{{{length},}}"
    return re.compile(lead), re.compile("\n" + lead)


class TooDeep(yaml.YAMLError):
    """Input nested deeper than MAX_DEPTH (shaped like libyaml's own errors for messages)."""

    def __init__(self, line: int, column: int) -> None:
        self.problem = f"nested deeper than {MAX_DEPTH} levels, which no Kubernetes object is"
        self.problem_mark = _Where(line, column)
        self.context = None
        super().__init__(f"line {line + 1}, column {column + 1}: {self.problem}")


class _Where(NamedTuple):
    line: int
    column: int


def _walk_depth(document: str, first_line: int) -> None:
    depth = 0
    for event in yaml.parse(document, Loader=_BaseLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                line, column = (mark.line, mark.column) if mark is not None else (0, 0)
                raise TooDeep(first_line + line, column)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _PlainConstructor(yaml.constructor.SafeConstructor):
    """JSON-shaped data: timestamps stay strings, as Kubernetes and jsonschema see them."""


_PlainConstructor.add_constructor(
    "tag:yaml.org,2002:timestamp",
    yaml.constructor.SafeConstructor.construct_yaml_str,  # type: ignore[type-var]
)


def mapping_get(node: Node | None, key: str) -> Node | None:
    """The value node under `key`, or None when `node` is not a mapping or has no such key."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found: Node = value_node
            return found
    return None


def mapping_key(node: Node, key: str) -> Node | None:
    """The key node of `key` in a mapping node."""
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node
    return None


def node_at(node: Node | None, path: Path) -> Node | None:
    """The node at a path of mapping keys (str) and sequence indices (int), or None."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, yaml.SequenceNode) or step >= len(node.value):
                return None
            node = node.value[step]
        else:
            node = mapping_get(node, step)
    return node


def scalar_at(node: Node | None, *path: str) -> str | None:
    """The string at a path of mapping keys, or None."""
    node = node_at(node, path)
    if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return str(node.value)
    return None


def is_null(node: Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


# The tags a Kubernetes object can carry: JSON's types (and timestamps, read as strings).
PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("null", "bool", "int", "float", "str", "timestamp", "map", "seq")
)


_SCALAR = _PlainConstructor()
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


def to_data(node: Node, what: str = "the document") -> Any:
    """The plain value of a node tree (dicts, lists, scalars). YamlEditError, naming `what`,
    for anything that is not a plain tree (check_plain_tree)."""
    return _plain(node, what, set(), convert=True)


def check_plain_tree(node: Node, what: str) -> None:
    """Refuse trees we cannot edit in place or read as JSON-shaped data:
    - anchors/aliases and merge keys: editing one place would change another (or nothing),
      and expanding them is how alias bombs blow up memory; a node met twice ends the walk,
      so no alias graph (a recursive one included) is walked further;
    - a key twice in one mapping: YAML forbids it, and readers disagree on which one wins;
      a key that is not a scalar: JSON has none;
    - other tags (`!!python/object`, `!!binary`, `!custom`), a tag that does not fit its node
      (`!!str` on a mapping) or its value (`!!int abc`): nothing is ever constructed."""
    _plain(node, what, set(), convert=False)


def _plain(node: Node, what: str, seen: set[int], *, convert: bool) -> Any:
    if id(node) in seen:
        raise YamlEditError(f"{what} uses YAML anchors and aliases; write it out in full")
    seen.add(id(node))
    tag = node.tag
    if tag == _STR and isinstance(node, yaml.ScalarNode):
        return node.value  # by far the commonest node: what the constructor would return
    if isinstance(node, yaml.MappingNode):
        if tag != _MAP:
            raise _tag_error(what, tag, node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise YamlEditError(f"{what} uses a YAML merge key (<<); write it out in full")
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlEditError(
                    f"{what} has a mapping key that is not a string (line "
                    f"{key_node.start_mark.line + 1}), which a Kubernetes object cannot have"
                )
            key = _plain(key_node, what, seen, convert=True)
            if key in mapping:
                raise YamlEditError(
                    f"{what} has the key {key_node.value!r} twice in one mapping "
                    f"(line {key_node.start_mark.line + 1}); YAML forbids it and readers "
                    "disagree on which wins"
                )
            mapping[key] = _plain(value_node, what, seen, convert=convert)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        if tag != _SEQ:
            raise _tag_error(what, tag, node)
        return [_plain(entry, what, seen, convert=convert) for entry in node.value]
    if tag not in PLAIN_TAGS or tag in (_MAP, _SEQ, _STR):
        raise _tag_error(what, tag, node)
    try:
        return _SCALAR.yaml_constructors[tag](_SCALAR, node)
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, yaml.YAMLError):
        kind = tag.rsplit(":", 1)[-1]
        raise YamlEditError(
            f"{what} has {node.value!r} tagged !!{kind} (line {node.start_mark.line + 1}), "
            "which it is not"
        ) from None


def _tag_error(what: str, tag: str, node: Node) -> YamlEditError:
    line = node.start_mark.line + 1
    return YamlEditError(
        f"{what} uses the tag {tag!r} (line {line}), which a Kubernetes object cannot have"
        + (" here" if tag in PLAIN_TAGS else "")
    )


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
    """

    def __init__(self, text: str, *, seq_indent: int = 2) -> None:
        self.text = text
        self.seq_indent = seq_indent
        self._depth = 0  # tree depth of the text being written, for ordering (see _Splice)
        self._splices: list[_Splice] = []
        self._line_starts: list[int] | None = None
        # (mapping node, key) -> what this editor added there so far, and the splices it took
        # (key None: everything written into an empty or null value)
        self._added: dict[tuple[int, str | None], tuple[Any, list[_Splice]]] = {}
        self._stripped: set[int] = set()  # block scalar headers made `-` (keep_last_value)

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
        if isinstance(node, yaml.SequenceNode) or is_null(node):
            self._replace(loc, items)
            return
        raise YamlEditError(f"{_dotted(path)} is not a list")

    def insert(self, root: Node, path: Path, items: list[Any]) -> None:
        """Insert `items` before the sequence entry at `path` (a path ending in an index)."""
        if not items:
            return
        self._depth = len(path)
        *parent_path, index = path
        parent = self._resolve(root, tuple(parent_path))
        node = parent.node if parent is not None else None
        if not isinstance(node, yaml.SequenceNode) or not isinstance(index, int):
            raise YamlEditError(f"{_dotted(tuple(parent_path))} is not a list")
        entry = node.value[index]
        if node.flow_style or parent is None or parent.in_flow:
            text = "".join(yamlemit.flow(item) + ", " for item in items)
            self.splice(entry.start_mark.index, entry.start_mark.index, text)
            return
        dash = self.text.rfind("-", 0, entry.start_mark.index)
        lines: list[str] = []
        for item in items:
            lines += yamlemit.block_lines(
                [item], _first_dash(self.text, node)[1], self._seq_indent_near(parent)
            )
        self._insert_lines(self._line_start(dash), lines)

    def add_key(self, root: Node, path: Path, key: str, value: Any) -> None:
        """Add `key: value` at the end of the mapping at `path` (created when missing). Keys
        added to one mapping, or into one missing or empty value, are written together: two
        appends to `spec: {}` fill it once, and a missing parent is created once."""
        self._depth = len(path) + 1
        loc = self._resolve(root, path)
        if loc is None:
            if not path:
                raise YamlEditError("the document is empty")
            self.add_key(root, path[:-1], str(path[-1]), {key: value})
            return
        node = loc.node
        if isinstance(node, yaml.MappingNode) and node.value:
            memo: tuple[int, str | None] = (id(node), key)
            new = value

            def write(content: Any) -> None:
                self._insert_key(loc, key, content)

        elif isinstance(node, yaml.MappingNode) or is_null(node):
            memo, new = (id(node), None), {key: value}

            def write(content: Any) -> None:
                self._replace(loc, content)

        else:
            raise YamlEditError(f"{_dotted(path)} is not a mapping")
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
            self._insert_lines(self._after(node), lines)

    def replace(self, root: Node, path: Path, value: Any) -> None:
        """Write `value` in place of the value at `path`."""
        self._depth = len(path)
        loc = self._resolve(root, path)
        if loc is None:
            raise YamlEditError(f"{_dotted(path)} does not exist")
        self._replace(loc, value)

    def discard(self) -> None:
        """Forget every planned edit (validate plans like inject, then hands the input back)."""
        self._splices.clear()
        self._added.clear()
        self._stripped.clear()

    def splice(self, start: int, end: int, text: str) -> None:
        """A raw splice, for callers that computed new text themselves."""
        self._splices.append(_Splice(start, -self._depth, len(self._splices), end, text))

    def splices(self) -> list[tuple[int, int, str]]:
        return [(s.start, s.end, s.text) for s in sorted(self._splices)]

    def apply(self) -> str:
        """The text with every splice applied (splices at one position keep their order)."""
        if not self._splices:
            return self.text
        parts: list[str] = []
        cursor = 0
        for splice in sorted(self._splices):
            if splice.start < cursor:
                raise YamlEditError("internal: two edits overlap")
            parts += [self.text[cursor : splice.start], splice.text]
            cursor = splice.end
        parts.append(self.text[cursor:])
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
            line, column = _first_dash(self.text, node)
            if line > loc.key.start_mark.line:
                return max(0, column - loc.key.start_mark.column)
        return self.seq_indent

    def _block_append(self, node: yaml.SequenceNode, loc: _Loc, items: list[Any]) -> None:
        dash_line, dash_col = _first_dash(self.text, node)
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
        self._insert_lines(self._after(node), lines)

    def _replace(self, loc: _Loc, value: Any) -> None:
        node = loc.node
        start, end = node.start_mark.index, node.end_mark.index
        collection = isinstance(value, (dict, list)) and bool(value)
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">") and not loc.in_flow:
            # A block scalar's text runs to the start of the line after it: the value goes on
            # the key's line, and that line keeps its end.
            text = yamlemit.flow(value) if collection else yamlemit.inline(value)
            self.splice(start, self._after(node), text + "\n")
            return
        if loc.in_flow or (
            isinstance(node, yaml.CollectionNode) and node.flow_style and not collection
        ):
            self.splice(start, end, yamlemit.flow(value) if loc.in_flow else yamlemit.inline(value))
            return
        if not collection:
            if isinstance(node, yaml.CollectionNode) and not node.flow_style:
                # a block collection becomes a scalar: cut its lines, write the value after the key
                self.splice(start, self._after(node), yamlemit.inline(value) + "\n")
            else:
                self.splice(start, end, yamlemit.inline(value))
            return
        if isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
            indent = node.start_mark.column
            lines = yamlemit.block_lines(value, indent, self._seq_indent_near(loc))
            self.splice(
                start, self._after(node), "\n".join([lines[0].lstrip(" "), *lines[1:]]) + "\n"
            )
            return
        if loc.key is None:  # `- []` or a root scalar: JSON keeps it one valid line
            self.splice(start, end, yamlemit.flow(value))
            return
        key_col = loc.key.start_mark.column
        indent = key_col + (self.seq_indent if isinstance(value, list) else 2)
        lines = yamlemit.block_lines(value, indent, self.seq_indent)
        line_start = self._line_start(start)
        if node.start_mark.line == loc.key.start_mark.line or self.text[line_start:start].strip():
            # `key: []` / `key:` / `key: ~`: drop the token, the block follows the key's line
            if end > start:
                while start > 0 and self.text[start - 1] == " ":
                    start -= 1  # `key: []` becomes `key:`, not `key: `
                self.splice(start, end, "")
            self._insert_lines(self._line_end(end), lines)
        else:
            # `key:\n    []` (the chart writes empty values like this): the block takes its line
            self.splice(line_start, end, "\n".join(lines))

    def _flow_insert(self, node: Node, entry: str) -> None:
        close = node.end_mark.index - 1
        before = self.text[node.start_mark.index + 1 : close].rstrip()
        separator = "" if before.endswith(",") else ", "
        self.splice(close, close, separator + entry)

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

    def _after(self, node: Node) -> int:
        """Where the text of a block node ends: the start of the line after its last content
        (so a trailing comment on that line stays with it)."""
        leaf = node
        while isinstance(leaf, yaml.CollectionNode) and leaf.value and not leaf.flow_style:
            last = leaf.value[-1]
            leaf = last[1] if isinstance(leaf, yaml.MappingNode) else last
        end = leaf.end_mark.index
        if isinstance(leaf, yaml.ScalarNode) and leaf.style in ("|", ">") and self._keeps(leaf):
            return self._line_start(end) if end < len(self.text) else end
        position = end
        while position > leaf.start_mark.index and self.text[position - 1] in " \t\r\n":
            position -= 1
        return self._line_end(position)

    def _keeps(self, node: Node) -> bool:
        header = self.text[node.start_mark.index : self._line_end(node.start_mark.index)]
        return "+" in header.split("#", 1)[0]

    def _line_end(self, position: int) -> int:
        """The start of the next line (or the end of the text)."""
        newline = self.text.find("\n", position)
        return len(self.text) if newline < 0 else newline + 1

    def _line_start(self, position: int) -> int:
        return self.text.rfind("\n", 0, position) + 1

    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            starts = [0]
            find = self.text.find
            position = find("\n")
            while position >= 0:
                starts.append(position + 1)
                position = find("\n", position + 1)
            self._line_starts = starts
        return self._line_starts

    def line_of(self, position: int) -> int:
        return bisect.bisect_right(self.line_starts(), position) - 1


def splice_literal(outer: Editor, node: Node, inner: Editor) -> None:
    """Carry the edits planned on the text of a literal block scalar (`|`) into the outer text,
    line by line, so that the embedded document keeps its comments and spacing too (the
    KubernetesExecutor pod template is such a string inside a ConfigMap)."""
    if not inner.changed:
        return
    header_end = outer._line_end(node.start_mark.index)
    header = outer.text[node.start_mark.index : header_end].split("#", 1)[0]
    body_lines = outer.text[header_end : node.end_mark.index].split("\n")
    indents = [len(line) - len(line.lstrip(" ")) for line in body_lines if line.strip()]
    if getattr(node, "style", None) != "|" or any(ch.isdigit() for ch in header) or not indents:
        # Not a plain literal block: one double-quoted line is always valid in place.
        end = node.end_mark.index
        ends_line = end > 0 and outer.text[end - 1] == "\n"
        outer.splice(
            node.start_mark.index, end, yamlemit.flow(inner.apply()) + ("\n" if ends_line else "")
        )
        return
    indent = indents[0]
    pad = " " * indent
    first_line = outer.line_of(header_end)
    inner_starts = inner.line_starts()
    outer_starts = outer.line_starts()

    def outer_position(position: int) -> tuple[int, bool]:
        line = bisect.bisect_right(inner_starts, position) - 1
        column = position - inner_starts[line]
        start = (
            outer_starts[first_line + line]
            if first_line + line < len(outer_starts)
            else len(outer.text)
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
        outer.splice(outer_start, outer_end, "\n".join(padded))


def _regap(lines: list[str], dash_col: int, offset: int) -> list[str]:
    """Re-indent one emitted item so its content sits `offset` columns after the dash."""
    shift = " " * (offset - 2)
    out = []
    for number, line in enumerate(lines):
        if number == 0:
            out.append(line[: dash_col + 1] + " " + shift + line[dash_col + 2 :])
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


def _first_dash(text: str, node: yaml.SequenceNode) -> tuple[int, int]:
    """(line, column) of a non-empty block sequence's first `-`. The node's own start mark is
    there unless an anchor or a tag comes first (`containers: !!seq`), which it stands on."""
    dash = text.rfind("-", 0, node.value[0].start_mark.index)
    line_start = text.rfind("\n", 0, dash) + 1
    return text.count("\n", 0, dash), dash - line_start


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
                    and _first_dash(text, value_node)[0] > key_node.start_mark.line
                ):
                    indent: int = _first_dash(text, value_node)[1] - key_node.start_mark.column
                    return max(0, indent)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return default


def _dotted(path: Path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out or "."


dotted = _dotted
