"""Bytes in, bytes out: the whole function, without any I/O (the command line does the I/O).

`run_inject` and `run_validate` are what the command line runs and what scripts can call.
They never raise for bad input: every problem becomes an error result, and the output is
always complete - the input with the edits that could be made (KRM mode: plus the results),
or, when the input could not be read, the input as it came (KRM mode: a ResourceList that
carries the error). Both go through one loop, `_run`: parse the input, load the config,
transform, render the output, and (for inject) verify it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, NamedTuple

from . import chunks, estates, krm, summary
from .config import Config, ConfigError, ConfigSource, from_input
from .edits import Run
from .inject import declared_missing_phases, inject
from .prune import Scope, prune
from .results import FileRef, Result, exit_code
from .summary import Summary
from .verify import verify

__all__ = ["ConfigSource", "Outcome", "Summary", "run_inject", "run_remove", "run_validate"]

Inputs = list[tuple[str | None, bytes]]  # (file name or None for stdin, its bytes)
Function = Literal["inject", "validate", "remove"]


class Transformed(NamedTuple):
    """What a transform gives: the results it adds, the run whose edits verify checks (None
    for validate), the input it edited (inject edits the pruned input, parsed again), and the
    positions of the items it changed (taken back or added to; None for validate)."""

    results: list[Result]
    run: Run | None
    inp: krm.Input
    edited: set[int] | None = None
    # The results by phase (edits.Run.mark), for a stream run part by part (chunks.py)
    phases: list[list[Result]] | None = None


Transform = Callable[[krm.Input, Config | None], Transformed]


class Outcome(NamedTuple):
    output: bytes
    results: list[Result]
    mode: str  # "resourcelist" or "stream"
    summary: Summary = summary.unread()
    # Asked for with `each_file`: every input source's own output, in order (stream mode), for
    # writing the files back in place.
    files: list[bytes] | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.results)


def run_inject(
    inputs: Inputs,
    config_file: ConfigSource | None,
    *,
    strict: bool = False,
    each_file: bool = False,
) -> Outcome:
    """Add what the config declares; the output is the input with the edits. `strict`: every
    reach warning is an error (as `spec.strict: true`); `each_file`: also each input's own
    output (Outcome.files)."""
    return _run("inject", inputs, _Asked(config_file, strict, each_file), _inject)


def run_validate(
    inputs: Inputs, config_file: ConfigSource | None, *, strict: bool = False
) -> Outcome:
    """Check the input; every item comes back as it came (KRM mode: with the results)."""
    return _run("validate", inputs, _Asked(config_file, strict, False), _validate)


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
    return _run("remove", inputs, _Asked(config_file, False, each_file), remove)


class _Asked(NamedTuple):
    """What the caller asks for: the config file (else the functionConfig), --strict, and
    each input's own output."""

    file: ConfigSource | None
    strict: bool
    each_file: bool


def _inject(inp: krm.Input, config: Config | None) -> Transformed:
    """Take back what the config recorded and no longer declares, then inject it into that."""
    assert config is not None  # inject requires one (see _run)
    pruned = prune(inp, Scope(config, keep_declared=True))
    if pruned.edited:
        problem = verify(pruned, krm.render(inp, []), len(inp.items))
        if problem is not None:
            return Transformed([_internal("inject", problem)], pruned, inp, pruned.edited)
        inp = krm.parse_again(inp)
    run = inject(inp, config)
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


def _validate(inp: krm.Input, config: Config | None) -> Transformed:
    from .validate import validate_phases  # noqa: PLC0415 - inject's start-up does not pay for it

    declared: list[list[Result]] = []
    if config is not None:
        declared += prune(inp, Scope(config, keep_declared=True, apply=False)).phases()
        declared += declared_missing_phases(inp, config)
    phases = validate_phases(inp, config, declared)
    return Transformed([found for phase in phases for found in phase], None, inp, None, phases)


