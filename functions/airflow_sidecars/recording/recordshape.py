"""What a record annotation may hold, checked before a single item of it is believed.

A record decides what `remove` and inject's take-back delete, so a record that is not exactly
what records.dumps writes (hand-edited, merged badly, made to crash the reader) is refused as a
whole: nothing of it is taken back, and the error names what is wrong. Two forms are read:
today's, where each item carries the digest of what was written, and the form of 0.1.x (names
only, no digests), which keeps working (records.py says how far it is trusted).
"""

from __future__ import annotations

import json
import re
from typing import Any

# Far above any record inject writes (a few hundred bytes per pod), far below what would cost
# time or memory to read. Kubernetes allows 256 KiB for all of an object's annotations.
MAX_BYTES = 32 * 1024
# The deepest record inject writes is 3 levels (mounts -> container -> path -> digest); JSON's
# decoder recurses per level, so a record thousands deep must be refused before it is decoded.
MAX_DEPTH = 4
DIGEST = re.compile(r"^[0-9a-f]{16}$")

# Top-level key -> its shape: "names" (a list of names, or name -> digest), "nested"
# (container -> the same), "lists", "checksum", "took" (the chart's entries that items took
# the place of: volumes: name -> text; mounts: container -> mountPath -> text).
FIELDS = {
    "containers": "names",
    "initContainers": "names",
    "volumes": "names",
    "annotations": "names",
    "mounts": "nested",
    "env": "nested",
    "lists": "lists",
    "checksum": "checksum",
    "took": "took",
}
# "null:~" and the like: a null spelled so (plain "null" is an empty value, `key:`);
# "parent-null": the annotations' mapping (`metadata`) was that null.
_SPELLINGS = ("", ":null", ":Null", ":NULL", ":~")
LIST_FORMS = frozenset(
    {"absent", "empty", *(f"{form}{s}" for form in ("null", "parent-null") for s in _SPELLINGS)}
)


class RecordError(ValueError):
    """A record annotation that records.dumps cannot have written; the text says why."""


def decode(text: str) -> dict[str, Any]:
    """The record's JSON object, its shape checked; RecordError says what is wrong."""
    if len(text) > MAX_BYTES:
        raise RecordError(f"it is {len(text)} characters long (a record is at most {MAX_BYTES})")
    if _depth(text) > MAX_DEPTH:
        raise RecordError(f"it is nested more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RecordError(f"it is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise RecordError(f"it is {_kind(data)}, not a JSON object")
    for field, value in data.items():
        shape = FIELDS.get(field)
        if shape is None:
            raise RecordError(f"{field!r} is not a field of a record ({', '.join(FIELDS)})")
        _check(field, shape, value)
    return data


def _check(field: str, shape: str, value: Any) -> None:
    if shape == "names":
        _names(field, value)
    elif shape == "nested":
        for container, names in _mapping(field, value).items():
            _name(field, container)
            _names(f"{field}.{container}", names)
    elif shape == "lists":
        for name, form in _mapping(field, value).items():
            if not isinstance(form, str) or form not in LIST_FORMS:  # a list is unhashable
                raise RecordError(f"{field}.{name} is {form!r}, not one of {sorted(LIST_FORMS)}")
    elif shape == "took":
        _took(field, value)
    else:
        for pod, checksum in _mapping(field, value).items():
            if not isinstance(checksum, str):
                raise RecordError(f"{field}.{pod} is {_kind(checksum)}, not a string")


def _took(field: str, value: Any) -> None:
    for group, entries in _mapping(field, value).items():
        if group not in ("volumes", "mounts"):
            raise RecordError(f"{field}.{group} is not volumes or mounts")
        texts = list(_mapping(f"{field}.{group}", entries).items())
        if group == "mounts":
            texts = [
                (f"{container}.{path}", text)
                for container, paths in texts
                for path, text in _mapping(f"{field}.mounts.{container}", paths).items()
            ]
        for name, text in texts:
            if not isinstance(text, str) or not text:
                raise RecordError(f"{field}.{group}.{name} is {_kind(text)}, not an entry's text")


def _names(field: str, value: Any) -> None:
    """A list of names (0.1.x), or name -> digest ("" where none could be taken)."""
    if isinstance(value, list):
        for name in value:
            _name(field, name)
        if len(set(value)) != len(value):
            raise RecordError(f"{field} names an item twice")
        return
    if not isinstance(value, dict):
        raise RecordError(f"{field} is {_kind(value)}, not a list or an object of names")
    for name, digest in value.items():
        _name(field, name)
        if not isinstance(digest, str) or not (digest == "" or DIGEST.match(digest)):
            raise RecordError(f"{field}.{name} is {digest!r}, not a digest (16 hex digits)")


def _name(field: str, name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise RecordError(f"{field} holds {_kind(name)}, where a name belongs")


def _mapping(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{field} is {_kind(value)}, not a JSON object")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _depth(text: str) -> int:
    """How deep JSON brackets nest outside strings (a mount path may hold a bracket)."""
    deepest = depth = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif character in "]}":
            depth -= 1
    return deepest
