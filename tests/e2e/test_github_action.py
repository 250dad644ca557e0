"""action.yml, run as GitHub runs a composite action in a repository that has none of this
project's files; and the workflow example pipelines/ci/github-actions.yaml that uses it.

GitHub checks the action out at the ref the workflow names and points GITHUB_ACTION_PATH at
it: here, a clean copy of the project. Each `run:` step runs as GitHub runs it (`bash
--noprofile --norc -eo pipefail FILE`), in a workspace that holds only a config and a render,
with its `env:` after GitHub's expression substitution: `${{ inputs.x }}` (the `with:` values,
else the defaults of action.yml) and `${{ steps.id.outputs.x }}` (from that step's
GITHUB_OUTPUT). The `uses:` step (actions/setup-python) is left out: this machine's Python
stands in for it. pip installs offline, from the wheels support.distribution keeps; the render
is `cat rendered.yaml`, or a stand-in `helm` that prints a real `helm template` output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars import __version__
from conftest import FIXTURES, ROOT, TESTS, function_image
from support.distribution import dependency_wheels, isolated_env, project_copy

RENDER = FIXTURES / "official-1.15.0" / "01-default.yaml"
PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
GOLDEN = (TESTS / "golden" / "presets-official-1.15.0-celery" / "expected.yaml").read_bytes()
WORKFLOW = ROOT / "pipelines" / "ci" / "github-actions.yaml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# A config that names a component the Airflow 2 render does not have: an error when strict.
REACHES_LESS = (
    "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\nmetadata:\n"
    "  name: strict\nspec:\n  scheduler:\n    extraContainers:\n"
    "      - {name: a, image: busybox:1.36}\n  apiServer:\n    extraContainers:\n"
    "      - {name: b, image: busybox:1.36}\n"
)


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


class Action:
    """action.yml with GITHUB_ACTION_PATH at a clean copy of the project, installed once (its
    steps up to `install`); `run` runs the steps after that for one set of inputs."""

    def __init__(self, root: Path) -> None:
        self.manifest = _load(ROOT / "action.yml")
        self.bin = root / "bin"
        self.bin.mkdir()
        # `python3` is this machine's Python, as actions/setup-python would put one on PATH.
        (self.bin / "python3").symlink_to(sys.executable)
        helm = self.bin / "helm"
        helm.write_text(f'#!/bin/sh\n[ "$1" = template ] || exit 2\nexec cat "{RENDER}"\n')
        helm.chmod(0o755)
        self.env = isolated_env(
            [dependency_wheels()],
            PATH=os.pathsep.join([str(self.bin), "/usr/bin", "/bin"]),
            GITHUB_ACTION_PATH=str(project_copy(root / "action")),
            RUNNER_TEMP=str(root / "runner-temp"),
        )
        (root / "runner-temp").mkdir()
        self.steps: list[dict[str, Any]] = self.manifest["runs"]["steps"]
        self.outputs: dict[str, dict[str, str]] = {}
        installed = [s.get("id") for s in self.steps].index("install") + 1
        for step in self.steps[:installed]:
            completed = self._step(step, {}, root)
            assert completed.returncode == 0, completed.stderr.decode()

    def inputs(self, given: Mapping[str, str]) -> dict[str, str]:
        declared: dict[str, dict[str, Any]] = self.manifest["inputs"]
        unknown = set(given) - set(declared)
        assert not unknown, f"not inputs of action.yml: {unknown}"
        return {
            name: given.get(name, str(spec.get("default", ""))) for name, spec in declared.items()
        }

    def substitute(self, text: str, inputs: Mapping[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            if found := re.fullmatch(r"inputs\.([\w-]+)", expression):
                return inputs[found.group(1)]
            if found := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
                return self.outputs[found.group(1)][found.group(2)]
            raise AssertionError(f"an expression this test does not model: {expression}")

        return EXPRESSION.sub(value, text)

    def _step(
        self, step: dict[str, Any], given: Mapping[str, str], workspace: Path
    ) -> subprocess.CompletedProcess[bytes]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@"), step
            return subprocess.CompletedProcess([], 0, b"", b"")
        assert step["shell"] == "bash" and "if" not in step, step
        # Plain bash: the inputs come in as variables, never as text pasted into the script.
        assert "${{" not in step["run"], f"an expression in the script of {step.get('name')}"
        inputs = self.inputs(given)
        env = {
            **self.env,
            **{k: self.substitute(str(v), inputs) for k, v in step.get("env", {}).items()},
        }
        output = workspace / f".github-output-{step.get('id')}"
        output.write_text("")
        script = workspace / f".step-{step.get('id')}.sh"
        script.write_text(step["run"])
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            capture_output=True,
            cwd=workspace,
            env={**env, "GITHUB_OUTPUT": str(output), "GITHUB_WORKSPACE": str(workspace)},
            check=False,
            timeout=300,
        )
        lines = output.read_text().splitlines()
        self.outputs[step.get("id", "")] = dict(line.split("=", 1) for line in lines)
        script.unlink()
        output.unlink()
        return completed

    def run(self, given: Mapping[str, str], workspace: Path) -> subprocess.CompletedProcess[bytes]:
        """The steps after the install, as one composite step: the first failure ends it."""
        installed = [s.get("id") for s in self.steps].index("install") + 1
        completed = subprocess.CompletedProcess[bytes]([], 0, b"", b"")
        for step in self.steps[installed:]:
            completed = self._step(step, given, workspace)
            if completed.returncode != 0:
                break
        return completed

    def output(self, name: str, given: Mapping[str, str]) -> str:
        return self.substitute(self.manifest["outputs"][name]["value"], self.inputs(given))


@pytest.fixture(scope="module")
def action(tmp_path_factory: pytest.TempPathFactory) -> Action:
    return Action(tmp_path_factory.mktemp("github"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The user's repository: a config and a render, nothing of this project."""
    folder = tmp_path / "workspace"
    folder.mkdir()
    shutil.copy(PRESETS, folder / "sidecars.yaml")
    shutil.copy(RENDER, folder / "rendered.yaml")
    return folder