def _run(function: Function, inputs: Inputs, asked: _Asked, transform: Transform) -> Outcome:
    """Parse, load the config, transform, render, verify. The input's node trees are released
    before the output is parsed again: holding both doubled the peak memory, which at 100
    releases was as high as kustomize's."""
    with _no_cycle_collection():
        in_parts = _run_parts(function, transform, inputs, asked)
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
            return _finish(inp, said, summary.of(inp, None)._replace(applied=False), inputs)
        if config is not None and asked.strict:
            config = config._replace(strict=True)
        layout = estates.split(inp)
        if layout.twice:
            said = [*results, *_twice_results(layout.twice, function)]
            return _finish(inp, said, summary.of(inp, None)._replace(applied=False), inputs)
        if len(layout.renders) > 1:
            del inp  # each render is parsed on its own
            step = _Step(function, config, transform)
            return _run_estate(step, layout.renders, texts, inputs, asked.each_file)
        read = _Read(texts, inputs)
        owned = [inp]
        del inp  # _render_one must hold the only reference to the node trees (see above)
        return _render_one(_Step(function, config, transform), owned, read, results, asked)


class _Read(NamedTuple):
    """The input as read: each source's decoded text, and its bytes."""

    texts: list[tuple[str | None, str]]
    inputs: Inputs


class _Step(NamedTuple):
    """What runs on each render: the function, its config (loaded once), its transform."""

    function: Function
    config: Config | None
    transform: Transform


def _render_one(
    step: _Step,
    owned: list[krm.Input],
    read: _Read,
    results: list[Result],
    asked: _Asked,
) -> Outcome:
    """Transform one render, render it and verify it. The input comes in a list that this
    takes it out of, so that no caller's frame keeps its node trees alive."""
    function = step.function
    inp = owned.pop()
    texts, inputs = read
    added, run, inp, edited, _ = step.transform(inp, step.config)
    results = _once([*results, *added])
    counts = summary.of(inp, edited)
    if run is not None and exit_code(results):
        # One rule for every error, in both modes: nothing is applied. A pipeline that
        # ignores the exit code then deploys the chart's own render, never half a change.
        not_applied = _not_applied(results, function)
        return _finish(krm.parse(texts), not_applied, counts._replace(applied=False), inputs)
    # Each source alone, before render() joins them (which may mark a last block scalar
    # `-` so that the next source's text cannot become part of it: not a change of a file).
    files = [_own_output(s) for s in inp.sources] if asked.each_file else None
    mode, item_count = inp.mode, len(inp.items)
    krm.release_items(inp)  # their memory is back before the output text is made
    output = krm.render(inp, results)
    del inp
    problem = verify(run, output, item_count) if run is not None else None
    if problem is not None:
        # Never hand on text we cannot vouch for: the input goes back unchanged.
        internal = [*results, _internal(function, problem)]
        return _finish(krm.parse(texts), internal, counts._replace(applied=False), inputs)
    return Outcome(output.encode("utf-8"), results, mode, counts, files)


