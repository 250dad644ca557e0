"""A chart's own volume taken out of a pod where the config's values make the chart leave it out.

charts/valuerules.py has the rules (the community chart renders no `logs-data` when an extra
mount covers `logs.path`). Where one holds, the pod the chart renders has, in place of the
chart's volume, the config's volume that the mount names, and in each container that takes
the extra mounts, the config's mount in place of the chart's. That is planned here as
"take" ops, each a replace at the chart entry's own index (so no other index moves, and no
list is left empty on the way), which inject records with the text they replaced: taking
the config's entry back writes that text again (records.removal_ops), byte for byte.

The rest of the plan (podspec.plan) runs on the pod as it is after the takes, so that what
the takes already put in is "unchanged" there, and what differs from it a conflict.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from airflow_sidecars.charts.chart import EXTRA_VOLUMES
from airflow_sidecars.pods.apidefaults import declared_equal
from airflow_sidecars.pods.podspec import (
    Additions,
    Finding,
    Op,
    Targeted,
    Wanted,
    containers,
    entries,
)


class LeftOut(NamedTuple):
    """A chart volume the chart leaves out for the config's values, and the config's mounts
    that make it do so (the first one that goes into a container takes the chart's place)."""

    volume: str
    triggers: tuple[Targeted, ...]
    why: str  # the chart's rule, for messages
    refused: str = ""  # why the chart refuses these values ("": it renders them)


class Taken(NamedTuple):
    pod: dict[str, Any]  # the pod after the takes (a copy where they change it)
    additions: Additions  # what is left to plan
    ops: list[Op]
    findings: list[Finding]
    added: list[str]


def take(pod: dict[str, Any], additions: Additions, left_out: LeftOut, pod_path: str) -> Taken:
    """The takes that leave the chart's volume out of `pod`; nothing where the pod has no such
    volume (the chart did not render it, or a run before took it out)."""
    volume = left_out.volume
    volumes = entries(pod, "volumes")
    index = next((n for n, v in enumerate(volumes) if _name(v) == volume), None)
    if index is None:
        return Taken(pod, additions, [], [], [])
    if left_out.refused:
        refused = Finding("error", left_out.refused, ("volumes", index), _RULE)
        return Taken(pod, additions, [], [refused], [])
    first = left_out.triggers[0][0]
    mounted = first.value["name"]
    wanted = next((w for w in additions.volumes if w.value["name"] == mounted), None)
    if wanted is None or (mounted != volume and any(_name(v) == mounted for v in volumes)):
        message = (
            f"{first.origin} mounts volume {mounted!r} at {first.value['mountPath']!r}, so the "
            f"chart leaves out its own volume {volume!r} ({left_out.why}); inject does that "
            f"only where the config adds the volume {mounted!r} to this pod too ({EXTRA_VOLUMES})"
        )
        return Taken(pod, additions, [], [Finding("error", message, ("volumes",), _RULE)], [])
    view = dict(pod)
    ops: list[Op] = []
    added: list[str] = []
    # else the config's, of the chart's name (as written, or as the API server stored it)
    volume_taken = not declared_equal(wanted.value, volumes[index], "volume", "template")
    if volume_taken:
        view["volumes"] = [*volumes[:index], copy.deepcopy(wanted.value), *volumes[index + 1 :]]
        ops.append(Op("take", ("volumes", index), copy.deepcopy(wanted.value)))
        added.append(f"volume {mounted} (in place of the chart's {volume})")
    findings: list[Finding] = []
    for list_name, number, container in containers(pod):
        mounts = entries(container, "volumeMounts")
        chart_mounts = [
            n
            for n, mount in enumerate(mounts)
            if _name(mount) == volume and not _config_s(mount, left_out)
        ]
        if not chart_mounts:
            continue
        name = container.get("name")
        trigger = _trigger(left_out, list_name, name)
        if trigger is None or len(chart_mounts) > 1:
            message = (
                f"{pod_path}.{list_name}[{number}] ({name}) mounts the chart's volume "
                f"{volume!r}, which the chart leaves out for {first.origin} ({left_out.why}): "
                "the chart refuses these values while that container mounts it (its "
                "logCleanup must be disabled)"
            )
            path = (list_name, number, "volumeMounts", chart_mounts[-1])
            findings.append(Finding("error", message, path, _RULE))
            continue
        at = chart_mounts[0]
        changed = dict(container)
        changed["volumeMounts"] = [*mounts[:at], copy.deepcopy(trigger.value), *mounts[at + 1 :]]
        view[list_name] = [*entries(view, list_name)]
        view[list_name][number] = changed
        path = (list_name, number, "volumeMounts", at)
        ops.append(Op("take", path, copy.deepcopy(trigger.value)))
        added.append(f"mount {trigger.value['mountPath']} into {name} (in place of {volume})")
    rest = Additions(
        additions.containers,
        additions.init_containers,
        [w for w in additions.volumes if w is not wanted or not volume_taken],
        additions.mounts,
        additions.env,
    )
    return Taken(view, rest, ops, findings, added)


_RULE = "name-conflict"


def _config_s(mount: Any, left_out: LeftOut) -> bool:
    """A mount of the chart's volume name that is one of the config's (taken before)."""
    return any(
        declared_equal(wanted.value, mount, "mount", "template")
        for wanted, _, _ in left_out.triggers
    )


def _trigger(left_out: LeftOut, list_name: str, container: Any) -> Wanted | None:
    for wanted, into, into_init in left_out.triggers:
        if container in (into if list_name == "containers" else into_init):
            return wanted
    return None


def _name(entry: Any) -> Any:
    return entry.get("name") if isinstance(entry, dict) else None
