"""The command line's help, and the functions' documentation that it carries.

Each function's kpt catalog README (functions/inject/README.md, functions/validate/README.md)
marks its Short, Long and Examples sections as kpt's mdtogo reads them. This module generates
airflow_sidecars/commands/fndocs.py from those sections (UPDATE_GOLDEN=1 rewrites it: then
review the diff), and `inject --help` / `validate --help` print them - which is what `kpt fn
doc` shows (tests/e2e/test_image.py runs the image as kpt does). The conversion is mdtogo's:
code fences dropped and their lines indented two spaces, headings as `Heading:`, HTML comments
dropped."""

from __future__ import annotations

import argparse
import io
import re
from contextlib import redirect_stdout

import pytest

from airflow_sidecars.commands import fndocs, helptext
from airflow_sidecars.commands.cli import build_parser
from conftest import ROOT, compare_or_update

FUNCTIONS = ("inject", "validate")
FNDOCS = ROOT / "functions" / "airflow_sidecars" / "commands" / "fndocs.py"
SECTION = re.compile(r"<!--mdtogo:(Short|Long|Examples)-->\n(.*?)<!--mdtogo-->", re.DOTALL)
WIDTH = 80  # what a container's help is formatted to: no terminal, argparse's fallback


def readme_sections(name: str) -> dict[str, str]:
    text = (ROOT / "functions" / name / "README.md").read_text()
    found = SECTION.findall(text)
    assert [kind for kind, _ in found] == ["Short", "Long", "Examples"], name
    return {kind: as_text(body) for kind, body in found}


def as_text(markdown: str) -> str:
    lines: list[str] = []
    in_code = False
    for line in markdown.strip("\n").split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif in_code:
            lines.append(f"  {line}" if line else "")
        elif heading := re.fullmatch(r"#+\s+(.*)", line):
            lines.append(f"{heading[1]}:")
        elif not re.fullmatch(r"\s*<!--.*-->\s*", line):
            lines.append(line)
    assert not in_code, "a code block is not closed"
    return "\n".join(lines).strip("\n")


def generated() -> str:
    sections = {name: readme_sections(name) for name in FUNCTIONS}
    out = [
        '"""The functions\' documentation as `--help` prints it: the Short, Long and Examples',
        "sections of functions/inject/README.md and functions/validate/README.md.",
        "",
        "Generated from the READMEs by tests/unit/test_helptext.py (UPDATE_GOLDEN=1 rewrites it):",
        'edit them, not this file."""',
        "",
        "# ruff: noqa: E501",
    ]
    for kind in ("Short", "Long", "Examples"):
        out += ["", f"{kind.upper()} = {{"]
        for name in FUNCTIONS:
            text = sections[name][kind]
            assert '"""' not in text and not text.endswith("\\"), (name, kind)
            out.append(f'    "{name}": r"""{text}""",')
        out.append("}")
    return "\n".join(out) + "\n"


def test_fndocs_is_generated_from_the_readmes() -> None:
    compare_or_update(FNDOCS, generated().encode())


def help_of(*command: str) -> str:
    """`airflow-sidecars COMMAND --help`, as printed where there is no terminal."""
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited, redirect_stdout(out):
        build_parser().parse_args([*command, "--help"])
    assert exited.value.code == 0
    return out.getvalue()


def commands() -> list[str]:
    """Every command, as the parser has them (a new one gets these tests too)."""
    parser = build_parser()
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(found[0].choices)


@pytest.fixture(autouse=True)
def _terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_functions_help_is_its_readme(name: str) -> None:
    text = help_of(name)
    description, rest = text.split("\npositional arguments:\n", 1)
    sections = readme_sections(name)
    # The words, in order: the formatter only re-fills the paragraphs
    assert words(description).endswith(words(f"{sections['Short']}\n{sections['Long']}"))
    examples = rest.split("\nexamples:\n", 1)[1]
    assert words(examples) == words(sections["Examples"])
    # and the code, line for line, so that it can be copied
    readme = (ROOT / "functions" / name / "README.md").read_text()
    for block in re.findall(r"^```\w*\n(.*?)^```", readme, re.DOTALL | re.MULTILINE):
        for line in block.splitlines():
            assert f"\n  {line}\n" in text if line else True, line


COMMANDS = ["", *commands()]  # "": airflow-sidecars itself


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c or "airflow-sidecars")
def test_every_command_has_examples(command: str) -> None:
    text = help_of(*filter(None, [command]))
    assert "\noptions:\n" in text and "\nexamples:\n" in text
    _, examples = text.split("\noptions:\n", 1)[1].split("\nexamples:\n", 1)
    ran = [line.strip() for line in examples.splitlines() if re.match(r"  \S", line)]
    # commands, indented to be copied, each after a line that says what it does
    starts = ("airflow-sidecars ", "kpt ", "helm ", "kubectl ", "docker ")
    assert sum(line.startswith(starts) for line in ran) >= 2, examples


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c or "airflow-sidecars")
def test_no_help_line_is_wider_than_a_terminal(command: str) -> None:
    # Ours: the description and the examples (argparse wraps its usage and options itself,
    # and does not break a long list of command names)
    text = help_of(*filter(None, [command]))
    description = re.split(r"\n(?:positional arguments|options):\n", text.split("\n\n", 1)[1])[0]
    examples = text.split("\nexamples:\n", 1)[1]
    wide = [line for line in (description + examples).splitlines() if len(line) > WIDTH]
    assert wide == []


def test_the_formatter_fills_prose_and_keeps_commands() -> None:
    text = (
        "A paragraph that is long enough to be filled to the width that the formatter is given "
        "here.\n\n- an item that is long enough to be filled to the width given, under itself\n"
        "- a second item\n\nsome prose before a command:\n  a --command that-stays as it is "
        "however long it is, for it is to be copied\n  and a second line"
    )
    formatter = helptext.Formatter("prog", width=42)
    assert formatter._fill_text(text, 40, "") == (
        "A paragraph that is long enough to be\n"
        "filled to the width that the formatter\n"
        "is given here.\n"
        "\n"
        "- an item that is long enough to be\n"
        "  filled to the width given, under\n"
        "  itself\n"
        "- a second item\n"
        "\n"
        "some prose before a command:\n"
        "  a --command that-stays as it is however long it is, for it is to be copied\n"
        "  and a second line"
    )
    # and a word is never broken: options, paths and URLs stay whole
    assert formatter._fill_text("x https://airflow-sidecars.dev/docs/architecture", 10, "") == (
        "x\nhttps://airflow-sidecars.dev/docs/architecture"
    )


def test_the_description_is_the_readmes_short_one() -> None:
    for name in FUNCTIONS:
        assert helptext.function_description(name).startswith(fndocs.SHORT[name])
