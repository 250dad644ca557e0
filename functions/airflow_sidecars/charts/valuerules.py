"""The charts' value-dependent rules: a user's value that makes a chart leave out its own volume.

chart.py says where a chart puts the `extra*` values. A few chart templates also look *into*
those values and render their own entries differently. The one rule of that kind in the
supported charts (docs/charts.md has the table, with the templates read for each version):

- community 8.8.0-8.9.0 (`templates/_helpers/pods.tpl`, `airflow.volumes` and
  `airflow.volumeMounts`, with `airflow._has_logs_path` in `_helpers/common.tpl`): when a mount
  of `airflow.extraVolumeMounts`, or of the pod's own extraVolumeMounts (a component's, or
  `airflow.kubernetesPodTemplate`'s), has a `mountPath` that is a prefix of `logs.path` (both
  cleaned as Go's `path.Clean` does; a prefix of the string, so `/opt/airflow/lo` counts), the
  pod has no `logs-data` volume and none of the chart's `logs-data` mounts. Any other chart
  container that mounts `logs-data` (the `log-cleanup` sidecar) makes the chart refuse the
  values (`_helpers/validate-values.tpl`), and so does such a mount in `airflow.
  extraVolumeMounts` while `logs-data` is the logs claim (`logs.persistence.enabled`).

The official chart (1.15.0-1.22.0) has none: its `logs`, `dags` and `config` volumes and
mounts follow `logs.persistence`, `dags.persistence` / `dags.gitSync` and
`workers.persistence` only, never the extra values; a mount of the user's at the logs path is
a second mount at one path there, which the API server rejects (inject says name-conflict).
"""

from __future__ import annotations

from typing import NamedTuple

from airflow_sidecars.charts.chart import (
    EXTRA_MOUNTS,
    TOP_MOUNTS,
    Chart,
    Flavour,
    ValuePath,
    Version,
)


class ValueRule(NamedTuple):
    """A chart leaves out its own volume `volume` (and every mount of it in the containers
    that take the extra mounts) when an extra mount of the pod covers the path the chart
    mounts that volume at."""

    flavour: Flavour
    since: Version  # the versions the rule was read in: since .. the newest tested
    volume: str
    what: str  # the trigger, in the chart's words
    template: str  # where the chart says it
    # values whose covering mount the chart refuses while its volume is a persistentVolumeClaim
    refused_over_claim: tuple[ValuePath, ...] = ()
    claim: str = ""  # the value that makes the volume a claim, for messages


RULES: tuple[ValueRule, ...] = (
    ValueRule(
        "community",
        (8, 8, 0),
        "logs-data",
        f"a mountPath of `airflow.{EXTRA_MOUNTS}` or of the pod's own `{EXTRA_MOUNTS}` that is "
        "a prefix of `logs.path`",
        "templates/_helpers/pods.tpl (airflow.volumes, airflow.volumeMounts), "
        "templates/_helpers/common.tpl (airflow._has_logs_path)",
        # the config's top-level mounts are `airflow.extraVolumeMounts` there
        (("airflow", EXTRA_MOUNTS), TOP_MOUNTS),
        "logs.persistence.enabled",
    ),
)


# The chart volumes a rule leaves out: the only entries a take-back writes back.
LEFT_OUT = frozenset(rule.volume for rule in RULES)


def rules_for(chart: Chart) -> tuple[ValueRule, ...]:
    """The rules of the chart version that rendered a pod."""
    return tuple(r for r in RULES if r.flavour == chart.flavour and chart.at_least(*r.since))


def covers(mount_path: object, chart_path: object) -> bool:
    """Whether a mount at `mount_path` makes the chart leave out its mount at `chart_path`:
    `hasPrefix (clean .mountPath) (clean logs.path)`, a prefix of the string."""
    if not isinstance(mount_path, str) or not mount_path or not isinstance(chart_path, str):
        return False
    return go_clean(chart_path).startswith(go_clean(mount_path))


def go_clean(path: str) -> str:
    """Go's `path.Clean`: one slash between names, no `.`, `..` resolved lexically (above
    the root it stays at the root), no trailing slash; "" is "."."""
    rooted = path.startswith("/")
    names: list[str] = []
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name != "..":
            names.append(name)
        elif names and names[-1] != "..":
            names.pop()
        elif not rooted:
            names.append(name)
    cleaned = "/".join(names)
    if rooted:
        return "/" + cleaned
    return cleaned or "."
