"""syncPerm: the seed's `airflow sync-perm` loop beside the UI component."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_sidecars.pods.podspec import Additions
from airflow_sidecars.renders.release import airflow_major, setting

from .common import (
    Expansion,
    PodFacts,
    Preset,
    airflow_env,
    config_file_mounts,
    env_var,
    seconds,
    sidecar_additions,
)
from .sections import AIRFLOW_COMPONENTS, ui_section

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
    sidecar["resources"] = PRESET.resources(params)
    return Expansion(sidecar_additions(facts, sidecar, origin), [], {})


PRESET = Preset(
    name="syncPerm",
    summary=(
        "A sidecar (sync-perm) that runs `airflow sync-perm` every interval seconds beside the "
        "UI, with the UI container's image, env, envFrom, config files and securityContext, so "
        "it reaches the metadata database as the UI does. Needs the FAB auth manager: on "
        "Airflow 3 with another one it adds nothing and warns."
    ),
    readme_title="`airflow sync-perm` beside the webserver",
    container="sidecar",
    parameters={
        "interval": seconds(
            60,
            "Seconds to wait between two `airflow sync-perm` runs (1-86400). Default: 60.",
            [60, 600],
        ),
    },
    example={"interval": 60},
    sections=AIRFLOW_COMPONENTS,
    default_sections=lambda release: (ui_section(release),),
    components_doc=(
        "The config sections whose pods get the sidecar ({choices}). Default: apiServer when "
        "the release runs one (Airflow 3), else webserver."
    ),
    components_examples=(["webserver"], ["apiServer"]),
    default_requests={"cpu": "50m", "memory": "256Mi"},
    resources_note="the Airflow CLI loads all of Airflow",
    expand=expand,
    unmatched="none of its components is in the render (set `components` to choose them)",
)
