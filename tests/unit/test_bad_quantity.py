"""Resource quantities the API server refuses (`cpu: true`, `memory: lots`, `'-1'`, `5 GiB`, a
request above its limit) are refused before they reach a cluster: in the config, as `config`
errors naming the section, the container and the field, with nothing applied; in a render, by
validate's rule `bad-quantity`, for every container of every Airflow pod, the chart's too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.configuration.config import load
from airflow_sidecars.pods.quantity import resource_problems
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_validate
from conftest import FIXTURES, ROOT, TESTS, config_yaml

OFFICIAL = FIXTURES / "official-1.15.0" / "01-default.yaml"
KUBERNETES_EXECUTOR = FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml"
COMMUNITY = FIXTURES / "community-8.9.0" / "01-default.yaml"
IMAGE = "fluent/fluent-bit:3.1.9"


def _inject(render: Path, spec: dict[str, Any]) -> Outcome:
    config = ConfigSource("config.yaml", config_yaml(spec, "quantities"))
    return run_inject([("render.yaml", render.read_bytes())], config)


def _validate(render: bytes, spec: dict[str, Any] | None = None) -> Outcome:
    config = ConfigSource("config.yaml", config_yaml(spec, "q")) if spec is not None else None
    return run_validate([("render.yaml", render)], config)


def _errors(outcome: Outcome, rule: str) -> list[str]:
    """`field: message` of the results with this rule."""
    return [f"{r.field_path}: {r.message}" for r in outcome.results if r.tags.get("rule") == rule]


def _found(outcome: Outcome) -> list[tuple[str, str | None]]:
    return sorted(
        (str(r.resource), r.field_path)
        for r in outcome.results
        if r.tags.get("rule") == "bad-quantity"
    )


BAD_SPEC: dict[str, Any] = {
    "scheduler": {
        "extraContainers": [
            {
                "name": "log-shipper",
                "image": IMAGE,
                "resources": {
                    "limits": {"cpu": True, "memory": "lots"},
                    "requests": {"cpu": "-1", "memory": "5 GiB"},
                },
            },
            {
                "name": "metrics",
                "image": IMAGE,
                "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "128Mi"}},
            },
        ],
        "extraInitContainers": [
            {"name": "wait", "image": IMAGE, "resources": {"requests": {"cpu": None}}}
        ],
    },
    "presets": {"syncPerm": {"resources": {"requests": {"cpu": "1e", "memory": [1]}}}},
}
BAD_PATHS = [
    "spec.scheduler.extraContainers[0].resources.limits.cpu: 'true' is not a Kubernetes quantity",
    "spec.scheduler.extraContainers[0].resources.limits.memory: 'lots' is not a Kubernetes",
    "spec.scheduler.extraContainers[0].resources.requests.cpu: '-1' is negative",
    "spec.scheduler.extraContainers[0].resources.requests.memory: '5 GiB' is not a Kubernetes",
    "spec.scheduler.extraContainers[1].resources.requests.memory: request '128Mi' is more than "
    "the limit '64Mi'",
    "spec.scheduler.extraInitContainers[0].resources.requests.cpu: 'null' is not a Kubernetes",
    "spec.presets.syncPerm.resources.requests.cpu: '1e' is not a Kubernetes quantity",
    "spec.presets.syncPerm.resources.requests.memory: 'a list' is not a Kubernetes quantity",
]


@pytest.mark.parametrize("render", [OFFICIAL, COMMUNITY], ids=["official", "community"])
def test_a_bad_quantity_in_the_config_is_a_config_error(render: Path) -> None:
    outcome = _inject(render, BAD_SPEC)
    assert outcome.exit_code == 1
    assert outcome.output == render.read_bytes()  # nothing applied
    messages = sorted(_errors(outcome, "config"))
    assert len(messages) == len(BAD_PATHS), messages
    for message, expected in zip(messages, sorted(BAD_PATHS), strict=True):
        assert message.startswith(expected), (message, expected)
    # each names its container (the presets' sidecars are named by the path)
    assert sum("(container 'log-shipper')" in m for m in messages) == 4
    assert sum("(container 'metrics')" in m for m in messages) == 1
    assert sum("(container 'wait')" in m for m in messages) == 1


def test_validate_with_the_config_refuses_it_too() -> None:
    outcome = _validate(OFFICIAL.read_bytes(), BAD_SPEC)
    assert outcome.exit_code == 1
    assert len(_errors(outcome, "config")) == len(BAD_PATHS)


def test_good_quantities_in_every_spelling_go_in_and_validate_clean() -> None:
    resources = {
        "limits": {"cpu": 1, "memory": "1Gi", "ephemeral-storage": "1e9"},
        "requests": {"cpu": 0.5, "memory": "512Mi", "ephemeral-storage": "500M"},
    }
    spec = {
        "scheduler": {"extraContainers": [{"name": "q", "image": IMAGE, "resources": resources}]},
        "presets": {"syncPerm": {"resources": {"requests": {"cpu": "50m", "memory": 268435456}}}},
    }
    outcome = _inject(OFFICIAL, spec)
    assert outcome.exit_code == 0, [r.line() for r in outcome.results]
    checked = _validate(outcome.output, spec)
    assert _found(checked) == []
    assert checked.exit_code == 0, [r.line() for r in checked.results]


def _edit_render(path: Path) -> bytes:
    """A real render with bad quantities in chart containers: the scheduler's own container,
    its init container, and the KubernetesExecutor pod template's `base`."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for document in documents:
        name = document["metadata"]["name"]
        if document["kind"] == "Deployment" and name == "airflow-scheduler":
            pod = document["spec"]["template"]["spec"]
            pod["containers"][0]["resources"] = {"limits": {"cpu": True, "memory": "5 GiB"}}
            pod["initContainers"][0]["resources"] = {
                "limits": {"memory": "1Gi"},
                "requests": {"memory": "2Gi", "gpu": 1},
            }
        if document["kind"] == "ConfigMap" and name == "airflow-config":
            template = yaml.safe_load(document["data"]["pod_template_file.yaml"])
            template["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "-1"}}
            document["data"]["pod_template_file.yaml"] = yaml.safe_dump(template)
    return yaml.safe_dump_all(documents, sort_keys=False).encode()


def test_validate_flags_bad_quantities_in_chart_containers() -> None:
    render = _edit_render(KUBERNETES_EXECUTOR)
    outcome = _validate(render)
    assert outcome.exit_code == 1
    assert outcome.output == render  # validate never edits
    scheduler, pod = "Deployment airflow-scheduler", "spec.template.spec"
    assert _found(outcome) == sorted(
        [
            (scheduler, f"{pod}.containers[0].resources.limits.cpu"),
            (scheduler, f"{pod}.containers[0].resources.limits.memory"),
            (scheduler, f"{pod}.initContainers[0].resources.requests.memory"),
            (scheduler, f"{pod}.initContainers[0].resources.requests.gpu"),
            ("ConfigMap airflow-config", "data.pod_template_file.yaml"),
        ]
    )
    messages = _errors(outcome, "bad-quantity")
    assert (
        f"{pod}.containers[0].resources.limits.cpu: container 'scheduler': 'true' is not a "
        "Kubernetes quantity such as 500m, 0.5, 2, 128Mi, 1G or 1e3; the API server rejects "
        "the pod"
    ) in messages
    # a pod template's finding points at its data key and names the path inside
    base = "containers[0].resources.requests.cpu: container 'base': '-1' is negative"
    assert any(m.startswith(f"data.pod_template_file.yaml: {base}") for m in messages), messages
    assert all(m.endswith("the API server rejects the pod") for m in messages)
    # turned off by name
    quiet = _validate(render, {"validate": {"disable": ["bad-quantity"]}})
    assert _found(quiet) == []


@pytest.mark.parametrize(
    "render",
    sorted(p for p in FIXTURES.glob("*/*.yaml") if not p.name.endswith(".values.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_the_real_renders_have_no_bad_quantity(render: Path) -> None:
    assert _found(_validate(render.read_bytes())) == []


SHIPPED_CONFIGS = sorted(
    [*(ROOT / "pipelines" / "examples").glob("*.yaml"), *(TESTS / "golden").glob("*/config.yaml")]
)


@pytest.mark.parametrize(
    "path", SHIPPED_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)).replace("/", "-")
)
def test_the_shipped_configs_hold_good_quantities(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or data.get("kind") != "AirflowSidecars":
        pytest.skip("not a plain AirflowSidecars config (a case with its own input)")
    try:
        load(data)
    except Exception as error:  # a golden case may hold a config that is bad on purpose
        assert "quantity" not in str(error) and "negative" not in str(error)


def test_the_schema_examples_hold_good_quantities() -> None:
    schema = json.loads((ROOT / "schemas" / "airflow-sidecars.v1alpha1.json").read_text())
    found: list[Any] = []

    def walk(node: Any, key: str = "") -> None:
        if key == "resources" and isinstance(node, dict) and "type" not in node:
            found.append(node)
        if isinstance(node, dict):
            for name, value in node.items():
                if name != "volumeClaimTemplate":  # a claim's resources, not a container's
                    walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, key if key == "examples" else "")

    walk(schema)
    assert len(found) > 20
    assert [problem for node in found for problem in resource_problems(node)] == []
