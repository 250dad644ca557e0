"""What the config reached, and why the rest reached nothing.

A config value that goes into no pod is most likely a mistake (a section of the other Airflow
version, a value the chart version does not have, a worker set the render lacks): each is
reported once, with the reason, in the chart's own terms. So is a chart version newer than
the ones the chart table was checked against.
"""

from __future__ import annotations

from typing import Literal

from airflow_sidecars.charts.chart import (
    JOB_SECTIONS,
    OLDEST_SUPPORTED,
    TESTED_UP_TO,
    Chart,
    ValuePath,
)
from airflow_sidecars.charts.valuenames import generic, has_value
from airflow_sidecars.configuration.config import Config, Match
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.presets import REGISTRY
from airflow_sidecars.renders.airflow import Workload

TAG = {"function": "inject"}
HOOK_ANNOTATION = "helm.sh/hook"
# Helm 4 puts this on every document it hands a post-renderer (the template it came from);
# Helm 3 and `helm template` do not.
HELM4_ANNOTATION = "postrenderer.helm.sh/postrender-filename"


def unmatched(
    config: Config,
    used: tuple[set[ValuePath], set[str]],
    matched: list[Workload],
    every: list[Workload],
) -> list[Result]:
    """What the config's values and presets (`used`: those some pod took) reached, said as
    results: a warning for each that reached nothing, and the reason; an error when the render
    has Airflow workloads and the config reaches none of them (the release would deploy
    without anything the config says, silently); with `strict`, every warning an error."""
    used_values, used_presets = used
    route = _hooks_route(config, every)
    results = [
        *unused_values(config, used_values, matched, every, route),
        *unmatched_presets(config, used_presets),
    ]
    hooks_only = hooks_stream(every)
    if hooks_only:
        # Helm 4's `separate` strategy post-renders the hooks apart: what a hooks stream
        # cannot hold is not missing.
        sections = {w.section for w in every}
        results = [r for r in results if _section(r.field_path) in sections]
    elif route == "separate" and config.helm_run is not None:
        # ... and then the rest: the hooks' sections reached them in the call before.
        hooks = set(config.helm_run.hook_sections)
        results = [r for r in results if _section(r.field_path) not in hooks]
    reaches_none = every and not (used_values or used_presets)
    if not hooks_only and reaches_none and (config.values or config.presets):
        message = "the config reaches no workload of this render, which has " + _described(every)
        if config.match != Match():
            message += "; spec.match leaves none of them"
        results.insert(
            0, Result(message, "error", config.ref, None, None, {**TAG, "rule": "no-match"})
        )
    if config.strict:
        results = [r._replace(severity="error") for r in results]
    return results


def hooks_stream(every: list[Workload]) -> bool:
    """A stream whose Airflow workloads are all Helm hooks: what Helm 4's `separate` post-render
    strategy hands over apart from the rest (Helm 3 does not post-render hooks at all)."""
    return bool(every) and all(w.item.annotation(HOOK_ANNOTATION) for w in every)


def _section(field_path: str | None) -> str:
    """`spec.scheduler.extraContainers` -> `scheduler`."""
    parts = (field_path or "").split(".")
    return parts[1] if len(parts) > 1 else ""


def _described(every: list[Workload]) -> str:
    """What the render holds, for a person looking for the mistake: its releases (and their
    namespaces), Airflow components and chart versions."""
    releases = sorted(
        {
            (repr(w.release) if w.release else "(no release label)")
            + (f" in namespace {w.item.namespace!r}" if w.item.namespace else "")
            for w in every
        }
    )
    components = sorted({w.section for w in every if w.section})
    charts = sorted({w.chart.name for w in every})
    return f"release {', '.join(releases)}; components {', '.join(components)}; {', '.join(charts)}"


def untested_charts(workloads: list[Workload]) -> list[Result]:
    """One warning per chart version outside the tested range, on its first workload."""
    results: list[Result] = []
    seen: set[Chart] = set()
    for workload in workloads:
        chart = workload.chart
        if chart in seen or chart.version is None:
            continue
        seen.add(chart)
        newest, oldest = TESTED_UP_TO[chart.flavour], OLDEST_SUPPORTED[chart.flavour]
        if chart.version > newest:
            message = (
                f"this is the {chart.name}, newer than the ones inject was tested with (tested "
                f"up to {_version(newest)}): check that its extra values still land where "
                "the chart puts them"
            )
        elif chart.version < oldest:
            message = f"this is the {chart.name}; supported are {_version(oldest)} and newer"
        else:
            continue
        item = workload.item
        tags = {**TAG, "rule": "chart-version"}
        results.append(Result(message, "warning", item.ref(), None, item.file(), tags))
    return results


def unused_values(
    config: Config,
    used: set[ValuePath],
    matched: list[Workload],
    every: list[Workload],
    hooks: HooksRoute,
) -> list[Result]:
    """A warning per config list that no pod took; one per section (or worker set, ...) when
    none of its lists was taken, for the same reason (`hooks`: where the render's hooks went)."""
    groups: dict[str, list[tuple[str, str]]] = {}  # group origin -> [(list origin, reason)]
    partly_used: set[str] = set()  # groups of which some pod took something
    for path, value_list in config.values.items():
        group = value_list.origin.rsplit(".", 1)[0] if len(path) > 1 else value_list.origin
        if path in used or any(p[: len(path) - 1] == path[:-1] for p in used):
            partly_used.add(group)
        if path in used:
            continue
        reason = _why_unused(path, used, matched, every, hooks)
        groups.setdefault(group, []).append((value_list.origin, reason))
    results = []
    tags = {**TAG, "rule": "no-match"}
    for group, unused in groups.items():
        whole = (
            group not in partly_used
            and len(unused) == _list_count(config, group)
            and len({reason for _, reason in unused}) == 1
        )
        for origin, reason in [(group, unused[0][1])] if whole else unused:
            message = f"{origin} matched no workload: {reason}"
            results.append(Result(message, "warning", config.ref, origin, None, tags))
    return results


