"""`airflow-sidecars inject|validate|audit|remove|from-values|schema|install-kustomize-plugin`: the
command line.

The command line is a contract: extend it, don't rename.

stdout carries only data; stderr a short summary for people (kustomize never shows `results`,
docs/krm-contract.md §2.1). Exit 0 on success (warnings allowed), 1 when any error result was
produced, 2 for command-line misuse.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from airflow_sidecars import __version__
from airflow_sidecars.commands import fromvaluescli, helptext
from airflow_sidecars.commands.stdio import keep_said, said, write_stdout
from airflow_sidecars.commands.stdio import say as _say
from airflow_sidecars.krmio import inputfiles

# inject's --report FILE as an environment variable, for plugin scripts (caller.py)
REPORT_VARIABLE = "AIRFLOW_SIDECARS_REPORT"

if TYPE_CHECKING:
    from airflow_sidecars.krmio.results import Result
    from airflow_sidecars.runs import api


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="airflow-sidecars",
        description="KRM functions that add sidecars to rendered Apache Airflow Helm manifests.",
        epilog=helptext.TOP_EPILOG,
        formatter_class=helptext.Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # The functions' descriptions and examples are their kpt catalog READMEs (helptext.py).
    inject = _add_function(
        commands,
        "inject",
        "add the configured sidecars, init containers, volumes and mounts",
        helptext.function_description("inject"),
    )
    _add_in_place(inject)
    inject.add_argument(
        "--plan",
        action="store_true",
        help="print what inject would add, per release and workload (containers, init "
        "containers, volumes, mounts, env, annotations, ServiceAccount annotations) and what "
        "reached nothing and why, instead of the manifests; a table, or with -o json one JSON "
        "document. It is the plan inject applies: the edits it makes, said entry by entry",
    )
    _add_caller_options(inject)
    _add_function(
        commands,
        "validate",
        "check the Airflow pods; change nothing",
        helptext.function_description("validate"),
    )
    audit = commands.add_parser(
        "audit",
        help="hold live objects against the config: what is in sync, missing, drifted",
        description=helptext.AUDIT_DESCRIPTION,
        epilog=helptext.AUDIT_EPILOG,
        formatter_class=helptext.Formatter,
    )
    audit.add_argument("--config", metavar="FILE", help="the AirflowSidecars config (required)")
    audit.add_argument(
        "-o",
        "--output",
        metavar="FORMAT",
        help="table (the default) or json (one object per finding: workload, namespace, "
        "config, item, state, diff)",
    )
    audit.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 also for unrecorded and orphaned items and task pods made from an older "
        "template, not only missing and drifted",
    )
    _add_inputs(audit)
    remove = commands.add_parser(
        "remove",
        help="take back what inject added (as its records say)",
        description=(
            "Read what inject wrote (a ResourceList or a plain stream, from FILEs or stdin) and "
            "take back everything its records say it added: with --config, that config's part "
            "(by its metadata.name); without, every config's. The output is the chart's render "
            "again, with the records gone."
        ),
        epilog=helptext.REMOVE_EPILOG,
        formatter_class=helptext.Formatter,
    )
    remove.add_argument("--config", metavar="FILE", help="take back only this config's part")
    remove.add_argument(
        "--force",
        action="store_true",
        help=(
            "also take back what changed since it was added, or what a record of version 0.1 "
            "names without a digest (never the chart's own containers)"
        ),
    )
    _add_output_options(remove)
    _add_in_place(remove)
    _add_inputs(remove)
    fromvaluescli.add_parser(commands)
    commands.add_parser(
        "schema",
        help="print the JSON Schema of the AirflowSidecars config",
        description=helptext.SCHEMA_DESCRIPTION,
        epilog=helptext.SCHEMA_EPILOG,
        formatter_class=helptext.Formatter,
    )
    install = commands.add_parser(
        "install-kustomize-plugin",
        help="install the legacy kustomize exec plugin that runs inject",
        description=(
            "Write the executable that `kubectl kustomize --enable-alpha-plugins` (and "
            "`kustomize build --enable-alpha-plugins`) runs for a transformer of the config's "
            "apiVersion and kind (it prints where: <plugin home>/<group>/<version>/<kind in "
            "lower case>/<kind>). kustomize gives it the config file as its argument and the "
            "resources as a stream on stdin; it runs this installation's inject."
        ),
        epilog=helptext.INSTALL_EPILOG,
        formatter_class=helptext.Formatter,
    )
    install.add_argument(
        "--plugin-home",
        metavar="DIR",
        help="default: $KUSTOMIZE_PLUGIN_HOME, else $XDG_CONFIG_HOME/kustomize/plugin, "
        "else ~/.config/kustomize/plugin (where kustomize looks)",
    )
    return parser


def _add_function(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    summary: str,
    description: str,
) -> argparse.ArgumentParser:
    """A KRM function's command: the same arguments for each."""
    command = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=helptext.function_epilog(name),
        formatter_class=helptext.Formatter,
    )
    command.add_argument("--config", metavar="FILE", help="an AirflowSidecars config file")
    _add_output_options(command)
    command.add_argument(
        "--strict",
        action="store_true",
        help="make every reach warning an error: a section, value or preset that matches no "
        "workload (as spec.strict: true); for pipelines that must not deploy without them",
    )
    _add_inputs(command)
    return command


