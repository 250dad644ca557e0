"""What the config's presets give one pod: the presets whose sections include it, each
expanded from the pod's facts (the registry's records say how), with what they say about the
pod and the ServiceAccount annotations they ask for. The chart values' counterpart is
additions.py; inject plans both together."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_sidecars.configuration.config import Config
from airflow_sidecars.planning import serviceaccounts
from airflow_sidecars.planning.edits import Run, result
from airflow_sidecars.pods.podspec import Additions
from airflow_sidecars.presets import (
    REGISTRY,
    Expansion,
    PodFacts,
    Preset,
    expand,
    sections_for,
    targets,
)
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.renders.release import Release, ReleaseKey

# Rules of preset notes that are about the release, not the pod: said once per release.
RELEASE_NOTES = frozenset({"proxy-connection"})
Presets = list[tuple[Preset, Any, Release | None]]  # (preset, parameters, the workload's release)


def presets_for(
    config: Config, workload: Workload, known_releases: dict[ReleaseKey, Release]
) -> Presets:
    """The presets whose sections include this workload's."""
    release = known_releases.get((workload.release, workload.item.namespace))
    found: Presets = []
    for name, params in config.presets.items():
        preset = REGISTRY[name]  # config load refuses a name the registry lacks
        if targets(sections_for(preset, params, release), workload):
            found.append((preset, params, release))
    return found


def _expansions(
    presets: Presets, workload: Workload, pod: dict[str, Any]
) -> Iterator[tuple[Preset, Expansion]]:
    """Each preset, expanded from the pod's facts."""
    for preset, params, release in presets:
        yield preset, expand(preset, params, PodFacts(workload, pod, release, workload.is_job))


def quietly(
    presets: Presets, workload: Workload, pod: dict[str, Any]
) -> tuple[Additions, dict[str, str]]:
    """What the presets give the pod and the annotations they ask for; nothing is reported."""
    additions, annotations = Additions(), {}
    for _, expansion in _expansions(presets, workload, pod):
        additions.extend(expansion.additions)
        annotations.update(expansion.annotations)
    return additions, annotations


def add(
    run: Run, workload: Workload, pod: dict[str, Any], additions: Additions, presets: Presets
) -> None:
    """Add what the presets give the pod to `additions`, and report what they say."""
    base = workload.pod_path if not workload.is_pod_template else ("data",)
    for preset, expansion in _expansions(presets, workload, pod):
        if expansion.reached:
            run.presets.add(preset.name)
        additions.extend(expansion.additions)
        for severity, message, rule in expansion.notes:
            # What a preset says of the release (where its connection goes) is said once,
            # on the first pod, not once per pod.
            if rule in RELEASE_NOTES:
                said = (workload.release, workload.item.namespace, message)
                if said in run.said:
                    continue
                run.said.add(said)
            run.results.append(result(workload, severity, message, base, rule))
        if expansion.annotations:
            serviceaccounts.ask(run, workload, pod, expansion.annotations)
