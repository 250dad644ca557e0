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
from .podspec import Additions, Wanted
from .release import Release, airflow_major, container, dags_folder, main_container_name, setting

# amazon/aws-cli: the AWS CLI v2 on Amazon Linux 2, with /bin/sh; pinned so that renders are
# reproducible (override with `image`).
S3_SYNC_IMAGE = "amazon/aws-cli:2.17.0"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

# The scripts are constants; every value they use comes from the container's environment.
S3_SYNC_SCRIPT = (
    'while true; do aws s3 sync "s3://${S3_BUCKET}/${S3_PREFIX}" "${DAGS_FOLDER}" --no-progress'
    '%s && touch /tmp/s3-sync-done; sleep "${SYNC_INTERVAL}"; done'
)
SYNC_PERM_SCRIPT = 'while true; do airflow %s; sleep "${SYNC_PERM_INTERVAL}"; done'

# The Kerberos layout follows the official chart's own kerberos sidecar (kerberos.* values):
# a credential cache in an emptyDir that `airflow kerberos` writes and the Airflow containers
# read, krb5.conf at /etc/krb5.conf. The names differ from the chart's (`worker-kerberos`,
# `kerberos-ccache`, `kerberos-keytab`) so that the chart's sidecar, when enabled, is told apart.
KERBEROS_CONTAINER = "kerberos-renewer"
CCACHE_VOLUME, CCACHE_DIR, CCACHE_FILE = "krb-ccache", "/var/kerberos-ccache", "cache"
KEYTAB_VOLUME, KEYTAB_DIR, KEYTAB_FILE = "krb-keytab", "/etc/airflow-keytab", "keytab"
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


def default_components(name: str, release: Release | None) -> tuple[str, ...]:
    sections = release.sections if release is not None else set()
    if name == "s3Sync":
        # Whoever parses DAG files: a standalone dag-processor when the release runs one
        # (always on Airflow 3), else the scheduler.
        return ("dagProcessor",) if "dagProcessor" in sections else ("scheduler",)
    if name == "syncPerm":
        # The UI component: the api-server exists only on Airflow 3.
        return ("apiServer",) if "apiServer" in sections else ("webserver",)
    return ("workers",)


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
    folder = dags_folder(facts.release, facts.main)
    notes: list[tuple[str, str, str]] = []
    additions = Additions()
    main = facts.main or {}
    # Reuse the volume the pod already has for its DAGs (git-sync, dags.persistence), where the
    # Airflow container mounts it; else bring an emptyDir and mount it there too.
    existing = _mount_of_volume(main, "dags")
    owned = existing is None
    mount_path = existing["mountPath"] if existing is not None else folder
    if owned:
        additions.volumes.append(Wanted({"name": "dags", "emptyDir": {}}, origin))
        mount = {"name": "dags", "mountPath": folder}
        additions.mounts.append((Wanted(mount, origin), *_into_main(facts)))
    elif not (folder + "/").startswith(mount_path.rstrip("/") + "/"):
        notes.append(
            (
                "warning",
                f"preset s3Sync: the DAG folder {folder} is not inside the pod's dags volume "
                f"(mounted at {mount_path}); the sidecar syncs into that volume anyway",
                "preset",
            )
        )
    interval = str(params.get("interval", 60))
    sidecar = {
        "name": "s3-sync",
        "image": params.get("image", S3_SYNC_IMAGE),
        "command": ["/bin/sh", "-c"],
        # --delete only in a volume this preset owns: it must not remove git-synced files.
        "args": [S3_SYNC_SCRIPT % (" --delete" if owned else "")],
        "env": [
            _env("S3_BUCKET", params["bucket"]),
            _env("S3_PREFIX", params.get("prefix", "")),
            _env("DAGS_FOLDER", folder),
            _env("SYNC_INTERVAL", interval),
        ],
        "volumeMounts": [{"name": "dags", "mountPath": mount_path}],
    }
    # In a task pod the DAG files must be there before the task starts.
    probe = {
        "exec": {"command": ["test", "-e", "/tmp/s3-sync-done"]},
        "periodSeconds": 2,
        "failureThreshold": 150,
    }
    additions.extend(_sidecar(facts, sidecar, origin, probe))
    annotations = {IRSA_ANNOTATION: params["roleArn"]} if "roleArn" in params else {}
    return Expansion(additions, notes, annotations)


