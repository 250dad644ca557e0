"""`airflow-sidecars from-values` through the real command line: values on stdin, one stripped
file per values file, an umbrella chart's values, and the command lines it refuses (exit 2,
nothing read or written). What it does with the values is tests/unit/test_from_values*.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import FIXTURES, matrix_root, run_cli

SEED = (FIXTURES / "official-1.15.0" / "05b-sidecars-after.values.yaml").read_text()
RENDER = matrix_root() / "official-1.22.0" / "01a-celery-default.yaml"


def test_a_dash_reads_the_values_from_stdin(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(SEED)
    from_file = run_cli("from-values", values, "--strip", tmp_path / "from-file.yaml")
    from_stdin = run_cli(
        "from-values", "-", "--strip", tmp_path / "from-stdin.yaml", stdin=SEED.encode()
    )
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    assert (tmp_path / "from-stdin.yaml").read_text() == (tmp_path / "from-file.yaml").read_text()
    # CR LF on stdin reads as a file does
    crlf = run_cli("from-values", "-", stdin=SEED.replace("\n", "\r\n").encode())
    assert crlf.stdout == from_file.stdout
    # stdin with a file after it: merged in that order
    override = tmp_path / "prod.yaml"
    override.write_text("scheduler:\n  extraContainers: []\n")
    both = run_cli("from-values", "-", override, stdin=SEED.encode())
    assert both.returncode == 0, both.stderr
    assert "scheduler" not in yaml.safe_load(both.stdout)["spec"]


def test_command_lines_that_cannot_be_done_exit_2_and_write_nothing(tmp_path: Path) -> None:
    values, prod = tmp_path / "values.yaml", tmp_path / "prod.yaml"
    values.write_text(SEED)
    prod.write_text(SEED)
    cases = {
        ("-", "-"): "stdin ('-') can be read once",
        (values, prod, "--strip", tmp_path / "out.yaml"): "--strip writes one file",
        (values, "--strip", values): "would be written over the values file",
        (values, "--strip", "-"): "stdout carries the config",
        (values, "--strip-suffix", ""): "would be written over the values file",
        (values, "--strip-dir", tmp_path): "would be written over the values file",
        (values, tmp_path / "x" / "values.yaml", "--strip-dir", tmp_path / "out"): "of both",
        ("-", prod, "--strip-suffix", ".s"): "no file name",
        (values, "--strip", tmp_path / "a.yaml", "--strip-dir", tmp_path / "b"): "not allowed",
    }
    for args, message in cases.items():
        completed = run_cli("from-values", *args, stdin=SEED.encode())
        assert completed.returncode == 2, (args, completed.stderr)
        assert message in completed.stderr, (args, completed.stderr)
        assert completed.stdout == b""
        assert sorted(path.name for path in tmp_path.iterdir()) == ["prod.yaml", "values.yaml"]
        assert values.read_text() == prod.read_text() == SEED


def test_several_files_stripped_beside_themselves_give_the_render_back(tmp_path: Path) -> None:
    base, prod = tmp_path / "values.yaml", tmp_path / "prod.yaml"
    base.write_text(SEED)
    prod.write_text(
        "# prod\nworkers:\n  replicas: 3\n  extraVolumes: [{name: prod, emptyDir: {}}]\n"
    )
    completed = run_cli("from-values", base, prod, "--strip-suffix", ".stripped")
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "prod.stripped.yaml").read_text() == "# prod\nworkers:\n  replicas: 3\n"
    assert "extraContainers" not in (tmp_path / "values.stripped.yaml").read_text()
    config = yaml.safe_load(completed.stdout)
    assert config["metadata"]["name"] == "sidecars"
    assert config["spec"]["workers"]["extraVolumes"] == [{"name": "prod", "emptyDir": {}}]
    config_file = tmp_path / "sidecars.yaml"
    config_file.write_bytes(completed.stdout)
    injected = run_cli("inject", "--config", config_file, RENDER)
    assert "[config]" not in injected.stderr


def test_an_umbrella_charts_values_are_read_under_its_key(tmp_path: Path) -> None:
    (tmp_path / "Chart.yaml").write_text(
        "apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n"
        "  - name: airflow\n    alias: orchestrator\n    version: 1.15.0\n"
        "    repository: https://airflow.apache.org\n"
    )
    values = tmp_path / "values.yaml"
    values.write_text("# the platform\norchestrator:\n" + _indented(SEED) + "grafana: {}\n")
    completed = run_cli("from-values", values, "--strip-dir", tmp_path / "stripped")
    assert completed.returncode == 0, completed.stderr
    assert "reading the Airflow chart's values under orchestrator" in completed.stderr
    alone = tmp_path / "alone" / "values.yaml"  # no Chart.yaml beside it
    alone.parent.mkdir()
    alone.write_text(SEED)
    plain = run_cli("from-values", alone, "--strip", tmp_path / "alone.stripped.yaml")
    assert yaml.safe_load(completed.stdout)["spec"] == yaml.safe_load(plain.stdout)["spec"]
    assert (tmp_path / "stripped" / "values.yaml").read_text() == (
        "# the platform\norchestrator:\n"
        + _indented((tmp_path / "alone.stripped.yaml").read_text())
        + "grafana: {}\n"
    )


def _indented(text: str) -> str:
    return "".join(f"  {line}" if line.strip() else line for line in text.splitlines(True))