def _add_in_place(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-i",
        "--in-place",
        action="store_true",
        help="write each input file back, only those that changed (for committed rendered "
        "manifests); nothing on stdout but --diff. Nothing is written when there are errors, "
        "or when a file changed since it was read. The folders that hold the files are locked "
        "for the run: another --in-place run on them waits",
    )
    command.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        type=_seconds,
        help=f"with --in-place: how long to wait for another run's lock before failing (exit "
        f"1); default {LOCK_TIMEOUT:g}, 0 fails at once",
    )


def _add_caller_options(command: argparse.ArgumentParser) -> None:
    """For callers that keep stderr from the user: Helm 4's plugin runner never prints it, and
    kustomize's exec plugin drops it on success (the plugin scripts pass these)."""
    command.add_argument(
        "--report",
        metavar="FILE",
        help=f"also write what is said on stderr to FILE (default ${REPORT_VARIABLE}), for "
        "callers that do not show stderr: the runs of one caller process (Helm 4's two calls "
        "with the post-render strategy separate) add to it, a new caller's run replaces it",
    )
    command.add_argument(
        "--terminal",
        action="store_true",
        help="also write what is said on stderr to the controlling terminal (/dev/tty), when "
        "there is one and stderr is not it",
    )
    command.add_argument(
        "--helm-plugin",
        action="store_true",
        help="run as Helm 4's post-renderer plugin (pipelines/helm/plugin): with the "
        "post-render strategy separate, the hooks call hands the call with the rest of the same "
        "Helm run what the hooks' pods need (ServiceAccount annotations), and that the hook "
        "Jobs' sections reached them",
    )


# How long an --in-place run waits for another one's lock on its folders. Waiting is what two
# CI jobs started together on one checkout need (a run takes seconds); failing after a bound
# keeps a job from hanging behind a run that is stuck.
LOCK_TIMEOUT = 60.0


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return seconds


def _add_inputs(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="input files, or folders (read recursively: *.yaml, *.yml, *.json, in path order; "
        "names starting with '.' are skipped); '-' or none for stdin",
    )


def _add_output_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-o", "--output", metavar="FILE", help="write the output to FILE instead of stdout"
    )
    command.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff of each changed object on stdout (the output itself only "
        "with -o)",
    )
    command.add_argument("--quiet", action="store_true", help="leave out the info lines")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "schema":
        from airflow_sidecars.configuration.config import schema_text  # noqa: PLC0415 - keep start-up light

        sys.stdout.write(schema_text())
        return 0
    if args.command == "install-kustomize-plugin":
        from airflow_sidecars.commands.plugin import install_kustomize_plugin  # noqa: PLC0415

        try:
            path = install_kustomize_plugin(args.plugin_home)
        except OSError as error:
            _say(f"airflow-sidecars {args.command}: {error}\n")
            return 1
        sys.stdout.write(f"{path}\n")
        return 0
    if args.command == "from-values":
        return fromvaluescli.run(args, _say)
    if args.command == "audit":
        return _audit(args)
    report = getattr(args, "report", None) or (
        os.environ.get(REPORT_VARIABLE) if args.command == "inject" else None
    )
    if not (report or getattr(args, "terminal", False)):
        return _function(args)
    from airflow_sidecars.commands import caller  # noqa: PLC0415 - only plugin scripts ask

    keep_said()
    try:
        return _function(args)
    finally:
        if getattr(args, "terminal", False):
            caller.tell_terminal(said())
        if report:
            problem = caller.write_report(report, said(), caller.caller())
            if problem is not None:
                _say(f"airflow-sidecars {args.command}: --report {problem}\n")


