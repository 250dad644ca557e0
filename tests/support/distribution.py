"""The package as a user gets it, for tests/e2e/test_distribution.py and test_github_action.py:
a clean copy of the project, the wheels it needs offline, and venvs that see nothing of this
checkout.

A clean copy, not the work tree: a build in the work tree would pick up whatever a stale
build/ or *.egg-info holds, and the git-excluded schemas symlink. The copy has the files git
tracks, and the new files it does not ignore yet, as they are in the work tree (uncommitted
work is tested).

Installs run offline (pip --no-index) from a folder of wheels downloaded once: the runtime
dependencies and the build backend (the GitHub Action's `pip install DIR` builds the package in
an isolated environment). The folder is keyed by the requirements, the interpreter and the
month, so that builds still meet a current setuptools, as a user's pip would.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

CACHE = Path(
    os.environ.get("AIRFLOW_SIDECARS_CI_WORK", Path.home() / ".cache" / "airflow-sidecars-ci")
)


def run(
    argv: list[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A step that must succeed; its output in the failure message when it does not."""
    completed = subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, (
        f"{' '.join(map(str, argv))} exited {completed.returncode}:\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
    return completed


def project_copy(target: Path) -> Path:
    """The project's files as a commit of the work tree would hold them, copied to `target`."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("a clean copy of the project needs git and a git work tree")
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).stdout
    target.mkdir(parents=True)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in the index
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
    return target


def pyproject() -> dict[str, Any]:
    if sys.version_info < (3, 11):
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11)")
    # By name: the type check runs as Python 3.10, which has no tomllib.
    tomllib = importlib.import_module("tomllib")
    with (ROOT / "pyproject.toml").open("rb") as handle:
        loaded: dict[str, Any] = tomllib.load(handle)
    return loaded


def dependency_wheels() -> Path:
    """A folder of wheels that installs the package offline: its runtime dependencies and its
    build requirements, for this interpreter; downloaded when the folder for these is new."""
    project = pyproject()
    requirements = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    key = "\n".join([*requirements, sys.implementation.cache_tag or "", sysconfig.get_platform()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    folder = CACHE / "dist-deps" / f"{time.strftime('%Y-%m')}-{digest}"
    if (folder / ".complete").exists():
        return folder
    partial = folder.with_name(folder.name + f".{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    # This one step uses the network (the machine's own pip configuration): wheels only, so
    # nothing is compiled here.
    run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"),
            *("--dest", partial, *requirements),
        ]
    )
    (partial / ".complete").write_text("\n".join(requirements) + "\n")
    try:
        partial.rename(folder)
    except OSError:  # another run finished first
        shutil.rmtree(partial)
    month = folder.name.split("-", 2)[:2]
    for old in folder.parent.iterdir():  # earlier months' wheels are not used again
        if old.is_dir() and old.name.split("-", 2)[:2] != month and "." not in old.name:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def isolated_env(wheels: list[Path], **extra: str) -> dict[str, str]:
    """An environment in which pip installs only from `wheels` and Python sees nothing of this
    checkout: no PYTHONPATH, no pip configuration of the machine, no active venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "UV_"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=" ".join(str(folder) for folder in wheels),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def metadata(data: bytes) -> tuple[Message, str]:
    """A METADATA or PKG-INFO file: its RFC 822 headers, and the long description (the body,
    UTF-8; the email parser would read it as Latin-1)."""
    head, _, body = data.partition(b"\n\n")
    return BytesParser(policy=compat32).parsebytes(head + b"\n\n"), body.decode("utf-8")
