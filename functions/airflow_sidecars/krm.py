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
from collections.abc import Mapping
from typing import Literal, NamedTuple

import yaml

from .results import FileRef, ResourceRef, Result, Severity
from .yamledit import Editor
from .yamlread import Node, compose_all, is_null, mapping_get, scalar_at
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

    __slots__ = ("bom", "documents", "editor", "name", "text")

    def __init__(
        self,
        name: str | None,
        text: str,
        editor: Editor,
        documents: list[Node | None],
        bom: str = "",
    ) -> None:
        self.name = name
        self.text = text
        self.editor = editor
        self.documents = documents
        self.bom = bom  # a byte order mark the text began with, given back in the output


class Item(NamedTuple):
    """One Kubernetes object of the input."""

    node: Node
    source: Source
    position: int  # among all items of the input
    document: int  # the document's index in its source (stream mode)

    @property
    def kind(self) -> str | None:
        return scalar_at(self.node, "kind")

    @property
    def api_version(self) -> str | None:
        return scalar_at(self.node, "apiVersion")

    @property
    def name(self) -> str | None:
        return scalar_at(self.node, "metadata", "name")

    @property
    def namespace(self) -> str | None:
        return scalar_at(self.node, "metadata", "namespace")

    def annotation(self, key: str) -> str | None:
        return scalar_at(self.node, "metadata", "annotations", key)

    def label(self, key: str) -> str | None:
        return scalar_at(self.node, "metadata", "labels", key)

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
            return FileRef(self.source.name, self.document)
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


def parse(texts: list[tuple[str | None, str]]) -> Input:
    """Read every input; a single ResourceList means KRM mode, anything else is a stream."""
    sources = [_source(name, text) for name, text in texts]
    resource_list = _resource_list_root(sources)
    if resource_list is not None:
        return _resource_list_input(sources, *resource_list)
    inp = Input("stream", sources)
    for source in sources:
        for number, node in enumerate(source.documents):
            if node is None or is_null(node):
                continue  # comment-only documents (helm prints one per disabled template)
            if not isinstance(node, yaml.MappingNode):
                where = f" {source.name}" if source.name else ""
                raise InputError(f"document {number}{where} is not an object", source.name)
            inp.items.append(Item(node, source, len(inp.items), number))
    return inp


def _source(name: str | None, text_with_bom: str) -> Source:
    text = text_with_bom.removeprefix(BOM)
    try:
        documents = compose_all(text)
    except yaml.YAMLError as error:
        raise InputError(_yaml_error_message(error), name) from None
    root = next((doc for doc in documents if doc is not None), None)
    seq_indent = detect_seq_indent(root, lone_cr_as_lf(text)) if root is not None else 2
    bom = BOM if len(text) < len(text_with_bom) else ""
    return Source(name, text, Editor(text, seq_indent=seq_indent), documents, bom)


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
    documents = [doc for doc in source.documents if doc is not None and not is_null(doc)]
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
    last = next((doc for doc in reversed(source.documents) if doc is not None), None)
    if last is not None:
        source.editor.keep_last_value(last)


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