def _audit(args: argparse.Namespace) -> int:
    """audit: the findings on stdout, the summary on stderr; exit 0 all in sync, 1 drift (as
    --strict says), 2 misuse (no config, an unreadable input or config)."""
    from airflow_sidecars.commands import auditview  # noqa: PLC0415 - keep start-up light
    from airflow_sidecars.runs import api  # noqa: PLC0415
    from airflow_sidecars.transforms.audit import FAILING  # noqa: PLC0415

    who = "airflow-sidecars audit"
    if not args.config:
        _say(f"{who}: --config FILE is required: the config to hold the objects against\n")
        return 2
    if args.output not in (None, "table", "json"):
        _say(f"{who}: -o is the format: table (the default) or json, not {args.output!r}\n")
        return 2
    names = args.files or [inputfiles.STDIN]
    if args.config == inputfiles.STDIN and inputfiles.STDIN in names:
        _say(f"{who}: --config - reads the config from stdin: give the live objects as files\n")
        return 2
    try:
        files = inputfiles.expand(names)
        inputs = [
            (None if name == inputfiles.STDIN else name, inputfiles.read(name, lambda: None))
            for name in files
        ]
        config = api.ConfigSource(args.config, inputfiles.read(args.config, lambda: None))
    except OSError as error:
        return _unreadable("audit", error)
    audited = api.run_audit(inputs, config)
    if audited.misuse:
        for problem in audited.misuse:
            _say(f"{who}: {problem}\n")
        return 2
    findings, problems = audited.findings, audited.problems
    if args.output == "json":
        text = auditview.as_json(findings)
    else:
        text = auditview.as_table(findings, problems)
    if not _write_output("audit", text.encode("utf-8")):
        return 1
    if args.output == "json":
        for line in auditview.unaudited(problems):
            _say(f"{who}: {line}\n")
    _say(auditview.summary(findings, problems, audited.workloads) + "\n")
    failing = {state for state in (found.state for found in findings) if state != "in-sync"}
    if not args.strict:
        failing &= FAILING
    return 1 if failing or any(problem.blocking for problem in problems) else 0


def _function(args: argparse.Namespace) -> int:
    """inject, validate or remove: run and shown as the arguments say."""
    show = _Show(
        getattr(args, "strict", False),
        args.output,
        args.diff,
        args.quiet,
        getattr(args, "in_place", False),
        getattr(args, "lock_timeout", None),
        getattr(args, "force", False),
        getattr(args, "plan", False),
        getattr(args, "helm_plugin", False),
    )
    return _run(args.command, args.config, args.files or [inputfiles.STDIN], show)


class _Show(NamedTuple):
    """How a function's run is asked for and shown."""

    strict: bool
    output: str | None  # a file for the output, else stdout
    diff: bool  # the changed objects as a diff on stdout
    quiet: bool  # no info lines
    in_place: bool  # each input file written back
    lock_timeout: float | None  # seconds to wait for another run's lock (None: not given)
    force: bool = False  # remove: also what changed since it was added
    plan: bool = False  # inject: the plan (a table, or JSON with -o json), not the manifests
    helm_plugin: bool = False  # inject: as Helm 4's post-renderer plugin (caller.py)


def _run(command: str, config_path: str | None, names: list[str], show: _Show) -> int:
    try:
        files = inputfiles.expand(names)
    except OSError as error:
        return _unreadable(command, error)
    misuse = _misuse(config_path, files, show)
    if misuse is not None:
        _say(f"airflow-sidecars {command}: {misuse}\n")
        return 2
    if not show.in_place:
        return _run_on(command, config_path, files, show)
    # Written back in place, the files are read, planned and written under the lock of every
    # folder that holds one: a second run waits, then reads what the first wrote.
    seconds = LOCK_TIMEOUT if show.lock_timeout is None else show.lock_timeout
    who = f"airflow-sidecars {command}"

    def waiting(folder: str) -> None:
        _say(
            f"{who}: waiting for {folder}: another airflow-sidecars run holds its lock (at most "
            f"{seconds:g} s, --lock-timeout)\n"
        )

    def unlockable(folder: str, error: OSError) -> None:
        _say(f"{who}: {folder}: cannot lock it ({error.strerror or error}): going on unlocked\n")

    try:
        held = inputfiles.lock(files, seconds, waiting, unlockable)
    except inputfiles.Held as busy:
        holds = f"still holds its lock after {seconds:g} s" if seconds else "holds its lock"
        nothing = "nothing was read or written"
        _say(f"{who}: {busy.folder}: another airflow-sidecars run {holds}: {nothing}\n")
        return 1
    try:
        return _run_on(command, config_path, files, show)
    finally:
        inputfiles.unlock(held)


