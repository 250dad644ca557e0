"""`from-values` on the values of an umbrella (wrapper) chart, which has the Airflow chart as a
dependency: the Airflow chart's values are under the dependency's key (its alias, else
`airflow`). The key is `--subchart`'s, else the Chart.yaml's (or Chart.lock's) beside the first
file, else a top-level mapping holding the chart's sections where the top level holds none.
The config is the one the Airflow chart's values alone give; the stripped values are the
parent's file with the extras taken out of that subtree, comments and layout kept; messages
name values by their whole path in the file.

The community chart has a top-level `airflow` of its own (`airflow.extraVolumes`,
`airflow.kubernetesPodTemplate`, `airflow.config`): it is never taken for a subchart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.commands.fromvalues import How, from_values
from airflow_sidecars.commands.subchart import SECTIONS
from airflow_sidecars.commands.valuesextras import config_spec
from airflow_sidecars.commands.valuesstrip import stripped
from conftest import FIXTURES, matrix_root
from support.adoption import PAIRS

SEED = (FIXTURES / "official-1.15.0" / "05b-sidecars-after.values.yaml").read_text()
COMMUNITY = """\
airflow:
  config:
    AIRFLOW__CORE__LOAD_EXAMPLES: "False"
  extraVolumes:
    - name: shared
      emptyDir: {}
  kubernetesPodTemplate:
    extraContainers:
      - name: task-side
        image: busybox:1.36
"""


def indented(text: str, key: str) -> str:
    """The values text as the values of a parent chart's key."""
    return f"{key}:\n" + "".join(
        f"  {line}" if line.strip() else line for line in text.splitlines(True)
    )


class Adopted:
    def __init__(self, code: int, out: str, said: str, stripped: str | None) -> None:
        self.code, self.said, self.stripped = code, said, stripped
        self.config: Any = yaml.safe_load(out) if out else None


def _adopt(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    subchart: str | None = None,
    **beside: str,
) -> Adopted:
    """`from-values chart/values.yaml --strip stripped.yaml`, with the files `beside` (by
    name) in chart/."""
    folder = tmp_path / "chart"
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in beside.items():
        (folder / name).write_text(content)
    values, out = folder / "values.yaml", tmp_path / "stripped.yaml"
    values.write_text(text)
    out.unlink(missing_ok=True)
    said: list[str] = []
    code = from_values([str(values)], None, str(out), said.append, How(subchart))
    printed = capsys.readouterr().out
    return Adopted(code, printed, "".join(said), out.read_text() if out.exists() else None)


def _alone(text: str) -> tuple[dict[str, Any], str]:
    return config_spec(yaml.safe_load(text))[0], stripped(text, "values.yaml")


def test_a_top_level_key_holding_the_charts_sections_is_the_subchart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "# platform\npostgresql:\n  enabled: true\n" + indented(SEED, "airflow")
    adopted = _adopt(tmp_path, capsys, text)
    assert adopted.code == 0
    spec, alone = _alone(SEED)
    assert adopted.config["spec"] == spec != {}
    assert adopted.stripped == "# platform\npostgresql:\n  enabled: true\n" + indented(
        alone, "airflow"
    )
    assert adopted.said.splitlines()[0] == (
        "from-values: reading the Airflow chart's values under airflow: it holds the chart's "
        "sections (scheduler, webserver, workers) and the top level none (--subchart . "
        "reads the top level)"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (indented(SEED, "airflow") + "scheduler: {}\n", "the top level has a section"),
        ("images:\n  flower: {tag: x}\n  pgbouncer: {tag: y}\n", "sections, nothing to carry"),
        ("config:\n  scheduler: {parsing_processes: 2}\n", "airflow.cfg's sections"),
    ],
)
def test_keys_that_are_not_a_subchart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, why: str
) -> None:
    adopted = _adopt(tmp_path, capsys, text)
    assert adopted.code == 0, why
    assert "reading the Airflow chart's values" not in adopted.said, why


def _not_about_subcharts(said: str) -> bool:
    """Every line is the warning about the pod template's plain sidecar `task-side`."""
    lines = said.splitlines()
    return bool(lines) and all(
        line.startswith(
            "from-values: warning: airflow.kubernetesPodTemplate.extraContainers: "
            "container 'task-side'"
        )
        for line in lines
    )


