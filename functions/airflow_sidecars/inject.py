"""The mutator: the config's chart-vocabulary values and presets, added to the matching Airflow
pod specs.

For each Airflow pod spec (airflow.py) the sections and presets (presets.py) that apply are
gathered into `Additions`,
podspec.py plans the ops, and the ops are carried both into the text (yamledit.Editor: a
splice per op, nothing else touched) and into the expected data. The output is then parsed
again and compared with the expected data, so a splice that would not mean what was intended
is caught here instead of reaching a cluster (see `verify`).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import yaml

from . import krm
from .airflow import (
    CONFIG_CHECKSUM_ANNOTATION,
    Workload,
    find_workloads,
    merge_key_problems,
    volume_claim_names,
)
from .chart import Source, ValuePath, templated
from .config import Config
from .podspec import Additions, Op, Plan, Wanted, apply_ops, plan, shape_problems
from .presets import PodFacts, components, expand, targets
from .reach import untested_charts, unused_values
from .release import Release, ReleaseKey, releases
from .results import Result
from .templating import Context, TemplateError, has_template, render
from .yamledit import (
    Editor,
    Node,
    Path,
    YamlEditError,
    compose_all,
    detect_seq_indent,
    dotted,
    node_at,
    scalar_at,
    splice_literal,
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
        "edited",
        "expected",
        "expected_templates",
        "missing",
        "namespaces",
        "presets",
        "results",
        "used_values",
    )

    def __init__(
        self,
        results: list[Result] | None = None,
        expected: dict[int, Any] | None = None,  # item position -> data
        edited: set[int] | None = None,  # positions whose text was edited
        expected_templates: dict[int, tuple[str, Any]] | None = None,
    ) -> None:
        self.results: list[Result] = [] if results is None else results
        self.expected: dict[int, Any] = {} if expected is None else expected
        self.edited: set[int] = set() if edited is None else edited
        self.expected_templates: dict[int, tuple[str, Any]] = (
            {} if expected_templates is None else expected_templates
        )
        # ServiceAccount annotations that presets ask for: (namespace, name) -> what they want;
        # and the presets that reached a pod.
        self.annotations: dict[tuple[str | None, str], WantedAnnotations] = {}
        self.presets: set[str] = set()
        # What the config declares and the input lacks, said the way `validate` reports it.
        self.missing: list[Result] = []
        self.used_values: set[ValuePath] = set()  # config values some pod took
        # release -> the namespaces its objects name (for `{{ .Release.Namespace }}`)
        self.namespaces: dict[str | None, set[str]] = {}


def inject(inp: krm.Input, config: Config) -> Run:
    run = Run()
    every = find_workloads(inp.items)
    for item in inp.items:
        if item.namespace is not None and not item.is_local_config:
            run.namespaces.setdefault(item.label("release"), set()).add(item.namespace)
    workloads = [w for w in every if _matches(config, w)]
    checksums: dict[tuple[str | None, str | None], str] = {}
    facts = releases(inp.items, every) if config.presets else {}
    run.results += untested_charts(workloads)
    for item, problem in merge_key_problems(inp.items):
        tags = {**TAG, "rule": "unsupported-yaml"}
        message = f"{item.kind} {item.name} {problem}"
        run.results.append(Result(message, "error", item.ref(), None, item.file(), tags))

    for workload in sorted(workloads, key=lambda w: not w.is_pod_template):
        if workload.users_template:
            _leave_users_template(run, config, workload, facts)
            continue
        additions = _additions(run, config, workload)
        presets = _presets_for(config, workload, facts)
        if additions.empty and not presets:
            continue
        try:
            if workload.is_pod_template:
                new_data = _inject_pod_template(run, workload, additions, config, presets)
                if new_data is not None:
                    key = (workload.release, workload.item.namespace)
                    checksums[key] = _config_checksum(new_data)
            else:
                _inject_workload(run, workload, additions, config, presets)
        except YamlEditError as error:
            run.results.append(_result(workload, "error", str(error), None, "unsupported-yaml"))

    _refresh_checksums(run, every, checksums)
    _annotate_service_accounts(run, facts, config)
    _warn_shared_service_accounts(run, every)
    # Planning state that holds workloads, and through them the input's node trees: the
    # caller releases those before it parses the output again (api.py), so nothing may keep them.
    run.annotations.clear()
    run.results += unused_values(config, run.used_values, workloads, every)
    run.results += _unmatched_presets(config, run.presets)
    # Items read but not edited come back as the bytes they came in as: nothing to verify.
    run.expected = {position: run.expected[position] for position in sorted(run.edited)}
    return run


def _matches(config: Config, workload: Workload) -> bool:
    match = config.match
    item = workload.item
    if match.releases and workload.release not in match.releases:
        return False
    if match.namespaces and item.namespace not in match.namespaces:
        return False
    return all(item.label(key) == value for key, value in match.labels.items())


def _additions(run: Run, config: Config, workload: Workload) -> Additions:
    """What the chart would give this pod for the config's values (chart.py's placement)."""
    placement = workload.placement
    chosen = _Chosen(run, config, workload)
    additions = Additions()
    containers = [found for source in placement.containers if (found := chosen(source))]
    init_containers = [found for source in placement.init_containers if (found := chosen(source))]
    # A container that the config itself adds is the user's, not the chart's, even when the
    # input already has it (a second run): the chart does not mount extraVolumeMounts into it.
    own = frozenset(
        entry.get("name") for found in (*containers, *init_containers) for entry in found.entries
    )
    for found in init_containers:
        additions.init_containers += _wanted(found.entries, found.origin)
    for found in containers:
        sidecars = _wanted(found.entries, found.origin)
        if source_section(found.path) in config.native_sidecars:
            # Native sidecars (Kubernetes 1.29+): init containers that keep running, started
            # before and stopped after the main containers, so that Jobs and task pods end.
            additions.init_containers += [
                Wanted({**w.value, "restartPolicy": "Always"}, w.origin) for w in sidecars
            ]
        else:
            additions.containers += sidecars
    for source in placement.volumes:
        found = chosen(source)
        if found is not None:
            additions.volumes += _wanted(found.entries, found.origin)
    for mounts in placement.mounts:
        found = chosen(mounts.source)
        if found is not None:
            additions.mounts += [
                (wanted, mounts.containers - own, mounts.init_containers - own)
                for wanted in _wanted(found.entries, found.origin)
            ]
    return additions


class _Found(NamedTuple):
    """The list a source takes, after the chart's `tpl` where the chart applies it."""

    path: ValuePath
    entries: tuple[dict[str, Any], ...]
    origin: str


