"""The KRM function protocol: ResourceList or plain stream in, the same kind of text out.

Rules from docs/krm-contract.md that this module carries:
- Any `config.kubernetes.io/*` ResourceList version is read (kyaml does not check it) and the
  answer uses the version that came in (§1.1). `kind: List` with `items` is read the same way.
- Every item comes back, in order (§1.5: kustomize deletes what a transformer drops and kpt
  writes items back by path and index); untouched items come back as the bytes they came in
  as (a block scalar that ends the text without a line break may get `-` chomping, see
  _end_last_line).
- Orchestrator annotations (`internal.config.kubernetes.io/*`, `config.kubernetes.io/*`,
  `config.k8s.io/id`, `kustomize.config.k8s.io/id`) are never edited (§1.4): we only splice
  into pod specs and append results.
- New results are appended after those of earlier steps (§1.2).
- Output is written even when the function fails (§2.5: kpt reads it on a non-zero exit).
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Collection, Mapping
from typing import Literal, NamedTuple

import yaml

from .results import FileRef, ResourceRef, Result, Severity
from .yamledit import Editor
from .yamlread import (
    Node,
    compose_span,
    is_null,
    iter_documents,
    mapping_get,
    node_at,
    scalar_at,
)
from .yamltext import detect_seq_indent, line_break_at, lone_cr_as_lf

RESOURCE_LIST_KINDS = ("ResourceList", "List")
PATH_ANNOTATIONS = ("internal.config.kubernetes.io/path", "config.kubernetes.io/path")
INDEX_ANNOTATIONS = ("internal.config.kubernetes.io/index", "config.kubernetes.io/index")
LOCAL_CONFIG_ANNOTATION = "config.kubernetes.io/local-config"


class InputError(Exception):
    """The input cannot be read (not UTF-8, not YAML, not a list of objects)."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class Source:
    """One input text (a file or stdin) with the edits planned on it."""

    __slots__ = (
        "bom",
        "documents",
        "editor",
        "first_document",
        "fixed_indent",
        "name",
        "spans",
        "text",
    )

    def __init__(
        self,
        name: str | None,
        text: str,
        editor: Editor,
        documents: list[Node | Light | None],
        bom: str = "",
    ) -> None:
        self.name = name
        self.text = text
        self.editor = editor
        self.documents = documents
        self.bom = bom  # a byte order mark the text began with, given back in the output
        # (start, end, line) of each document's root node: the way back to a Light's tree.
        # Three machine integers a document, not three int objects.
        self.spans = array("q")
        # A part of a larger text (chunks.py): the index there of its first document (results
        # name documents by it), and the stream's sequence indentation (None: its own).
        self.first_document = 0
        self.fixed_indent: int | None = None

    def span(self, document: int) -> tuple[int, int]:
        return self.spans[3 * document], self.spans[3 * document + 1]

    def tree(self, document: int) -> Node:
        """A light document's node tree, composed again from its text."""
        start, end, line = self.spans[3 * document : 3 * document + 3]
        return compose_span(self.text, start, end, line)


class Light:
    """A document that no function edits, kept as the fields that find, group and name
    objects (its place in the text is in Source.spans) instead of its node tree: a tree
    takes some seventeen times the memory of its text. Item.node composes it again when
    something reads further."""

    __slots__ = ("annotations", "api_version", "kind", "labels", "name", "namespace")

    def __init__(self, fields: dict[str, str | None], metadata: Metadata) -> None:
        # Kinds, versions and namespaces repeat: one string each (names do not).
        self.kind = _interned(fields.get("kind"))
        self.api_version = _interned(fields.get("apiVersion"))
        self.name = metadata.fields.get("name")
        self.namespace = _interned(metadata.fields.get("namespace"))
        self.labels = metadata.labels
        self.annotations = metadata.annotations


Scalars = tuple[tuple[str, str | None], ...]


class Metadata(NamedTuple):
    """What a Light keeps of `metadata`."""

    fields: dict[str, str | None]  # name, namespace
    labels: Scalars | None
    annotations: Scalars | None


_NULL = "tag:yaml.org,2002:null"


def _scalar(node: Node) -> str | None:
    """What scalar_at reads at a node."""
    if isinstance(node, yaml.ScalarNode) and node.tag != _NULL:
        return str(node.value)
    return None


