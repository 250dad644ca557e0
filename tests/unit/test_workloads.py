"""The workload finder (`airflow.find_workloads`) on real chart renders.

Each row of RENDERS is one render (manifest, and hooks where they matter) and every Airflow
pod spec in it, in input order, as the chart labels it: kind and name, the config section
and `component`, where the pod spec is, the pod template's ConfigMap key, the Celery worker
set (the pod template's `worker-set` label), the chart (flavour and version, from the `chart`
label), whether a pod template is the user's own, and the release label. The expected rows
were read off the renders (tests/fixtures, tests/fixtures/matrix): objects of Airflow's
charts without an Airflow container of their own (statsd, redis, pgbouncer) and the
subcharts' (postgresql, no `tier`/`app: airflow`) are not workloads. EDITED rows are real
objects with one thing changed: local-config, labels gone or different, a pod kind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from airflow_sidecars.krmio.krmread import parse
from airflow_sidecars.renders.airflow import Workload, find_workloads
from conftest import FIXTURES, matrix_root

Version = tuple[int, int, int]
TEMPLATE = ("spec", "template", "spec")  # Deployment, StatefulSet, Job
CRON = ("spec", "jobTemplate", "spec", "template", "spec")
POD_PATHS = {"Deployment": TEMPLATE, "StatefulSet": TEMPLATE, "Job": TEMPLATE, "CronJob": CRON}
OFFICIAL_KEY, COMMUNITY_KEY = "pod_template_file.yaml", "pod_template.yaml"


class Found(NamedTuple):
    kind: str | None
    name: str | None
    section: str
    component: str
    pod_path: tuple[str | int, ...]
    template_key: str | None
    worker_set: str | None
    chart: tuple[str, Version | None]
    users_template: bool
    release: str | None


def of(workload: Workload) -> Found:
    return Found(
        workload.item.kind,
        workload.item.name,
        workload.section,
        workload.component,
        workload.pod_path,
        workload.template_key,
        workload.worker_set,
        (workload.flavour, workload.chart.version),
        workload.users_template,
        workload.release,
    )


def pods(chart: tuple[str, Version | None], *rows: tuple[str, ...]) -> list[Found]:
    """Workloads of one chart: (kind, name, section, component[, worker set])."""
    found = []
    for kind, name, section, component, *worker_set in rows:
        path = POD_PATHS[kind]
        set_name = worker_set[0] if worker_set else None
        found.append(
            Found(kind, name, section, component, path, None, set_name, chart, False, "airflow")
        )
    return found


def template(chart: tuple[str, Version | None], name: str, users: bool = False) -> Found:
    """The KubernetesExecutor pod template: the official chart's is the `workers` section's;
    the community chart's reads `airflow.kubernetesPodTemplate.*`, no section."""
    key, section = (OFFICIAL_KEY, "workers") if chart[0] == "official" else (COMMUNITY_KEY, "")
    return Found(
        "ConfigMap", name, section, "worker", ("spec",), key, None, chart, users, "airflow"
    )


def found_in(*paths: Path) -> list[Found]:
    return [of(w) for w in find_workloads(parse([(str(p), p.read_text()) for p in paths]).items)]


O15, O20, O22 = ("official", (1, 15, 0)), ("official", (1, 20, 0)), ("official", (1, 22, 0))
C88, C89 = ("community", (8, 8, 0)), ("community", (8, 9, 0))
D, S, J, CJ = "Deployment", "StatefulSet", "Job", "CronJob"
HOOKS_O15 = [
    (J, "airflow-create-user", "createUserJob", "create-user-job"),
    (J, "airflow-run-airflow-migrations", "migrateDatabaseJob", "run-airflow-migrations"),
]
AIRFLOW3 = [
    (D, "airflow-api-server", "apiServer", "api-server"),
    (D, "airflow-dag-processor", "dagProcessor", "dag-processor"),
    (D, "airflow-scheduler", "scheduler", "scheduler"),
]
COMMUNITY_K8S = [
    (D, "airflow-db-migrations", "", "db-migrations"),
    (D, "airflow-pgbouncer", "", "pgbouncer"),  # for cloudSqlProxy; no values
    (D, "airflow-scheduler", "scheduler", "scheduler"),
    (D, "airflow-sync-users", "", "sync-users"),
    (D, "airflow-triggerer", "triggerer", "triggerer"),
    (D, "airflow-web", "webserver", "web"),
]
COMMUNITY_CELERY = [
    (D, "airflow-db-migrations", "", "db-migrations"),
    (D, "airflow-flower", "flower", "flower"),
    (D, "airflow-pgbouncer", "", "pgbouncer"),  # for cloudSqlProxy; no values
    (D, "airflow-scheduler", "scheduler", "scheduler"),
    (D, "airflow-sync-users", "", "sync-users"),
    (D, "airflow-triggerer", "triggerer", "triggerer"),
    (D, "airflow-web", "webserver", "web"),
    (S, "airflow-worker", "workers", "worker"),
]
TRIGGERER, WORKER = (
    (S, "airflow-triggerer", "triggerer", "triggerer"),
    (S, "airflow-worker", "workers", "worker"),
)

