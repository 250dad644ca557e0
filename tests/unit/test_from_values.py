"""`from-values`: a config from today's chart values, and the values without what it carries.

The config side is checked by every chart-oracle pair (conftest.oracle_config is from-values:
config from NNb.values.yaml, inject on NNa gives NNb). Here: the stripped values of each pair's
"after" file equal the stripped values of its "before" file (the extras are all that differs),
they keep comments and layout, and the command line does it end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.commands.valuesextras import config_spec, merged
from airflow_sidecars.commands.valuesstrip import stripped
from conftest import matrix_root, run_cli

PAIRS = sorted(
    (after.parent.name, after.name[:2], after.name[3:])
    for after in matrix_root().glob("*/[0-9][0-9]b-*.values.yaml")
    if (after.parent / f"{after.name[:2]}a{after.name[3:]}").exists()
)


@pytest.mark.parametrize(
    ("chart", "number", "rest"), PAIRS, ids=[f"{c}/{n}b{r}" for c, n, r in PAIRS]
)
def test_the_stripped_after_values_are_the_stripped_before_values(
    chart: str, number: str, rest: str
) -> None:
    folder = matrix_root() / chart
    before = (folder / f"{number}a{rest}").read_text()
    after = (folder / f"{number}b{rest}").read_text()
    stripped_after = yaml.safe_load(stripped(after, "after"))
    assert stripped_after == yaml.safe_load(stripped(before, "before"))
    assert stripped_after == _without_extras(yaml.safe_load(after))  # an independent reading
    # nothing the config carries is left behind
    spec, _ = config_spec(yaml.safe_load(stripped(after, "after")) or {})
    assert spec == {}


EXTRAS = ("extraContainers", "extraInitContainers", "extraVolumes", "extraVolumeMounts")


def _without_extras(values: Any, top: bool = True) -> Any:
    """The values with every non-empty extra* (and top-level volumes / volumeMounts) removed,
    and mappings left empty by that removed too, on plain data."""
    if isinstance(values, list):
        return [_without_extras(entry, False) for entry in values]
    if not isinstance(values, dict):
        return values
    out = {}
    for key, value in values.items():
        if value and (key in EXTRAS or (top and key in ("volumes", "volumeMounts"))):
            continue
        kept = _without_extras(value, False)
        if isinstance(value, dict) and value and kept == {}:
            continue
        out[key] = kept
    return out


def test_there_are_pairs_of_every_chart() -> None:
    assert {chart.split("-")[0] for chart, _, _ in PAIRS} == {"official", "community"}
    assert len(PAIRS) >= 100


VALUES = """\
# team values
scheduler:
  replicas: 2   # two schedulers
  extraContainers:
    - name: s3-sync
      image: amazon/aws-cli:2.17.0
webserver:
  extraVolumes:
    - name: tmp
      emptyDir: {}
workers:
  celery:
    sets:
      - name: big
        replicas: 3
        extraVolumes: [{name: scratch, emptyDir: {}}]
redis:
  extraVolumes: [{name: not-ours, emptyDir: {}}]
"""


def test_stripping_keeps_comments_and_drops_emptied_sections() -> None:
    out = stripped(VALUES, "values.yaml")
    assert out == (
        "# team values\n"
        "scheduler:\n"
        "  replicas: 2   # two schedulers\n"
        "workers:\n"
        "  celery:\n"
        "    sets:\n"
        "      - name: big\n"
        "        replicas: 3\n"
        "redis:\n"
        "  extraVolumes: [{name: not-ours, emptyDir: {}}]\n"
    )


def test_the_config_holds_them_at_the_charts_nesting() -> None:
    spec, left_out = config_spec(yaml.safe_load(VALUES))
    assert spec == {
        "scheduler": {
            "extraContainers": [{"name": "s3-sync", "image": "amazon/aws-cli:2.17.0"}],
            "allowPlainSidecars": True,
        },
        "webserver": {"extraVolumes": [{"name": "tmp", "emptyDir": {}}]},
        "workers": {
            "celery": {
                "sets": [{"name": "big", "extraVolumes": [{"name": "scratch", "emptyDir": {}}]}]
            }
        },
    }
    assert left_out == ["redis.extraVolumes"]


def test_files_merge_as_helm_merges_them() -> None:
    base = {"scheduler": {"extraContainers": [{"name": "a"}], "replicas": 1}}
    override = {"scheduler": {"extraContainers": [{"name": "b"}]}}
    assert merged([base, override]) == {
        "scheduler": {"extraContainers": [{"name": "b"}], "replicas": 1}
    }


def test_the_command_line_writes_the_config_and_the_stripped_values(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    out = tmp_path / "values.stripped.yaml"
    completed = run_cli("from-values", values, "--name", "team", "--strip", out)
    assert completed.returncode == 0, completed.stderr
    assert "redis.extraVolumes is not carried over" in completed.stderr
    config = tmp_path / "config.yaml"
    config.write_bytes(completed.stdout)
    assert yaml.safe_load(completed.stdout)["metadata"] == {"name": "team"}
    assert out.read_text() == stripped(VALUES, "values.yaml")
    # the config it wrote is one inject takes
    render = matrix_root() / "official-1.22.0" / "01a-celery-default.yaml"
    injected = run_cli("inject", "--config", config, render)
    assert injected.returncode in (0, 1), injected.stderr
    assert "[config]" not in injected.stderr


def test_a_values_file_given_as_config_points_to_from_values(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    render = matrix_root() / "official-1.22.0" / "01a-celery-default.yaml"
    completed = run_cli("inject", "--config", values, render)
    assert completed.returncode == 1
    assert "looks like a chart values file" in completed.stderr
    assert "airflow-sidecars from-values" in completed.stderr
