"""What a run gives back, and how one render comes to it: transformed, rendered and verified
(`render_one`), or given back as it came when nothing is applied (`finish`).

The run loop (api.py), the run of a large stream part by part (runparts.py) and the run of
an estate render by render (runestate.py) all make their outcomes here, so that each says its
results the same way: each result once, and after an error, what would have been done and
that nothing was applied. Apart from api.py so that those two runs need not import the
entry points that call them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

from airflow_sidecars.configuration.config import Config, ConfigSource, HelmRun
from airflow_sidecars.krmio import krm, krmread, krmwrite
from airflow_sidecars.krmio.results import Result, exit_code
from airflow_sidecars.planning.edits import Run
from airflow_sidecars.planning.verify import verify
from airflow_sidecars.runs import summary
from airflow_sidecars.runs.summary import Summary

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
    # On the Helm 4 plugin route, after a stream of hooks: what the next call of the same Helm
    # run needs (written down by the command line between the two processes).
    handover: HelmRun | None = None

    @property
    def exit_code(self) -> int:
        return exit_code(self.results)


class Asked(NamedTuple):
    """What the caller asks for: the config file (else the functionConfig), --strict, each
    input's own output, and on the Helm 4 plugin route what the call before handed on."""

    file: ConfigSource | None
    strict: bool
    each_file: bool
    helm_run: HelmRun | None = None  # the Helm 4 plugin route: what the call before handed on


def asked_of(config: Config | None, asked: Asked) -> Config | None:
    """The config with what the command line adds to it: --strict, the Helm 4 plugin route."""
    if config is not None and asked.strict:
        config = config._replace(strict=True)
    if config is not None and asked.helm_run is not None:
        config = config._replace(helm_run=asked.helm_run)
    return config


class Read(NamedTuple):
    """The input as read: each source's decoded text, and its bytes."""

    texts: list[tuple[str | None, str]]
    inputs: Inputs


class Step(NamedTuple):
    """What runs on each render: the function, its config (loaded once), its transform."""

    function: Function
    config: Config | None
    transform: Transform


def render_one(
    step: Step,
    owned: list[krm.Input],
    read: Read,
    results: list[Result],
    asked: Asked,
) -> Outcome:
    """Transform one render, render it and verify it. The input comes in a list that this
    takes it out of, so that no caller's frame keeps its node trees alive."""
    function = step.function
    inp = owned.pop()
    texts, inputs = read
    added, run, inp, edited, _ = step.transform(inp, step.config)
    results = once([*results, *added])
    counts = summary.of(inp, edited)
    if run is not None and exit_code(results):
        # One rule for every error, in both modes: nothing is applied. A pipeline that
        # ignores the exit code then deploys the chart's own render, never half a change.
        not_applied = as_not_applied(results, function)
        return finish(krmread.parse(texts), not_applied, counts._replace(applied=False), inputs)
    # Each source alone, before render() joins them (which may mark a last block scalar
    # `-` so that the next source's text cannot become part of it: not a change of a file).
    files = [_own_output(s) for s in inp.sources] if asked.each_file else None
    mode, item_count = inp.mode, len(inp.items)
    krmwrite.release_items(inp)  # their memory is back before the output text is made
    output = krmwrite.render(inp, results)
    del inp
    problem = verify(run, output, item_count) if run is not None else None
    if problem is not None:
        # Never hand on text we cannot vouch for: the input goes back unchanged.
        internal = [*results, internal_error(function, problem)]
        return finish(krmread.parse(texts), internal, counts._replace(applied=False), inputs)
    handover = run.handover if run is not None else None
    return Outcome(output.encode("utf-8"), results, mode, counts, files, handover)


def once(results: list[Result]) -> list[Result]:
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


def internal_error(function: str, problem: str) -> Result:
    message = f"internal error, nothing was changed: {problem}; please report this with the input"
    return Result(message, "error", tags={"function": function, "rule": "internal"})


# What inject did, said of a run whose edits are not applied.
_DONE = {
    "added": ("added", "would have added"),
    "checksum": ("refreshed", "would have refreshed"),
    "service-account": ("annotated", "would have annotated"),
    "taken-back": ("took back", "would have taken back"),
}


def as_not_applied(results: list[Result], function: str) -> list[Result]:
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


def finish(inp: krm.Input, results: list[Result], counts: Summary, inputs: Inputs) -> Outcome:
    """The output of a run that applies nothing: the input (KRM mode: with the results)."""
    output = krmwrite.render(inp, results).encode("utf-8")
    return Outcome(output, results, inp.mode, counts, [data for _, data in inputs])