def test_the_community_charts_own_airflow_key_is_not_a_subchart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    adopted = _adopt(tmp_path, capsys, COMMUNITY + "scheduler:\n  replicas: 1\n")
    # nothing about a subchart: only the pod template's plain sidecar is said
    assert _not_about_subcharts(adopted.said)
    assert adopted.config["spec"] == {
        "airflow": {
            "allowPlainSidecars": True,
            "extraVolumes": [{"name": "shared", "emptyDir": {}}],
            "kubernetesPodTemplate": {
                "extraContainers": [{"name": "task-side", "image": "busybox:1.36"}]
            },
        },
    }
    adopted = _adopt(tmp_path, capsys, COMMUNITY)  # and alone at the top
    assert _not_about_subcharts(adopted.said)
    assert set(adopted.config["spec"]) == {"airflow"}
    # the community chart as a subchart: its own `airflow` inside the parent's
    adopted = _adopt(tmp_path, capsys, indented(COMMUNITY + "scheduler: {}\n", "airflow"))
    assert (
        "from-values: reading the Airflow chart's values under airflow: it holds the chart's "
        "sections (airflow, scheduler)"
    ) in adopted.said
    assert set(adopted.config["spec"]) == {"airflow"}
    assert yaml.safe_load(adopted.stripped or "") == {
        "airflow": {
            "airflow": {"config": {"AIRFLOW__CORE__LOAD_EXAMPLES": "False"}},
            "scheduler": {},
        }
    }


CHART = """\
apiVersion: v2
name: platform
version: 1.0.0
dependencies:
  - name: postgresql
    version: 13.2.24
    repository: https://charts.bitnami.com/bitnami
  - name: airflow
    version: 1.15.0
    repository: {repository}
{alias}"""


@pytest.mark.parametrize(
    ("repository", "alias", "key"),
    [
        ("https://airflow.apache.org", "    alias: orchestrator\n", "orchestrator"),
        ("https://airflow-helm.github.io/charts", "", "airflow"),
        ("oci://registry.example.com/mirror", "    alias: wf\n", "wf"),
        ("'@apache-airflow'", "", "airflow"),
    ],
)
def test_the_chart_yaml_beside_the_values_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repository: str, alias: str, key: str
) -> None:
    chart = CHART.format(repository=repository, alias=alias)
    # the key the Chart.yaml gives wins over one that looks like the subchart by its keys
    text = indented(SEED, key) + indented(SEED, "looks-like-it")
    adopted = _adopt(tmp_path, capsys, text, **{"Chart.yaml": chart})
    assert adopted.code == 0, adopted.said
    assert adopted.config["spec"] == _alone(SEED)[0]
    where = tmp_path / "chart" / "Chart.yaml"
    assert f"reading the Airflow chart's values under {key}: the Airflow dependency in {where}" in (
        adopted.said
    )
    assert yaml.safe_load(adopted.stripped or "")["looks-like-it"] == yaml.safe_load(SEED)


def test_chart_lock_names_the_key_when_there_is_no_chart_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = "dependencies:\n- name: airflow\n  repository: https://airflow.apache.org\n"
    text = indented(SEED, "airflow") + "scheduler: {replicas: 1}\n"  # no guess would take it
    adopted = _adopt(tmp_path, capsys, text, **{"Chart.lock": lock})
    assert "the Airflow dependency in" in adopted.said and "Chart.lock" in adopted.said
    assert adopted.config["spec"] == _alone(SEED)[0]


def test_chart_yamls_that_decide_nothing_or_leave_it_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = CHART.format(repository="https://example.com/charts", alias="")
    text = indented(SEED, "airflow")
    adopted = _adopt(tmp_path, capsys, text, **{"Chart.yaml": other})  # another chart
    assert "it holds the chart's sections" in adopted.said  # found by the keys instead
    two = CHART.format(repository="https://airflow.apache.org", alias="    alias: a\n") + (
        "  - name: airflow\n    version: 1.15.0\n    repository: https://airflow.apache.org\n"
    )
    adopted = _adopt(tmp_path, capsys, text, **{"Chart.yaml": two})
    assert adopted.code == 2
    assert "has 2 Airflow dependencies (a, airflow): name the one" in adopted.said
    assert adopted.config is None and adopted.stripped is None
    assert _adopt(tmp_path, capsys, text, subchart="airflow", **{"Chart.yaml": two}).code == 0
    broken = _adopt(tmp_path, capsys, text, **{"Chart.yaml": "dependencies: [\n"})
    assert broken.code == 0
    assert broken.said.startswith("from-values: warning: ")
    assert "looked for by their keys" in broken.said
    assert broken.config["spec"] == _alone(SEED)[0]


