"""The presets, run: each sidecar `inject` adds to a real render does its job with the real
software, in the pod as the pod would run it (deploy.py, kube.py).

Per render (official chart on Airflow 2.9.3, 3.1.8 and 3.2.2, community chart on 2.8.4, Celery
workers and KubernetesExecutor task pods):
- s3Sync: a DAG put in S3 appears in the DAG folder of the parser's and the workers' Airflow
  containers, through IRSA credentials, as the pods' uid; an edit of the same size arrives too;
  a task pod's startup probe passes;
- kerberos: test_kerberos_run.py, with a real KDC;
- syncPerm: `airflow sync-perm` runs in the sidecar and succeeds, again and again; where the
  preset leaves the pod alone (Airflow 3 without FAB), the command indeed does not exist.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from acceptance.deploy import Deployment, wait_until
from acceptance.kube import PodRun

pytestmark = pytest.mark.acceptance

CONFIG = Path(__file__).with_name("sidecars.yaml")
BUCKET, PREFIX = "airflow-dags-acceptance", "dags"


class Pod(NamedTuple):
    kind: str
    name: str
    main: str  # its Airflow container


class Case(NamedTuple):
    render: str
    airflow: str
    parser: Pod  # who parses DAG files
    worker: Pod  # a Celery worker or the KubernetesExecutor pod template
    ui: Pod  # where sync-perm goes (the charts' Airflow 3 renders configure FAB)


TEMPLATE = Pod("PodTemplate", "airflow-config", "base")
CASES = {
    "official-1.15.0-celery": Case(
        "official-1.15.0/01-default.yaml",
        "2.9.3",
        Pod("Deployment", "airflow-scheduler", "scheduler"),
        Pod("StatefulSet", "airflow-worker", "worker"),
        Pod("Deployment", "airflow-webserver", "webserver"),
    ),
    "official-1.15.0-kubernetes-executor": Case(
        "official-1.15.0/02-kubernetes-executor.yaml",
        "2.9.3",
        Pod("Deployment", "airflow-scheduler", "scheduler"),
        TEMPLATE,
        Pod("Deployment", "airflow-webserver", "webserver"),
    ),
    "official-1.20.0-celery": Case(
        "official-1.20.0/01-default.yaml",
        "3.1.8",
        Pod("Deployment", "airflow-dag-processor", "dag-processor"),
        Pod("StatefulSet", "airflow-worker", "worker"),
        Pod("Deployment", "airflow-api-server", "api-server"),
    ),
    "official-1.22.0-celery": Case(
        "official-1.22.0/01a-celery-default.yaml",
        "3.2.2",
        Pod("Deployment", "airflow-dag-processor", "dag-processor"),
        Pod("StatefulSet", "airflow-worker", "worker"),
        Pod("Deployment", "airflow-api-server", "api-server"),
    ),
    "official-1.22.0-kubernetes-executor": Case(
        "official-1.22.0/02a-kubernetes-executor.yaml",
        "3.2.2",
        Pod("Deployment", "airflow-dag-processor", "dag-processor"),
        TEMPLATE,
        Pod("Deployment", "airflow-api-server", "api-server"),
    ),
    "community-8.9.0-celery": Case(
        "community-8.9.0/01-default.yaml",
        "2.8.4",
        Pod("Deployment", "airflow-scheduler", "airflow-scheduler"),
        Pod("StatefulSet", "airflow-worker", "airflow-worker"),
        Pod("Deployment", "airflow-web", "airflow-web"),
    ),
}

# What the user creates beside the release for the kerberos preset: the keytab Secret and the
# krb5.conf ConfigMap the config names (their pods' volumes are made of them; the renewer is run
# in test_kerberos_run.py, with a real keytab).
USER_OBJECTS: list[dict[str, Any]] = [
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "airflow-keytab", "namespace": "airflow"},
        "stringData": {"kerberos.keytab": "stand-in keytab\n"},
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "airflow-krb5", "namespace": "airflow"},
        "data": {"krb5.conf": "[libdefaults]\n  default_realm = EXAMPLE.COM\n"},
    },
]


class Deployed:
    """A case's deployment (its database is migrated once, on first need: `with_database`)."""

    def __init__(self, case: Case, deployment: Deployment) -> None:
        self.case = case
        self.deployment = deployment


@pytest.fixture(scope="module", params=sorted(CASES))
def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    case = CASES[request.param]
    workdir = tmp_path_factory.mktemp(request.param)
    with Deployment(case.render, CONFIG, workdir, case.airflow, USER_OBJECTS) as deployment:
        yield Deployed(case, deployment)


# -- s3Sync -----------------------------------------------------------------------------------


def _dag(marker: str) -> bytes:
    # Two versions of one DAG file of exactly the same size: `aws s3 sync` without
    # --exact-timestamps would never fetch the second.
    return f"# {marker}\nfrom airflow import DAG  # the probe DAG\n".encode()


