"""The release reader (`release.py`): what a rendered release says about itself.

RELEASES: render -> the releases found and, for release `airflow`, its sections, its
ServiceAccounts, the ConfigMaps and Secrets `envFrom` can name, and airflow.cfg entries (the
chart's config ConfigMap). SETTINGS: an Airflow setting as a component's main container sees
it on real renders: a literal `AIRFLOW__S__O` in `env` over airflow.cfg (the official pod
template sets `AIRFLOW__CORE__EXECUTOR`), the community chart's `config-envs` Secret (base64)
through `envFrom`. ENV_SOURCES: `envFrom` rules on small hand-written objects. MAJORS and
BUNDLES: the Airflow major version from the image tag (an api-server decides for a custom
tag) and the folder a DAG sync writes into. PARSED: airflow.cfg text -> entries.
Expected values were read off the renders' airflow.cfg, env and Secrets; where Kubernetes or
Airflow decide (the later of two sources wins, `%%` reads as `%`), the row says which.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from airflow_sidecars.krmio.krmread import parse
from airflow_sidecars.renders.airflow import find_workloads
from airflow_sidecars.renders.release import (
    BundleFolder,
    Release,
    airflow_major,
    dag_bundle_folder,
    dags_folder,
    parse_airflow_cfg,
    releases,
    setting,
)
from conftest import FIXTURES, matrix_root

Data = dict[str, Any]
O15 = ("official-1.15.0/01-default.yaml", "official-1.15.0/01-default.hooks.yaml")
O15_K8S = ("official-1.15.0/02-kubernetes-executor.yaml",)
O20 = ("official-1.20.0/01-default.yaml", "official-1.20.0/01-default.hooks.yaml")
O20_GITSYNC = ("matrix:official-1.20.0/07a-gitsync.yaml",)
O18_GITSYNC = ("matrix:official-1.18.0/07a-gitsync.yaml",)
O20_AIRFLOW2 = ("matrix:official-1.20.0/23a-airflow2-image-on-chart.yaml",)
O20_OWN_TEMPLATE = ("matrix:official-1.20.0/13a-pod-template-override.yaml",)
C89 = ("community-8.9.0/01-default.yaml",)
C89_K8S = ("matrix:community-8.9.0/02a-kubernetes-executor.yaml",)
TEMPLATE_KEYS = ("pod_template_file.yaml", "pod_template.yaml")


def _path(name: str) -> Path:
    if name.startswith("matrix:"):
        return matrix_root() / name.removeprefix("matrix:")
    return FIXTURES / name


@functools.cache  # each render is read once; nothing here edits what it returns
def read(files: tuple[str, ...]) -> dict[tuple[str | None, str | None], Release]:
    items = parse([(name, _path(name).read_text()) for name in files]).items
    return releases(items, find_workloads(items))


def airflow(files: tuple[str, ...]) -> Release:
    """Release `airflow` of a render (the charts set no namespace on their objects)."""
    return read(files)[("airflow", None)]


@functools.cache
def _documents(files: tuple[str, ...]) -> list[Data]:
    return [d for f in files for d in yaml.safe_load_all(_path(f).read_text()) if d]


def main(files: tuple[str, ...], kind: str, name: str, container: str) -> Data:
    """A container of a render, read with PyYAML (a pod template from its ConfigMap string)."""
    documents = _documents(files)
    document = next(d for d in documents if (d["kind"], d["metadata"]["name"]) == (kind, name))
    if kind == "ConfigMap":
        key = next(k for k in TEMPLATE_KEYS if k in document["data"])
        pod = yaml.safe_load(document["data"][key])["spec"]
    elif kind == "CronJob":
        pod = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    else:
        pod = document["spec"]["template"]["spec"]
    found: Data = next(c for c in pod["containers"] if c["name"] == container)
    return copy.deepcopy(found)


def with_env(container: Data, **env: str) -> Data:
    """The container with literal variables put first in its env (they win there)."""
    literal = [{"name": name, "value": value} for name, value in env.items()]
    return {**container, "env": literal + list(container.get("env") or [])}


O15_SA = {"create-user-job", "migrate-database-job", "redis", "scheduler", "statsd",
          "triggerer", "webserver", "worker"}  # fmt: skip
O15_SOURCES = {("Secret", "airflow-metadata"), ("Secret", "airflow-webserver-secret-key"),
               ("ConfigMap", "airflow-config"), ("ConfigMap", "airflow-statsd"),
               ("Secret", "airflow-fernet-key"), ("Secret", "airflow-redis-password"),
               ("Secret", "airflow-broker-url")}  # fmt: skip
C89_SOURCES = {("Secret", name) for name in ("airflow-postgresql", "airflow-redis",
               "airflow-config-envs", "airflow-webserver-config", "airflow-db-migrations",
               "airflow-pgbouncer", "airflow-sync-users")} | {
               ("ConfigMap", "airflow-redis"), ("ConfigMap", "airflow-redis-health")}  # fmt: skip
BUNDLES_DEFAULT = (
    '[{"classpath":"airflow.dag_processing.bundles.local.LocalDagBundle","kwargs":{},'
    '"name":"dags-folder"}]'
)


class ReleaseRow(NamedTuple):
    files: tuple[str, ...]
    keys: set[tuple[str | None, str | None]]
    sections: set[str]
    accounts: set[str]
    sources: set[tuple[str, str]]
    cfg: dict[tuple[str, str], str]  # entries checked
    cfg_size: int  # entries in all


RELEASES = [
    pytest.param(
        ReleaseRow(
        O15,
        {("airflow", None), (None, None), (None, "airflow")},  # postgresql: namespaced, no label
        {"scheduler", "webserver", "triggerer", "workers", "createUserJob", "migrateDatabaseJob"},
        {f"airflow-{name}" for name in O15_SA},
        O15_SOURCES,
        {("core", "dags_folder"): "/opt/airflow/dags", ("core", "executor"): "CeleryExecutor",
         ("celery", "flower_url_prefix"): "", ("kubernetes", "worker_container_tag"): "2.9.3"},
        44),  # entries in its airflow.cfg, counted by hand
        id="official-1.15-celery",
    ),
    pytest.param(
        ReleaseRow(
        O20,
        {("airflow", None), (None, None), (None, "airflow")},
        {"apiServer", "dagProcessor", "scheduler", "triggerer", "workers", "createUserJob",
         "migrateDatabaseJob"},
        {f"airflow-{name}" for name in (O15_SA - {"webserver"}) | {"api-server", "dag-processor"}},
        O15_SOURCES - {("Secret", "airflow-webserver-secret-key")}
        | {("Secret", "airflow-api-secret-key"), ("Secret", "airflow-jwt-secret")},
        {("dag_processor", "dag_bundle_config_list"): BUNDLES_DEFAULT,
         ("scheduler", "standalone_dag_processor"): "True"},
        33),
        id="official-1.20-airflow-3",
    ),
    pytest.param(
        ReleaseRow(
        C89,
        {("airflow", None), (None, None)},
        {"", "flower", "scheduler", "triggerer", "webserver", "workers"},
        {"airflow"},
        C89_SOURCES,
        {},  # the community chart sets Airflow's options in a Secret, not in airflow.cfg
        0),
        id="community-8.9",
    ),
]  # fmt: skip


@pytest.mark.parametrize("row", RELEASES)
def test_releases_of_a_render(row: ReleaseRow) -> None:
    files, keys, sections, accounts, sources, cfg, cfg_size = row
    found = read(files)
    assert set(found) == keys
    release = found[("airflow", None)]
    assert release.sections == sections
    assert set(release.service_accounts) == accounts
    assert {item.kind for item in release.service_accounts.values()} == {"ServiceAccount"}
    assert set(release.env_sources) == sources
    assert {key: release.airflow_cfg.get(key) for key in cfg} == cfg
    assert len(release.airflow_cfg) == cfg_size
    # objects without a release label are kept by namespace: the chart's, and postgresql's
    assert set(found[(None, None)].service_accounts) == accounts
    assert found[(None, None)].sections == set()


TWO_RELEASES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  {name: af-config, namespace: prod, labels: {tier: airflow, component: config, release: af}}
data: {airflow.cfg: "[core]\\ndags_folder = /prod\\n"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  {name: af-config, namespace: dev, labels: {tier: airflow, component: config, release: af}}
data: {airflow.cfg: "[core]\\ndags_folder = /dev\\n"}
"""