def _interned(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


def _firsts(node: Node | None, keys: frozenset[str]) -> dict[str, Node]:
    """The value nodes of `keys` in a mapping, the first of each (as mapping_get finds)."""
    found: dict[str, Node] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value in keys and key.value not in found:
                found[key.value] = value
    return found


def _scalars(node: Node | None) -> Scalars | None:
    """A mapping's scalar keys with what scalar_at reads under each (first key first)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return tuple(
        (sys.intern(str(key.value)), _scalar(value))
        for key, value in node.value
        if isinstance(key, yaml.ScalarNode)
    )


def _lookup(pairs: Scalars | None, key: str) -> str | None:
    for found, value in pairs or ():
        if found == key:
            return value
    return None


# What parse(only=...) keeps of the documents it does not read.
_UNREAD = Light({}, Metadata({}, None, None))


def release_items(inp: Input) -> None:
    """Forget the items and every document tree but each source's last (render needs only the
    editors, and the last document of a source another one follows: _end_last_line). Their
    memory goes back before the output text is made and parsed again (verify.py)."""
    inp.items = []
    for source in inp.sources:
        documents = source.documents
        last = next((n for n in reversed(range(len(documents))) if documents[n] is not None), -1)
        source.documents = [documents[n] if n == last else None for n in range(len(documents))]


class Item:
    """One Kubernetes object of the input."""

    __slots__ = ("_doc", "document", "position", "source")

    def __init__(self, node: Node | Light, source: Source, position: int, document: int) -> None:
        self._doc = node
        self.source = source
        self.position = position  # among all items of the input
        self.document = document  # the document's index in its source (stream mode)

    @property
    def node(self) -> Node:
        """The object's node tree (composed again, each time, for a light document)."""
        doc = self._doc
        if isinstance(doc, Light):
            return self.source.tree(self.document)
        return doc

    @property
    def tree_kept(self) -> bool:
        """False for a light document: one without a merge key in its metadata or its pod
        template's, that is no ServiceAccount and no Airflow workload or ConfigMap."""
        return not isinstance(self._doc, Light)

    def span(self) -> tuple[int, int]:
        """Where the object's text starts and ends in its source's text."""
        doc = self._doc
        if isinstance(doc, Light):
            return self.source.span(self.document)
        return doc.start_mark.index, doc.end_mark.index

    @property
    def kind(self) -> str | None:
        doc = self._doc
        return doc.kind if isinstance(doc, Light) else scalar_at(doc, "kind")

    @property
    def api_version(self) -> str | None:
        doc = self._doc
        return doc.api_version if isinstance(doc, Light) else scalar_at(doc, "apiVersion")

    @property
    def name(self) -> str | None:
        doc = self._doc
        return doc.name if isinstance(doc, Light) else scalar_at(doc, "metadata", "name")

    @property
    def namespace(self) -> str | None:
        doc = self._doc
        if isinstance(doc, Light):
            return doc.namespace
        return scalar_at(doc, "metadata", "namespace")

    def annotation(self, key: str) -> str | None:
        doc = self._doc
        if isinstance(doc, Light):
            return _lookup(doc.annotations, key)
        return scalar_at(doc, "metadata", "annotations", key)

    def label(self, key: str) -> str | None:
        doc = self._doc
        if isinstance(doc, Light):
            return _lookup(doc.labels, key)
        return scalar_at(doc, "metadata", "labels", key)

    @property
    def is_local_config(self) -> bool:
        """Client-side objects that functions leave alone: local-config, the Kptfile, and a
        kustomization.yaml without apiVersion/kind (§1.6, §1.7)."""
        if self.annotation(LOCAL_CONFIG_ANNOTATION) == "true":
            return True
        return self.kind in (None, "Kptfile", "Kustomization")

    def ref(self) -> ResourceRef:
        return ResourceRef(self.api_version or "", self.kind or "", self.name or "", self.namespace)

    def result(
        self,
        message: str,
        severity: Severity,
        field: str | None,
        tags: Mapping[str, str],
    ) -> Result:
        """A result about this object (at `field`, a dotted path in it)."""
        return Result(message, severity, self.ref(), field, self.file(), tags)

    def file(self) -> FileRef | None:
        path = next(filter(None, (self.annotation(key) for key in PATH_ANNOTATIONS)), None)
        if path is not None:
            index = next(filter(None, (self.annotation(key) for key in INDEX_ANNOTATIONS)), "0")
            # ASCII digits only ("²".isdigit() holds), and few enough for int() to take
            readable = index.isascii() and index.isdigit() and len(index) <= 18
            return FileRef(path, int(index) if readable else 0)
        if self.source.name is not None:
            return FileRef(self.source.name, self.source.first_document + self.document)
        return None


