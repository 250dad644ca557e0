"""Where a pod's database connection goes, read from the render (dbconn.py): one row per way a
chart or a user gives Airflow its connection, and pgbouncer's Service understood."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from airflow_sidecars.krmio import krmread
from airflow_sidecars.renders.airflow import find_workloads
from airflow_sidecars.renders.dbconn import Endpoint, direct_endpoints
from airflow_sidecars.renders.release import Release, releases

CONN = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


LABELS = {"tier": "airflow", "release": "airflow", "chart": "airflow-1.15.0"}
RENDER = [
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "metadata", "labels": LABELS},
        "data": {"connection": b64("postgresql://u:p%40ss@db.example.com:5433/airflow")},
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "plain", "labels": LABELS},
        "stringData": {"uri": "postgresql://u:p@10.0.0.7/airflow", "DATABASE_HOST": "10.0.0.8"},
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "envs", "labels": LABELS},
        "data": {"DATABASE__SQL_ALCHEMY_CONN": "mysql://u@[::1]:3306/a"},
    },
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pgbouncer-config", "labels": LABELS},
        "data": {
            "pgbouncer.ini": b64(
                "[databases]\nairflow-metadata = host=10.1.2.3 dbname=a port=5432 pool_size=10\n"
                "[pgbouncer]\nlisten_port = 6543\nauth_file = %(here)s/users.txt\n"
            )
        },
    },
    {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "airflow-pgbouncer", "labels": LABELS},
        "spec": {"selector": {"component": "pgbouncer", "release": "airflow"}},
    },
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "airflow-pgbouncer", "labels": {**LABELS, "component": "pgbouncer"}},
        "spec": {
            "template": {
                "metadata": {"labels": {"component": "pgbouncer", "release": "airflow"}},
                "spec": {
                    "containers": [{"name": "pgbouncer", "image": "pgbouncer:1"}],
                    "volumes": [{"name": "config", "secret": {"secretName": "pgbouncer-config"}}],
                },
            }
        },
    },
]


@pytest.fixture(scope="module")
def release() -> Release:
    text = yaml.safe_dump_all(RENDER)
    inp = krmread.parse([("render.yaml", text)])
    facts = releases(inp.items, find_workloads(inp.items))
    return facts[("airflow", None)]


def pod(*env: dict[str, Any], env_from: list[Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "env": list(env)}
    if env_from:
        container["envFrom"] = env_from
    return {"containers": [container]}


def secret_ref(name: str, key: str, variable: str = CONN) -> dict[str, Any]:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            pod({"name": CONN, "value": "postgresql://a:b@127.0.0.1:6432/x"}),
            [Endpoint("127.0.0.1", 6432, f"the env value of {CONN}")],
            id="literal",
        ),
        pytest.param(
            pod(secret_ref("metadata", "connection")),
            [Endpoint("db.example.com", 5433, "Secret metadata, key connection")],
            id="secret-data",
        ),
        pytest.param(
            pod(secret_ref("plain", "uri", "AIRFLOW_CONN_AIRFLOW_DB")),
            [Endpoint("10.0.0.7", None, "Secret plain, key uri")],
            id="secret-string-data",
        ),
        pytest.param(
            pod(secret_ref("not-rendered", "connection")),
            [Endpoint(None, None, "Secret not-rendered, key connection")],
            id="secret-not-in-the-render",
        ),
        pytest.param(
            pod(env_from=[{"configMapRef": {"name": "envs"}, "prefix": "AIRFLOW__"}]),
            [Endpoint("::1", 3306, "ConfigMap envs, key DATABASE__SQL_ALCHEMY_CONN")],
            id="env-from-with-prefix",
        ),
        pytest.param(
            pod(
                secret_ref("metadata", "connection"),
                env_from=[{"configMapRef": {"name": "envs"}, "prefix": "AIRFLOW__"}],
            ),
            [Endpoint("db.example.com", 5433, "Secret metadata, key connection")],
            id="env-wins-over-env-from",
        ),
        pytest.param(
            pod(
                {"name": CONN, "value": "postgresql://first/x"},
                {"name": CONN, "value": "postgresql://second/x"},
            ),
            [Endpoint("second", None, f"the env value of {CONN}")],
            id="the-later-entry-wins",
        ),
        pytest.param(
            pod(
                {"name": f"{CONN}_CMD", "value": "bash -c 'eval $DATABASE_SQLALCHEMY_CMD'"},
                {"name": "DATABASE_PORT", "value": "6432"},
                env_from=[{"secretRef": {"name": "plain"}}],
            ),
            [Endpoint("10.0.0.8", 6432, f"{CONN}_CMD (from DATABASE_HOST and DATABASE_PORT)")],
            id="command-with-its-variables",
        ),
        pytest.param(
            pod({"name": f"{CONN}_SECRET", "value": "airflow/connections/db"}),
            [Endpoint(None, None, f"{CONN}_SECRET")],
            id="secrets-backend",
        ),
        pytest.param(
            pod({"name": CONN, "value": "postgresql://u@host:notaport/x"}),
            [Endpoint(None, None, f"the env value of {CONN}")],
            id="unreadable-uri",
        ),
        pytest.param(
            pod({"name": CONN, "value": "postgresql://u:p@airflow-pgbouncer.airflow:6543/x"}),
            [],
            id="through-pgbouncer",
        ),
        pytest.param(
            pod({"name": "SOMETHING_ELSE", "value": "postgresql://u:p@db/x"}),
            [],
            id="no-connection",
        ),
        pytest.param(
            {
                "containers": [{"name": "pgbouncer"}],
                "volumes": [{"name": "c", "secret": {"secretName": "pgbouncer-config"}}],
            },
            [Endpoint("10.1.2.3", 5432, "Secret pgbouncer-config, key pgbouncer.ini")],
            id="the-pooler-itself",
        ),
    ],
)
def test_direct_endpoints(release: Release, spec: dict[str, Any], expected: list[Endpoint]) -> None:
    assert direct_endpoints(spec, release) == expected


def test_local_addresses() -> None:
    assert Endpoint("127.0.0.1", 5432, "").local and Endpoint("::1", None, "").local
    assert not Endpoint("10.0.0.1", 5432, "").local and not Endpoint(None, None, "").local


def test_without_the_release_only_literals_are_read() -> None:
    literal = pod({"name": CONN, "value": "postgresql://a@10.0.0.1/x"})
    assert direct_endpoints(literal, None) == [
        Endpoint("10.0.0.1", None, f"the env value of {CONN}")
    ]
    assert direct_endpoints(pod(env_from=[{"secretRef": {"name": "plain"}}]), None) == []
