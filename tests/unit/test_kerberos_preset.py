"""The kerberos preset on real renders: what makes the renewer work where clusters are
(include_ip off behind NAT), probes that check the ticket, a first ticket before a pod that runs
tasks starts, the chart's own Kerberos left alone, and the renewer's words when a renewal fails
(its script, run by bash with a stand-in `airflow` that prints MIT kinit's real messages; the
acceptance suite runs it with Airflow and a real KDC, tests/acceptance/test_kerberos_run.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.presets.kerberos import RENEWER_SCRIPT
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject
from conftest import FIXTURES

OFFICIAL = FIXTURES / "official-1.15.0"
CELERY = OFFICIAL / "01-default.yaml"
KUBERNETES_EXECUTOR = OFFICIAL / "02-kubernetes-executor.yaml"
CACHE = "/var/kerberos-ccache/cache"
KERBEROS = {"principal": "airflow@EXAMPLE.COM", "keytabSecret": "airflow-keytab"}


def _inject(render: str, params: dict[str, Any], **spec: Any) -> Outcome:
    config = {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": "kerberos"},
        "spec": {"presets": {"kerberos": {**KERBEROS, **params}}, **spec},
    }
    source = ConfigSource("config.yaml", yaml.safe_dump(config).encode())
    return run_inject([("render.yaml", render.encode())], source)


def _pod(outcome: Outcome, kind: str, name: str) -> dict[str, Any]:
    assert outcome.exit_code == 0, [r.message for r in outcome.results]
    for document in yaml.safe_load_all(outcome.output):
        if document and document["kind"] == kind and document["metadata"]["name"] == name:
            if kind == "ConfigMap":
                template = yaml.safe_load(document["data"]["pod_template_file.yaml"])
                return dict(template["spec"])
            spec: dict[str, Any] = document["spec"]["template"]["spec"]
            return spec
    raise AssertionError(f"no {kind} {name}")


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    every: list[dict[str, Any]] = [*pod.get("initContainers", []), *pod["containers"]]
    found = [container for container in every if container["name"] == name]
    assert len(found) == 1, f"{len(found)} containers {name}"
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry.get("value") for entry in container.get("env") or []}


def _warnings(outcome: Outcome) -> list[str]:
    return [r.message for r in outcome.results if r.severity == "warning"]


# -- include_ip ---------------------------------------------------------------------------------


def test_the_renewer_binds_no_address_into_the_ticket_by_default() -> None:
    outcome = _inject(CELERY.read_text(), {})
    renewer = _container(_pod(outcome, "StatefulSet", "airflow-worker"), "kerberos-renewer")
    assert _env(renewer)["AIRFLOW__KERBEROS__INCLUDE_IP"] == "False"
    assert not any("include_ip" in w for w in _warnings(outcome))


@pytest.mark.parametrize(("given", "value"), [(True, "True"), (False, "False")])
def test_include_ip_given_is_what_the_renewer_gets(given: bool, value: str) -> None:
    outcome = _inject(CELERY.read_text(), {"includeIp": given})
    renewer = _container(_pod(outcome, "StatefulSet", "airflow-worker"), "kerberos-renewer")
    assert _env(renewer)["AIRFLOW__KERBEROS__INCLUDE_IP"] == value


def _with_include_ip(value: str) -> str:
    render = CELERY.read_text()
    assert render.count("[kerberos]\n") == 1
    return render.replace("[kerberos]\n", f"[kerberos]\n    include_ip = {value}\n")


def test_a_release_that_binds_the_ticket_keeps_it_with_a_warning() -> None:
    outcome = _inject(_with_include_ip("True"), {})
    renewer = _container(_pod(outcome, "StatefulSet", "airflow-worker"), "kerberos-renewer")
    assert "AIRFLOW__KERBEROS__INCLUDE_IP" not in _env(renewer)  # airflow.cfg's value stands
    (warning,) = [w for w in _warnings(outcome) if "include_ip" in w]
    assert "include_ip = 'True', kept" in warning
    assert "set includeIp: false" in warning


def test_a_release_that_turns_include_ip_off_is_left_to_say_so() -> None:
    outcome = _inject(_with_include_ip("False"), {})
    renewer = _container(_pod(outcome, "StatefulSet", "airflow-worker"), "kerberos-renewer")
    assert "AIRFLOW__KERBEROS__INCLUDE_IP" not in _env(renewer)
    assert not any("include_ip" in w for w in _warnings(outcome))


# -- probes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("render", "kind", "name"),
    [
        (CELERY, "StatefulSet", "airflow-worker"),
        (KUBERNETES_EXECUTOR, "ConfigMap", "airflow-config"),
    ],
)
def test_the_renewer_is_started_and_kept_alive_by_a_usable_ticket(
    render: Path, kind: str, name: str
) -> None:
    renewer = _container(_pod(_inject(render.read_text(), {}), kind, name), "kerberos-renewer")
    for probe in ("startupProbe", "livenessProbe"):
        assert renewer[probe]["exec"]["command"] == ["klist", "-s", "-c", CACHE], probe
    # The startup probe outlasts Airflow's start; the liveness probe restarts a renewer whose
    # ticket has expired within a few minutes.
    start, alive = renewer["startupProbe"], renewer["livenessProbe"]
    assert start["periodSeconds"] * start["failureThreshold"] >= 120
    assert alive["periodSeconds"] * alive["failureThreshold"] <= 300


# -- the first ticket ----------------------------------------------------------------------------


def test_a_celery_worker_gets_its_first_ticket_before_airflow_starts() -> None:
    pod = _pod(_inject(CELERY.read_text(), {}), "StatefulSet", "airflow-worker")
    init = [c["name"] for c in pod["initContainers"]]
    # after the chart's wait for the migrations (airflow kerberos records itself in the
    # database), before the worker
    assert init[-1] == "kerberos-first-ticket", init
    assert init.index("wait-for-airflow-migrations") < init.index("kerberos-first-ticket")
    first = pod["initContainers"][-1]
    renewer = _container(pod, "kerberos-renewer")
    assert first["args"][-1] == "--one-time"
    assert first["args"][:-1] == renewer["args"]
    assert first["volumeMounts"] == renewer["volumeMounts"]  # the keytab, the cache
    assert first["env"] == renewer["env"]
    assert "restartPolicy" not in first and "startupProbe" not in first


def test_a_task_pod_waits_for_the_renewer_s_probe_instead() -> None:
    pod = _pod(_inject(KUBERNETES_EXECUTOR.read_text(), {}), "ConfigMap", "airflow-config")
    names = [c["name"] for c in pod["initContainers"]]
    assert "kerberos-first-ticket" not in names
    renewer = _container(pod, "kerberos-renewer")
    assert renewer["restartPolicy"] == "Always"  # a native sidecar: the task waits for it


def _scheduler_init(executor: str) -> list[str]:
    render = CELERY.read_text()
    assert render.count("executor = CeleryExecutor\n") == 1
    render = render.replace("executor = CeleryExecutor\n", f"executor = {executor}\n")
    outcome = _inject(render, {"components": ["scheduler", "triggerer"]})
    assert "kerberos-first-ticket" not in str(_pod(outcome, "StatefulSet", "airflow-triggerer"))
    scheduler = _pod(outcome, "Deployment", "airflow-scheduler")
    return [c["name"] for c in scheduler.get("initContainers") or []]


@pytest.mark.parametrize(
    ("executor", "first_ticket"),
    [
        ("LocalExecutor", True),
        ("LocalKubernetesExecutor", True),
        ("LocalExecutor,KubernetesExecutor", True),
        ("CeleryExecutor", False),
        ("KubernetesExecutor", False),
    ],
)
def test_a_scheduler_gets_a_first_ticket_where_it_runs_tasks(
    executor: str, first_ticket: bool
) -> None:
    assert ("kerberos-first-ticket" in _scheduler_init(executor)) is first_ticket


# -- the chart's own Kerberos -------------------------------------------------------------------


def test_a_pod_with_the_chart_s_own_kerberos_init_container_is_left_alone() -> None:
    # official 1.15.0 with kerberos.enabled and workers.kerberosInitContainer.enabled: the
    # chart's kerberos-init gives the worker its ticket on the chart's cache.
    render = (OFFICIAL / "09-chart-kerberos-init.yaml").read_text()
    outcome = _inject(render, {})
    assert outcome.exit_code == 0, outcome.results
    (warning,) = [w for w in _warnings(outcome) if "chart's own Kerberos" in w]
    assert "(kerberos-init, kerberos-ccache, kerberos-keytab: kerberos.enabled)" in warning
    assert outcome.output == render.encode()  # no second ticket, no second cache


# -- the renewer's words -------------------------------------------------------------------------

# What MIT kinit 1.20 prints for the two failures of Airflow's `kinit -R` (recorded with the real
# KDC in tests/acceptance/test_kdc.py), and the line Airflow logs after either.
NOT_RENEWABLE = "kinit: Ticket expired while renewing credentials"
BAD_ADDRESS = "kinit: Incorrect net address while renewing credentials"
AIRFLOW_SAYS = "ERROR - Couldn't renew kerberos ticket in order to work around Kerberos 1.8.1"


def _run_script(tmp_path: Path, printed: str, code: int) -> subprocess.CompletedProcess[str]:
    """The renewer's command as the Airflow image runs it, with an `airflow` that prints
    `printed` (on stderr, as kinit does) and exits `code`."""
    (tmp_path / "printed").write_text(f"{printed}\n")
    (tmp_path / "airflow").write_text(f"#!/bin/sh\ncat {tmp_path}/printed >&2\nexit {code}\n")
    (tmp_path / "airflow").chmod(0o755)
    return subprocess.run(
        ["bash", "-c", RENEWER_SCRIPT, "kerberos", "airflow@EXAMPLE.COM", "--keytab", "/k"],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_ticket_that_cannot_be_renewed_is_explained(tmp_path: Path) -> None:
    done = _run_script(tmp_path, f"{NOT_RENEWABLE}\n{AIRFLOW_SAYS}", 1)
    assert done.returncode == 1  # Airflow's exit code: the container restarts
    printed, advice, airflow_says = done.stdout.splitlines()
    assert (printed, airflow_says) == (NOT_RENEWABLE, AIRFLOW_SAYS)  # passed on as they came
    assert "give airflow@EXAMPLE.COM and krbtgt/EXAMPLE.COM a renewable life" in advice
    assert "maxrenewlife" in advice


def test_a_ticket_bound_to_the_pod_s_address_behind_nat_is_explained(tmp_path: Path) -> None:
    done = _run_script(tmp_path, BAD_ADDRESS, 1)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == BAD_ADDRESS
    assert "set the kerberos preset's includeIp to false" in done.stdout


def test_a_renewer_that_works_says_only_what_airflow_says(tmp_path: Path) -> None:
    done = _run_script(tmp_path, "INFO - Renewing kerberos ticket", 0)
    assert (done.returncode, done.stdout) == (0, "INFO - Renewing kerberos ticket\n")
