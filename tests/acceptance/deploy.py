"""A release deployed the way the acceptance suite runs it: the real render, through the real
`airflow-sidecars inject`, into a modelled cluster (kube.py) with a real metadata database and a
fake S3 (services.py), and the images the pods name mapped to real software from PyPI (envs.py).

What the suite adds that the render does not hold, each as a cluster would have it:
- the objects a preset config refers to and the user creates (the keytab Secret, the krb5.conf
  ConfigMap);
- the EKS pod identity webhook, which gives pods whose ServiceAccount carries
  `eks.amazonaws.com/role-arn` a projected token and AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE;
- the route to S3 (AWS_ENDPOINT_URL: the fake S3 instead of the AWS endpoint);
- MIT Kerberos' client tools in the Airflow image (which ships them): the host's Debian
  krb5-user (kinit, klist, kvno), which the pods' chroot shows under /usr; the KDC is
  kdc.py's, on a network of its own;
- Cloud SQL (`with_cloud_sql`): the metadata database as an instance the stand-in Cloud SQL Auth
  Proxy (cloud_sql_proxy.py, the image gcr.io/cloud-sql-connectors/cloud-sql-proxy) connects
  to. The real proxy learns from the Cloud SQL Admin API where the instance is and reaches it
  over the VPC; here the proxy's image carries a directory, the Admin API and the route at once,
  with a Unix socket per address of the instance (its private IP), which leads to PostgreSQL.
  Pods that run the proxy get a network of their own (`pod(..., network="pod")`), so the proxy
  is their only way to the database.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import yaml

from acceptance import envs
from acceptance.kube import Cluster, Image, PodRun
from acceptance.services import FakeS3, Forwarder, Postgres

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
IRSA = "eks.amazonaws.com/role-arn"
TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount"


AIRFLOW_ENTRYPOINT = Path(__file__).with_name("airflow_entrypoint.sh")


def airflow_image(version: str) -> Image:
    env = envs.ensure(f"airflow-{version}")
    return Image(
        bin_dirs=(str(env / "bin"),),
        extra_binds=(str(env),),
        env=MappingProxyType(
            {"AIRFLOW_HOME": "/opt/airflow", "AIRFLOW_USER_HOME_DIR": "/home/airflow"}
        ),
        # The image's entrypoint gives any uid the airflow user's home (it adds a passwd entry).
        users=MappingProxyType({0: "/root", 50000: "/home/airflow"}),
        # The image's ENTRYPOINT is dumb-init then /entrypoint; the routing is the script's.
        entrypoint=lambda args: ["/entrypoint", *args],
        default_uid=50000,
        workdir="/opt/airflow",
        dirs=MappingProxyType(
            {
                "/opt/airflow": (50000, 0, 0o775),
                "/opt/airflow/dags": (50000, 0, 0o775),
                "/opt/airflow/logs": (50000, 0, 0o775),
                "/home/airflow": (50000, 0, 0o755),
            }
        ),
        # A container that names them in its `command` (the community chart's do):
        # /usr/bin/dumb-init is Debian's, visible under the host's /usr.
        files=MappingProxyType({"/entrypoint": str(AIRFLOW_ENTRYPOINT)}),
    )


def aws_cli_image() -> Image:
    """amazon/aws-cli: ENTRYPOINT aws, USER root, no other user in /etc/passwd. Here the AWS
    CLI v1 from PyPI stands in for v2 (the same sync and credential-cache behaviour)."""
    env = envs.ensure("aws-cli")
    return Image(
        bin_dirs=(str(env / "bin"),),
        extra_binds=(str(env),),
        env=MappingProxyType({}),
        users=MappingProxyType({0: "/root"}),
        entrypoint=lambda args: ["aws", *args],
        default_uid=0,
    )


CLOUD_SQL_PROXY = Path(__file__).with_name("cloud_sql_proxy.py")


def cloud_sql_proxy_image(sqladmin: Path) -> Image:
    """gcr.io/cloud-sql-connectors/cloud-sql-proxy (distroless static): ENTRYPOINT
    /cloud-sql-proxy, USER 65532 (nonroot); the stand-in at /cloud-sql-proxy, and the directory
    it finds the instances in (see cloud_sql_proxy.py) bound at the same path."""
    return Image(
        bin_dirs=(),
        extra_binds=(str(sqladmin),),
        env=MappingProxyType({"STANDIN_SQLADMIN_DIR": str(sqladmin)}),
        users=MappingProxyType({0: "/root", 65532: "/home/nonroot"}),
        entrypoint=lambda args: ["/cloud-sql-proxy", *args],
        default_uid=65532,
        files=MappingProxyType({"/cloud-sql-proxy": str(CLOUD_SQL_PROXY)}),
    )


@dataclasses.dataclass
class CloudSql:
    """One Cloud SQL instance, as the stand-in proxy finds it: a directory named by its
    connection name, with a Unix socket per IP type it has, each passing its connections on to
    the suite's PostgreSQL (and counting them)."""

    name: str  # PROJECT:REGION:INSTANCE
    routes: dict[str, Forwarder]  # IP type (private, public) -> its socket

    @property
    def connections(self) -> int:
        """Connections that reached the instance, over any of its addresses."""
        return sum(route.connections for route in self.routes.values())