def _list_count(config: Config, group: str) -> int:
    return sum(1 for v in config.values.values() if v.origin.rsplit(".", 1)[0] == group)


def _why_unused(
    path: ValuePath,
    used: set[ValuePath],
    matched: list[Workload],
    every: list[Workload],
    hooks: HooksRoute = "unknown",
) -> str:
    charts = sorted({w.chart for w in every}, key=lambda chart: chart.name)
    reasons = [reason for chart in charts if (reason := has_value(chart, path)) is not None]
    if charts and len(reasons) == len(charts):
        return "; ".join(sorted(set(reasons)))
    section = path[0]
    anywhere = {w.section for w in every}
    if section in anywhere and section not in {w.section for w in matched}:
        return "spec.match excludes every workload of it"
    shadowed = [p for p in used if p[0] == section and p[-1] == path[-1] and len(p) > len(path)]
    if len(path) == 2 and shadowed:
        names = ", ".join(sorted(".".join(generic(p)) for p in shadowed))
        return f"{names} replace it wherever it would go, as in the chart"
    if path[:2] == ("workers", "celery") and len(path) == 3:
        return "no Celery worker in this render (workers.celery goes to Celery workers only)"
    if path[:2] == ("workers", "kubernetes"):
        return (
            "no KubernetesExecutor pod template in this render (workers.kubernetes goes to the "
            "pod template only)"
        )
    if generic(path)[:4] == ("workers", "celery", "sets", "*"):
        sets = sorted({w.worker_set for w in every if w.worker_set})
        return f"no worker set {path[3]!r} in this render (sets found: {', '.join(sets) or 'none'})"
    return _why_missing(section, anywhere, hooks)


# Where the hooks of the render went, as far as this stream can tell: "separate" (Helm 4 handed
# them to the call before, on the plugin route), "nohooks" (Helm 4 handed this stream, and no
# call before had them), "unknown" (Helm 3, `helm template`, a file: hooks in the stream, or
# not post-rendered at all).
HooksRoute = Literal["separate", "nohooks", "unknown"]


def _hooks_route(config: Config, every: list[Workload]) -> HooksRoute:
    if config.helm_run is not None and config.helm_run.hooks_done:
        return "separate"
    # Helm 4 marks every document it hands a post-renderer; Helm 3 and `helm template` do not.
    return "nohooks" if any(w.item.annotation(HELM4_ANNOTATION) for w in every) else "unknown"


def _why_missing(section: str, present: set[str], hooks: HooksRoute = "unknown") -> str:
    if section == "webserver" and "apiServer" in present:
        return "this is an Airflow 3 render, whose UI is the api-server; did you mean apiServer?"
    if section == "apiServer" and "webserver" in present:
        return "this is an Airflow 2 render, whose UI is the webserver; did you mean webserver?"
    if section == "dagProcessor":
        return (
            "no standalone dag-processor in this render (on Airflow 2 the scheduler parses DAGs "
            "unless dagProcessor.enabled is set); did you mean scheduler?"
        )
    if section == "workers":
        return "no Celery worker and no KubernetesExecutor pod template in this render"
    if section in JOB_SECTIONS and hooks == "separate":
        return (
            "the chart renders no such Job in this release: neither the Helm hooks (post-"
            "rendered before this stream) nor this stream hold one"
        )
    if section in JOB_SECTIONS and hooks == "nohooks":
        return (
            "the chart renders this Job as a Helm hook, and Helm 4 handed this stream without "
            "it: the post-render strategy `nohooks` does not post-render hooks. Use the "
            "strategy `combined` (the Helm 4 CLI's) or `separate`, or leave the Job's values to "
            f"the chart (`from-values --route helm3`), or set {section}.useHelmHooks: false in "
            "the chart's values (a plain Job, post-rendered with the rest). (Under `combined`, "
            "the release has no such Job.)"
        )
    if section in JOB_SECTIONS:
        return (
            "the chart renders this Job as a Helm hook, which this stream does not hold: Helm "
            "3's --post-renderer passes no hooks, so it cannot get this. Adopt with `from-values "
            "--route helm3` (which leaves their values to the chart), or set "
            f"{section}.useHelmHooks: false in the chart's values (a plain Job, post-rendered "
            "with the rest); `helm template` and Helm 4's CLI (post-render strategy `combined`) "
            "pass hooks with the rest"
        )
    found = ", ".join(sorted(s for s in present if s)) or "none"
    return f"the render has no such component (Airflow components found: {found})"


def _version(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


def unmatched_presets(config: Config, used: set[str]) -> list[Result]:
    """A preset whose components are none of the render's."""
    results = []
    for name in config.presets:
        if name not in used:
            message = f"spec.presets.{name} matched no workload: {REGISTRY[name].unmatched}"
            tags = {**TAG, "rule": "no-match"}
            results.append(
                Result(message, "warning", config.ref, f"spec.presets.{name}", None, tags)
            )
    return results
