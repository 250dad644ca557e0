"""Fuzzing (hypothesis) the KubernetesExecutor pod template string: a YAML document inside a
ConfigMap value, which inject parses and edits on its own. It is made invalid YAML, tabbed,
nested too deep, hostile (alias bombs, recursive or undefined aliases, python and custom tags,
merge keys, a mapping as a key), given fields of another type, another block scalar header,
or turned into another type altogether.

Every input goes through `check` (tests/support/fuzz_invariants.py); the budget is
tests/support/fuzzing.py's; tests/fuzz_campaign.py runs this module for a while.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.fuzz_invariants import check
from support.fuzz_mutations import BOMB, LINE_OPS, _in, _indent, _lines, _template_range
from support.fuzzing import CONFIG_NAMES, CONFIGS, FUZZ, RENDER_NAMES, RENDERS, Case, _show

# A failing example makes hypothesis's pytest plugin import libcst (to suggest a patch), which
# uses a deprecated mypy_extensions class: under `filterwarnings = error` that warning would
# turn the report of a failure into an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

TEMPLATE_RENDERS = [name for name in RENDER_NAMES if "pod_template_file.yaml: |" in RENDERS[name]]


def _deep_flow(depth: int) -> str:
    return "x: " + "[" * depth + "]" * depth


def _deep_block(depth: int) -> list[str]:
    return [" " * level + "k:" for level in range(depth)]


TEMPLATE_JUNK: list[list[str]] = [
    ["kind: [unclosed"],
    ["\tkind: Pod"],
    ["spec:\t{}"],
    ["  \t- x"],
    [_deep_flow(150)],
    [_deep_flow(201)],
    [_deep_flow(1000)],
    [_deep_flow(5000)],
    ["x: " + "{a: " * 300 + "b" + "}" * 300],
    _deep_block(250),
    [f"x: {BOMB}"],
    ["x: &a [*a]"],
    ["spec: !!python/object:os.system {}"],
    ["spec: !foo {containers: []}"],
    ["metadata: !!str {name: x}"],
    ["? {a: 1}", ": b"],
    ["<<: {kind: Pod}"],
    ["metadata: *undefined"],
    ["---"],
    ["..."],
    ["%YAML 1.1"],
    ["'unclosed"],
    ['"\\uZZZZ"'],
    ["- just a list"],
    ["@"],
    ["spec: 5"],
    ["spec: {containers: 5}"],
    ["spec:", "  containers: {name: base}"],
    ["spec:", "  containers:", "  - 5"],
    ["spec:", "  containers:", "  - name: [base]"],
    ["spec:", "  volumes: x"],
    ["metadata: []"],
    ["kind: Pod", "kind: Pod"],
    ["a: \u0085b"],
    ["a: \u2028b"],
]
TEMPLATE_HEADERS = ["|", "|-", "|+", ">", "|2-", "!!binary |-", "!foo |-", "&t |-", "5", "null"]


@st.composite
def pod_templates(draw: st.DrawFn) -> Case:
    """The KubernetesExecutor pod template string made invalid YAML, tabbed, deep, hostile, or
    another type."""
    name = draw(st.sampled_from(TEMPLATE_RENDERS))
    config = draw(st.sampled_from(CONFIG_NAMES))
    lines = _lines(RENDERS[name])
    found = _template_range(lines)
    assert found is not None
    low, high = found
    column = _indent(next(line for line in lines[low:high] if line.strip()))
    action = draw(st.sampled_from(["insert", "replace-line", "replace-all", "header", "line-op"]))
    steps = [action]
    if action == "header":
        header = draw(st.sampled_from(TEMPLATE_HEADERS))
        lines[low - 1] = re.sub(r"[|>].*$", header, lines[low - 1].rstrip("\n")) + "\n"
        if header in ("5", "null"):
            del lines[low:high]
        steps.append(header)
    elif action == "line-op":
        op = draw(st.sampled_from(sorted(LINE_OPS)))
        step = LINE_OPS[op](draw, lines, low, high)
        steps.append(f"{op}: {step}")
    else:
        junk = draw(st.sampled_from(TEMPLATE_JUNK))
        inner = draw(st.sampled_from([0, 0, 2, 6]))
        new = [" " * (column + inner) + part + "\n" for part in junk]
        if action == "replace-all":
            lines[low:high] = new
        else:
            index = _in(draw, low, high)
            lines[index : index + (action == "replace-line")] = new
            steps.append(f"at line {index + 1}")
        steps.append(f"indent +{inner}: {_show(chr(10).join(junk), 80)}")
    return Case(
        f"{name} + {config}", "".join(lines).encode(), CONFIGS[config].encode(), "stream", steps
    )


@given(pod_templates())
@FUZZ
def test_pod_template_strings(case: Case) -> None:
    check(case)
