"""Presets: the seed's three sidecars, each expanded from a few parameters plus what the
rendered release already says, so one config serves every release.

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

from collections.abc import Callable, Mapping
from typing import Any

from airflow_sidecars.podspec import Additions

from . import cloudsqlproxy, kerberos, s3sync, syncperm
from .common import Expansion, PodFacts
from .components import components, default_components, parser_section, targets

__all__ = [
    "Expansion",
    "PodFacts",
    "components",
    "default_components",
    "expand",
    "parser_section",
    "targets",
]

# Preset name (the key under spec.presets) -> its expander. A new preset is a module here, an
# entry in this table, and its parameters in the schema.
EXPANDERS: dict[str, Callable[[Mapping[str, Any], PodFacts, str], Expansion]] = {
    "s3Sync": s3sync.expand,
    "syncPerm": syncperm.expand,
    "kerberos": kerberos.expand,
    "cloudSqlProxy": cloudsqlproxy.expand,
}
# Presets that go beside no particular container: the pod's connections decide.
WITHOUT_MAIN = frozenset({"cloudSqlProxy"})


def expand(name: str, params: Mapping[str, Any], facts: PodFacts) -> Expansion:
    origin = f"spec.presets.{name}"
    if facts.main is None and name not in WITHOUT_MAIN:
        message = (
            f"preset {name}: this pod has no Airflow container {facts.main_name!r} to go beside; "
            "left as it is"
        )
        return Expansion(Additions(), [("warning", message, "preset")], {})
    return EXPANDERS[name](params, facts, origin)