def test_action_adds_the_sidecars(action: Action, workspace: Path) -> None:
    given = {"config": "sidecars.yaml", "render": "cat rendered.yaml"}
    completed = action.run(given, workspace)
    assert completed.returncode == 0, completed.stderr.decode()
    assert (workspace / "manifests.yaml").read_bytes() == GOLDEN
    stderr = completed.stderr.decode()
    assert "workloads changed, 1 unchanged; 0 errors, 0 warnings, 5 info\n" in stderr
    assert stderr.endswith("4 workloads checked; 0 errors, 0 warnings, 0 info\n")
    assert action.output("manifests", given) == "manifests.yaml"


def test_action_reads_a_manifests_file(action: Action, workspace: Path) -> None:
    given = {"config": "sidecars.yaml", "manifests": "rendered.yaml", "output": "out/all.yaml"}
    completed = action.run(given, workspace)
    assert completed.returncode == 0, completed.stderr.decode()
    assert (workspace / "out" / "all.yaml").read_bytes() == GOLDEN
    assert action.output("manifests", given) == "out/all.yaml"


def test_action_reads_a_manifests_folder(action: Action, workspace: Path) -> None:
    (workspace / "rendered").mkdir()
    (workspace / "rendered.yaml").rename(workspace / "rendered" / "all.yaml")
    given = {"config": "sidecars.yaml", "manifests": "rendered"}
    completed = action.run(given, workspace)
    assert completed.returncode == 0, completed.stderr.decode()
    assert (workspace / "manifests.yaml").read_bytes() == GOLDEN


def test_action_fails_on_a_bad_config(action: Action, workspace: Path) -> None:
    (workspace / "bad.yaml").write_text(
        PRESETS.read_text().replace("spec:\n", "spec:\n  schedular: {}\n", 1)
    )
    completed = action.run({"config": "bad.yaml", "render": "cat rendered.yaml"}, workspace)
    assert completed.returncode == 1
    assert "did you mean scheduler" in completed.stderr.decode()
    # nothing applied: the render as it came, for a later step to inspect
    assert (workspace / "manifests.yaml").read_bytes() == RENDER.read_bytes()


