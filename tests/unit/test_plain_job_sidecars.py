"""One verdict for plain sidecars in pods that must complete.

The chart adds `extraContainers` as plain containers, in Jobs and KubernetesExecutor task pods
too, where one that never exits (`sleep infinity`) keeps the pod running. `from-values` keeps
that meaning (`allowPlainSidecars: true`), and says so once per container, with the way out;
`validate` with that config reports the same findings as `validate` without it, at the same
places, the allowance noted (a warning) rather than silencing them.

On the chart-oracle matrix's real renders of such values (tests/fixtures/matrix).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from airflow_sidecars.charts.chart import must_complete
from airflow_sidecars.commands.fromvalues import from_values
from airflow_sidecars.commands.valuesextras import config_spec, config_text
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_validate
from conftest import matrix_root, run_cli

OFFICIAL = "official-1.22.0"
COMMUNITY = "community-8.9.0-probes"


def _values(folder: str, stem: str) -> Path:
    return matrix_root() / folder / f"{stem}.values.yaml"


def _warnings(folder: str, stem: str, tmp_path: Path) -> tuple[int, list[str], str]:
    said: list[str] = []
    out = tmp_path / "stripped.yaml"
    code = from_values([str(_values(folder, stem))], "team", str(out), said.append)
    lines = [line for line in "".join(said).splitlines() if "plain container" in line]
    return code, lines, "".join(said)


def test_the_values_whose_containers_go_into_pods_that_must_complete() -> None:
    # (into the pod template, the chart that does where another chart has the value too)
    assert must_complete() == {
        ("createUserJob", "extraContainers"): (False, ""),
        ("migrateDatabaseJob", "extraContainers"): (False, ""),
        # official 1.15-1.20 `workers.X`, 1.21+ `workers.kubernetes.X | default workers.X`;
        # the community chart's `workers.extraContainers` go into its Celery workers only
        ("workers", "extraContainers"): (True, "official"),
        ("workers", "kubernetes", "extraContainers"): (True, ""),
        ("airflow", "kubernetesPodTemplate", "extraContainers"): (True, ""),
    }


def test_from_values_warns_once_for_each_plain_container_in_a_job_or_task_pod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The official chart's render of `sleep infinity` in every section's extraContainers.
    code, lines, _ = _warnings(OFFICIAL, "02b-kubernetes-executor", tmp_path)
    assert code == 0  # as the chart renders it: parity, said, not refused
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["spec"]["createUserJob"]["allowPlainSidecars"] is True
    assert len(lines) == 3, lines  # not the scheduler's, triggerer's, ... (they need not exit)
    cuj, mdj, wrk = sorted(lines)
    assert cuj.startswith("from-values: warning: createUserJob.extraContainers: ")
    assert "'cuj-sidecar'" in cuj and "Job" in cuj
    assert "spec.createUserJob.nativeSidecars: true" in cuj and "make it exit" in cuj
    assert "spec.createUserJob.allowPlainSidecars: true" in cuj
    assert "'mdj-sidecar'" in mdj and "spec.migrateDatabaseJob.nativeSidecars: true" in mdj
    # from-values cannot know the executor, nor the chart: it says when it matters
    assert wrk.startswith("from-values: warning: workers.extraContainers: ")
    assert "'wrk-sidecar'" in wrk and "spec.workers.nativeSidecars: true" in wrk
    assert "if the release runs the KubernetesExecutor" in wrk and "official chart" in wrk


def test_the_command_line_says_them_on_stderr_and_exits_0() -> None:
    completed = run_cli("from-values", _values(OFFICIAL, "02b-kubernetes-executor"))
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.count("from-values: warning: ") == 3, completed.stderr
    assert b"allowPlainSidecars: true" in completed.stdout


@pytest.mark.parametrize(
    ("folder", "stem", "warned", "quiet"),
    [
        # workers.kubernetes goes into the pod template, workers.celery into Celery workers
        (OFFICIAL, "29b-workers-kubernetes-nested-extras", "k8sw-sidecar", "celw-sidecar"),
        # a worker set is a Celery worker
        (OFFICIAL, "25b-worker-set-own-extras", "wrk-sidecar", "set-sidecar"),
        # the community pod template's own values; airflow.extraContainers reach no Job or
        # task pod (community_placement)
        (COMMUNITY, "01b-pod-template-extras", "pt-sidecar", "glb-sidecar"),
    ],
)
def test_only_the_values_that_reach_pods_that_must_complete_are_warned_about(
    folder: str, stem: str, warned: str, quiet: str, tmp_path: Path
) -> None:
    code, lines, said = _warnings(folder, stem, tmp_path)
    assert code == 0
    assert [line for line in lines if f"'{warned}'" in line], said
    assert f"'{quiet}'" not in said


def test_the_community_pod_template_warning_names_the_airflow_switch(tmp_path: Path) -> None:
    _, (line,), _ = _warnings(COMMUNITY, "01b-pod-template-extras", tmp_path)
    assert line.startswith("from-values: warning: airflow.kubernetesPodTemplate.extraContainers")
    assert "spec.airflow.nativeSidecars: true" in line
    assert "official chart" not in line  # only the community chart has this value


# -- validate: the same findings, with and without the config ---------------------------------


def _render(folder: str, stem: str) -> list[tuple[str | None, bytes]]:
    root = matrix_root() / folder
    return [
        (path.name, path.read_bytes())
        for path in (root / f"{stem}.yaml", root / f"{stem}.hooks.yaml")
        if path.exists()
    ]


def _config(folder: str, stem: str) -> ConfigSource:
    spec, _ = config_spec(yaml.safe_load(_values(folder, stem).read_text()))
    return ConfigSource("sidecars.yaml", config_text(spec, "sidecars").encode())


def _plain(outcome: Outcome) -> list[Result]:
    return [r for r in outcome.results if r.tags.get("rule") == "plain-sidecar"]


def _places(results: list[Result]) -> list[tuple[str, str | None, str | None, str]]:
    """Where each finding is: the object, the field, the file, and the container it names."""
    return sorted(
        (str(r.resource), r.field_path, r.file.path if r.file else None, _container(r.message))
        for r in results
    )


def _container(message: str) -> str:
    found = re.search(r"container '([^']+)' is a plain sidecar", message)
    assert found, message
    return found[1]


@pytest.mark.parametrize(
    ("folder", "stem", "sections"),
    [
        (OFFICIAL, "02b-kubernetes-executor", {"createUserJob", "migrateDatabaseJob", "workers"}),
        (OFFICIAL, "29b-workers-kubernetes-nested-extras", {"workers"}),
        (COMMUNITY, "01b-pod-template-extras", {"airflow"}),
    ],
)
def test_validate_with_the_config_reports_what_validate_without_it_does(
    folder: str, stem: str, sections: set[str]
) -> None:
    render = _render(folder, stem)
    without = run_validate(render, None)
    found = _plain(without)
    assert found and {r.severity for r in found} == {"error"}
    assert without.exit_code == 1
    for strict in (False, True):
        with_config = run_validate(render, _config(folder, stem), strict=strict)
        allowed = _plain(with_config)
        # the same pods and containers, at the same places: one verdict
        assert _places(allowed) == _places(found)
        assert {r.severity for r in allowed} == {"warning"}
        noted = {
            section
            for section in sections
            for r in allowed
            if f"allowed by spec.{section}.allowPlainSidecars: the config says it exits on its "
            "own" in r.message
        }
        assert noted == sections, [r.message for r in allowed]
        assert all(".nativeSidecars: true" in r.message for r in allowed)
        # the allowance is the user's word: it fails no build, strict or not (with --strict
        # the config's sections this render lacks are errors: flower on the KubernetesExecutor)
        errors = [r for r in with_config.results if r.severity == "error"]
        assert {r.tags["rule"] for r in errors} <= ({"no-match"} if strict else set()), errors


def test_a_plain_container_the_config_does_not_allow_stays_an_error() -> None:
    values = yaml.safe_load(_values(OFFICIAL, "02b-kubernetes-executor").read_text())
    del values["createUserJob"]  # the config says nothing of the create-user Job
    spec, _ = config_spec(values)
    config = ConfigSource("sidecars.yaml", config_text(spec, "sidecars").encode())
    outcome = run_validate(_render(OFFICIAL, "02b-kubernetes-executor"), config)
    verdicts = {(str(r.resource), r.severity) for r in _plain(outcome)}
    assert ("Job airflow-create-user", "error") in verdicts
    assert ("Job airflow-run-airflow-migrations", "warning") in verdicts
    assert outcome.exit_code == 1
