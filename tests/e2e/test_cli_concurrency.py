"""Two `--in-place` runs on one folder at once (two CI jobs, two configs), and a file changed by
someone else while a run works on it: no run's work is ever lost without a word. The runs are
real processes; the races are made deterministic by holding the runs' own lock from the test
(flock on the folder that holds a file) and by giving the config as a named pipe, which the run
reads after its inputs."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_cli_files import output_dir

from airflow_sidecars.krmio import inputfiles
from conftest import FIXTURES, ROOT, run_cli

PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
CLOUD_SQL = ROOT / "pipelines" / "examples" / "cloud-sql-proxy.yaml"
# Both configs apply to this render, one after the other in either order.
RENDER = FIXTURES / "official-1.15.0" / "03-celery-kubernetes-executor.yaml"
SCHEDULER = Path("airflow/templates/scheduler/scheduler-deployment.yaml")
SERVICE = Path("airflow/templates/webserver/webserver-service.yaml")


def real(path: Path) -> Path:
    """The path the messages name: a lock is on the real folder (after links)."""
    return Path(os.path.realpath(path))


def read_tree(root: Path) -> dict[Path, bytes]:
    """Every file under `root` (temporary files and lock files included), by relative path."""
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@contextmanager
def holding(folder: Path) -> Iterator[None]:
    """The lock an `--in-place` run takes on a folder that holds one of its files, held here."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def start(*args: str | Path) -> subprocess.Popen[bytes]:
    # Unbuffered, so that reading the first stderr line leaves the rest for communicate().
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_sidecars", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        bufsize=0,
    )


def first_line(process: subprocess.Popen[bytes]) -> str:
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], 60)
    assert ready, "the run said nothing: it did not wait for the lock"
    return process.stderr.readline().decode()


def finish(process: subprocess.Popen[bytes], said: str = "") -> tuple[int, bytes, str]:
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout, said + stderr.decode()


def applied(tmp_path: Path, *configs: Path) -> dict[Path, bytes]:
    """The files after the configs' runs one after the other."""
    root = tmp_path / "-then-".join(config.stem for config in configs)
    output_dir(RENDER, root)
    for config in configs:
        completed = run_cli("inject", "-i", "--config", config, root)
        assert completed.returncode == 0, completed.stderr
    return read_tree(root)


def test_two_runs_on_one_folder_keep_both_configs(tmp_path: Path) -> None:
    """Both runs start while the folder's lock is taken, so both wait and then race for it: the
    one that gets it second reads what the first wrote."""
    root = tmp_path / "manifests"
    output_dir(RENDER, root)
    one_order = applied(tmp_path, PRESETS, CLOUD_SQL)
    other_order = applied(tmp_path, CLOUD_SQL, PRESETS)
    with holding(root / SCHEDULER.parent):
        runs = [start("inject", "-i", "--config", config, root) for config in (PRESETS, CLOUD_SQL)]
        said = [first_line(run) for run in runs]
    for line in said:
        assert line.startswith("airflow-sidecars inject: waiting for ")
    for run, line in zip(runs, said, strict=True):
        code, stdout, stderr = finish(run, line)
        assert code == 0, stderr
        assert stdout == b"" and f"inject: wrote {root / SCHEDULER}" in stderr
    after = read_tree(root)
    assert after in (one_order, other_order)  # both configs' sidecars, no temporary left
    assert b"cloud-sql-proxy" in after[SCHEDULER] and b"s3-sync" in after[SCHEDULER]


def test_two_runs_started_together_lose_nothing(tmp_path: Path) -> None:
    """As two CI jobs start them: both configs' sidecars end in the files, or one run fails
    and says so; never a run that says "wrote" and whose sidecars are gone."""
    root = tmp_path / "manifests"
    output_dir(RENDER, root)
    runs = {
        config: start("inject", "-i", "--config", config, root) for config in (PRESETS, CLOUD_SQL)
    }
    ended = {config: finish(run) for config, run in runs.items()}
    after = read_tree(root)
    if all(code == 0 for code, _, _ in ended.values()):
        assert after in (
            applied(tmp_path, PRESETS, CLOUD_SQL),
            applied(tmp_path, CLOUD_SQL, PRESETS),
        )
    else:  # one failed, loudly, and the other's work is what the files hold
        [(failed, (_, _, said))] = [(c, e) for c, e in ended.items() if e[0] != 0]
        assert "no file was written" in said
        [kept] = set(runs) - {failed}
        assert after == applied(tmp_path, kept)


def test_a_run_that_waited_reads_the_files_after_the_wait(tmp_path: Path) -> None:
    """A change made while the run waits for the lock is read and kept."""
    root = real(tmp_path) / "manifests"
    output_dir(RENDER, root)
    edit = b"# edited while the run waited\n"
    with holding(root / SCHEDULER.parent):
        run = start("inject", "-i", "--config", PRESETS, root)
        said = first_line(run)
        (root / SCHEDULER).write_bytes(edit + (root / SCHEDULER).read_bytes())
    code, _, stderr = finish(run, said)
    assert code == 0, stderr
    assert said == (
        f"airflow-sidecars inject: waiting for {root / SCHEDULER.parent}: another "
        "airflow-sidecars run holds its lock (at most 60 s, --lock-timeout)\n"
    )
    written = (root / SCHEDULER).read_bytes()
    assert written.startswith(edit) and b"s3-sync" in written


