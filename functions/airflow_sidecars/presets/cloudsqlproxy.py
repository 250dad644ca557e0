"""cloudSqlProxy: the Cloud SQL Auth Proxy in every pod that opens the metadata database
connection, and nowhere else.

Always a native sidecar, and the first init container: it is running, and listening, before
`wait-for-airflow-migrations` or `check-db` (which already need the database) and the Airflow
container start (the kubelet starts the next container once the proxy's startup probe, its own
/startup endpoint, passes), and it stops after the Airflow container has exited, so that a
migration Job or a task pod completes. A plain proxy container does neither: the Job never
completes (apache/airflow #32637), and Airflow may start before the proxy listens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_sidecars.charts.chart import Flavour
from airflow_sidecars.pods.podspec import Additions, Wanted
from airflow_sidecars.renders.dbconn import Endpoint, direct_endpoints

from .common import Expansion, Note, PodFacts, Preset, image
from .sections import DATABASE_CLIENTS, EVERY_POD

NAME = "cloud-sql-proxy"
IMAGE = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.25.3"
DEFAULT_PORT = 5432
HEALTH_PORT = 9801  # not the proxy's default 9090, which Prometheus exporters often take
WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"
# After SIGTERM, the proxy waits this long at most for open connections to close; a pod's
# default grace period is 30 s, and the Airflow container has already exited by then (the
# kubelet stops native sidecars after the main containers).
SIGTERM_DELAY = "10s"

# What to set in each chart so that the connection goes to the proxy in the pod.
CHART_HOST_VALUE: dict[Flavour, str] = {
    "official": "data.metadataConnection.host: 127.0.0.1",
    "community": "externalDatabase.host: 127.0.0.1 (with postgresql.enabled: false)",
}


def expand(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    endpoints = direct_endpoints(facts.pod, facts.release)
    if not endpoints:  # no connection of its own: the pod gets nothing, and is not "reached"
        return Expansion(Additions(), [], {}, reached=False)
    port = int(params.get("port") or _connection_port(endpoints) or DEFAULT_PORT)
    proxy = _proxy(params, port)
    additions = Additions(init_containers=[Wanted(proxy, origin, first=True)])
    notes = [_note(endpoint, port, facts.workload.flavour) for endpoint in endpoints]
    account = params.get("gcpServiceAccount")
    annotations = {WORKLOAD_IDENTITY_ANNOTATION: account} if account else {}
    return Expansion(additions, [note for note in notes if note is not None], annotations)


def _connection_port(endpoints: list[Endpoint]) -> int | None:
    return next((endpoint.port for endpoint in endpoints if endpoint.port is not None), None)


def _proxy(params: Mapping[str, Any], port: int) -> dict[str, Any]:
    """The proxy, configured by its flags (arguments, never a shell string)."""
    args = [
        "--structured-logs",
        f"--port={port}",
        "--health-check",
        # the kubelet probes the pod's IP, not its loopback address
        "--http-address=0.0.0.0",
        f"--http-port={HEALTH_PORT}",
        "--exit-zero-on-sigterm",
        f"--max-sigterm-delay={SIGTERM_DELAY}",
    ]
    if params.get("privateIp"):
        args.append("--private-ip")
    if params.get("autoIamAuthn"):
        args.append("--auto-iam-authn")
    args.append(params["instance"])

    def probe(path: str, **timing: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": HEALTH_PORT}, "timeoutSeconds": 5, **timing}

    return {
        "name": NAME,
        "image": params.get("image", IMAGE),
        "restartPolicy": "Always",
        "args": args,
        "ports": [{"name": "csql-health", "containerPort": HEALTH_PORT}],
        # /startup passes once the proxy listens: only then does the next container start
        "startupProbe": probe("/startup", periodSeconds=1, failureThreshold=60),
        "livenessProbe": probe("/liveness", periodSeconds=10, failureThreshold=3),
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": PRESET.resources(params),  # a copy already
    }


def _note(endpoint: Endpoint, port: int, flavour: Flavour) -> Note | None:
    """Whether the connection the render shows goes to the proxy; never the value itself."""
    if endpoint.host is None:
        message = (
            f"preset cloudSqlProxy: where the database connection goes ({endpoint.source}) is "
            f"not in the render: make sure it is 127.0.0.1:{port}, where the proxy listens"
        )
        return "info", message, "proxy-connection"
    if endpoint.local and endpoint.port in (None, port):
        return None
    wrong = f"{endpoint.host}:{endpoint.port}" if endpoint.port else endpoint.host
    fix = CHART_HOST_VALUE[flavour] if not endpoint.local else ""
    if endpoint.port not in (None, port):
        port_value = (
            "data.metadataConnection.port" if flavour == "official" else "externalDatabase.port"
        )
        fix += (" and " if fix else "") + f"{port_value}: {port}"
    message = (
        f"preset cloudSqlProxy: the database connection ({endpoint.source}) goes to {wrong}, "
        f"not to the proxy at 127.0.0.1:{port}: set {fix} in the chart's values"
    )
    return "warning", message, "proxy-connection"


PRESET = Preset(
    name="cloudSqlProxy",
    summary=(
        "The Cloud SQL Auth Proxy (v2) as a native sidecar (an init container with "
        "restartPolicy: Always, started first, with the proxy's /startup health endpoint as its "
        "startup probe) in every pod of the release that opens the metadata database "
        "connection, found from the render: the containers' AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, "
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN or AIRFLOW_CONN_AIRFLOW_DB (also as _CMD or _SECRET), "
        "and a mounted pgbouncer.ini. Jobs, CronJobs and the KubernetesExecutor pod template "
        "included; with pgbouncer, only the pgbouncer pod and any pod that still connects "
        "directly. Pods without a database connection (statsd, redis) get nothing. Warns when "
        "the connection the render shows does not go to 127.0.0.1 on the proxy's port, naming "
        "the chart value to set. Needs Kubernetes 1.29+ (native sidecars)."
    ),
    readme_title="the Cloud SQL Auth Proxy wherever the database connection is made",
    container="proxy",
    parameters={
        "instance": {
            "type": "string",
            "pattern": "^(?:[a-z0-9.-]+:)?[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]+$",
            "description": (
                "The Cloud SQL instance connection name, project:region:instance (as `gcloud sql "
                "instances describe` shows it as connectionName; a domain-scoped project is "
                "domain:project:region:instance). Required."
            ),
            "examples": [
                "my-project:europe-west1:airflow-db",
                "example.com:analytics:us-central1:airflow",
            ],
        },
        "port": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "description": (
                "The local port the proxy listens on, at 127.0.0.1 in each pod. Default: the "
                "port of the release's database connection as the render shows it (the metadata "
                f"Secret, or pgbouncer's config), else {DEFAULT_PORT}."
            ),
            "examples": [5432, 3306],
        },
        "image": image(
            f"The proxy's image. Default: {IMAGE} (pinned; a v2 image is needed: the flags are "
            "v2's).",
            [IMAGE, "europe-docker.pkg.dev/my-project/mirror/cloud-sql-proxy:2.25.3"],
        ),
        "privateIp": {
            "type": "boolean",
            "default": False,
            "description": (
                "Connect to the instance's private IP (--private-ip): for a VPC-native GKE "
                "cluster with private services access. Default: false (public IP)."
            ),
            "examples": [True],
        },
        "autoIamAuthn": {
            "type": "boolean",
            "default": False,
            "description": (
                "Automatic IAM database authentication (--auto-iam-authn): the proxy logs in as "
                "the pod's Google service account, so the connection's user is that account and "
                "it carries no password. Default: false."
            ),
            "examples": [True],
        },
        "gcpServiceAccount": {
            "type": "string",
            "pattern": "^[^@\\s]+@[^@\\s]+\\.iam\\.gserviceaccount\\.com$",
            "description": (
                "A Google service account for GKE Workload Identity: the ServiceAccounts of the "
                f"pods that get the proxy are annotated {WORKLOAD_IDENTITY_ANNOTATION} with it "
                "(the account needs roles/cloudsql.client and a roles/iam.workloadIdentityUser "
                "binding for each Kubernetes ServiceAccount). Default: none (the node's or a "
                "key's credentials)."
            ),
            "examples": ["airflow@my-project.iam.gserviceaccount.com"],
        },
    },
    required=("instance",),
    example={
        "instance": "my-project:europe-west1:airflow-db",
        "gcpServiceAccount": "airflow@my-project.iam.gserviceaccount.com",
        "privateIp": True,
    },
    sections=DATABASE_CLIENTS,
    # Wherever the database connection is made, whatever the component (also the CronJobs and
    # the community chart's Jobs, which have no config section).
    default_sections=lambda release: (EVERY_POD,),
    components_doc=(
        "Narrow the proxy to the pods of these config sections ({choices}); a pod of them still "
        "gets it only when it connects to the database itself. Default: every pod of the "
        "release, the CronJobs and the community chart's Jobs included."
    ),
    components_examples=(["scheduler", "workers", "migrateDatabaseJob"],),
    default_requests={"cpu": "50m", "memory": "64Mi"},
    expand=expand,
    unmatched=(
        "no pod of the render opens a database connection itself (its components have none, or "
        "they connect through a pgbouncer the render does not hold)"
    ),
    reports=frozenset({"proxy-connection", "service-account"}),
    needs_main=False,
)
