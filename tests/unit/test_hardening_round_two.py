"""Hardening, round two: one small input per failure class the fuzzing found.

Each case states the invariant that broke: a hang, a traceback with empty stdout, or (worst) a
silent change of data the run did not edit. tests/unit/test_fuzz.py searches for more of the same.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
import yaml

from airflow_sidecars.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from airflow_sidecars.yamledit import Editor
from airflow_sidecars.yamlread import compose_all
from airflow_sidecars.yamltext import detect_seq_indent
from conftest import FIXTURES, config_yaml

RENDER = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_text()
KUBERNETES = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_text()


def _config(spec: dict[str, Any]) -> bytes:
    return config_yaml(spec, "t")


SIDECARS = _config(
    {
        "scheduler": {"extraContainers": [{"name": "side", "image": "busybox:1.36"}]},
        "workers": {
            "extraContainers": [{"name": "w", "image": "busybox:1.36"}],
            "extraVolumes": [{"name": "v", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "v", "mountPath": "/v"}],
        },
    }
)
IRSA = _config(
    {"presets": {"s3Sync": {"bucket": "dags", "roleArn": "arn:aws:iam::123456789012:role/x"}}}
)


def _run(render: str, config: bytes = SIDECARS) -> list[tuple[str, Outcome]]:
    inputs: list[tuple[str | None, bytes]] = [("render.yaml", render.encode())]
    return [
        ("inject", run_inject(inputs, ConfigSource("c.yaml", config))),
        ("validate", run_validate(inputs, ConfigSource("c.yaml", config))),
    ]


def _errors(outcome: Outcome) -> list[str]:
    return [r.message for r in outcome.results if r.severity == "error"]


def _in_scheduler(old: str, new: str) -> str:
    """The render with one edit inside the scheduler Deployment."""
    start = RENDER.index("kind: Deployment\nmetadata:\n  name: airflow-scheduler")
    assert old in RENDER[start:]
    return RENDER[:start] + RENDER[start:].replace(old, new, 1)


def _in_template(old: str, new: str) -> str:
    assert old in KUBERNETES
    return KUBERNETES.replace(old, new, 1)


def _objects(output: bytes) -> int:
    return sum(1 for doc in yaml.compose_all(output) if doc is not None)


# -- hangs: alias graphs walked as trees --------------------------------------------------------

_RECURSIVE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  x: &a [*a]\n---\n"
_BOMB = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a0: &a0 [x, x, x, x, x]\n"
    + "".join(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    + "---\n"
)


@pytest.mark.parametrize(
    ("name", "render", "config"),
    [
        ("recursive-alias-first", _RECURSIVE + RENDER, SIDECARS),
        ("alias-bomb-first", _BOMB + RENDER, SIDECARS),
        (
            # an Airflow workload the config does not target, whose checksum is refreshed
            "alias-bomb-in-a-refreshed-workload",
            KUBERNETES.replace(
                "kind: Deployment\nmetadata:\n  name: airflow-scheduler",
                "kind: Deployment\nmetadata:\n  x: &b [x, x]\n  y: [*b, *b]\n"
                "  name: airflow-scheduler",
                1,
            ),
            _config({"workers": {"extraContainers": [{"name": "w", "image": "b"}]}}),
        ),
    ],
)
def test_alias_graphs_are_walked_once(name: str, render: str, config: bytes) -> None:
    started = time.monotonic()
    for function, outcome in _run(render, config):
        assert _objects(outcome.output) == _objects(render.encode()), function
    assert time.monotonic() - started < 10, name


# -- wrong shapes, tags and keys: an error naming the field, the output complete -----------------


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


# -- splices ------------------------------------------------------------------------------------


def _edit(text: str, *ops: tuple[str, tuple[str | int, ...], Any]) -> str:
    root = compose_all(text)[0]
    assert root is not None
    editor = Editor(text, seq_indent=detect_seq_indent(root, text))
    for action, path, value in ops:
        getattr(editor, action)(root, path, value)
    return editor.apply()


def test_a_replaced_block_scalar_keeps_the_next_key_on_its_line() -> None:
    text = "metadata:\n  annotations:\n    role: |-\n      old\n    other: 1\n"
    out = _edit(text, ("replace", ("metadata", "annotations", "role"), "arn"))
    assert yaml.safe_load(out) == {"metadata": {"annotations": {"role": "arn", "other": 1}}}


def test_onconflict_replace_over_a_block_scalar_annotation() -> None:
    render = RENDER.replace(
        "metadata:\n  name: airflow-scheduler\n",
        "metadata:\n  annotations:\n    eks.amazonaws.com/role-arn: |-\n      old\n"
        "  name: airflow-scheduler\n",
        1,
    )
    config = _config(
        {
            "onConflict": "replace",
            "presets": {
                "s3Sync": {"bucket": "dags", "roleArn": "arn:aws:iam::123456789012:role/x"}
            },
        }
    )
    outcome = run_inject([(None, render.encode())], ConfigSource("c.yaml", config))
    assert outcome.exit_code == 0, _errors(outcome)
    accounts = [
        d for d in yaml.safe_load_all(outcome.output) if d and d["kind"] == "ServiceAccount"
    ]
    scheduler = next(d for d in accounts if d["metadata"]["name"] == "airflow-scheduler")
    assert scheduler["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/x"
    }


def test_two_additions_to_an_empty_spec() -> None:
    out = _edit(
        "spec: {}\n",
        ("append", ("spec", "containers"), [{"name": "a"}]),
        ("append", ("spec", "volumes"), [{"name": "v"}]),
    )
    assert yaml.safe_load(out) == {
        "spec": {"containers": [{"name": "a"}], "volumes": [{"name": "v"}]}
    }


@pytest.mark.parametrize("decoration", ["!!seq", "&c"])
def test_an_append_after_a_decorated_sequence_lands_in_it(decoration: str) -> None:
    render = _in_scheduler("      containers:\n", f"      containers: {decoration}\n")
    outcome = run_inject([(None, render.encode())], ConfigSource("c.yaml", SIDECARS))
    assert outcome.exit_code == 0, _errors(outcome)
    scheduler = next(
        d
        for d in yaml.safe_load_all(outcome.output)
        if d and d["metadata"]["name"] == "airflow-scheduler" and d["kind"] == "Deployment"
    )
    assert [c["name"] for c in scheduler["spec"]["template"]["spec"]["containers"]][-1] == "side"


# -- data the run did not edit stays as it was ----------------------------------------------------

_CLIP_AT_END = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: script}\ndata:\n  run: |\n    echo hi"
)


@pytest.mark.parametrize("function", [run_inject, run_validate])
def test_a_file_ending_in_a_block_scalar_keeps_its_value(function: Any) -> None:
    inputs: list[tuple[str | None, bytes]] = [
        ("a.yaml", _CLIP_AT_END.encode()),
        ("b.yaml", RENDER.encode()),
    ]
    outcome = function(inputs, ConfigSource("c.yaml", SIDECARS))
    first = next(d for d in yaml.safe_load_all(outcome.output) if d)
    assert first["data"]["run"] == "echo hi"


def test_a_last_item_ending_in_a_block_scalar_keeps_its_value_when_results_follow() -> None:
    text = (
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n"
        + "".join("  " + line + "\n" for line in SIDECARS.decode().splitlines())
        + "items:\n"
        + "".join(
            "  " + ("- " if n == 0 else "  ") + line + "\n"
            for n, line in enumerate(_CLIP_AT_END.splitlines())
        )
    ).rstrip("\n")
    outcome = run_inject([(None, text.encode())], None)
    resource_list = yaml.safe_load(outcome.output)
    assert resource_list["items"][0]["data"]["run"] == "echo hi"
    assert resource_list["results"]


@pytest.mark.parametrize("function", [run_inject, run_validate])
def test_a_byte_order_mark_stays(function: Any) -> None:
    outcome = function(
        [(None, b"\xef\xbb\xbf" + RENDER.encode())], ConfigSource("c.yaml", SIDECARS)
    )
    assert outcome.output.startswith(b"\xef\xbb\xbf")


# -- the KRM wrapper -----------------------------------------------------------------------------


def _resource_list(**extra: Any) -> dict[str, Any]:
    items = [d for d in yaml.safe_load_all(RENDER) if d]
    return {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": yaml.safe_load(SIDECARS),
        **extra,
    }


def test_results_that_are_not_a_list_are_replaced_and_said() -> None:
    outcome = run_inject([(None, json.dumps(_resource_list(results="x")).encode())], None)
    assert outcome.exit_code == 1
    out = yaml.safe_load(outcome.output)
    assert len(out["items"]) == 31 and isinstance(out["results"], list)
    assert any("ResourceList.results is not a list" in r["message"] for r in out["results"])


@pytest.mark.parametrize("index", ["²", "9" * 5000])
def test_an_index_annotation_that_is_no_number(index: str) -> None:
    document = _resource_list()
    scheduler = next(
        i
        for i in document["items"]
        if i["kind"] == "Deployment" and i["metadata"]["name"] == "airflow-scheduler"
    )
    scheduler["metadata"]["annotations"] = {
        "config.kubernetes.io/path": "x.yaml",
        "config.kubernetes.io/index": index,
    }
    outcome = run_inject([(None, json.dumps(document).encode())], None)
    assert outcome.exit_code == 0
    assert any(r.file is not None and r.file.index == 0 for r in outcome.results)


@pytest.mark.parametrize("key", ["items", "functionConfig"])
def test_a_wrapper_key_twice_is_refused_and_nothing_lost(key: str) -> None:
    text = json.dumps(_resource_list())[:-1] + f', "{key}": {{}}}}'
    outcome = run_inject([(None, text.encode())], None)
    assert outcome.exit_code == 1
    assert any(f"has the key {key!r} twice" in e for e in _errors(outcome))
    # the input comes back with the results: what a reader took from it, it takes again
    again = yaml.safe_load(outcome.output)
    assert again["items"] == yaml.safe_load(text)["items"]
    assert again["results"]


def test_escaped_c1_characters_in_json_input_give_yaml_output() -> None:
    document = _resource_list()
    document["items"][0]["metadata"]["annotations"] = {"x": "a\u0085b\u0091c"}
    outcome = run_inject([(None, json.dumps(document).encode())], None)
    assert (
        yaml.safe_load(outcome.output)["items"][0]["metadata"]["annotations"]["x"]
        == "a\u0085b\u0091c"
    )


# -- strings the emitter writes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a\u0085b", "a\u2028c", "a\u0091b", "x\ny\n", "a\u2029\nb\n", "\x07"]
)
@pytest.mark.parametrize("render", [RENDER, KUBERNETES], ids=["workloads", "pod-template"])
def test_any_string_in_a_valid_config_reads_back(value: str, render: str) -> None:
    container = {
        "name": "s",
        "image": "b",
        "env": [{"name": "X", "value": value}],
        "args": [value, value],
    }
    config = _config(
        {
            "scheduler": {"extraContainers": [container]},
            "workers": {
                "extraContainers": [copy.deepcopy(container)],
                "allowPlainSidecars": True,  # a task pod: allowed, so it goes in
            },
        }
    )
    outcome = run_inject([(None, render.encode())], ConfigSource("c.yaml", config))
    assert outcome.exit_code == 0, _errors(outcome)
    again = run_inject([(None, outcome.output)], ConfigSource("c.yaml", config))
    assert again.output == outcome.output


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


PRESETS = (FIXTURES.parent.parent / "pipelines" / "examples" / "seed-presets.yaml").read_bytes()


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
