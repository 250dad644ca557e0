"""The chart is the oracle, on every pair of the matrix (tests/fixtures/matrix/README.md).

For each pair `NNa` / `NNb`, a config holding exactly the `extra*` values of `NNb.values.yaml`
at the chart's own nesting must make `inject(NNa)` equal `NNb`, object by object, for the
manifest and for the hooks file; and inject on its own output must change nothing. Compared as
the matrix README says: containers and init containers in order; volumes and mounts as sets
(their order means nothing to Kubernetes); `checksum/*` annotations aside (the chart hashes
its own templates, we hash the ConfigMap's data). Pod templates (a YAML string in the config
ConfigMap) are compared as parsed pods.

The config is taken from the values without the package's help (conftest.oracle_config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, run_inject, run_remove
from conftest import ROOT, matrix_root, oracle_config

POD_TEMPLATE_KEYS = ("pod_template_file.yaml", "pod_template.yaml")


def _pairs() -> list[tuple[str, str, str, str]]:
    """(chart, before, after, suffix) for every rendered stream: the manifest, and the hooks
    where the chart has Helm hooks (the community chart has none)."""
    root = matrix_root()
    found = []
    for before in sorted(root.glob("*/[0-9][0-9]a-*.yaml")):
        if before.name.endswith((".values.yaml", ".hooks.yaml")):
            continue
        number, name = before.stem.split("-", 1)
        after = f"{number[:2]}b-{name}"
        for suffix in (".yaml", ".hooks.yaml"):
            if before.with_name(before.stem + suffix).exists():
                found.append((before.parent.name, before.stem, after, suffix))
    return found


PAIRS = _pairs()


def test_the_matrix_is_all_there() -> None:
    # community 8.8.0 and 8.9.0: 10 pairs each; official 1.18.0, 1.20.0 and 1.22.0: 23, 29 and
    # 29 pairs, each with a hooks file; the probes: 4 + 5 + 7 + 7 official pairs with hooks
    # (1.15.0, 1.18.0, 1.20.0, 1.22.0), and 6 community pairs on 8.8.0 and on 8.9.0, one of
    # them with hooks (its sync Jobs)
    assert len(PAIRS) == 2 * 10 + 2 * (23 + 29 + 29) + 2 * (4 + 5 + 7 + 7) + 2 * (6 + 1)


def _normalised(node: Any) -> Any:
    if isinstance(node, list):
        return [_normalised(entry) for entry in node]
    if not isinstance(node, dict):
        return node
    normalised = {key: _normalised_value(key, value) for key, value in node.items()}
    # inject's records are its own, not the chart's: an annotations mapping that held only
    # a record (or a checksum) counts as none
    return {
        k: v
        for k, v in normalised.items()
        if not (k in ("annotations", "metadata") and v in ({}, None))
    }


def _normalised_value(key: str, value: Any) -> Any:
    if key == "annotations" and isinstance(value, dict):
        value = {
            k: v
            for k, v in value.items()
            if not k.startswith(("checksum/", "airflow-sidecars.dev/"))
        }
    elif key in POD_TEMPLATE_KEYS and isinstance(value, str):
        value = yaml.safe_load(value)
    value = _normalised(value)
    if key == "volumes" and isinstance(value, list):
        return sorted(value, key=lambda volume: volume["name"])
    if key == "volumeMounts" and isinstance(value, list):
        return sorted(value, key=lambda mount: (mount["mountPath"], mount["name"]))
    return value


def _documents(text: bytes | str) -> list[Any]:
    return [_normalised(d) for d in yaml.safe_load_all(text) if d is not None]


def _identity(document: Any) -> tuple[str, str]:
    return document["kind"], document["metadata"]["name"]


@pytest.mark.parametrize(
    ("chart", "before", "after", "suffix"), PAIRS, ids=[f"{p[0]}/{p[2]}{p[3]}" for p in PAIRS]
)
def test_inject_on_before_gives_the_charts_after(
    chart: str, before: str, after: str, suffix: str, tmp_path: Path
) -> None:
    folder = matrix_root() / chart
    source, wanted = folder / f"{before}{suffix}", folder / f"{after}{suffix}"
    config = oracle_config(folder / f"{after}.values.yaml", tmp_path / "config.yaml")

    # In-process (the command line around it is tested elsewhere): 200 runs, twice each.
    config_source = ConfigSource(str(config), config.read_bytes())
    result = run_inject([(source.name, source.read_bytes())], config_source)
    errors = [r.message for r in result.results if r.severity == "error"]
    if source.read_bytes() == wanted.read_bytes() and errors:
        # Values the chart does not use: the render is unchanged, and so is ours, but a config
        # that reaches nothing is an error (the release would deploy without it, silently).
        assert [r.tags["rule"] for r in result.results if r.severity == "error"] == ["no-match"]
        assert "reaches no workload" in errors[0]
        assert result.output == source.read_bytes()
        return
    assert result.exit_code == 0 and not errors, errors
    ours, charts = _documents(result.output), _documents(wanted.read_bytes())
    assert [_identity(d) for d in ours] == [_identity(d) for d in charts]
    different = [
        _identity(mine) for mine, theirs in zip(ours, charts, strict=True) if mine != theirs
    ]
    assert not different, f"differs from the chart: {different}\n{result.results}"

    again = run_inject([(None, result.output)], config_source)
    assert again.exit_code == 0, again.results
    assert again.output == result.output

    # Taking it all back gives the chart's render without the values, byte for byte.
    removed = run_remove([(None, result.output)], None)
    assert removed.exit_code == 0, removed.results
    assert removed.output == source.read_bytes()


def test_the_readme_counts_what_this_module_runs(tmp_path: Path) -> None:
    # The README states the matrix's size twice: in pairs and cases, and where remove is
    # checked after inject (every case but those whose values the chart ignores). It says
    # what is equal and what is compared as a set, not "exactly the chart's render".
    readme = " ".join((ROOT / "README.md").read_text().split())
    pairs = len({(chart, before) for chart, before, _, _ in PAIRS})
    unchanged = 0  # the chart ignores the values, and a config that reaches nothing is refused
    for chart, before, after, suffix in PAIRS:
        folder = matrix_root() / chart
        source = (folder / f"{before}{suffix}").read_bytes()
        if source != (folder / f"{after}{suffix}").read_bytes():
            continue
        config = oracle_config(folder / f"{after}.values.yaml", tmp_path / "config.yaml")
        result = run_inject([(None, source)], ConfigSource(str(config), config.read_bytes()))
        unchanged += result.exit_code != 0
    assert f"{pairs} pairs, whose manifests and hooks files make {len(PAIRS)} cases" in readme
    assert f"After inject in {len(PAIRS) - unchanged} of the {len(PAIRS)} chart-oracle" in readme
    assert f"in the other {unchanged} the chart ignores the values" in readme
    assert "volumes and volume mounts as sets" in readme
    assert "exactly the chart's render" not in readme