def _run_parts(
    function: Function, transform: Transform, inputs: Inputs, asked: _Asked
) -> Outcome | None:
    """A large stream, part by part (chunks.py), as one run would give it; None: run it whole
    (it is not one that parts can give, or a part said something only the whole can say)."""
    if len(inputs) != 1 or len(inputs[0][1]) < chunks.THRESHOLD:
        return None
    name, data = inputs[0]
    try:
        text = krm.decode(data, name)
        # a stream has no functionConfig: the config file or nothing, as in _run
        config = from_input(None, asked.file, required=function == "inject")
    except (krm.InputError, ConfigError):
        return None  # the whole run says so
    if config is not None and asked.strict:
        config = config._replace(strict=True)
    plan = chunks.plan(text, by_namespace=config is not None and bool(config.presets))
    if plan is None:
        return None
    joined = chunks.Joined()
    outputs: list[bytes] = []
    applied = True  # no part said an error so far (else no part needs rendering)
    edits = False  # the function edits (inject, remove): errors apply nothing
    for number, part in enumerate(plan.parts):
        indent = plan.seq_indent if number else None  # the first part finds it as the whole does
        where = krm.Part(part.first_document, indent)
        inp = krm.parse([(name, text[part.start : part.end])], parts=[where])
        _, run, inp, edited, said = transform(inp, config)
        if said is None or inp.sources[0].editor.seq_indent != plan.seq_indent:
            # (the first document, pruned, indents lists otherwise: the whole run's reparse
            # would indent the rest so too)
            return None
        counts = summary.of(inp, edited)
        joined.add(said, counts)
        edits = run is not None
        applied = applied and not (edits and exit_code(joined.kept(said, counts)))
        item_count = len(inp.items)
        krm.release_items(inp)
        output = krm.render(inp, []) if applied else ""
        del inp  # before the next part is parsed
        if not applied:
            outputs = []  # errors: nothing is applied anywhere, as in one run
        elif run is not None and verify(run, output, item_count) is not None:
            return None  # the whole run says what is wrong, where
        else:
            outputs.append(output.encode("utf-8"))
    del text  # its memory is back before the outputs are joined
    said_once = joined.results()
    if said_once is None:
        return None
    results = _once(said_once)
    total = joined.total()
    if not applied or (edits and exit_code(results)):
        not_applied = _not_applied(results, function)
        return Outcome(data, not_applied, "stream", total._replace(applied=False), [data])
    output_bytes = b"".join(outputs)
    files = [output_bytes] if asked.each_file else None
    return Outcome(output_bytes, results, "stream", total, files)


def _run_estate(
    step: _Step,
    renders: list[list[int]],
    texts: list[tuple[str | None, str]],
    inputs: Inputs,
    each_file: bool,
) -> Outcome:
    """Each render of an estate on its own (estates.py), joined back in the input's order.
    Errors in any render apply nothing anywhere, as in one render."""
    asked = _Asked(None, False, True)
    outcomes: list[tuple[list[int], Outcome]] = []
    for sources in renders:
        part_texts = [texts[number] for number in sources]
        part_inputs = [inputs[number] for number in sources]
        outcome = _render_one(
            step, [krm.parse(part_texts)], _Read(part_texts, part_inputs), [], asked
        )
        outcomes.append((sources, outcome))
    said = [_render_line(step.function, texts, sources, o) for sources, o in outcomes]
    counts = summary.joined([o.summary for _, o in outcomes])
    if any(not o.summary.applied for _, o in outcomes):
        results = [r for _, o in outcomes for r in o.results if r.tags.get("rule") != "not-applied"]
        not_applied = _not_applied([*said, *results], step.function)
        return _finish(krm.parse(texts), not_applied, counts._replace(applied=False), inputs)
    files: list[bytes] = [b""] * len(texts)
    for sources, outcome in outcomes:
        assert outcome.files is not None
        for number, data in zip(sources, outcome.files, strict=True):
            files[number] = data
    joined = krm.parse(
        [(name, krm.decode(data, name)) for (name, _), data in zip(texts, files, strict=True)]
    )
    output = krm.render(joined, []).encode("utf-8")
    results = [*said, *(r for _, o in outcomes for r in o.results)]
    return Outcome(output, results, "stream", counts, files if each_file else None)


def _render_line(
    function: str, texts: list[tuple[str | None, str]], sources: list[int], outcome: Outcome
) -> Result:
    """Which files make one render of an estate, and its summary."""
    names = [texts[number][0] or "stdin" for number in sources]
    try:
        where = os.path.commonpath(names) or "."
    except ValueError:  # absolute and relative paths, or stdin among them
        where = names[0]
    counts = summary.line(function, outcome.summary, outcome.results).partition(": ")[2]
    files = f"{len(names)} files" if len(names) > 1 else "1 file"
    message = f"{where}: a render of its own ({files}): {counts}"
    return Result(message, "info", tags={"function": function, "rule": "render"})


