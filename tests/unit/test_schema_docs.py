"""The config's JSON Schema is its reference for people: an editor with the YAML language server
shows a field's description on hover and offers its examples while completing. So every field
has both, every example is valid where it stands, and every config file the repository ships
names the schema on its first line, so that opening one in an editor gives that help at once.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from conftest import ROOT

SCHEMA_PATH = ROOT / "schemas" / "airflow-sidecars.v1alpha1.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
MODELINE = "# yaml-language-server: $schema="
KIND = "AirflowSidecars"
# Test data, not the configs people start from: renders and their expected outputs.
NOT_SHIPPED = ("tests/fixtures/", "tests/golden/")

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
    """The field at `pointer`; a field that is a `$ref` (a shape written once under `$defs`)
    has the docs of its target, unless it says more of its own."""
    node: Any = SCHEMA
    for escaped in pointer.split("/")[1:]:
        token = escaped.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    assert isinstance(node, dict)
    if "$ref" in node and node["$ref"].startswith("#/"):
        return {**at(node["$ref"][1:]), **node}
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


# -- the shipped configs ---------------------------------------------------------------------


def _tracked_yaml() -> list[Path]:
    """The repository's YAML files: those git tracks, else (no git, e.g. an unpacked sdist)
    every one under the root outside hidden folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "*.yaml", "*.yml"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [
            path
            for pattern in ("*.yaml", "*.yml")
            for path in ROOT.rglob(pattern)
            if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        ]
    return sorted(path for path in paths if path.is_file())


def _config_of(path: Path) -> dict[str, Any] | None:
    """The AirflowSidecars object a file holds as a document of its own (a ResourceList that
    carries one as its functionConfig is a recording, not a config to edit)."""
    text = path.read_text(encoding="utf-8")
    if f"kind: {KIND}" not in text:
        return None
    found = [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    configs = [doc for doc in found if doc.get("kind") == KIND]
    return configs[0] if configs else None


def shipped_configs() -> list[Path]:
    return [
        path
        for path in _tracked_yaml()
        if not path.relative_to(ROOT).as_posix().startswith(NOT_SHIPPED)
        and _config_of(path) is not None
    ]


SHIPPED = shipped_configs()


def test_the_shipped_configs_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in SHIPPED}
    assert {
        "pipelines/examples/seed-presets.yaml",
        "pipelines/examples/seed-sidecars.yaml",
        "pipelines/kustomize/sidecars.yaml",
        "pipelines/kustomize/exec/sidecars.yaml",
        "pipelines/kpt/airflow/sidecars.yaml",
        "benchmarks/seed-sidecars.yaml",
        "tests/acceptance/sidecars.yaml",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_a_shipped_config_names_the_schema_and_matches_it(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), (
        f"the first line should be {MODELINE}"
        f"{os.path.relpath(SCHEMA_PATH, path.parent).replace(os.sep, '/')}"
    )
    named = first.removeprefix(MODELINE).strip()
    assert not Path(named).is_absolute() and "\\" not in named  # the same on every machine
    # The YAML language server resolves a relative path against the file's folder.
    assert (path.parent / named).resolve() == SCHEMA_PATH.resolve()
    config = _config_of(path)
    errors = [
        f"{'.'.join(map(str, error.absolute_path)) or '.'}: {error.message}"
        for error in Draft202012Validator(SCHEMA).iter_errors(config)
    ]
    assert not errors