class _Chosen:
    """For one pod: the config list each of the chart's sources takes (the first of its chain
    that the config sets), templated as the chart would; every chosen path is recorded as used,
    so that the config's other values can be reported."""

    def __init__(self, run: Run, config: Config, workload: Workload) -> None:
        self.run, self.config, self.workload = run, config, workload

    def __call__(self, source: Source) -> _Found | None:
        for path in source.chain:
            value_list = self.config.values.get(path)
            if value_list is None or not value_list.entries:
                continue
            self.run.used_values.add(path)
            return self._templated(path, value_list.entries, value_list.origin)
        return None

    def _templated(
        self, path: ValuePath, entries: tuple[dict[str, Any], ...], origin: str
    ) -> _Found | None:
        workload = self.workload
        if not has_template(list(entries)):
            return _Found(path, entries, origin)
        if not templated(workload.chart, path):
            message = (
                f"{origin} has {{{{ ... }}}}, which the {workload.chart.name} does not evaluate "
                "for this value: it goes in as written"
            )
            self.run.results.append(_result(workload, "warning", message, None, "template"))
            return _Found(path, entries, origin)
        try:
            context = template_context(workload, self.run.namespaces)
            rendered = render(list(entries), origin, context)
        except TemplateError as error:
            self.run.results.append(_result(workload, "error", str(error), None, "template"))
            return None
        return _Found(path, tuple(rendered), origin)


def source_section(path: ValuePath) -> str:
    """The config section a values path belongs to (`nativeSidecars` is set there)."""
    return path[0]


def template_context(workload: Workload, namespaces: dict[str | None, set[str]]) -> Context:
    """What the render says about the workload's release. The chart writes no namespace on its
    workloads (Helm sets it when it applies them) but does on its Roles, RoleBindings and some
    Secrets: the release's namespace is the one those name, when they agree."""
    item = workload.item
    version = workload.chart.version
    named = namespaces.get(workload.release, set())
    return Context(
        release=workload.release,
        namespace=item.namespace or (next(iter(named)) if len(named) == 1 else None),
        chart_version=".".join(map(str, version)) if version else None,
        fullname=workload.slot.fullname(item.name, workload.worker_set),
    )


