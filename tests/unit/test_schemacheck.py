"""schemacheck.matches gives jsonschema's verdict, and never a "yes" that jsonschema would not.

The fast check decides whether jsonschema is imported at all (config.py), so a wrong "yes" would
let an invalid config through unchecked. It is held to jsonschema (Draft 2020-12, the reference)
on every config the repository knows and on seeded random mutations of them: replaced values of
every JSON type, dropped and unknown keys, emptied lists, the schema's own enum values in the
wrong places. Unit cases pin the JSON Schema details that Python gets wrong by default.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from airflow_sidecars.configuration.config import schema
from airflow_sidecars.configuration.schemacheck import matches
from conftest import ROOT

SEED = 20261127
MUTANTS_PER_CONFIG = 400


def _known_configs() -> list[tuple[str, Any]]:
    """Every AirflowSidecars object in the repository's examples, golden cases and benchmarks."""
    found = []
    for pattern in ("tests/golden/*/*.yaml", "pipelines/**/*.yaml", "benchmarks/*.yaml"):
        for path in sorted(ROOT.glob(pattern)):
            for document in yaml.safe_load_all(path.read_text()):
                for candidate in _objects_in(document):
                    if candidate.get("kind") == "AirflowSidecars":
                        found.append((str(path.relative_to(ROOT)), candidate))
    return found


def _objects_in(document: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(document, dict):
        return
    yield document
    for key in ("items", "functionConfig"):
        inner = document.get(key)
        for entry in inner if isinstance(inner, list) else [inner]:
            if isinstance(entry, dict):
                yield entry


KNOWN = _known_configs()


def test_the_repository_has_configs_to_compare() -> None:
    assert len(KNOWN) >= 8, KNOWN


def _schema_values(node: Any) -> Iterator[Any]:
    """Every enum and const value in the schema: mutations that are sometimes valid."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum":
                yield from value
            elif key == "const":
                yield value
            else:
                yield from _schema_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_values(value)


REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    2.5,
    65536,
    "",
    "x",
    "Bad_Name",
    "ok-name",
    "a" * 300,
    [],
    [None],
    [{}],
    ["x"],
    {},
    {"name": "v"},
    {"name": "v", "emptyDir": {}},
    {"name": "v", "mountPath": "/v"},
    {"name": "c", "image": "busybox"},
    *_schema_values(schema()),
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _mutate(config: Any, rng: random.Random) -> Any:
    mutant = copy.deepcopy(config)
    for _ in range(rng.choice((1, 1, 2, 3))):
        path = rng.choice(list(_paths(mutant))[1:])
        parent = mutant
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        action = rng.choice(("replace", "replace", "replace", "drop", "unknown", "empty"))
        if action == "replace":
            parent[last] = copy.deepcopy(rng.choice(REPLACEMENTS))
        elif action == "drop":
            del parent[last]
        elif action == "unknown" and isinstance(parent[last], dict):
            parent[last][rng.choice(("bogus", "name", "extraContainers", "image"))] = "x"
        elif action == "empty" and isinstance(parent[last], (dict, list)):
            parent[last].clear()
    return mutant


def _mutants() -> Iterator[Any]:
    rng = random.Random(SEED)
    for name, config in KNOWN:
        yield pytest.param(config, id=f"{name}-as-is")
        for number in range(MUTANTS_PER_CONFIG):
            yield pytest.param(_mutate(config, rng), id=f"{name}-mutant-{number}")


VALIDATOR = Draft202012Validator(schema())


def test_verdicts_agree_with_jsonschema() -> None:
    # One test over all cases rather than thousands of ids: the failure lists every mismatch.
    cases = list(_mutants())
    mismatches = []
    valid = 0
    for case in cases:
        (instance,) = case.values
        reference = VALIDATOR.is_valid(instance)
        valid += reference
        if matches(schema(), instance) != reference:
            mismatches.append((case.id, reference, instance))
    assert not mismatches, mismatches[:5]
    # The mutations must exercise both verdicts, or the comparison proves little.
    assert 0.1 < valid / len(cases) < 0.9, (valid, len(cases))


@pytest.mark.parametrize(
    ("sub_schema", "instance", "verdict"),
    [
        pytest.param({"type": "integer"}, True, False, id="a-bool-is-not-an-integer"),
        pytest.param({"type": "integer"}, 3.0, True, id="an-integral-float-is-an-integer"),
        pytest.param({"type": "number"}, False, False, id="a-bool-is-not-a-number"),
        pytest.param({"enum": [1]}, True, False, id="true-is-not-1-in-enum"),
        pytest.param({"const": 1}, 1.0, True, id="1.0-equals-1-in-const"),
        pytest.param({"const": [False]}, [0], False, id="nested-bool-is-not-0"),
        pytest.param({"pattern": "b"}, "abc", True, id="pattern-is-a-search"),
        pytest.param({"minLength": 2}, ["a"], True, id="minLength-ignores-non-strings"),
        pytest.param({"oneOf": [{"type": "string"}, {"minLength": 1}]}, "a", False, id="oneOf"),
        pytest.param({"required": ["a"]}, {1: "x"}, False, id="int-key-is-not-a-property"),
        pytest.param({"type": "string"}, b"x", False, id="bytes-are-no-json-type"),
        pytest.param({"format": "uri"}, "x", False, id="unknown-keyword-says-no"),
        pytest.param({"$ref": "other.json"}, "x", False, id="remote-ref-says-no"),
        pytest.param({"$ref": "#/$defs/missing"}, "x", False, id="dangling-ref-says-no"),
        pytest.param(
            {"patternProperties": {"^a": {}}, "additionalProperties": False},
            {"a": 1},
            False,
            id="patternProperties-says-no",
        ),
        pytest.param(
            {"$defs": {"s": {"type": "string"}}, "items": {"$ref": "#/$defs/s"}},
            ["a", "b"],
            True,
            id="local-ref",
        ),
    ],
)
def test_json_schema_details(sub_schema: dict[str, Any], instance: Any, verdict: bool) -> None:
    assert matches(sub_schema, instance) is verdict
    if verdict:  # every "yes" must be jsonschema's too
        assert Draft202012Validator(sub_schema).is_valid(instance)
