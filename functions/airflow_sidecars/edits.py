"""The state of one inject run, and the one way a planned edit is made: into the text (a splice
per op, yamledit.Editor) and into the data the edited object must have afterwards (verify.py
compares the two)."""

from __future__ import annotations

from typing import Any, NamedTuple

from . import krm
from .airflow import Workload
from .chart import ValuePath
from .podspec import Op, apply_ops
from .results import Result
from .yamledit import Editor
from .yamlread import Node, Path, dotted, to_data

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
        "declared_missing",
        "edited",
        "expected",
        "expected_templates",
        "namespaces",
        "presets",
        "results",
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
        # release -> the namespaces its objects name (for `{{ .Release.Namespace }}`)
        self.namespaces: dict[str | None, set[str]] = {}


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
        apply_ops(data, prefix, ops)
        run.edited.add(item.position)


def edit_text(editor: Editor, root: Node, prefix: Path, ops: list[Op]) -> None:
    """Carry planned ops into a text (apply_ops carries the same ops into the data)."""
    for op in ops:
        if op.action == "append":
            editor.append(root, prefix + op.path, op.value)
        elif op.action == "insert":
            editor.insert(root, prefix + op.path, op.value)
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
