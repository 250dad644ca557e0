"""`from-values`: a config from today's chart values, and the values without what it carries.

The config side is checked by every chart-oracle pair (conftest.oracle_config is from-values:
config from NNb.values.yaml, inject on NNa gives NNb). Here: the stripped values of each pair's
"after" file equal the stripped values of its "before" file (the extras are all that differs),
they keep comments and layout, and the command line does it end to end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from airflow_sidecars.commands.fromvalues import How, Strip, from_values
from airflow_sidecars.commands.valuesextras import config_spec, merged
from airflow_sidecars.commands.valuesstrip import stripped
from airflow_sidecars.recording import records
from conftest import ROOT, matrix_root, run_cli
from support.adoption import PAIRS, without_extras


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
    assert stripped_after == without_extras(yaml.safe_load(after))  # an independent reading
    # nothing the config carries is left behind
    spec, _ = config_spec(yaml.safe_load(stripped(after, "after")) or {})
    assert spec == {}


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


def _adopt(
    capsys: pytest.CaptureFixture[str],
    files: list[Path | str],
    name: str | None = None,
    strip: str | Strip | None = None,
    subchart: str | None = None,
) -> tuple[int, str, str]:
    """`from-values` in this process: the exit code, stdout and stderr."""
    said: list[str] = []
    code = from_values([str(file) for file in files], name, strip, said.append, How(subchart))
    return code, capsys.readouterr().out, "".join(said)


def test_a_file_with_nothing_to_adopt_says_so_and_what_it_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("scheduler:\n  replicas: 2\nredis:\n  extraVolumes: [{name: v}]\n")
    code, out, said = _adopt(capsys, [values])
    assert code == 0
    assert yaml.safe_load(out)["spec"] == {}
    assert said.splitlines()[-1] == (
        "from-values: nothing to carry over: no extraContainers, extraInitContainers, "
        "extraVolumes or extraVolumeMounts that a chart places (nor a top-level volumes or "
        f"volumeMounts) in {values}; the config's spec is empty"
    )
    code, _, said = _adopt(capsys, [tmp_path / "values.yaml"] * 2)
    assert f"in {values}, {values} (merged);" in said
    values.write_text(VALUES)  # something to adopt: no such line
    assert "nothing to carry over" not in _adopt(capsys, [values])[2]


def test_the_config_points_the_editor_at_the_schema_by_its_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    _, out, _ = _adopt(capsys, [values])
    schema = json.loads((ROOT / "schemas" / "airflow-sidecars.v1alpha1.json").read_text())
    assert out.splitlines()[0] == f"# yaml-language-server: $schema={schema['$id']}"
    assert schema["$id"].startswith("https://")
    assert yaml.safe_load(out)["kind"] == "AirflowSidecars"


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("prod.yaml", "prod"),
        ("values-prod.yml", "values-prod"),
        ("team values (eu).yaml", "team-values-eu"),
        ("values.yaml", "sidecars"),  # every chart's own values file: the name it always had
        ("Values.yml", "sidecars"),
        ("---.yaml", "sidecars"),  # nothing an annotation name can hold
        ("x" * 80 + ".yaml", "x" * 63),
    ],
)
def test_the_config_is_named_after_the_first_values_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, name: str
) -> None:
    first, second = tmp_path / file, tmp_path / "other.yaml"
    first.write_text(VALUES)
    second.write_text("scheduler: {replicas: 3}\n")
    _, out, _ = _adopt(capsys, [first, second])
    assert yaml.safe_load(out)["metadata"] == {"name": name}
    assert records.key(name) == f"airflow-sidecars.dev/{name}"  # a name inject records under
    _, out, _ = _adopt(capsys, [first, second], name="team")
    assert yaml.safe_load(out)["metadata"] == {"name": "team"}


@pytest.mark.parametrize("how", ["same", "dotted", "symlink", "hardlink"])
def test_stripping_onto_a_values_file_is_refused_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    target = {"same": values, "dotted": tmp_path / "." / ".." / tmp_path.name / "values.yaml"}
    if how == "symlink":
        (tmp_path / "link.yaml").symlink_to(values)
    if how == "hardlink":
        (tmp_path / "link.yaml").hardlink_to(values)
    code, out, said = _adopt(capsys, [values], strip=str(target.get(how, tmp_path / "link.yaml")))
    assert code == 2
    assert out == ""
    assert "would be written over the values file" in said
    assert values.read_text() == VALUES
