"""Reading YAML: parse a text into node trees, refuse what no Kubernetes object is, convert
to plain data, and query nodes.

Nodes are what the editor (yamledit.py) splices at: libyaml remembers where each starts and
ends in the text. Everything that reads input goes through here, so that the guards against
hostile input (nesting depth, aliases, merge keys, odd tags, a key twice) hold everywhere:
`load_one` is the one way to read a text that must hold exactly one plain document.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

Node = yaml.Node
Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_VALUE = "tag:yaml.org,2002:value"
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COLLECTION_TAGS: dict[type[Node], str] = {
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
    yaml.MappingNode: "tag:yaml.org,2002:map",
}


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader with a memo for implicit tags.

    libyaml calls back into Python to resolve the tag of every scalar; with the generic
    resolver that was a fifth of the parse time of a large render. Renders repeat
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
                tag = super().resolve(kind, value, implicit)
                # PyYAML's YAML 1.1 resolver tags a plain `=` as !!value (a "default value"
                # key that no one uses); Kubernetes (Go's yaml) and YAML 1.2 read the string.
                self._tags[value] = tag = _STR if tag == _VALUE else tag
            return tag
        return _COLLECTION_TAGS[kind]


class UnsupportedYaml(Exception):
    """YAML we do not read or edit: an alias, a merge key, an odd tag, a key twice, or a
    shape we do not write into. Reported under the rule `unsupported-yaml`."""


class InvalidYaml(UnsupportedYaml):
    """Text that is not YAML at all; `problem` is libyaml's words for it, with the line."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"{what} is not valid YAML: {problem}")
        self.problem = problem


class NotOneDocument(UnsupportedYaml):
    """A text that must hold one document holds none or several."""

    def __init__(self, what: str, count: int) -> None:
        super().__init__(f"{what} holds {count} YAML documents, not one")
        self.count = count


class Document(NamedTuple):
    node: Node
    data: Any


def load_one(text: str, what: str) -> Document:
    """The one document of `text` (empty documents do not count), as its node tree and as
    plain data. Raises InvalidYaml, NotOneDocument or UnsupportedYaml, each naming `what`."""
    try:
        documents = [doc for doc in compose_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise InvalidYaml(what, yaml_problem(error)) from None
    if len(documents) != 1:
        raise NotOneDocument(what, len(documents))
    return Document(documents[0], to_data(documents[0], what))


def entry_value(text: str, what: str) -> Any:
    """The value of a list entry's text as Editor.entry_text took it: its first line starts
    where the entry's content does, and the lines after it keep their indentation, so the
    first line is given theirs. Raises UnsupportedYaml (InvalidYaml) naming `what`."""
    later = [line for line in text.split("\n")[1:] if line.strip()[:1] not in ("", "#")]
    indent = min((len(line) - len(line.lstrip(" ")) for line in later), default=0)
    return load_one(" " * indent + text, what).data


def yaml_problem(error: yaml.YAMLError) -> str:
    """libyaml's words for what is wrong, and on which line."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    return f"{problem}, line {mark.line + 1}" if mark is not None else str(problem)


def compose_all(text: str) -> list[Node | None]:
    """Every document of a stream as a node tree (None for an empty document)."""
    return list(iter_documents(text))


def iter_documents(text: str) -> Iterator[Node | None]:
    """compose_all one document at a time: a caller that keeps little of each document never
    holds the node trees of the whole stream at once."""
    check_depth(text)
    return yaml.compose_all(text, Loader=_Loader)


def compose_span(text: str, start: int, end: int, line: int) -> Node:
    """The node tree of the document whose root mapping spans text[start:end], with its marks
    where they are in `text`: `start` begins line `line`, so columns need no change. The
    caller has composed the whole stream once (its depth bound held) and it has no
    directives, so the document alone reads as it did in the stream."""
    root = yaml.compose(text[start:end], Loader=_Loader)
    assert root is not None  # the span holds the mapping it held in the stream
    stack = [root]
    seen: set[int] = set()  # an alias shares a node: move its marks once
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        node.start_mark = _moved(node.start_mark, start, line)
        node.end_mark = _moved(node.end_mark, start, line)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack += (key_node, value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return root


def _moved(mark: Any, start: int, line: int) -> yaml.Mark:
    # No name, buffer or pointer: the marks of the stream's own trees have none either.
    return yaml.Mark(None, mark.index + start, mark.line + line, mark.column, None, None)  # type: ignore[arg-type]


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


def mapping_pairs(node: Node | None) -> list[tuple[Node, Node]]:
    """A mapping's (key, value) nodes; none for anything else (a list where a mapping belongs
    has entries, not pairs)."""
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


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


def to_data(node: Node, what: str = "the document") -> Any:
    """The plain value of a node tree (dicts, lists, scalars). UnsupportedYaml, naming `what`,
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
    """The checks of check_plain_tree and the conversion of to_data in one recursive walk.
    Long on purpose: it visits every node of every object that is edited or checked, which
    makes it the hottest loop of a run, and one walk instead of two halves its cost."""
    if id(node) in seen:
        raise UnsupportedYaml(f"{what} uses YAML anchors and aliases; write it out in full")
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
                raise UnsupportedYaml(f"{what} uses a YAML merge key (<<); write it out in full")
            if not isinstance(key_node, yaml.ScalarNode):
                raise UnsupportedYaml(
                    f"{what} has a mapping key that is not a string (line "
                    f"{key_node.start_mark.line + 1}), which a Kubernetes object cannot have"
                )
            key = _plain(key_node, what, seen, convert=True)
            if key in mapping:
                raise UnsupportedYaml(
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
        raise UnsupportedYaml(
            f"{what} has {node.value!r} tagged !!{kind} (line {node.start_mark.line + 1}), "
            "which it is not"
        ) from None


def _tag_error(what: str, tag: str, node: Node) -> UnsupportedYaml:
    line = node.start_mark.line + 1
    return UnsupportedYaml(
        f"{what} uses the tag {tag!r} (line {line}), which a Kubernetes object cannot have"
        + (" here" if tag in PLAIN_TAGS else "")
    )


def dotted(path: Path) -> str:
    """A path as people write it: `spec.template.spec.containers[0]` ("." for the root)."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "."


def what_it_is(value: Any) -> str:
    """What a value is, in words, for messages (`the int 5`, `a mapping`, `null`)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else f"the {type(value).__name__} {value!r}"
