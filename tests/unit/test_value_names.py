"""What a chart calls a config value (valuenames.py over chart.RENAMES): a rename in a chart
version is one row of the table, and every reader goes through it.

The proof is a hypothetical row: the official chart 1.23.0 calls
`workers.celery.extraContainers` `workers.celery.sidecars`. With that row alone, `from-values`
takes a values file in either chart's words, writes the config in the config's words, and its
messages name the value as the values file does. Also here: no Python code under functions/
spells out an `extra*` key outside chart.py, the one place that names them.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.charts import chart
from airflow_sidecars.charts.chart import EXTRA_KEYS, SECTION_ALIASES, Chart, Rename
from airflow_sidecars.charts.valuenames import Reading, chart_words, has_value, readings
from airflow_sidecars.commands.fromvalues import from_values
from airflow_sidecars.commands.valuesextras import config_spec
from airflow_sidecars.commands.valuesstrip import stripped

SIDECARS = Rename(
    "official",
    ("workers", "celery", "extraContainers"),
    ("workers", "celery", "sidecars"),
    (1, 23, 0),
)
CELERY = ("workers", "celery", "extraContainers")
SIDECAR = {"name": "side", "image": "busybox:1.36"}


@pytest.fixture
def renamed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table with the hypothetical 1.23.0 row: the only change a rename needs."""
    monkeypatch.setattr(chart, "RENAMES", (*chart.RENAMES, SIDECARS))


def _run(tmp_path: Path, values: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> Any:
    """`from-values VALUES --strip STRIPPED` in this process (so that it sees the row)."""
    file, out = tmp_path / "values.yaml", tmp_path / "stripped.yaml"
    file.write_text(yaml.safe_dump(values, sort_keys=False))
    said: list[str] = []
    code = from_values([str(file)], "team", str(out), said.append)
    printed = capsys.readouterr().out
    return code, yaml.safe_load(printed) if printed else None, said, out


def test_the_chart_words_follow_the_version(renamed: None) -> None:
    assert chart_words(Chart("official", (1, 22, 0)), CELERY) == CELERY
    assert chart_words(Chart("official", (1, 23, 0)), CELERY) == SIDECARS.chart
    assert chart_words(Chart("official", None), CELERY) == SIDECARS.chart  # taken as the newest
    assert chart_words(Chart("community", (8, 9, 0)), CELERY) == CELERY
    # the config's words, read back from either chart's
    assert readings(SIDECARS.chart)[1] == Reading(CELERY, SIDECARS)
    assert readings(CELERY) == (Reading(CELERY),)


def test_from_values_adopts_the_new_name_into_the_configs_word(
    renamed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = {"workers": {"celery": {"sidecars": [SIDECAR], "replicas": 2}}}
    code, config, said, out = _run(tmp_path, values, capsys)
    assert code == 0, said
    assert config["spec"] == {
        "workers": {"celery": {"extraContainers": [SIDECAR]}, "allowPlainSidecars": True}
    }
    assert said == [
        "from-values: workers.celery.sidecars is carried over as "
        "spec.workers.celery.extraContainers (the official chart from 1.23.0 on calls "
        "workers.celery.extraContainers workers.celery.sidecars)\n"
    ]
    assert yaml.safe_load(out.read_text()) == {"workers": {"celery": {"replicas": 2}}}


def test_the_old_name_is_still_taken_and_said_nothing_about(
    renamed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, config, said, _ = _run(
        tmp_path, {"workers": {"celery": {"extraContainers": [SIDECAR]}}}, capsys
    )
    assert code == 0 and said == []
    assert config["spec"]["workers"]["celery"] == {"extraContainers": [SIDECAR]}


def test_the_messages_name_the_value_in_the_values_words(
    renamed: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, said, out = _run(tmp_path, {"workers": {"celery": {"sidecars": "none"}}}, capsys)
    assert code == 1 and not out.exists()
    assert "workers.celery.sidecars is a string, not a list" in "".join(said)
    both = {"workers": {"celery": {"extraContainers": [SIDECAR], "sidecars": [{**SIDECAR}]}}}
    code, _, said, _ = _run(tmp_path, both, capsys)
    assert code == 1
    assert (
        "workers.celery.extraContainers and workers.celery.sidecars are one value (the official "
        "chart from 1.23.0 on calls workers.celery.extraContainers workers.celery.sidecars): "
        "keep the one your chart version reads"
    ) in "".join(said)


def test_without_the_row_the_new_name_is_not_a_value(tmp_path: Path) -> None:
    values = {"workers": {"celery": {"sidecars": [SIDECAR]}}}
    assert config_spec(values) == ({}, [])
    text = yaml.safe_dump(values)
    assert stripped(text, "values.yaml") == text


def test_a_worker_sets_value_is_renamed_by_a_row_with_a_star(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sets = ("workers", "celery", "sets", "*")
    row = Rename("official", (*sets, "extraVolumes"), (*sets, "volumes"), (1, 23, 0))
    monkeypatch.setattr(chart, "RENAMES", (*chart.RENAMES, row))
    volume = {"name": "v", "emptyDir": {}}
    values = {"workers": {"celery": {"sets": [{"name": "big", "volumes": [volume]}]}}}
    spec, left_out = config_spec(values)
    assert spec == {"workers": {"celery": {"sets": [{"name": "big", "extraVolumes": [volume]}]}}}
    assert left_out == []
    path = ("workers", "celery", "sets", "big", "extraVolumes")
    assert chart_words(Chart("official", (1, 23, 0)), path)[-2:] == ("big", "volumes")


# -- the community chart's `web` is a row of the same table -------------------------------------


def test_the_community_webserver_is_web_in_every_version() -> None:
    assert SECTION_ALIASES == {"web": "webserver"}
    assert chart_words(Chart("community", (8, 8, 0)), ("webserver", "extraContainers")) == (
        "web",
        "extraContainers",
    )
    assert chart_words(Chart("official", (1, 22, 0)), ("webserver", "extraContainers")) == (
        "webserver",
        "extraContainers",
    )
    reason = has_value(Chart("community", (8, 8, 0)), ("webserver", "extraContainers"))
    assert reason == "web.extraContainers is new in community chart 8.9.0"
    # and from-values keeps the values' own word, which the config takes too
    spec, _ = config_spec({"web": {"extraVolumes": [{"name": "v", "emptyDir": {}}]}})
    assert list(spec) == ["web"]


# -- the extra* keys are spelled out in chart.py only --------------------------------------------

PACKAGE = Path(chart.__file__).parent.parent  # the whole package, every subpackage
HELP_ARGUMENTS = {"help", "description", "epilog"}


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """The string constants of a module that are code: not docstrings, not argparse help."""
    prose: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            prose.add(id(body[0].value))
        if isinstance(node, ast.keyword) and node.arg in HELP_ARGUMENTS:
            prose.update(id(inner) for inner in ast.walk(node.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
    ]


def test_no_extra_key_is_spelled_out_outside_the_chart_table() -> None:
    found = []
    for module in sorted(PACKAGE.rglob("*.py")):
        if module.name in ("chart.py", "fndocs.py"):  # the table; the catalog README's text
            continue
        for line, text in _literals(ast.parse(module.read_text())):
            if any(key in text for key in EXTRA_KEYS):
                found.append(f"{module.relative_to(PACKAGE)}:{line}: {text!r}")
    assert found == []
