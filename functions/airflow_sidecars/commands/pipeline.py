"""`airflow-sidecars-pipeline`: the CI pipe (render, inject, validate) as one command, so that
it exists wherever the package is installed, also in a repository that has none of this
project's files.

    airflow-sidecars-pipeline --config sidecars.yaml \\
        --render 'helm template airflow airflow --repo https://airflow.apache.org' > out.yaml

It does what this shell pipe does, in one process:

    set -o pipefail
    $RENDER | airflow-sidecars inject --strict --config C \\
      | airflow-sidecars validate --strict --config C

with the same stdout, the same stderr lines (but each finding once: what validate finds again
in inject's output is not printed twice) and the same exit status: 0; 1 when either
function finds an error (the output is then the render as it came: a run with errors applies
nothing); 2 for misuse (no config, a file that cannot be read). validate runs on inject's
output even when inject failed, as in the pipe, so that its findings are shown too. A render
command that fails or cannot start is exit 1 with nothing on stdout (the pipe would have fed
what it printed to the functions, and failed on that).

The input is the FILEs, else what the render command prints (--render, else $RENDER; split
like a shell command line, without expansions), else stdin. The config is --config, else
$AIRFLOW_SIDECARS_CONFIG. There is no default config: a forgotten setting must not deploy an
example.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow_sidecars import __version__
from airflow_sidecars.commands.stdio import say as _say
from airflow_sidecars.commands.stdio import write_stdout
from airflow_sidecars.krmio import inputfiles
from airflow_sidecars.runs.summary import line

if TYPE_CHECKING:
    from airflow_sidecars.runs import api

PROG = "airflow-sidecars-pipeline"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Render, inject, validate: run the render command (or read FILEs, or stdin), add "
            "what the config declares (airflow-sidecars inject), check the result "
            "(airflow-sidecars validate) and print it. Exit 1 when either finds an error; "
            "the output is then the render as it came."
        ),
        epilog=(
            "example: airflow-sidecars-pipeline --config sidecars.yaml --render 'helm template "
            "airflow airflow --repo https://airflow.apache.org -f values.yaml' > manifests.yaml"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the AirflowSidecars config file (default: $AIRFLOW_SIDECARS_CONFIG; required)",
    )
    parser.add_argument(
        "--render",
        metavar="COMMAND",
        help="the command that prints the rendered manifests, e.g. 'helm template ...' "
        "(default: $RENDER); split like a shell command line, without variables or globs",
    )
    parser.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="make every reach warning an error (default: strict, as a pipeline that must not "
        "deploy without its sidecars needs)",
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="rendered manifests to read instead: files, or folders (read as "
        "`airflow-sidecars inject` reads them); '-': stdin",
    )
    return parser


class Misuse(Exception):
    """A run that cannot start: said in one line, exit 2."""


class RenderFailed(Exception):
    """The render command failed: said in one line, exit 1, nothing on stdout."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config_path = _config_path(args.config)
        files, render = _input_source(args.files, args.render)
        if config_path == "-" and (not (files or render) or "-" in files):
            raise Misuse(
                "--config - reads the config from stdin, which then cannot carry the input "
                "too: give the render command or input files"
            )
        # Read before the render runs: a wrong path fails at once.
        config = (config_path, _read(config_path))
        inputs = _render(render) if render else _read_inputs(files or ["-"])
    except Misuse as problem:
        _say(f"{PROG}: {problem}\n")
        return 2
    except RenderFailed as problem:
        _say(f"{PROG}: {problem}\n")
        return 1
    return _pipe(inputs, config, strict=args.strict)


Inputs = list[tuple[str | None, bytes]]


def _pipe(inputs: Inputs, config: tuple[str, bytes], *, strict: bool) -> int:
    """inject, then validate on what inject printed; the status as `set -o pipefail` gives it
    (the last stage that failed)."""
    from airflow_sidecars.runs import api  # noqa: PLC0415 - --help and the misuse messages do not pay for it

    source = api.ConfigSource(*config)
    injected = api.run_inject(inputs, source, strict=strict)
    said = _report("inject", injected, set())
    validated = api.run_validate([(None, injected.output)], source, strict=strict)
    _report("validate", validated, said)
    if not write_stdout(validated.output, PROG):
        return 1
    return validated.exit_code or injected.exit_code


def _input_source(files: list[str], render: str | None) -> tuple[list[str], str]:
    """The FILEs, else the render command (--render, else RENDER), else stdin: ([], "").
    RENDER is a default, so FILEs win over it; --render and FILEs together are a mistake."""
    if files and render is not None:
        raise Misuse("give either --render or input files, not both")
    if files:
        return files, ""
    command = render if render is not None else os.environ.get("RENDER", "")
    if not command and (sys.stdin is None or sys.stdin.isatty()):
        raise Misuse(
            "no input: give the render command (--render or RENDER), input files, or pipe the "
            "rendered manifests in"
        )
    return [], command


def _config_path(given: str | None) -> str:
    path = given or os.environ.get("AIRFLOW_SIDECARS_CONFIG", "")
    if not path:
        raise Misuse(
            "no config: give --config FILE or set AIRFLOW_SIDECARS_CONFIG to your "
            "AirflowSidecars config file (there is no default, so that a forgotten setting "
            "cannot deploy an example)"
        )
    return path


def _read_inputs(files: list[str]) -> Inputs:
    try:
        names = inputfiles.expand(files)
    except OSError as error:
        raise Misuse(f"{error.filename}: {error.strerror or error}") from None
    return [(None if name == "-" else name, _read(name)) for name in names]


def _render(command: str) -> Inputs:
    """The render command's stdout; its stderr goes to ours, as in the shell pipe."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise Misuse(f"the render command cannot be split: {error}: {command}") from None
    if not argv:
        raise Misuse("the render command is empty")
    try:
        completed = subprocess.run(argv, stdout=subprocess.PIPE, check=False)
    except OSError as error:
        raise RenderFailed(
            f"the render command could not start: {argv[0]}: {error.strerror or error}"
        ) from None
    if completed.returncode != 0:
        status = _status(completed.returncode)
        raise RenderFailed(f"the render command failed ({status}): {command}")
    return [(None, completed.stdout)]


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _read(name: str) -> bytes:
    try:
        return inputfiles.read(name, waiting=lambda: None)  # a terminal was refused before
    except OSError as error:
        raise Misuse(f"{error.filename or 'stdin'}: {error.strerror or error}") from None


def _report(function: str, outcome: api.Outcome, said: set[str]) -> set[str]:
    """Each result and the summary: the lines `airflow-sidecars FUNCTION` writes, except the
    findings an earlier stage already printed (validate reads inject's output with the same
    config, so a section that reached nothing is found by both: one finding, one line). The
    summary still counts all of this stage's. Gives what has been said so far."""
    from airflow_sidecars.krmio.results import by_severity  # noqa: PLC0415

    for result in by_severity(outcome.results):
        finding = result.line()
        if finding not in said:
            said.add(finding)
            _say(f"{function}: {finding}\n")
    _say(line(function, outcome.summary, outcome.results) + "\n")
    return said
