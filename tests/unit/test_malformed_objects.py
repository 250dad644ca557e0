"""Objects of a shape the run cannot read or edit: an error that names them (the field, the
tag, the key), nothing applied and every object still in the output; never a traceback, never
a silent change.

A pod field of another type (`initContainers: 5`, `env: true`, a container `name: [x]`, a
claim template whose metadata is no mapping), a tag that does not fit (`!!str` on a sequence,
`!!int abc`), a mapping as a key, a merge key in labels, a pod template string that is no YAML
or nests too deep; pod lists of another type where the presets look, a pod template whose
metadata or annotations (where the record goes) is no mapping; a ServiceAccount that cannot
take the IRSA annotation. `remove` reports a malformed pod instead of reading it, and reads
annotations that are no mapping as no record (what it cannot vouch for stays).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, run_inject, run_remove
from support.bad_input import (
    KUBERNETES,
    PRESETS,
    RENDER,
    SIDECARS,
    _config,
    _errors,
    _in_scheduler,
    _in_template,
    _objects,
    _run,
)

IRSA = _config(
    {"presets": {"s3Sync": {"bucket": "dags", "roleArn": "arn:aws:iam::123456789012:role/x"}}}
)


# -- wrong shapes, tags and keys: an error naming the field, the output complete --------------


@pytest.mark.parametrize(
    ("render", "message"),
    [
        (
            _in_scheduler("      initContainers:\n", "      initContainers: 5\n      x:\n"),
            "spec.template.spec.initContainers is a number (5), not a list",
        ),
        (
            _in_scheduler("          env:\n", "          env: true\n          x:\n"),
            "spec.template.spec.containers[1].env is a boolean, not a list",
        ),
        (
            _in_scheduler("        - name: scheduler\n", "        - name: [x]\n"),
            "spec.template.spec.containers[0].name is a list, not a string",
        ),
        (
            _in_template(
                "      containers:\n        - envFrom:",
                "      containers: {a: 1}\n      x:\n        - envFrom:",
            ),
            "pod_template_file.yaml#spec.containers is a mapping, not a list",
        ),
        (
            _in_template("      containers:\n        - envFrom:", "      containers:\n      - [\n"),
            "pod_template_file.yaml is not valid YAML",
        ),
        (
            _in_template("      containers:\n        - envFrom:", "      containers:\n    \t- a:"),
            "pod_template_file.yaml is not valid YAML",
        ),
        (
            _in_template(
                "      containers:\n", "      x: " + "[" * 250 + "]" * 250 + "\n      containers:\n"
            ),
            "nested deeper than 200 levels",
        ),
        (
            _in_scheduler("      initContainers:\n", "      initContainers: !!str\n"),
            "uses the tag 'tag:yaml.org,2002:str'",
        ),
        (
            _in_scheduler("      initContainers:\n", "      initContainers: !!map\n"),
            "uses the tag 'tag:yaml.org,2002:map'",
        ),
        (
            _in_scheduler("      restartPolicy: Always\n", "      restartPolicy: !!int abc\n"),
            "has 'abc' tagged !!int",
        ),
        (
            _in_scheduler("      restartPolicy: Always\n", "      restartPolicy: !!bool maybe\n"),
            "has 'maybe' tagged !!bool",
        ),
        (
            _in_scheduler("            - name: config\n", "            - name: [x]\n"),
            ".volumeMounts[0].name is a list, not a string",
        ),
        (
            _in_scheduler(
                "      restartPolicy: Always\n",
                "      restartPolicy: Always\n      ? {a: 1}\n      : b\n",
            ),
            "a mapping key that is not a string",
        ),
        (
            _in_scheduler(
                "    tier: airflow\n    component: scheduler\n",
                "    <<: {tier: airflow, component: scheduler}\n",
            ),
            "uses a YAML merge key (<<) in metadata.labels",
        ),
    ],
    ids=[
        "init-containers-a-number",
        "env-a-boolean",
        "container-name-a-list",
        "pod-template-containers-a-mapping",
        "pod-template-not-yaml",
        "pod-template-tab",
        "pod-template-too-deep",
        "str-tag-on-a-sequence",
        "map-tag-on-a-sequence",
        "int-tag-on-a-word",
        "bool-tag-on-a-word",
        "mount-name-a-list",
        "mapping-as-a-key",
        "merge-key-in-labels",
    ],
)
def test_a_malformed_workload_is_an_error_that_names_it(render: str, message: str) -> None:
    for function, outcome in _run(render):
        assert outcome.exit_code == 1, function
        assert any(message in error for error in _errors(outcome)), (function, _errors(outcome))
        assert _objects(outcome.output) == _objects(render.encode())


def test_a_checksum_refreshed_workload_with_a_python_tag_is_an_error() -> None:
    render = KUBERNETES.replace(
        "kind: Deployment\nmetadata:\n  name: airflow-scheduler",
        "kind: Deployment\nmetadata:\n  x: !!python/object/apply:os.system [true]\n"
        "  name: airflow-scheduler",
        1,
    )
    outcome = run_inject(
        [(None, render.encode())],
        ConfigSource(
            "c.yaml", _config({"workers": {"extraContainers": [{"name": "w", "image": "b"}]}})
        ),
    )
    assert outcome.exit_code == 1
    assert any("its checksum/airflow-config cannot be refreshed" in e for e in _errors(outcome))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "metadata:\n  name: airflow-scheduler\n",
            "metadata:\n  annotations: abc\n  name: airflow-scheduler\n",
            "metadata.annotations is not a mapping",
        ),
        (
            "metadata:\n  name: airflow-scheduler\n",
            "metadata:\n  annotations: &x {a: b}\n  labels2: *x\n  name: airflow-scheduler\n",
            "ServiceAccount airflow-scheduler uses YAML anchors and aliases",
        ),
    ],
    ids=["annotations-a-string", "annotations-an-alias"],
)
def test_a_service_account_that_cannot_take_the_annotation(
    old: str, new: str, message: str
) -> None:
    render = RENDER.replace(old, new, 1)
    outcome = run_inject([(None, render.encode())], ConfigSource("c.yaml", IRSA))
    assert outcome.exit_code == 1
    assert any(message in e for e in _errors(outcome)), _errors(outcome)


@pytest.mark.parametrize("shape", ["metadata: null\n      x:", "metadata: [x]\n      x:"])
def test_a_claim_template_without_a_readable_name(shape: str) -> None:
    old = (
        "  volumeClaimTemplates:\n    - apiVersion: v1\n      kind: PersistentVolumeClaim\n"
        "      metadata:"
    )
    new = old.replace("metadata:", shape)
    render = RENDER.replace(old, new, 1)
    assert render != RENDER
    for function, outcome in _run(render):
        assert outcome.exit_code in (0, 1), function
        assert _objects(outcome.output) == _objects(render.encode())


def _scheduler_template_with(text: str, path: tuple[str, ...], value: Any) -> bytes:
    """The stream with the field at `path` in the scheduler's pod template set to `value`."""
    docs = [doc for doc in yaml.safe_load_all(text) if doc]
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "airflow-scheduler":
            holder = doc["spec"]["template"]
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = value
    return yaml.safe_dump_all(docs, sort_keys=False).encode()