def set_secret_value(text: str, secret: str, key: str, value: str) -> str:
    """The render `text` with `key` of the Secret `secret` set to `value`: what the chart
    renders when a value makes that key different (its base64, in place)."""
    found = [
        doc
        for doc in yaml.safe_load_all(text)
        if doc and doc.get("kind") == "Secret" and doc["metadata"]["name"] == secret
    ]
    assert len(found) == 1, f"{len(found)} Secrets named {secret}"
    old = found[0]["data"][key]
    assert text.count(old) == 1, f"the value of {secret}/{key} is not once in the render"
    return text.replace(old, base64.b64encode(value.encode()).decode())


def inject(inputs: Sequence[Path], config: Path) -> tuple[list[dict[str, Any]], str]:
    """The tool, run as a user runs it: the render in, the edited stream out."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_sidecars",
            "inject",
            "--config",
            str(config),
            *map(str, inputs),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc], done.stderr


class Deployment:
    """One release, injected and deployed into the model; pods are made on demand.

    `hooks`: "apply", Helm 3's way: the hooks file (the fernet key and other Secrets, the
    migration and create-user Jobs) is applied unedited, as Helm 3 post-renders no hook;
    "inject": the hooks go through `inject` with the render, in one stream, as `helm template`
    prints them for a kustomize, kpt or Argo CD pipeline. `edit` changes the render's text before
    inject, to have what the chart renders with other values (see `set_secret_value`).
    `postgres`: a database server of the caller's, kept after `close()`, whose databases stay
    migrated for the next release of the same Airflow version (a migration takes a minute)."""

    def __init__(  # noqa: PLR0913 - the release, then how it is rendered and deployed
        self,
        render: str,
        config: Path,
        workdir: Path,
        airflow_version: str,
        extra_objects: list[dict[str, Any]] | None = None,
        *,
        hooks: str = "apply",
        edit: Callable[[str], str] | None = None,
        postgres: Postgres | None = None,
    ) -> None:
        assert hooks in ("apply", "inject"), hooks
        workdir.mkdir(parents=True, exist_ok=True)
        source = FIXTURES / render
        if edit is not None:
            source = workdir / "render.yaml"
            source.write_text(edit((FIXTURES / render).read_text()))
        hooks_file = FIXTURES / render.replace(".yaml", ".hooks.yaml")
        inputs = [source]
        hooks_docs: list[Any] = []
        if hooks == "inject":
            inputs.append(hooks_file)
        elif hooks_file.exists():
            hooks_docs = list(yaml.safe_load_all(hooks_file.read_text()))
        self.documents, self.stderr = inject(inputs, config)
        self.workdir = workdir
        self.airflow_version = airflow_version
        namespace = "airflow"
        self.cluster = Cluster(
            [*self.documents, *hooks_docs, *(extra_objects or [])],
            namespace=namespace,
            claims_root=workdir / "claims",
        )
        self.images: dict[str, Image] = {
            "apache/airflow": airflow_image(airflow_version),
            "amazon/aws-cli": aws_cli_image(),
        }
        self.hosts = self.cluster.service_hosts()
        self.s3: FakeS3 | None = None
        self.postgres: Postgres | None = postgres
        self._own_postgres = postgres is None
        self.database_url: str | None = None
        self._forwarders: list[Forwarder] = []
        self._pods: list[PodRun] = []
        self._sqladmin: Path | None = None

    # -- services ---------------------------------------------------------------------------

    def with_s3(self) -> FakeS3:
        if self.s3 is None:
            self.s3 = FakeS3(self.workdir / "s3")
        return self.s3

    def with_database(self, pod: PodRun, container: str) -> str:
        """Start PostgreSQL where the release's connection points, and migrate it as the
        chart's migration Job does (`airflow db migrate` with the Airflow container's env).
        Once per release: its pods share the database."""
        if self.database_url is not None:
            return self.database_url
        url = airflow_setting(pod, container, "database", "sql_alchemy_conn")
        parts = urlsplit(url)
        assert parts.hostname in self.hosts, f"{parts.hostname} is not a Service of the render"
        if self.postgres is None:
            self.postgres = Postgres()
        database = parts.path.lstrip("/") or "postgres"
        self.postgres.ensure(parts.username or "postgres", database)
        self._forwarders.append(Forwarder(parts.port or 5432, self.postgres.port))
        if self.postgres.migrated.get(database) != self.airflow_version:
            migrated = pod.exec(container, ["airflow", "db", "migrate"], timeout=600)
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            self.postgres.migrated[database] = self.airflow_version
        self.database_url = url
        return url

    def with_cloud_sql(self, name: str, database_url: str) -> CloudSql:
        """A Cloud SQL instance `name` (PROJECT:REGION:INSTANCE) with a private IP only (the
        GKE setup the example config's privateIp describes), holding the release's metadata
        database: the suite's PostgreSQL, with the role and database `database_url` names.
        The cloud-sql-proxy image, mapped to the stand-in, finds it."""
        parts = urlsplit(database_url)
        if self.postgres is None:
            self.postgres = Postgres()
        self.postgres.ensure(parts.username or "postgres", parts.path.lstrip("/") or "postgres")
        if self._sqladmin is None:
            # short: a Unix socket's path has at most 107 bytes
            self._sqladmin = Path(tempfile.mkdtemp(prefix="sqladmin-", dir="/tmp"))
            self._sqladmin.chmod(0o755)
            self.images["gcr.io/cloud-sql-connectors/cloud-sql-proxy"] = cloud_sql_proxy_image(
                self._sqladmin
            )
        where = self._sqladmin / name
        where.mkdir(mode=0o755)
        route = Forwarder(where / "private", self.postgres.port)
        self._forwarders.append(route)
        return CloudSql(name, {"private": route})

    # -- pods -------------------------------------------------------------------------------

    def pod(
        self,
        kind: str,
        name: str,
        *,
        network: str = "host",
        edit: Callable[[dict[str, Any]], None] | None = None,
    ) -> PodRun:
        """A pod of the workload; `edit` changes (a copy of) its spec first, for a pod the
        render does not have (a counter-example)."""
        ref = self.cluster.pod(kind, name)
        spec = ref.spec
        if edit is not None:
            spec = copy.deepcopy(spec)
            edit(spec)
        injected: dict[str, str] = {}
        account = self.cluster.service_account(ref.namespace, ref.service_account_name)
        role = ((account or {}).get("metadata") or {}).get("annotations", {}) or {}
        if IRSA in role:
            spec = eks_pod_identity_webhook(spec, role[IRSA])
        if self.s3 is not None:
            injected["AWS_ENDPOINT_URL"] = self.s3.url
        ref = dataclasses.replace(ref, spec=spec)
        pod = PodRun(
            self.cluster,
            ref,
            self.workdir / f"{kind}-{name}-{len(self._pods)}".lower(),
            self.images,
            hosts=self.hosts,
            injected_env=injected,
            network=network,
        )
        self._pods.append(pod)
        return pod

    def close(self) -> None:
        for pod in self._pods:
            pod.stop()
        for forwarder in self._forwarders:
            forwarder.close()
        if self._sqladmin is not None:
            shutil.rmtree(self._sqladmin, ignore_errors=True)
        if self.s3 is not None:
            self.s3.close()
        if self.postgres is not None and self._own_postgres:
            self.postgres.close()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def eks_pod_identity_webhook(spec: dict[str, Any], role_arn: str) -> dict[str, Any]:
    """What amazon-eks-pod-identity-webhook adds to a pod whose ServiceAccount has the role
    annotation: a projected token volume, its mount and the variables in every container."""
    spec = copy.deepcopy(spec)
    spec.setdefault("volumes", []).append(
        {
            "name": "aws-iam-token",
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "audience": "sts.amazonaws.com",
                            "expirationSeconds": 86400,
                            "path": "token",
                        }
                    }
                ]
            },
        }
    )
    env = {
        "AWS_ROLE_ARN": role_arn,
        "AWS_WEB_IDENTITY_TOKEN_FILE": f"{TOKEN_DIR}/token",
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        names = {entry.get("name") for entry in container.get("env") or []}
        container.setdefault("env", []).extend(
            {"name": name, "value": value} for name, value in env.items() if name not in names
        )
        container.setdefault("volumeMounts", []).append(
            {"name": "aws-iam-token", "mountPath": TOKEN_DIR, "readOnly": True}
        )
    return spec


def airflow_setting(pod: PodRun, container: str, section: str, option: str) -> str:
    """An Airflow setting as Airflow itself resolves it in that container."""
    done = pod.exec(container, ["airflow", "config", "get-value", section, option], timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, log: Callable[[], str] = lambda: ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: not after {timeout} s\n{log()}")
