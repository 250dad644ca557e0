"""cloudSqlProxy on real renders: which pods get the proxy (found from their database
connection, pgbouncer understood), how it goes in (native, first, probed), what it says about
the connection (never the secret), and validate's proxy rules.

The golden cases (tests/golden/cloudsql-*) pin the bytes per chart; these tests say what the
bytes must mean.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from conftest import FIXTURES, config_yaml, matrix_root

KUBERNETES_VERSION = "1.29.0"  # native sidecars on by default
INSTANCE = "my-project:europe-west1:airflow-db"
PGBOUNCER = FIXTURES / "official-1.22.0" / "03a-pgbouncer.yaml"


def render(*names: str) -> bytes:
    return b"".join((FIXTURES / name).read_bytes() for name in names)


def inject(text: bytes, **params: Any) -> Outcome:
    spec = {"presets": {"cloudSqlProxy": {"instance": INSTANCE, **params}}}
    return run_inject([("render.yaml", text)], ConfigSource("c.yaml", config_yaml(spec, "csql")))


def objects(text: bytes) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def pods(text: bytes) -> dict[str, dict[str, Any]]:
    """Every pod spec of the output by "Kind/name", the pod template as "PodTemplate"."""
    found = {}
    for obj in objects(text):
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            found[f"{kind}/{name}"] = obj["spec"]["template"]["spec"]
        elif kind == "CronJob":
            found[f"{kind}/{name}"] = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "ConfigMap" and "pod_template_file.yaml" in (obj.get("data") or {}):
            found["PodTemplate"] = yaml.safe_load(obj["data"]["pod_template_file.yaml"])["spec"]
    return found


def with_proxy(text: bytes) -> set[str]:
    return {
        name
        for name, spec in pods(text).items()
        if any(c["name"] == "cloud-sql-proxy" for c in spec.get("initContainers") or [])
    }


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param(
            ["official-1.15.0/01-default.yaml", "official-1.15.0/01-default.hooks.yaml"],
            {
                "Deployment/airflow-scheduler",
                "Deployment/airflow-webserver",
                "StatefulSet/airflow-worker",
                "StatefulSet/airflow-triggerer",
                "Job/airflow-create-user",
                "Job/airflow-run-airflow-migrations",
            },
            id="official-1.15-celery",
        ),
        pytest.param(
            ["official-1.15.0/02-kubernetes-executor.yaml"],
            {
                "Deployment/airflow-scheduler",
                "Deployment/airflow-webserver",
                "StatefulSet/airflow-triggerer",
                "PodTemplate",
            },
            id="official-1.15-kubernetes-executor",
        ),
        pytest.param(
            ["official-1.20.0/01-default.yaml"],
            {
                "Deployment/airflow-api-server",
                "Deployment/airflow-dag-processor",
                "Deployment/airflow-scheduler",
                "StatefulSet/airflow-worker",
                "StatefulSet/airflow-triggerer",
            },
            id="official-1.20-airflow3",
        ),
        pytest.param(
            ["official-1.22.0/03a-pgbouncer.yaml", "official-1.22.0/03a-pgbouncer.hooks.yaml"],
            {"Deployment/airflow-pgbouncer"},
            id="official-1.22-pgbouncer",
        ),
        pytest.param(
            ["community-8.9.0/01-default.yaml"], {"Deployment/airflow-pgbouncer"}, id="community"
        ),
    ],
)
def test_the_proxy_goes_where_the_connection_is_made(inputs: list[str], expected: set[str]) -> None:
    outcome = inject(render(*inputs))
    assert outcome.exit_code == 0, [r.line() for r in outcome.results]
    assert with_proxy(outcome.output) == expected
    # statsd, redis, PostgreSQL (and with pgbouncer every Airflow pod) get nothing
    untouched = set(pods(render(*inputs))) - expected
    assert all(pods(outcome.output)[name] == pods(render(*inputs))[name] for name in untouched)


def test_cleanup_cronjobs_get_the_proxy() -> None:
    probe = matrix_root() / "official-1.22.0-probes" / "07a-cronjobs-top-level.yaml"
    outcome = inject(probe.read_bytes())
    cronjobs = {name for name in pods(probe.read_bytes()) if name.startswith("CronJob/")}
    assert len(cronjobs) == 2
    assert cronjobs <= with_proxy(outcome.output)


def test_the_proxy_is_a_native_sidecar_that_starts_first() -> None:
    outcome = inject(render("official-1.15.0/01-default.yaml"), privateIp=True, autoIamAuthn=True)
    scheduler = pods(outcome.output)["Deployment/airflow-scheduler"]
    first, second = scheduler["initContainers"]
    assert second["name"] == "wait-for-airflow-migrations"  # it needs the database already
    assert first["name"] == "cloud-sql-proxy" and first["restartPolicy"] == "Always"
    assert first["image"] == "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.25.3"
    assert first["startupProbe"]["httpGet"] == {"path": "/startup", "port": 9801}
    assert first["args"][-1] == INSTANCE
    assert {"--port=5432", "--health-check", "--http-address=0.0.0.0", "--http-port=9801"} <= set(
        first["args"]
    )
    assert {"--private-ip", "--auto-iam-authn", "--exit-zero-on-sigterm"} <= set(first["args"])
    assert first["securityContext"]["runAsNonRoot"] is True
    # a Job's pod completes: the proxy is native there as everywhere
    job = pods(inject(render("official-1.15.0/01-default.hooks.yaml")).output)
    migrations = job["Job/airflow-run-airflow-migrations"]
    assert [c["name"] for c in migrations["containers"]] == ["run-airflow-migrations"]
    assert migrations["initContainers"][0]["restartPolicy"] == "Always"


def _with_connection(text: bytes, uri: str) -> bytes:
    """The render with the chart's metadata Secret holding `uri`."""
    encoded = base64.b64encode(uri.encode()).decode()
    return re.sub(rb"(\n  connection: )\S+", rb"\g<1>" + encoded.encode(), text, count=1)


