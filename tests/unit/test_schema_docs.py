"""The config's JSON Schema is its reference for people: an editor with the YAML language server
shows a field's description on hover and offers its examples while completing. So every field
has both, and every example is valid where it stands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from conftest import ROOT

SCHEMA_PATH = ROOT / "schemas" / "airflow-sidecars.v1alpha1.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())

# Keywords whose values are data, not schemas: never walked into.
_DATA = frozenset({"examples", "enum", "const", "default", "required"})


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def fields(node: Any = SCHEMA, pointer: str = "", name: str = "") -> Iterator[tuple[str, str]]:
    """(name, JSON pointer) of the schema itself, every property at every depth (in items and
    oneOf too) and every $defs entry; a name reads like the config path
    (`spec.workers.celery.sets[].name`, `$defs.container.image`)."""
    if not isinstance(node, dict):
        return
    if pointer == "" or pointer.rsplit("/", 2)[-2] in ("properties", "$defs"):
        yield name or "(the schema)", pointer
    for key, value in node.items():
        if key in _DATA:
            continue
        here = f"{pointer}/{_escape(key)}"
        if key in ("properties", "$defs") and isinstance(value, dict):
            for child, sub in value.items():
                prefix = "$defs." if key == "$defs" else (f"{name}." if name else "")
                yield from fields(sub, f"{here}/{_escape(child)}", prefix + child)
        elif key == "items":
            yield from fields(value, here, f"{name}[]")
        elif isinstance(value, dict):
            yield from fields(value, here, name)
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                yield from fields(sub, f"{here}/{index}", name)


def at(pointer: str) -> dict[str, Any]:
    node: Any = SCHEMA
    for escaped in pointer.split("/")[1:]:
        token = escaped.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    assert isinstance(node, dict)
    return node


FIELDS = list(fields())
REGISTRY: Registry[Any] = Registry().with_resource(SCHEMA["$id"], Resource.from_contents(SCHEMA))


def validator_at(pointer: str) -> Draft202012Validator:
    """A validator of the subschema at `pointer`, its `$ref`s resolved against the whole schema."""
    reference = {"$schema": SCHEMA["$schema"], "$ref": f"{SCHEMA['$id']}#{pointer}"}
    return Draft202012Validator(reference, registry=REGISTRY)


def test_the_walk_finds_every_field() -> None:
    names = {name for name, _ in FIELDS}
    assert len(FIELDS) == len(names)  # one entry per field
    assert len(FIELDS) > 200
    for name in (
        "(the schema)",
        "spec.workers.celery.sets[].extraContainers",
        "spec.presets.kerberos.keytabKey",
        "$defs.container.ports[].containerPort",
        "$defs.volume.persistentVolumeClaim",
    ):
        assert name in names


def test_every_field_has_a_description_and_examples() -> None:
    missing = [
        f"{name}: {', '.join(what for what in ('description', 'examples') if what not in node)}"
        for name, pointer in FIELDS
        if not {"description", "examples"} <= set(node := at(pointer))
    ]
    assert not missing, "fields without a description or examples:\n" + "\n".join(missing)


def test_descriptions_and_examples_are_not_empty() -> None:
    empty = [
        name
        for name, pointer in FIELDS
        if len(str(at(pointer).get("description", "")).split()) < 3
        or not isinstance(at(pointer).get("examples"), list)
        or not at(pointer)["examples"]
    ]
    assert not empty, "fields with a description of fewer than three words, or no example:\n" + (
        "\n".join(empty)
    )


def test_every_example_is_valid_where_it_stands() -> None:
    invalid = []
    for name, pointer in FIELDS:
        validator = validator_at(pointer)
        for number, example in enumerate(at(pointer).get("examples", [])):
            invalid += [
                f"{name} examples[{number}] at {'.'.join(map(str, error.absolute_path)) or '.'}: "
                f"{error.message}"
                for error in validator.iter_errors(example)
            ]
    assert not invalid, "examples their own schema refuses:\n" + "\n".join(invalid)


def test_scalar_examples_are_not_one_placeholder_everywhere() -> None:
    """A scalar field's examples are that field's own, not one value pasted on many fields:
    a value may repeat only among fields of at most two names (a volume's name and a mount's
    name are both `dags`)."""
    by_value: dict[str, list[str]] = {}
    for name, pointer in FIELDS:
        node = at(pointer)
        if node.get("type") in ("string", "integer") or "enum" in node or "pattern" in node:
            for example in node.get("examples", []):
                by_value.setdefault(json.dumps(example), []).append(name)
    shared = {
        value: names
        for value, names in by_value.items()
        if len({name.rsplit(".", 1)[-1] for name in names}) > 2
    }
    assert not shared, shared
