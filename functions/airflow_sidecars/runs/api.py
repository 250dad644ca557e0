"""Bytes in, bytes out: the whole function, without any I/O (the command line does the I/O).

`run_inject` and `run_validate` are what the command line runs and what scripts can call.
They never raise for bad input: every problem becomes an error result, and the output is
always complete - the input with the edits that could be made (KRM mode: plus the results),
or, when the input could not be read, the input as it came (KRM mode: a ResourceList that
carries the error). Both go through one loop, `_run`: parse the input, load the config,
transform, render the output, and (for inject) verify it. The transform is each function's
own, here; one render is transformed, rendered and verified in outcomes.py, a large stream
part by part in runparts.py, and an estate render by render in runestate.py.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from airflow_sidecars.configuration.config import (
    Config,
    ConfigError,
    ConfigSource,
    HelmRun,
    from_input,
)
from airflow_sidecars.krmio import krm, krmread, krmwrite
from airflow_sidecars.krmio.results import FileRef, Result
from airflow_sidecars.planning.planned import Entry, Target
from airflow_sidecars.planning.verify import verify
from airflow_sidecars.runs import estates, summary
from airflow_sidecars.runs.outcomes import (
    Asked,
    Function,
    Inputs,
    Outcome,
    Read,
    Step,
    Transform,
    Transformed,
    asked_of,
    finish,
    internal_error,
    render_one,
)
from airflow_sidecars.runs.runestate import run_estate, twice_results
from airflow_sidecars.runs.runparts import run_parts
from airflow_sidecars.runs.summary import Summary
from airflow_sidecars.transforms.inject import declared_missing_phases, inject
from airflow_sidecars.transforms.prune import Scope, prune

if TYPE_CHECKING:
    from airflow_sidecars.transforms.audit import Finding, Problem

__all__ = [
    "ConfigSource",
    "HelmRun",
    "Outcome",
    "Planned",
    "Summary",
    "plan_inject",
    "run_audit",
    "run_inject",
    "run_remove",
    "run_validate",
]


def run_inject(
    inputs: Inputs,
    config_file: ConfigSource | None,
    *,
    strict: bool = False,
    each_file: bool = False,
    helm_run: HelmRun | None = None,
) -> Outcome:
    """Add what the config declares; the output is the input with the edits. `strict`: every
    reach warning is an error (as `spec.strict: true`); `each_file`: also each input's own
    output (Outcome.files); `helm_run`: run as Helm 4's post-renderer plugin, with what the
    call before in the same Helm run handed on (`HelmRun()` when none did), and
    Outcome.handover what this call hands on."""
    return _run("inject", inputs, Asked(config_file, strict, each_file, helm_run), _inject)


class Planned(NamedTuple):
    """inject's run, and every edit it made, entry by entry (planned.py), in input order: what
    `inject --plan` shows. `outcome.summary.applied` is False when errors keep inject from
    writing any of it."""

    outcome: Outcome
    entries: list[tuple[Target, Entry]]


def plan_inject(
    inputs: Inputs, config_file: ConfigSource | None, *, strict: bool = False
) -> Planned:
    """run_inject, keeping what each render's run edited. The stream is read whole, never part
    by part (a part that finds it must hand over to the whole run would have said its edits
    already); parts give the same bytes as the whole (chunks.py), so the plan is inject's."""
    said: list[tuple[Target, Entry]] = []

    def keeping(inp: krm.Input, config: Config | None) -> Transformed:
        done = _inject(inp, config)
        if done.run is not None:
            in_order = sorted(done.run.planned, key=lambda entry: entry[0])  # stable
            said.extend((target, entry) for _, target, entry in in_order)
        return done

    outcome = _run("inject", inputs, Asked(config_file, strict, False), keeping, parts=False)
    return Planned(outcome, said)


def run_validate(
    inputs: Inputs, config_file: ConfigSource | None, *, strict: bool = False
) -> Outcome:
    """Check the input; every item comes back as it came (KRM mode: with the results)."""
    transform = _validate_strict if strict else _validate
    return _run("validate", inputs, Asked(config_file, strict, False), transform)


def run_remove(
    inputs: Inputs,
    config_file: ConfigSource | None,
    *,
    each_file: bool = False,
    force: bool = False,
) -> Outcome:
    """Take back what inject recorded: one config's part (the config's metadata.name), or,
    without a config, every config's; the output is the chart's render again. What changed
    since it was added is left in place (with a warning) unless `force`."""
    remove = _remove_forced if force else _remove
    return _run("remove", inputs, Asked(config_file, False, each_file), remove)


class Audited(NamedTuple):
    """audit's answer: a finding per item, or why it could not be asked (`misuse`: the
    input or the config could not be read; exit 2)."""

    findings: list[Finding]
    problems: list[Problem]  # objects that could not be read (blocking) or judged
    misuse: list[str]
    workloads: int  # the workloads the config was held against


