"""Presets: the seed's three sidecars, each expanded from a few parameters plus what the
rendered release already says (design.md, "Presets"), so one config serves every release.

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

import copy
from collections.abc import Mapping
from typing import Any, NamedTuple

from .airflow import Workload
from .chart import GIT_SYNC_CONTAINERS
from .podspec import Additions, Wanted
from .release import (
    Release,
    airflow_major,
    container,
    dag_bundle_folder,
    main_container_name,
    setting,
)

# amazon/aws-cli: the AWS CLI v2 on Amazon Linux 2, with /bin/sh; pinned so that renders are
# reproducible (override with `image`).
S3_SYNC_IMAGE = "amazon/aws-cli:2.17.0"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

# The scripts are constants; every value they use comes from the container's environment.
# `--exact-timestamps`: without it, a download is skipped when the sizes match and the local
# copy is not older, so a DAG edited in S3 to the same size never arrives.
S3_SYNC_SCRIPT = (
    'while true; do aws s3 sync "s3://${S3_BUCKET}/${S3_PREFIX}" "${DAGS_FOLDER}" --no-progress'
    ' --exact-timestamps%s && touch /tmp/s3-sync-done; sleep "${SYNC_INTERVAL}"; done'
)
# The AWS CLI writes its credential cache (IRSA) under $HOME/.aws; the image has no home for
# the pod's uid (50000 in the official chart), so HOME=/ and every sync failed. The sidecar
# gets a writable /tmp of its own, also for a read-only root filesystem, and HOME there.
S3_SYNC_TMP_VOLUME = "s3-sync-tmp"
SYNC_PERM_SCRIPT = 'while true; do airflow sync-perm; sleep "${SYNC_PERM_INTERVAL}"; done'

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


class PodFacts(NamedTuple):
    """What a preset reads about one pod."""

    workload: Workload
    pod: dict[str, Any]
    release: Release | None
    native: bool  # the pod must complete: sidecars go in as native sidecars

    @property
    def main_name(self) -> str:
        return main_container_name(self.workload)

    @property
    def main(self) -> dict[str, Any] | None:
        return container(self.pod, self.main_name)

    @property
    def service_account(self) -> str:
        name = self.pod.get("serviceAccountName") or self.pod.get("serviceAccount")
        return name if isinstance(name, str) else "default"


class Expansion(NamedTuple):
    """One preset in one pod: the additions, what to say about it, and a ServiceAccount
    annotation to set (IRSA), if any."""

    additions: Additions
    notes: list[tuple[str, str, str]]  # (severity, message, rule)
    annotations: dict[str, str]


def parser_section(release: Release | None) -> str:
    """Whoever parses DAG files: a standalone dag-processor when the release runs one (always
    on Airflow 3), else the scheduler."""
    sections = release.sections if release is not None else set()
    return "dagProcessor" if "dagProcessor" in sections else "scheduler"


def default_components(name: str, release: Release | None) -> tuple[str, ...]:
    sections = release.sections if release is not None else set()
    if name == "s3Sync":
        # Every pod that reads DAG files: the parser, and the workers that run the tasks (a
        # Celery worker imports the DAG file; on Airflow 3 the task runner parses it from the
        # local bundle), the KubernetesExecutor pod template included.
        return (parser_section(release), "workers")
    if name == "syncPerm":
        # The UI component: the api-server exists only on Airflow 3.
        return ("apiServer",) if "apiServer" in sections else ("webserver",)
    return ("workers",)


def components(name: str, params: Mapping[str, Any], release: Release | None) -> tuple[str, ...]:
    """The config sections a preset goes into: its `components`, else its defaults."""
    return tuple(params.get("components") or default_components(name, release))


def targets(components: tuple[str, ...], workload: Workload) -> bool:
    return workload.section in components or ("workers" in components and workload.is_pod_template)


def expand(name: str, params: Mapping[str, Any], facts: PodFacts) -> Expansion:
    origin = f"spec.presets.{name}"
    if facts.main is None:
        message = (
            f"preset {name}: this pod has no Airflow container {facts.main_name!r} to go beside; "
            "left as it is"
        )
        return Expansion(Additions(), [("warning", message, "preset")], {})
    return _EXPANDERS[name](params, facts, origin)


# Requests that let the scheduler place the pod honestly (validate's no-requests rule); the
# `resources` parameter replaces them.
DEFAULT_REQUESTS = {
    "s3Sync": {"cpu": "50m", "memory": "128Mi"},
    "syncPerm": {"cpu": "50m", "memory": "256Mi"},  # the Airflow CLI loads all of Airflow
    "kerberos": {"cpu": "10m", "memory": "64Mi"},
}


def _resources(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(params.get("resources") or {"requests": DEFAULT_REQUESTS[name]})


def _sidecar(facts: PodFacts, value: dict[str, Any], origin: str, probe: Any = None) -> Additions:
    if facts.native:
        native = {**value, "restartPolicy": "Always"}
        if probe is not None:
            native["startupProbe"] = probe
        return Additions(init_containers=[Wanted(native, origin)])
    return Additions(containers=[Wanted(value, origin)])


def _into_main(facts: PodFacts) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset({facts.main_name}), frozenset()


def _env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


# -- s3Sync -----------------------------------------------------------------------------------


def _s3_sync(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    found = dag_bundle_folder(facts.release, facts.main, params.get("bundle"))
    if found.folder is None:
        message = f"preset s3Sync: {found.problem}; left as it is"
        return Expansion(Additions(), [("warning", message, "preset")], {})
    folder = found.folder
    additions = Additions()
    main = facts.main or {}
    # Reuse the volume the Airflow container already has the DAG folder on (`dags` for git-sync
    # or dags.persistence in the official chart, `dags-data` in the community one); else bring
    # an emptyDir and mount it there in the Airflow container too.
    existing = _mount_holding(main, folder)
    volume_name = existing["name"] if existing is not None else "dags"
    mount_path = existing["mountPath"] if existing is not None else folder
    volume = _volume(facts.pod, volume_name)
    parser = parser_section(facts.release)
    if _is_claim(volume) and facts.workload.section != parser:
        # A shared DAG volume (dags.persistence) has one writer: the parser's sidecar. Two
        # syncs with `--delete` into one claim would race each other.
        severity = "info" if parser in components("s3Sync", params, facts.release) else "warning"
        message = (
            f"preset s3Sync: the DAG folder is on the shared claim of volume {volume_name!r}, "
            f"written by the {parser}'s s3-sync"
            + ("" if severity == "info" else f", which components leaves out: add {parser}")
        )
        return Expansion(Additions(), [(severity, message, "preset")], {})
    # `aws s3 sync --delete` mirrors the prefix, removing what it does not hold: only where
    # nothing else writes DAGs (no git-sync, no shared volume), so that it is also the same
    # decision on a second run, when the emptyDir this preset added is already there.
    exclusive = not _has_git_sync(facts.pod) and volume in (
        None,
        {"name": volume_name, "emptyDir": {}},
    )
    if existing is None:
        additions.volumes.append(Wanted({"name": "dags", "emptyDir": {}}, origin))
        mount = {"name": "dags", "mountPath": folder}
        additions.mounts.append((Wanted(mount, origin), *_into_main(facts)))
    additions.volumes.append(Wanted({"name": S3_SYNC_TMP_VOLUME, "emptyDir": {}}, origin))
    interval = str(params.get("interval", 60))
    sidecar = {
        "name": "s3-sync",
        "image": params.get("image", S3_SYNC_IMAGE),
        "command": ["/bin/sh", "-c"],
        "args": [S3_SYNC_SCRIPT % (" --delete" if exclusive else "")],
        "env": [
            _env("S3_BUCKET", params["bucket"]),
            _env("S3_PREFIX", params.get("prefix", "")),
            _env("DAGS_FOLDER", folder),
            _env("SYNC_INTERVAL", interval),
            _env("HOME", "/tmp"),
        ],
        "volumeMounts": [
            {"name": volume_name, "mountPath": mount_path},
            {"name": S3_SYNC_TMP_VOLUME, "mountPath": "/tmp"},
        ],
        "resources": _resources("s3Sync", params),
    }
    # In a task pod the DAG files must be there before the task starts.
    probe = {
        "exec": {"command": ["test", "-e", "/tmp/s3-sync-done"]},
        "periodSeconds": 2,
        "failureThreshold": 150,
    }
    additions.extend(_sidecar(facts, sidecar, origin, probe))
    annotations = {IRSA_ANNOTATION: params["roleArn"]} if "roleArn" in params else {}
    return Expansion(additions, [], annotations)


def _is_claim(volume: Any) -> bool:
    return isinstance(volume, dict) and "persistentVolumeClaim" in volume


def _volume(pod: dict[str, Any], name: str) -> Any:
    return next((v for v in pod.get("volumes") or [] if _named(v, name)), None)


def _has_git_sync(pod: dict[str, Any]) -> bool:
    everything = [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]
    return any(isinstance(c, dict) and c.get("name") in GIT_SYNC_CONTAINERS for c in everything)


def _named(entry: Any, name: str) -> bool:
    return isinstance(entry, dict) and entry.get("name") == name


def _mount_holding(main: dict[str, Any], folder: str) -> dict[str, Any] | None:
    """The main container's whole-volume mount that the folder is in (the deepest one)."""
    found: dict[str, Any] | None = None
    for mount in main.get("volumeMounts") or []:
        if not isinstance(mount, dict) or mount.get("subPath") or "mountPath" not in mount:
            continue
        path = str(mount["mountPath"]).rstrip("/")
        inside = folder == path or folder.startswith(path + "/")
        if inside and (found is None or len(path) > len(str(found["mountPath"]))):
            found = mount
    return found