def _wanted(values: tuple[dict[str, Any], ...], base: str) -> list[Wanted]:
    return [Wanted(value, f"{base}[{number}]") for number, value in enumerate(values)]


Presets = list[tuple[str, Any, Release | None]]  # (name, parameters, the workload's release)


def _presets_for(config: Config, workload: Workload, facts: dict[ReleaseKey, Release]) -> Presets:
    """The presets whose components include this workload's."""
    release = facts.get((workload.release, workload.item.namespace))
    found: Presets = []
    for name, params in config.presets.items():
        if targets(components(name, params, release), workload):
            found.append((name, params, release))
    return found


def _add_presets(
    run: Run, workload: Workload, pod: dict[str, Any], additions: Additions, presets: Presets
) -> None:
    base = workload.pod_path if not workload.is_pod_template else ("data",)
    for name, params, release in presets:
        run.presets.add(name)
        expansion = expand(name, params, PodFacts(workload, pod, release, workload.is_job))
        additions.extend(expansion.additions)
        for severity, message, rule in expansion.notes:
            run.results.append(_result(workload, severity, message, base, rule))
        if expansion.annotations:
            account = pod.get("serviceAccountName") or "default"
            key = (workload.item.namespace, str(account))
            wanted = run.annotations.setdefault(key, WantedAnnotations(workload, {}, set()))
            wanted.values.update(expansion.annotations)
            wanted.askers.add((workload.item.position, workload.pod_path))


def _inject_workload(
    run: Run, workload: Workload, additions: Additions, config: Config, presets: Presets
) -> None:
    item = workload.item
    pod_node = node_at(item.node, workload.pod_path)
    if not isinstance(pod_node, yaml.MappingNode):
        message = f"{dotted(workload.pod_path)} is not a pod spec"
        run.results.append(_result(workload, "error", message, workload.pod_path, "not-a-pod"))
        return
    # One conversion per item serves the plan (read) and the expected data (written after);
    # it also refuses what is not a plain tree (aliases, odd tags) before anything is edited.
    data = _expected(run, item)
    pod = _data_at(data, workload.pod_path)
    if _malformed(run, workload, pod, dotted(workload.pod_path)):
        return
    _add_presets(run, workload, pod, additions, presets)
    pod_plan = plan(
        pod,
        additions,
        replace=config.on_conflict == "replace",
        pod_path=dotted(workload.pod_path),
        extra_volume_names=volume_claim_names(item),
        init_before=workload.placement.init_before,
    )
    _edit_text(item.source.editor, item.node, workload.pod_path, pod_plan.ops)
    if pod_plan.ops:
        apply_ops(data, workload.pod_path, pod_plan.ops)
        run.edited.add(item.position)
    _report(run, workload, pod_plan, workload.pod_path)


def _inject_pod_template(
    run: Run, workload: Workload, additions: Additions, config: Config, presets: Presets
) -> dict[str, Any] | None:
    """Edit the pod template string in place; return the ConfigMap's new data when it changed."""
    item = workload.item
    assert workload.template_key is not None
    value_path = ("data", workload.template_key)
    scalar = node_at(item.node, value_path)
    assert isinstance(scalar, yaml.ScalarNode)
    text = str(scalar.value)
    try:
        documents = [doc for doc in compose_all(text) if doc is not None]
    except yaml.YAMLError as error:
        message = (
            f"{workload.template_key} is not valid YAML ({_yaml_problem(error)}); left as it is"
        )
        run.results.append(_result(workload, "error", message, value_path, "pod-template"))
        return None
    if len(documents) != 1 or not isinstance(documents[0], yaml.MappingNode):
        message = f"{workload.template_key} does not hold one Pod document; left as it is"
        run.results.append(_result(workload, "warning", message, value_path, "pod-template"))
        return None
    root = documents[0]
    template = to_data(root, f"the pod template in {item.kind} {item.name}")  # plain, or raises
    pod = template.get("spec", {})
    if _malformed(run, workload, pod, f"data.{workload.template_key}#spec"):
        return None
    _add_presets(run, workload, pod, additions, presets)
    pod_plan = plan(
        pod,
        additions,
        replace=config.on_conflict == "replace",
        pod_path=f"data.{workload.template_key}#spec",
        init_before=workload.placement.init_before,
    )
    inner = Editor(text, seq_indent=detect_seq_indent(root, text))
    _edit_text(inner, root, ("spec",), pod_plan.ops)
    _report(run, workload, pod_plan, value_path)
    if not inner.changed:
        return None
    splice_literal(item.source.editor, scalar, inner)
    new_text = inner.apply()
    expected_pod = to_data(root)
    apply_ops(expected_pod, ("spec",), pod_plan.ops)
    expected = _expected(run, item)
    expected["data"][workload.template_key] = new_text
    run.edited.add(item.position)
    run.expected_templates[item.position] = (workload.template_key, expected_pod)
    data: dict[str, Any] = expected["data"]
    return data


