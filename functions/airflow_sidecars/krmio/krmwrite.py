"""Writing the output: every source with its edits, joined back into one text.

Rules from docs/krm-contract.md that this module carries:
- Every item comes back, in order (§1.5: kustomize deletes what a transformer drops and kpt
  writes items back by path and index); untouched items come back as the bytes they came in
  as (a block scalar that ends the text without a line break may get `-` chomping, see
  _end_last_line).
- New results are appended after those of earlier steps (§1.2), in the ResourceList version
  that came in (§1.1).
- Output is written even when the function fails (§2.5: kpt reads it on a non-zero exit): an
  input that cannot be read at all is answered with a ResourceList that carries the error.

Apart from krmread.py because a run reads once and writes once, with its whole transform
between: writing needs only each source's editor, and the items are released before it
(release_items), so that their memory is back before the output text is made.
"""

from __future__ import annotations

import re

import yaml

from airflow_sidecars.krmio.krm import Input, Source, results_take_more
from airflow_sidecars.krmio.krmlight import Light
from airflow_sidecars.krmio.results import Result, by_severity
from airflow_sidecars.text.yamltext import line_break_at


def release_items(inp: Input) -> None:
    """Forget the items and every document tree but each source's last (render needs only the
    editors, and the last document of a source another one follows: _end_last_line). Their
    memory goes back before the output text is made and parsed again (verify.py)."""
    inp.items = []
    for source in inp.sources:
        documents = source.documents
        last = next((n for n in reversed(range(len(documents))) if documents[n] is not None), -1)
        source.documents = [documents[n] if n == last else None for n in range(len(documents))]


def render(inp: Input, results: list[Result]) -> str:
    """The output text: every source with its edits, plus (KRM mode) the results."""
    if inp.mode == "resourcelist":
        assert inp.root is not None
        source = inp.sources[0]
        if results:
            _end_last_line(source)
            entries = [r.as_dict() for r in by_severity(results)]
            if results_take_more(inp):
                source.editor.append(inp.root, ("results",), entries)
            else:  # reported among `results` (see results_problem): this run's replace it
                source.editor.replace(inp.root, ("results",), entries)
        return source.bom + source.editor.apply()
    out: list[str] = []
    for number, source in enumerate(inp.sources):
        if number + 1 < len(inp.sources):
            _end_last_line(source)  # another source follows it
        text = source.editor.apply()
        if out and text.strip():
            # The line break and the separator end like the next file's first line.
            newline = line_break_at(text, 0)
            if not out[-1].endswith(("\n", "\r")):
                out[-1] += newline
            if not text.startswith("---"):
                out.append("---" + newline)
        out.append(text)
    # Only the stream's start may carry a byte order mark (YAML readers refuse one later).
    return (inp.sources[0].bom if inp.sources else "") + "".join(out)


def _end_last_line(source: Source) -> None:
    """Text will follow this source's: its last value must not take in the line break."""
    number = next(
        (n for n in reversed(range(len(source.documents))) if source.documents[n] is not None),
        None,
    )
    if number is not None:
        last = source.documents[number]
        assert last is not None
        source.editor.keep_last_value(source.tree(number) if isinstance(last, Light) else last)


def error_resource_list(message: str, api_version: str = "config.kubernetes.io/v1") -> str:
    """What stdout carries in KRM mode when the input could not be read at all."""
    document = {
        "apiVersion": api_version,
        "kind": "ResourceList",
        "items": [],
        "results": [{"message": message, "severity": "error"}],
    }
    return yaml.safe_dump(document, sort_keys=False)


def looks_like_resource_list(text: str) -> bool:
    head = text[:4096]
    return "ResourceList" in head and "kind" in head


_API_VERSION = re.compile(r"""["']?apiVersion["']?\s*:\s*["']?(config\.kubernetes\.io/v1\w*)""")


def resource_list_version(text: str) -> str:
    """The ResourceList apiVersion an unreadable input seems to use, to answer in it."""
    found = _API_VERSION.search(text)
    return found.group(1) if found else "config.kubernetes.io/v1"
