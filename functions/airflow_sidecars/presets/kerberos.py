"""kerberos: the seed's ticket renewer, sharing a credential cache with the Airflow container."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_sidecars.charts.chart import KERBEROS_CONTAINERS
from airflow_sidecars.pods.podspec import Additions, Wanted
from airflow_sidecars.renders.release import is_true, setting

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
# The one-shot `airflow kerberos --one-time` before the Airflow container of a pod that runs
# tasks, as the chart's own `kerberos-init` (workers.kerberosInitContainer) does: a Celery
# worker takes tasks as soon as it starts, and must not take one without a ticket.
FIRST_TICKET_CONTAINER = "kerberos-first-ticket"
CCACHE_VOLUME, CCACHE_DIR, CCACHE_FILE = "krb-ccache", "/var/kerberos-ccache", "cache"
KEYTAB_VOLUME, KEYTAB_PATH, KEYTAB_KEY = "krb-keytab", "/etc/airflow.keytab", "kerberos.keytab"
KRB5_VOLUME, KRB5_PATH = "krb5-conf", "/etc/krb5.conf"
CHART_KERBEROS_VOLUMES = frozenset({"kerberos-ccache", "kerberos-keytab"})
# The executors that run tasks in the scheduler's own pod.
LOCAL_EXECUTORS = ("LocalExecutor", "SequentialExecutor", "LocalKubernetesExecutor")


CCACHE = f"{CCACHE_DIR}/{CCACHE_FILE}"
KRB5_MOUNT = {"name": KRB5_VOLUME, "mountPath": KRB5_PATH, "subPath": "krb5.conf"}
# A ticket that can be used: `klist -s` exits 1 when the cache is missing, unreadable or its
# ticket has expired (`test -s` passed on any file, also one a dead renewer left behind).
HAS_TICKET = ["klist", "-s", "-c", CCACHE]
# `airflow kerberos` with its log passed through, and after the two errors of MIT's kinit that
# Airflow's own message does not explain (it blames renewability for both), what to do. Airflow
# runs `kinit -R` right after every kinit (its Kerberos 1.8.1 workaround, whenever the cache
# holds `X-CACHECONF:` entries, as MIT's kinit writes with pre-authentication), so both show
# within seconds of the start. bash, not sh: pipefail gives the container Airflow's exit code.
RENEWER_SCRIPT = (
    'set -o pipefail; airflow kerberos "$@" 2>&1 | while IFS= read -r line; do '
    "printf '%s\\n' \"$line\"; case $line in "
    '*"Ticket expired while renewing credentials"*) echo "preset kerberos: the KDC gives $1 '
    "tickets it will not renew: give $1 and krbtgt/${1#*@} a renewable life (MIT: kadmin "
    "modprinc -maxrenewlife '7 days' for both, and max_renewable_life in kdc.conf; Active "
    "Directory: the domain's Maximum lifetime for user ticket renewal)\";; "
    '*"Incorrect net address"*) echo "preset kerberos: the ticket of $1 holds this pod\'s '
    "addresses ([kerberos] include_ip) and the KDC sees another (egress NAT, a KDC outside "
    "the cluster): set the kerberos preset's includeIp to false\";; esac; done"
)


def expand(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    chart_own = _chart_kerberos(facts.pod)
    if chart_own:
        message = (
            f"preset kerberos: the chart's own Kerberos runs in this pod ({chart_own}: "
            "kerberos.enabled); left as it is"
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
    renewer_env, ip_notes = _renewer_env(params, facts, main, main_env)
    if _runs_tasks(facts):
        first = _kerberos_container(params, main, renewer_env, one_time=True)
        additions.init_containers.append(Wanted(first, origin))
    renewer = _kerberos_container(params, main, renewer_env, one_time=False)
    # A task must not start before there is a ticket to use: in a task pod (a native sidecar)
    # the renewer's startup probe holds the task back until `klist` finds one.
    additions.extend(sidecar_additions(facts, renewer, origin))
    return Expansion(additions, [*notes, *ip_notes], {})


def _chart_kerberos(pod: dict[str, Any]) -> str:
    """What of the chart's own Kerberos the pod has (its sidecar, its init container, its
    volumes), in words ("": none). A second renewer on another cache would only compete."""
    names = {volume.get("name") for volume in pod.get("volumes") or [] if isinstance(volume, dict)}
    volumes = sorted(name for name in names if name in CHART_KERBEROS_VOLUMES)
    if not volumes:
        return ""
    containers = [
        str(container.get("name"))
        for field in ("initContainers", "containers")
        for container in pod.get(field) or []
        if isinstance(container, dict) and container.get("name") in KERBEROS_CONTAINERS
    ]
    return ", ".join([*containers, *volumes])


def _runs_tasks(facts: PodFacts) -> bool:
    """Whether the pod runs tasks and starts them as soon as its Airflow container starts: a
    Celery worker, or a scheduler whose executor runs tasks in its own pod. A task pod's
    renewer is a native sidecar whose startup probe already holds the task back."""
    if facts.native:
        return False
    if facts.workload.section == "workers":
        return True
    if facts.workload.section != "scheduler":
        return False
    executor = setting(facts.release, facts.main, "core", "executor") or ""
    return any(name in LOCAL_EXECUTORS for name in executor.replace(" ", "").split(","))


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


def _renewer_env(
    params: Mapping[str, Any],
    facts: PodFacts,
    main: dict[str, Any],
    main_env: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[Note]]:
    """The environment of the containers that run `airflow kerberos`: the Airflow container's
    whole environment (`airflow kerberos` records itself in the metadata database like every
    Airflow command, with whatever secret the connection comes from), as the chart's own
    worker-kerberos has it, and the Kerberos settings."""
    env = [
        *airflow_env(main),
        *[entry for entry in main_env if entry["name"] != "AIRFLOW__CORE__SECURITY"],
        env_var("AIRFLOW__KERBEROS__KEYTAB", KEYTAB_PATH),
        env_var("AIRFLOW__KERBEROS__REINIT_FREQUENCY", str(params.get("interval", 3600))),
    ]
    include_ip, notes = _include_ip(params, facts)
    if include_ip is not None:
        env.append(env_var("AIRFLOW__KERBEROS__INCLUDE_IP", include_ip))
    return env, notes


def _include_ip(params: Mapping[str, Any], facts: PodFacts) -> tuple[str | None, list[Note]]:
    """`[kerberos] include_ip` for the renewer (None: the release's own value stands).

    Airflow's default, True, makes `kinit -a` bind the ticket to the pod's addresses; a KDC that
    sees another source address (egress NAT, the usual way to a KDC outside the cluster such as
    Active Directory) refuses to renew it ("Incorrect net address"), and the renewer exits. So
    the preset turns it off unless `includeIp` says otherwise, and keeps a value the release
    sets, saying so when it is true."""
    if "includeIp" in params:
        return ("True" if params["includeIp"] else "False"), []
    released = setting(facts.release, facts.main, "kerberos", "include_ip")
    if released is None:
        return "False", []
    if not is_true(released):
        return None, []
    message = (
        f"preset kerberos: the release sets [kerberos] include_ip = {released!r}, kept: the "
        "ticket is bound to the pod's addresses, and a KDC that sees another (egress NAT, a KDC "
        "outside the cluster) refuses to renew it; set includeIp: false to turn it off here"
    )
    return None, [("warning", message, "preset")]


def _kerberos_container(
    params: Mapping[str, Any], main: dict[str, Any], env: list[dict[str, Any]], *, one_time: bool
) -> dict[str, Any]:
    """`airflow kerberos` in the Airflow image: the renewer beside the Airflow container, or
    (`one_time`) the init container that gets the first ticket before it starts."""
    name = FIRST_TICKET_CONTAINER if one_time else KERBEROS_CONTAINER
    container: dict[str, Any] = {"name": name, "image": params.get("image", main.get("image"))}
    if "image" not in params and "imagePullPolicy" in main:
        container["imagePullPolicy"] = main["imagePullPolicy"]
    # The Airflow image's entrypoint runs `bash ...` as given: RENEWER_SCRIPT runs
    # `airflow kerberos <principal> --keytab <file>`, with its arguments after the script's name.
    airflow_args = [params["principal"], "--keytab", KEYTAB_PATH]
    if one_time:
        airflow_args.append("--one-time")
    container["args"] = ["bash", "-c", RENEWER_SCRIPT, "kerberos", *airflow_args]
    container["env"] = copy.deepcopy(env)
    if main.get("envFrom"):
        container["envFrom"] = copy.deepcopy(main["envFrom"])
    # Only these containers see the keytab (Airflow's production guidance), and only they
    # write the credential cache. They read the same airflow.cfg as the Airflow container.
    keytab_key = params.get("keytabKey", KEYTAB_KEY)
    container["volumeMounts"] = [
        *config_file_mounts(main),
        {"name": CCACHE_VOLUME, "mountPath": CCACHE_DIR},
        {"name": KEYTAB_VOLUME, "mountPath": KEYTAB_PATH, "subPath": keytab_key, "readOnly": True},
        *([dict(KRB5_MOUNT)] if "krb5Config" in params else []),
    ]
    if main.get("securityContext"):
        container["securityContext"] = copy.deepcopy(main["securityContext"])
    container["resources"] = PRESET.resources(params)
    if not one_time:
        # Started once `klist` finds a ticket (Airflow's start, then kinit, take a while on a
        # busy node); restarted when the ticket has expired, as when the renewer hangs.
        container["startupProbe"] = _probe(period=2, failures=90)
        container["livenessProbe"] = _probe(period=60, failures=3)
    return container


def _probe(period: int, failures: int) -> dict[str, Any]:
    return {
        "exec": {"command": list(HAS_TICKET)},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


PRESET = Preset(
    name="kerberos",
    summary=(
        f"A Kerberos ticket renewer ({KERBEROS_CONTAINER}: `airflow kerberos`) sharing an "
        "in-memory credential cache with the Airflow containers, laid out as the official "
        "chart's own kerberos sidecar. Only the renewer mounts the keytab; the Airflow "
        "containers read the cache through KRB5CCNAME and get AIRFLOW__CORE__SECURITY=kerberos. "
        f"Pods that run tasks as soon as they start (Celery workers, a scheduler with a local "
        f"executor) first get a ticket in an init container ({FIRST_TICKET_CONTAINER}: "
        "`airflow kerberos --one-time`); in task pods the renewer's startup probe holds the "
        "task until `klist` finds a ticket, and its liveness probe restarts it when the ticket "
        "has expired. Give the keytab as exactly one of keytabSecret and keytabClaim. Pods "
        "where the chart's own Kerberos runs (kerberos.enabled) are left alone."
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
        "includeIp": {
            "type": "boolean",
            "default": False,
            "description": (
                "Airflow's [kerberos] include_ip for the renewer: whether kinit binds the ticket "
                "to the pod's addresses (`kinit -a`). Off by default: a KDC that sees another "
                "source address than the pod's (egress NAT, a KDC outside the cluster such as "
                'Active Directory) refuses to renew such a ticket ("Incorrect net address") '
                "and the renewer exits. Unset, a value the release sets is kept (with a "
                "warning when it is true)."
            ),
            "examples": [False],
        },
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