def test_the_port_follows_the_connection_and_a_local_host_is_quiet() -> None:
    text = _with_connection(
        render("official-1.15.0/01-default.yaml"),
        "postgresql://airflow:s3cr3t-pw@127.0.0.1:6543/airflow",
    )
    outcome = inject(text)
    args = pods(outcome.output)["Deployment/airflow-scheduler"]["initContainers"][0]["args"]
    assert "--port=6543" in args
    assert not [r for r in outcome.results if r.tags["rule"] == "proxy-connection"]
    explicit = inject(text, port=5433)
    assert (
        "--port=5433"
        in pods(explicit.output)["StatefulSet/airflow-worker"]["initContainers"][0]["args"]
    )
    said = [r for r in explicit.results if r.tags["rule"] == "proxy-connection"]
    assert len(said) == 1 and "data.metadataConnection.port: 5433" in said[0].message


def test_a_connection_elsewhere_is_said_once_without_the_secret() -> None:
    text = _with_connection(
        render("official-1.15.0/01-default.yaml"),
        "postgresql://airflow:s3cr3t-pw@10.20.0.3:5432/airflow",
    )
    outcome = inject(text)
    said = [r for r in outcome.results if r.tags["rule"] == "proxy-connection"]
    assert [r.severity for r in said] == ["warning"]  # once for the release, not per pod
    assert "goes to 10.20.0.3:5432" in said[0].message
    assert "data.metadataConnection.host: 127.0.0.1" in said[0].message
    assert all("s3cr3t" not in r.line() and "airflow:" not in r.message for r in outcome.results)


def test_workload_identity_annotates_the_service_accounts_of_the_pods_it_reached() -> None:
    account = "airflow@my-project.iam.gserviceaccount.com"
    outcome = inject(PGBOUNCER.read_bytes(), gcpServiceAccount=account)
    annotated = {
        obj["metadata"]["name"]
        for obj in objects(outcome.output)
        if obj["kind"] == "ServiceAccount"
        and (obj["metadata"].get("annotations") or {}).get("iam.gke.io/gcp-service-account")
        == account
    }
    assert annotated == {"airflow-pgbouncer"}


def test_components_narrow_it() -> None:
    outcome = inject(render("official-1.15.0/01-default.yaml"), components=["scheduler"])
    assert with_proxy(outcome.output) == {"Deployment/airflow-scheduler"}


def test_a_render_without_a_database_connection_is_not_reached() -> None:
    statsd_only = (
        b"".join(
            b"---\n" + yaml.safe_dump(obj).encode()
            for obj in objects(render("official-1.15.0/01-default.yaml"))
            if obj["metadata"]["name"] in ("airflow-statsd", "airflow-scheduler")
            and obj["kind"] == "Deployment"
        )
        .replace(b"SQL_ALCHEMY_CONN", b"SOMETHING_ELSE")
        .replace(b"AIRFLOW_CONN_AIRFLOW_DB", b"ANOTHER_THING")
    )
    outcome = inject(statsd_only)
    assert outcome.output == statsd_only
    rules = {r.tags["rule"] for r in outcome.results}
    assert "no-match" in rules and "added" not in rules
    said = " ".join(r.message for r in outcome.results)
    assert "no pod of the render opens a database connection itself" in said


