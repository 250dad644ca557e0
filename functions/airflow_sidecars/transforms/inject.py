"""The mutator: the config's chart values and presets, added to the matching Airflow pod specs.

For each Airflow pod spec (airflow.py) the config's values (additions.py) and the presets
that apply (presetadditions.py) are gathered into `Additions`, podspec.py plans the ops, and
edits.py carries them into the text (a splice per op, nothing else touched) and into the data
the object must have afterwards; the pod template string has its own editor (podtemplate.py).
The run (runs/outcomes.py) then parses the output again and compares it with that data
(verify.py), so that a splice that would not mean what was intended never reaches a cluster.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.charts.chart import SECTION_ALIASES
from airflow_sidecars.configuration.config import Config, HelmRun
from airflow_sidecars.krmio import krm
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.planning import chartrules, podtemplate, presetadditions, serviceaccounts
from airflow_sidecars.planning.additions import chart_additions
from airflow_sidecars.planning.edits import TAG, Run, edit, expected_data, result, set_annotation
from airflow_sidecars.pods.podshape import shape_problems
from airflow_sidecars.pods.podspec import Additions, Plan, apply_ops
from airflow_sidecars.recording import records
from airflow_sidecars.recording.recordshape import RecordError
from airflow_sidecars.renders.airflow import (
    Workload,
    find_workloads,
    merge_key_problems,
    templates_first,
    volume_claim_names,
)
from airflow_sidecars.renders.release import Release, ReleaseKey, release_namespaces, releases
from airflow_sidecars.text.yamlread import (
    Node,
    Path,
    UnsupportedYaml,
    dotted,
    mapping_pairs,
    node_at,
)
from airflow_sidecars.transforms.rules import plain_sidecar_message
from airflow_sidecars.transforms.unmatched import hooks_stream, unmatched, untested_charts

__all__ = [
    "Declared",
    "Run",
    "declared_additions",
    "declared_for",
    "declared_missing",
    "declared_missing_phases",
    "inject",
    "record_path",
]


def inject(inp: krm.Input, config: Config) -> Run:
    """Plan and make the config's edits on the input's editors; the run says what was done."""
    run = Run()
    every = find_workloads(inp.items)
    run.namespaces = release_namespaces(inp.items)
    workloads = [w for w in every if _matches(config, w)]
    run.checksums = podtemplate.checksums(every)
    known_releases = releases(inp.items, every) if config.presets else {}
    # Each step below is a phase of the results (Run.mark): a stream run release by release
    # says each phase of every part in turn (chunks.py), as one run says them.
    run.results += untested_charts(workloads)
    run.mark()
    for item, problem in merge_key_problems(inp.items):
        tags = {**TAG, "rule": "unsupported-yaml"}
        run.results.append(item.result(f"{item.kind} {item.name} {problem}", "error", None, tags))
    run.mark()

    checksums: podtemplate.Checksums = {}
    for group in templates_first(workloads):
        for workload in group:
            try:
                if _inject_pod(run, config, workload, known_releases) and workload.is_pod_template:
                    data = expected_data(run, workload.item)["data"]
                    key = (workload.release, workload.item.namespace)
                    checksums[key] = {"": podtemplate.config_checksum(data)}
            except UnsupportedYaml as error:
                found = result(workload, "error", str(error), None, "unsupported-yaml")
                run.results.append(found)
        run.mark()

    podtemplate.refresh_checksums(run, every, checksums)
    run.mark()
    hooks_only = hooks_stream(every)
    handed = serviceaccounts.annotate(run, known_releases, config, hooks_only)
    if config.helm_run is not None and hooks_only:
        sections = tuple(sorted({w.section for w in every if w.section}))
        run.handover = HelmRun(hooks_done=True, annotations=handed, hook_sections=sections)
    run.mark()
    serviceaccounts.warn_shared(run, every)
    run.mark()
    # Planning state that holds workloads, and through them the input's node trees: the
    # caller releases those before it parses the output again (runs/outcomes.py), so nothing
    # may keep them.
    run.annotations.clear()
    run.results += unmatched(config, (run.used_values, run.presets), workloads, every)
    # Items read but not edited come back as the bytes they came in as: nothing to verify.
    run.expected = {position: run.expected[position] for position in sorted(run.edited)}
    return run


def declared_missing(inp: krm.Input, config: Config) -> list[Result]:
    """What the config declares and the input lacks (exactly what inject would still add), and
    what inject finds wrong on the way (conflicts, dangling mounts, values that reach nothing),
    said as validate says them. The input is not changed: the planned edits are dropped."""
    return [found for phase in declared_missing_phases(inp, config) for found in phase]


def declared_missing_phases(inp: krm.Input, config: Config) -> list[list[Result]]:
    """declared_missing by phase (edits.Run.mark)."""
    run = inject(inp, config)
    for source in inp.sources:
        source.editor.discard()
    # inject's plain-sidecar finding is about what it would add; validate judges the pod itself.
    carried = [
        [
            r
            for r in phase
            if r.severity in ("error", "warning") and r.tags.get("rule") != "plain-sidecar"
        ]
        for phase in run.phases()
    ]
    return [
        [r._replace(tags={**r.tags, "function": "validate"}) for r in phase]
        for phase in [*run.missing_phases(), *carried]
    ]


def _matches(config: Config, workload: Workload) -> bool:
    match = config.match
    item = workload.item
    if match.releases and workload.release not in match.releases:
        return False
    if match.namespaces and item.namespace not in match.namespaces:
        return False
    return all(item.label(key) == value for key, value in match.labels.items())


def _inject_pod(
    run: Run, config: Config, workload: Workload, known_releases: dict[ReleaseKey, Release]
) -> bool:
    """Give one pod what the config says; whether its object changed."""
    if workload.users_template:
        _leave_users_template(run, config, workload, known_releases)
        return False
    additions = _chart_additions(run, config, workload)
    presets = presetadditions.presets_for(config, workload, known_releases)
    if additions.empty and not presets:
        return False
    target = _read_pod(run, workload)
    if target is None or malformed(run, workload, target.pod):
        return False
    rule = chartrules.left_out(config, workload, target.pod, additions)  # chart values only
    presetadditions.add(run, workload, target.pod, additions, presets)
    pod_plan = chartrules.plan_pod(
        target.pod,
        (additions, rule),
        replace=config.on_conflict == "replace",
        pod_path=target.where,
        extra_volume_names=volume_claim_names(workload.item),
        init_before=workload.placement.init_before,
    )
    # `target.pod` is edited in place below: after the edits it is the pod as written.
    made = records.added(target.pod, pod_plan.ops, _pod_node(workload, target))
    text = chartrules.text_of(workload, target.template)
    made.took = chartrules.took_texts(target.pod, pod_plan.ops, text)
    before = _Before(copy.deepcopy(target.pod), made, target.pod)
    if target.template is not None:
        changed = podtemplate.write(run, workload, target.template, pod_plan)
    else:
        edit(run, workload.item, workload.pod_path, pod_plan.ops)
        changed = bool(pod_plan.ops)
    if not pod_plan.findings:
        changed |= _record(run, config, workload, known_releases, before)
    _report(run, config, workload, pod_plan, target.base)
    return changed


class _Before(NamedTuple):
    pod: dict[str, Any]  # the pod before this run's edits
    made: records.Record  # what this run adds to it
    after: dict[str, Any]  # the pod, edited in place: after the edits, as written


def _record(
    run: Run,
    config: Config,
    workload: Workload,
    known_releases: dict[ReleaseKey, Release],
    before: _Before,
) -> bool:
    """Write what this config has added to the pod (what it added before and still declares,
    and what it added now) into its record on the pod template, or on the ConfigMap that
    holds the KubernetesExecutor pod template. Each item's digest is taken from what it is
    after this run's edits."""
    where = record_path(workload)
    name = records.key(config.name)
    try:
        old = records.read(node_at(workload.item.node, where), name)
    except RecordError:
        return False  # prune has said so, as an error: nothing of this run is applied
    old = old or records.Record()
    items = set(before.made.items)
    mine: dict[records.Item, str] = {}
    if old.items:  # what it added before counts while the config still declares it
        mine = declared_items(config, workload, (before.pod, old), known_releases, run.namespaces)
        items |= old.items & mine.keys()
    took = {**old.took, **before.made.took}
    record = records.Record(items, {**before.made.lists, **old.lists}, old.checksum, None, took)
    for item in items:
        record.digests[item] = _digest(item, before.after, before.made, (old, mine))
    if not old:
        state = records.form(
            node_at(workload.item.node, where), node_at(workload.item.node, where[:-1])
        )
        if state is not None:
            record.lists[records.ANNOTATIONS] = state
    if workload.is_pod_template and record.checksum is None:
        record.checksum = _chart_checksum(run, workload)
    text = record.dumps() if record else None
    return set_annotation(run, workload.item, where, (name, text))