def _seen(pod: PodRun, container: str, path: str) -> bytes | None:
    try:
        host = pod.host_path(container, path)
    except ValueError:
        return None
    return host.read_bytes() if host.is_file() else None


def test_s3_sync_brings_dag_files_to_every_pod_that_reads_them(deployed: Deployed) -> None:
    deployment, case = deployed.deployment, deployed.case
    s3 = deployment.with_s3()
    s3.aws("s3", "mb", f"s3://{BUCKET}")
    scratch = deployment.workdir / "scratch.py"
    first, second = _dag("version one"), _dag("version two")
    assert len(first) == len(second)
    s3.put(BUCKET, f"{PREFIX}/probe_dag.py", first, scratch)

    pods = [(deployment.pod(p.kind, p.name), p) for p in (case.parser, case.worker)]
    for pod, spec in pods:
        pod.start("s3-sync")
        _wait_for_dag(pod, spec, first, "the DAG file")
        if spec.kind == "PodTemplate":
            # A task pod starts its task only once its DAG files are there. The kubelet tries a
            # startup probe up to its failureThreshold: on a loaded machine one try can miss its
            # timeoutSeconds, which the next meets (the files are there either way).
            assert any(pod.probe("s3-sync", "startupProbe") for _ in range(3))

    time.sleep(1.5)  # a later LastModified, the same size
    s3.put(BUCKET, f"{PREFIX}/probe_dag.py", second, scratch)
    for pod, spec in pods:
        _wait_for_dag(pod, spec, second, "the same-size edit")
        pod.stop()


def _wait_for_dag(pod: PodRun, spec: Pod, body: bytes, what: str) -> None:
    """Until the Airflow container sees `body` in the folder the sidecar syncs into."""
    target = f"{pod.container_env('s3-sync')['DAGS_FOLDER']}/probe_dag.py"
    wait_until(
        lambda: _seen(pod, spec.main, target) == body,
        60,
        f"{spec.kind} {spec.name}: {what} in {spec.main}:{target}",
        lambda: pod.log("s3-sync"),
    )


def test_s3_sync_on_a_shared_dag_claim_has_one_writer_and_every_pod_reads_it(
    tmp_path: Path,
) -> None:
    render = "official-1.22.0/06a-dags-persistence.yaml"
    with Deployment(render, CONFIG, tmp_path, "3.2.2", USER_OBJECTS) as deployment:
        s3 = deployment.with_s3()
        s3.aws("s3", "mb", f"s3://{BUCKET}")
        s3.put(BUCKET, f"{PREFIX}/probe_dag.py", _dag("shared"), tmp_path / "scratch.py")
        parser = deployment.pod("Deployment", "airflow-dag-processor")
        worker = deployment.pod("StatefulSet", "airflow-worker")
        names = [c["name"] for c in worker.ref.spec["containers"]]
        assert "s3-sync" not in names  # one writer: the dag-processor's sidecar
        parser.start("s3-sync")
        wait_until(
            lambda: _seen(worker, "worker", "/opt/airflow/dags/probe_dag.py") == _dag("shared"),
            60,
            "the worker reads what the dag-processor's s3-sync wrote to the shared claim",
            lambda: parser.log("s3-sync"),
        )


# -- syncPerm ---------------------------------------------------------------------------------


def test_sync_perm_runs_beside_the_ui(deployed: Deployed) -> None:
    deployment, case = deployed.deployment, deployed.case
    pod = deployment.pod(case.ui.kind, case.ui.name)
    deployment.with_database(pod, case.ui.main)  # once per release
    once = pod.exec("sync-perm", ["airflow", "sync-perm"], timeout=180)
    assert once.returncode == 0, once.stdout + once.stderr
    pod.start("sync-perm")
    # The loop goes on: a third run starts only after two have ended, none with an error.
    wait_until(
        lambda: _runs_started(pod) >= 3,
        180,
        "two runs of the sync-perm loop",
        lambda: pod.log("sync-perm"),
    )
    assert "Traceback" not in pod.log("sync-perm")
    pod.stop()


def _runs_started(pod: PodRun) -> int:
    # what `airflow sync-perm` prints first, on every version
    return pod.log("sync-perm").count("Updating actions and resources for all existing roles")


SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


def test_without_fab_on_airflow_3_there_is_no_sync_perm_to_run(tmp_path: Path) -> None:
    # Why the preset leaves an Airflow 3 release without the FAB auth manager alone: the
    # command does not exist there (3.1.8, the api-server's own container and environment).
    render = "official-1.20.0/01-default.yaml"
    with Deployment(render, CONFIG, tmp_path, "3.1.8", USER_OBJECTS) as deployment:
        pod = deployment.pod("Deployment", "airflow-api-server")
        switched = ["env", f"AIRFLOW__CORE__AUTH_MANAGER={SIMPLE_AUTH_MANAGER}"]
        absent = pod.exec("api-server", [*switched, "airflow", "sync-perm"], timeout=120)
        assert absent.returncode == 2
        assert "invalid choice: 'sync-perm'" in absent.stdout + absent.stderr