def _yaml_problem(error: yaml.YAMLError) -> str:
    """libyaml's words for what is wrong, and where in the embedded text."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    return f"{problem}, line {mark.line + 1}" if mark is not None else str(problem)


def _malformed(run: Run, workload: Workload, pod: Any, pod_path: str) -> bool:
    """Report a pod spec whose fields have shapes no Kubernetes object has; such a pod is left
    as it is (planning it would guess at what the author meant)."""
    problems = shape_problems(pod)
    for path, what in problems:
        message = f"{pod_path}{'.' + dotted(path) if path else ''} {what}; the pod is left as it is"
        at = workload.pod_path + path if not workload.is_pod_template else None
        run.results.append(_result(workload, "error", message, at, "malformed-pod"))
    return bool(problems)


def _config_checksum(data: dict[str, Any]) -> str:
    """A stand-in for the chart's checksum of the config it rendered: it changes exactly when
    the ConfigMap's data changes, which is what makes Kubernetes roll the pods."""
    # Deferred: OpenSSL's hashlib costs 2-3 ms of start-up, and only pod-template edits need it.
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _refresh_checksums(
    run: Run, every: list[Workload], checksums: dict[tuple[str | None, str | None], str]
) -> None:
    """Pods that mount the edited config carry `checksum/airflow-config`: refresh it so that
    they roll out (krm-contract.md §5.2: the chart computes it while rendering)."""
    if not checksums:
        return
    annotations_path = ("metadata", "annotations", CONFIG_CHECKSUM_ANNOTATION)
    for workload in every:
        checksum = checksums.get((workload.release, workload.item.namespace))
        if checksum is None or workload.is_pod_template:
            continue
        template_path = workload.pod_path[:-1]  # the pod template around the pod spec
        item = workload.item
        node = node_at(item.node, template_path + annotations_path)
        if not isinstance(node, yaml.ScalarNode) or node.value == checksum:
            continue
        ops = [Op("replace", annotations_path, checksum)]
        try:
            data = _expected(run, item)  # plain, or raises before anything is edited
            _edit_text(item.source.editor, item.node, template_path, ops)
        except YamlEditError as error:
            message = f"{error}: its checksum/airflow-config cannot be refreshed"
            run.results.append(_result(workload, "error", message, None, "unsupported-yaml"))
            continue
        apply_ops(data, template_path, ops)
        run.edited.add(item.position)
        run.results.append(
            _result(
                workload,
                "info",
                "refreshed checksum/airflow-config: the pod template it mounts changed",
                template_path + annotations_path,
                "checksum",
            )
        )


def _report(run: Run, workload: Workload, pod_plan: Plan, base: tuple[str | int, ...]) -> None:
    if workload.is_job:
        _warn_plain_sidecars(run, workload, pod_plan, base)
    for finding in pod_plan.findings:
        path = base + finding.path if not workload.is_pod_template else base
        run.results.append(_result(workload, finding.severity, finding.message, path, finding.rule))
    what = "the KubernetesExecutor pod template" if workload.is_pod_template else workload.section
    if pod_plan.added:
        message = f"{what}: added " + ", ".join(pod_plan.added)
        run.results.append(_result(workload, "info", message, base, "added"))
        missing = f"{what}: the config declares " + ", ".join(pod_plan.added) + ", not here"
        run.missing.append(_result(workload, "error", missing, base, "declared-missing"))
    elif pod_plan.unchanged and not pod_plan.findings:
        message = f"{what}: unchanged, already has " + ", ".join(pod_plan.unchanged)
        run.results.append(_result(workload, "info", message, base, "unchanged"))