@pytest.mark.parametrize(
    ("given", "said"),
    [
        pytest.param({"render": "cat rendered.yaml"}, "config is required", id="no-config"),
        pytest.param({"config": "sidecars.yaml"}, "give the input render", id="no-input"),
        pytest.param(
            {"config": "sidecars.yaml", "render": "cat rendered.yaml", "manifests": "x.yaml"},
            "not both",
            id="render-and-manifests",
        ),
        pytest.param(
            {"config": "sidecars.yaml", "render": "cat rendered.yaml", "strict": "yes"},
            "true or false",
            id="strict-yes",
        ),
        pytest.param(
            {"config": "missing.yaml", "render": "cat rendered.yaml"},
            "missing.yaml: No such file",
            id="config-missing",
        ),
    ],
)
def test_action_misuse_is_exit_2(
    action: Action, workspace: Path, given: dict[str, str], said: str
) -> None:
    completed = action.run(given, workspace)
    assert completed.returncode == 2
    assert said in (completed.stdout + completed.stderr).decode()
    output = workspace / "manifests.yaml"
    assert not output.exists() or output.read_bytes() == b""  # nothing to deploy


@pytest.mark.parametrize(("strict", "status"), [("true", 1), ("false", 0)])
def test_action_strict_input(action: Action, workspace: Path, strict: str, status: int) -> None:
    (workspace / "less.yaml").write_text(REACHES_LESS)
    given = {"config": "less.yaml", "render": "cat rendered.yaml", "strict": strict}
    completed = action.run(given, workspace)
    assert completed.returncode == status, completed.stderr.decode()
    severity = "error" if strict == "true" else "warning"
    assert f"{severity}: [no-match]" in completed.stderr.decode()


def test_workflow_example_uses_this_action_at_this_version(action: Action, workspace: Path) -> None:
    workflow = _load(WORKFLOW)
    assert workflow["defaults"]["run"]["shell"] == "bash"  # pipefail in the image job
    steps = workflow["jobs"]["manifests"]["steps"]
    (step,) = [s for s in steps if "airflow-sidecars@" in s.get("uses", "")]
    # OWNER stands for the repository's owner until the project has a public address.
    assert step["uses"] == f"OWNER/airflow-sidecars@v{__version__}"
    inputs = action.manifest["inputs"]
    required = {name for name, spec in inputs.items() if spec.get("required")}
    assert required <= set(step["with"]) <= set(inputs)
    # Its inputs, run through the action with a stand-in helm, in a repository with the
    # config and values files the example names.
    shutil.copy(PRESETS, workspace / step["with"]["config"])
    (workspace / "values.yaml").write_text("{}\n")
    completed = action.run(step["with"], workspace)
    assert completed.returncode == 0, completed.stderr.decode()
    assert (workspace / step["with"]["output"]).read_bytes() == GOLDEN
    image_job = workflow["jobs"]["manifests-image"]["env"]
    assert image_job["INJECT_IMAGE"].endswith(f"/airflow-sidecars:{__version__}")
    assert image_job["VALIDATE_IMAGE"].endswith(f"/airflow-sidecars-validate:{__version__}")


def test_workflow_example_image_job(tmp_path: Path) -> None:
    # The image job's script as GitHub runs it (bash -eo pipefail), with the images CI built
    # (`docker` is podman) and the stand-in helm.
    images = {
        "INJECT_IMAGE": function_image("AIRFLOW_SIDECARS_IMAGE"),
        "VALIDATE_IMAGE": function_image("AIRFLOW_SIDECARS_VALIDATE_IMAGE"),
    }
    job = _load(WORKFLOW)["jobs"]["manifests-image"]
    (step,) = [s for s in job["steps"] if "run" in s]
    workspace = tmp_path / "workspace"
    bin_dir = tmp_path / "bin"
    for folder in (workspace, bin_dir):
        folder.mkdir()
    shutil.copy(PRESETS, workspace / "sidecars.yaml")
    (workspace / "sidecars.yaml").chmod(0o644)  # the image runs as nobody
    helm = bin_dir / "helm"
    helm.write_text(f'#!/bin/sh\n[ "$1" = template ] || exit 2\nexec cat "{RENDER}"\n')
    helm.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    env = {**os.environ, **images, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    completed = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        capture_output=True,
        cwd=workspace,
        env=env,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert (workspace / "manifests.yaml").read_bytes() == GOLDEN
