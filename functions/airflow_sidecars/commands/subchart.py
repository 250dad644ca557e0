"""Where the Airflow chart's values sit in a values file: at its top, or under the key of a
parent chart (an umbrella or wrapper chart with the Airflow chart as a dependency: Helm gives
the dependency the values under its `alias`, else under its name).

The key is, first to last: what `--subchart` names (dotted for a subchart of a subchart; `.`
for the top); the Airflow dependency of the `Chart.yaml` (else `Chart.lock`) beside the first
values file; a top-level mapping that holds the Airflow chart's own sections (`scheduler`,
`workers`, ... as the chart table knows them) with values a config carries, where the top
level holds none of those sections; else the top. The community chart has a top-level
`airflow` of its own (`airflow.extraVolumes`, `airflow.config`): its keys are no section, so
it is never taken for a subchart.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from airflow_sidecars.charts.chart import CHART_VALUES, SECTION_ALIASES
from airflow_sidecars.commands.valuesextras import NotValues, carried_paths
from airflow_sidecars.text.yamlread import (
    InvalidYaml,
    NotOneDocument,
    Path,
    UnsupportedYaml,
    dotted,
    load_one,
    what_it_is,
)

TOP = "."
# The Airflow chart's sections: the first step of every value some chart places below one
# (the top-level `volumes` / `volumeMounts` are lists, not sections), and the chart's words
# for them.
SECTIONS = frozenset(
    path[0] for values in CHART_VALUES.values() for path in values if len(path) > 1
) | frozenset(SECTION_ALIASES)
# Both Airflow charts are named `airflow`; a dependency named so from another web repository
# is another chart. A repository given as `@name`, `oci://` or `file://` cannot be told apart.
CHART_NAME = "airflow"
_REPOSITORIES = ("airflow.apache.org", "airflow-helm.github.io")


class Ambiguous(Exception):
    """Values (or a Chart.yaml) that leave the key open between several: the command line must
    name one (the message says which)."""


class Place(NamedTuple):
    """Where the Airflow chart's values are (`base`, `()` for the top), and why, as a line
    for people (None: the top, nothing to say); `warning`: a Chart.yaml that could not be
    read."""

    base: Path
    why: str | None = None
    warning: str | None = None


def place(given: str | None, first_file: str | None, values: Any) -> Place:
    """Where the Airflow chart's values are in `values` (the files merged). Raises Ambiguous
    when a Chart.yaml or the values leave it open between several keys."""
    if given is not None:
        if given in (TOP, ""):
            return Place(())
        return Place(tuple(given.split(".")))
    warning = None
    if first_file is not None:
        try:
            found = _from_chart(os.path.dirname(first_file))
        except (OSError, UnicodeDecodeError, InvalidYaml, NotOneDocument, UnsupportedYaml) as error:
            warning = f"{error}: the Airflow chart's values are looked for by their keys"
        else:
            if found is not None:
                return found
    return _from_values(values)._replace(warning=warning)


def _from_chart(folder: str) -> Place | None:
    """The key the Chart.yaml (else Chart.lock) in `folder` gives the Airflow dependency."""
    for name in ("Chart.yaml", "Chart.lock"):
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as handle:
                data = load_one(handle.read(), path).data
        except FileNotFoundError:
            continue
        keys = _dependency_keys(data)
        if len(keys) > 1:
            raise Ambiguous(
                f"{path} has {len(keys)} Airflow dependencies ({', '.join(keys)}): name the "
                "one these values are for with --subchart KEY"
            )
        if keys:
            why = f"the Airflow dependency in {path}"
            return Place((keys[0],), f"reading the Airflow chart's values under {keys[0]}: {why}")
        return None
    return None


def _dependency_keys(chart: Any) -> list[str]:
    """The values keys of a Chart.yaml's Airflow dependencies: each one's alias, else name."""
    entries = chart.get("dependencies") if isinstance(chart, dict) else None
    keys: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("name") != CHART_NAME:
            continue
        repository = str(entry.get("repository") or "")
        web = repository.startswith(("http://", "https://"))
        if web and not any(known in repository for known in _REPOSITORIES):
            continue
        alias = entry.get("alias")
        keys.append(alias if isinstance(alias, str) and alias else CHART_NAME)
    return keys


def _from_values(values: Any) -> Place:
    """A top-level mapping taken for the Airflow subchart by its keys, or the top."""
    if not isinstance(values, dict):
        return Place(())
    candidates = [
        str(key)
        for key, value in values.items()
        if isinstance(value, dict) and SECTIONS & set(value) and carried_paths(value)
    ]
    top_sections = {str(key) for key in values} & SECTIONS
    if not candidates or top_sections - set(candidates):
        return Place(())
    if len(candidates) > 1:
        raise Ambiguous(
            f"the values hold the Airflow chart's values under {len(candidates)} keys "
            f"({', '.join(candidates)}): name the one to adopt with --subchart KEY"
        )
    key = candidates[0]
    sections = ", ".join(sorted(str(k) for k in values[key] if k in SECTIONS))
    return Place(
        (key,),
        f"reading the Airflow chart's values under {key}: it holds the chart's sections "
        f"({sections}) and the top level none (--subchart {TOP} reads the top level)",
    )


def airflow_values(values: dict[Any, Any], base: Path, what: str) -> Any:
    """The Airflow chart's values at `base` of one file's values: none where the file does
    not set them. Raises NotValues where they are not a mapping."""
    node: Any = values
    for depth, step in enumerate(base):
        if node is None:
            return {}
        if not isinstance(node, dict):
            where = dotted(base[:depth])
            raise NotValues(f"{what}: {where} is {what_it_is(node)}, not a mapping of values")
        node = node.get(step)
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise NotValues(
            f"{what}: {dotted(base)} is {what_it_is(node)}, not the Airflow chart's values "
            "(a mapping)"
        )
    return node