class Input:
    __slots__ = ("api_version", "items", "mode", "root", "sources")

    def __init__(
        self,
        mode: Literal["resourcelist", "stream"],
        sources: list[Source],
        items: list[Item] | None = None,
        root: Node | None = None,  # the ResourceList mapping, in KRM mode
        api_version: str = "config.kubernetes.io/v1",
    ) -> None:
        self.mode = mode
        self.sources = sources
        self.items: list[Item] = [] if items is None else items
        self.root = root
        self.api_version = api_version

    @property
    def function_config(self) -> Node | None:
        node = mapping_get(self.root, "functionConfig")
        return None if node is None or isinstance(node, yaml.ScalarNode) else node


BOM = "\ufeff"


def decode(data: bytes, source: str | None) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"input is not UTF-8 text (byte {error.start}: "
            f"{data[error.start : error.start + 1]!r})",
            source,
        ) from None
    return text  # a byte order mark stays: parse() keeps it aside and render() gives it back


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
            inp.items.append(Item(node, source, len(inp.items), number))
    return inp


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
            if alone and root_seen:
                if only is None:
                    light = _light(node)
                elif position not in only and _reads_alone(node):
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
            position += node is not None and not is_null(node)
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


# Objects whose metadata says they may be edited (an Airflow chart's pods and pod template) keep
# their node tree; airflow.flavour_of reads the same labels.
_AIRFLOW_LABELS = (("tier", "airflow"), ("app", "airflow"))
_EDITED_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "ConfigMap"}
)
_MERGE = "tag:yaml.org,2002:merge"


_ROOT_KEYS = frozenset({"kind", "apiVersion", "metadata", "spec"})
_METADATA_KEYS = frozenset({"name", "namespace", "labels", "annotations"})


def _light(node: Node | None) -> Light | None:
    """The document as a Light, or None when it keeps its tree: it is not a block mapping
    at the start of its line (then it may not read the same alone), or something may edit it
    or read it often - a ServiceAccount (annotations), an Airflow workload or ConfigMap, a
    document without a kind (local config) - or a merge key in its metadata or its pod
    template's (an error that names it: see airflow.merge_key_problems). Every document
    passes here, so it reads each mapping once."""
    if not _reads_alone(node):
        return None
    assert node is not None
    top = _firsts(node, _ROOT_KEYS)
    fields: dict[str, str | None] = {k: _scalar(top[k]) for k in ("kind", "apiVersion") if k in top}
    kind = fields.get("kind")
    if kind is None or kind in ("ServiceAccount", "Kptfile", "Kustomization"):
        return None
    metadata_node = top.get("metadata")
    meta = _firsts(metadata_node, _METADATA_KEYS)
    labels = _scalars(meta.get("labels"))
    if kind in _EDITED_KINDS and any(pair in _AIRFLOW_LABELS for pair in labels or ()):
        return None
    template = node_at(top.get("spec"), ("jobTemplate", "spec") if kind == "CronJob" else ())
    for where in (metadata_node, node_at(template, ("template", "metadata"))):
        if _has_merge_key(where) or _has_merge_key(mapping_get(where, "labels")):
            return None
    metadata = Metadata(
        {key: _scalar(meta[key]) for key in ("name", "namespace") if key in meta},
        labels,
        _scalars(meta.get("annotations")),
    )
    return Light(fields, metadata)


def _reads_alone(node: Node | None) -> bool:
    """A block mapping at the start of its line reads the same from its span alone."""
    return (
        isinstance(node, yaml.MappingNode)
        and node.tag == "tag:yaml.org,2002:map"
        and not node.flow_style
        and node.start_mark.column == 0
    )