def test_releases_are_told_apart_by_namespace() -> None:
    found = releases(parse([("two.yaml", TWO_RELEASES)]).items, [])
    assert set(found) == {("af", "prod"), ("af", "dev"), (None, "prod"), (None, "dev")}
    assert found[("af", "prod")].airflow_cfg == {("core", "dags_folder"): "/prod"}
    assert found[("af", "dev")].airflow_cfg == {("core", "dags_folder"): "/dev"}


SCHEDULER = ("Deployment", "airflow-scheduler", "scheduler")
C_SCHEDULER = ("Deployment", "airflow-scheduler", "airflow-scheduler")
SETTINGS = [
    pytest.param(O15, SCHEDULER, "core", "dags_folder", "/opt/airflow/dags", id="o15-dags-folder"),
    pytest.param(O15, SCHEDULER, "CORE", "DAGS_FOLDER", "/opt/airflow/dags", id="o15-any-case"),
    pytest.param(O15, SCHEDULER, "celery", "flower_url_prefix", "", id="o15-cfg-empty-value"),
    pytest.param(O15, SCHEDULER, "core", "no_such_option", None, id="o15-not-set"),
    pytest.param(O15, ("Deployment", "airflow-webserver", "webserver"), "webserver", "secret_key",
                 None, id="o15-env-value-from-secret-unknown"),
    pytest.param(O15_K8S, SCHEDULER, "core", "executor", "KubernetesExecutor", id="o15-k8s-cfg"),
    pytest.param(O15_K8S, ("ConfigMap", "airflow-config", "base"), "core", "executor",
                 "LocalExecutor", id="o15-pod-template-env-over-cfg"),
    pytest.param(O20_GITSYNC, SCHEDULER, "core", "dags_folder",
                 "/opt/airflow/dags/repo/airflow-core/src/airflow/example_dags", id="o20-gitsync"),
    pytest.param(C89, C_SCHEDULER, "core", "dags_folder", "/opt/airflow/dags", id="c89-secret"),
    pytest.param(C89, C_SCHEDULER, "webserver", "secret_key", "THIS IS UNSAFE!", id="c89-key"),
    pytest.param(C89, C_SCHEDULER, "triggerer", "default_capacity", "1000", id="c89-capacity"),
    pytest.param(C89_K8S, C_SCHEDULER, "core", "executor", "KubernetesExecutor", id="c89-k8s"),
    pytest.param(C89_K8S, ("ConfigMap", "airflow-pod-template", "base"), "core", "executor",
                 "LocalExecutor", id="c89-pod-template-env-over-secret"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "where", "section", "option", "expected"), SETTINGS)