def _warn_plain_sidecars(
    run: Run, workload: Workload, pod_plan: Plan, base: tuple[str | int, ...]
) -> None:
    """The chart's meaning is kept (extraContainers are plain containers), but a plain sidecar
    keeps a KubernetesExecutor task pod or a Job running forever (krm-contract.md §4.5)."""
    for op in pod_plan.ops:
        if op.action != "append" or op.path != ("containers",):
            continue
        for container in op.value:
            if container.get("restartPolicy") == "Always":
                continue
            where = (
                "KubernetesExecutor task pods" if workload.is_pod_template else "this Job's pods"
            )
            message = (
                f"container {container['name']!r} is a plain sidecar: {where} will not complete "
                f"while it runs; set {_native_switch(pod_plan.origins.get(container['name'], ''))} "
                "to add it as a "
                "native sidecar (an init container with restartPolicy: Always), or have it exit "
                "when the main container does"
            )
            run.results.append(_result(workload, "warning", message, base, "plain-sidecar"))


def _native_switch(origin: str) -> str:
    """`spec.workers.celery.extraContainers[0]` -> `spec.workers.nativeSidecars: true`."""
    section = origin.split(".")[1] if origin.count(".") >= 1 else "<section>"
    return f"spec.{section}.nativeSidecars: true"


def _leave_users_template(
    run: Run, config: Config, workload: Workload, facts: dict[ReleaseKey, Release]
) -> None:
    """A pod template the user supplied (`podTemplate`) is written into the config ConfigMap
    as it is: the chart adds none of its extra values to it, and neither do we. Say what the
    config would have added, so that the user adds it to their template."""
    scratch = Run()  # what would go in; its findings are not this run's
    additions = _additions(scratch, config, workload)
    run.used_values |= scratch.used_values  # reached, and said so here
    presets = _presets_for(config, workload, facts)
    run.presets.update(name for name, _, _ in presets)
    if additions.empty and not presets:
        return
    what = [w.value["name"] for w in (*additions.init_containers, *additions.containers)]
    what += [w.value["name"] for w in additions.volumes]
    what += [name for name, _, _ in presets]
    message = (
        f"{workload.template_key} is a pod template of your own (chart value podTemplate), "
        "which the chart adds no extra values to: left as it is. Add what you want in task "
        f"pods ({', '.join(what)}) to that template"
    )
    run.results.append(
        _result(workload, "warning", message, ("data", workload.template_key or ""), "pod-template")
    )


def _annotate_service_accounts(run: Run, facts: dict[ReleaseKey, Release], config: Config) -> None:
    """Set the annotations presets ask for (IRSA) on the ServiceAccounts the pods run as."""
    for (namespace, name), (workload, wanted, _) in sorted(
        run.annotations.items(), key=lambda entry: (entry[0][0] or "", entry[0][1])
    ):
        release = facts.get((workload.release, namespace)) or facts.get((None, namespace))
        account = release.service_accounts.get(name) if release is not None else None
        if account is None:
            message = (
                f"the pods run as ServiceAccount {name!r}, which is not in the input: annotate "
                "it yourself with " + ", ".join(f"{k}: {v}" for k, v in wanted.items())
            )
            run.results.append(_result(workload, "warning", message, None, "service-account"))
            continue
        for key, value in wanted.items():
            _set_annotation(run, account, key, value, config)


def _warn_shared_service_accounts(run: Run, every: list[Workload]) -> None:
    """An annotation on a ServiceAccount reaches every pod that runs as it. The community chart
    runs all its pods as one ServiceAccount: the bucket role (IRSA) then reaches the webserver,
    the triggerer and the rest too. Say which pods, so the widening is a decision."""
    for (namespace, name), (asker, wanted, askers) in sorted(
        run.annotations.items(), key=lambda entry: (entry[0][0] or "", entry[0][1])
    ):
        others = sorted(
            {
                f"{w.item.kind} {w.item.name}"
                for w in every
                if not w.is_pod_template
                and w.item.namespace == namespace
                and (w.item.position, w.pod_path) not in askers
                and (scalar_at(node_at(w.item.node, w.pod_path), "serviceAccountName") or "default")
                == name
            }
        )
        if others:
            message = (
                f"ServiceAccount {name!r} gets {', '.join(sorted(wanted))} for the preset's pods, "
                f"and other pods run as it too ({', '.join(others)}): they get the same role. "
                "Give those pods their own ServiceAccount to keep the role narrow"
            )
            run.results.append(_result(asker, "warning", message, None, "service-account"))


