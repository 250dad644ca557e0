"""The chart table (chart.py) where the oracle matrix cannot show it: chart versions and values
the shared renders lack, the user's own pod template, templated values, and the warnings that
say why a value reached nothing. Real renders throughout; a version is changed by editing the
`chart` label, which is where inject reads it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from airflow_sidecars.charts.chart import (
    CHART_VALUES,
    NATIVE_SIDECAR_SECTIONS,
    Chart,
    templated,
)
from airflow_sidecars.charts.valuenames import has_value
from airflow_sidecars.configuration.config import ConfigError, load, schema
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject
from conftest import FIXTURES, config_yaml, matrix_root

SIDECAR = {"name": "side", "image": "busybox:1.36"}


def _config(spec: dict[str, Any]) -> bytes:
    return config_yaml(spec, "chart")


def _inject(render: bytes, spec: dict[str, Any]) -> Outcome:
    return run_inject([("render.yaml", render)], ConfigSource("config.yaml", _config(spec)))


def _matrix(chart: str, name: str) -> bytes:
    return (matrix_root() / chart / f"{name}.yaml").read_bytes()


def _messages(outcome: Outcome, severity: str) -> list[str]:
    return [r.message for r in outcome.results if r.severity == severity]


def _relabel(render: bytes, version: str) -> bytes:
    """The render as another chart version would label it."""
    return re.sub(
        rb'chart: "?airflow-\d+\.\d+\.\d+"?', f"chart: airflow-{version}".encode(), render
    )


def _workload(outcome: Outcome, kind: str, name: str) -> dict[str, Any]:
    for document in yaml.safe_load_all(outcome.output):
        if document and document["kind"] == kind and document["metadata"]["name"] == name:
            found: dict[str, Any] = document
            return found
    raise AssertionError(f"no {kind} {name}")


def _pod_template(outcome: Outcome) -> dict[str, Any]:
    config_map = _workload(outcome, "ConfigMap", "airflow-config")
    found: dict[str, Any] = yaml.safe_load(config_map["data"]["pod_template_file.yaml"])
    return found


# -- chart versions ---------------------------------------------------------------------------


def test_a_chart_newer_than_the_tested_ones_is_named_in_a_warning() -> None:
    render = _relabel(_matrix("official-1.22.0", "01a-celery-default"), "1.23.0")
    outcome = _inject(render, {"scheduler": {"extraContainers": [SIDECAR]}})
    assert outcome.exit_code == 0
    warnings = _messages(outcome, "warning")
    assert len(warnings) == 1
    assert "official chart 1.23.0" in warnings[0] and "tested up to 1.22.0" in warnings[0]
    assert b"name: side" in outcome.output  # and it still does its job


def test_a_tested_chart_version_gets_no_version_warning() -> None:
    # The test above on the render as the chart wrote it: a run that stopped early (and so
    # never looked at the version) would pass an absence check, hence the job done and exit 0.
    outcome = _inject(
        _matrix("official-1.22.0", "01a-celery-default"),
        {"scheduler": {"extraContainers": [SIDECAR]}},
    )
    assert outcome.exit_code == 0
    assert _messages(outcome, "warning") == []
    assert b"name: side" in outcome.output


@pytest.mark.parametrize(
    ("chart", "render", "spec", "reason"),
    [
        (
            "official-1.18.0",
            "01a-celery-default",
            {"workers": {"celery": {"extraContainers": [SIDECAR]}}},
            "workers.celery.extraContainers is new in official chart 1.20.0",
        ),
        (
            "official-1.18.0",
            "01a-celery-default",
            {"workers": {"celery": {"sets": [{"name": "a", "extraContainers": [SIDECAR]}]}}},
            "the official chart 1.18.0 has no worker sets",
        ),
        (
            "official-1.22.0",
            "01a-celery-default",
            {"flower": {"extraInitContainers": [SIDECAR]}},
            "the official chart has no value flower.extraInitContainers",
        ),
        (
            "official-1.22.0",
            "02a-kubernetes-executor",
            {"workers": {"celery": {"extraContainers": [SIDECAR]}}},
            "no Celery worker in this render",
        ),
        (
            "official-1.22.0",
            "18a-worker-sets",
            {"workers": {"celery": {"sets": [{"name": "lowmem", "extraContainers": [SIDECAR]}]}}},
            "no worker set 'lowmem' in this render (sets found: highmem)",
        ),
        (
            "community-8.9.0",
            "01a-celery-default",
            {"dags": {"gitSync": {"extraVolumeMounts": [{"name": "v", "mountPath": "/v"}]}}},
            "the community chart has no value dags.gitSync.extraVolumeMounts",
        ),
    ],
    ids=[
        "celery-before-1.20",
        "sets-before-1.20",
        "official-flower-init",
        "no-celery",
        "no-set",
        "community-git-sync",
    ],
)
def test_a_value_the_chart_would_not_use_is_left_out_and_says_why(
    chart: str, render: str, spec: dict[str, Any], reason: str
) -> None:
    source = _matrix(chart, render)
    outcome = _inject(source, spec)
    assert outcome.output == source
    warnings = _messages(outcome, "warning")
    assert len(warnings) == 1 and reason in warnings[0], warnings
    # the only value reaches nothing: the config as a whole is an error
    (error,) = _messages(outcome, "error")
    assert "reaches no workload" in error and outcome.exit_code == 1


def test_workers_kubernetes_needs_chart_1_21() -> None:
    source = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_bytes()
    outcome = _inject(source, {"workers": {"kubernetes": {"extraContainers": [SIDECAR]}}})
    assert outcome.output == source
    assert any("new in official chart 1.21.0" in w for w in _messages(outcome, "warning"))
    # and on 1.21 it reaches the pod template only
    outcome = _inject(
        _relabel(source, "1.21.0"),
        {"workers": {"kubernetes": {"extraContainers": [SIDECAR]}, "allowPlainSidecars": True}},
    )
    assert [c["name"] for c in _pod_template(outcome)["spec"]["containers"]] == ["base", "side"]


def test_workers_own_value_replaced_everywhere_is_reported() -> None:
    spec = {
        "workers": {
            "extraContainers": [SIDECAR],
            "celery": {"extraContainers": [{**SIDECAR, "name": "celery-side"}]},
            "kubernetes": {"extraContainers": [{**SIDECAR, "name": "k8s-side"}]},
            "allowPlainSidecars": True,
        }
    }
    outcome = _inject(_matrix("official-1.22.0", "03a-celery-kubernetes-executor"), spec)
    worker = _workload(outcome, "StatefulSet", "airflow-worker")["spec"]["template"]["spec"]
    assert [c["name"] for c in worker["containers"]][-1] == "celery-side"
    assert [c["name"] for c in _pod_template(outcome)["spec"]["containers"]][-1] == "k8s-side"
    warnings = [r.message for r in outcome.results if r.tags.get("rule") == "no-match"]
    assert len(warnings) == 1
    assert warnings[0].startswith("spec.workers.extraContainers matched no workload")
    assert (
        "workers.celery.extraContainers, workers.kubernetes.extraContainers replace it"
        in warnings[0]
    )


@pytest.mark.parametrize(
    ("version", "path", "answer"),
    [
        ("8.8.0", ("webserver", "extraContainers"), "is new in community chart 8.9.0"),
        ("8.8.0", ("airflow", "extraInitContainers"), "is new in community chart 8.9.0"),
        ("8.8.0", ("airflow", "extraContainers"), None),
        ("8.8.0", ("scheduler", "extraInitContainers"), None),
        ("8.8.0", ("flower", "extraVolumeMounts"), None),
        ("8.9.0", ("flower", "extraInitContainers"), None),
    ],
)
def test_community_chart_values_per_version(
    version: str, path: tuple[str, ...], answer: str | None
) -> None:
    major, minor, patch = map(int, version.split("."))
    reason = has_value(Chart("community", (major, minor, patch)), path)
    assert (reason is None) if answer is None else (reason is not None and answer in reason)


# -- the user's own pod template ----------------------------------------------------------------


def test_the_users_pod_template_is_theirs() -> None:
    source = _matrix("official-1.22.0", "13a-pod-template-override")
    spec = {
        "workers": {"extraContainers": [SIDECAR]},
        "scheduler": {"extraContainers": [{**SIDECAR}]},
    }
    outcome = _inject(source, spec)
    assert outcome.exit_code == 0
    assert _pod_template(outcome)["metadata"]["name"] == "custom-template"
    assert [c["name"] for c in _pod_template(outcome)["spec"]["containers"]] == ["base"]
    warnings = _messages(outcome, "warning")
    assert len(warnings) == 1, warnings  # and no "matched no workload" beside it
    assert "pod template of your own" in warnings[0] and "(side)" in warnings[0]
    scheduler = _workload(outcome, "Deployment", "airflow-scheduler")["spec"]["template"]["spec"]
    assert scheduler["containers"][-1]["name"] == "side"  # the rest of the release is edited


# -- templated values ---------------------------------------------------------------------------


def _templated_spec(value: str) -> dict[str, Any]:
    return {"scheduler": {"extraContainers": [{**SIDECAR, "env": [{"name": "X", "value": value}]}]}}


def test_release_and_fullname_come_from_the_release_being_edited() -> None:
    value = '{{ .Release.Name }}/{{ include "airflow.fullname" . }}/{{- .Release.Namespace }}'
    outcome = _inject(_matrix("official-1.22.0", "20a-fullname-override"), _templated_spec(value))
    assert outcome.exit_code == 0, outcome.results
    # `fullnameOverride: af` renames the ServiceAccounts, but `airflow.fullname` (workload
    # names) is the release name unless useStandardNaming is set: the chart's own rule
    scheduler = _workload(outcome, "Deployment", "airflow-scheduler")["spec"]["template"]["spec"]
    assert scheduler["containers"][-1]["env"] == [{"name": "X", "value": "airflow/airflow/airflow"}]
    renamed = _inject(
        _rename_workloads(_matrix("official-1.22.0", "01a-celery-default")), _templated_spec(value)
    )
    scheduler = _workload(renamed, "Deployment", "af-scheduler")["spec"]["template"]["spec"]
    assert scheduler["containers"][-1]["env"] == [{"name": "X", "value": "airflow/af/airflow"}]


def _rename_workloads(render: bytes) -> bytes:
    """The render as useStandardNaming with fullnameOverride `af` names the workloads."""
    return re.sub(rb"(\n  name: )airflow-", rb"\1af-", render)


def test_an_expression_no_render_can_answer_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as raised:
        load(yaml.safe_load(_config(_templated_spec("{{ .Values.images.airflow.tag }}"))))
    [problem] = raised.value.problems
    assert problem.path == "spec.scheduler.extraContainers[0].env[0].value"
    assert "{{ .Values.images.airflow.tag }} cannot be evaluated" in problem.message


def test_a_namespace_the_render_does_not_say_is_an_error_naming_the_field() -> None:
    source = _matrix("official-1.22.0", "01a-celery-default")
    source = re.sub(rb'\n\s*namespace: "?airflow"?', b"", source)
    outcome = _inject(source, _templated_spec("{{ .Release.Namespace }}"))
    assert outcome.exit_code == 1
    [error] = _messages(outcome, "error")
    assert "spec.scheduler.extraContainers[0].env[0].value" in error
    assert "{{ .Release.Namespace }}: the render does not say" in error


def test_the_community_chart_does_not_template_and_says_so() -> None:
    assert not templated(Chart("community", (8, 9, 0)), ("scheduler", "extraContainers"))
    outcome = _inject(
        _matrix("community-8.9.0", "01a-celery-default"), _templated_spec("{{ .Release.Name }}")
    )
    assert outcome.exit_code == 0
    scheduler = _workload(outcome, "Deployment", "airflow-scheduler")["spec"]["template"]["spec"]
    assert scheduler["containers"][-1]["env"][0]["value"] == "{{ .Release.Name }}"
    assert any("does not evaluate" in w for w in _messages(outcome, "warning"))


def test_top_level_volumes_are_not_templated_by_the_official_chart() -> None:
    chart = Chart("official", (1, 22, 0))
    assert not templated(chart, ("volumes",))
    assert templated(chart, ("workers", "celery", "sets", "a", "extraVolumes"))
    assert not templated(Chart("official", (1, 18, 0)), ("apiServer", "extraInitContainers"))


# -- the schema and the chart table agree -------------------------------------------------------


def _spec_at(path: tuple[str, ...], entries: list[Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    node = spec
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = entries
    return spec


_ENTRIES: dict[str, list[Any]] = {
    "extraContainers": [SIDECAR],
    "extraInitContainers": [SIDECAR],
    "extraVolumes": [{"name": "v", "emptyDir": {}}],
    "extraVolumeMounts": [{"name": "v", "mountPath": "/v"}],
    "volumes": [{"name": "v", "emptyDir": {}}],
    "volumeMounts": [{"name": "v", "mountPath": "/v"}],
}


@pytest.mark.parametrize(
    "path",
    sorted({path for values in CHART_VALUES.values() for path in values}),
    ids=".".join,
)
def test_every_value_a_chart_has_is_a_config_value(path: tuple[str, ...]) -> None:
    loaded = load(yaml.safe_load(_config(_spec_at(path, _ENTRIES[path[-1]]))))
    assert list(loaded.values) == [path]


def test_native_sidecars_is_a_switch_of_every_section_with_containers() -> None:
    sections = schema()["properties"]["spec"]["properties"]
    with_switch = {
        name
        for name, section in sections.items()
        if "nativeSidecars" in section.get("properties", {})
    }
    assert with_switch == set(NATIVE_SIDECAR_SECTIONS)
