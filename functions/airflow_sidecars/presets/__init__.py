"""Presets: ready-made sidecars, each expanded from a few parameters plus what the rendered
release already says, so one config serves every release.

A preset is one module of this package that defines `PRESET`, a `Preset` record
(common.py): its name, parameters and their schema, default components and requests, what it
adds (its expand function), what it may report and why it may reach nothing. The registry
below is built from those modules, so adding a preset is adding a module (CONTRIBUTING.md);
nothing else in the package names a preset.

Each preset turns into ordinary additions for one pod (podspec.Additions): containers, volumes,
and mounts or env vars for the pod's Airflow container. Planning, conflicts, idempotency and
the edits themselves are the same as for the chart vocabulary. What presets add on top:
- values reach containers as environment variables or arguments, never inside a shell string,
  so a bucket name or a principal cannot run a command;
- a sidecar in a pod that must finish (a KubernetesExecutor task pod, a Job) goes in as a
  native sidecar: an init container with `restartPolicy: Always`, with a startup probe where
  the Airflow container needs it ready first;
- what copy-pasted examples get wrong is fixed here: a mounted volume always exists, and only
  the Kerberos container sees the keytab.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from airflow_sidecars.pods.podspec import Additions

from .common import Expansion, PodFacts, Preset
from .sections import sections_for, targets

__all__ = ["REGISTRY", "Expansion", "PodFacts", "Preset", "expand", "sections_for", "targets"]

# Modules of this package that are not presets: what the presets share.
SUPPORT_MODULES = frozenset({"common", "sections", "schema"})


def preset_modules() -> list[str]:
    """The preset modules of this package, by name: its `.py` files but the support modules.
    (Listed from the folder, not with pkgutil, which imports `inspect`: ~4 ms a run.)"""
    names = {
        entry.name[: -len(".py")]
        for folder in __path__
        for entry in os.scandir(folder)
        if entry.name.endswith(".py") and not entry.name.startswith("_")
    }
    return sorted(names - SUPPORT_MODULES)


def _discover() -> dict[str, Preset]:
    """Every preset module's `PRESET`, by config name, in module name order (stable output)."""
    found: dict[str, Preset] = {}
    for module in preset_modules():
        preset = importlib.import_module(f"{__name__}.{module}").PRESET
        if not isinstance(preset, Preset) or preset.name in found:
            raise ImportError(f"presets.{module}: PRESET is not a Preset of its own name")
        found[preset.name] = preset
    return found


REGISTRY: Mapping[str, Preset] = _discover()


def expand(preset: Preset, params: Mapping[str, Any], facts: PodFacts) -> Expansion:
    origin = f"spec.presets.{preset.name}"
    if facts.main is None and preset.needs_main:
        message = (
            f"preset {preset.name}: this pod has no Airflow container {facts.main_name!r} to go "
            "beside; left as it is"
        )
        return Expansion(Additions(), [("warning", message, "preset")], {})
    return preset.expand(params, facts, origin)
