"""A quick yes or no: does a config match the shipped JSON Schema?

Importing jsonschema costs more than everything else the function does on one render (about
50 ms of a 150 ms run), and nearly every config a pipeline runs is valid. So the
schema is first read by this small interpreter of the keywords it uses, and jsonschema is
imported only when the answer is not a plain yes: it remains the reference, and the one that
names every problem (config.py).

The answer is one-sided by construction. A keyword this module does not know, a `$ref` it
cannot follow, or a value that is not plain JSON data gives "no", never "yes", so the worst a
gap here can cost is the jsonschema import. tests/unit/test_schemacheck.py holds it to
jsonschema's verdict on every config the tests know and on thousands of mutations of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

Schema = dict[str, Any] | bool

# Keywords that only describe: they never make an instance invalid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
)


class _Unsupported(Exception):
    """The schema uses something this module does not interpret."""


def matches(schema: Schema, instance: Any) -> bool:
    """True only when `instance` is valid under `schema` (draft 2020-12 semantics); False when
    it is not, or when this module cannot tell."""
    try:
        return _Checker(schema).valid(schema, instance)
    except _Unsupported:
        return False


class _Checker:
    def __init__(self, root: Schema) -> None:
        self.root = root

    def valid(self, schema: Schema, instance: Any) -> bool:
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            raise _Unsupported(f"a schema of type {type(schema).__name__}")
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS:
                continue
            check = _KEYWORDS.get(keyword)
            if check is None:
                raise _Unsupported(keyword)
            if not check(self, value, instance, schema):
                return False
        return True

    def resolve(self, ref: str) -> Schema:
        if not ref.startswith("#"):
            raise _Unsupported(ref)
        target: Any = self.root
        for escaped in ref[1:].split("/")[1:]:
            token = escaped.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or token not in target:
                raise _Unsupported(ref)
            target = target[token]
        if not isinstance(target, (dict, bool)):
            raise _Unsupported(ref)
        return target


def _is_type(instance: Any, name: str) -> bool:
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "string":
        return isinstance(instance, str)
    if name == "boolean":
        return isinstance(instance, bool)
    if name == "null":
        return instance is None
    if isinstance(instance, bool):
        return False  # a bool is an int to Python, never a number to JSON Schema
    if name == "integer":
        return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
    if name == "number":
        return isinstance(instance, (int, float))
    raise _Unsupported(f"type {name}")


def _is_number(instance: Any) -> bool:
    return isinstance(instance, (int, float)) and not isinstance(instance, bool)


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_json_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


@cache
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source)


def _type(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    names = value if isinstance(value, list) else [value]
    return any(_is_type(instance, name) for name in names)


def _properties(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(c.valid(sub, instance[key]) for key, sub in value.items() if key in instance)


def _additional_properties(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    if "patternProperties" in schema:
        raise _Unsupported("patternProperties")
    known = schema.get("properties", {})
    return all(c.valid(value, instance[key]) for key in instance if key not in known)


def _required(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(key in instance for key in value)


def _items(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    if "prefixItems" in schema or not isinstance(value, (dict, bool)):
        raise _Unsupported("prefixItems")
    return not isinstance(instance, list) or all(c.valid(value, item) for item in instance)


def _enum(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return any(_json_equal(instance, option) for option in value)


def _const(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return _json_equal(instance, value)


def _pattern_keyword(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return not isinstance(instance, str) or _pattern(value).search(instance) is not None


def _one_of(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return sum(1 for sub in value if c.valid(sub, instance)) == 1


def _any_of(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return any(c.valid(sub, instance) for sub in value)


def _all_of(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return all(c.valid(sub, instance) for sub in value)


def _not(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return not c.valid(value, instance)


def _ref(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    return c.valid(c.resolve(value), instance)


def _bound(
    applies: Callable[[Any], bool], measure: Callable[[Any], Any], holds: Callable[[Any, Any], bool]
) -> Callable[[_Checker, Any, Any, dict[str, Any]], bool]:
    def check(c: _Checker, value: Any, instance: Any, schema: dict[str, Any]) -> bool:
        return not applies(instance) or holds(measure(instance), value)

    return check


def _is_str(instance: Any) -> bool:
    return isinstance(instance, str)


def _is_list(instance: Any) -> bool:
    return isinstance(instance, list)


def _is_dict(instance: Any) -> bool:
    return isinstance(instance, dict)


def _at_least(measured: Any, bound: Any) -> bool:
    return bool(measured >= bound)


def _at_most(measured: Any, bound: Any) -> bool:
    return bool(measured <= bound)


def _itself(instance: Any) -> Any:
    return instance


_KEYWORDS: dict[str, Callable[[_Checker, Any, Any, dict[str, Any]], bool]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "required": _required,
    "items": _items,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern_keyword,
    "oneOf": _one_of,
    "anyOf": _any_of,
    "allOf": _all_of,
    "not": _not,
    "$ref": _ref,
    "minLength": _bound(_is_str, len, _at_least),
    "maxLength": _bound(_is_str, len, _at_most),
    "minItems": _bound(_is_list, len, _at_least),
    "maxItems": _bound(_is_list, len, _at_most),
    "minProperties": _bound(_is_dict, len, _at_least),
    "maxProperties": _bound(_is_dict, len, _at_most),
    "minimum": _bound(_is_number, _itself, _at_least),
    "maximum": _bound(_is_number, _itself, _at_most),
}