@pytest.mark.parametrize("field", ["containers", "initContainers", "volumes"])
@pytest.mark.parametrize("value", [1.5, True, "-1"])
def test_a_pod_list_of_another_type_with_presets_is_one_malformed_pod_error(
    field: str, value: Any
) -> None:
    # Found by fuzzing: prune asks the presets what the config declares for the
    # pod before inject checks its shape; the s3-sync and common presets then iterated a
    # number (TypeError traceback).
    data = _scheduler_template_with(RENDER, ("spec", field), value)
    outcome = run_inject([("render.yaml", data)], ConfigSource("c.yaml", PRESETS))
    assert outcome.exit_code == 1 and outcome.output == data
    errors = [r for r in outcome.results if r.severity == "error"]
    assert [r.tags["rule"] for r in errors] == ["malformed-pod"], [r.line() for r in errors]


def test_remove_reports_a_malformed_pod_instead_of_reading_it() -> None:
    injected = run_inject([("render.yaml", RENDER.encode())], ConfigSource("c.yaml", PRESETS))
    assert injected.exit_code == 0
    broken = _scheduler_template_with(injected.output.decode(), ("spec", "containers"), 1.5)
    for config in (None, ConfigSource("c.yaml", PRESETS)):
        removed = run_remove([("out.yaml", broken)], config)
        assert removed.exit_code == 1 and removed.output == broken
        rules = {r.tags["rule"] for r in removed.results if r.severity == "error"}
        assert rules == {"malformed-pod"}


@pytest.mark.parametrize("where", ["metadata", "annotations"])
@pytest.mark.parametrize("value", [[], ["x"], 5, "text"])
def test_no_mapping_where_the_record_goes_is_an_error(where: str, value: Any) -> None:
    # Found by fuzzing: a pod template's `metadata` (or its `annotations`) that is a
    # list crashed inject as it wrote its record (TypeError, list indices).
    path = ("metadata",) if where == "metadata" else ("metadata", "annotations")
    data = _scheduler_template_with(RENDER, path, value)
    outcome = run_inject([("render.yaml", data)], ConfigSource("c.yaml", SIDECARS))
    assert outcome.exit_code == 1 and outcome.output == data
    assert any(r.severity == "error" for r in outcome.results)


@pytest.mark.parametrize("value", [[], ["x"], 5])
def test_remove_reads_annotations_that_are_no_mapping_as_no_record(value: Any) -> None:
    # Found by fuzzing: a list where a pod template's annotations belong made remove
    # unpack its entries as key-value pairs (ValueError traceback).
    injected = run_inject([("render.yaml", RENDER.encode())], ConfigSource("c.yaml", SIDECARS))
    data = _scheduler_template_with(injected.output.decode(), ("metadata", "annotations"), value)
    removed = run_remove([("out.yaml", data)], None)
    assert removed.exit_code == 0
    scheduler = next(
        doc
        for doc in yaml.safe_load_all(removed.output)
        if doc and doc["metadata"]["name"] == "airflow-scheduler" and doc["kind"] == "Deployment"
    )
    assert "side" in [c["name"] for c in scheduler["spec"]["template"]["spec"]["containers"]]
