"""syncPerm: the seed's `airflow sync-perm` loop beside the UI component."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_sidecars.podspec import Additions
from airflow_sidecars.release import airflow_major, setting

from .common import (
    Expansion,
    PodFacts,
    airflow_env,
    config_file_mounts,
    env_var,
    resources_for,
    sidecar_additions,
)

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
SYNC_PERM_SCRIPT = 'while true; do airflow sync-perm; sleep "${SYNC_PERM_INTERVAL}"; done'


def expand(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    main = facts.main or {}
    major = airflow_major(facts.release, main)
    # `airflow sync-perm` comes with the FAB auth manager (the default on Airflow 2; on
    # Airflow 3 the command exists only when FAB is the configured auth manager).
    if major >= 3:
        auth_manager = setting(facts.release, main, "core", "auth_manager")
        if auth_manager != FAB_AUTH_MANAGER:
            message = (
                "preset syncPerm: on Airflow 3 permissions are synced only by the FAB auth "
                f"manager, and this release uses {auth_manager or 'the default (simple) one'}; "
                "left as it is"
            )
            return Expansion(Additions(), [("warning", message, "preset")], {})
    # The webserver's own image, environment and config files: the metadata database
    # connection comes from whatever secret this release uses.
    sidecar: dict[str, Any] = {"name": "sync-perm"}
    for key in ("image", "imagePullPolicy"):
        if key in main:
            sidecar[key] = main[key]
    sidecar["args"] = ["bash", "-c", SYNC_PERM_SCRIPT]
    sidecar["env"] = [
        *airflow_env(main),
        env_var("SYNC_PERM_INTERVAL", str(params.get("interval", 60))),
    ]
    if main.get("envFrom"):
        sidecar["envFrom"] = copy.deepcopy(main["envFrom"])
    config_mounts = config_file_mounts(main)
    if config_mounts:
        sidecar["volumeMounts"] = config_mounts
    if main.get("securityContext"):
        sidecar["securityContext"] = copy.deepcopy(main["securityContext"])
    sidecar["resources"] = resources_for("syncPerm", params)
    return Expansion(sidecar_additions(facts, sidecar, origin), [], {})
