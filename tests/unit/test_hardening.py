"""Broken and hostile input: a clear error or the right output, never a crash, nothing lost.

Every case runs through both functions. What must hold whatever the input: no traceback, no
hang, exit status 0 or 1 (1 with an error result that says what and where), and the output is
complete - in stream mode the input itself when nothing could be edited, in KRM mode a
ResourceList that carries the results.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars import yamlread as depth_guard  # the module that defines check_depth
from airflow_sidecars.api import ConfigSource, Outcome, run_inject, run_validate
from airflow_sidecars.yamlread import MAX_DEPTH, TooDeep, check_depth
from conftest import FIXTURES, ROOT, matrix_root

PRESETS = (ROOT / "pipelines" / "examples" / "seed-presets.yaml").read_bytes()
RENDER = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()

WORKLOAD_HEAD = b"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: airflow-scheduler
  labels: {tier: airflow, component: scheduler, release: airflow}
spec:
  template:
    spec:
      containers:
        - name: scheduler
          image: apache/airflow:2.9.3
"""
BOMB = WORKLOAD_HEAD + (
    b"          env: &a9 [&a8 [&a7 [&a6 [&a5 [&a4 [&a3 [&a2 [&a1 [x,x,x,x,x,x,x,x,x],"
    b"*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1],*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2],"
    b"*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3],*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4],"
    b"*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5],*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6],"
    b"*a7,*a7,*a7,*a7,*a7,*a7,*a7,*a7],*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8]\n"
)
PWNED = "/tmp/airflow-sidecars-hardening-pwned"
PYTHON_TAG = f"!!python/object/apply:os.system ['touch {PWNED}']".encode()


def _both(data: bytes) -> list[tuple[str, Outcome]]:
    return [
        ("inject", run_inject([("in.yaml", data)], ConfigSource("c.yaml", PRESETS))),
        ("validate", run_validate([("in.yaml", data)], None)),
    ]


def _errors(outcome: Outcome) -> list[str]:
    return [r.message for r in outcome.results if r.severity == "error"]


