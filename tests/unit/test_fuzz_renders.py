"""Fuzzing (hypothesis) the real renders under tests/fixtures, with every shipped config: as
they are (the baseline every mutation starts from), with one to three line-level or structural
mutations (a line deleted, duplicated, swapped or reindented, a tab or an odd character put in,
a field the code reads given a value of another type, the text cut short), and with the objects'
fields the code reads set to data of another type, as a stream or as a ResourceList written as
YAML, JSON, compact JSON or flow YAML.

Every input goes through `check` (tests/support/fuzz_invariants.py): exit 0, 1 or 2, no
traceback, the output complete, what the run may not edit byte for byte, inject idempotent,
remove undoing inject. The budget is tests/support/fuzzing.py's; tests/fuzz_campaign.py runs
this module for a while.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.fuzz_invariants import _may_be_edited, check
from support.fuzz_mutations import LINE_OPS, READ_FIELDS, _lines
from support.fuzzing import (
    CONFIG_DATA,
    CONFIG_NAMES,
    CONFIGS,
    FUZZ,
    OBJECTS,
    RENDER_NAMES,
    RENDERS,
    Case,
    _dump,
    _show,
)

# A failing example makes hypothesis's pytest plugin import libcst (to suggest a patch), which
# uses a deprecated mypy_extensions class: under `filterwarnings = error` that warning would
# turn the report of a failure into an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)


# -- line-level mutations ---------------------------------------------------------------------


@st.composite
def mutated_renders(draw: st.DrawFn) -> Case:
    """A real render with one to three line-level or structural mutations (or truncated)."""
    name = draw(st.sampled_from(RENDER_NAMES))
    config = draw(st.sampled_from(CONFIG_NAMES))
    lines = _lines(RENDERS[name])
    steps: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(sorted(LINE_OPS)))
        step = LINE_OPS[op](draw, lines, 0, len(lines))
        if step is not None:
            steps.append(step)
    text = "".join(lines)
    if draw(st.integers(0, 7)) == 7:
        cut = draw(st.integers(0, len(text)))
        steps.append(f"truncate at {cut}: ...{_show(text[max(0, cut - 60) : cut])}")
        text = text[:cut]
    return Case(f"{name} + {config}", text.encode(), CONFIGS[config].encode(), "stream", steps)


# -- data-level type changes, in streams and ResourceLists ------------------------------------

TYPE_DATA: list[Any] = [5, True, None, ["x"], {"a": 1}, "", [], {}, [None], [{"name": 5}], 1.5]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every value under a key the code reads."""
    found: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if key in READ_FIELDS:
                found.append((*path, key))
            found.extend(_paths(child, (*path, key)))
    elif isinstance(value, list):
        for number, child in enumerate(value):
            found.extend(_paths(child, (*path, number)))
    return found


def _set(root: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        root = root[step]
    root[path[-1]] = value


def _retype_objects(draw: st.DrawFn, objects: list[dict[str, Any]], steps: list[str]) -> None:
    airflow = [n for n, obj in enumerate(objects) if _may_be_edited(json.dumps(obj))]
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 3)) < 3 and airflow:  # mostly the objects the code reads
            number = airflow[draw(st.integers(0, len(airflow) - 1))]
        else:
            number = draw(st.integers(0, len(objects) - 1))
        paths = _paths(objects[number])
        # the field first, then one of its places: rare fields as often as common ones
        keys = sorted({path[-1] for path in paths})
        if not keys:
            continue
        key = draw(st.sampled_from(keys))
        paths = [path for path in paths if path[-1] == key]
        path = paths[draw(st.integers(0, len(paths) - 1))]
        value = draw(st.sampled_from(TYPE_DATA))
        _set(objects[number], path, value)
        where = ".".join(map(str, path))
        steps.append(f"object {number} ({objects[number].get('kind')}) {where} = {value!r}")


@st.composite
def retyped_renders(draw: st.DrawFn) -> Case:
    """A render's objects with fields the code reads set to values of another type, as a stream
    (the other documents as they were rendered) or as a ResourceList."""
    name = draw(st.sampled_from(RENDER_NAMES))
    config = draw(st.sampled_from(CONFIG_NAMES))
    objects = copy.deepcopy(OBJECTS[name])
    steps: list[str] = []
    _retype_objects(draw, objects, steps)
    if draw(st.booleans()):
        style = draw(st.sampled_from(["yaml", "json", "json-compact", "yaml-flow"]))
        resource_list = {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": objects,
            "functionConfig": CONFIG_DATA[config],
        }
        steps.append(f"ResourceList as {style}")
        data = _dump(resource_list, style).encode()
        return Case(f"{name} + {config}", data, None, "krm", steps)
    documents = "".join(f"---\n{_dump(obj, 'yaml')}" for obj in objects)
    return Case(f"{name} + {config}", documents.encode(), CONFIGS[config].encode(), "stream", steps)


# -- the tests --------------------------------------------------------------------------------


@given(mutated_renders())
@FUZZ
def test_mutated_renders(case: Case) -> None:
    check(case)


@given(retyped_renders())
@FUZZ
def test_fields_of_another_type(case: Case) -> None:
    check(case)


@given(
    st.sampled_from(RENDER_NAMES), st.sampled_from(CONFIG_NAMES), st.sampled_from(["stream", "krm"])
)
@FUZZ
def test_every_render_with_every_config(name: str, config: str, mode: str) -> None:
    # The baseline every mutation starts from (and the generators' own sanity).
    if mode == "stream":
        check(Case(name, RENDERS[name].encode(), CONFIGS[config].encode(), "stream", []))
        return
    resource_list = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": OBJECTS[name],
        "functionConfig": CONFIG_DATA[config],
    }
    check(Case(name, _dump(resource_list, "yaml").encode(), None, "krm", []))
