"""What a chart version calls each config value, and whether it has it: the questions that
config checks, reach and `from-values` ask of chart.py's value rows (`CHART_VALUES`,
`REMOVED_IN`, `RENAMES`).

A *config path* is a values path in the config's words (as configvalues keys the config's
lists: `web` as `webserver`); those words are a contract and never change. A chart version's
values.yaml has the same value at the chart's words, which differ where a row of
`chart.RENAMES` says so. Messages about a chart name its value in that chart's words
(`chart_words`); `from-values` reads a values file whose chart version it does not know, so it
takes a key in any chart's words (`readings`).
"""

from __future__ import annotations

from typing import NamedTuple

from airflow_sidecars.charts import chart as table
from airflow_sidecars.charts.chart import (
    CHART_VALUES,
    REMOVED_IN,
    TOP_MOUNTS,
    TOP_VOLUMES,
    Chart,
    Rename,
    ValuePath,
)

_SETS = ("workers", "celery", "sets")


def generic(path: ValuePath) -> ValuePath:
    """A values path with a worker set's name taken out (`workers.celery.sets[*].X`)."""
    if path[:3] == _SETS and len(path) == 5:
        return (*_SETS, "*", path[4])
    return path


def _begins(prefix: ValuePath, path: ValuePath) -> bool:
    return len(path) >= len(prefix) and all(
        mine in ("*", theirs) for mine, theirs in zip(prefix, path, strict=False)
    )


def _swap(path: ValuePath, old: ValuePath, new: ValuePath) -> ValuePath:
    """`path`, which `old` begins, with `new` in place of `old` (a `*` keeps the path's step)."""
    head = tuple(theirs if mine == "*" else mine for mine, theirs in zip(new, path, strict=False))
    return (*head, *new[len(head) :], *path[len(old) :])


def _newest_first(row: Rename) -> tuple[int, tuple[int, ...]]:
    return (len(row.config), row.since or ())


def chart_words(chart: Chart, path: ValuePath) -> ValuePath:
    """What this chart version calls a config path: by the rename row of its flavour in force
    at its version (a render that does not say is taken as the newest) whose config path
    begins the path, the longest and then the newest; the config's words where none does."""
    rows = [
        row
        for row in table.RENAMES
        if row.flavour == chart.flavour
        and _begins(row.config, path)
        and (row.since is None or chart.at_least(*row.since))
    ]
    if not rows:
        return path
    row = max(rows, key=_newest_first)
    return _swap(path, row.config, row.chart)


class Reading(NamedTuple):
    """A values path in some chart's words, read as a config path, and the rename row read
    backwards to get there (None: the chart's words are the config's)."""

    path: ValuePath
    rename: Rename | None = None


def readings(path: ValuePath) -> tuple[Reading, ...]:
    """What a values path may mean when the chart version is not known (a values file): the
    path as it is, then as each rename row whose chart's words begin it (the newest first)."""
    rows = sorted((row for row in table.RENAMES if _begins(row.chart, path)), key=_newest_first)
    return (
        Reading(path),
        *(Reading(_swap(path, row.chart, row.config), row) for row in reversed(rows)),
    )


def renamed_words(row: Rename) -> str:
    """A rename row as a message says it: `the official chart from 1.23.0 on calls a.b a.c`."""
    when = f" from {version_text(row.since)} on" if row.since else ""
    return f"the {row.flavour} chart{when} calls {'.'.join(row.config)} {'.'.join(row.chart)}"


def version_text(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def has_value(chart: Chart, path: ValuePath) -> str | None:
    """None when the chart version reads this config path; else why not, for a message that
    names the value in the chart's words."""
    path = generic(path)
    if path[:3] == _SETS:
        if chart.flavour == "official" and chart.at_least(1, 20, 0):
            return None
        sets = ".".join(chart_words(chart, _SETS))
        return f"the {chart.name} has no worker sets ({sets} is new in 1.20.0)"
    if chart.flavour == "community" and path in (TOP_VOLUMES, TOP_MOUNTS):
        return None  # taken as airflow.extraVolumes / -Mounts
    known = CHART_VALUES[chart.flavour]
    dotted = ".".join(chart_words(chart, path))
    if path not in known:
        return f"the {chart.flavour} chart has no value {dotted}"
    since = known[path]
    if since is not None and not chart.at_least(*since):
        return f"{dotted} is new in {chart.flavour} chart {version_text(since)}"
    removed = REMOVED_IN.get(path)
    if removed is not None and chart.at_least(*removed):
        return f"{dotted} was removed in {chart.flavour} chart {version_text(removed)}"
    return None
