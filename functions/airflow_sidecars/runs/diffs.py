"""`--diff`: what a run changed, as a unified diff per changed object.

Objects are paired by position (a run never adds, drops or reorders one), and each is diffed
as the text it is in the input and in the output, so that the diff shows exactly the bytes that
changed. Headers name the object (`Deployment airflow/airflow-scheduler`).
"""

from __future__ import annotations

import difflib

from airflow_sidecars.krmio import krm, krmread

# ANSI colours for a terminal: removed, added, hunk headers.
_COLOURS = {"-": "\033[31m", "+": "\033[32m", "@": "\033[36m"}
_RESET = "\033[0m"


def object_diffs(before: list[tuple[str | None, str]], after: str, *, colour: bool) -> str:
    """The unified diff of each object that differs between the input texts and the output
    text; "" when nothing changed or either side cannot be read as objects."""
    try:
        old, new = krmread.parse(before), krmread.parse([(None, after)])
    except krm.InputError:
        return ""
    if len(old.items) != len(new.items):
        return ""
    out: list[str] = []
    for was, now in zip(old.items, new.items, strict=True):
        was_text, now_text = _text(was), _text(now)
        if was_text == now_text:
            continue
        name = str(now.ref())
        lines = difflib.unified_diff(
            was_text.splitlines(keepends=True),
            now_text.splitlines(keepends=True),
            fromfile=f"{name} (input)",
            tofile=f"{name} (output)",
        )
        for line in lines:
            ended = line if line.endswith("\n") else line + "\n"
            out.append(_coloured(ended) if colour else ended)
    return "".join(out)


def _text(item: krm.Item) -> str:
    """The item's own text, from its first to its last character."""
    start, end = item.span()
    return item.source.text[start:end]


def _coloured(line: str) -> str:
    if line.startswith(("---", "+++")):
        return f"\033[1m{line[:-1]}{_RESET}\n"
    colour = _COLOURS.get(line[:1])
    return f"{colour}{line[:-1]}{_RESET}\n" if colour else line
