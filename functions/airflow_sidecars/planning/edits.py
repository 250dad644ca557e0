"""The state of one inject run, and the one way a planned edit is made: into the text (a splice
per op, yamledit.Editor) and into the data the edited object must have afterwards (verify.py
compares the two)."""

from __future__ import annotations

from typing import Any, NamedTuple

import yaml

from airflow_sidecars.charts.chart import ValuePath
from airflow_sidecars.configuration.config import HelmRun
from airflow_sidecars.krmio import krm
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.planning import planned
from airflow_sidecars.pods.podspec import Op, apply_ops
from airflow_sidecars.recording.records import null_of
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import (
    Node,
    Path,
    UnsupportedYaml,
    dotted,
    is_null,
    mapping_pairs,
    node_at,
    to_data,
)

TAG = {"function": "inject"}


class WantedAnnotations(NamedTuple):
    """What presets ask of one ServiceAccount: the first workload that asked (results name it),
    the annotations, and every pod that asked, as (item position, pod path)."""

    workload: Workload
    values: dict[str, str]
    askers: set[tuple[int, Path]]


class Run:
    """What one inject run decided: results, and the data each edited item must have."""

    __slots__ = (
        "annotations",
        "checksums",
        "declared_missing",
        "edited",
        "expected",
        "expected_templates",
        "handover",
        "marks",
        "namespaces",
        "planned",
        "presets",
        "results",
        "said",
        "used_values",
    )

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.expected: dict[int, Any] = {}  # item position -> its data after the edits
        self.edited: set[int] = set()  # positions whose text was edited
        # position -> (ConfigMap data key, the pod template's data after the edits)
        self.expected_templates: dict[int, tuple[str, Any]] = {}
        # ServiceAccount annotations that presets ask for: (namespace, name) -> what they want;
        # and the presets that reached a pod.
        self.annotations: dict[tuple[str | None, str], WantedAnnotations] = {}
        self.presets: set[str] = set()
        # What the config declares and the input lacks, said the way `validate` reports it.
        self.declared_missing: list[Result] = []
        self.used_values: set[ValuePath] = set()  # config values some pod took
        # (release, namespace, message) of each release-wide preset note already said
        self.said: set[tuple[str | None, str | None, str]] = set()
        # release -> the namespaces its objects name (for `{{ .Release.Namespace }}`)
        self.namespaces: dict[str | None, set[str]] = {}
        # (release, namespace) -> pod ("Kind/name") -> checksum/airflow-config in the input
        self.checksums: dict[tuple[str | None, str | None], dict[str, str]] = {}
        # Where each phase of the run ends: (len(results), len(declared_missing)). A stream
        # run release by release joins each phase of every part in turn (chunks.py).
        self.marks: list[tuple[int, int]] = []
        # Every edit, said entry by entry (planned.py), in the order made: `inject --plan`.
        self.planned: list[tuple[int, planned.Target, planned.Entry]] = []
        # On the Helm 4 plugin route, after a hooks stream: what the next call of the same Helm
        # run needs (config.HelmRun); None otherwise.
        self.handover: HelmRun | None = None

    def mark(self) -> None:
        """End a phase: what comes later is said after it by every part of a stream."""
        self.marks.append((len(self.results), len(self.declared_missing)))

    def phases(self) -> list[list[Result]]:
        """The results by phase (the last one: what came after the last mark)."""
        return cut(self.results, [end for end, _ in self.marks])

    def missing_phases(self) -> list[list[Result]]:
        return cut(self.declared_missing, [end for _, end in self.marks])


def cut(results: list[Result], ends: list[int]) -> list[list[Result]]:
    """`results` cut at `ends` (ascending), and what follows the last end."""
    starts = [0, *ends]
    return [results[start:end] for start, end in zip(starts, [*ends, len(results)], strict=True)]


def expected_data(run: Run, item: krm.Item) -> Any:
    """The data of an item as edits so far leave it; converted from the input once per item,
    and the same object serves planning (read) and verification (after the edits). Raises
    UnsupportedYaml for what is not a plain tree, before anything is edited."""
    if item.position not in run.expected:
        run.expected[item.position] = to_data(item.node, f"{item.kind} {item.name}")
    return run.expected[item.position]


def edit(run: Run, item: krm.Item, prefix: Path, ops: list[Op]) -> None:
    """Carry ops into the item's text and into its expected data."""
    data = expected_data(run, item)
    edit_text(item.source.editor, item.node, prefix, ops)
    if ops:
        note_planned(run, item, planned.entries(data, prefix, ops))
        apply_ops(data, prefix, ops)
        run.edited.add(item.position)