def _digest(
    item: records.Item,
    pod: dict[str, Any],
    made: records.Record,
    old_and_declared: tuple[records.Record, dict[records.Item, str]],
) -> str:
    """An item's digest in the new record: what it is now, when this run wrote it, or the
    record vouched for it, or it is what the config declares (a record of 0.1.x had no
    digests); otherwise the old digest stays (or none), and a take-back will not trust it."""
    old, declared = old_and_declared
    found = records.entry(pod, item)
    if found is None:
        return old.digests.get(item, "")
    now = records.digest(found)
    if item in made.items or now in (old.digests.get(item), declared.get(item)):
        return now
    return old.digests.get(item, "")


def _chart_checksum(run: Run, workload: Workload) -> dict[str, str] | None:
    """The checksum/airflow-config the chart rendered: another config's record of it, else
    what the release's pods carry (not yet refreshed in this run)."""
    node = node_at(workload.item.node, ("metadata", "annotations"))
    for key_node, value_node in mapping_pairs(node):
        if str(getattr(key_node, "value", "")).startswith(records.PREFIX):
            try:
                other = records.from_node(value_node)
            except RecordError:
                continue
            if other is not None and other.checksum is not None:
                return other.checksum
    return run.checksums.get((workload.release, workload.item.namespace))


def record_path(workload: Workload) -> Path:
    """The annotations that hold a pod's records: its pod template's, or the ConfigMap's."""
    if workload.is_pod_template:
        return ("metadata", "annotations")
    return (*workload.pod_path[:-1], "metadata", "annotations")