# -- syncPerm ---------------------------------------------------------------------------------


def _sync_perm(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
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
        _env("SYNC_PERM_INTERVAL", str(params.get("interval", 60))),
    ]
    if main.get("envFrom"):
        sidecar["envFrom"] = copy.deepcopy(main["envFrom"])
    config_mounts = _config_mounts(main)
    if config_mounts:
        sidecar["volumeMounts"] = config_mounts
    if main.get("securityContext"):
        sidecar["securityContext"] = copy.deepcopy(main["securityContext"])
    sidecar["resources"] = _resources("syncPerm", params)
    return Expansion(_sidecar(facts, sidecar, origin), [], {})


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


def _config_mounts(main: dict[str, Any]) -> list[dict[str, Any]]:
    """The main container's mounts of Airflow's config files (airflow.cfg, local settings,
    webserver_config.py)."""
    names = ("config", "webserver-config", "api-server-config")
    return [
        copy.deepcopy(mount)
        for mount in main.get("volumeMounts") or []
        if isinstance(mount, dict) and mount.get("name") in names
    ]


# -- kerberos ---------------------------------------------------------------------------------


def _kerberos(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
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
    ccache = f"{CCACHE_DIR}/{CCACHE_FILE}"
    keytab_key = params.get("keytabKey", KEYTAB_KEY)
    # What the Airflow container needs to use the ticket: where the cache is (for Kerberos
    # libraries, KRB5CCNAME; for Airflow, [kerberos] ccache, which the community chart leaves
    # at /tmp/airflow_krb5_ccache), the principal, and `[core] security = kerberos`, without
    # which Airflow's hooks do not use Kerberos at all.
    main_env = [
        _env("KRB5CCNAME", ccache),
        *([_env("KRB5_CONFIG", KRB5_PATH)] if "krb5Config" in params else []),
        _env("AIRFLOW__KERBEROS__CCACHE", ccache),
        _env("AIRFLOW__KERBEROS__PRINCIPAL", params["principal"]),
    ]
    notes: list[tuple[str, str, str]] = []
    security = setting(facts.release, main, "core", "security")
    if not security:
        main_env.append(_env("AIRFLOW__CORE__SECURITY", "kerberos"))
    elif security != "kerberos":
        message = (
            f"preset kerberos: the release sets [core] security = {security!r}, kept; Airflow "
            "uses the ticket only with security = kerberos"
        )
        notes.append(("warning", message, "preset"))

    volumes = [{"name": CCACHE_VOLUME, "emptyDir": {"medium": "Memory"}}]
    if "keytabSecret" in params:
        source: dict[str, Any] = {
            "secret": {"secretName": params["keytabSecret"], "defaultMode": 0o400}
        }
    else:
        source = {"persistentVolumeClaim": {"claimName": params["keytabClaim"], "readOnly": True}}
    volumes.append({"name": KEYTAB_VOLUME, **source})
    krb5_mount = {"name": KRB5_VOLUME, "mountPath": KRB5_PATH, "subPath": "krb5.conf"}
    if "krb5Config" in params:
        volumes.append({"name": KRB5_VOLUME, "configMap": {"name": params["krb5Config"]}})

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
        _env("AIRFLOW__KERBEROS__KEYTAB", KEYTAB_PATH),
        _env("AIRFLOW__KERBEROS__REINIT_FREQUENCY", str(params.get("interval", 3600))),
    ]
    if main.get("envFrom"):
        sidecar["envFrom"] = copy.deepcopy(main["envFrom"])
    # Only this container sees the keytab (Airflow's production guidance), and only it
    # writes the credential cache. It reads the same airflow.cfg as the Airflow container.
    sidecar["volumeMounts"] = [
        *_config_mounts(main),
        {"name": CCACHE_VOLUME, "mountPath": CCACHE_DIR},
        {"name": KEYTAB_VOLUME, "mountPath": KEYTAB_PATH, "subPath": keytab_key, "readOnly": True},
        *([krb5_mount] if "krb5Config" in params else []),
    ]
    if main.get("securityContext"):
        sidecar["securityContext"] = copy.deepcopy(main["securityContext"])
    sidecar["resources"] = _resources("kerberos", params)
    additions = Additions(volumes=[Wanted(volume, origin) for volume in volumes])
    into = _into_main(facts)
    read_only_cache = {"name": CCACHE_VOLUME, "mountPath": CCACHE_DIR, "readOnly": True}
    additions.mounts.append((Wanted(read_only_cache, origin), *into))
    if "krb5Config" in params:
        additions.mounts.append((Wanted(krb5_mount, origin), *into))
    additions.env += [(Wanted(entry, origin), *into) for entry in main_env]
    # A task must not start before there is a ticket to use.
    probe = {
        "exec": {"command": ["test", "-s", ccache]},
        "periodSeconds": 2,
        "failureThreshold": 60,
    }
    additions.extend(_sidecar(facts, sidecar, origin, probe))
    return Expansion(additions, notes, {})


_EXPANDERS = {"s3Sync": _s3_sync, "syncPerm": _sync_perm, "kerberos": _kerberos}
