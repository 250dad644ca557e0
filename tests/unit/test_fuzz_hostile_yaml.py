"""Broken and hostile YAML: a clear error or the right output, never a traceback, a hang or a
lost object.

Broken YAML (an unclosed quote or flow, bad indentation, a tab, invalid UTF-8, no object at
all) is an error that says what and where, and the input comes back as it came. YAML that
nothing should read as an object (alias bombs, recursive aliases, a key twice, `!!python/...`
and custom tags, nesting thousands deep) is an error where the run must read it, with the
input given back, and passes through inert where it need not: nothing is expanded or
constructed, and each node of an alias graph is visited once. Every example runs through both
functions.

The generator puts anchors, aliases, alias bombs, tags and merge keys in every position (the
first document, an Airflow workload the config does not target, one it does, the
KubernetesExecutor pod template string, the config) of the real renders, and checks each input
with `check` (tests/support/fuzz_invariants.py); its budget is tests/support/fuzzing.py's.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_sidecars.text.yamlread import MAX_DEPTH
from conftest import FIXTURES
from support.bad_input import KUBERNETES, RENDER, SIDECARS, _both, _config, _errors, _objects, _run
from support.fuzz_invariants import _AIRFLOW_LABEL, check
from support.fuzz_mutations import (
    BOMB,
    VALUE_SNIPPETS,
    LineOp,
    _choose,
    _eol,
    _indent,
    _key_lines,
    _lines,
    _match,
    _subtree_end,
    _template_range,
)
from support.fuzzing import CONFIG_NAMES, CONFIGS, FUZZ, RENDER_NAMES, RENDERS, Case, _show

# A failing example makes hypothesis's pytest plugin import libcst (to suggest a patch), which
# uses a deprecated mypy_extensions class: under `filterwarnings = error` that warning would
# turn the report of a failure into an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

# -- broken and hostile streams, case by case -------------------------------------------------

RENDER_BYTES = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()

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
WORKLOAD_BOMB = WORKLOAD_HEAD + (
    b"          env: &a9 [&a8 [&a7 [&a6 [&a5 [&a4 [&a3 [&a2 [&a1 [x,x,x,x,x,x,x,x,x],"
    b"*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1],*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2],"
    b"*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3],*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4],"
    b"*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5],*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6],"
    b"*a7,*a7,*a7,*a7,*a7,*a7,*a7,*a7],*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8]\n"
)
PWNED = "/tmp/airflow-sidecars-hardening-pwned"
PYTHON_TAG = f"!!python/object/apply:os.system ['touch {PWNED}']".encode()


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
    # a stream without objects: a check of nothing must not pass (one error, said once)
    ("empty", b"", 1, "the input holds no objects"),
    ("only-comments", b"# nothing here\n---\n# nor here\n", 1, "the input holds no objects"),
    ("no-kind-no-name", b"apiVersion: v1\ndata: {a: b}\n", 0, None),
    ("alias-bomb-in-a-workload", WORKLOAD_BOMB, 1, "uses YAML anchors and aliases"),
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
        # validate does not mind objects it does not check (no kind), inject neither.
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
        b"data: " + PYTHON_TAG + b"\n---\n" + WORKLOAD_BOMB.replace(b"Deployment", b"ConfigMapList")
    )
    for function, outcome in _both(RENDER_BYTES + b"---\n" + config_map):
        assert outcome.exit_code == 0, (function, _errors(outcome))
        assert outcome.output.endswith(config_map), function
    assert not Path(PWNED).exists()


# -- hangs: alias graphs walked as trees ------------------------------------------------------

_RECURSIVE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  x: &a [*a]\n---\n"
_BOMB_CONFIG_MAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a0: &a0 [x, x, x, x, x]\n"
    + "".join(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    + "---\n"
)


@pytest.mark.parametrize(
    ("name", "render", "config"),
    [
        ("recursive-alias-first", _RECURSIVE + RENDER, SIDECARS),
        ("alias-bomb-first", _BOMB_CONFIG_MAP + RENDER, SIDECARS),
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


# -- anchors, aliases, tags and merge keys in every position, generated -----------------------

# The components the shipped configs add sidecars to: their workloads are "targeted".
TARGETED = ("scheduler", "worker", "webserver", "web", "api-server", "dag-processor")
BLOCK_MARKS = [" !!str", " !!map", " !!seq", " !foo", " &anchor", " !!python/object:os.system"]
SIBLINGS = [
    "? {a: 1}\n: b",
    "? [x]\n: y",
    "<<: {tier: airflow, component: worker, release: airflow}",
    "<<: [{tier: airflow}, {component: scheduler}]",
    "x-alias: *undefined",
    f"x-bomb: {BOMB}",
    "x-recursive: &r [*r]",
    "x-python: !!python/object/apply:os.system ['true']",
    "!!str x-tagged-key: v",
    "&k x-anchored-key: *k",
]


def _scalar_value(match: re.Match[str]) -> bool:
    value = match["value"] or ""
    if not value or value.startswith(("|", ">", "#")):
        return False
    opened = value.count("[") + value.count("{")
    return opened == value.count("]") + value.count("}")


def op_snippet_value(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _choose(draw, _key_lines(lines, low, high, _scalar_value))
    if index is None:
        return None
    found = _match(lines[index])
    assert found is not None
    snippet = draw(st.sampled_from(VALUE_SNIPPETS))
    lines[index] = f"{found['lead']}{found['key']}: {snippet}{_eol(lines[index])}"
    return f"line {index + 1}: {found['key']}: {_show(snippet, 60)}"


def op_block_mark(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _choose(draw, _key_lines(lines, low, high, lambda m: not m["value"]))
    if index is None:
        return None
    mark = draw(st.sampled_from(BLOCK_MARKS))
    line = lines[index]
    lines[index] = line.rstrip("\r\n").rstrip() + mark + _eol(line)
    return f"line {index + 1}: {_show(lines[index])}"


def op_sibling(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _choose(draw, _key_lines(lines, low, high, _scalar_value))
    if index is None:
        return None
    found = _match(lines[index])
    assert found is not None
    sibling = draw(st.sampled_from([*SIBLINGS, "the same key twice"]))
    if sibling == "the same key twice":
        sibling = f"{found['key']}: {found['value']}"
    pad = " " * len(found["lead"])
    eol = _eol(lines[index])
    lines[index + 1 : index + 1] = [pad + part + eol for part in sibling.split("\n")]
    return f"after line {index + 1}: {_show(sibling, 60)}"


def op_anchor_alias(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    """An anchor on one key's value and an alias of it as a later key's value (which may be
    inside the anchored value: a recursive alias)."""
    anchors = _key_lines(lines, low, high, lambda m: True)
    first = _choose(draw, anchors)
    if first is None:
        return None
    second = _choose(draw, _key_lines(lines, first + 1, high, _scalar_value))
    if second is None:
        return None
    found_1, found_2 = _match(lines[first]), _match(lines[second])
    assert found_1 is not None and found_2 is not None
    value = found_1["value"] or ""
    lines[first] = f"{found_1['lead']}{found_1['key']}: &fz {value}".rstrip() + _eol(lines[first])
    lines[second] = f"{found_2['lead']}{found_2['key']}: *fz{_eol(lines[second])}"
    return f"anchor line {first + 1} ({found_1['key']}), alias line {second + 1} ({found_2['key']})"


def op_merge_labels(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    """`labels: &base` on the object and `<<: *base` in the pod template's labels."""
    blocks = _key_lines(lines, low, high, lambda m: m["key"] == "labels" and not m["value"])
    if len(blocks) < 2:
        return op_snippet_value(draw, lines, low, high)
    first, second = blocks[0], blocks[draw(st.integers(1, len(blocks) - 1))]
    lines[first] = lines[first].rstrip("\r\n").rstrip() + " &base" + _eol(lines[first])
    below = lines[second + 1] if second + 1 < len(lines) else "  x"
    pad = " " * _indent(below)
    replace = draw(st.booleans())  # the merge key alone, or before the chart's own labels
    end = _subtree_end(lines, second) if replace else second + 1
    lines[second + 1 : end] = [f"{pad}<<: *base{_eol(lines[second])}"]
    return f"labels line {first + 1} &base, line {second + 2}: <<: *base (replacing: {replace})"