def declared_items(
    config: Config,
    workload: Workload,
    pod_and_record: tuple[dict[str, Any], records.Record],
    known_releases: dict[ReleaseKey, Release],
    namespaces: dict[str | None, set[str]],
) -> dict[records.Item, str]:
    """What the config gives the pod as the chart rendered it: presets decide from the pod
    (reuse a DAG volume, set [core] security when unset), so they are asked about the pod
    without what the config's record says it added - the same question as on the first run.
    Each item comes with the digest of what the config would add."""
    declared = declared_additions(config, workload, pod_and_record, known_releases, namespaces)
    return records.declared(declared.pod, declared.additions)


class Declared(NamedTuple):
    """What a config gives one pod, asked as on the first run."""

    pod: dict[str, Any]  # the pod without the record's items: what the question was asked of
    additions: Additions
    annotations: dict[str, str]  # what its ServiceAccount should carry (presets)


def declared_additions(
    config: Config,
    workload: Workload,
    pod_and_record: tuple[dict[str, Any], records.Record],
    known_releases: dict[ReleaseKey, Release],
    namespaces: dict[str | None, set[str]],
) -> Declared:
    """declared_items' question, with the answer as the additions themselves (and the
    ServiceAccount annotations), and the pod without the record's items that they were asked
    about."""
    pod, record = pod_and_record
    base = copy.deepcopy(pod)
    apply_ops(base, (), records.removal_ops(base, record.items, record.lists, record.took))
    additions, annotations = declared_for(config, workload, base, known_releases, namespaces)
    return Declared(base, additions, annotations)


def declared_for(
    config: Config,
    workload: Workload,
    pod: dict[str, Any],
    known_releases: dict[ReleaseKey, Release],
    namespaces: dict[str | None, set[str]],
) -> tuple[Additions, dict[str, str]]:
    """Everything the config gives this pod (its chart values and presets) and the
    ServiceAccount annotations the presets ask for; nothing is reported."""
    if not _matches(config, workload) or workload.users_template:
        return Additions(), {}
    additions = chart_additions(config, workload, namespaces).additions
    presets = presetadditions.presets_for(config, workload, known_releases)
    from_presets, annotations = presetadditions.quietly(presets, workload, pod)
    additions.extend(from_presets)
    return additions, annotations


class _Target(NamedTuple):
    """The pod spec to plan, as data, and where it is."""

    pod: Any
    where: str  # its path, as messages say it
    base: Path  # the field results point at
    template: podtemplate.Template | None  # the pod template it is in, if it is in one


def _read_pod(run: Run, workload: Workload) -> _Target | None:
    """The workload's pod spec, or None (and a result saying why) when it cannot be edited."""
    item = workload.item
    if workload.is_pod_template:
        template = podtemplate.read(run, workload)
        if template is None:
            return None
        return _Target(template.pod, _where(workload), podtemplate.value_path(workload), template)
    if not isinstance(node_at(item.node, workload.pod_path), yaml.MappingNode):
        message = f"{dotted(workload.pod_path)} is not a pod spec"
        run.results.append(result(workload, "error", message, workload.pod_path, "not-a-pod"))
        return None
    # One conversion per item serves the plan (read) and the expected data (written after);
    # it also refuses what is not a plain tree (aliases, odd tags) before anything is edited.
    pod = _data_at(expected_data(run, item), workload.pod_path)
    return _Target(pod, _where(workload), workload.pod_path, None)


