"""The nesting limit: YAML nested deeper than MAX_DEPTH levels is refused before it is
composed (deep enough nesting crashes libyaml's composer), at exactly MAX_DEPTH + 1 levels,
whether written in flow, block or compact style, with a line number that counts across
documents. And the guard costs next to nothing on real input: a cheap bound (string counts and
one regex search, at C speed) clears every real chart render in one try, and the slow event
walk runs only where the bound cannot decide.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, run_inject, run_validate
from airflow_sidecars.text import yamlread as depth_guard  # the module that defines check_depth
from airflow_sidecars.text.yamlread import MAX_DEPTH, TooDeep, check_depth
from conftest import FIXTURES, matrix_root
from support.bad_input import PRESETS, _errors


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
