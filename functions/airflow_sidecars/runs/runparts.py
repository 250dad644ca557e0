"""A large stream, part by part (chunks.py finds the parts): each part parsed, transformed,
rendered and verified on its own, so that only one part's node trees are alive, and the
outputs and results joined into what one run of the whole stream gives.

Apart from api.py because it is a second way through the same steps, for peak memory alone:
whatever it cannot vouch for, it hands back to the whole run (None).
"""

from __future__ import annotations

from airflow_sidecars.configuration.config import ConfigError, from_input
from airflow_sidecars.krmio import krm, krmread, krmwrite
from airflow_sidecars.krmio.results import exit_code
from airflow_sidecars.planning.verify import verify
from airflow_sidecars.runs import chunks, summary
from airflow_sidecars.runs.outcomes import (
    Asked,
    Function,
    Inputs,
    Outcome,
    Transform,
    as_not_applied,
    asked_of,
    once,
)


def run_parts(
    function: Function, transform: Transform, inputs: Inputs, asked: Asked
) -> Outcome | None:
    """A large stream, part by part (chunks.py), as one run would give it; None: run it whole
    (it is not one that parts can give, or a part said something only the whole can say)."""
    if len(inputs) != 1 or len(inputs[0][1]) < chunks.THRESHOLD:
        return None
    if asked.helm_run is not None:
        return None  # what one Helm 4 call hands the next is said of the whole stream
    name, data = inputs[0]
    try:
        text = krm.decode(data, name)
        # a stream has no functionConfig: the config file or nothing, as in api._run
        config = from_input(None, asked.file, required=function == "inject")
    except (krm.InputError, ConfigError):
        return None  # the whole run says so
    config = asked_of(config, asked)
    plan = chunks.plan(text, by_namespace=config is not None and bool(config.presets))
    if plan is None:
        return None
    joined = chunks.Joined()
    outputs: list[bytes] = []
    applied = True  # no part said an error so far (else no part needs rendering)
    edits = False  # the function edits (inject, remove): errors apply nothing
    for number, part in enumerate(plan.parts):
        indent = plan.seq_indent if number else None  # the first part finds it as the whole does
        where = krmread.Part(part.first_document, indent)
        inp = krmread.parse([(name, text[part.start : part.end])], parts=[where])
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
        krmwrite.release_items(inp)
        output = krmwrite.render(inp, []) if applied else ""
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
    results = once(said_once)
    total = joined.total()
    if not applied or (edits and exit_code(results)):
        not_applied = as_not_applied(results, function)
        return Outcome(data, not_applied, "stream", total._replace(applied=False), [data])
    output_bytes = b"".join(outputs)
    files = [output_bytes] if asked.each_file else None
    return Outcome(output_bytes, results, "stream", total, files)