@pytest.mark.parametrize(
    "inputs",
    [
        ["official-1.15.0/01-default.yaml", "official-1.15.0/01-default.hooks.yaml"],
        ["official-1.15.0/02-kubernetes-executor.yaml"],
        ["official-1.22.0/03a-pgbouncer.yaml"],
        ["community-8.9.0/01-default.yaml"],
    ],
)
def test_output_is_valid_idempotent_validated_and_taken_back(inputs: list[str]) -> None:
    before = render(*inputs)
    outcome = inject(before)
    for obj in objects(outcome.output):
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    template = pods(outcome.output).get("PodTemplate")
    if template is not None:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t"}, "spec": template}
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    assert inject(outcome.output).output == outcome.output
    spec = {"presets": {"cloudSqlProxy": {"instance": INSTANCE}}}
    checked = run_validate(
        [("out.yaml", outcome.output)], ConfigSource("c.yaml", config_yaml(spec, "csql"))
    )
    assert checked.exit_code == 0, [r.line() for r in checked.results if r.severity == "error"]
    assert run_remove([("out.yaml", outcome.output)], None).output == before


# -- validate's proxy rules -------------------------------------------------------------------

PLAIN_PROXY = {
    "name": "cloudsql",
    "image": "gcr.io/cloudsql-docker/gce-proxy:1.37.0",
    "command": ["/cloud_sql_proxy", f"-instances={INSTANCE}=tcp:5432"],
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
}


def _edit(text: bytes, kind: str, name: str, edit: Any) -> bytes:
    documents = objects(text)
    for obj in documents:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            edit(obj["spec"]["template"]["spec"])
    return yaml.safe_dump_all(documents).encode()


def rules_of(text: bytes) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for result in run_validate([("r.yaml", text)], None).results:
        ref = result.resource
        where = f"{ref.kind}/{ref.name}" if ref is not None else ""
        found.setdefault(result.tags["rule"], []).append((where, result.severity))
    return found


def test_validate_a_plain_proxy_in_a_job_and_in_a_deployment() -> None:
    text = render("official-1.15.0/01-default.yaml", "official-1.15.0/01-default.hooks.yaml")
    for kind, name in [
        ("Job", "airflow-run-airflow-migrations"),
        ("Deployment", "airflow-scheduler"),
    ]:
        text = _edit(text, kind, name, lambda spec: spec["containers"].append(dict(PLAIN_PROXY)))
    found = rules_of(text)
    assert sorted(found["plain-proxy"]) == [
        ("Deployment/airflow-scheduler", "warning"),
        ("Job/airflow-run-airflow-migrations", "error"),
    ]
    assert "plain-sidecar" not in found  # said once, by the rule that knows what a proxy needs
    # the other pods of the release connect without one
    assert ("StatefulSet/airflow-worker", "error") in found["proxy-missing"]
    assert ("Deployment/airflow-scheduler", "error") not in found["proxy-missing"]


def test_validate_two_proxies_and_a_proxy_after_what_needs_it() -> None:
    out = inject(render("official-1.15.0/01-default.yaml")).output

    def late_and_twice(spec: dict[str, Any]) -> None:
        proxy = spec["initContainers"].pop(0)
        spec["initContainers"].append(proxy)
        spec["containers"].append(dict(PLAIN_PROXY))

    found = rules_of(_edit(out, "Deployment", "airflow-scheduler", late_and_twice))
    assert found["proxy-order"] == [("Deployment/airflow-scheduler", "error")]
    assert found["proxy-twice"] == [("Deployment/airflow-scheduler", "error")]


def test_validate_is_quiet_on_the_presets_output_and_on_renders_without_a_proxy() -> None:
    for text in (render("official-1.15.0/01-default.yaml"), PGBOUNCER.read_bytes()):
        assert not {"plain-proxy", "proxy-twice", "proxy-order", "proxy-missing"} & set(
            rules_of(text)
        )
        assert not {"plain-proxy", "proxy-twice", "proxy-order", "proxy-missing"} & set(
            rules_of(inject(text).output)
        )


def test_the_fixture_is_what_the_provenance_says() -> None:
    values = yaml.safe_load(
        (FIXTURES / "official-1.22.0" / "03a-pgbouncer.values.yaml").read_text()
    )
    assert values["pgbouncer"]["enabled"] is True
    assert (
        Path(PGBOUNCER).read_bytes()
        == (
            matrix_root() / "official-1.22.0-probes" / "03a-pgbouncer-exporter-mounts.yaml"
        ).read_bytes()
    )