def _pod_node(workload: Workload, target: _Target) -> Node | None:
    """The pod spec's node: in the pod template's own tree, or in the workload's."""
    if target.template is not None:
        return node_at(target.template.root, ("spec",))
    return node_at(workload.item.node, workload.pod_path)


def _where(workload: Workload) -> str:
    """Where the pod spec is, as messages say it."""
    if workload.is_pod_template:
        return f"data.{workload.template_key}#spec"
    return dotted(workload.pod_path)


def _chart_additions(run: Run, config: Config, workload: Workload) -> Additions:
    found = chart_additions(config, workload, run.namespaces)
    run.used_values |= found.used_values
    run.results += found.results
    return found.additions


def malformed(run: Run, workload: Workload, pod: Any) -> bool:
    """Report a pod spec whose fields have shapes no Kubernetes object has; such a pod is left
    as it is (planning it would guess at what the author meant). Prune asks first (its
    take-back reads the pod too); the run reports each result once."""
    pod_path = _where(workload)
    problems = shape_problems(pod)
    for path, what in problems:
        message = f"{pod_path}{'.' + dotted(path) if path else ''} {what}; the pod is left as it is"
        at = workload.pod_path + path if not workload.is_pod_template else None
        run.results.append(result(workload, "error", message, at, "malformed-pod"))
    return bool(problems)


def _report(run: Run, config: Config, workload: Workload, pod_plan: Plan, base: Path) -> None:
    if workload.is_job:
        _plain_sidecars(run, config, workload, pod_plan, base)
    for finding in pod_plan.findings:
        path = base + finding.path if not workload.is_pod_template else base
        run.results.append(result(workload, finding.severity, finding.message, path, finding.rule))
    what = (
        "the KubernetesExecutor pod template"
        if workload.is_pod_template
        else workload.section or workload.component  # a component with no config section
    )
    if pod_plan.added:
        message = f"{what}: added " + ", ".join(pod_plan.added)
        run.results.append(result(workload, "info", message, base, "added"))
        missing = f"{what}: the config declares " + ", ".join(pod_plan.added) + ", not here"
        run.declared_missing.append(result(workload, "error", missing, base, "declared-missing"))
    elif pod_plan.unchanged and not pod_plan.findings:
        message = f"{what}: unchanged, already has " + ", ".join(pod_plan.unchanged)
        run.results.append(result(workload, "info", message, base, "unchanged"))


def _plain_sidecars(
    run: Run, config: Config, workload: Workload, pod_plan: Plan, base: Path
) -> None:
    """A plain sidecar keeps a KubernetesExecutor task pod or a Job running forever
    (docs/krm-contract.md §4.5): an error, unless its section says the container exits on its
    own (`allowPlainSidecars`). The edit itself keeps the chart's meaning of extraContainers."""
    for op in pod_plan.ops:
        if op.action != "append" or op.path != ("containers",):
            continue
        for container in op.value:
            origin = pod_plan.origins.get(container["name"], "")
            section = origin.split(".")[1] if origin.count(".") >= 1 else "<section>"
            if SECTION_ALIASES.get(section, section) in config.plain_sidecars_allowed:
                continue
            message = plain_sidecar_message(container["name"], workload, section)
            run.results.append(result(workload, "error", message, base, "plain-sidecar"))


def _leave_users_template(
    run: Run, config: Config, workload: Workload, known_releases: dict[ReleaseKey, Release]
) -> None:
    """A pod template the user supplied (`podTemplate`) is written into the config ConfigMap
    as it is: the chart adds none of its extra values to it, and neither do we. Say what the
    config would have added, so that the user adds it to their template."""
    found = chart_additions(config, workload, run.namespaces)  # its findings are not this run's
    run.used_values |= found.used_values  # reached, and said so here
    additions = found.additions
    presets = presetadditions.presets_for(config, workload, known_releases)
    run.presets.update(preset.name for preset, _, _ in presets)
    if additions.empty and not presets:
        return
    what = [w.value["name"] for w in (*additions.init_containers, *additions.containers)]
    what += [w.value["name"] for w in additions.volumes]
    what += [preset.name for preset, _, _ in presets]
    message = (
        f"{workload.template_key} is a pod template of your own (chart value podTemplate), "
        "which the chart adds no extra values to: left as it is. Add what you want in task "
        f"pods ({', '.join(what)}) to that template"
    )
    where = podtemplate.value_path(workload)
    run.results.append(result(workload, "warning", message, where, "pod-template"))


def _data_at(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data