def _has_merge_key(node: Node | None) -> bool:
    return isinstance(node, yaml.MappingNode) and any(key.tag == _MERGE for key, _ in node.value)


def _resource_list_input(sources: list[Source], source: Source, root: Node) -> Input:
    inp = Input("resourcelist", sources, root=root)
    inp.api_version = scalar_at(root, "apiVersion") or inp.api_version
    if _twice(root) is not None:
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
    if scalar_at(root, "kind") not in RESOURCE_LIST_KINDS:
        return None
    if mapping_get(root, "items") is None and mapping_get(root, "functionConfig") is None:
        return None
    return source, root


def _twice(root: Node) -> str | None:
    """A ResourceList key given twice: readers disagree on which one wins (PyYAML and Go's
    yaml keep the last, kyaml the first), so the input means different things to each."""
    assert isinstance(root, yaml.MappingNode)
    keys = [key.value for key, _ in root.value if isinstance(key, yaml.ScalarNode)]
    return next((key for key in keys if keys.count(key) > 1), None)


def render(inp: Input, results: list[Result]) -> str:
    """The output text: every source with its edits, plus (KRM mode) the results."""
    if inp.mode == "resourcelist":
        assert inp.root is not None
        source = inp.sources[0]
        if results:
            _end_last_line(source)
            entries = [r.as_dict() for r in results]
            if _results_take_more(inp):
                source.editor.append(inp.root, ("results",), entries)
            else:  # reported among `results` (see results_problem): this run's replace it
                source.editor.replace(inp.root, ("results",), entries)
        return source.bom + source.editor.apply()
    out: list[str] = []
    for number, source in enumerate(inp.sources):
        if number + 1 < len(inp.sources):
            _end_last_line(source)  # another source follows it
        text = source.editor.apply()
        if out and text.strip():
            # The line break and the separator end like the next file's first line.
            newline = line_break_at(text, 0)
            if not out[-1].endswith(("\n", "\r")):
                out[-1] += newline
            if not text.startswith("---"):
                out.append("---" + newline)
        out.append(text)
    # Only the stream's start may carry a byte order mark (YAML readers refuse one later).
    return (inp.sources[0].bom if inp.sources else "") + "".join(out)


def wrapper_problems(inp: Input) -> list[str]:
    """What is wrong with the ResourceList around the items (empty in stream mode)."""
    if inp.mode != "resourcelist" or inp.root is None:
        return []
    problems = []
    twice = _twice(inp.root)
    if twice is not None:
        problems.append(
            f"the ResourceList has the key {twice!r} twice; YAML forbids it and readers "
            "disagree on which one wins: nothing was read or changed"
        )
    if not _results_take_more(inp):
        problems.append("ResourceList.results is not a list: it is replaced by this run's results")
    return problems


def _results_take_more(inp: Input) -> bool:
    node = mapping_get(inp.root, "results")
    return node is None or is_null(node) or isinstance(node, yaml.SequenceNode)


def _end_last_line(source: Source) -> None:
    """Text will follow this source's: its last value must not take in the line break."""
    number = next(
        (n for n in reversed(range(len(source.documents))) if source.documents[n] is not None),
        None,
    )
    if number is not None:
        last = source.documents[number]
        assert last is not None
        source.editor.keep_last_value(source.tree(number) if isinstance(last, Light) else last)


def error_resource_list(message: str, api_version: str = "config.kubernetes.io/v1") -> str:
    """What stdout carries in KRM mode when the input could not be read at all."""
    document = {
        "apiVersion": api_version,
        "kind": "ResourceList",
        "items": [],
        "results": [{"message": message, "severity": "error"}],
    }
    return yaml.safe_dump(document, sort_keys=False)


def looks_like_resource_list(text: str) -> bool:
    head = text[:4096]
    return "ResourceList" in head and "kind" in head


_API_VERSION = re.compile(r"""["']?apiVersion["']?\s*:\s*["']?(config\.kubernetes\.io/v1\w*)""")


def resource_list_version(text: str) -> str:
    """The ResourceList apiVersion an unreadable input seems to use, to answer in it."""
    found = _API_VERSION.search(text)
    return found.group(1) if found else "config.kubernetes.io/v1"


def _yaml_error_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    detail = f"{problem} ({context})" if context else problem
    return f"input is not valid YAML: {where}{detail}"
