"""kerberos: the seed's ticket renewer, sharing a credential cache with the Airflow container."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_sidecars.pods.podspec import Additions, Wanted
from airflow_sidecars.renders.release import setting

from .common import (
    Expansion,
    Note,
    PodFacts,
    Preset,
    airflow_env,
    config_file_mounts,
    env_var,
    image,
    into_main,
    object_name,
    seconds,
    sidecar_additions,
)
from .sections import AIRFLOW_COMPONENTS

# The Kerberos layout follows the official chart's own kerberos sidecar (kerberos.* defaults,
# worker template): the credential cache in an emptyDir at /var/kerberos-ccache that
# `airflow kerberos` writes and the Airflow containers read, krb5.conf at /etc/krb5.conf, the
# keytab at /etc/airflow.keytab (the chart's Secret key `kerberos.keytab`). The names differ
# from the chart's (`worker-kerberos`, `kerberos-ccache`, `kerberos-keytab`) so that the
# chart's sidecar, when it is enabled, is told apart.
KERBEROS_CONTAINER = "kerberos-renewer"
CCACHE_VOLUME, CCACHE_DIR, CCACHE_FILE = "krb-ccache", "/var/kerberos-ccache", "cache"
KEYTAB_VOLUME, KEYTAB_PATH, KEYTAB_KEY = "krb-keytab", "/etc/airflow.keytab", "kerberos.keytab"
KRB5_VOLUME, KRB5_PATH = "krb5-conf", "/etc/krb5.conf"
CHART_KERBEROS_VOLUMES = frozenset({"kerberos-ccache", "kerberos-keytab"})


CCACHE = f"{CCACHE_DIR}/{CCACHE_FILE}"
KRB5_MOUNT = {"name": KRB5_VOLUME, "mountPath": KRB5_PATH, "subPath": "krb5.conf"}


def expand(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    names = {
        volume.get("name") for volume in facts.pod.get("volumes") or [] if isinstance(volume, dict)
    }
    chart_volumes = sorted(name for name in names if name in CHART_KERBEROS_VOLUMES)
    if chart_volumes:
        message = (
            "preset kerberos: the chart's own Kerberos sidecar runs in this pod "
            f"({', '.join(chart_volumes)}: kerberos.enabled); left as it is"
        )
        return Expansion(Additions(), [("warning", message, "preset")], {})
    main = facts.main or {}
    main_env, notes = _main_env(params, facts)
    additions = Additions(volumes=[Wanted(volume, origin) for volume in _volumes(params)])
    into = into_main(facts)
    read_only_cache = {"name": CCACHE_VOLUME, "mountPath": CCACHE_DIR, "readOnly": True}
    additions.mounts.append((Wanted(read_only_cache, origin), *into))
    if "krb5Config" in params:
        additions.mounts.append((Wanted(KRB5_MOUNT, origin), *into))
    additions.env += [(Wanted(entry, origin), *into) for entry in main_env]
    # A task must not start before there is a ticket to use.
    probe = {
        "exec": {"command": ["test", "-s", CCACHE]},
        "periodSeconds": 2,
        "failureThreshold": 60,
    }
    renewer = _renewer(params, main, main_env)
    additions.extend(sidecar_additions(facts, renewer, origin, probe))
    return Expansion(additions, notes, {})


def _main_env(
    params: Mapping[str, Any], facts: PodFacts
) -> tuple[list[dict[str, Any]], list[Note]]:
    """What the Airflow container needs to use the ticket: where the cache is (for Kerberos
    libraries, KRB5CCNAME; for Airflow, [kerberos] ccache, which the community chart leaves
    at /tmp/airflow_krb5_ccache), the principal, and `[core] security = kerberos`, without
    which Airflow's hooks do not use Kerberos at all."""
    main_env = [
        env_var("KRB5CCNAME", CCACHE),
        *([env_var("KRB5_CONFIG", KRB5_PATH)] if "krb5Config" in params else []),
        env_var("AIRFLOW__KERBEROS__CCACHE", CCACHE),
        env_var("AIRFLOW__KERBEROS__PRINCIPAL", params["principal"]),
    ]
    notes: list[Note] = []
    security = setting(facts.release, facts.main, "core", "security")
    if not security:
        main_env.append(env_var("AIRFLOW__CORE__SECURITY", "kerberos"))
    elif security != "kerberos":
        message = (
            f"preset kerberos: the release sets [core] security = {security!r}, kept; Airflow "
            "uses the ticket only with security = kerberos"
        )
        notes.append(("warning", message, "preset"))
    return main_env, notes


