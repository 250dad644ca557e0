"""kerberos: the seed's ticket renewer, sharing a credential cache with the Airflow container."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_sidecars.podspec import Additions, Wanted
from airflow_sidecars.release import setting

from .common import (
    Expansion,
    Note,
    PodFacts,
    airflow_env,
    config_file_mounts,
    env_var,
    into_main,
    resources_for,
    sidecar_additions,
)

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
    sidecar["resources"] = resources_for("kerberos", params)
    return sidecar
