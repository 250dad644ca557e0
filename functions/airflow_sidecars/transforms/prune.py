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

from airflow_sidecars.configuration.config import Config
from airflow_sidecars.krmio import krm
from airflow_sidecars.krmio.results import Result, Severity
from airflow_sidecars.planning import podtemplate, serviceaccounts
from airflow_sidecars.planning.edits import (
    TAG,
    Run,
    edit,
    expected_data,
    remove_annotations,
    result,
    set_annotation,
)
from airflow_sidecars.planning.podtemplate import Template
from airflow_sidecars.pods.podspec import Plan
from airflow_sidecars.recording import records
from airflow_sidecars.recording.recordshape import RecordError
from airflow_sidecars.recording.takeback import Claims, Verdict, judge
from airflow_sidecars.renders.airflow import Workload, find_workloads, templates_first
from airflow_sidecars.renders.release import Release, ReleaseKey, release_namespaces, releases
from airflow_sidecars.text.yamlread import (
    Node,
    Path,
    UnsupportedYaml,
    dotted,
    mapping_get,
    mapping_pairs,
    node_at,
)
from airflow_sidecars.transforms.inject import declared_for, declared_items, malformed, record_path


class Scope(NamedTuple):
    """Whose records, and what still counts as declared."""

    config: Config | None  # None: every config's records, all taken back
    keep_declared: bool  # False: take back everything (remove); True: what is no longer declared
    apply: bool = True  # False: only say what would be taken back (validate)
    force: bool = False  # take back what changed since it was added, or no config vouches for


def prune(inp: krm.Input, scope: Scope) -> Run:
    """Take back recorded items; the run holds the edits (on the input's editors), the
    expected data, and a result per object."""
    run = Run()
    every = find_workloads(inp.items)
    run.namespaces = release_namespaces(inp.items)
    config = scope.config
    known_releases = releases(inp.items, every) if config is not None and config.presets else {}
    checksums: podtemplate.Checksums = {}
    accounts = serviceaccounts.Asked()  # what the config's presets want on each account
    # The pod templates first, then the workloads: each a phase (Run.mark).
    for group in templates_first(every):
        for workload in group:
            try:
                target = _read(run, workload)
                if target is None:
                    continue
                pod, template = target
                if malformed(run, workload, pod):
                    continue  # nothing of it is taken back: the pod is left as it is
                pruned = [
                    _prune_pod(run, scope, _Found(workload, name, pod, template), known_releases)
                    for name in _record_keys(workload.item, record_path(workload), config)
                ]
                if template is not None and any(p.changed for p in pruned):
                    key = (workload.release, workload.item.namespace)
                    checksums[key] = _checksum(run, workload, pruned)
                if config is not None:  # what it wants: kept (inject), or vouched for (remove)
                    _, asked = declared_for(config, workload, pod, known_releases, run.namespaces)
                    accounts.ask(workload, pod, asked)
            except UnsupportedYaml as error:
                run.results.append(result(workload, "error", str(error), None, "unsupported-yaml"))
        run.mark()
    if scope.apply:
        podtemplate.refresh_checksums(run, every, checksums)
    run.mark()
    for item in inp.items:
        if item.kind == "ServiceAccount" and not item.is_local_config:
            wanted = accounts.of((item.namespace, str(item.name)))
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
    keys = [getattr(key, "value", "") for key, _ in mapping_pairs(node)]
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


def _prune_pod(
    run: Run, scope: Scope, found: _Found, known_releases: dict[ReleaseKey, Release]
) -> _Pruned:
    workload, name, pod = found.workload, found.name, found.pod
    where = record_path(workload)
    annotations = node_at(workload.item.node, where)
    try:
        record = records.read(annotations, name)
    except RecordError as error:
        run.results.append(_refused(workload, (*where, name), str(error), scope))
        return _Pruned(False, None)
    if record is None:
        return _Pruned(False, None)
    declared: dict[records.Item, str] = {}
    if scope.config is not None:
        declared = declared_items(
            scope.config, workload, (pod, record), known_releases, run.namespaces
        )
    gone = record.items - set(declared) if scope.keep_declared else set(record.items)
    others = _claimed_by_others(annotations, name) if scope.config is not None else {}
    claims = Claims(declared, others, workload.main_container, scope.force)
    verdict = judge(pod, record, gone, claims)
    if verdict.refused is not None:
        run.results.append(_refused(workload, (*where, name), verdict.refused, scope))
        return _Pruned(False, None)
    if not gone:
        return _Pruned(False, record)
    config_name = name.removeprefix(records.PREFIX)
    if not scope.apply:
        message = _undeclared(records.describe(gone), config_name)
        run.results.append(_validate_result(workload, message, where))
        return _Pruned(False, record)
    for severity, message in _left(verdict, config_name):
        run.results.append(result(workload, severity, message, where, "record"))
    if not verdict.take and not verdict.absent:
        return _Pruned(False, record)
    ops = records.removal_ops(pod, verdict.take, record.lists, record.took)
    if found.template is not None:
        podtemplate.write(run, workload, found.template, Plan(ops=ops))
    else:
        edit(run, workload.item, workload.pod_path, ops)
    kept = record.items - verdict.take - verdict.absent
    left = records.Record(kept, record.lists, record.checksum, record.digests, record.took)
    emptied = record.lists.get(records.ANNOTATIONS, "absent")
    set_annotation(run, workload.item, where, (name, left.dumps() if left else None), emptied)
    if verdict.take:
        message = _taken_back(records.describe(verdict.take), config_name)
        run.results.append(result(workload, "info", message, where, "taken-back"))
    return _Pruned(bool(verdict.take), record)


