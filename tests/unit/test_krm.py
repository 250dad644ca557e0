"""The KRM function contract (docs: krm-contract.md), case by case, through the Python API.

Each case feeds what an orchestrator sends and checks what it must get back: every item, in
order, with its annotations; the version it sent; results after earlier results; and on
failure a complete ResourceList that carries the error.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject
from conftest import FIXTURES

SCHEDULER_SIDECAR = {
    "scheduler": {"extraContainers": [{"name": "s3-sync", "image": "example/s3-sync:1.0"}]}
}


def _config(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": "test", "annotations": {"config.kubernetes.io/local-config": "true"}},
        "spec": SCHEDULER_SIDECAR if spec is None else spec,
    }


def _render_objects() -> list[dict[str, Any]]:
    text = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _resource_list(
    items: list[dict[str, Any]],
    function_config: Any = None,
    api_version: str = "config.kubernetes.io/v1",
    **extra: Any,
) -> dict[str, Any]:
    document: dict[str, Any] = {"apiVersion": api_version, "kind": "ResourceList", "items": items}
    if function_config is not None:
        document["functionConfig"] = function_config
    document.update(extra)
    return document


def _run(document: dict[str, Any], *, as_json: bool = False) -> tuple[Outcome, dict[str, Any]]:
    text = json.dumps(document) if as_json else yaml.safe_dump(document, sort_keys=False)
    outcome = run_inject([(None, text.encode())], None)
    output: dict[str, Any] = yaml.safe_load(outcome.output)
    return outcome, output


def _scheduler(items: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        i
        for i in items
        if i["kind"] == "Deployment" and i["metadata"]["name"] == "airflow-scheduler"
    )


def _containers(item: dict[str, Any]) -> list[str]:
    return [c["name"] for c in item["spec"]["template"]["spec"]["containers"]]


ORCHESTRATOR_ANNOTATIONS = {
    "internal.config.kubernetes.io/path": "airflow.yaml",
    "internal.config.kubernetes.io/index": "3",
    "config.kubernetes.io/path": "airflow.yaml",
    "config.kubernetes.io/index": "3",
    "internal.config.kubernetes.io/id": "7",
    "config.k8s.io/id": "7",
    "kustomize.config.k8s.io/id": "kind: Deployment\nname: airflow-scheduler\n",
    "internal.config.kubernetes.io/seqindent": "compact",
    "internal.config.kubernetes.io/kpt-resource-id": "0",
    "internal.config.kubernetes.io/package-path": ".",
    "internal.kpt.dev/upstream-identifier": "apps|Deployment|airflow|airflow-scheduler",
}


def test_orchestrator_annotations_survive_on_an_edited_item() -> None:
    objects = _render_objects()
    for item in objects:
        item["metadata"].setdefault("annotations", {}).update(ORCHESTRATOR_ANNOTATIONS)
    outcome, output = _run(_resource_list(objects, _config()))
    assert outcome.exit_code == 0
    scheduler = _scheduler(output["items"])
    assert _containers(scheduler)[-1] == "s3-sync"
    for item in output["items"]:
        assert ORCHESTRATOR_ANNOTATIONS.items() <= item["metadata"]["annotations"].items()


def test_every_item_comes_back_in_order_and_untouched_items_are_identical() -> None:
    objects = _render_objects()
    _, output = _run(_resource_list(objects, _config()))
    assert [(i["kind"], i["metadata"]["name"]) for i in output["items"]] == [
        (o["kind"], o["metadata"]["name"]) for o in objects
    ]
    changed = [
        i["metadata"]["name"] for i, o in zip(output["items"], objects, strict=True) if i != o
    ]
    assert changed == ["airflow-scheduler"]


@pytest.mark.parametrize(
    "api_version",
    ["config.kubernetes.io/v1", "config.kubernetes.io/v1beta1", "config.kubernetes.io/v1alpha1"],
)
def test_the_answer_uses_the_version_that_came_in(api_version: str) -> None:
    _, output = _run(_resource_list(_render_objects(), _config(), api_version))
    assert output["apiVersion"] == api_version
    assert output["kind"] == "ResourceList"


def test_json_input_gives_json_output() -> None:
    outcome, _ = _run(_resource_list(_render_objects(), _config()), as_json=True)
    parsed = json.loads(outcome.output)  # still JSON, not just YAML
    scheduler = _scheduler(parsed["items"])
    assert _containers(scheduler)[-1] == "s3-sync"


def test_results_are_appended_after_earlier_ones() -> None:
    earlier = [{"message": "from an earlier step", "severity": "warning"}]
    _, output = _run(_resource_list(_render_objects(), _config(), results=earlier))
    assert output["results"][0] == earlier[0]
    assert any("added container s3-sync" in r["message"] for r in output["results"][1:])
    added = next(r for r in output["results"] if r.get("tags", {}).get("rule") == "added")
    assert added["resourceRef"]["kind"] == "Deployment"
    assert added["field"]["path"] == "spec.template.spec"


def test_local_config_kptfile_and_bare_kustomization_are_skipped() -> None:
    scheduler = _scheduler(_render_objects())
    local = json.loads(json.dumps(scheduler))
    local["metadata"]["name"] = "local-scheduler"
    local["metadata"].setdefault("annotations", {})["config.kubernetes.io/local-config"] = "true"
    kptfile = {"apiVersion": "kpt.dev/v1", "kind": "Kptfile", "metadata": {"name": "pkg"}}
    kustomization = {"resources": ["airflow.yaml"]}
    items = [kptfile, kustomization, local, scheduler]
    outcome, output = _run(_resource_list(items, _config()))
    assert outcome.exit_code == 0
    assert output["items"][:3] == items[:3]
    assert _containers(output["items"][3])[-1] == "s3-sync"


def test_config_error_still_gives_a_complete_resource_list() -> None:
    bad = _config({"scheduler": {"extraContainers": [{"name": "s3-sync"}]}, "schedular": {}})
    objects = _render_objects()
    outcome, output = _run(_resource_list(objects, bad))
    assert outcome.exit_code == 1
    assert output["items"] == objects  # nothing lost, nothing changed
    messages = {r["field"]["path"]: r["message"] for r in output["results"]}
    assert "'image' is required" in messages["spec.scheduler.extraContainers[0]"]
    assert "schedular" in messages["spec"]
    assert all(r["severity"] == "error" for r in output["results"])
    assert output["results"][0]["resourceRef"]["kind"] == "AirflowSidecars"


def test_no_config_is_said_clearly() -> None:
    outcome, output = _run(_resource_list(_render_objects()))
    assert outcome.exit_code == 1
    assert output["results"][0]["message"].startswith("no config:")


def test_kpt_empty_function_input_counts_as_no_config() -> None:
    placeholder = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"}}
    outcome, output = _run(_resource_list(_render_objects(), placeholder))
    assert outcome.exit_code == 1
    assert output["results"][0]["message"].startswith("no config:")


def test_unreadable_resource_list_gives_a_resource_list_with_the_error() -> None:
    broken = b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- a: [\n"
    outcome = run_inject([(None, broken)], None)
    assert outcome.exit_code == 1
    output = yaml.safe_load(outcome.output)
    assert output["kind"] == "ResourceList"
    assert "line 5" in output["results"][0]["message"]


def test_a_conflicting_name_is_an_error_naming_both_and_replace_resolves_it() -> None:
    spec = {"scheduler": {"extraContainers": [{"name": "scheduler-log-groomer", "image": "x:1"}]}}
    outcome, output = _run(_resource_list(_render_objects(), _config(spec)))
    assert outcome.exit_code == 1
    error = next(r for r in output["results"] if r["severity"] == "error")
    assert "spec.scheduler.extraContainers[0]" in error["message"]
    assert "spec.template.spec.containers[1]" in error["message"]
    assert error["resourceRef"]["name"] == "airflow-scheduler"

    outcome, output = _run(
        _resource_list(_render_objects(), _config({**spec, "onConflict": "replace"}))
    )
    assert outcome.exit_code == 0
    scheduler = _scheduler(output["items"])
    groomer = scheduler["spec"]["template"]["spec"]["containers"][1]
    assert groomer == {"name": "scheduler-log-groomer", "image": "x:1"}


def test_spec_match_limits_the_releases() -> None:
    spec = {**SCHEDULER_SIDECAR, "match": {"release": "other"}}
    outcome, output = _run(_resource_list(_render_objects(), _config(spec)))
    # a match that leaves every workload out reaches nothing: an error, nothing applied
    assert outcome.exit_code == 1
    assert all("s3-sync" not in json.dumps(i) for i in output["items"])
    error = next(r for r in output["results"] if r["severity"] == "error")
    assert "spec.match leaves none of them" in error["message"]
    warning = next(r for r in output["results"] if r["severity"] == "warning")
    assert "spec.match excludes every workload of it" in warning["message"]


def test_plain_stream_with_several_files_keeps_documents_apart() -> None:
    render = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    hooks = (FIXTURES / "official-1.15.0" / "01-default.hooks.yaml").read_bytes()
    config = ConfigSource("c.yaml", yaml.safe_dump(_config()).encode())
    outcome = run_inject([("render.yaml", render), ("hooks.yaml", hooks)], config)
    assert outcome.exit_code == 0
    documents = [d for d in yaml.safe_load_all(outcome.output) if d is not None]
    assert len(documents) == 31 + 5
    assert outcome.output.startswith(render[:200])


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_left_as_it_was(enabled: bool) -> None:
    # run_inject pauses the cyclic collector for speed; a script that calls it must
    # get its own setting back, on success and on failure alike.
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        for config in (_config(), {"kind": "Nonsense"}):
            _run(_resource_list(_render_objects(), config))
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
