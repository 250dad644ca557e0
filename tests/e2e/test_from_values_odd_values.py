"""`airflow-sidecars from-values` on values files that are empty, odd or wrong, through the real
command line: the right result, or one clear line per problem naming the file and the value,
exit 1 (`--help`: a values file that cannot be read), never a traceback, and no stripped file
written when there is an error.

The values are the real ones in tests/fixtures (the seed's values, the worker sets probe),
changed where a hand or another tool might have changed them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, Completed, run_cli

SEED = (FIXTURES / "official-1.15.0" / "05b-sidecars-after.values.yaml").read_text()
SETS = (FIXTURES / "matrix/probes/official/04-sets-no-default-own-lists.b.values.yaml").read_text()


def _from_values(tmp_path: Path, text: str) -> tuple[Completed, Path]:
    values = tmp_path / "values.yaml"
    values.write_text(text)
    out = tmp_path / "stripped.yaml"
    completed = run_cli("from-values", values, "--strip", out)
    assert "Traceback" not in completed.stderr
    return completed, out


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_a_values_file_with_no_values_has_nothing_to_adopt(tmp_path: Path, text: str) -> None:
    completed, out = _from_values(tmp_path, text)
    assert completed.returncode == 0, completed.stderr
    assert yaml.safe_load(completed.stdout)["spec"] == {}
    assert out.read_text() == text  # nothing to take out: the file as it was
    assert completed.stderr.startswith("from-values: nothing to carry over: no extraContainers")


def _without_line(text: str, line: str) -> str:
    assert text.count(line) == 1
    return text.replace(line, "")


BROKEN: dict[str, tuple[str, str]] = {
    "a worker set without a name": (
        _without_line(SETS, "    - name: big\n      queue: big\n").replace(
            "    - name: small\n      queue: small\n",
            "    - name: small\n      queue: small\n    - queue: big\n",
        ),
        "values.yaml: workers.celery.sets[1] has no name",
    ),
    "a worker set named by a number": (
        SETS.replace("- name: big\n", "- name: 7\n"),
        "values.yaml: workers.celery.sets[1] has the name 7, not a string",
    ),
    "two worker sets of one name": (
        SETS.replace(
            "    - name: small\n      queue: small\n",
            "    - name: big\n      queue: small\n      extraVolumes:\n      - name: v\n"
            "        emptyDir: {}\n",
        ),
        "values.yaml: workers.celery.sets[1] has the name 'big' of workers.celery.sets[0]",
    ),
    "a worker set that is null": (
        SETS.replace("    sets:\n", "    sets:\n    - null\n"),
        "values.yaml: workers.celery.sets[0] is null, not a worker set (a mapping)",
    ),
    "extraContainers as a mapping": (
        SEED.replace(
            "scheduler:\n  extraContainers:\n", "scheduler:\n  extraContainers:\n    x:\n"
        ),
        "values.yaml: scheduler.extraContainers is a mapping, not a list",
    ),
    "extraContainers as a string": (
        SEED.replace("workers:\n  extraContainers:\n", "workers:\n  extraContainers: none\n  x:\n"),
        "values.yaml: workers.extraContainers is a string, not a list",
    ),
    "a list of values": ("- " + SEED.replace("\n", "\n  "), "chart values are a mapping"),
    "a scalar": ("values\n", "chart values are a mapping, and this file holds a string"),
    "two documents": (SEED + "---\n" + SEED, "holds 2 YAML documents, not one"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_values_a_config_cannot_carry_are_named(tmp_path: Path, case: str) -> None:
    text, message = BROKEN[case]
    assert text not in (SEED, SETS)
    completed, out = _from_values(tmp_path, text)
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout == b""
    assert not out.exists()
    lines = completed.stderr.splitlines()
    assert lines and all(line.startswith("airflow-sidecars from-values: ") for line in lines)
    assert message in completed.stderr


def test_worker_sets_as_a_mapping_are_named(tmp_path: Path) -> None:
    values = yaml.safe_load(SETS)
    celery = values["workers"]["celery"]
    celery["sets"] = {entry.pop("name"): entry for entry in celery["sets"]}
    completed, _ = _from_values(tmp_path, yaml.safe_dump(values))
    assert completed.returncode == 1
    assert "workers.celery.sets is a mapping, not a list of worker sets" in completed.stderr


def test_sections_that_are_null_or_lists_are_not_values_to_adopt(tmp_path: Path) -> None:
    """Only the `extra*` values are read: a null section or a list where the chart has a
    mapping is the chart's business (Helm says it), and stays in the stripped values."""
    text = SEED.replace("redis:\n", "triggerer:\nflower: [1, 2]\nredis:\n")
    completed, out = _from_values(tmp_path, text)
    assert completed.returncode == 0, completed.stderr
    assert "triggerer:\nflower: [1, 2]\n" in out.read_text()
    assert set(yaml.safe_load(completed.stdout)["spec"]) == {"scheduler", "webserver", "workers"}


def test_a_value_on_the_line_of_its_sets_dash_is_stripped(tmp_path: Path) -> None:
    """`- extraVolumes:` first in a worker set: the next key moves up onto the dash's line."""
    text = SETS.replace(
        "    - name: big\n      queue: big\n      extraVolumes:\n",
        "    - extraVolumes:\n",
    ).replace(
        "      extraInitContainers:\n",
        "      name: big\n      queue: big\n      extraInitContainers:\n",
    )
    assert text != SETS and yaml.safe_load(text) == yaml.safe_load(SETS)
    completed, out = _from_values(tmp_path, text)
    assert completed.returncode == 0, completed.stderr
    sets = yaml.safe_load(out.read_text())["workers"]["celery"]["sets"]
    assert sets == [{"name": "small", "queue": "small"}, {"name": "big", "queue": "big"}]
    config = yaml.safe_load(completed.stdout)["spec"]["workers"]["celery"]["sets"]
    assert [entry["name"] for entry in config] == ["big"]