def _claimed_by_others(annotations: Node | None, name: str) -> dict[records.Item, str]:
    """The items other configs' records on the same object claim -> that config's name (a
    record that cannot be read claims nothing here: its own config's run refuses it)."""
    claimed: dict[records.Item, str] = {}
    for key_node, value_node in mapping_pairs(annotations):
        key = str(getattr(key_node, "value", ""))
        if key == name or not key.startswith(records.PREFIX):
            continue
        try:
            other = records.from_node(value_node)
        except RecordError:
            continue
        for item in other.items if other is not None else ():
            claimed.setdefault(item, key.removeprefix(records.PREFIX))
    return claimed


def _left(verdict: Verdict, config_name: str) -> list[tuple[Severity, str]]:
    """What stays in place, and why, as `record` warnings."""
    said: list[tuple[Severity, str]] = []
    if verdict.changed:
        said.append(
            (
                "warning",
                f"{records.describe(verdict.changed)}: changed since config {config_name!r} "
                "added it: left as it is; `airflow-sidecars remove --force` takes it",
            )
        )
    if verdict.guarded:
        said.append(
            (
                "warning",
                f"{records.describe(verdict.guarded)}: not what config {config_name!r} added, "
                "and the chart renders a container of that name: left as it is, even with "
                "--force; delete it by hand if the chart did not render it",
            )
        )
    if verdict.unproven:
        said.append(
            (
                "warning",
                f"{records.describe(verdict.unproven)}: recorded by config {config_name!r} "
                "without a digest (by version 0.1), and no config vouches for what it is now: "
                "left as it is; `airflow-sidecars remove --config FILE` with that config, or "
                "`remove --force`, takes it",
            )
        )
    for other in sorted(set(verdict.shared.values())):
        items = {item for item, owner in verdict.shared.items() if owner == other}
        said.append(
            (
                "warning",
                f"{records.describe(items)}: recorded by config {config_name!r} and by config "
                f"{other!r} too: left as it is",
            )
        )
    return said


def _refused(workload: Workload, where: Path, why: str, scope: Scope) -> Result:
    """A record that is not what inject writes: nothing of it is believed."""
    found = result(workload, "error", _not_ours(str(where[-1]), why), where[:-1], "record")
    if scope.apply:
        return found
    return found._replace(tags={"function": "validate", "rule": "record"})


def _not_ours(annotation: str, why: str) -> str:
    return (
        f"the annotation {annotation} is not a record this tool wrote: {why}. Nothing it names "
        "is taken back; correct or delete the annotation by hand"
    )


def _prune_account(
    run: Run, scope: Scope, item: krm.Item, name: str, wanted: dict[str, str]
) -> None:
    where = ("metadata", "annotations")
    try:
        record = records.read(node_at(item.node, where), name)
    except RecordError as error:
        function = "inject" if scope.apply else "validate"
        tags = {"function": function, "rule": "record"}
        run.results.append(item.result(_not_ours(name, str(error)), "error", dotted(where), tags))
        return
    if record is None:
        return
    keep = {("annotation", key) for key in wanted} if scope.keep_declared else set()
    gone = record.items - keep
    if not gone:
        return
    config_name = name.removeprefix(records.PREFIX)
    tags = {**TAG, "rule": "taken-back"}
    if not scope.apply:
        message = _undeclared(records.describe(gone), config_name)
        validate_tags = {"function": "validate", "rule": "no-longer-declared"}
        run.results.append(item.result(message, "error", "metadata.annotations", validate_tags))
        return
    annotations = _present(item)
    declared: dict[records.Item, str] = {
        ("annotation", key): records.digest(value) for key, value in wanted.items()
    }
    claims = Claims(declared, {}, "", scope.force)
    verdict = judge(annotations, record, gone, claims)
    for severity, message in _left(verdict, config_name):
        run.results.append(item.result(message, severity, dotted(where), {**TAG, "rule": "record"}))
    if not verdict.take and not verdict.absent:
        return
    try:
        kept = record.items - verdict.take - verdict.absent
        left = records.Record(kept, digests=record.digests)
        keys = {entry[1] for entry in verdict.take}
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
    if verdict.take:
        message = _taken_back(records.describe(verdict.take), config_name)
        run.results.append(item.result(message, "info", "metadata.annotations", tags))


def _undeclared(what: str, config_name: str) -> str:
    """validate's words for what is recorded and no longer declared."""
    return (
        f"{what}: recorded as added by config {config_name!r}, which no longer declares it; "
        "inject takes it back"
    )


def _taken_back(what: str, config_name: str) -> str:
    return f"took back {what} (config {config_name!r} no longer declares it)"


def _present(item: krm.Item) -> dict[str, Any]:
    """The object's annotations as data (values as the text has them)."""
    node = node_at(item.node, ("metadata", "annotations"))
    return {
        str(getattr(key, "value", "")): getattr(value, "value", None)
        for key, value in mapping_pairs(node)
    }


def _validate_result(workload: Workload, message: str, where: tuple[str | int, ...]) -> Result:
    found = result(workload, "error", message, where, "no-longer-declared")
    return found._replace(tags={"function": "validate", "rule": "no-longer-declared"})