def test_setting_on_a_render(
    files: tuple[str, ...], where: tuple[str, str, str], section: str, option: str, expected: str
) -> None:
    assert setting(airflow(files), main(files, *where), section, option) == expected


def _secret(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


ENV_OBJECTS = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg, labels: {{tier: airflow, component: config, release: r}}}}
data: {{airflow.cfg: "[core]\\ndags_folder = /from-cfg\\n"}}
---
{{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm, labels: {{release: r}}}},
  data: {{AIRFLOW__CORE__DAGS_FOLDER: /from-cm, DAGS_FOLDER: /prefixed}}}}
---
{{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm2, labels: {{release: r}}}},
  data: {{AIRFLOW__CORE__DAGS_FOLDER: /from-cm2}}}}
---
{{apiVersion: v1, kind: Secret, metadata: {{name: secret, labels: {{release: r}}}},
  data: {{AIRFLOW__CORE__DAGS_FOLDER: {_secret("/from-secret")}}}}}
---
{{apiVersion: v1, kind: Secret, metadata: {{name: both, labels: {{release: r}}}},
  data: {{AIRFLOW__CORE__DAGS_FOLDER: {_secret("/from-data")}}},
  stringData: {{AIRFLOW__CORE__DAGS_FOLDER: /from-string-data}}}}
---
{{apiVersion: v1, kind: Secret, metadata: {{name: broken, labels: {{release: r}}}},
  data: {{AIRFLOW__CORE__DAGS_FOLDER: "not base64!"}}}}
---
{{apiVersion: v1, kind: ConfigMap, data: {{AIRFLOW__CORE__DAGS_FOLDER: /from-local}},
  metadata: {{name: local, labels: {{release: r}},
             annotations: {{config.kubernetes.io/local-config: "true"}}}}}}
---
{{apiVersion: v1, kind: ConfigMap, metadata: {{name: unlabelled}},
  data: {{AIRFLOW__CORE__DAGS_FOLDER: /from-unlabelled}}}}
