"""The command line as users and orchestrators call it: modes, exit codes, stdout/stderr, and
a real `kubectl kustomize` run of the legacy exec-plugin layout."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import FIXTURES, ROOT, compare_or_update, kubectl, run_cli

SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
RENDER = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"


def test_stream_from_stdin_to_stdout() -> None:
    result = run_cli("inject", "--config", SEED, stdin=RENDER.read_bytes())
    assert result.returncode == 0, result.stderr
    names = [
        c["name"]
        for d in yaml.safe_load_all(result.stdout)
        if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "airflow-scheduler"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert names == ["scheduler", "scheduler-log-groomer", "s3-sync"]
    assert result.stderr.endswith("inject: 0 error(s), 0 warning(s)\n")


def test_a_stream_without_config_is_an_error_and_comes_back_unchanged() -> None:
    result = run_cli("inject", RENDER)
    assert result.returncode == 1
    assert result.stdout == RENDER.read_bytes()
    assert "no config" in result.stderr


def test_malformed_yaml_is_a_clear_error_without_traceback() -> None:
    result = run_cli("inject", "--config", SEED, stdin=b"kind: Deployment\nmetadata: {name: [x\n")
    assert result.returncode == 1
    assert "input is not valid YAML: line 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_line_misuse_exits_2() -> None:
    assert run_cli("inject", "--no-such-flag").returncode == 2
    assert run_cli("frobnicate").returncode == 2
    missing = run_cli("inject", "--config", "no-such-file.yaml", RENDER)
    assert missing.returncode == 2
    assert "no-such-file.yaml" in missing.stderr


def test_schema_prints_the_shipped_json_schema() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "AirflowSidecars"
    assert schema == json.loads((ROOT / "schemas" / "airflow-sidecars.v1alpha1.json").read_text())


def test_kubectl_kustomize_runs_it_as_a_legacy_exec_plugin(tmp_path: Path) -> None:
    """kustomize's pre-KRM plugin style (krm-contract.md §2.3): the plugin gets the config file
    as argv[1] and a plain stream on stdin, and must print every resource back. The plugin is
    installed by our own command, and pipelines/kustomize-plugin is run exactly as its
    kustomization.yaml says, against the golden output."""
    home = tmp_path / "plugins"
    installed = run_cli("install-kustomize-plugin", "--plugin-home", home)
    assert installed.returncode == 0, installed.stderr
    plugin = home / "airflow-sidecars.dev" / "v1alpha1" / "airflowsidecars" / "AirflowSidecars"
    assert installed.stdout.decode().strip() == str(plugin)
    assert plugin.stat().st_mode & stat.S_IXUSR

    example = ROOT / "pipelines" / "kustomize-plugin"
    env = {**os.environ, "KUSTOMIZE_PLUGIN_HOME": str(home)}
    completed = subprocess.run(
        [
            kubectl(),
            "kustomize",
            "--enable-alpha-plugins",
            "--load-restrictor",
            "LoadRestrictionsNone",
            str(example),
        ],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    compare_or_update(example / "expected.yaml", completed.stdout)

    objects = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(completed.stdout)}
    assert len(objects) == 31

    def containers(kind: str, name: str) -> list[str]:
        spec = objects[(kind, name)]["spec"]["template"]["spec"]
        return [c["name"] for c in spec["containers"]]

    assert containers("Deployment", "airflow-scheduler")[-1] == "s3-sync"
    assert containers("Deployment", "airflow-webserver")[-1] == "sync-perm"
    assert containers("StatefulSet", "airflow-worker")[-1] == "worker-kerberos"


def test_the_plugin_installer_follows_kustomizes_plugin_home(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env.pop("KUSTOMIZE_PLUGIN_HOME", None)
    completed = subprocess.run(
        [sys.executable, "-m", "airflow_sidecars", "install-kustomize-plugin"],
        capture_output=True,
        env=env,
        check=True,
        text=True,
    )
    expected = tmp_path / "xdg" / "kustomize" / "plugin" / "airflow-sidecars.dev" / "v1alpha1"
    assert completed.stdout.strip() == str(expected / "airflowsidecars" / "AirflowSidecars")