def _unreadable(command: str, error: OSError) -> int:
    where = error.filename or "stdin"
    _say(f"airflow-sidecars {command}: {where}: {error.strerror or error}\n")
    return 2


def _run_on(command: str, config_path: str | None, files: list[str], show: _Show) -> int:
    """The run once the files are known (and, in place, locked): read, plan, deliver."""
    from airflow_sidecars.runs import api  # noqa: PLC0415 - keep start-up light

    def waiting() -> None:
        _say(
            f"airflow-sidecars {command}: waiting for manifests on stdin (a terminal): paste "
            f"them and press Ctrl-D, or give files or folders: airflow-sidecars {command} "
            "--config FILE RENDER.yaml|DIR\n"
        )

    try:
        inputs = [
            (None if name == inputfiles.STDIN else name, inputfiles.read(name, waiting))
            for name in files
        ]
        config = None
        if config_path:
            config = api.ConfigSource(config_path, inputfiles.read(config_path, waiting))
    except OSError as error:
        return _unreadable(command, error)
    if config is None and command != "remove":
        given = _config_given_as_input(inputs)
        if given is not None:
            _say(
                f"airflow-sidecars {command}: {given} holds an AirflowSidecars config, not "
                f"manifests: give it with --config ({_usage(command, given)})\n"
            )
            return 2
    if show.plan:
        return _show_plan(inputs, config, show)
    if command == "remove":
        outcome = api.run_remove(inputs, config, each_file=show.in_place, force=show.force)
    elif command == "validate":
        outcome = api.run_validate(inputs, config, strict=show.strict)
    else:
        outcome = _inject(inputs, config, show)
    if show.in_place and outcome.mode == "resourcelist":
        _say(
            f"airflow-sidecars {command}: --in-place writes manifest files back, and the input "
            "is a ResourceList (KRM mode, what kpt and kustomize send): nothing was written\n"
        )
        return 2
    written = _deliver(command, outcome, inputs, show)
    from airflow_sidecars.krmio.results import by_severity  # noqa: PLC0415

    for result in by_severity(outcome.results):
        if not (show.quiet and result.severity == "info"):
            _say(f"{command}: {result.line()}\n")
    from airflow_sidecars.runs.summary import line  # noqa: PLC0415

    _say(line(command, outcome.summary, outcome.results) + "\n")
    if not written:
        return 1
    return 2 if command == "inject" and _no_config(outcome.results) else outcome.exit_code


def _show_plan(
    inputs: list[tuple[str | None, bytes]], config: api.ConfigSource | None, show: _Show
) -> int:
    """inject --plan: the plan on stdout, the exit code inject would give."""
    from airflow_sidecars.commands import planview  # noqa: PLC0415
    from airflow_sidecars.runs import api  # noqa: PLC0415

    planned = api.plan_inject(inputs, config, strict=show.strict)
    outcome = planned.outcome
    applies = outcome.summary.applied
    if show.output == "json":
        text = planview.as_json(planned.entries, outcome.results, applies)
    else:
        text = planview.as_table(planned.entries, outcome.results, applies, show.quiet)
    if not _write_output("inject", text.encode("utf-8")):
        return 1
    return 2 if _no_config(outcome.results) else outcome.exit_code


def _inject(
    inputs: list[tuple[str | None, bytes]], config: api.ConfigSource | None, show: _Show
) -> api.Outcome:
    """inject; as Helm 4's plugin, with what the call before in the same Helm run handed on,
    and leaving what the next one needs (caller.py)."""
    from airflow_sidecars.runs import api  # noqa: PLC0415 - keep start-up light

    if not show.helm_plugin:
        return api.run_inject(inputs, config, strict=show.strict, each_file=show.in_place)
    from airflow_sidecars.commands import caller  # noqa: PLC0415

    who = caller.caller()
    handed = caller.take_handover(who)
    outcome = api.run_inject(
        inputs, config, strict=show.strict, each_file=show.in_place, helm_run=handed
    )
    if outcome.handover is not None and not outcome.exit_code:
        caller.leave_handover(who, outcome.handover)
    return outcome


def _config_given_as_input(inputs: list[tuple[str | None, bytes]]) -> str | None:
    """The input file (or "stdin") that holds an AirflowSidecars config, when no --config was
    given: the config forgotten as an option and given as the input, which would otherwise be
    checked as a render with no workloads. A ResourceList is left alone: its functionConfig
    is the config (KRM mode)."""
    from airflow_sidecars.configuration.config import KIND  # noqa: PLC0415
    from airflow_sidecars.krmio import krm, krmread  # noqa: PLC0415

    for name, data in inputs:
        if KIND.encode() not in data:
            continue  # a render cannot hold one: no need to parse it
        try:
            parsed = krmread.parse([(name, krm.decode(data, name))])
        except krm.InputError:
            continue  # the run says what is wrong with it
        if parsed.mode == "stream" and any(item.kind == KIND for item in parsed.items):
            return name or "stdin"
    return None