"""
CM, CM2 = {"configMapRef": {"name": "cm"}}, {"configMapRef": {"name": "cm2"}}


def secret_ref(name: str) -> Data:
    return {"secretRef": {"name": name}}


DAGS = "AIRFLOW__CORE__DAGS_FOLDER"
ENV_SOURCES = [
    pytest.param({}, "/from-cfg", id="nothing-in-the-container-cfg"),
    pytest.param({"envFrom": [CM]}, "/from-cm", id="configmap-over-cfg"),
    pytest.param({"envFrom": [{"prefix": "AIRFLOW__CORE__", **CM}]}, "/prefixed", id="prefix"),
    pytest.param({"envFrom": [{"prefix": "AIRFLOW__DAGS__", **CM}]}, "/from-cfg", id="unmatched"),
    pytest.param({"envFrom": [secret_ref("secret")]}, "/from-secret", id="secret-base64"),
    pytest.param({"envFrom": [secret_ref("both")]}, "/from-string-data", id="secret-stringdata"),
    pytest.param({"envFrom": [secret_ref("broken")]}, "/from-cfg", id="secret-not-base64"),
    pytest.param({"envFrom": [secret_ref("absent")]}, "/from-cfg", id="source-not-in-input"),
    pytest.param({"envFrom": [{"configMapRef": {"name": "local"}}]}, "/from-cfg",
                 id="local-config-is-no-source"),
    pytest.param({"envFrom": [CM], "env": [{"name": DAGS, "value": "/lit"}]}, "/lit",
                 id="literal-over-envfrom"),
    pytest.param({"env": [{"name": DAGS, "valueFrom": {"secretKeyRef": {"name": "s"}}}]}, None,
                 id="value-from-unknown"),
    pytest.param({"envFrom": [CM, CM2]}, "/from-cm2", id="last-envfrom-source-wins"),
    pytest.param({"env": [{"name": DAGS, "value": "/1"}, {"name": DAGS, "value": "/2"}]}, "/2",
                 id="last-duplicate-env-wins"),
    pytest.param({"envFrom": [{"configMapRef": {"name": "unlabelled"}}]}, "/from-unlabelled",
                 id="namespace-configmap-without-release-label"),
]  # fmt: skip


@pytest.mark.parametrize(("container", "expected"), ENV_SOURCES)
def test_setting_through_env_sources(container: Data, expected: str | None) -> None:
    release = releases(parse([("env.yaml", ENV_OBJECTS)]).items, [])[("r", None)]
    assert setting(release, container, "core", "dags_folder") == expected


def test_without_a_release_only_literals_count() -> None:
    assert setting(None, {"envFrom": [CM], "env": [{"name": "X", "value": "1"}]}, "a", "b") is None
    assert setting(None, {"env": [{"name": "AIRFLOW__A__B", "value": "1"}]}, "a", "b") == "1"
    assert dags_folder(None, None) == "/opt/airflow/dags"
    assert dags_folder(airflow(O20_GITSYNC), None) == (
        "/opt/airflow/dags/repo/airflow-core/src/airflow/example_dags"
    )


MAJORS = [  # (kind, name, container) of the render, or a container of our own
    pytest.param(O15, SCHEDULER, 2, id="o15-2.9.3"),
    pytest.param(O20, SCHEDULER, 3, id="o20-3.1.8"),
    pytest.param(O20_AIRFLOW2, SCHEDULER, 2, id="o20-chart-airflow-2.11"),
    pytest.param(O20_OWN_TEMPLATE, ("ConfigMap", "airflow-config", "base"), 3,
                 id="o20-custom-tag-api-server-decides"),
    pytest.param(C89, C_SCHEDULER, 2, id="c89-2.8.4-python3.9"),
    pytest.param(O15, {"image": "apache/airflow:custom"}, 2, id="custom-tag-no-api-server"),
    pytest.param(O20, {"image": "registry.local:5000/airflow"}, 3, id="port-is-no-tag-api-server"),
    pytest.param(O15, {"image": "registry.local:5000/apache/airflow:3.0.2"}, 3, id="registry-port"),
    pytest.param(O15, {"image": "apache/airflow:v3.1.0"}, 3, id="v-prefix"),
    pytest.param(O20, {"image": "apache/airflow:2.10.5@sha256:" + "a" * 64}, 2, id="with-digest"),
    pytest.param(O20, {"image": 3}, 3, id="image-not-a-string"),
    pytest.param((), None, 2, id="nothing-known"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "container", "expected"), MAJORS)
def test_airflow_major(
    files: tuple[str, ...], container: tuple[str, str, str] | Data | None, expected: int
) -> None:
    if isinstance(container, tuple):
        container = main(files, *container)
    assert airflow_major(airflow(files) if files else None, container) == expected


def _bundles(*entries: tuple[str, str | None]) -> str:
    """A dag_bundle_config_list: (name, path) LocalDagBundles, or (name, None) a git one."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    git = "airflow.providers.git.bundles.git.GitDagBundle"
    return json.dumps([
        {"name": n, "classpath": git if p is None else local,
         "kwargs": {} if p is None else {"path": p}}
        for n, p in entries
    ])  # fmt: skip


