"""The command line's stdio, which only a real process has: closed stdin, stdout or stderr, a
stdout pipe nobody reads, a full disk, and the config and the input both on stdin. Each is said
on stderr with exit status 1 or 2, never as a traceback; a closed stderr loses the words, not
the run.

The first group runs both functions; the second pins the exact exit status and message of
inject.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_validate
from conftest import FIXTURES, ROOT, config_yaml, run_cli


def _errors(outcome: Outcome) -> list[str]:
    return [r.line() for r in outcome.results if r.severity == "error"][:5]


CLI_RENDER = FIXTURES / "official-1.15.0" / "01-default.yaml"
CLI_CONFIG = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
HOOKS = FIXTURES / "official-1.15.0" / "01-default.hooks.yaml"


def _bash(script: str, *args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """`script` under bash, with $1 the Python interpreter and $2... the arguments."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    return subprocess.run(
        [bash, "-c", script, "bash", sys.executable, *map(str, args)],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
        timeout=120,
    )


def _no_traceback(stderr: bytes) -> str:
    text = stderr.decode(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    return text


COMMANDS = {
    "inject": ("inject", "--config", CLI_CONFIG, CLI_RENDER),
    "validate": ("validate", CLI_RENDER),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_closed_stdout_is_an_error_not_a_traceback(command: str) -> None:
    completed = _bash('exec "$1" -m airflow_sidecars "${@:2}" >&-', *COMMANDS[command])
    stderr = _no_traceback(completed.stderr)
    assert completed.returncode in (1, 2), (completed.returncode, stderr[-2000:])
    assert stderr.strip(), "say why nothing was written"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_stdout_pipe_without_reader_is_an_error_not_a_traceback(command: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: every write fails with EPIPE
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow_sidecars", *map(str, COMMANDS[command])],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
    finally:
        os.close(write_end)
    _, stderr_bytes = process.communicate(timeout=120)
    stderr = _no_traceback(stderr_bytes)
    assert process.returncode in (1, 2), (process.returncode, stderr[-2000:])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_stdout_on_a_full_disk_is_an_error_not_a_traceback(command: str) -> None:
    completed = _bash('exec "$1" -m airflow_sidecars "${@:2}" >/dev/full', *COMMANDS[command])
    stderr = _no_traceback(completed.stderr)
    assert completed.returncode in (1, 2), (completed.returncode, stderr[-2000:])
    assert stderr.strip(), "say why nothing was written"


@pytest.mark.parametrize(
    "arguments",
    [("inject", "--config", CLI_CONFIG), ("validate",), ("inject", "--config", CLI_CONFIG, "-")],
    ids=["inject", "validate", "inject-dash"],
)
def test_closed_stdin_is_an_error_not_a_traceback(arguments: tuple[str | Path, ...]) -> None:
    completed = _bash('exec "$1" -m airflow_sidecars "${@:2}" <&-', *arguments)
    stderr = _no_traceback(completed.stderr)
    assert completed.returncode in (1, 2), (completed.returncode, stderr[-2000:])
    assert stderr.strip(), "say that there is no input"


@pytest.mark.parametrize(
    ("arguments", "input_file"),
    [
        (("inject", "--config", CLI_CONFIG), CLI_RENDER),
        (("validate",), HOOKS),
    ],
    ids=["inject", "validate"],
)
def test_closed_stderr_on_success_still_exits_0(
    arguments: tuple[str | Path, ...], input_file: Path
) -> None:
    data = input_file.read_bytes()
    config = ConfigSource(str(CLI_CONFIG), CLI_CONFIG.read_bytes()) if len(arguments) > 1 else None
    run = run_inject if arguments[0] == "inject" else run_validate
    expected = run([(None, data)], config)
    assert expected.exit_code == 0, _errors(expected)
    completed = _bash('exec "$1" -m airflow_sidecars "${@:2}" 2>&-', *arguments, stdin=data)
    assert completed.returncode == 0, completed.returncode
    assert completed.stdout == expected.output


@pytest.mark.parametrize(
    "arguments",
    [
        ("inject", "--config", "-"),
        ("inject", "--config", "-", "-"),
        ("validate", "--config", "-"),
        ("validate", "--config", "-", "-"),
    ],
)
def test_config_from_stdin_with_input_from_stdin_is_a_usage_error(
    arguments: tuple[str, ...],
) -> None:
    completed = run_cli(*arguments, stdin=CLI_RENDER.read_bytes())
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    assert completed.returncode == 2, (completed.returncode, completed.stderr[-2000:])
    assert "stdin" in completed.stderr or "--config -" in completed.stderr, completed.stderr
    assert completed.stdout == b"", "nothing may be written when stdin was not read as input"


# -- exact status and message (inject) ------------------------------------------------------------

RENDER = CLI_RENDER.read_text()
PYTHON = sys.executable
SIDECARS = config_yaml(
    {
        "scheduler": {"extraContainers": [{"name": "side", "image": "busybox:1.36"}]},
        "workers": {
            "extraContainers": [{"name": "w", "image": "busybox:1.36"}],
            "extraVolumes": [{"name": "v", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "v", "mountPath": "/v"}],
        },
    },
    "t",
)


def _shell(command: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "c.yaml").write_bytes(SIDECARS)
    (tmp_path / "r.yaml").write_text(RENDER)
    cli = f"{PYTHON} -m airflow_sidecars inject"
    return subprocess.run(
        ["bash", "-c", command.format(cli=cli)],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("command", "code", "said"),
    [
        ("{cli} --config c.yaml r.yaml >&-", 1, b"cannot write the output: stdout is closed"),
        ("{cli} --config c.yaml <&- >/dev/null", 2, b"stdin is closed"),
        ("{cli} --config c.yaml r.yaml >/dev/full", 1, b"cannot write the output: No space left"),
        ("{cli} --config - < c.yaml", 2, b"--config - reads the config from stdin"),
    ],
    ids=["stdout-closed", "stdin-closed", "stdout-full", "config-and-input-on-stdin"],
)
def test_stdio_that_cannot_work_is_said_without_a_traceback(
    command: str, code: int, said: bytes, tmp_path: Path
) -> None:
    completed = _shell(command, tmp_path)
    assert completed.returncode == code
    assert said in completed.stderr
    assert b"Traceback" not in completed.stderr


def test_a_closed_stderr_loses_the_words_not_the_run(tmp_path: Path) -> None:
    completed = _shell("{cli} --config c.yaml r.yaml 2>&-", tmp_path)
    assert completed.returncode == 0
    assert b"name: side" in completed.stdout
