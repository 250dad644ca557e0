"""Which `extra*` values a config carries on the route the release takes, and which stay.

A route is the way the chart's render reaches inject:

- `stream` (the default): `helm template`, kustomize, kpt, CI pipes: every resource of the
  release, the Helm hooks too, in one stream;
- `helm3`: `helm install|upgrade --post-renderer` on Helm 3, which hands the post-renderer
  the release's resources without its hooks (docs/krm-contract.md, 2.7): a value that reaches
  a hook Job can only be placed by the chart, so it stays in the values;
- `helm4`: Helm 4's CLI, whose post-render strategy is `combined` (hooks in the same stream as
  the rest): as `stream`.

On every route a value that reaches no workload (a component the release leaves off, a value
the chart version does not read) stays out of the config: `inject --strict` would refuse it. It
stays in the values, where the chart ignores it as before.

What reaches what is read off a render of the original values when one is given
(`--render`): the workloads it has, their chart version, which of them are Helm hooks, and the
chart table's placement. Without one, from the values alone: a section whose `enabled` is
false reaches nothing, and the official chart's `createUserJob` / `migrateDatabaseJob` are
hooks unless `useHelmHooks: false` (the community chart's migrations and sync Jobs when the
values make them Jobs). Where the values cannot tell, the value is carried.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.charts.chart import (
    EXTRA_CONTAINERS,
    EXTRA_INIT_CONTAINERS,
    EXTRA_MOUNTS,
    EXTRA_VOLUMES,
    JOB_SECTIONS,
    TOP_MOUNTS,
    TOP_VOLUMES,
    Chart,
    Placement,
    Source,
    ValuePath,
    placement,
)
from airflow_sidecars.charts.valuenames import chart_words, generic, has_value
from airflow_sidecars.commands.valuesextras import config_path, found_values
from airflow_sidecars.planning import podtemplate
from airflow_sidecars.renders.airflow import Workload, volume_claim_names
from airflow_sidecars.text.yamlread import Node, Path, dotted, mapping_get, node_at, scalar_at
from airflow_sidecars.transforms.unmatched import HOOK_ANNOTATION

ROUTES = ("stream", "helm3", "helm4")
DEFAULT_ROUTE = "stream"
# The community chart's Jobs that are Helm hooks, and the values that make them Jobs: the
# database migrations (`airflow.dbMigrations.runAsJob`), and each sync Job when its list is
# set and its `*Update` (a Deployment that keeps syncing, the default) is false.
_COMMUNITY_SYNC = ("users", "connections", "pools", "variables")
_TOP = (TOP_VOLUMES, TOP_MOUNTS)
# Components that a release runs or not by its chart's defaults or its Airflow version, where
# the values do not turn them on: flower and pgbouncer (off by default in the official chart),
# the webserver (Airflow 2) and the api-server (Airflow 3), the dag-processor (off by default
# on Airflow 2).
_DEFAULT_DEPENDENT = frozenset({"flower", "pgbouncer", "webserver", "apiServer", "dagProcessor"})
# What a release runs for sure once the values name its Airflow major version: on Airflow 3
# the api-server and the dag-processor (unless turned off), on Airflow 2 the webserver.
_RUN_ON = {3: frozenset({"apiServer", "dagProcessor"}), 2: frozenset({"webserver"})}
# The official chart's hook Jobs, by the name the chart gives them after its fullname.
_OFFICIAL_JOBS = {"createUserJob": "create-user", "migrateDatabaseJob": "run-airflow-migrations"}


class Stay(NamedTuple):
    """A value that stays in the values, and why, in words for the line that says so: `kind`
    is `hook` (it reaches a Helm hook), `nothing` (it reaches no workload) or `dangling` (it
    mounts a volume the release's pods do not have: a warning)."""

    path: Path
    kind: str
    why: str

    @property
    def hook(self) -> bool:
        return self.kind == "hook"


class _Pod(NamedTuple):
    """A workload of the render, and the names its pod has."""

    workload: Workload
    containers: frozenset[str]  # containers and init containers
    volumes: frozenset[str]


class Reach(NamedTuple):
    """What one value of the config reaches, found once and read by every question asked of
    it: why it reaches no workload (None: it reaches one), the volumes it mounts that a pod it
    reaches lacks ("": none), the hook Jobs it reaches in words (None: none), and whether it
    reaches the KubernetesExecutor pod template."""

    path: Path
    nothing: str | None
    dangling: str
    hooks: str | None
    task_pods: bool


def reaching(
    found: list[tuple[Path, Any]], values: Any, render: list[Workload] | None
) -> list[Reach]:
    """What each value of `found` (the ones the config would carry, at their values paths)
    reaches: given a render's workloads, read off its pods (each parsed once); else from
    what the values say."""
    # Every value the chart sees, the ones that stay for their `{{ }}` too.
    present = {config_path(values, path) for path, _ in found_values(values)}
    pods = [_pod(workload) for workload in render or []]
    reach: list[Reach] = []
    for path, value in found:
        where = config_path(values, path)
        if where is None:
            continue
        if render is None:
            reach.append(
                Reach(path, _turned_off(values, path), "", _values_hook(values, where), False)
            )
            continue
        reached = [pod for pod in pods if _reaches(pod, path, where, present)]
        hooks = [pod.workload for pod in reached if pod.workload.item.annotation(HOOK_ANNOTATION)]
        reach.append(
            Reach(
                path,
                None if reached else _nothing_in(render, where),
                _missing_volumes(value, where, reached),
                _named(hooks) if hooks else None,
                any(pod.workload.template_key is not None for pod in reached),
            )
        )
    return reach


def staying(reach: list[Reach], route: str) -> list[Stay]:
    """The values that stay in the values on `route`: the ones that reach nothing, the ones
    that mount a volume their pod lacks, and on Helm 3 the ones that reach a hook."""
    stays: list[Stay] = []
    for one in reach:
        if one.nothing is not None:
            stays.append(Stay(one.path, "nothing", one.nothing))
        elif one.dangling:
            stays.append(Stay(one.path, "dangling", one.dangling))
        elif route == "helm3" and one.hooks is not None:
            stays.append(Stay(one.path, "hook", one.hooks))
    return stays


def in_task_pods(reach: list[Reach], kept: frozenset[Path]) -> frozenset[Path]:
    """The carried values (not in `kept`) that the chart puts into the KubernetesExecutor pod
    template of the render (a template of the user's own takes nothing)."""
    return frozenset(one.path for one in reach if one.task_pods and one.path not in kept)


def _missing_volumes(value: Any, where: ValuePath, reached: list[_Pod]) -> str:
    """What a value mounts that a pod it reaches does not have, in the release's own render
    (where the value's volumes are already in place): a mount the chart renders dangling, and
    the API server refuses; inject would refuse to add it ("": none)."""
    names = _mounted(value, where)
    for pod in reached:
        missing = sorted(names - pod.volumes)
        if missing:
            item = pod.workload.item
            volumes = ", ".join(repr(name) for name in missing)
            return (
                f"it mounts {volumes}, which {item.kind} {item.name} has no volume of in the "
                "render: the chart renders the mount without it, and the API server refuses "
                "the pod"
            )
    return ""


def _mounted(value: Any, where: ValuePath) -> frozenset[str]:
    """The volume names a mount list, or the containers of a container list, mount."""
    entries = value if isinstance(value, list) else []
    if where[-1] in (EXTRA_CONTAINERS, EXTRA_INIT_CONTAINERS):
        entries = [
            mount
            for container in entries
            if isinstance(container, dict) and isinstance(container.get("volumeMounts"), list)
            for mount in container["volumeMounts"]
        ]
    elif where[-1] != EXTRA_MOUNTS and where != TOP_MOUNTS:
        return frozenset()
    # A name with `{{ .Release.Name }}` is inject's to evaluate, from the render: not judged.
    return frozenset(
        str(entry["name"])
        for entry in entries
        if isinstance(entry, dict) and "name" in entry and "{{" not in str(entry["name"])
    )


def unsure(found: list[tuple[Path, Any]], values: Any, base: Path) -> str | None:
    """Without a render: the line that names the carried values whose component the values
    do not say the release runs (a default that differs by chart, an Airflow version that
    decides the UI component), and how to know (None: none)."""
    unknown = sorted(
        {
            dotted((*base, step))
            for path, _ in found
            if (step := str(path[0])) in _DEFAULT_DEPENDENT
            and _turned_off(values, path) is None
            and not (isinstance(values.get(step), dict) and values[step].get("enabled") is True)
            and step not in _RUN_ON.get(_airflow_major(values) or 0, ())
        }
    )
    if not unknown:
        return None
    return (
        f"the values do not say whether the release runs {', '.join(unknown)} (the chart's "
        "default and the Airflow version decide): their values are carried; give --render "
        "with a render of these values to leave out what reaches nothing (inject --strict "
        "refuses it)"
    )


def hook_values(reach: list[Reach], kept: frozenset[Path]) -> str:
    """The carried values (not in `kept`) that reach a Helm hook, for the line the stream route
    says of them ("": none)."""
    return ", ".join(
        dotted(one.path)
        for one in reach
        if one.path not in kept and one.nothing is None and not one.dangling and one.hooks
    )


def said(stays: list[Stay], route: str, base: Path, render_name: str | None) -> list[str]:
    """One line per reason: the values that stay, and why (a `warning:` for a dangling
    mount, which the release's pods have as the chart renders them)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for stay in stays:
        groups.setdefault((stay.kind, stay.why), []).append(dotted((*base, *stay.path)))
    lines = []
    for (kind, why), names in groups.items():
        one = len(names) == 1
        verb, they = ("stays", "it reaches") if one else ("stay", "they reach")
        listed = ", ".join(names)
        if kind == "hook":
            lines.append(
                f"route {route}: {listed} {verb} in the values (the chart places "
                f"{'it' if one else 'them'}): {they} {why}, and Helm 3 passes no hook to a "
                "post-renderer"
            )
        elif kind == "dangling":
            lines.append(
                f"warning: {listed} {verb} in the values, out of the config: {why}; inject "
                f"would refuse to add it. Define the volume ({EXTRA_VOLUMES}) or drop the mount"
            )
        else:
            source = f"no workload of {render_name}" if render_name else "no workload"
            lines.append(
                f"{listed} {verb} in the values, out of the config: {they} {source} "
                f"({why}), and inject --strict refuses a value that reaches nothing"
            )
    return lines


def _reaches(pod: _Pod, path: Path, where: ValuePath, present: set[ValuePath | None]) -> bool:
    """Whether the chart gives the value at `path` (config path `where`) to this pod: the
    chart version reads it under that name, it is the first set value of a chain of the
    workload's placement (`present`: the config paths that hold a value), and, for mounts,
    the pod has a container they go into (git-sync's reach no Job)."""
    workload = pod.workload
    chart = workload.chart
    if workload.users_template or not _chart_reads(chart, path, where):
        return False
    template = workload.template_key is not None
    laid = placement(chart, workload.slot, workload.worker_set, template)
    for source, into in _sources(laid):
        if into is not None and not into & pod.containers:
            continue
        for step in source.chain:
            if step == where:
                return True
            if step in present:
                break  # an earlier value of the chain is set: the chart takes that one
    return False


def _chart_reads(chart: Chart, path: Path, where: ValuePath) -> bool:
    """Whether this chart version reads the values path `path` as the config path `where`:
    it has the value, and calls it so (a values file in another version's words, or the
    official top-level `volumes` in community values, is a value the chart ignores)."""
    if chart.flavour == "community" and where in _TOP:
        return False
    if has_value(chart, where) is not None:
        return False
    return chart_words(chart, generic(where)) == generic(tuple(str(step) for step in path))


def _sources(laid: Placement) -> Iterator[tuple[Source, frozenset[str] | None]]:
    """Each source of a placement, with the containers it goes into (None: the pod)."""
    for source in (*laid.containers, *laid.init_containers, *laid.volumes):
        yield source, None
    for mounts in laid.mounts:
        yield mounts.source, mounts.containers | mounts.init_containers


def _pod(workload: Workload) -> _Pod:
    """The names of the pod's containers and init containers, and of its volumes."""
    pod: Node | None
    if workload.template_key is not None:
        template = podtemplate.load(workload)
        if isinstance(template, podtemplate.Unreadable):
            pod = None
        else:
            pod = node_at(template.root, ("spec",))
    else:
        pod = node_at(workload.item.node, workload.pod_path)
    # A StatefulSet's volumeClaimTemplates are volumes of its pods too.
    claims = volume_claim_names(workload.item) if workload.template_key is None else frozenset()
    return _Pod(
        workload,
        _names(pod, "containers") | _names(pod, "initContainers"),
        _names(pod, "volumes") | claims,
    )


def _names(pod: Node | None, field: str) -> frozenset[str]:
    listed = mapping_get(pod, field)
    entries = listed.value if isinstance(listed, yaml.SequenceNode) else []
    return frozenset(name for entry in entries if (name := scalar_at(entry, "name")) is not None)


def _named(workloads: list[Workload]) -> str:
    return _hook_jobs(sorted({str(w.item.name) for w in workloads}))


def _hook_jobs(names: list[str]) -> str:
    """`the hook Job X`, `the hook Jobs X and Y`."""
    return f"the hook Job{'s' if len(names) > 1 else ''} {' and '.join(names)}"


def _nothing_in(render: list[Workload], where: ValuePath) -> str:
    charts = sorted({w.chart for w in render}, key=lambda chart: chart.name)
    unread = [reason for chart in charts if (reason := has_value(chart, where)) is not None]
    if charts and len(unread) == len(charts):
        return "; ".join(sorted(set(unread)))
    sections = sorted({w.slot.section for w in render if w.slot.section})
    runs = f"the release runs {', '.join(sections) or 'no Airflow component'}"
    if where[0] in JOB_SECTIONS and not any(w.item.annotation(HOOK_ANNOTATION) for w in render):
        # `helm get manifest` and Helm 3's post-renderer stream leave the hooks out
        runs += "; the render holds no Helm hook: `helm template` prints them"
    return runs


def _airflow_major(values: Any) -> int | None:
    """The Airflow major version the values name (the official chart's `airflowVersion`, else
    `defaultAirflowTag`); None where they name none."""
    for key in ("airflowVersion", "defaultAirflowTag"):
        found = re.match(r"v?(\d+)\.", str(values.get(key) or ""))
        if found:
            return int(found[1])
    return None


def _turned_off(values: Any, path: Path) -> str | None:
    """`X.enabled is false` for the nearest mapping above the value that turns it off (a
    section, `dags.gitSync`, an exporter), or the Airflow version the values name for the UI
    component of the other version; None where none does."""
    major = _airflow_major(values)
    ui = {"webserver": 3, "apiServer": 2}  # the component and the major version without it
    if major is not None and ui.get(str(path[0])) == major:
        word = "airflowVersion" if values.get("airflowVersion") else "defaultAirflowTag"
        runs = "api-server" if major == 3 else "webserver"
        return f"{word} is Airflow {major}, whose UI is the {runs}"
    node = values
    for depth, step in enumerate(path[:-1]):
        if not isinstance(node, dict):
            return None
        node = node.get(step) if not isinstance(step, int) else None
        if isinstance(node, dict) and node.get("enabled") is False:
            return f"{dotted(path[: depth + 1])}.enabled is false"
    return None


def _values_hook(values: Any, where: ValuePath) -> str | None:
    """The hook Jobs a value reaches, as far as the values tell (None: none)."""
    jobs = [section for section in sorted(JOB_SECTIONS) if _hooked(values, section)]
    if where[0] in JOB_SECTIONS:
        return _hook_jobs([_OFFICIAL_JOBS[where[0]]]) if where[0] in jobs else None
    if where in _TOP and jobs:
        return _hook_jobs([_OFFICIAL_JOBS[section] for section in jobs])
    if where[:1] == ("airflow",) and where[1] in (EXTRA_VOLUMES, EXTRA_MOUNTS):
        community = list(_community_jobs(values.get("airflow")))
        return _hook_jobs(community) if community else None
    return None


def _hooked(values: Any, section: str) -> bool:
    """An official Job section that renders a hook: not turned off, `useHelmHooks` not false."""
    own = values.get(section)
    if not isinstance(own, dict):
        return True
    return own.get("useHelmHooks") is not False and own.get("enabled") is not False


def _community_jobs(airflow: Any) -> Iterator[str]:
    if not isinstance(airflow, dict):
        return
    migrations = airflow.get("dbMigrations")
    if (
        isinstance(migrations, dict)
        and migrations.get("runAsJob") is True
        and migrations.get("enabled") is not False
    ):
        yield "db-migrations"
    for name in _COMMUNITY_SYNC:
        if airflow.get(name) and airflow.get(f"{name}Update") is False:
            yield f"sync-{name}"
