"""docs/api-defaults.md shows the table of pods/apidefaults.py: made from it, checked here."""

from __future__ import annotations

from airflow_sidecars.pods.apidefaults import CHECKED, table_rows
from conftest import ROOT, UPDATE_GOLDEN

DOC = ROOT / "docs" / "api-defaults.md"
BEGIN = "<!-- the table: made from apidefaults.DEFAULTS (UPDATE_GOLDEN=1 rewrites it) -->\n"
END = "<!-- end of the table -->\n"
HEADER = ("field", "default", "when", "where", "source", "checked against")


def table() -> str:
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table_rows()),
    ]
    return "\n".join(lines) + "\n"


def test_the_doc_shows_the_table() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    made = head + BEGIN + table() + END + tail
    if UPDATE_GOLDEN:
        DOC.write_text(made)
    assert text == made, "docs/api-defaults.md differs from the table (UPDATE_GOLDEN=1)"


def test_the_doc_gives_the_date_checked() -> None:
    assert f"Checked on {CHECKED}." in DOC.read_text()