# (id, input, exit status, a part of the error message or None)
STREAM_CASES: list[tuple[str, bytes, int, str | None]] = [
    (
        "unclosed-quote",
        b'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "x\n',
        1,
        "line 5, column 1: found unexpected end of stream (while scanning a quoted scalar)",
    ),
    ("bad-indentation", b"apiVersion: v1\nkind: ConfigMap\n metadata: {}\n", 1, "line 3"),
    ("tab-indentation", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n", 1, "line 4"),
    ("invalid-utf8", b"apiVersion: v1\nkind: \xff\xfe\n", 1, "not UTF-8 text (byte 21"),
    ("unclosed-flow", b"apiVersion: v1\nkind: ConfigMap\ndata: {a: [1, 2}\n", 1, "not valid YAML"),
    ("not-an-object", b"- a\n- b\n", 1, "document 0 in.yaml is not an object"),
    ("empty", b"", 0, None),
    ("only-comments", b"# nothing here\n---\n# nor here\n", 0, None),
    ("no-kind-no-name", b"apiVersion: v1\ndata: {a: b}\n", 0, None),
    ("alias-bomb-in-a-workload", BOMB, 1, "uses YAML anchors and aliases"),
    (
        "duplicate-key-in-a-workload",
        WORKLOAD_HEAD + b"      containers: []\n",
        1,
        "has the key 'containers' twice in one mapping (line 12)",
    ),
    (
        "python-tag-in-a-workload",
        WORKLOAD_HEAD + b"          env: " + PYTHON_TAG + b"\n",
        1,
        "uses the tag 'tag:yaml.org,2002:python/object/apply:os.system' (line 12)",
    ),
    (
        "custom-tag-in-a-workload",
        WORKLOAD_HEAD + b"          args: !secret [a]\n",
        1,
        "uses the tag '!secret'",
    ),
    # PyYAML 6.0.4's libyaml stops flow nesting at 1,000 on its own; before, it crashed.
    ("deep-flow", b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", 1, "line 1, column "),
    (
        "deep-block",
        "".join(" " * i + "k:\n" for i in range(2_000)).encode(),
        1,
        f"line {MAX_DEPTH + 1}, column {MAX_DEPTH + 1}: nested deeper",
    ),
]


@pytest.mark.parametrize(
    ("data", "exit_code", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in STREAM_CASES],
)
def test_stream_input(data: bytes, exit_code: int, message: str | None) -> None:
    for function, outcome in _both(data):
        errors = _errors(outcome)
        # validate does not mind what it does not check (an empty render), inject neither.
        assert outcome.exit_code == exit_code, (function, errors)
        if message is not None:
            assert any(message in error for error in errors), (function, errors)
        if exit_code == 1:
            assert outcome.output == data, function  # given back as it came
    assert not Path(PWNED).exists()


def test_hostile_yaml_outside_airflow_workloads_passes_through_inert() -> None:
    # Not ours to judge: a ConfigMap with an alias bomb and a python tag comes back as it came,
    # and nothing in it is expanded or constructed.
    config_map = (
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: odd}\n"
        b"data: " + PYTHON_TAG + b"\n---\n" + BOMB.replace(b"Deployment", b"ConfigMapList")
    )
    for function, outcome in _both(RENDER + b"---\n" + config_map):
        assert outcome.exit_code == 0, (function, _errors(outcome))
        assert outcome.output.endswith(config_map), function
    assert not Path(PWNED).exists()


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
@pytest.mark.parametrize("style", ["flow", "block", "compact"])
def test_the_depth_limit_is_exact(depth: int, style: str) -> None:
    # `depth` nested collections around one scalar, written three ways; one object before it,
    # so that the line numbers must count across documents.
    value: Any = "x"
    for level in range(depth):
        value = [value] if style != "block" or level % 2 else {"k": value}
    text = yaml.safe_dump({"first": 1}) + "---\n"
    if style == "compact":  # `- - - x`: every level on one line
        text += "- " * depth + "x\n"
    else:
        text += yaml.safe_dump(value, default_flow_style=style == "flow", width=10**9)
    composed = yaml.compose(text.split("---\n")[1])
    assert composed is not None and _depth_of(composed) == depth
    if depth <= MAX_DEPTH:
        check_depth(text)
        return
    with pytest.raises(TooDeep) as raised:
        check_depth(text)
    assert raised.value.problem_mark.line >= 1  # in the second document


def _depth_of(node: yaml.Node) -> int:
    if isinstance(node, yaml.ScalarNode):
        return 0
    children = [v for _, v in node.value] if isinstance(node, yaml.MappingNode) else node.value
    return 1 + max(map(_depth_of, children), default=0)


# What the depth guard costs: check_depth first tries a bound (string counts and one regex
# search over the text, at C speed); only text the bound cannot clear is walked event by event
# by libyaml's parser, which is the slow part. On real renders the bound must decide, in one try.


@pytest.fixture
def depth_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Calls of the depth guard's parts from here on: `check` (check_depth, once per text that
    is composed), `bound` (the cheap bound) and `walk` (the event walk of one document)."""
    calls: Counter[str] = Counter()
    check, bound, walk = depth_guard.check_depth, depth_guard._within_bound, depth_guard._walk_depth

    def counted_check(text: str) -> None:
        calls["check"] += 1
        check(text)

    def counted_bound(text: str, start: int, end: int) -> bool:
        calls["bound"] += 1
        return bound(text, start, end)

    def counted_walk(document: str, first_line: int) -> None:
        calls["walk"] += 1
        walk(document, first_line)

    monkeypatch.setattr(depth_guard, "check_depth", counted_check)
    monkeypatch.setattr(depth_guard, "_within_bound", counted_bound)
    monkeypatch.setattr(depth_guard, "_walk_depth", counted_walk)
    return calls


def _renders() -> list[Path]:
    """Every chart render the repository has: the fixtures and the chart-oracle matrix."""
    found = [*FIXTURES.glob("*/*.yaml"), *matrix_root().glob("*/*.yaml")]
    return sorted(path for path in found if not path.name.endswith(".values.yaml"))


def test_the_depth_bound_clears_every_real_render_in_one_try(depth_calls: Counter[str]) -> None:
    renders = _renders()
    assert len(renders) > 400
    for path in renders:
        depth_guard.check_depth(path.read_text())
    assert depth_calls == Counter(check=len(renders), bound=len(renders))  # and no walk


@pytest.mark.parametrize(
    "render",
    [
        "official-1.15.0/01-default.yaml",
        "official-1.15.0/02-kubernetes-executor.yaml",  # the pod template string, composed too
        "official-1.15.0/03-celery-kubernetes-executor.yaml",
        "official-1.20.0/01-default.yaml",
        "community-8.9.0/01-default.yaml",
    ],
)
def test_a_run_on_a_real_render_never_walks_events(render: str, depth_calls: Counter[str]) -> None:
    # Every text a run composes (the render, the config, the edited output parsed again to
    # verify it, a pod template string) is cleared by the bound alone.
    data = (FIXTURES / render).read_bytes()
    injected = run_inject([("in.yaml", data)], ConfigSource("c.yaml", PRESETS))
    assert injected.exit_code == 0, _errors(injected)
    run_validate([("in.yaml", injected.output)], ConfigSource("c.yaml", PRESETS))
    assert depth_calls["check"] >= 3, depth_calls  # at least the render, config and output
    assert depth_calls == Counter(check=depth_calls["check"], bound=depth_calls["check"])


def test_the_event_walk_runs_where_the_bound_cannot_decide(depth_calls: Counter[str]) -> None:
    # The counterpart of the two above: 199 brackets leave the bound no room, so the one
    # document is walked (and passes: 199 levels are allowed). The counts above can fail.
    depth_guard.check_depth("[" * 199 + "]" * 199 + "\n")
    assert depth_calls == Counter(check=1, bound=2, walk=1)  # the text, then its one document


# -- ResourceLists ----------------------------------------------------------------------------


def _resource_list(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


RESOURCE_LIST_CASES: list[tuple[str, bytes, int, str | None]] = [
    (
        "no-items",
        _resource_list({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList"}),
        0,
        None,
    ),
    (
        "items-not-objects",
        _resource_list(
            {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": ["a", 1]}
        ),
        1,
        "ResourceList.items[0] is not an object",
    ),
    (
        "truncated-json",
        b'{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": [',
        1,
        "input is not valid YAML",
    ),
]


@pytest.mark.parametrize(
    ("data", "exit_code", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in RESOURCE_LIST_CASES],
)
def test_resource_list_input(data: bytes, exit_code: int, message: str | None) -> None:
    for function, outcome in _both(data):
        assert outcome.exit_code == exit_code, (function, _errors(outcome))
        output = yaml.safe_load(outcome.output)
        assert output["kind"] == "ResourceList", function
        if message is not None:
            assert any(message in r["message"] for r in output["results"]), (function, output)


# -- config errors and conflicts --------------------------------------------------------------


def test_every_config_problem_is_reported_at_once() -> None:
    config = b"""\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata: {name: broken}