def _volumes(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    volumes = [{"name": CCACHE_VOLUME, "emptyDir": {"medium": "Memory"}}]
    if "keytabSecret" in params:
        source: dict[str, Any] = {
            "secret": {"secretName": params["keytabSecret"], "defaultMode": 0o400}
        }
    else:
        source = {"persistentVolumeClaim": {"claimName": params["keytabClaim"], "readOnly": True}}
    volumes.append({"name": KEYTAB_VOLUME, **source})
    if "krb5Config" in params:
        volumes.append({"name": KRB5_VOLUME, "configMap": {"name": params["krb5Config"]}})
    return volumes


def _renewer(
    params: Mapping[str, Any], main: dict[str, Any], main_env: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ticket renewer: `airflow kerberos` in the Airflow image, beside the main container."""
    sidecar: dict[str, Any] = {
        "name": KERBEROS_CONTAINER,
        "image": params.get("image", main.get("image")),
    }
    if "image" not in params and "imagePullPolicy" in main:
        sidecar["imagePullPolicy"] = main["imagePullPolicy"]
    # The Airflow image's entrypoint runs `airflow kerberos <principal> --keytab <file>`.
    sidecar["args"] = ["kerberos", params["principal"], "--keytab", KEYTAB_PATH]
    # `airflow kerberos` records itself in the metadata database like every Airflow command:
    # it gets the Airflow container's whole environment (the database connection, whatever
    # secret it comes from), as the chart's own worker-kerberos does.
    sidecar["env"] = [
        *airflow_env(main),
        *[entry for entry in main_env if entry["name"] != "AIRFLOW__CORE__SECURITY"],
        env_var("AIRFLOW__KERBEROS__KEYTAB", KEYTAB_PATH),
        env_var("AIRFLOW__KERBEROS__REINIT_FREQUENCY", str(params.get("interval", 3600))),
    ]
    if main.get("envFrom"):
        sidecar["envFrom"] = copy.deepcopy(main["envFrom"])
    # Only this container sees the keytab (Airflow's production guidance), and only it
    # writes the credential cache. It reads the same airflow.cfg as the Airflow container.
    keytab_key = params.get("keytabKey", KEYTAB_KEY)
    sidecar["volumeMounts"] = [
        *config_file_mounts(main),
        {"name": CCACHE_VOLUME, "mountPath": CCACHE_DIR},
        {"name": KEYTAB_VOLUME, "mountPath": KEYTAB_PATH, "subPath": keytab_key, "readOnly": True},
        *([dict(KRB5_MOUNT)] if "krb5Config" in params else []),
    ]
    if main.get("securityContext"):
        sidecar["securityContext"] = copy.deepcopy(main["securityContext"])
    sidecar["resources"] = PRESET.resources(params)
    return sidecar


PRESET = Preset(
    name="kerberos",
    summary=(
        f"A Kerberos ticket renewer ({KERBEROS_CONTAINER}: `airflow kerberos`) sharing an "
        "in-memory credential cache with the Airflow containers, laid out as the official "
        "chart's own kerberos sidecar. Only the renewer mounts the keytab; the Airflow "
        "containers read the cache through KRB5CCNAME and get AIRFLOW__CORE__SECURITY=kerberos. "
        "Give the keytab as exactly one of keytabSecret and keytabClaim. Pods where the chart's "
        "own sidecar runs (kerberos.enabled) are left alone."
    ),
    readme_title="a ticket renewer that shares a credential cache",
    container="renewer",
    parameters={
        "principal": {
            "type": "string",
            "pattern": "^[^\\s@/]+(/[^\\s@/]+)?@[^\\s@]+$",
            "description": (
                "The Kerberos principal to keep a ticket for: name@REALM or name/host@REALM "
                "(AIRFLOW__KERBEROS__PRINCIPAL). Required."
            ),
            "examples": [
                "airflow@EXAMPLE.COM",
                "airflow/worker.airflow.svc.cluster.local@EXAMPLE.COM",
            ],
        },
        "keytabSecret": object_name(
            "The Secret, in the release's namespace, that holds the keytab under keytabKey; "
            f"mounted read-only at {KEYTAB_PATH} in the renewer only. Exactly one of "
            "keytabSecret and keytabClaim.",
            ["airflow-keytab"],
        ),
        "keytabClaim": object_name(
            "The PersistentVolumeClaim that holds the keytab as the file keytabKey; mounted "
            "read-only in the renewer only. Exactly one of keytabSecret and keytabClaim.",
            ["airflow-keytab"],
        ),
        "keytabKey": {
            "type": "string",
            "pattern": "^[-._a-zA-Z0-9]+$",
            "maxLength": 253,
            "default": KEYTAB_KEY,
            "description": (
                "The keytab's key in the Secret, or its file name on the claim. Default: "
                f"{KEYTAB_KEY} (the key of the official chart's own keytab Secret)."
            ),
            "examples": [KEYTAB_KEY, "airflow.keytab"],
        },
        "krb5Config": object_name(
            f"A ConfigMap with the key krb5.conf, mounted at {KRB5_PATH} in the renewer and the "
            "Airflow containers (KRB5_CONFIG). Default: none (the image's own /etc/krb5.conf).",
            ["airflow-krb5"],
        ),
        "interval": seconds(
            3600,
            "Seconds between ticket renewals (1-86400): Airflow's [kerberos] reinit_frequency. "
            "Default: 3600.",
            [3600],
        ),
        "image": image(
            "The renewer's image: one with Airflow and kinit (the official Airflow image has "
            "both). Default: each pod's own Airflow image, with its pull policy.",
            ["apache/airflow:2.10.5"],
        ),
    },
    required=("principal",),
    constraints={"oneOf": [{"required": ["keytabSecret"]}, {"required": ["keytabClaim"]}]},
    constraint_messages={"oneOf": "give the keytab as exactly one of keytabSecret and keytabClaim"},
    example={
        "principal": "airflow@EXAMPLE.COM",
        "keytabSecret": "airflow-keytab",
        "krb5Config": "airflow-krb5",
    },
    sections=AIRFLOW_COMPONENTS,
    default_sections=lambda release: ("workers",),
    components_doc=(
        "The config sections whose pods get the renewer ({choices}; workers includes the "
        "KubernetesExecutor pod template). Default: workers."
    ),
    components_examples=(["workers"], ["workers", "triggerer"]),
    default_requests={"cpu": "10m", "memory": "64Mi"},
    expand=expand,
    unmatched="none of its components is in the render (set `components` to choose them)",
    pattern_meanings={
        "principal": "a Kerberos principal (name@REALM or name/host@REALM)",
        "keytabSecret": "a Secret name",
        "keytabClaim": "a PersistentVolumeClaim name",
        "krb5Config": "a ConfigMap name",
    },
    main_env=frozenset(
        {
            "KRB5CCNAME",
            "KRB5_CONFIG",
            "AIRFLOW__KERBEROS__CCACHE",
            "AIRFLOW__KERBEROS__PRINCIPAL",
            "AIRFLOW__CORE__SECURITY",
        }
    ),
)