def run_audit(inputs: Inputs, config_file: ConfigSource) -> Audited:
    """What the config declares, held against live objects (transforms/audit.py). Nothing
    is edited and no output is written: the findings are the answer. A large stream is
    audited part by part (chunks.py: whole releases and namespaces, which is all an audit
    looks across), so its node trees are never all held at once."""
    from airflow_sidecars.transforms.audit import audit, audit_order  # noqa: PLC0415

    with _no_cycle_collection():
        try:
            texts = [(name, krm.decode(data, name)) for name, data in inputs]
        except krm.InputError as error:
            return _unreadable_audit(inputs, error)
        try:
            config = from_input(None, config_file, required=True)
        except ConfigError as error:
            return Audited([], [], [p.message for p in error.problems], 0)
        assert config is not None  # required
        findings: list[Finding] = []
        problems: list[Problem] = []
        workloads = 0
        objects = 0
        for piece, parts in _audit_pieces(texts, config):
            try:
                inp = krmread.parse(piece, parts=parts)
            except krm.InputError as error:
                return _unreadable_audit(inputs, error)
            found = audit(inp, config)
            findings += found.findings
            problems += found.problems
            workloads += found.workloads
            objects += len(inp.items)
            del inp  # before the next part is parsed
        if not objects:
            message = "the input holds no objects: give `kubectl get -o yaml` output"
            return Audited([], [], [message], 0)
        # Each part says its workloads', accounts' and task pods' findings in turn: in that
        # order over the whole input, as one run says them (a stable sort keeps input order).
        findings.sort(key=audit_order)
        return Audited(findings, problems, [], workloads)


def _audit_pieces(
    texts: list[tuple[str | None, str]], config: Config
) -> Iterator[tuple[list[tuple[str | None, str]], list[krmread.Part] | None]]:
    """The texts to parse one after the other: a large stream's parts (each cut out when
    its turn comes), else all the texts at once. Parts keep releases whole, and namespaces
    too where the audit looks across a namespace: presets (as inject), and task pods, which
    the community chart's template labels with no release."""
    from airflow_sidecars.runs import chunks  # noqa: PLC0415
    from airflow_sidecars.transforms.audittasks import TASK_POD_SPELLED  # noqa: PLC0415

    if len(texts) != 1:
        yield texts, None
        return
    name, text = texts[0]
    by_namespace = bool(config.presets) or TASK_POD_SPELLED.search(text) is not None
    plan = chunks.plan(text, by_namespace=by_namespace)
    if plan is None:
        yield texts, None
        return
    for part in plan.parts:
        yield [(name, text[part.start : part.end])], [krmread.Part(part.first_document)]


def _unreadable_audit(inputs: Inputs, error: krm.InputError) -> Audited:
    """An input audit cannot read: said as inject and validate say it; misuse (exit 2)."""
    raw = b"".join(data for _, data in inputs)
    said = _unreadable(raw, str(error), error.source, "audit")
    return Audited([], [], [result.line() for result in said.results], 0)


def _inject(inp: krm.Input, config: Config | None) -> Transformed:
    """Take back what the config recorded and no longer declares, then inject it into that."""
    assert config is not None  # inject requires one (see _run)
    pruned = prune(inp, Scope(config, keep_declared=True))
    if pruned.edited:
        problem = verify(pruned, krmwrite.render(inp, []), len(inp.items))
        if problem is not None:
            return Transformed([internal_error("inject", problem)], pruned, inp, pruned.edited)
        inp = krmread.parse_again(inp)
    run = inject(inp, config)
    run.planned[:0] = pruned.planned  # what it took back first (positions: parse_again keeps them)
    phases = [*pruned.phases(), *run.phases()]
    edited = pruned.edited | run.edited
    return Transformed([*pruned.results, *run.results], run, inp, edited, phases)


def _remove(inp: krm.Input, config: Config | None, force: bool = False) -> Transformed:
    pruned = prune(inp, Scope(config, keep_declared=False, force=force))
    phases = [*pruned.phases(), []]  # the last: said of the whole run (chunks.py)
    if not pruned.edited and not any(r.tags.get("rule") == "record" for r in pruned.results):
        whose = f"config {config.name!r}" if config is not None else "any config"
        message = f"nothing to take back: no record of {whose} in the input"
        tags = {"function": "remove", "rule": "taken-back"}
        phases[-1].append(Result(message, "info", tags=tags))
    results = [found for phase in phases for found in phase]
    return Transformed(results, pruned, inp, pruned.edited, phases)


def _remove_forced(inp: krm.Input, config: Config | None) -> Transformed:
    return _remove(inp, config, force=True)