spec:
  scheduler:
    extraContainers:
      - image: busybox:1.36
      - name: ""
        image: busybox:1.36
      - name: no-image
    extraVolumes:
      - name: no-source
  workers:
    extraContainers: {name: not-a-list}
  presets:
    s3Sync: {bucket: "a;rm -rf /"}
"""
    outcome = run_inject([("in.yaml", RENDER)], ConfigSource("c.yaml", config))
    assert outcome.exit_code == 1
    assert outcome.output == RENDER
    paths = sorted(r.field_path or "" for r in outcome.results)
    assert paths == [
        "spec.presets.s3Sync.bucket",
        "spec.scheduler.extraContainers[0]",
        "spec.scheduler.extraContainers[1].name",
        "spec.scheduler.extraContainers[2]",
        "spec.scheduler.extraVolumes[0]",
        "spec.workers.extraContainers",
    ]


def _config(spec: str) -> bytes:
    head = "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\nmetadata: {name: c}\n"
    return (head + "spec:\n" + spec).encode()


CONFLICTS = [
    (
        "a-chart-container-name",
        "  scheduler:\n    extraContainers: [{name: scheduler-log-groomer, image: busybox:1.36}]\n",
        "conflicts with the container of the same name at spec.template.spec.containers[1]",
    ),
    (
        "one-volume-name-from-two-sections",
        "  volumes: [{name: shared, emptyDir: {}}]\n"
        "  scheduler:\n    extraVolumes: [{name: shared, secret: {secretName: s}}]\n",
        # in the chart's order: the top-level volumes come first
        "volume 'shared' from spec.scheduler.extraVolumes[0] is also added, differently, by "
        "spec.volumes[0]",
    ),
    (
        "a-preset-and-a-section-with-one-container-name",
        "  scheduler:\n    extraContainers: [{name: s3-sync, image: busybox:1.36}]\n"
        "  presets:\n    s3Sync: {bucket: dags}\n",
        "container 's3-sync' from spec.presets.s3Sync is also added by "
        "spec.scheduler.extraContainers[0]",
    ),
]


@pytest.mark.parametrize(("spec", "message"), [pytest.param(*c[1:], id=c[0]) for c in CONFLICTS])
def test_conflicts_name_both_places(spec: str, message: str) -> None:
    outcome = run_inject([("in.yaml", RENDER)], ConfigSource("c.yaml", _config(spec)))
    assert outcome.exit_code == 1
    assert any(message in error for error in _errors(outcome)), _errors(outcome)


@pytest.mark.parametrize(
    "prefix",
    ["dags; touch /tmp/x", "$(id)", "`id`", 'a"b', "a'b", "two\nlines", "${HOME}", "a\\b"],
)
def test_hostile_preset_values_stay_values(prefix: str) -> None:
    spec = "  presets:\n    s3Sync:\n      bucket: dags\n      prefix: " + json.dumps(prefix) + "\n"
    outcome = run_inject([("in.yaml", RENDER)], ConfigSource("c.yaml", _config(spec)))
    if outcome.exit_code == 1:  # the schema refused it: it names the field
        assert [r.field_path for r in outcome.results] == ["spec.presets.s3Sync.prefix"]
        return
    objects = [d for d in yaml.safe_load_all(outcome.output) if d]
    scheduler = next(
        d
        for d in objects
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "airflow-scheduler"
    )
    sidecar = scheduler["spec"]["template"]["spec"]["containers"][-1]
    assert {"name": "S3_PREFIX", "value": prefix} in sidecar["env"]
    assert all(prefix not in word for word in sidecar["command"] + sidecar["args"])