RENDERS = [
    pytest.param(
        ("official-1.15.0/01-default.yaml", "official-1.15.0/01-default.hooks.yaml"),
        pods(
            O15,
            (D, "airflow-scheduler", "scheduler", "scheduler"),
            (D, "airflow-webserver", "webserver", "webserver"),
            TRIGGERER,
            WORKER,
            *HOOKS_O15,
        ),
        id="official-1.15-celery-with-hooks",
    ),
    pytest.param(
        ("official-1.15.0/02-kubernetes-executor.yaml",),
        [
            template(O15, "airflow-config"),
            *pods(
                O15,
                (D, "airflow-scheduler", "scheduler", "scheduler"),
                (D, "airflow-webserver", "webserver", "webserver"),
                TRIGGERER,
            ),
        ],
        id="official-1.15-kubernetes-executor-pod-template",
    ),
    pytest.param(
        ("official-1.15.0/03-celery-kubernetes-executor.yaml",),
        [
            template(O15, "airflow-config"),
            *pods(
                O15,
                (D, "airflow-scheduler", "scheduler", "scheduler"),
                (D, "airflow-webserver", "webserver", "webserver"),
                TRIGGERER,
                WORKER,
            ),
        ],
        id="official-1.15-celery-kubernetes-executor",
    ),
    pytest.param(
        ("official-1.20.0/01-default.yaml", "official-1.20.0/01-default.hooks.yaml"),
        pods(O20, *AIRFLOW3, TRIGGERER, WORKER, *HOOKS_O15),
        id="official-1.20-api-server-dag-processor",
    ),
    pytest.param(
        ("matrix:official-1.20.0-probes/07a-cronjobs-top-level.yaml",),
        [
            template(O20, "airflow-config"),
            *pods(
                O20,
                *AIRFLOW3,
                TRIGGERER,
                (CJ, "airflow-cleanup", "", "airflow-cleanup-pods"),
                (CJ, "airflow-database-cleanup", "", "database-cleanup"),
            ),
        ],
        id="official-1.20-cleanup-cronjobs",
    ),
    pytest.param(
        ("matrix:official-1.20.0/18a-worker-sets.yaml",),
        pods(
            O20,
            *AIRFLOW3,
            TRIGGERER,
            WORKER,
            (S, "airflow-worker-highmem", "workers", "worker", "highmem"),
        ),
        id="official-1.20-worker-set-beside-default",
    ),
    pytest.param(
        ("matrix:official-1.20.0-probes/04a-sets-no-default-own-lists.yaml",),
        [
            template(O20, "airflow-config"),
            *pods(
                O20,
                *AIRFLOW3,
                TRIGGERER,
                (S, "airflow-worker-small", "workers", "worker", "small"),
                (S, "airflow-worker-big", "workers", "worker", "big"),
            ),
        ],
        id="official-1.20-worker-sets-no-default",
    ),
    pytest.param(
        ("matrix:official-1.20.0/13a-pod-template-override.yaml",),
        [template(O20, "airflow-config", users=True), *pods(O20, *AIRFLOW3, TRIGGERER)],
        id="official-1.20-users-pod-template",
    ),
    pytest.param(
        (
            "matrix:official-1.20.0-probes/05a-standard-naming-templated-fullname.yaml",
            "matrix:official-1.20.0-probes/05a-standard-naming-templated-fullname.hooks.yaml",
        ),
        pods(
            O20,
            (D, "af-api-server", "apiServer", "api-server"),
            (D, "af-dag-processor", "dagProcessor", "dag-processor"),
            (D, "af-scheduler", "scheduler", "scheduler"),
            (S, "af-triggerer", "triggerer", "triggerer"),
            (S, "af-worker", "workers", "worker"),
            (J, "af-create-user", "createUserJob", "create-user-job"),
            (J, "af-run-airflow-migrations", "migrateDatabaseJob", "run-airflow-migrations"),
        ),
        id="official-1.20-fullname-override-by-labels",
    ),
    pytest.param(
        ("matrix:official-1.22.0/02a-kubernetes-executor.yaml",),
        [template(O22, "airflow-config"), *pods(O22, *AIRFLOW3, TRIGGERER)],
        id="official-1.22-kubernetes-executor",
    ),
    pytest.param(
        ("community-8.9.0/01-default.yaml",),
        pods(C89, *COMMUNITY_CELERY),
        id="community-8.9-celery",
    ),
    pytest.param(
        ("matrix:community-8.8.0/01a-celery-default.yaml",),
        pods(C88, *COMMUNITY_CELERY),
        id="community-8.8-celery",
    ),
    pytest.param(
        ("matrix:community-8.9.0/02a-kubernetes-executor.yaml",),
        [template(C89, "airflow-pod-template"), *pods(C89, *COMMUNITY_K8S)],
        id="community-8.9-kubernetes-executor",
    ),
    pytest.param(
        ("matrix:community-8.9.0-probes/02a-string-override.yaml",),
        [template(C89, "airflow-pod-template", users=True), *pods(C89, *COMMUNITY_K8S)],
        id="community-8.9-users-pod-template",
    ),
    pytest.param(
        ("matrix:community-8.9.0-probes/03a-sync-jobs.hooks.yaml",),
        pods(
            C89,
            (J, "airflow-db-migrations", "", "db-migrations"),
            (J, "airflow-sync-connections", "", "sync-connections"),
            (J, "airflow-sync-pools", "", "sync-pools"),
            (J, "airflow-sync-users", "", "sync-users"),
            (J, "airflow-sync-variables", "", "sync-variables"),
        ),
        id="community-8.9-hook-jobs",
    ),
]