def _twice_results(twice: list[estates.Twice], function: str) -> list[Result]:
    """One error per pair of places (a whole render given twice is one error, not one per
    object), naming the first object of each."""
    tags = {"function": function, "rule": "duplicate-object"}
    pairs: dict[tuple[str | None, str | None], list[estates.Twice]] = {}
    for found in twice:
        pairs.setdefault((found.first.name, found.second.name), []).append(found)
    return [
        found[0].item.result(estates.message(found), "error", None, tags)
        for found in pairs.values()
    ]


def _once(results: list[Result]) -> list[Result]:
    """Each result once, in the order first said. Steps of one run read the same objects (inject
    prunes before it injects; validate also plans what inject would add), so a problem with an
    object (a key twice, a tag) is found by each: it is still one problem, and one error.
    Which step said it (the `function` tag: validate plans with inject's words) and an empty
    field path against none do not make two."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for found in results:
        where = (found.resource, found.field_path or None, found.file)
        key = (found.message, found.severity, *where, found.tags.get("rule"))
        if key not in seen:
            seen.add(key)
            out.append(found)
    return out


def _own_output(source: krm.Source) -> bytes:
    return (source.bom + source.editor.apply()).encode("utf-8")


def _internal(function: str, problem: str) -> Result:
    message = f"internal error, nothing was changed: {problem}; please report this with the input"
    return Result(message, "error", tags={"function": function, "rule": "internal"})


# What inject did, said of a run whose edits are not applied.
_DONE = {
    "added": ("added", "would have added"),
    "checksum": ("refreshed", "would have refreshed"),
    "service-account": ("annotated", "would have annotated"),
    "taken-back": ("took back", "would have taken back"),
}


def _not_applied(results: list[Result], function: str) -> list[Result]:
    """The results of a run with errors: what it would have done says so, and a last one says
    that nothing was applied."""
    said = []
    for found in results:
        done, would = _DONE.get(found.tags.get("rule", ""), ("", ""))
        if found.severity == "info" and done and done in found.message:
            message = found.message.replace(done, would, 1) + " (not applied)"
            said.append(found._replace(message=message))
        else:
            said.append(found)
    errors = sum(found.severity == "error" for found in results)
    which = "the error above" if errors == 1 else f"the {errors} errors above"
    message = f"nothing was applied: the output is the input as it came, because of {which}"
    said.append(Result(message, "info", tags={"function": function, "rule": "not-applied"}))
    return said


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


def _wrapper_results(inp: krm.Input, function: str) -> list[Result]:
    tags = {"function": function, "rule": "input"}
    return [Result(problem, "error", tags=tags) for problem in krm.wrapper_problems(inp)]


def _parse(
    inputs: Inputs, function: str
) -> tuple[krm.Input, list[tuple[str | None, str]]] | Outcome:
    try:
        texts = [(name, krm.decode(data, name)) for name, data in inputs]
        return krm.parse(texts), texts
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


def _finish(inp: krm.Input, results: list[Result], counts: Summary, inputs: Inputs) -> Outcome:
    """The output of a run that applies nothing: the input (KRM mode: with the results)."""
    output = krm.render(inp, results).encode("utf-8")
    return Outcome(output, results, inp.mode, counts, [data for _, data in inputs])


def _unreadable(raw: bytes, message: str, source: str | None, function: str) -> Outcome:
    result = Result(
        message,
        "error",
        file=FileRef(source) if source else None,
        tags={"function": function, "rule": "input"},
    )
    text = raw.decode("utf-8", errors="replace")
    if krm.looks_like_resource_list(text):
        version = krm.resource_list_version(text)
        output = krm.error_resource_list(message, version).encode("utf-8")
        return Outcome(output, [result], "resourcelist")
    return Outcome(raw, [result], "stream")