def test_subchart_names_the_key_or_the_top_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = indented(indented(SEED, "airflow"), "platform") + "scheduler: {}\n"
    adopted = _adopt(tmp_path, capsys, nested, subchart="platform.airflow")
    assert adopted.config["spec"] == _alone(SEED)[0]
    assert adopted.stripped == indented(indented(_alone(SEED)[1], "airflow"), "platform") + (
        "scheduler: {}\n"
    )
    # named: nothing to say about it, but the plain sidecar it carries, by its path in the file
    warnings = [line for line in adopted.said.splitlines() if "warning:" in line]
    assert warnings[0].startswith(
        "from-values: warning: platform.airflow.workers.extraContainers: container "
    )
    assert "whether the release runs platform.airflow.webserver (" in adopted.said
    assert "reading the Airflow chart's values under" not in adopted.said
    # `.`: the top level, though a key looks like a subchart
    adopted = _adopt(tmp_path, capsys, indented(SEED, "airflow"), subchart=".")
    assert adopted.config["spec"] == {}
    assert "nothing to carry over" in adopted.said
    # a key the values do not have: nothing under it, and said where it looked
    adopted = _adopt(tmp_path, capsys, SEED, subchart="airflow")
    assert adopted.config["spec"] == {}
    assert adopted.said.rstrip().endswith("under airflow; the config's spec is empty")
    assert adopted.stripped == SEED


def test_messages_name_the_values_by_their_path_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    redis = "redis:\n  extraVolumes: [{name: r, emptyDir: {}}]\n"
    text = indented(SEED.replace("redis:\n", redis), "airflow")
    adopted = _adopt(tmp_path, capsys, text)
    assert "from-values: warning: airflow.redis.extraVolumes is not carried over" in adopted.said
    bad = text.replace(
        "  scheduler:\n    extraContainers:\n", "  scheduler:\n    extraContainers:\n      x:\n"
    )
    adopted = _adopt(tmp_path, capsys, bad, subchart="airflow")
    assert adopted.code == 1
    assert "values.yaml: airflow.scheduler.extraContainers is a mapping, not a list" in adopted.said
    adopted = _adopt(tmp_path, capsys, "airflow: true\n", subchart="airflow")
    assert adopted.code == 1
    assert "values.yaml: airflow is the bool True, not the Airflow chart's values" in adopted.said


def test_template_notes_name_the_values_by_their_path_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = indented(
        "dags: {gitSync: {sshKeySecret: git-ssh}}\n"
        "scheduler:\n"
        "  extraVolumes:\n"
        "    - name: ssh\n"
        "      secret: {secretName: '{{ .Values.dags.gitSync.sshKeySecret }}'}\n"
        "  extraContainers:\n"
        "    - name: x\n"
        "      image: '{{ .Values.images.sync | default \"busybox\" }}'\n",
        "airflow",
    )
    adopted = _adopt(tmp_path, capsys, text)
    assert adopted.config["spec"]["scheduler"]["extraVolumes"][0]["secret"] == {
        "secretName": "git-ssh"
    }
    notes = [line for line in adopted.said.splitlines() if "{{" in line or "evaluated" in line]
    assert notes and all("airflow.scheduler.extra" in line for line in notes), notes
    assert "airflow.scheduler.extraContainers is not carried over" in adopted.said


@pytest.mark.parametrize(
    ("chart", "number", "rest"), PAIRS, ids=[f"{c}/{n}b{r}" for c, n, r in PAIRS]
)
def test_each_oracle_values_file_as_a_subcharts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], chart: str, number: str, rest: str
) -> None:
    """Every "after" values file of the oracle pairs, as an umbrella chart's `airflow:`, gives the
    config it gives alone, and its stripped values under `airflow:` (or none, where nothing is
    left of them). The key is found by the chart's sections; values that have none (only the
    top-level `volumes`) are named with --subchart."""
    text = (matrix_root() / chart / f"{number}b{rest}").read_text()
    by_keys = bool(SECTIONS & set(yaml.safe_load(text)))
    subchart = None if by_keys else "airflow"
    adopted = _adopt(tmp_path, capsys, "global: {}\n" + indented(text, "airflow"), subchart)
    plain = _adopt(tmp_path / "alone", capsys, text)  # the same values at the top
    assert adopted.code == plain.code == 0, adopted.said
    assert ("it holds the chart's sections" in adopted.said) == by_keys
    assert adopted.config["spec"] == plain.config["spec"]
    alone = plain.stripped or ""
    left = "" if not yaml.safe_load(alone) else indented(alone, "airflow")
    assert adopted.stripped == "global: {}\n" + left
