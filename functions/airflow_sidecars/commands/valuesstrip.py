"""A values file's text without the `extra*` values a config carries, by splices: comments and
layout kept, so that rendering with the stripped values and injecting the config gives what
the chart gave with the originals."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from airflow_sidecars.commands.valuesextras import carried_paths
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import (
    Node,
    NotOneDocument,
    Path,
    UnsupportedYaml,
    load_one,
    mapping_pairs,
    node_at,
)
from airflow_sidecars.text.yamltext import detect_seq_indent


def stripped(
    text: str, what: str, base: Path = (), merged: Any = None, keep: frozenset[Path] = frozenset()
) -> str:
    """The values text without the `extra*` values a config carries, by splices: a mapping
    left empty goes with its key (in Helm a null value would delete the chart's defaults).
    `base`: the keys of a parent chart's values under which the Airflow chart's are; `merged`:
    the Airflow chart's values of every file, which `{{ .Values.* }}` are evaluated from;
    `keep`: the values (paths under `base`) that stay although a config could carry them
    (valuesroutes.py)."""
    try:
        document = load_one(text, what)
    except NotOneDocument as error:
        if error.count == 0:  # empty, or only comments: nothing to take out
            return text
        raise
    values = document.data
    for step in base:
        values = values.get(step) if isinstance(values, dict) else None
    paths = [(*base, *path) for path in carried_paths(values, merged) if path not in keep]
    if not paths:
        return text
    editor = Editor(text, seq_indent=detect_seq_indent(document.node, text))
    expected = copy.deepcopy(document.data)
    for path in _whole(document.node, paths):
        if path:
            editor.remove(document.node, path)
            holder = expected
            for step in path[:-1]:
                holder = holder[step]
            del holder[path[-1]]
        else:
            editor.replace(document.node, (), {})
            expected = {}
    result = editor.apply()
    # Verify before output: the stripped values must read as the values without them.
    if load_one(result, what).data != expected:
        raise UnsupportedYaml("internal: the stripped values do not read as planned")
    return result


def _whole(root: Node, paths: list[Path]) -> list[Path]:
    """The keys to remove: a mapping all of whose keys go is removed as one key of its parent,
    up to the document (the empty path: it becomes `{}`)."""
    gone = set(paths)
    changed = True
    while changed:
        changed = False
        for parent in {path[:-1] for path in gone if path}:
            node = node_at(root, parent)
            keys = {(*parent, key.value) for key, _ in mapping_pairs(node)}
            if isinstance(node, yaml.MappingNode) and keys and keys <= gone:
                gone = (gone - keys) | {parent}
                changed = True
    return sorted(gone, key=lambda path: tuple(str(step) for step in path))
