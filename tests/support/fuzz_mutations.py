"""Mutations of the text of real renders that several fuzz generators make: line-level ones
(a line deleted, duplicated, swapped, reindented, a tab or an odd character put in, a field the
code reads given a value of another type), hostile YAML values (anchors, aliases, alias bombs,
tags, merge keys), and where a render's KubernetesExecutor pod template string is.

Each op changes the lines of a render within a range in place and returns a step that says
what it did (for the case's repr), or None when the range had nothing it could change.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import strategies as st

from support.fuzzing import _show

# -- line-level mutations ---------------------------------------------------------------------

KEY_LINE = re.compile(
    r"^(?P<lead>[ ]*(?:-[ ]+)*)(?P<key>[A-Za-z_][\w./-]*)[ ]*:(?:[ ]+(?P<value>.*?))?[ ]*$"
)
READ_FIELDS = frozenset(
    (
        "containers",
        "initContainers",
        "volumes",
        "volumeMounts",
        "env",
        "envFrom",
        "name",
        "image",
        "metadata",
        "labels",
        "annotations",
        "serviceAccountName",
        "volumeClaimTemplates",
        "data",
        "template",
        "spec",
        "tier",
        "app",
        "component",
        "release",
        "chart",
        "kind",
        "apiVersion",
        "mountPath",
        "args",
        "command",
        "value",
        "pod_template_file.yaml",
        "persistentVolumeClaim",
        "claimName",
        "emptyDir",
    )
)
TYPE_VALUES = [
    "5",
    "true",
    "null",
    "[x]",
    "{a: 1}",
    '""',
    "~",
    "[]",
    "{}",
    "-1",
    "1.5",
    "[{name: 5}]",
    "[[x]]",
    "[null]",
    "{name: {a: 1}}",
    "2001-12-14",
    "0x1F",
    "'multi\n  line'",
]
CHARACTERS = st.one_of(
    st.sampled_from(list(":-[]{},#&*!|>'\"%@`?\t\\ ~\n\r\x00\x85\u2028\ufeff\x91")),
    st.characters(codec="utf-8"),
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _match(line: str) -> re.Match[str] | None:
    return KEY_LINE.match(line.rstrip("\r\n"))


def _subtree_end(lines: list[str], index: int) -> int:
    """The line after a key line's value (its nested block too)."""
    found = _match(lines[index])
    assert found is not None
    column, block = len(found["lead"]), not found["value"]
    end = index + 1
    while end < len(lines):
        line = lines[end]
        if line.startswith(("---", "...")):
            break
        if line.strip():
            indent = _indent(line)
            same_column_list = block and indent == column and line.lstrip(" ").startswith("-")
            if indent < column or (indent == column and not same_column_list):
                break
        end += 1
    return end


def _in(draw: st.DrawFn, low: int, high: int) -> int:
    return draw(st.integers(low, max(low, high - 1)))


def _choose(draw: st.DrawFn, candidates: list[int]) -> int | None:
    if not candidates:
        return None
    return candidates[draw(st.integers(0, len(candidates) - 1))]


def _key_lines(
    lines: list[str], low: int, high: int, test: Callable[[re.Match[str]], bool]
) -> list[int]:
    found = []
    for index in range(low, min(high, len(lines))):
        match = _match(lines[index])
        if match is not None and test(match):
            found.append(index)
    return found


def _eol(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :] or "\n"


LineOp = Callable[[st.DrawFn, list[str], int, int], str | None]


def op_delete(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    removed = lines.pop(index)
    return f"delete line {index + 1} {_show(removed)}"


def op_duplicate(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    lines.insert(index, lines[index])
    return f"duplicate line {index + 1} {_show(lines[index])}"


def op_swap(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    first = _in(draw, low, high)
    second = _in(draw, low, high)
    lines[first], lines[second] = lines[second], lines[first]
    return f"swap lines {first + 1} and {second + 1}"


def op_reindent(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    delta = draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
    line = lines[index]
    indent = _indent(line)
    lines[index] = " " * max(0, indent + delta) + line[indent:]
    return f"indent line {index + 1} by {delta}: {_show(lines[index])}"


def op_tab(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    line = lines[index]
    position = draw(st.integers(0, len(line.rstrip("\r\n"))))
    lines[index] = line[:position] + "\t" + line[position:]
    return f"tab into line {index + 1}: {_show(lines[index])}"


def op_character(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    line = lines[index]
    position = draw(st.integers(0, len(line.rstrip("\r\n"))))
    character = draw(CHARACTERS)
    lines[index] = line[:position] + character + line[position:]
    return f"insert {character!r} into line {index + 1}: {_show(lines[index])}"


def op_retype(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    # The field first, then one of its lines: rare fields (volumeClaimTemplates) as often as
    # common ones (name).
    key = draw(st.sampled_from(sorted(READ_FIELDS)))
    index = _choose(draw, _key_lines(lines, low, high, lambda m: m["key"] == key))
    if index is None:
        return None
    found = _match(lines[index])
    assert found is not None
    end = _subtree_end(lines, index)
    value = draw(st.sampled_from(TYPE_VALUES))
    lines[index:end] = [f"{found['lead']}{found['key']}: {value}{_eol(lines[end - 1])}"]
    return f"line {index + 1}: {found['key']}: {value!r} (was {end - index} line(s))"


LINE_OPS: dict[str, LineOp] = {
    "delete": op_delete,
    "duplicate": op_duplicate,
    "swap": op_swap,
    "reindent": op_reindent,
    "tab": op_tab,
    "character": op_character,
    "retype": op_retype,
}


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


# -- hostile YAML values ----------------------------------------------------------------------


def _bomb(levels: int = 9, fan_out: int = 9) -> str:
    """`levels` nested anchored lists, each of `fan_out` aliases of the one below."""
    text = "[" + ", ".join(["x"] * fan_out) + "]"
    for level in range(1, levels):
        text = f"[&b{level} {text}, " + ", ".join([f"*b{level}"] * (fan_out - 1)) + "]"
    return text


BOMB = _bomb()
VALUE_SNIPPETS = [
    "&a [*a]",
    "&a {k: *a}",
    BOMB,
    "!!str {a: 1}",
    "!!map [a]",
    "!!seq {a: 1}",
    "!!int abc",
    "!!python/object:os.system {}",
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system ''",
    "!foo bar",
    "!foo {a: 1}",
    "{? {a: 1} : b}",
    "{? [a] : b}",
    "[&b {tier: airflow}, {<<: *b, x: 1}]",
    "{<<: {tier: airflow, component: scheduler, release: airflow}}",
    "*undefined",
    "!!binary aGk=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!float 1e400",
    "!<tag:yaml.org,2002:str> x",
    "&x plain",
    "!!null ''",
    "!!bool maybe",
    "!!timestamp 2001-12-14",
]


# -- the pod template string ------------------------------------------------------------------


def _template_range(lines: list[str]) -> tuple[int, int] | None:
    """The lines of the pod template string (official chart: ConfigMap data key)."""
    for number, line in enumerate(lines):
        if re.match(r"^\s+pod_template_file\.yaml:\s*[|>]", line):
            column = _indent(line)
            end = number + 1
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > column):
                end += 1
            return number + 1, end
    return None