def _set_annotation(run: Run, item: krm.Item, key: str, value: str, config: Config) -> None:
    path: Path = ("metadata", "annotations", key)
    current = node_at(item.node, path)
    ref = item.ref()
    tags = {**TAG, "rule": "service-account"}
    if isinstance(current, yaml.ScalarNode) and current.value == value:
        return
    if current is not None and config.on_conflict != "replace":
        message = (
            f"annotation {key} is already {getattr(current, 'value', '?')!r}; a preset wants "
            f"{value!r} (set spec.onConflict: replace to replace it)"
        )
        run.results.append(Result(message, "error", ref, dotted(path), item.file(), tags))
        return
    try:
        data = _expected(run, item)  # plain, or raises before anything is edited
        if current is None:
            item.source.editor.add_key(item.node, path[:-1], key, value)
        else:
            item.source.editor.replace(item.node, path, value)
    except YamlEditError as error:
        run.results.append(Result(str(error), "error", ref, dotted(path), item.file(), tags))
        return
    apply_ops(data, (), [Op("replace", path, value)])
    run.edited.add(item.position)
    message = f"annotated {key}: {value}"
    run.results.append(Result(message, "info", ref, dotted(path), item.file(), tags))
    missing = f"a preset needs the annotation {key}: {value}, not here"
    missing_tags = {**TAG, "rule": "declared-missing"}
    run.missing.append(Result(missing, "error", ref, dotted(path), item.file(), missing_tags))


def _unmatched_presets(config: Config, used: set[str]) -> list[Result]:
    results = []
    for name in config.presets:
        if name not in used:
            message = (
                f"spec.presets.{name} matched no workload: none of its components is in the "
                "render (set `components` to choose them)"
            )
            tags = {**TAG, "rule": "no-match"}
            results.append(
                Result(message, "warning", config.ref, f"spec.presets.{name}", None, tags)
            )
    return results


def _edit_text(editor: Editor, root: Node, prefix: Path, ops: list[Op]) -> None:
    """Carry planned ops into the text (apply_ops carries the same ops into the data)."""
    for op in ops:
        if op.action == "append":
            editor.append(root, prefix + op.path, op.value)
        elif op.action == "insert":
            editor.insert(root, prefix + op.path, op.value)
        else:
            editor.replace(root, prefix + op.path, op.value)


def _expected(run: Run, item: krm.Item) -> Any:
    """The data of an item as edits so far leave it; converted from the input once per item,
    and the same object serves planning (read) and verification (after the edits)."""
    if item.position not in run.expected:
        run.expected[item.position] = to_data(item.node, f"{item.kind} {item.name}")
    return run.expected[item.position]


def _data_at(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def _result(
    workload: Workload,
    severity: str,
    message: str,
    path: tuple[str | int, ...] | None,
    rule: str,
) -> Result:
    item = workload.item
    return Result(
        message,
        severity,  # type: ignore[arg-type]
        item.ref(),
        dotted(path) if path else None,
        item.file(),
        {**TAG, "rule": rule},
    )


def verify(run: Run, output: str, item_count: int) -> str | None:
    """Parse the output again and compare each edited item with the data it must have.
    Returns a description of the first difference, or None when all is as planned."""
    if not run.expected:
        return None
    try:
        again = krm.parse([(None, output)])
    except (krm.InputError, yaml.YAMLError) as error:
        return f"the edited output does not parse: {error}"
    if len(again.items) != item_count:
        return f"the output has {len(again.items)} objects where the input had {item_count}"
    for position, expected in run.expected.items():
        item = again.items[position]
        actual = to_data(item.node)
        if actual != expected:
            return f"object {position} ({item.ref()}) is not as planned"
        if position in run.expected_templates:
            key, expected_pod = run.expected_templates[position]
            documents = [doc for doc in compose_all(actual["data"][key]) if doc is not None]
            if len(documents) != 1 or to_data(documents[0]) != expected_pod:
                return f"the pod template in {item.ref()} is not as planned"
    return None
