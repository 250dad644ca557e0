"""ResourceList input (KRM mode): whatever the wrapper holds, the output is one ResourceList
with the same items in the same order, carrying the results, also on exit 1.

Case by case: a wrapper without items, with items that are no objects, or cut short; `results`
that is no list (replaced, and said); an index annotation that is no number (index 0 in the
results); `items` or `functionConfig` twice (readers disagree on which one wins: refused, and
nothing lost); JSON with escaped C1 characters (the output is YAML that reads them back).

The generator makes ResourceLists of slices of the real renders, as YAML, JSON, compact JSON or
flow YAML, with earlier results of every shape, index annotations kyaml would not write, C1
characters, a functionConfig that is a ConfigMap or hostile YAML, a key twice, a last item
ending in a block scalar, no final newline or a BOM; every input goes through `check`
(tests/support/fuzz_invariants.py), with tests/support/fuzzing.py's budget.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from airflow_sidecars.runs.api import run_inject
from support.bad_input import RENDER, SIDECARS, _both, _errors
from support.fuzz_invariants import _may_be_edited, check
from support.fuzz_mutations import VALUE_SNIPPETS
from support.fuzzing import (
    BOM,
    CONFIG_DATA,
    CONFIG_NAMES,
    FUZZ,
    OBJECTS,
    RENDER_NAMES,
    Case,
    _dump,
    _show,
)

# A failing example makes hypothesis's pytest plugin import libcst (to suggest a patch), which
# uses a deprecated mypy_extensions class: under `filterwarnings = error` that warning would
# turn the report of a failure into an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)


# -- the wrapper, case by case ----------------------------------------------------------------


def _as_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


RESOURCE_LIST_CASES: list[tuple[str, bytes, int, str | None]] = [
    (
        "no-items",
        _as_json({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList"}),
        0,
        None,
    ),
    (
        "items-not-objects",
        _as_json(
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


# -- generated wrappers -----------------------------------------------------------------------

INDEX_VALUES = [
    "²",
    "9" * 5000,
    "-1",
    "",
    "0x10",
    "1.5",
    " 3",
    "\u0661",
    "\U0001d7d9",
    "9" * 30,
    "0",
    "007",
]
RESULTS_VALUES: list[Any] = [
    "oops",
    {"a": 1},
    None,
    [1, "x"],
    [],
    [{"message": "an earlier step", "severity": "warning"}],
    [{"message": "an earlier error", "severity": "error"}],
    [{"message": {"not": "a string"}, "severity": 5}],
]
C1_VALUES = ["\u0085", "\u0091", "a\u0085b", "\u2028", "\u009f", "x\u0091\u0092y", "\u0080"]
API_VERSIONS = [
    "config.kubernetes.io/v1",
    "config.kubernetes.io/v1beta1",
    "config.kubernetes.io/v1alpha1",
]
TAIL_ITEM = (
    "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: fuzz-tail\n"
    "  data:\n    script: {chomp}\n      echo one\n      echo two"
)


def _configured(draw: st.DrawFn, name: str, steps: list[str]) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG_DATA[name])
    if name == "fuzz" and draw(st.booleans()):
        value = draw(st.sampled_from(C1_VALUES))
        config["spec"]["scheduler"]["extraContainers"][0]["env"][0]["value"] = value
        steps.append(f"config env value {value!r}")
    if draw(st.integers(0, 5)) == 5:  # kpt's `configMap:` form
        steps.append("functionConfig as a ConfigMap")
        config = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "fuzz-fn-config"},
            "data": {"config": yaml.safe_dump(config, allow_unicode=True)},
        }
    return config


def _mark_items(draw: st.DrawFn, items: list[dict[str, Any]], steps: list[str]) -> None:
    """Index annotations kyaml would not write (on one item or on all: results about any item
    then name its file), and C1 characters in labels or annotations."""
    airflow = [n for n, item in enumerate(items) if _may_be_edited(json.dumps(item))]
    marked = draw(st.sampled_from(["none", "all", "one"]))
    if marked != "none":
        value = draw(st.sampled_from(INDEX_VALUES))
        prefix = draw(st.sampled_from(["config.kubernetes.io", "internal.config.kubernetes.io"]))
        numbers = list(range(len(items)))
        if marked == "one":
            prefer_airflow: bool = draw(st.booleans())  # an item with results about it
            pool = airflow if airflow and prefer_airflow else numbers
            numbers = [pool[draw(st.integers(0, len(pool) - 1))]]
        for number in numbers:
            annotations = items[number].setdefault("metadata", {}).setdefault("annotations", {})
            annotations[f"{prefix}/path"] = "fuzz/render.yaml"
            annotations[f"{prefix}/index"] = value
        steps.append(
            f"items{numbers if marked == 'one' else ''} {prefix}/index = {_show(value, 20)}"
        )
    if draw(st.booleans()):
        number = draw(st.integers(0, len(items) - 1))
        value = draw(st.sampled_from(C1_VALUES))
        metadata = items[number].setdefault("metadata", {})
        where = draw(st.sampled_from(["annotations", "labels"]))
        metadata.setdefault(where, {})["fuzz.dev/c1"] = value
        steps.append(f"items[{number}] {where} fuzz.dev/c1 = {value!r}")


def _duplicate_key(draw: st.DrawFn, text: str, style: str, steps: list[str]) -> str:
    """`items` or `functionConfig` a second time, before or after the first."""
    duplicate = draw(st.sampled_from(["", "", "items", "functionConfig"]))
    if not duplicate or style == "yaml-tail":
        return text
    value = "[]" if duplicate == "items" else json.dumps(CONFIG_DATA["seed-presets"])
    before = draw(st.booleans())
    steps.append(f"{duplicate} twice ({'first' if before else 'last'})")
    if style == "yaml":
        entry = f"{duplicate}: {value}\n"
        return entry + text if before else text + entry
    entry = f'"{duplicate}": {value}' if style.startswith("json") else f"{duplicate}: {value}"
    if before:
        return "{" + entry + ", " + text[1:]
    return text.rstrip()[:-1] + ", " + entry + "}"


@st.composite
def resource_lists(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from(RENDER_NAMES))
    objects = OBJECTS[name]
    start = draw(st.integers(0, len(objects) - 1))
    stop = draw(st.integers(start + 1, min(len(objects), start + 12)))
    items = copy.deepcopy(objects[start:stop])
    steps = [f"items {start}:{stop}"]
    _mark_items(draw, items, steps)
    config_name = draw(st.sampled_from(CONFIG_NAMES))
    steps.append(config_name)
    root: dict[str, Any] = {
        "apiVersion": draw(st.sampled_from(API_VERSIONS)),
        "kind": "ResourceList",
    }
    config = _configured(draw, config_name, steps)
    results = draw(st.sampled_from([-1, *range(len(RESULTS_VALUES))]))
    style = draw(st.sampled_from(["yaml", "json", "json-compact", "yaml-flow", "yaml-tail"]))
    steps.append(style)
    items_last = style == "yaml-tail" or draw(st.booleans())
    hostile_config = style == "yaml" and draw(st.integers(0, 5)) == 5
    if not items_last:
        root["items"] = items
    if not hostile_config:
        root["functionConfig"] = config
    if results >= 0:
        root["results"] = RESULTS_VALUES[results]
        steps.append(f"results: {RESULTS_VALUES[results]!r}")
    if items_last:
        root["items"] = items
    # JSON escapes C1 characters (\\u0085), PyYAML too (\\x85)
    text = _dump(root, "yaml" if style == "yaml-tail" else style)
    if style == "yaml-tail":
        chomp = draw(st.sampled_from(["|", "|-", "|+", ">"]))
        text += TAIL_ITEM.format(chomp=chomp)
        steps.append(f"last item ends in a {chomp} block scalar without a final newline")
    if hostile_config:
        snippet = draw(st.sampled_from(VALUE_SNIPPETS))
        text += f"functionConfig: {snippet}\n"
        steps.append(f"functionConfig: {_show(snippet, 60)}")
    text = _duplicate_key(draw, text, style, steps)
    if draw(st.integers(0, 3)) == 3:
        text = text.rstrip("\n")
        steps.append("no final newline")
    if draw(st.integers(0, 4)) == 4:
        text = BOM + text
        steps.append("BOM")
    return Case(name, text.encode(), None, "krm", steps)


@given(resource_lists())
@FUZZ
def test_resource_list_wrappers(case: Case) -> None:
    check(case)
