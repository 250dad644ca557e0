"""Golden cases: real chart renders through the real command line, compared byte for byte.

Each folder under tests/golden/ is one case:
- `case.yaml`: `inputs` (paths under tests/fixtures, or files in the case folder), optional
  `config` (default `config.yaml` in the folder; a path such as `pipelines/examples/x.yaml`
  from the repository root; `none` for KRM input that carries its own),
  and the expected `exitCode`;
- `expected.yaml`: stdout, byte for byte; `expected.stderr`: the summary for people;
- `expected.diff`: the unified diff from the input to `expected.yaml`, which is what a reviewer
  reads: what inject did, without diffing whole renders by hand. It is checked too, so it cannot
  go stale.

Every case runs twice: the second run takes the first run's output as its input and must give
the same bytes back (idempotency, as the kpt catalog's e2e harness does with runCount 2).
Set UPDATE_GOLDEN=1 to rewrite the expectations from what the code does now (then review the
diff: that review is the test).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from conftest import FIXTURES, ROOT, TESTS, compare_or_update, run_cli

GOLDEN = TESTS / "golden"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "case.yaml").exists())


def _case(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((GOLDEN / name / "case.yaml").read_text())
    return loaded


def _inputs(name: str, case: dict[str, Any]) -> list[Path]:
    paths = []
    for entry in case["inputs"]:
        local = GOLDEN / name / entry
        paths.append(local if local.exists() else FIXTURES / entry)
    return paths


def _config_args(name: str, case: dict[str, Any]) -> list[str]:
    config = case.get("config", "config.yaml")
    if config == "none":
        return []
    # A path with a folder is from the repository root: one example config, many renders.
    return ["--config", str(ROOT / config if "/" in config else GOLDEN / name / config)]


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, tmp_path: Path) -> None:
    case = _case(name)
    config = _config_args(name, case)
    first = run_cli("inject", *config, *_inputs(name, case))
    assert first.returncode == case["exitCode"], first.stderr
    assert "Traceback" not in first.stderr
    # The diff first: when the output changed, it is the file that shows how.
    diff = _diff(_inputs(name, case), GOLDEN / name / "expected.yaml", first.stdout)
    compare_or_update(GOLDEN / name / "expected.diff", diff)
    compare_or_update(GOLDEN / name / "expected.yaml", first.stdout)
    compare_or_update(GOLDEN / name / "expected.stderr", first.stderr.encode())

    # Idempotency: the output, fed back in, comes back unchanged.
    again_input = tmp_path / "again.yaml"
    again_input.write_bytes(first.stdout)
    second = run_cli("inject", *config, again_input)
    if case.get("resourceList"):
        # KRM mode appends this run's results; compare the items, which must be unchanged.
        assert _items(second.stdout) == _items(first.stdout)
    else:
        assert second.stdout == first.stdout
        if case["exitCode"] == 0:  # (a run with errors applies nothing: the second is the first)
            assert " added " not in second.stderr
    assert second.returncode == case["exitCode"]


@pytest.mark.parametrize("name", CASES)
def test_golden_output_means_the_same_to_a_yaml_1_2_reader(name: str) -> None:
    """What we write is read alike by libyaml (YAML 1.1) and ruamel.yaml (YAML 1.2): no
    `on`/`10`/date that one of them would take for something else. (Where the chart's own text
    already reads differently, e.g. file modes like 0644, the object is left out.)"""
    case = _case(name)
    inputs = "".join(path.read_text() for path in _inputs(name, case))
    output = (GOLDEN / name / "expected.yaml").read_text()
    ruamel = YAML(typ="safe", pure=True)
    pairs = zip(_documents(inputs, ruamel), _documents(output, ruamel), strict=True)
    compared = 0
    for (before_11, before_12), (after_11, after_12) in pairs:
        if before_11 == before_12:
            assert after_11 == after_12
            compared += 1
    assert compared


def _diff(inputs: list[Path], expected: Path, output: bytes) -> bytes:
    """`diff -u` from the input (the files one after the other) to the output, headed by the
    paths of the input and of `expected` from the repository root. No dates: the same output
    gives the same bytes."""
    before = b"".join(path.read_bytes() for path in inputs)
    lines = difflib.unified_diff(
        _lines(before),
        _lines(output),
        fromfile=" ".join(str(path.relative_to(ROOT)) for path in inputs),
        tofile=str(expected.relative_to(ROOT)),
    )
    return "".join(lines).encode("utf-8", "surrogateescape")


def _lines(data: bytes) -> list[str]:
    """The lines of `data`, each with its line feed; a last line without one is marked as diff
    and patch mark it. (Only b"\\n" ends a line: str.splitlines would split on \\r, NEL, U+2028.)"""
    text = data.decode("utf-8", "surrogateescape")
    if not text:
        return []
    lines = [line + "\n" for line in text.split("\n")]
    if text.endswith("\n"):
        return lines[:-1]
    lines[-1] = lines[-1][:-1] + "\n\\ No newline at end of file\n"
    return lines


def _documents(text: str, ruamel: YAML) -> list[tuple[Any, Any]]:
    ours = [_plain(doc) for doc in yaml.safe_load_all(text) if doc is not None]
    theirs = [_plain(doc) for doc in ruamel.load_all(text) if doc is not None]
    return list(zip(ours, theirs, strict=True))


def _items(output: bytes) -> Any:
    return yaml.safe_load(output)["items"]


def _plain(value: Any) -> Any:
    """Dates aside (YAML 1.1 has timestamps, 1.2 does not), the same plain data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
