"""Fuzzing (hypothesis) of line ends: the real renders, the configs and ResourceLists made of
them, with their lines ended by `\\r` alone (old Mac style), `\\r\\n`, a mix line by line,
`\\r` only inside block scalars (the pod template among them), and a last line without a
break. A lone `\\r` is a line break in YAML 1.1 and 1.2, so each is the same YAML as the render.

Each input goes through the invariant checker of tests/support/fuzz_invariants.py (`check`:
inject and validate, complete output, untouched documents byte for byte, idempotence), and two
more properties:
- `remove` after `inject` gives the input back byte for byte (in KRM mode: the items);
- with one line end throughout, inject's output is the output for the `\\n` render with its
  line ends: new lines end the way the document's lines do.

The budget is tests/support/fuzzing.py's (AIRFLOW_SIDECARS_FUZZ_EXAMPLES,
AIRFLOW_SIDECARS_FUZZ_SECONDS).
"""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove
from support.fuzz_invariants import _unchomped, check
from support.fuzzing import CONFIG_NAMES, CONFIGS, FUZZ, LOADER, RENDER_NAMES, RENDERS, Case

# As in the other fuzz modules: a failing example would otherwise end in an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

STYLES = ("\r", "\r\n", "mixed", "cr-in-block-scalars")
_BLOCK_HEADER = re.compile(r"[:-][ \t]+[|>][+-]?[0-9]?[+-]?[ \t]*(#.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _in_block_scalars(lines: list[str]) -> list[bool]:
    """For each line (without its break): whether it is inside a block scalar's text."""
    inside: list[bool] = []
    header: int | None = None  # the indentation of the line that opened a block scalar
    for line in lines:
        if header is not None and (not line.strip() or _indent(line) > header):
            inside.append(True)
            continue
        header = _indent(line) if _BLOCK_HEADER.search(line) else None
        inside.append(False)
    return inside


def _ended(draw: st.DrawFn, text: str, style: str) -> str:
    """`text` (lines ended by `\\n`) with its lines ended in `style`. A `\\r` is never put
    before a `\\n` that ends an empty line: together they would be one `\\r\\n` break."""
    lines = text.split("\n")
    if style in ("\r", "\r\n"):
        return style.join(lines)
    if style == "mixed":
        breaks = [draw(st.sampled_from(["\n", "\r", "\r\n"])) for _ in lines[:-1]]
    else:
        inside = _in_block_scalars(lines)
        breaks = ["\r" if inside[n] else "\n" for n in range(len(lines) - 1)]
    for number in range(len(breaks) - 1):
        if breaks[number] == "\r" and breaks[number + 1] == "\n" and not lines[number + 1]:
            breaks[number] = "\r\n"
    return "".join(line + end for line, end in zip(lines, breaks, strict=False)) + lines[-1]


def _as_resource_list(render: str, config: str) -> str:
    """The render's objects as the items of a ResourceList, each written as it was rendered
    (block scalars and comments too), indented under `items:`; the config in functionConfig."""
    items = []
    for piece in re.split(r"(?m)^---[^\n]*\n", render):
        lines = piece.rstrip("\n").split("\n")
        while lines and (not lines[0].strip() or lines[0].startswith("#")):
            lines.pop(0)
        if not lines or yaml.compose(piece, Loader=LOADER) is None:
            continue
        items.append(
            "\n".join(["- " + lines[0], *("  " + line if line else "" for line in lines[1:])])
        )
    config_lines = [f"  {line}" if line else "" for line in config.rstrip("\n").split("\n")]
    head = ["apiVersion: config.kubernetes.io/v1", "kind: ResourceList", "functionConfig:"]
    return "\n".join([*head, *config_lines, "items:", *items]) + "\n"


class Ended(Case):
    """A Case that also remembers its style and the render it was made from (in `\\n`)."""

    __slots__ = ("lf", "style")

    def __init__(self, case: Case, style: str, lf: bytes) -> None:
        super().__init__(case.origin, case.data, case.config, case.mode, case.steps)
        self.style = style
        self.lf = lf


@st.composite
def line_ended(draw: st.DrawFn) -> Ended:
    name = draw(st.sampled_from(RENDER_NAMES))
    config = draw(st.sampled_from(CONFIG_NAMES))
    mode = draw(st.sampled_from(["stream", "krm"]))
    style = draw(st.sampled_from(STYLES))
    text = RENDERS[name] if mode == "stream" else _as_resource_list(RENDERS[name], CONFIGS[config])
    steps = [f"lines ended {style!r}"]
    data = _ended(draw, text, style)
    if draw(st.booleans()):
        data, text = data.rstrip("\r\n"), text.rstrip("\n")
        steps.append("no break after the last line")
    config_data = None
    if mode == "stream":
        config_style = draw(st.sampled_from(["\n", *STYLES]))
        config_data = _ended(draw, CONFIGS[config], config_style).encode()
        steps.append(f"config lines ended {config_style!r}")
    case = Case(f"{name} + {config}", data.encode(), config_data, mode, steps)
    return Ended(case, style, text.encode())


def _items(text: str) -> str:
    root = yaml.compose(text, Loader=LOADER)
    assert isinstance(root, yaml.MappingNode)
    node = next(value for key, value in root.value if key.value == "items")
    return _unchomped(text[node.start_mark.index : node.end_mark.index]).rstrip("\r\n")


def _inject(data: bytes, case: Case) -> Outcome:
    source = None if case.config is None else ConfigSource("config.yaml", case.config)
    return run_inject([(None if case.mode == "krm" else "render.yaml", data)], source)


def _check_remove_gives_the_input_back(case: Ended, injected: Outcome) -> None:
    if injected.exit_code != 0 or injected.output == case.data:
        return
    if case.mode == "stream":
        removed = run_remove([("render.yaml", injected.output)], None)
        assert removed.exit_code == 0, [r.line() for r in removed.results]
        assert removed.output == case.data, "remove after inject is not the input"
        return
    removed = run_remove([(None, injected.output)], None)
    assert removed.exit_code == 0, [r.line() for r in removed.results]
    assert _items(removed.output.decode()) == _items(case.data.decode()), (
        "remove after inject did not give the items back"
    )


def _check_own_line_ends(case: Ended, injected: Outcome) -> None:
    if case.style not in ("\r", "\r\n"):
        return
    lf = _inject(case.lf, case)
    assert lf.exit_code == injected.exit_code
    expected = lf.output.decode().replace("\n", case.style)
    assert injected.output.decode() == expected, "new lines do not end like the document's"


@given(line_ended())
@FUZZ
def test_line_ends(case: Ended) -> None:
    injected = check(case)[0]
    _check_remove_gives_the_input_back(case, injected)
    _check_own_line_ends(case, injected)
