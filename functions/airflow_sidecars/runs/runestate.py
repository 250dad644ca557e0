"""An estate of several renders (estates.py finds them), each run on its own and joined back
in the input's order, with a line that names each render's files; and the errors of an
object given twice where no path tells the copies apart.

Apart from api.py because it runs the one-render step (outcomes.py) once per render and says
of the whole what one render cannot: where each render is, and that an error in one applies
nothing anywhere.
"""

from __future__ import annotations

import os

from airflow_sidecars.krmio import krm, krmread, krmwrite
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.runs import estates, summary
from airflow_sidecars.runs.outcomes import (
    Asked,
    Inputs,
    Outcome,
    Read,
    Step,
    as_not_applied,
    finish,
    render_one,
)


def run_estate(
    step: Step,
    renders: list[list[int]],
    texts: list[tuple[str | None, str]],
    inputs: Inputs,
    each_file: bool,
) -> Outcome:
    """Each render of an estate on its own (estates.py), joined back in the input's order.
    Errors in any render apply nothing anywhere, as in one render."""
    asked = Asked(None, False, True)
    outcomes: list[tuple[list[int], Outcome]] = []
    for sources in renders:
        part_texts = [texts[number] for number in sources]
        part_inputs = [inputs[number] for number in sources]
        outcome = render_one(
            step, [krmread.parse(part_texts)], Read(part_texts, part_inputs), [], asked
        )
        outcomes.append((sources, outcome))
    said = [_render_line(step.function, texts, sources, o) for sources, o in outcomes]
    counts = summary.joined([o.summary for _, o in outcomes])
    if any(not o.summary.applied for _, o in outcomes):
        results = [r for _, o in outcomes for r in o.results if r.tags.get("rule") != "not-applied"]
        not_applied = as_not_applied([*said, *results], step.function)
        return finish(krmread.parse(texts), not_applied, counts._replace(applied=False), inputs)
    files: list[bytes] = [b""] * len(texts)
    for sources, outcome in outcomes:
        assert outcome.files is not None
        for number, data in zip(sources, outcome.files, strict=True):
            files[number] = data
    joined = krmread.parse(
        [(name, krm.decode(data, name)) for (name, _), data in zip(texts, files, strict=True)]
    )
    output = krmwrite.render(joined, []).encode("utf-8")
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


def twice_results(twice: list[estates.Twice], function: str) -> list[Result]:
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
