"""s3Sync: the seed's DAG sync from S3 into the DAG folder, beside every pod that reads DAGs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_sidecars.charts.chart import GIT_SYNC_CONTAINERS
from airflow_sidecars.krmio.results import Severity
from airflow_sidecars.pods.podspec import Additions, Wanted, containers, find_volume
from airflow_sidecars.renders.release import Release, dag_bundle_folder

from .common import (
    IRSA_ANNOTATION,
    Expansion,
    Note,
    PodFacts,
    Preset,
    env_var,
    image,
    into_main,
    seconds,
    sidecar_additions,
)
from .sections import AIRFLOW_COMPONENTS, parser_section, sections_for

# amazon/aws-cli: the AWS CLI v2 on Amazon Linux 2, with /bin/sh; pinned so that renders are
# reproducible (override with `image`).
S3_SYNC_IMAGE = "amazon/aws-cli:2.17.0"

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


def expand(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    found = dag_bundle_folder(facts.release, facts.main, params.get("bundle"))
    if found.folder is None:
        message = f"preset s3Sync: {found.problem}; left as it is"
        return Expansion(Additions(), [("warning", message, "preset")], {})
    folder = found.folder
    # Reuse the volume the Airflow container already has the DAG folder on (`dags` for git-sync
    # or dags.persistence in the official chart, `dags-data` in the community one); else bring
    # an emptyDir and mount it there in the Airflow container too.
    existing = _mount_holding(facts.main or {}, folder)
    dags_mount = (
        {"name": existing["name"], "mountPath": existing["mountPath"]}
        if existing is not None
        else {"name": "dags", "mountPath": folder}
    )
    volume = find_volume(facts.pod, dags_mount["name"])
    if _is_claim(volume):
        note = _shared_claim(params, facts, dags_mount["name"])
        if note is not None:
            return Expansion(Additions(), [note], {})
    # `aws s3 sync --delete` mirrors the prefix, removing what it does not hold: only where
    # nothing else writes DAGs (no git-sync, no shared volume), so that it is also the same
    # decision on a second run, when the emptyDir this preset added is already there.
    exclusive = not _has_git_sync(facts.pod) and volume in (
        None,
        {"name": dags_mount["name"], "emptyDir": {}},
    )
    additions = Additions()
    if existing is None:
        additions.volumes.append(Wanted({"name": "dags", "emptyDir": {}}, origin))
        additions.mounts.append((Wanted(dict(dags_mount), origin), *into_main(facts)))
    additions.volumes.append(Wanted({"name": S3_SYNC_TMP_VOLUME, "emptyDir": {}}, origin))
    # In a task pod the DAG files must be there before the task starts.
    probe = {
        "exec": {"command": ["test", "-e", "/tmp/s3-sync-done"]},
        "periodSeconds": 2,
        "failureThreshold": 150,
    }
    syncer = _syncer(params, folder, dags_mount, exclusive)
    additions.extend(sidecar_additions(facts, syncer, origin, probe))
    annotations = {IRSA_ANNOTATION: params["roleArn"]} if "roleArn" in params else {}
    return Expansion(additions, [], annotations)


def _shared_claim(params: Mapping[str, Any], facts: PodFacts, volume_name: str) -> Note | None:
    """A shared DAG volume (dags.persistence) has one writer: the parser's sidecar; two syncs
    with `--delete` into one claim would race each other. The note for any other pod."""
    parser = parser_section(facts.release)
    if facts.workload.section == parser:
        return None
    severity: Severity = (
        "info" if parser in sections_for(PRESET, params, facts.release) else "warning"
    )
    message = (
        f"preset s3Sync: the DAG folder is on the shared claim of volume {volume_name!r}, "
        f"written by the {parser}'s s3-sync"
        + ("" if severity == "info" else f", which components leaves out: add {parser}")
    )
    return severity, message, "preset"


def _syncer(
    params: Mapping[str, Any], folder: str, dags_mount: dict[str, Any], exclusive: bool
) -> dict[str, Any]:
    """The sync loop: every value reaches it as an environment variable, none in the script."""
    return {
        "name": "s3-sync",
        "image": params.get("image", S3_SYNC_IMAGE),
        "command": ["/bin/sh", "-c"],
        "args": [S3_SYNC_SCRIPT % (" --delete" if exclusive else "")],
        "env": [
            env_var("S3_BUCKET", params["bucket"]),
            env_var("S3_PREFIX", params.get("prefix", "")),
            env_var("DAGS_FOLDER", folder),
            env_var("SYNC_INTERVAL", str(params.get("interval", 60))),
            env_var("HOME", "/tmp"),
        ],
        "volumeMounts": [
            dict(dags_mount),
            {"name": S3_SYNC_TMP_VOLUME, "mountPath": "/tmp"},
        ],
        "resources": PRESET.resources(params),
    }


def _is_claim(volume: Any) -> bool:
    return isinstance(volume, dict) and "persistentVolumeClaim" in volume


def _has_git_sync(pod: dict[str, Any]) -> bool:
    return any(c.get("name") in GIT_SYNC_CONTAINERS for _, _, c in containers(pod))


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


def _default_sections(release: Release | None) -> tuple[str, ...]:
    """Every pod that reads DAG files: the parser, and the workers that run the tasks (a Celery
    worker imports the DAG file; on Airflow 3 the task runner parses it from the local bundle),
    the KubernetesExecutor pod template included."""
    return (parser_section(release), "workers")


PRESET = Preset(
    name="s3Sync",
    summary=(
        "A sidecar (s3-sync, AWS CLI) that runs `aws s3 sync s3://<bucket>/<prefix>` into the "
        "DAG folder Airflow reads, every interval seconds, in every pod that reads DAG files. It "
        "reuses the volume the DAG folder is on (git-sync, DAG persistence), else adds an "
        "emptyDir; on a shared DAG claim only the parser's pod writes. No static keys: roleArn "
        "sets IRSA."
    ),
    readme_title="DAGs from S3 into the DAG folder",
    container="sidecar",
    parameters={
        "bucket": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "description": (
                "The S3 bucket name alone (no s3://, no path): 3-63 lowercase letters, digits, "
                "'.' and '-'. Required."
            ),
            "examples": ["my-bucket"],
        },
        "prefix": {
            "type": "string",
            "pattern": "^[^\\u0000-\\u001f]*$",
            "maxLength": 1024,
            "description": (
                "The key prefix in the bucket, without a leading slash: s3://<bucket>/<prefix> "
                "is synced. Default: empty, the whole bucket."
            ),
            "examples": ["dags", "teams/data/dags"],
        },
        "interval": seconds(
            60, "Seconds to wait between two syncs (1-86400). Default: 60.", [60, 300]
        ),
        "bundle": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": (
                "Airflow 3 only: the name of the LocalDagBundle in [dag_processor] "
                "dag_bundle_config_list whose folder to sync into. Default: the only "
                "LocalDagBundle, or the one named dags-folder when there are several."
            ),
            "examples": ["dags-folder"],
        },
        "image": image(
            "The sidecar's image: one with the AWS CLI and /bin/sh. Pin a tag or digest. "
            f"Default: {S3_SYNC_IMAGE}.",
            [S3_SYNC_IMAGE, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/aws-cli:2.17.0"],
        ),
        "roleArn": {
            "type": "string",
            "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]+$",
            "description": (
                "The IAM role the sync uses (IRSA): inject annotates the ServiceAccounts of the "
                f"pods that get the sidecar with {IRSA_ANNOTATION}. The role needs s3:ListBucket "
                "and s3:GetObject on the bucket. Default: none (the AWS CLI finds credentials "
                "itself, e.g. EKS Pod Identity)."
            ),
            "examples": ["arn:aws:iam::123456789012:role/airflow-dag-sync"],
        },
    },
    required=("bucket",),
    example={
        "bucket": "my-bucket",
        "prefix": "dags",
        "interval": 60,
        "roleArn": "arn:aws:iam::123456789012:role/airflow-dag-sync",
    },
    sections=AIRFLOW_COMPONENTS,
    default_sections=_default_sections,
    components_doc=(
        "The config sections whose pods get the sidecar ({choices}; workers includes the "
        "KubernetesExecutor pod template). Default: every pod that reads DAG files: the parser "
        "(dagProcessor when the release runs one, else scheduler) and workers."
    ),
    components_examples=(["dagProcessor", "workers"], ["scheduler"]),
    default_requests={"cpu": "50m", "memory": "128Mi"},
    expand=expand,
    unmatched="none of its components is in the render (set `components` to choose them)",
    reports=frozenset({"service-account"}),
    pattern_meanings={
        "bucket": "an S3 bucket name (3-63 lowercase letters, digits, '.', '-')",
        "roleArn": "an IAM role ARN (arn:aws:iam::<account id>:role/<name>)",
    },
)
