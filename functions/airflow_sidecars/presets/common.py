"""What every preset shares: the facts it reads about a pod, what it expands into, and the
helpers that build its sidecar the same way in every pod."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NamedTuple

from airflow_sidecars.airflow import Workload
from airflow_sidecars.podspec import Additions, Wanted, entries, find_container
from airflow_sidecars.release import Release
from airflow_sidecars.results import Severity

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"

Note = tuple[Severity, str, str]  # what a preset says about a pod: (severity, message, rule)


class PodFacts(NamedTuple):
    """What a preset reads about one pod."""

    workload: Workload
    pod: dict[str, Any]
    release: Release | None
    native: bool  # the pod must complete: sidecars go in as native sidecars

    @property
    def main_name(self) -> str:
        return self.workload.main_container

    @property
    def main(self) -> dict[str, Any] | None:
        found = find_container(self.pod, self.main_name, ("containers",))
        return found[2] if found is not None else None

    @property
    def service_account(self) -> str:
        name = self.pod.get("serviceAccountName") or self.pod.get("serviceAccount")
        return name if isinstance(name, str) else "default"


class Expansion(NamedTuple):
    """One preset in one pod: the additions, what to say about it, and a ServiceAccount
    annotation to set (IRSA, Workload Identity), if any. `reached`: False when the preset
    has nothing to do with this pod (no database connection for the proxy), so that it does
    not count as having found its place."""

    additions: Additions
    notes: list[Note]
    annotations: dict[str, str]
    reached: bool = True


# Requests that let the scheduler place the pod honestly (validate's no-requests rule); the
# `resources` parameter replaces them.
DEFAULT_REQUESTS = {
    "s3Sync": {"cpu": "50m", "memory": "128Mi"},
    "syncPerm": {"cpu": "50m", "memory": "256Mi"},  # the Airflow CLI loads all of Airflow
    "kerberos": {"cpu": "10m", "memory": "64Mi"},
    "cloudSqlProxy": {"cpu": "50m", "memory": "64Mi"},
}


def resources_for(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(params.get("resources") or {"requests": DEFAULT_REQUESTS[name]})


def sidecar_additions(
    facts: PodFacts, value: dict[str, Any], origin: str, probe: Any = None
) -> Additions:
    if facts.native:
        native = {**value, "restartPolicy": "Always"}
        if probe is not None:
            native["startupProbe"] = probe
        return Additions(init_containers=[Wanted(native, origin)])
    return Additions(containers=[Wanted(value, origin)])


def into_main(facts: PodFacts) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset({facts.main_name}), frozenset()


def env_var(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


# Variables the presets themselves add to Airflow containers (kerberos): a sidecar that copies
# the Airflow container's environment leaves them out, so that it is the same container on a
# second run, when the Airflow container already has them.
PRESET_MAIN_ENV = frozenset(
    {
        "KRB5CCNAME",
        "KRB5_CONFIG",
        "AIRFLOW__KERBEROS__CCACHE",
        "AIRFLOW__KERBEROS__PRINCIPAL",
        "AIRFLOW__CORE__SECURITY",
    }
)


def airflow_env(main: dict[str, Any]) -> list[Any]:
    """The Airflow container's own `env`, as a sidecar running Airflow needs it."""
    return [
        copy.deepcopy(entry)
        for entry in main.get("env") or []
        if not (isinstance(entry, dict) and entry.get("name") in PRESET_MAIN_ENV)
    ]


def config_file_mounts(main: dict[str, Any]) -> list[dict[str, Any]]:
    """The main container's mounts of Airflow's config files (airflow.cfg, local settings,
    webserver_config.py)."""
    names = ("config", "webserver-config", "api-server-config")
    return [
        copy.deepcopy(mount)
        for mount in entries(main, "volumeMounts")
        if isinstance(mount, dict) and mount.get("name") in names
    ]
