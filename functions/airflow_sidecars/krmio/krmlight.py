"""A light document: one that no function edits, kept as the few fields that find, group and
name objects instead of its node tree (a tree takes some seventeen times the memory of its
text).

Every document of a stream passes `as_light` once, which reads each mapping once and decides
whether the document keeps its tree (krmread.py). The readers here take what `scalar_at` and
`mapping_get` would, straight from a mapping's nodes; the scan of a large stream
(chunks.py) reads each object's identity with them too. They are apart from krm.py, which
holds the input's objects, because they decide what a document costs in memory, and the scan
needs them without the objects.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import yaml

from airflow_sidecars.text.yamlread import Node, mapping_get, node_at


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


def scalar(node: Node) -> str | None:
    """What scalar_at reads at a node."""
    if isinstance(node, yaml.ScalarNode) and node.tag != _NULL:
        return str(node.value)
    return None


def _interned(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


def firsts(node: Node | None, keys: frozenset[str]) -> dict[str, Node]:
    """The value nodes of `keys` in a mapping, the first of each (as mapping_get finds)."""
    found: dict[str, Node] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value in keys and key.value not in found:
                found[key.value] = value
    return found


def scalars(node: Node | None) -> Scalars | None:
    """A mapping's scalar keys with what scalar_at reads under each (first key first)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return tuple(
        (sys.intern(str(key.value)), scalar(value))
        for key, value in node.value
        if isinstance(key, yaml.ScalarNode)
    )


def lookup(pairs: Scalars | None, key: str) -> str | None:
    for found, value in pairs or ():
        if found == key:
            return value
    return None


# Objects whose metadata says they may be edited (an Airflow chart's pods and pod template) keep
# their node tree; airflow.flavour_of reads the same labels.
_AIRFLOW_LABELS = (("tier", "airflow"), ("app", "airflow"))
EDITED_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "ConfigMap"}
)
_MERGE = "tag:yaml.org,2002:merge"


_ROOT_KEYS = frozenset({"kind", "apiVersion", "metadata", "spec"})
_METADATA_KEYS = frozenset({"name", "namespace", "labels", "annotations"})


def as_light(node: Node | None) -> Light | None:
    """The document as a Light, or None when it keeps its tree: it is not a block mapping
    at the start of its line (then it may not read the same alone), or something may edit it
    or read it often - a ServiceAccount (annotations), an Airflow workload or ConfigMap, a
    document without a kind (local config) - or a merge key in its metadata or its pod
    template's (an error that names it: see airflow.merge_key_problems). Every document
    passes here, so it reads each mapping once."""
    if not reads_alone(node):
        return None
    assert node is not None
    top = firsts(node, _ROOT_KEYS)
    fields: dict[str, str | None] = {k: scalar(top[k]) for k in ("kind", "apiVersion") if k in top}
    kind = fields.get("kind")
    if kind is None or kind in ("ServiceAccount", "Kptfile", "Kustomization"):
        return None
    metadata_node = top.get("metadata")
    meta = firsts(metadata_node, _METADATA_KEYS)
    labels = scalars(meta.get("labels"))
    if kind in EDITED_KINDS and any(pair in _AIRFLOW_LABELS for pair in labels or ()):
        return None
    template = node_at(top.get("spec"), ("jobTemplate", "spec") if kind == "CronJob" else ())
    for where in (metadata_node, node_at(template, ("template", "metadata"))):
        if _has_merge_key(where) or _has_merge_key(mapping_get(where, "labels")):
            return None
    metadata = Metadata(
        {key: scalar(meta[key]) for key in ("name", "namespace") if key in meta},
        labels,
        scalars(meta.get("annotations")),
    )
    return Light(fields, metadata)


def reads_alone(node: Node | None) -> bool:
    """A block mapping at the start of its line reads the same from its span alone."""
    return (
        isinstance(node, yaml.MappingNode)
        and node.tag == "tag:yaml.org,2002:map"
        and not node.flow_style
        and node.start_mark.column == 0
    )


def _has_merge_key(node: Node | None) -> bool:
    return isinstance(node, yaml.MappingNode) and any(key.tag == _MERGE for key, _ in node.value)