def _mount_of_volume(main: dict[str, Any], volume: str) -> dict[str, Any] | None:
    for mount in main.get("volumeMounts") or []:
        if isinstance(mount, dict) and mount.get("name") == volume and not mount.get("subPath"):
            return mount
    return None


# -- syncPerm ---------------------------------------------------------------------------------


def _sync_perm(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    main = facts.main or {}
    major = airflow_major(facts.release, main)
    command = "sync-perm"
    if major >= 3:
        auth_manager = setting(facts.release, main, "core", "auth_manager")
        if auth_manager != FAB_AUTH_MANAGER:
            message = (
                "preset syncPerm: on Airflow 3 permissions are synced only by the FAB auth "
                f"manager, and this release uses {auth_manager or 'the default (simple) one'}; "
                "left as it is"
            )
            return Expansion(Additions(), [("warning", message, "preset")], {})
        command = "fab-db sync-perm"  # the FAB provider's CLI on Airflow 3
    # The webserver's own image, environment and config files: the metadata database
    # connection comes from whatever secret this release uses.
    sidecar: dict[str, Any] = {"name": "sync-perm"}
    for key in ("image", "imagePullPolicy"):
        if key in main:
            sidecar[key] = main[key]
    sidecar["args"] = ["bash", "-c", SYNC_PERM_SCRIPT % command]
    sidecar["env"] = [
        *copy.deepcopy(main.get("env") or []),
        _env("SYNC_PERM_INTERVAL", str(params.get("interval", 60))),
    ]
    if main.get("envFrom"):
        sidecar["envFrom"] = copy.deepcopy(main["envFrom"])
    config_mounts = [
        copy.deepcopy(mount)
        for mount in main.get("volumeMounts") or []
        if isinstance(mount, dict) and mount.get("name") in ("config", "webserver-config")
    ]
    if config_mounts:
        sidecar["volumeMounts"] = config_mounts
    if main.get("securityContext"):
        sidecar["securityContext"] = copy.deepcopy(main["securityContext"])
    return Expansion(_sidecar(facts, sidecar, origin), [], {})


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
    keytab = f"{KEYTAB_DIR}/{KEYTAB_FILE}"
    shared_env = [_env("KRB5CCNAME", ccache)]
    if "krb5Config" in params:
        shared_env.append(_env("KRB5_CONFIG", KRB5_PATH))

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
    sidecar["args"] = ["kerberos", params["principal"], "--keytab", keytab]
    sidecar["env"] = [
        *shared_env,
        _env("AIRFLOW__KERBEROS__CCACHE", ccache),
        _env("AIRFLOW__KERBEROS__KEYTAB", keytab),
        _env("AIRFLOW__KERBEROS__PRINCIPAL", params["principal"]),
        _env("AIRFLOW__KERBEROS__REINIT_FREQUENCY", str(params.get("interval", 3600))),
    ]
    # Only this container sees the keytab (Airflow's production guidance), and only it
    # writes the credential cache.
    sidecar["volumeMounts"] = [
        {"name": CCACHE_VOLUME, "mountPath": CCACHE_DIR},
        {"name": KEYTAB_VOLUME, "mountPath": KEYTAB_DIR, "readOnly": True},
        *([krb5_mount] if "krb5Config" in params else []),
    ]
    additions = Additions(volumes=[Wanted(volume, origin) for volume in volumes])
    into = _into_main(facts)
    read_only_cache = {"name": CCACHE_VOLUME, "mountPath": CCACHE_DIR, "readOnly": True}
    additions.mounts.append((Wanted(read_only_cache, origin), *into))
    if "krb5Config" in params:
        additions.mounts.append((Wanted(krb5_mount, origin), *into))
    additions.env += [(Wanted(entry, origin), *into) for entry in shared_env]
    # A task must not start before there is a ticket to use.
    probe = {
        "exec": {"command": ["test", "-s", ccache]},
        "periodSeconds": 2,
        "failureThreshold": 60,
    }
    additions.extend(_sidecar(facts, sidecar, origin, probe))
    return Expansion(additions, [], {})


_EXPANDERS = {"s3Sync": _s3_sync, "syncPerm": _sync_perm, "kerberos": _kerberos}