def _validate(inp: krm.Input, config: Config | None, strict: bool = False) -> Transformed:
    from airflow_sidecars.transforms.validate import nothing_checked, validate_phases  # noqa: PLC0415 - inject's start-up does not pay for it

    declared: list[list[Result]] = []
    if config is not None:
        declared += prune(inp, Scope(config, keep_declared=True, apply=False)).phases()
        declared += declared_missing_phases(inp, config)
    phases = validate_phases(inp, config, declared)
    # the last phase: said of the whole run (chunks.py), and only without a config (with
    # one, each section that reached nothing already says so)
    phases.append(nothing_checked(inp, strict) if config is None else [])
    return Transformed([found for phase in phases for found in phase], None, inp, None, phases)


def _validate_strict(inp: krm.Input, config: Config | None) -> Transformed:
    return _validate(inp, config, strict=True)


def _run(
    function: Function, inputs: Inputs, asked: Asked, transform: Transform, *, parts: bool = True
) -> Outcome:
    """Parse, load the config, transform, render, verify. The input's node trees are released
    before the output is parsed again: holding both doubled the peak memory, which at 100
    releases was as high as kustomize's. `parts`: a large stream may run part by part."""
    with _no_cycle_collection():
        in_parts = run_parts(function, transform, inputs, asked) if parts else None
        if in_parts is not None:
            return in_parts
        parsed = _parse(inputs, function)
        if isinstance(parsed, Outcome):
            return parsed
        inp, texts = parsed
        del parsed  # `inp` must be the only reference to the node trees
        results = _wrapper_results(inp, function)
        try:
            config = from_input(inp.function_config, asked.file, required=function == "inject")
        except ConfigError as error:
            said = [*results, *_config_results(error, asked.file, function)]
            return finish(inp, said, summary.of(inp, None)._replace(applied=False), inputs)
        if not inp.items and function != "remove":
            said = [*results, _no_objects(inp, function)]
            counts = summary.of(inp, None if function == "validate" else set())
            return finish(inp, said, counts._replace(applied=inp.mode != "stream"), inputs)
        config = asked_of(config, asked)
        layout = estates.split(inp)
        if layout.twice:
            said = [*results, *twice_results(layout.twice, function)]
            return finish(inp, said, summary.of(inp, None)._replace(applied=False), inputs)
        if len(layout.renders) > 1:
            del inp  # each render is parsed on its own
            step = Step(function, config, transform)
            return run_estate(step, layout.renders, texts, inputs, asked.each_file)
        read = Read(texts, inputs)
        owned = [inp]
        del inp  # render_one must hold the only reference to the node trees (see above)
        return render_one(Step(function, config, transform), owned, read, results, asked)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector for one run.

    A render becomes hundreds of thousands of node objects, and every few hundred allocations
    the collector walks all that are alive: at 100 releases that was four fifths of the run
    (9.4 s of 11), and it grows faster than the input. It finds nothing: node trees, data and
    edits hold no reference cycles, so reference counting frees them anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _no_objects(inp: krm.Input, function: str) -> Result:
    """Said once of an input that holds no objects, instead of every section's no-match. A
    stream with none is an error: in CI it is a render that failed before the pipe (without
    `set -o pipefail` its exit status is lost), and a check of nothing must not pass. An empty
    ResourceList is kpt running the function on an empty package: nothing to do."""
    tags = {"function": function, "rule": "no-objects"}
    if inp.mode == "stream":
        message = (
            "the input holds no objects (empty, or only comments): nothing to "
            f"{'check' if function == 'validate' else 'add to'}; give the rendered manifests"
        )
        return Result(message, "error", tags=tags)
    return Result("the ResourceList holds no items: nothing to do", "info", tags=tags)


def _wrapper_results(inp: krm.Input, function: str) -> list[Result]:
    tags = {"function": function, "rule": "input"}
    return [Result(problem, "error", tags=tags) for problem in krm.wrapper_problems(inp)]


def _parse(
    inputs: Inputs, function: str
) -> tuple[krm.Input, list[tuple[str | None, str]]] | Outcome:
    try:
        texts = [(name, krm.decode(data, name)) for name, data in inputs]
        return krmread.parse(texts), texts
    except krm.InputError as error:
        raw = b"".join(data for _, data in inputs)
        return _unreadable(raw, str(error), error.source, function)


def _config_results(
    error: ConfigError, config_file: ConfigSource | None, function: str
) -> list[Result]:
    file = FileRef(config_file.name) if config_file is not None else None
    return [
        Result(
            p.message,
            "error",
            error.ref,
            p.path if error.ref else None,
            file,
            {"function": function, "rule": "config"},
        )
        for p in error.problems
    ]


def _unreadable(raw: bytes, message: str, source: str | None, function: str) -> Outcome:
    result = Result(
        message,
        "error",
        file=FileRef(source) if source else None,
        tags={"function": function, "rule": "input"},
    )
    text = raw.decode("utf-8", errors="replace")
    if krmwrite.looks_like_resource_list(text):
        version = krmwrite.resource_list_version(text)
        output = krmwrite.error_resource_list(message, version).encode("utf-8")
        return Outcome(output, [result], "resourcelist")
    return Outcome(raw, [result], "stream")
