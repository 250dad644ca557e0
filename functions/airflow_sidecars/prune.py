"""Taking back what a config added and no longer declares, by its records (records.py).

inject runs this first (when the input holds a record of its config): the pruned text is
parsed again and the config is injected into it, so that removing a sidecar from a config and
running it again gives what injecting the new config into the chart's render gives.
`airflow-sidecars remove` runs it with nothing declared: everything recorded (of one config,
or of all) is taken back, and the chart's render comes back. validate runs it without editing,
to say what is recorded and no longer declared.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import krm, podtemplate, records
from .airflow import Workload, find_workloads
from .config import Config
from .edits import TAG, Run, edit, expected_data, remove_annotations, result, set_annotation
from .inject import declared_for, declared_items, record_path
from .podspec import Plan
from .podtemplate import Template
from .release import Release, ReleaseKey, releases
from .results import Result
from .yamlread import UnsupportedYaml, mapping_get, node_at, scalar_at


class Scope(NamedTuple):
    """Whose records, and what still counts as declared."""

    config: Config | None  # None: every config's records, all taken back
    keep_declared: bool  # False: take back everything (remove); True: what is no longer declared
    apply: bool = True  # False: only say what would be taken back (validate)


def prune(inp: krm.Input, scope: Scope) -> Run:
    """Take back recorded items; the run holds the edits (on the input's editors), the
    expected data, and a result per object."""
    run = Run()
    every = find_workloads(inp.items)
    for item in inp.items:
        if item.namespace is not None and not item.is_local_config:
            run.namespaces.setdefault(item.label("release"), set()).add(item.namespace)
    config = scope.config
    facts = releases(inp.items, every) if config is not None and config.presets else {}
    checksums: podtemplate.Checksums = {}
    accounts: dict[tuple[str | None, str], set[str]] = {}  # ServiceAccount -> annotations wanted
    for workload in sorted(every, key=lambda w: not w.is_pod_template):
        try:
            target = _read(run, workload)
            if target is None:
                continue
            pod, template = target
            pruned = [
                _prune_pod(run, scope, _Found(workload, name, pod, template), facts)
                for name in _record_keys(workload.item, record_path(workload), config)
            ]
            if template is not None and any(p.changed for p in pruned):
                key = (workload.release, workload.item.namespace)
                checksums[key] = _checksum(run, workload, pruned)
            if config is not None and scope.keep_declared:
                _, asked = declared_for(config, workload, pod, facts, run.namespaces)
                account = str(pod.get("serviceAccountName") or "default")
                accounts.setdefault((workload.item.namespace, account), set()).update(asked)
        except UnsupportedYaml as error:
            run.results.append(result(workload, "error", str(error), None, "unsupported-yaml"))
    if scope.apply:
        podtemplate.refresh_checksums(run, every, checksums)
    for item in inp.items:
        if item.kind == "ServiceAccount" and not item.is_local_config:
            wanted = accounts.get((item.namespace, str(item.name)), set())
            for name in _record_keys(item, ("metadata", "annotations"), config):
                _prune_account(run, scope, item, name, wanted)
    run.expected = {position: run.expected[position] for position in sorted(run.edited)}
    return run


def _read(run: Run, workload: Workload) -> tuple[dict[str, Any], Template | None] | None:
    """The pod spec as data (in the run's expected data, which edits keep up to date), and
    the pod template it is in; None when there is none to read (inject reports why)."""
    if not workload.is_pod_template:
        pod = expected_data(run, workload.item)
        for step in workload.pod_path:
            pod = pod.get(step) if isinstance(pod, dict) else None
        return (pod, None) if isinstance(pod, dict) else None
    try:
        found = podtemplate.load(workload)
    except UnsupportedYaml:
        return None
    if isinstance(found, podtemplate.Unreadable) or not isinstance(found.data.get("spec"), dict):
        return None
    return found.pod, found


def _record_keys(item: krm.Item, where: tuple[str | int, ...], config: Config | None) -> list[str]:
    """The record annotations on an object: its config's, or (no config) every one."""
    node = node_at(item.node, where)
    if config is not None:
        name = records.key(config.name)
        return [name] if mapping_get(node, name) is not None else []
    keys = [getattr(key, "value", "") for key, _ in getattr(node, "value", [])]
    return sorted(str(key) for key in keys if str(key).startswith(records.PREFIX))


class _Found(NamedTuple):
    """One config's record on one pod."""

    workload: Workload
    name: str  # the record's annotation
    pod: dict[str, Any]
    template: Template | None


class _Pruned(NamedTuple):
    changed: bool
    record: records.Record | None  # what the record said


def _checksum(run: Run, workload: Workload, pruned: list[_Pruned]) -> dict[str, str]:
    """The pod template changed: a checksum of its ConfigMap's data, or, when no config's
    record is left on it, the chart's own (recorded by the first config that edited it)."""
    computed = podtemplate.config_checksum(expected_data(run, workload.item)["data"])
    recorded = [p.record.checksum for p in pruned if p.changed and p.record and p.record.checksum]
    if recorded and not _records_left(run, workload):
        return {"": computed, **recorded[0]}
    return {"": computed}


def _records_left(run: Run, workload: Workload) -> bool:
    """Whether the object keeps a record of some config after this run's edits."""
    annotations = expected_data(run, workload.item)
    for step in record_path(workload):
        annotations = annotations.get(step) if isinstance(annotations, dict) else None
    keys = annotations if isinstance(annotations, dict) else {}
    return any(str(key).startswith(records.PREFIX) for key in keys)


def _prune_pod(run: Run, scope: Scope, found: _Found, facts: dict[ReleaseKey, Release]) -> _Pruned:
    workload, name, pod = found.workload, found.name, found.pod
    where = record_path(workload)
    record = records.loads(scalar_at(node_at(workload.item.node, where), name))
    if record is None:
        return _Pruned(False, None)
    keep: set[records.Item] = set()
    if scope.keep_declared and scope.config is not None:
        keep = declared_items(scope.config, workload, (pod, record), facts, run.namespaces)
    gone = record.items - keep
    if not gone:
        return _Pruned(False, record)
    what = records.describe(gone)
    config_name = name.removeprefix(records.PREFIX)
    if not scope.apply:
        message = _undeclared(what, config_name)
        run.results.append(_validate_result(workload, message, where))
        return _Pruned(False, record)
    ops = records.removal_ops(pod, gone, record.lists)
    if found.template is not None:
        podtemplate.write(run, workload, found.template, Plan(ops=ops))
    else:
        edit(run, workload.item, workload.pod_path, ops)
    left = records.Record(record.items - gone, record.lists, record.checksum)
    emptied = record.lists.get(records.ANNOTATIONS, "absent")
    set_annotation(run, workload.item, where, (name, left.dumps() if left else None), emptied)
    message = _taken_back(what, config_name)
    run.results.append(result(workload, "info", message, where, "taken-back"))
    return _Pruned(True, record)


def _prune_account(run: Run, scope: Scope, item: krm.Item, name: str, wanted: set[str]) -> None:
    where = ("metadata", "annotations")
    record = records.loads(scalar_at(item.node, *where, name))
    if record is None:
        return
    keep = {("annotation", key) for key in wanted} if scope.keep_declared else set()
    gone = record.items - keep
    if not gone:
        return
    what = records.describe(gone)
    config_name = name.removeprefix(records.PREFIX)
    tags = {**TAG, "rule": "taken-back"}
    if not scope.apply:
        message = _undeclared(what, config_name)
        validate_tags = {"function": "validate", "rule": "no-longer-declared"}
        run.results.append(item.result(message, "error", "metadata.annotations", validate_tags))
        return
    try:
        left = records.Record(record.items - gone)
        keys = {entry[1] for entry in gone if entry[1] in _present(item)}
        if left:
            remove_annotations(run, item, where, keys)
            set_annotation(run, item, where, (name, left.dumps()))
        else:
            remove_annotations(run, item, where, keys | {name})
    except UnsupportedYaml as error:
        run.results.append(
            item.result(str(error), "error", None, {**TAG, "rule": "unsupported-yaml"})
        )
        return
    message = _taken_back(what, config_name)
    run.results.append(item.result(message, "info", "metadata.annotations", tags))


def _undeclared(what: str, config_name: str) -> str:
    """validate's words for what is recorded and no longer declared."""
    return (
        f"{what}: recorded as added by config {config_name!r}, which no longer declares it; "
        "inject takes it back"
    )


def _taken_back(what: str, config_name: str) -> str:
    return f"took back {what} (config {config_name!r} no longer declares it)"


def _present(item: krm.Item) -> set[str]:
    node = node_at(item.node, ("metadata", "annotations"))
    return {str(getattr(key, "value", "")) for key, _ in getattr(node, "value", [])}


def _validate_result(workload: Workload, message: str, where: tuple[str | int, ...]) -> Result:
    found = result(workload, "error", message, where, "no-longer-declared")
    return found._replace(tags={"function": "validate", "rule": "no-longer-declared"})