SNIPPET_OPS: dict[str, LineOp] = {
    "value": op_snippet_value,
    "block-mark": op_block_mark,
    "sibling": op_sibling,
    "anchor-alias": op_anchor_alias,
    "merge-labels": op_merge_labels,
}


def _document_ranges(lines: list[str]) -> list[tuple[int, int]]:
    starts = [0] + [n for n, line in enumerate(lines) if line.startswith("---") and n > 0]
    return list(zip(starts, [*starts[1:], len(lines)], strict=True))


_WORKLOAD_KIND = re.compile(r"(?m)^kind:\s*(Deployment|StatefulSet|Job|CronJob)\s*$")
_COMPONENT = re.compile(r"(?m)^\s+component:\s*[\"']?([\w-]+)")


def _positions(lines: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Line ranges by position: the first document, Airflow workloads the configs do not
    target, ones they do, the pod template string."""
    found: dict[str, list[tuple[int, int]]] = {"first": [], "untargeted": [], "targeted": []}
    for low, high in _document_ranges(lines):
        text = "".join(lines[low:high])
        if not found["first"] and re.search(r"(?m)^kind:", text):
            found["first"].append((low, high))
        if not (_AIRFLOW_LABEL.search(text) and _WORKLOAD_KIND.search(text)):
            continue
        component = _COMPONENT.search(text)
        targeted = component is not None and component[1] in TARGETED
        found["targeted" if targeted else "untargeted"].append((low, high))
    template = _template_range(lines)
    if template is not None:
        found["template"] = [template]
    return {key: value for key, value in found.items() if value}


@st.composite
def hostile_yaml(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from(RENDER_NAMES))
    config = draw(st.sampled_from(CONFIG_NAMES))
    render_lines, config_lines = _lines(RENDERS[name]), _lines(CONFIGS[config])
    positions = _positions(render_lines)
    where = draw(st.sampled_from([*sorted(positions), "config", "new-first-document"]))
    steps = [where]
    if where == "new-first-document":
        snippet = draw(st.sampled_from(VALUE_SNIPPETS))
        steps.append(snippet[:60])
        head = draw(st.sampled_from(["--- ", "apiVersion: v1\nkind: ConfigMap\nmetadata: "]))
        render_lines.insert(0, f"{head}{snippet}\n---\n")
    else:
        for _ in range(draw(st.integers(1, 2))):
            op = draw(st.sampled_from(sorted(SNIPPET_OPS)))
            if where == "config":
                low, high = 0, len(config_lines)
                step = SNIPPET_OPS[op](draw, config_lines, low, high)
            else:
                ranges = _positions(render_lines).get(where) or [(0, len(render_lines))]
                low, high = ranges[draw(st.integers(0, len(ranges) - 1))]
                step = SNIPPET_OPS[op](draw, render_lines, low, high)
            if step is not None:
                steps.append(f"{op}: {step}")
    return Case(
        f"{name} + {config}",
        "".join(render_lines).encode(),
        "".join(config_lines).encode(),
        "stream",
        steps,
    )


@given(hostile_yaml())
@FUZZ
def test_anchors_aliases_tags_and_merge_keys(case: Case) -> None:
    check(case)