def set_annotation(
    run: Run,
    item: krm.Item,
    annotations: Path,
    entry: tuple[str, str | None],
    emptied: str = "absent",
) -> bool:
    """Set (`(key, value)`; a value of None removes it) one annotation in the mapping at
    `annotations`, in the text
    and in the expected data. A mapping left empty becomes what `emptied` says it was before
    ("absent": it goes, with its key; "null"; "empty": `{}`). Whether it changed. Raises
    UnsupportedYaml (before editing) for objects that are not plain trees."""
    key, value = entry
    _mappings_on_the_way(item, annotations)
    data = expected_data(run, item)
    node = node_at(item.node, annotations)
    current = node_at(node, (key,))
    if value is None:
        if current is None:
            return False
        last = isinstance(node, yaml.MappingNode) and len(node.value) == 1
        gone = _emptied(item, (*annotations, key))
        if last and emptied == "empty":
            edit(run, item, (), [Op("replace", annotations, {})])
        elif last and emptied.startswith("null"):
            edit(run, item, (), [Op("replace", annotations, null_of(emptied))])
        elif emptied.startswith("parent-null") and gone == annotations[:-1]:
            edit(run, item, (), [Op("replace", gone, null_of(emptied))])
        else:
            edit(run, item, (), [Op("remove", gone, None)])
        return True
    if isinstance(current, yaml.ScalarNode) and current.value == value:
        return False
    if current is None:
        item.source.editor.add_key(item.node, annotations, key, value)
    else:
        item.source.editor.replace(item.node, (*annotations, key), value)
    op = Op("replace", (*annotations, key), value)
    said = planned.entries(data, (), [op])
    note_planned(run, item, [e._replace(action="add") for e in said] if current is None else said)
    apply_ops(data, (), [op])
    run.edited.add(item.position)
    return True


def note_planned(
    run: Run, item: krm.Item, entries: list[planned.Entry], key: str | None = None
) -> None:
    """Say what an edit of `item` adds (in its pod template string at data `key`)."""
    target = planned.target(item, key)
    run.planned += [(item.position, target, entry) for entry in entries]


def _mappings_on_the_way(item: krm.Item, path: Path) -> None:
    """Raise UnsupportedYaml where a step of `path` is there but is no mapping (`metadata:
    []`): there is no place to write an annotation, and the API server refuses it anyway."""
    for end in range(1, len(path) + 1):
        found = node_at(item.node, path[:end])
        if found is None or is_null(found):
            return  # missing from here on: made on the way
        if not isinstance(found, yaml.MappingNode):
            raise UnsupportedYaml(f"{dotted(path[:end])} is not a mapping: no annotation fits")


def remove_annotations(run: Run, item: krm.Item, annotations: Path, keys: set[str]) -> None:
    """Remove annotations from the mapping at `annotations`; all of them: the mapping too."""
    node = node_at(item.node, annotations)
    present = [getattr(key, "value", None) for key, _ in mapping_pairs(node)]
    if not keys & set(present):
        return
    if set(present) <= keys:
        edit(run, item, (), [Op("remove", _emptied(item, annotations), None)])
        return
    edit(run, item, (), [Op("remove", (*annotations, key), None) for key in sorted(keys)])


def _emptied(item: krm.Item, path: Path) -> Path:
    """What to remove to remove `path`: a mapping it would leave empty goes too (an
    `annotations`, or a pod template `metadata`, that inject made for its record)."""
    while len(path) > 1:
        parent = node_at(item.node, path[:-1])
        if not (isinstance(parent, yaml.MappingNode) and len(parent.value) == 1):
            break
        path = path[:-1]
    return path


def edit_text(editor: Editor, root: Node, prefix: Path, ops: list[Op]) -> None:
    """Carry planned ops into a text (apply_ops carries the same ops into the data)."""
    for op in ops:
        if op.action == "append":
            editor.append(root, prefix + op.path, op.value)
        elif op.action == "insert":
            editor.insert(root, prefix + op.path, op.value)
        elif op.action == "remove":
            editor.remove(root, prefix + op.path)
        elif op.action == "restore":
            editor.restore(root, prefix + op.path, op.value.text)
        else:
            editor.replace(root, prefix + op.path, op.value)


def result(workload: Workload, severity: str, message: str, path: Path | None, rule: str) -> Result:
    """An inject result about a workload, at a path in its object."""
    return workload.item.result(
        message,
        severity,  # type: ignore[arg-type]
        dotted(path) if path else None,
        {**TAG, "rule": rule},
    )