def _path(name: str) -> Path:
    return (
        matrix_root() / name.removeprefix("matrix:")
        if name.startswith("matrix:")
        else FIXTURES / name
    )


@pytest.mark.parametrize(("files", "expected"), RENDERS)
def test_workloads_of_a_render(files: tuple[str, ...], expected: list[Found]) -> None:
    assert found_in(*map(_path, files)) == expected


def _edited(kind: str, name: str, edit: Callable[[dict[str, Any]], Any]) -> str:
    """One object of the official 1.15.0 default render (or of its pod-template render),
    edited, as YAML text."""
    render = "01-default.yaml" if kind != "ConfigMap" else "02-kubernetes-executor.yaml"
    documents = yaml.safe_load_all((FIXTURES / "official-1.15.0" / render).read_text())
    document = next(
        d for d in documents if d and (d["kind"], d["metadata"]["name"]) == (kind, name)
    )
    edit(document)
    return yaml.safe_dump(document)


def _set(*path_and_value: Any) -> Callable[[dict[str, Any]], Any]:
    *path, key, value = path_and_value

    def edit(document: dict[str, Any]) -> None:
        target = document
        for step in path:
            target = target.setdefault(step, {})
        if value is None:
            del target[key]
        else:
            target[key] = value

    return edit


LOCAL = "config.kubernetes.io/local-config"
SCHEDULER = pods(O15, (D, "airflow-scheduler", "scheduler", "scheduler"))[0]
DEPLOYMENT = (D, "airflow-scheduler")
CONFIG = ("ConfigMap", "airflow-config")
EDITED = [
    pytest.param(
        DEPLOYMENT, _set("metadata", "annotations", LOCAL, "true"), [], id="local-config-skipped"
    ),
    pytest.param(
        DEPLOYMENT,
        _set("metadata", "annotations", LOCAL, "false"),
        [SCHEDULER],
        id="local-config-false-kept",
    ),
    pytest.param(DEPLOYMENT, _set("metadata", "labels", {}), [], id="no-labels-not-airflows"),
    pytest.param(DEPLOYMENT, _set("metadata", "labels", "tier", "web"), [], id="tier-not-airflow"),
    pytest.param(
        DEPLOYMENT,
        _set("metadata", "labels", "component", "statsd"),
        [],
        id="component-without-airflow-container",
    ),
    pytest.param(DEPLOYMENT, _set("kind", "Pod"), [], id="a-bare-pod-is-no-workload"),
    pytest.param(
        DEPLOYMENT,
        _set("metadata", "labels", "chart", None),
        [SCHEDULER._replace(chart=("official", None))],
        id="chart-label-gone-version-unknown",
    ),
    pytest.param(
        DEPLOYMENT,
        _set("metadata", "labels", "release", "prod"),
        [SCHEDULER._replace(release="prod")],
        id="release-from-the-label",
    ),
    pytest.param(
        DEPLOYMENT,
        _set("metadata", "name", "renamed"),
        [SCHEDULER._replace(name="renamed")],
        id="found-by-labels-not-name",
    ),
    pytest.param(
        CONFIG,
        _set("data", OFFICIAL_KEY, "{unparsed: ["),
        [template(O15, "airflow-config")],
        id="unreadable-template-is-the-charts",
    ),
    pytest.param(
        CONFIG,
        _set("data", OFFICIAL_KEY, "# only a comment\n"),
        [template(O15, "airflow-config")],
        id="empty-template-is-the-charts",
    ),
    pytest.param(
        CONFIG, _set("data", OFFICIAL_KEY, {"kind": "Pod"}), [], id="template-not-a-string"
    ),
    pytest.param(CONFIG, _set("data", OFFICIAL_KEY, 42), [], id="template-a-number"),
    pytest.param(
        CONFIG,
        _set("metadata", "labels", {"app": "airflow"}),
        [],
        id="official-key-in-community-configmap",
    ),
]


@pytest.mark.parametrize(("which", "edit", "expected"), EDITED)
def test_workloads_of_an_edited_object(
    which: tuple[str, str], edit: Callable[[dict[str, Any]], Any], expected: list[Found]
) -> None:
    text = _edited(*which, edit)
    assert [of(w) for w in find_workloads(parse([("edited.yaml", text)]).items)] == expected
