"""The config's chart values, turned into what the chart would give one pod (podspec.Additions),
following the chart's table (chart.py: which values a pod takes, in which order, which
containers get the mounts) and templating values where the chart does."""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow_sidecars.charts.chart import Source, ValuePath, templated
from airflow_sidecars.configuration.config import Config
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.planning.edits import result
from airflow_sidecars.pods.podspec import Additions, Wanted
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.renders.templating import Context, TemplateError, has_template, render


class ChartAdditions(NamedTuple):
    additions: Additions
    used_values: set[ValuePath]  # the config values this pod took
    results: list[Result]  # what templating found


def chart_additions(
    config: Config, workload: Workload, namespaces: dict[str | None, set[str]]
) -> ChartAdditions:
    """What the chart would give this pod for the config's values. `namespaces` are those the
    objects of each release name (see template_context)."""
    placement = workload.placement
    chosen = _Chosen(config, workload, namespaces)
    additions = Additions()
    containers = [found for source in placement.containers if (found := chosen(source))]
    init_containers = [found for source in placement.init_containers if (found := chosen(source))]
    # A container that the config itself adds is the user's, not the chart's, even when the
    # input already has it (a second run): the chart does not mount extraVolumeMounts into it.
    own = frozenset(
        entry.get("name") for found in (*containers, *init_containers) for entry in found.entries
    )
    for found in init_containers:
        additions.init_containers += _wanted(found)
    for found in containers:
        if source_section(found.path) in config.native_sidecars:
            # Native sidecars (Kubernetes 1.29+): init containers that keep running, started
            # before and stopped after the main containers, so that Jobs and task pods end.
            additions.init_containers += [
                Wanted({**w.value, "restartPolicy": "Always"}, w.origin) for w in _wanted(found)
            ]
        else:
            additions.containers += _wanted(found)
    for source in placement.volumes:
        found = chosen(source)
        if found is not None:
            additions.volumes += _wanted(found)
    for mounts in placement.mounts:
        found = chosen(mounts.source)
        if found is not None:
            into = (mounts.containers - own, mounts.init_containers - own)
            additions.mounts += [(wanted, *into) for wanted in _wanted(found)]
    return ChartAdditions(additions, chosen.used, chosen.results)


def source_section(path: ValuePath) -> str:
    """The config section a values path belongs to (`nativeSidecars` is set there)."""
    return path[0]


class _Found(NamedTuple):
    """The list a source takes, after the chart's `tpl` where the chart applies it."""

    path: ValuePath
    entries: tuple[dict[str, Any], ...]
    origin: str


def _wanted(found: _Found) -> list[Wanted]:
    return [Wanted(value, f"{found.origin}[{n}]") for n, value in enumerate(found.entries)]


class _Chosen:
    """For one pod: the config list each of the chart's sources takes (the first of its chain
    that the config sets), templated as the chart would; every chosen path is recorded as used,
    so that the config's other values can be reported."""

    def __init__(
        self, config: Config, workload: Workload, namespaces: dict[str | None, set[str]]
    ) -> None:
        self.config, self.workload, self.namespaces = config, workload, namespaces
        self.used: set[ValuePath] = set()
        self.results: list[Result] = []

    def __call__(self, source: Source) -> _Found | None:
        for path in source.chain:
            value_list = self.config.values.get(path)
            if value_list is None or not value_list.entries:
                continue
            self.used.add(path)
            return self._templated(_Found(path, value_list.entries, value_list.origin))
        return None

    def _templated(self, found: _Found) -> _Found | None:
        workload = self.workload
        if not has_template(list(found.entries)):
            return found
        if not templated(workload.chart, found.path):
            message = (
                f"{found.origin} has {{{{ ... }}}}, which the {workload.chart.name} does not "
                "evaluate for this value: it goes in as written"
            )
            self.results.append(result(workload, "warning", message, None, "template"))
            return found
        try:
            context = template_context(workload, self.namespaces)
            rendered = render(list(found.entries), found.origin, context)
        except TemplateError as error:
            self.results.append(result(workload, "error", str(error), None, "template"))
            return None
        return found._replace(entries=tuple(rendered))


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