DAG_PROCESSOR = ("Deployment", "airflow-dag-processor", "dag-processor")
BUNDLES_VAR = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"
DEFAULT = "/opt/airflow/dags"
GITSYNC = "/opt/airflow/dags/repo/airflow-core/src/airflow/example_dags"
AB = _bundles(("a", "/a"), ("b", "/b"))
BUNDLES = [
    pytest.param(O15, SCHEDULER, {}, None, (DEFAULT, ""), id="airflow-2-dags-folder"),
    pytest.param(O20, DAG_PROCESSOR, {}, None, (DEFAULT, ""), id="chart-default-bundle"),
    pytest.param(O20_GITSYNC, DAG_PROCESSOR, {}, None, (GITSYNC, ""), id="gitsync-dags-folder"),
    pytest.param(O18_GITSYNC, DAG_PROCESSOR, {}, None, (GITSYNC, ""), id="airflow-3.0-no-list"),
    pytest.param(O20_AIRFLOW2, SCHEDULER, {BUNDLES_VAR: _bundles(("x", "/x"))}, None, (DEFAULT, ""),
                 id="airflow-2-ignores-bundles"),
    pytest.param(O20, DAG_PROCESSOR, {"AIRFLOW__CORE__DAGS_FOLDER": "/mine"}, None, ("/mine", ""),
                 id="env-dags-folder-under-default-bundle"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: "   "}, None, (DEFAULT, ""), id="blank-list"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: "[{"}, None, (None, "not valid JSON"),
                 id="list-not-json"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: "[]"}, None, (None, "no LocalDagBundle"),
                 id="empty-list"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: _bundles(("git", None))}, None,
                 (None, "no LocalDagBundle to sync into"), id="only-a-git-bundle"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: _bundles(("x", "/x"), ("git", None))}, None,
                 ("/x", ""), id="one-local-bundle-path"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: _bundles(("x", ""))}, None, (DEFAULT, ""),
                 id="local-bundle-empty-path-dags-folder"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: AB}, None,
                 (None, "several LocalDagBundles (a, b)"), id="several-local-bundles"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: _bundles(("a", "/a"), ("dags-folder", "/df"))},
                 None, ("/df", ""), id="several-with-dags-folder"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: AB}, "b", ("/b", ""), id="named-bundle"),
    pytest.param(O20, DAG_PROCESSOR, {BUNDLES_VAR: AB}, "c",
                 (None, "no LocalDagBundle named 'c' (found: a, b)"), id="named-bundle-missing"),
    pytest.param(O20, DAG_PROCESSOR, {}, "dags-folder", (DEFAULT, ""), id="named-chart-default"),
]  # fmt: skip


@pytest.mark.parametrize(("files", "where", "env", "bundle", "expected"), BUNDLES)
def test_dag_bundle_folder(
    files: tuple[str, ...],
    where: tuple[str, str, str],
    env: dict[str, str],
    bundle: str | None,
    expected: tuple[str | None, str],
) -> None:
    found = dag_bundle_folder(airflow(files), with_env(main(files, *where), **env), bundle)
    assert isinstance(found, BundleFolder)
    assert found.folder == expected[0]
    assert expected[1] in found.problem
    assert bool(found.problem) == bool(expected[1])


PARSED = [
    pytest.param("[core]\ndags_folder = /x\n", {("core", "dags_folder"): "/x"}, id="plain"),
    pytest.param("[Core]\nDAGS_Folder = /x\n", {("core", "dags_folder"): "/x"}, id="lower-case"),
    pytest.param("[celery]\nflower_url_prefix = \n", {("celery", "flower_url_prefix"): ""},
                 id="empty-value"),
    pytest.param("# c\n[core]\n; c\nexecutor: CeleryExecutor\n", {("core", "executor"):
                 "CeleryExecutor"}, id="comments-colon"),
    pytest.param("[core]\nx = a\n  b\n", {("core", "x"): "a\nb"}, id="continued-line"),
    pytest.param("[DEFAULT]\nx = 1\n[a]\n[b]\ny = 2\n",
                 {("a", "x"): "1", ("b", "x"): "1", ("b", "y"): "2"}, id="default-section"),
    pytest.param("x = 1\n[core]\ny = 2\n", {}, id="no-section-header-unreadable"),
    pytest.param("", {}, id="empty"),
    pytest.param("[core]\nx = 100%%\n", {("core", "x"): "100%"}, id="percent-escaped"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parse_airflow_cfg(text: str, expected: dict[tuple[str, str], str]) -> None:
    assert parse_airflow_cfg(text) == expected
