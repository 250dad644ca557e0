"""Reading the input: texts in, an Input of items out, in KRM mode or stream mode (§1.1).

Rules from docs/krm-contract.md that this module carries:
- Any `config.kubernetes.io/*` ResourceList version is read (kyaml does not check it), and the
  Input keeps it so that the answer uses the version that came in (§1.1). A `kind: List`
  with a `functionConfig` is read the same way.
- A `kind: List` without one is what `kubectl get -o yaml|json` prints: in stream mode each
  such List document is read as its items, in order, each an item like a document's object
  (one document may so hold many items), and the List comes back as it came, with no results
  in it. A List without a list of objects in `items` is refused, naming the List and the item.
- Every item is read, in order (§1.5), each with its source and position, so that every one
  comes back (krmwrite.py).

A document that nothing edits is kept light (krmlight.py). Apart from krm.py, whose objects
most modules use without ever reading a text, and from krmwrite.py, the way back out.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection
from typing import NamedTuple

import yaml

from airflow_sidecars.krmio.krm import (
    BOM,
    RESOURCE_LIST_KINDS,
    Input,
    InputError,
    Item,
    Source,
    key_twice,
)
from airflow_sidecars.krmio.krmlight import Light, Metadata, as_light, reads_alone
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import Node, is_null, iter_documents, mapping_get, scalar_at
from airflow_sidecars.text.yamltext import detect_seq_indent, lone_cr_as_lf

# What parse(only=...) keeps of the documents it does not read.
_UNREAD = Light({}, Metadata({}, None, None))


class Part(NamedTuple):
    """A text that is a part of a larger one (chunks.py): the index there of its first
    document, and the larger text's sequence indentation (None: its own)."""

    first_document: int = 0
    seq_indent: int | None = None


def parse(
    texts: list[tuple[str | None, str]],
    *,
    only: Collection[int] | None = None,
    parts: list[Part] | None = None,
) -> Input:
    """Read every input; a single ResourceList means KRM mode, anything else is a stream.
    `only` (with one text): the positions of the only items the caller reads (verify.py,
    which counts the others); in stream mode each other one may be a shared placeholder,
    with no identity and no tree. `parts`: what each text is a part of (chunks.py)."""
    sources = [
        _source(name, text, only, parts[number] if parts else Part())
        for number, (name, text) in enumerate(texts)
    ]
    resource_list = _resource_list_root(sources)
    if resource_list is not None:
        return _resource_list_input(sources, *resource_list)
    inp = Input("stream", sources)
    for source in sources:
        unread = Item(_UNREAD, source, -1, -1)
        for number, node in enumerate(source.documents):
            if node is _UNREAD:
                inp.items.append(unread)
                continue
            if isinstance(node, Light):
                # One int for both numbers when they are the same (as they mostly are).
                position = len(inp.items)
                inp.items.append(
                    Item(node, source, number if number == position else position, number)
                )
                continue
            if node is None or is_null(node):
                continue  # comment-only documents (helm prints one per disabled template)
            if not isinstance(node, yaml.MappingNode):
                where = f" {source.name}" if source.name else ""
                raise InputError(f"document {number}{where} is not an object", source.name)
            if is_object_list(node):
                for entry in list_items(node, source, number):
                    inp.items.append(Item(entry, source, len(inp.items), number))
                continue
            inp.items.append(Item(node, source, len(inp.items), number))
    return inp


def is_object_list(node: Node) -> bool:
    """A `kind: List` that is no function's ResourceList: what `kubectl get` prints for more
    than one object (`apiVersion: v1`, `items`, `metadata.resourceVersion: ""`). A List of
    `config.kubernetes.io/*`, or one with a functionConfig, is a function call."""
    return (
        isinstance(node, yaml.MappingNode)
        and scalar_at(node, "kind") == "List"
        and not (scalar_at(node, "apiVersion") or "").startswith("config.kubernetes.io/")
        and mapping_get(node, "functionConfig") is None
    )


def list_items(node: Node, source: Source, document: int) -> list[Node]:
    """The objects of a kubectl List, in order; an InputError naming the List and the item
    when `items` is not a list of objects (nothing is read, so the input goes back whole)."""
    where = f"the List (document {document}{f' in {source.name}' if source.name else ''})"
    items = mapping_get(node, "items")
    if items is None or is_null(items):
        raise InputError(
            f"{where} has no items (kubectl writes `items: []` when it finds nothing)",
            source.name,
        )
    if not isinstance(items, yaml.SequenceNode):
        raise InputError(f"{where}: its items are not a list of objects", source.name)
    for number, entry in enumerate(items.value):
        if not isinstance(entry, yaml.MappingNode):
            raise InputError(f"List item {number} of {where} is not an object", source.name)
    return list(items.value)


