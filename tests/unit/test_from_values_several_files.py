"""`from-values` on several values files (`-f values.yaml -f prod.yaml`): the config is what
Helm's merge of the original files holds, and each file is stripped of its own, in its own
layout (`--strip-suffix`, `--strip-dir`), so that what the stripped files merge to is the
merged values without a value the config carries.

Where a later file replaces a list an earlier one set, Helm renders only the later one's: the
config carries that, and both files lose theirs (the earlier one's renders nowhere, with or
without it). Every pair of the chart-oracle matrix, as two files either way round, holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.commands.fromvalues import Strip, from_values
from airflow_sidecars.commands.valuesextras import config_spec, merged
from airflow_sidecars.commands.valuesstrip import stripped
from conftest import matrix_root
from support.adoption import PAIRS, without_extras

BASE = """\
# the team's values
scheduler:
  replicas: 2   # two
  extraContainers:
    - name: sync
      image: amazon/aws-cli:2.17.0
  extraVolumes: [{name: scratch, emptyDir: {}}]
workers:
  extraInitContainers:
    - name: wait
      image: busybox:1.36
"""
PROD = """\
# prod
scheduler:
  extraContainers:   # prod's sync, not the base's
    - name: sync
      image: amazon/aws-cli:2.18.0
workers:
  replicas: 5
"""


def _adopt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], texts: list[str], strip: Strip
) -> tuple[int, Any, list[Path]]:
    files = []
    for index, text in enumerate(texts):
        file = tmp_path / f"f{index}" / "values.yaml"
        file.parent.mkdir()
        file.write_text(text)
        files.append(file)
    said: list[str] = []
    code = from_values([str(file) for file in files], None, strip, said.append)
    return code, yaml.safe_load(capsys.readouterr().out or "null"), files


def test_a_later_file_replacing_a_list_wins_and_both_copies_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, config, files = _adopt(tmp_path, capsys, [BASE, PROD], Strip(suffix=".stripped"))
    assert code == 0
    helm = merged([yaml.safe_load(BASE), yaml.safe_load(PROD)])  # what Helm renders
    assert config["spec"] == config_spec(helm)[0]
    assert config["spec"]["scheduler"]["extraContainers"][0]["image"] == "amazon/aws-cli:2.18.0"
    assert config["spec"]["workers"] == {
        "extraInitContainers": [{"name": "wait", "image": "busybox:1.36"}]
    }
    out = [file.with_name("values.stripped.yaml") for file in files]
    assert out[0].read_text() == "# the team's values\nscheduler:\n  replicas: 2   # two\n"
    assert out[1].read_text() == "# prod\nworkers:\n  replicas: 5\n"
    rendered = merged([yaml.safe_load(file.read_text()) for file in out])
    assert (
        rendered
        == without_extras(helm)
        == {"scheduler": {"replicas": 2}, "workers": {"replicas": 5}}
    )


def test_strip_dir_writes_each_file_under_its_own_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, prod = tmp_path / "values.yaml", tmp_path / "envs" / "prod.yaml"
    base.write_text(BASE)
    prod.parent.mkdir()
    prod.write_text(PROD)
    folder = tmp_path / "stripped" / "new"  # made as needed
    said: list[str] = []
    assert from_values([str(base), str(prod)], None, Strip(folder=str(folder)), said.append) == 0
    assert sorted(path.name for path in folder.iterdir()) == ["prod.yaml", "values.yaml"]
    assert (folder / "values.yaml").read_text() == stripped(BASE, "values.yaml")
    assert (folder / "prod.yaml").read_text() == stripped(PROD, "prod.yaml")
    assert yaml.safe_load(capsys.readouterr().out)["metadata"]["name"] == "sidecars"


@pytest.mark.parametrize("order", ["before-after", "after-before"])
@pytest.mark.parametrize(
    ("chart", "number", "rest"), PAIRS, ids=[f"{c}/{n}{r}" for c, n, r in PAIRS]
)
def test_each_oracle_pair_as_two_files(chart: str, number: str, rest: str, order: str) -> None:
    """The pair's values with and without the extras, as two `-f` files either way round:
    the config is the merged values' (the oracle checked the "after" values' against the
    real render wherever the merge is them), and the stripped files merge to the merged
    values without the extras."""
    folder = matrix_root() / chart
    before, after = ((folder / f"{number}{ab}{rest}").read_text() for ab in "ab")
    texts = [before, after] if order == "before-after" else [after, before]
    helm = merged([yaml.safe_load(text) or {} for text in texts])
    if helm == (yaml.safe_load(after) or {}):  # all but where "before" replaces a list
        assert config_spec(helm) == config_spec(yaml.safe_load(after) or {})
    each = [yaml.safe_load(stripped(text, f"file {i}")) or {} for i, text in enumerate(texts)]
    assert merged(each) == without_extras(helm)
    assert config_spec(merged(each))[0] == {}