def _usage(command: str, config: str) -> str:
    if config == "stdin":
        return f"airflow-sidecars {command} --config FILE RENDER.yaml"
    return f"airflow-sidecars {command} --config {config} RENDER.yaml"


def _no_config(results: list[Result]) -> bool:
    """inject was given no config at all (no --config, no functionConfig): command-line misuse,
    as for a script or plugin; the output is still the input as it came."""
    from airflow_sidecars.configuration.config import NO_CONFIG  # noqa: PLC0415

    return any(r.tags.get("rule") == "config" and r.message == NO_CONFIG for r in results)


def _misuse(config_path: str | None, files: list[str], show: _Show) -> str | None:
    """What the command line asks for that cannot be done (exit 2), or None."""
    if config_path == inputfiles.STDIN and inputfiles.STDIN in files:
        return (
            "--config - reads the config from stdin, which then cannot carry the input too: "
            "give the input as files"
        )
    if show.plan:
        return _plan_misuse(show)
    if not show.in_place:
        if show.lock_timeout is not None:
            return "--lock-timeout is for --in-place runs: give -i, or leave it out"
        return None
    if inputfiles.STDIN in files:
        return "--in-place writes files back: give the input as files or folders, not stdin"
    if show.output is not None:
        return "--in-place and -o both say where the output goes: give one"
    twice = inputfiles.twice(files)
    if twice is not None:
        return f"--in-place: {twice} is given twice"
    return None


def _plan_misuse(show: _Show) -> str | None:
    """What --plan cannot be given with: it writes no manifests, and -o is its format."""
    if show.output is not None and show.output not in ("table", "json"):
        return (
            f"with --plan, -o is the format: table (the default) or json, not {show.output!r}; "
            "to keep the plan in a file, redirect stdout"
        )
    for given, option in ((show.in_place, "--in-place"), (show.diff, "--diff")):
        if given:
            return f"--plan writes no manifests: leave out {option}"
    if show.lock_timeout is not None:
        return "--lock-timeout is for --in-place runs: give -i, or leave it out"
    return None


def _deliver(
    command: str, outcome: api.Outcome, inputs: list[tuple[str | None, bytes]], show: _Show
) -> bool:
    """The output to stdout, to `-o FILE` or back into the input files, and with --diff the
    changes on stdout."""
    output = outcome.output
    if show.in_place:
        if not _write_back(command, outcome, inputs, show.quiet):
            return False
    elif show.output is not None:
        try:
            with open(show.output, "wb") as handle:
                handle.write(output)
        except OSError as error:
            _say(f"airflow-sidecars {command}: {show.output}: {error.strerror or error}\n")
            return False
    if not show.diff:
        return show.in_place or show.output is not None or _write_output(command, output)
    from airflow_sidecars.runs.diffs import object_diffs  # noqa: PLC0415

    before = [(name, data.decode("utf-8", "replace")) for name, data in inputs]
    colour = sys.stdout is not None and sys.stdout.isatty()
    text = object_diffs(before, output.decode("utf-8", "replace"), colour=colour)
    return _write_output(command, text.encode("utf-8"))


def _write_back(
    command: str, outcome: api.Outcome, inputs: list[tuple[str | None, bytes]], quiet: bool
) -> bool:
    """Each input file that changed, written back; none when the run had errors, or when any
    input file changed since it was read."""
    if outcome.exit_code or outcome.files is None:
        return True  # nothing applied: every file stays as it is
    read = [(name, before) for name, before in inputs if name is not None]
    changes = [
        (name, after)
        for (name, before), after in zip(inputs, outcome.files, strict=True)
        if name is not None and after != before
    ]
    if not changes:
        return True
    try:
        inputfiles.replace_all(read, changes)
    except inputfiles.Stale as stale:
        _say(
            f"airflow-sidecars {command}: {stale.name}: another program changed it since this "
            "run read it: no file was written; run again\n"
        )
        return False
    except OSError as error:
        _say(f"airflow-sidecars {command}: {error.filename}: {error.strerror or error}\n")
        return False
    if not quiet:
        for name, _ in changes:
            _say(f"{command}: wrote {name}\n")
    return True


def _write_output(command: str, output: bytes) -> bool:
    return write_stdout(output, f"airflow-sidecars {command}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
