"""pipelines/helm and pipelines/ci, run the way Helm, CI and Argo CD run them.

Helm is not installable here, so a stand-in `helm` on PATH prints a real `helm template`
output (the official chart 1.15.0's default render) for `helm template ...`; everything after
it - the post-renderer scripts, the Helm 4 plugin's command, the CI script, the GitHub Actions
step and the Argo CD plugin's generate command - is the committed file, run as it is. Each
must give exactly the golden output of the same config on the same render
(tests/golden/presets-official-1.15.0-celery), because it is the same function.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES, ROOT, TESTS

RENDER = FIXTURES / "official-1.15.0" / "01-default.yaml"
GOLDEN = (TESTS / "golden" / "presets-official-1.15.0-celery" / "expected.yaml").read_bytes()
PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
SEED_AS_PASTED = TESTS / "golden" / "official-1.15.0-seed-as-pasted" / "config.yaml"
HELM = ROOT / "pipelines" / "helm"
CI = ROOT / "pipelines" / "ci"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """PATH with the installed `airflow-sidecars` and a stand-in `helm`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(f'#!/bin/sh\n[ "$1" = template ] || exit 2\nexec cat "{RENDER}"\n')
    helm.chmod(0o755)
    scripts = sysconfig.get_path("scripts")
    assert shutil.which("airflow-sidecars", path=scripts), "pip install -e '.[test]' installs it"
    return {**os.environ, "PATH": os.pathsep.join([str(bin_dir), scripts, os.environ["PATH"]])}


def _run(
    argv: list[str], env: dict[str, str], stdin: bytes = b"", cwd: Path = ROOT
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        argv, input=stdin, capture_output=True, env=env, cwd=cwd, check=False, timeout=120
    )


def test_helm3_post_renderer(env: dict[str, str]) -> None:
    # Helm 3 pipes the rendered manifests (hooks excluded) through the executable.
    completed = _run([str(HELM / "post-renderer.sh")], env, RENDER.read_bytes())
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN


def test_helm4_postrenderer_plugin(env: dict[str, str]) -> None:
    manifest: dict[str, Any] = yaml.safe_load((HELM / "plugin" / "plugin.yaml").read_text())
    assert manifest["apiVersion"] == "v1" and manifest["type"] == "postrenderer/v1"
    assert manifest["runtime"] == "subprocess"
    (entry,) = manifest["runtimeConfig"]["platformCommand"]
    command = entry["command"].replace("${HELM_PLUGIN_DIR}", str(HELM / "plugin"))
    # --post-renderer-args --config=... reach the command as arguments.
    completed = _run([command, f"--config={PRESETS}"], env, RENDER.read_bytes())
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN


def test_ci_pipeline_renders_injects_and_validates(env: dict[str, str]) -> None:
    completed = _run([str(CI / "pipeline.sh")], {**env, "RENDER": "helm template airflow x"})
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN
    stderr = completed.stderr.decode()
    assert "inject: 0 error(s)" in stderr and "validate: 0 error(s)" in stderr


def test_ci_pipeline_fails_on_the_seed_as_pasted(env: dict[str, str]) -> None:
    config = {"AIRFLOW_SIDECARS_CONFIG": str(SEED_AS_PASTED), "RENDER": "helm template a b"}
    render = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"
    (Path(env["PATH"].split(os.pathsep)[0]) / "helm").write_text(
        f'#!/bin/sh\nexec cat "{render}"\n'
    )
    completed = _run([str(CI / "pipeline.sh")], {**env, **config})
    assert completed.returncode == 1
    assert "error: [missing-volume] Deployment airflow-scheduler" in completed.stderr.decode()


def _app_folder(tmp_path: Path, config_name: str) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(PRESETS, folder / config_name)
    (folder / "pipelines").symlink_to(ROOT / "pipelines")
    return folder


def test_github_actions_step(env: dict[str, str], tmp_path: Path) -> None:
    workflow: dict[str, Any] = yaml.safe_load((CI / "github-actions.yaml").read_text())
    steps = workflow["jobs"]["manifests"]["steps"]
    step = next(s for s in steps if s.get("name") == "Render, inject, validate")
    folder = _app_folder(tmp_path, step["env"]["AIRFLOW_SIDECARS_CONFIG"])
    completed = _run(["bash", "-e", "-c", step["run"]], {**env, **step["env"]}, cwd=folder)
    assert completed.returncode == 0, completed.stderr.decode()
    assert (folder / "manifests.yaml").read_bytes() == GOLDEN


def test_argocd_config_management_plugin(env: dict[str, str], tmp_path: Path) -> None:
    plugin: dict[str, Any] = yaml.safe_load((CI / "argocd-cmp.yaml").read_text())
    spec = plugin["spec"]
    folder = _app_folder(tmp_path, spec["discover"]["fileName"])
    app = {"ARGOCD_APP_NAME": "airflow", "ARGOCD_APP_NAMESPACE": "airflow"}
    completed = _run(
        [*spec["generate"]["command"], *spec["generate"]["args"]], {**env, **app}, cwd=folder
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN
