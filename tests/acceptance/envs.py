"""Cached virtual environments with real software for the behavioural acceptance tests.

Each ``requirements/<name>.txt`` is a fully pinned lock file (see its header for how it was
generated).  ``ensure(name)`` returns a virtual environment built from it with the Debian
interpreter ``/usr/bin/python3.11`` (the tests run these programs in a chroot that only exposes
/usr, /etc, /bin and /lib*), building it first if it is not cached yet:

* the directory name carries a hash of the lock file, so editing a lock builds a new env;
* the env is built in a temporary sibling directory and renamed into place, so a half-built env
  is never visible; it is created ``--relocatable`` so its scripts survive the rename;
* an ``fcntl`` lock keeps two processes from building the same env at the same time.

Run ``python3 tests/acceptance/envs.py [name ...]`` to build all (or the named) envs ahead of time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUIREMENTS_DIR = Path(__file__).resolve().parent / "requirements"
CACHE_ROOT = (
    Path(os.environ.get("AIRFLOW_SIDECARS_CACHE", "~/.cache/airflow-sidecars-ci")).expanduser()
    / "acceptance"
)
PYTHON = Path("/usr/bin/python3.11")
# Bump when the way envs are built changes, so that cached envs are rebuilt.
_RECIPE = "1"
_COMPLETE_MARKER = ".complete"


class EnvBuildError(RuntimeError):
    """An acceptance-test environment could not be built."""


def names() -> list[str]:
    """The names of all environments that have a lock file."""
    return sorted(p.stem for p in REQUIREMENTS_DIR.glob("*.txt"))


def lock_file(name: str) -> Path:
    path = REQUIREMENTS_DIR / f"{name}.txt"
    if "/" in name or not path.is_file():
        raise EnvBuildError(f"no lock file for env {name!r}; known envs: {', '.join(names())}")
    return path


def env_dir(name: str) -> Path:
    """Where the env for the current content of ``name``'s lock file lives (built or not)."""
    digest = hashlib.sha256(f"{_RECIPE}\0{PYTHON}\0".encode())
    digest.update(lock_file(name).read_bytes())
    return CACHE_ROOT / f"{name}-{digest.hexdigest()[:12]}"


def _is_built(path: Path) -> bool:
    return (path / _COMPLETE_MARKER).is_file()


def _run(args: list[str], what: str) -> None:
    proc = subprocess.run(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    if proc.returncode != 0:
        raise EnvBuildError(
            f"{what} failed (exit {proc.returncode}): {' '.join(args)}\n{proc.stdout[-4000:]}"
        )


def _build(name: str, lock: Path, target: Path) -> None:
    # Leftovers of builds that were killed: we hold the lock, so nobody else is using them.
    for stale in CACHE_ROOT.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=CACHE_ROOT))
    try:
        # mkdtemp makes the directory 0700; tests run some programs as another uid.
        tmp.chmod(0o755)
        uv = [sys.executable, "-m", "uv"]
        _run(
            [*uv, "venv", "--no-config", "--relocatable", "--allow-existing",
             "--python", str(PYTHON), str(tmp)],
            f"creating env {name}",
        )  # fmt: skip
        python = str(tmp / "bin" / "python")
        _run(
            [*uv, "pip", "install", "--no-config", "--python", python, "--no-deps",
             "--compile-bytecode", "-r", str(lock)],
            f"installing {lock.name} into env {name}",
        )  # fmt: skip
        _run([*uv, "pip", "check", "--python", python], f"checking env {name}")
        (tmp / _COMPLETE_MARKER).write_text(f"{lock.name}\n")
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure(name: str) -> Path:
    """Return the venv directory for lock file ``name``, building it first if needed."""
    target = env_dir(name)
    if _is_built(target):
        return target
    if not PYTHON.is_file():
        raise EnvBuildError(
            f"{PYTHON} is missing: the acceptance envs need Debian's interpreter "
            "(apt-get install python3.11)"
        )
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with (CACHE_ROOT / f".{target.name}.lock").open("w") as lock_fh:
        fcntl.flock(lock_fh, fcntl.LOCK_EX)
        if not _is_built(target):
            if target.exists():  # not ours: something half-made it by hand
                shutil.rmtree(target)
            _build(name, lock_file(name), target)
    return target


def bin_dir(name: str) -> Path:
    """The ``bin`` directory of the env for ``name`` (built if needed)."""
    return ensure(name) / "bin"


def main(argv: list[str]) -> int:
    failed = False
    for name in argv or names():
        start = time.monotonic()
        try:
            path = ensure(name)
        except EnvBuildError as exc:
            print(f"{name}: FAILED after {time.monotonic() - start:.1f}s: {exc}", file=sys.stderr)
            failed = True
            continue
        print(f"{name}: {path} ({time.monotonic() - start:.1f}s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
