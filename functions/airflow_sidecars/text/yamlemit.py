"""Write new values as YAML text that fits into an existing document.

Only values this function adds (a container from the config, a mount, a result) are written
by this module; everything that came in is kept as the bytes it came in as (see yamledit.py).
New values keep the key order the user wrote them in, and take the sequence indentation of the
place they go into, so that a diff shows just the added lines.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import yaml

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_AMBIGUOUS = re.compile(
    r"[yYnN]|[-+]?(0o[0-7_]+|0x[0-9a-fA-F_]+"
    r"|(\.[0-9][0-9_]*|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?)"
)


# Characters a YAML reader refuses raw, or reads as a line break (NEL, LS, PS: YAML 1.1 line
# breaks, which inside a block scalar of an outer document end its line): always escaped.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _json(value: Any, separators: tuple[str, str] | None = None) -> str:
    """JSON, which is YAML, with every character a YAML reader would not take back escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=separators)
    return _UNSAFE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def scalar(value: Any) -> str:
    """One scalar as YAML text that every YAML 1.1 and 1.2 reader takes back as the same value.

    PyYAML quotes strings that a YAML 1.1 reader would take for something else ("10", "on",
    "2024-01-01", "null"), which is also what kyaml does for the apiserver's sake.
    """
    if isinstance(value, str) and _UNSAFE.search(value):
        return _json(value)
    text = yaml.dump(value, Dumper=_Dumper, width=2**30, allow_unicode=True)
    text = text.removesuffix("\n...\n").removesuffix("\n")
    if "\n" in text:  # a string PyYAML chose to fold: fall back to one double-quoted line
        return _json(value)
    if isinstance(value, str) and text == value and _AMBIGUOUS.fullmatch(value):
        # go-yaml v2 (sigs.k8s.io/yaml, so the API machinery) reads y/n as booleans, and YAML 1.2
        # readers read 1e3, 0o17 as numbers; PyYAML leaves these plain.
        return _json(value)
    return text


def _literal_block(text: str, indent: int) -> list[str] | None:
    """A multi-line string as a literal block (`|`), or None when a literal cannot hold it."""
    if _UNSAFE.search(text) or "\r" in text:
        return None
    body = text.rstrip("\n")
    if not body:
        # Only line breaks: a block scalar without content reads as "" whatever its chomping
        # says (clip and strip drop the breaks; keep would take in the lines after it).
        return None
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    lines = body.split("\n")
    if any(line.endswith((" ", "\t")) for line in lines):
        return None
    # Readers take the indentation from the first line with content (leading empty lines are
    # part of the value): when that line starts with a space, or a tab (which libyaml refuses
    # while it looks for the indentation), it needs an explicit indentation indicator.
    first = next(line for line in lines if line)
    indicator = "2" if first.startswith((" ", "\t")) else ""
    pad = " " * indent
    out = [f"|{indicator}{chomp}"]
    out += [pad + line if line else "" for line in lines]
    out += [""] * (trailing - 1)
    return out


def block_lines(value: Any, indent: int, seq_indent: int) -> list[str]:
    """`value` (a mapping or sequence) as block-style lines, each indented by `indent` spaces.

    `seq_indent` is how far a sequence's dashes sit to the right of the key that holds it
    (0: compact, as kyaml writes; 2: wide, as the Airflow chart writes).
    """
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            lines += _entry_lines(f"{pad}{scalar(key)}:", item, indent, seq_indent)
        return lines
    if isinstance(value, list):
        for item in value:
            lines += _sequence_item_lines(item, indent, seq_indent)
        return lines
    raise TypeError(f"block_lines needs a mapping or a sequence, not {type(value).__name__}")


def _entry_lines(head: str, item: Any, indent: int, seq_indent: int) -> list[str]:
    """`head` is `key:`; the value follows inline (scalars) or on the next lines (collections)."""
    if isinstance(item, dict) and item:
        return [head, *block_lines(item, indent + 2, seq_indent)]
    if isinstance(item, list) and item:
        return [head, *block_lines(item, indent + seq_indent, seq_indent)]
    if isinstance(item, str) and "\n" in item:
        literal = _literal_block(item, indent + 2)
        if literal is not None:
            return [f"{head} {literal[0]}", *literal[1:]]
    return [f"{head} {inline(item)}"]


def _sequence_item_lines(item: Any, indent: int, seq_indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(item, (dict, list)) and item:
        inner = block_lines(item, indent + 2, seq_indent)
        return [f"{pad}- {inner[0].lstrip(' ')}", *inner[1:]]
    if isinstance(item, str) and "\n" in item:
        literal = _literal_block(item, indent + 2)
        if literal is not None:
            return [f"{pad}- {literal[0]}", *literal[1:]]
    return [f"{pad}- {inline(item)}"]


class Null(NamedTuple):
    """A null as a text spelled it (`null`, `~`): what remove writes back where inject made a
    list of a null, so that the text comes back as it was. As data it is None."""

    spelled: str


NULL_SPELLINGS = frozenset({"null", "Null", "NULL", "~"})


def inline(value: Any) -> str:
    """A value on one line: a scalar, or an empty / flow collection."""
    if isinstance(value, Null):
        return value.spelled
    if isinstance(value, (dict, list)):
        return flow(value)
    return scalar(value)


def flow(value: Any) -> str:
    """A value in flow style. JSON is valid YAML flow, and keeps JSON input JSON."""
    if isinstance(value, Null):
        return value.spelled
    return _json(value, separators=(", ", ": "))
