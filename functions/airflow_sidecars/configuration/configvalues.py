"""The config's values: the `extra*` lists at the chart's nesting, keyed by values path
(chart.py), and the checks across them that a JSON Schema cannot say."""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow_sidecars.charts.chart import (
    EXTRA_CONTAINERS,
    EXTRA_INIT_CONTAINERS,
    EXTRA_KEYS,
    EXTRA_MOUNTS,
    EXTRA_VOLUMES,
    SECTION_ALIASES,
    ValuePath,
)
from airflow_sidecars.pods.quantity import resource_problems
from airflow_sidecars.renders.templating import template_problems


class Problem(NamedTuple):
    """One thing wrong with the config, at a field path like `spec.scheduler.extraContainers[0]`."""

    path: str
    message: str


class ValueList(NamedTuple):
    """One `extra*` list of the config, at the chart's nesting, and where it was written."""

    entries: tuple[dict[str, Any], ...]
    origin: str  # e.g. "spec.workers.celery.sets[0].extraContainers"


def cross_checks(spec: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if "web" in spec and "webserver" in spec:
        problems.append(Problem("spec.web", "web and webserver name the same component; use one"))
    for base, group in _value_groups(spec):
        names: dict[str, str] = {}
        for number, container in enumerate(group.get(EXTRA_CONTAINERS) or []):
            if "restartPolicy" in container:
                problems.append(
                    Problem(
                        f"{base}.{EXTRA_CONTAINERS}[{number}].restartPolicy",
                        "only init containers take restartPolicy (Always makes a native sidecar); "
                        f"move this container to {EXTRA_INIT_CONTAINERS}",
                    )
                )
        for key in (EXTRA_INIT_CONTAINERS, EXTRA_CONTAINERS):
            for number, container in enumerate(group.get(key) or []):
                where = f"{base}.{key}[{number}].name"
                if container["name"] in names:
                    problems.append(
                        Problem(
                            where,
                            f"container name {container['name']!r} is also used at "
                            f"{names[container['name']]}",
                        )
                    )
                names.setdefault(container["name"], where)
        problems += _unique(
            group.get(EXTRA_VOLUMES) or [], "name", f"{base}.{EXTRA_VOLUMES}", "volume name"
        )
        problems += _unique(
            group.get(EXTRA_MOUNTS) or [], "mountPath", f"{base}.{EXTRA_MOUNTS}", "mountPath"
        )
    problems += _unique(spec.get("volumes") or [], "name", "spec.volumes", "volume name")
    problems += _unique(
        spec.get("volumeMounts") or [], "mountPath", "spec.volumeMounts", "mountPath"
    )
    sets = ((spec.get("workers") or {}).get("celery") or {}).get("sets") or []
    problems += _unique(sets, "name", "spec.workers.celery.sets", "worker set name")
    problems += [Problem(path, message) for path, message in template_problems(value_lists(spec))]
    problems += _quantity_problems(spec)
    return problems


def _quantity_problems(spec: dict[str, Any]) -> list[Problem]:
    """Resource quantities the API server would refuse (quantity.py), in every container the
    config adds: the extra*Containers lists, and the presets' `resources` parameters."""
    problems = []
    for base, group in _value_groups(spec):
        for key in (EXTRA_INIT_CONTAINERS, EXTRA_CONTAINERS):
            for number, container in enumerate(group.get(key) or []):
                where = f"{base}.{key}[{number}]"
                for path, message in resource_problems(container.get("resources")):
                    problems.append(
                        Problem(f"{where}.{path}", f"{message} (container {container['name']!r})")
                    )
    for preset, params in (spec.get("presets") or {}).items():
        if isinstance(params, dict):
            for path, message in resource_problems(params.get("resources")):
                problems.append(Problem(f"spec.presets.{preset}.{path}", message))
    return problems


def _value_groups(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every object of the spec that holds `extra*` lists, with its config path: a section,
    `workers.celery`, each worker set, `airflow.kubernetesPodTemplate`, ..."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for number, entry in enumerate(node):
                walk(entry, f"{path}[{number}]")
            return
        if not isinstance(node, dict):
            return
        if any(key in node for key in EXTRA_KEYS):
            found.append((path, node))
        for key, value in node.items():
            if key not in EXTRA_KEYS and isinstance(value, dict | list):
                walk(value, f"{path}.{key}")

    for section, values in spec.items():
        if section not in _NOT_VALUES:
            walk(values, f"spec.{section}")
    return found


# Spec keys that are not chart values.
_NOT_VALUES = frozenset(
    {"match", "onConflict", "strict", "presets", "validate", "volumes", "volumeMounts"}
)


def value_lists(spec: dict[str, Any]) -> dict[ValuePath, ValueList]:
    """The spec's `extra*` lists by values path (a worker set by its name; `web` as
    `webserver`), and the top-level `volumes` / `volumeMounts`."""
    found: dict[ValuePath, ValueList] = {}
    for base, group in _value_groups(spec):
        path = _values_path(spec, base)
        for key in EXTRA_KEYS:
            if group.get(key):
                value_path = (*path, key)
                found[value_path] = ValueList(tuple(group[key]), f"{base}.{key}")
    for key in ("volumes", "volumeMounts"):
        if spec.get(key):
            found[(key,)] = ValueList(tuple(spec[key]), f"spec.{key}")
    return found


def _values_path(spec: dict[str, Any], base: str) -> ValuePath:
    """`spec.workers.celery.sets[0]` -> ("workers", "celery", "sets", <its name>)."""
    parts: list[str] = []
    node: Any = spec
    for step in base.split(".")[1:]:
        key, _, index = step.partition("[")
        node = node[key]
        parts.append(SECTION_ALIASES.get(key, key) if not parts else key)
        if index:
            node = node[int(index.rstrip("]"))]
            parts.append(str(node["name"]))
    return tuple(parts)


def _unique(entries: list[dict[str, Any]], key: str, base: str, what: str) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for number, entry in enumerate(entries):
        value = entry[key]
        if value in seen:
            problems.append(
                Problem(
                    f"{base}[{number}].{key}", f"{what} {value!r} repeats {base}[{seen[value]}]"
                )
            )
        seen.setdefault(value, number)
    return problems