@pytest.mark.parametrize("changed", [SCHEDULER, SERVICE], ids=["written", "not-written"])
def test_a_file_changed_while_the_run_works_fails_it_and_nothing_is_written(
    tmp_path: Path, changed: Path
) -> None:
    """Someone who does not take the lock (an editor, another tool) changes an input between
    the run's reading and its writing: the run writes no file at all and says which one
    changed. The run reads the inputs, then the config: given as a named pipe, the config
    holds the run there while the test changes the file."""
    root = tmp_path / "manifests"
    output_dir(RENDER, root)
    config = tmp_path / "config.yaml"
    os.mkfifo(config)
    run = start("inject", "-i", "--config", config, root)
    pipe = open_for_writing(config, run)  # the run has read its inputs and opened the config
    (root / changed).write_bytes((root / changed).read_bytes() + b"# changed meanwhile\n")
    before = read_tree(root)
    with os.fdopen(pipe, "wb") as handle:
        handle.write(PRESETS.read_bytes())
    code, stdout, stderr = finish(run)
    assert code == 1 and stdout == b""
    assert (
        f"airflow-sidecars inject: {root / changed}: another program changed it since this run "
        "read it: no file was written; run again\n"
    ) in stderr
    assert "inject: wrote" not in stderr
    assert read_tree(root) == before  # nothing written, no temporary left


def open_for_writing(fifo: Path, run: subprocess.Popen[bytes]) -> int:
    """The named pipe's writing end, once `run` has opened its reading end."""
    deadline = time.monotonic() + 60
    while True:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            assert run.poll() is None, finish(run)
            assert time.monotonic() < deadline, "the run never opened its config"
            time.sleep(0.02)
            continue
        os.set_blocking(descriptor, True)
        return descriptor


@pytest.mark.parametrize("command", ["inject", "remove"])
@pytest.mark.parametrize("given", ["folder", "file"])
def test_a_lock_held_too_long_fails_the_run_and_nothing_is_read(
    tmp_path: Path, command: str, given: str
) -> None:
    root = real(tmp_path) / "manifests"
    output_dir(RENDER, root)
    if command == "remove":  # something to take back
        assert run_cli("inject", "-i", "--config", PRESETS, root).returncode == 0
    before = read_tree(root)
    target = root if given == "folder" else root / SCHEDULER
    folder = root / SCHEDULER.parent
    config = ["--config", str(PRESETS)] if command == "inject" else []
    with holding(folder):
        started = time.monotonic()
        completed = run_cli(command, "-i", "--lock-timeout", "0.5", *config, target)
        waited = time.monotonic() - started
    assert completed.returncode == 1 and completed.stdout == b""
    assert completed.stderr == (
        f"airflow-sidecars {command}: waiting for {folder}: another airflow-sidecars run "
        "holds its lock (at most 0.5 s, --lock-timeout)\n"
        f"airflow-sidecars {command}: {folder}: another airflow-sidecars run still holds its "
        "lock after 0.5 s: nothing was read or written\n"
    )
    assert waited >= 0.5
    assert read_tree(root) == before


def test_lock_timeout_zero_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(RENDER.read_bytes())
    with holding(tmp_path):
        arguments = ["-i", "--lock-timeout", "0", "--config", str(PRESETS), "r.yaml"]
        completed = run_cli("inject", *arguments, cwd=tmp_path)
    assert completed.returncode == 1
    assert completed.stderr == (
        f"airflow-sidecars inject: {real(tmp_path)}: another airflow-sidecars run holds its lock: "
        "nothing was read or written\n"
    )
    assert (tmp_path / "r.yaml").read_bytes() == RENDER.read_bytes()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--lock-timeout", "5", "r.yaml"], "--lock-timeout is for --in-place runs"),
        (["-i", "--lock-timeout", "-1", "r.yaml"], "argument --lock-timeout: "),
        (["-i", "--lock-timeout", "soon", "r.yaml"], "argument --lock-timeout: "),
    ],
)
def test_lock_timeout_misuse(tmp_path: Path, arguments: list[str], message: str) -> None:
    (tmp_path / "r.yaml").write_bytes(RENDER.read_bytes())
    completed = run_cli("inject", "--config", PRESETS, *arguments, cwd=tmp_path)
    assert completed.returncode == 2 and completed.stdout == b""
    assert message in completed.stderr
    assert (tmp_path / "r.yaml").read_bytes() == RENDER.read_bytes()


def test_the_locked_folders_are_the_real_folders_of_the_files_in_order(tmp_path: Path) -> None:
    """One lock per folder that holds a file, found through links (the write goes through
    them), in the order of their real paths, the same in every run: two runs never wait for
    each other crosswise."""
    for folder in ("b", "a/x", "c"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "r.yaml").write_text("{}\n")
    (tmp_path / "c" / "link.yaml").symlink_to(tmp_path / "a" / "x" / "r.yaml")
    files = [str(tmp_path / f) for f in ("c/r.yaml", "b/r.yaml", "c/link.yaml", "a/x/r.yaml")]
    real = os.path.realpath(tmp_path)
    assert inputfiles.lock_folders(files) == [f"{real}/a/x", f"{real}/b", f"{real}/c"]
