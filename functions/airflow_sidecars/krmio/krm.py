"""The KRM function protocol's input as objects: its sources (files or stdin), their items, and
the ResourceList around them in KRM mode (docs/krm-contract.md §1.1).

Rules from docs/krm-contract.md that this module carries:
- Orchestrator annotations (`internal.config.kubernetes.io/*`, `config.kubernetes.io/*`,
  `config.k8s.io/id`, `kustomize.config.k8s.io/id`) are never edited (§1.4): we only splice
  into pod specs and append results. Results read the path and index an item came from.
- Local-config objects, the Kptfile and a kustomization.yaml are left alone (§1.6, §1.7).

Most modules use these objects and never read or write a text: reading the input is
krmread.py, writing the output krmwrite.py, and a document kept without its node tree
krmlight.py.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Literal

import yaml

from airflow_sidecars.krmio.krmlight import Light, lookup
from airflow_sidecars.krmio.results import FileRef, ResourceRef, Result, Severity
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import Node, compose_span, is_null, mapping_get, scalar_at

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
            return lookup(doc.annotations, key)
        return scalar_at(doc, "metadata", "annotations", key)

    def label(self, key: str) -> str | None:
        doc = self._doc
        if isinstance(doc, Light):
            return lookup(doc.labels, key)
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
    return text  # a BOM stays: krmread.parse keeps it aside, krmwrite.render gives it back


def key_twice(root: Node) -> str | None:
    """A ResourceList key given twice: readers disagree on which one wins (PyYAML and Go's
    yaml keep the last, kyaml the first), so the input means different things to each."""
    assert isinstance(root, yaml.MappingNode)
    keys = [key.value for key, _ in root.value if isinstance(key, yaml.ScalarNode)]
    return next((key for key in keys if keys.count(key) > 1), None)


def wrapper_problems(inp: Input) -> list[str]:
    """What is wrong with the ResourceList around the items (empty in stream mode)."""
    if inp.mode != "resourcelist" or inp.root is None:
        return []
    problems = []
    twice = key_twice(inp.root)
    if twice is not None:
        problems.append(
            f"the ResourceList has the key {twice!r} twice; YAML forbids it and readers "
            "disagree on which one wins: nothing was read or changed"
        )
    if not results_take_more(inp):
        problems.append("ResourceList.results is not a list: it is replaced by this run's results")
    return problems


def results_take_more(inp: Input) -> bool:
    node = mapping_get(inp.root, "results")
    return node is None or is_null(node) or isinstance(node, yaml.SequenceNode)