def parse_again(inp: Input) -> Input:
    """The input's edited text, read again, each source as the part it was read as."""
    texts = [(s.name, s.bom + s.editor.apply()) for s in inp.sources]
    return parse(texts, parts=[Part(s.first_document, s.fixed_indent) for s in inp.sources])


def _source(
    name: str | None,
    text_with_bom: str,
    only: Collection[int] | None = None,
    part: Part = Part(),  # noqa: B008 - a NamedTuple, immutable
) -> Source:
    text = text_with_bom.removeprefix(BOM)
    # A directive (`%TAG`) changes how the next document reads: then no document is read alone.
    alone = not (text.startswith("%") or "\n%" in text)
    root_seen = False
    documents: list[Node | Light | None] = []
    spans = array("q")
    position = 0  # of the next item (in a source read alone, as verify reads its output)
    try:
        for node in iter_documents(text):
            # The first document keeps its tree: it may be a ResourceList (KRM mode), and its
            # block sequences set the source's indentation.
            light: Light | None = None
            # A kubectl List keeps its tree: its items are what is read and edited.
            listed = node is not None and is_object_list(node)
            if alone and root_seen and not listed:
                if only is None:
                    light = as_light(node)
                elif position not in only and reads_alone(node):
                    light = _UNREAD
            if light is not None:
                assert node is not None
                start, end = node.start_mark, node.end_mark
                spans.extend((start.index, end.index, start.line))
                documents.append(light)
            else:
                spans.extend((0, 0, 0))
                documents.append(node)
            root_seen = root_seen or node is not None
            position += _item_count(node) if listed else node is not None and not is_null(node)
    except yaml.YAMLError as error:
        raise InputError(_yaml_error_message(error), name) from None
    root = next((doc for doc in documents if doc is not None), None)
    if part.seq_indent is not None:
        seq_indent = part.seq_indent
    elif isinstance(root, yaml.Node):
        seq_indent = detect_seq_indent(root, lone_cr_as_lf(text))
    else:
        seq_indent = 2
    bom = BOM if len(text) < len(text_with_bom) else ""
    source = Source(name, text, Editor(text, seq_indent=seq_indent), documents, bom)
    source.spans = spans
    source.first_document, source.fixed_indent = part.first_document, part.seq_indent
    return source


def _item_count(node: Node | None) -> int:
    """How many items a kubectl List holds (a malformed one is refused by list_items)."""
    items = mapping_get(node, "items")
    return len(items.value) if isinstance(items, yaml.SequenceNode) else 0


def _resource_list_input(sources: list[Source], source: Source, root: Node) -> Input:
    inp = Input("resourcelist", sources, root=root)
    inp.api_version = scalar_at(root, "apiVersion") or inp.api_version
    if key_twice(root) is not None:
        return inp  # no items are read, none edited: see wrapper_problems
    items = mapping_get(root, "items")
    if items is not None and not isinstance(items, (yaml.SequenceNode, yaml.ScalarNode)):
        raise InputError("ResourceList.items must be a list", source.name)
    if isinstance(items, yaml.SequenceNode):
        for number, node in enumerate(items.value):
            if not isinstance(node, yaml.MappingNode):
                raise InputError(f"ResourceList.items[{number}] is not an object", source.name)
            inp.items.append(Item(node, source, number, 0))
    return inp


def _resource_list_root(sources: list[Source]) -> tuple[Source, Node] | None:
    if len(sources) != 1:
        return None
    source = sources[0]
    documents = [
        doc
        for doc in source.documents
        if isinstance(doc, Light) or (doc is not None and not is_null(doc))
    ]
    if len(documents) != 1 or not isinstance(documents[0], yaml.MappingNode):
        return None
    root = documents[0]
    if scalar_at(root, "kind") not in RESOURCE_LIST_KINDS or is_object_list(root):
        return None
    if mapping_get(root, "items") is None and mapping_get(root, "functionConfig") is None:
        return None
    return source, root


def _yaml_error_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    detail = f"{problem} ({context})" if context else problem
    return f"input is not valid YAML: {where}{detail}"
