"""Adopting from today's values: the `extra*` values of chart values files, as a config.

`from-values` reads chart values files (merged as Helm merges `-f` files: maps key by key, the
later file's lists and scalars winning) and writes an AirflowSidecars config holding exactly
their `extra{Containers,InitContainers,Volumes,VolumeMounts}` (and the top-level `volumes` /
`volumeMounts`) at the chart's own nesting, worker sets by name. `--strip` writes a values file
without them, by splices (comments and layout kept), so that rendering with the stripped values
and injecting the config gives what the chart gave with the originals.

The chart adds extraContainers as plain containers, in Jobs and task pods too: a section that
has some gets `allowPlainSidecars: true`, which keeps that meaning (and says it out loud).
Values the chart table does not know are left in the values, and said.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import yaml

from . import yamlemit
from .chart import CHART_VALUES, CONTAINERS, EXTRA_KEYS, generic
from .config import API_VERSION, KIND
from .yamledit import Editor
from .yamlread import (
    Node,
    NotOneDocument,
    Path,
    UnsupportedYaml,
    dotted,
    load_one,
    mapping_pairs,
    node_at,
)
from .yamltext import detect_seq_indent

_TOP = ("volumes", "volumeMounts")
_SETS = ("workers", "celery", "sets")
KNOWN = (
    {path for values in CHART_VALUES.values() for path in values}
    | {("web", key) for key in EXTRA_KEYS}
    | {(*_SETS, "*", key) for key in EXTRA_KEYS}
)


def found_values(values: Any) -> list[tuple[Path, Any]]:
    """Every non-empty `extra*` value of a values tree, with its path (a worker set's by its
    index in `workers.celery.sets`)."""
    found: list[tuple[Path, Any]] = []

    def extra(here: Path, value: Any) -> None:
        if value:
            found.append((here, value))

    def sets(here: Path, value: Any) -> None:
        if not isinstance(value, list):
            _visit(value, here, extra, sets)
            return
        for index, entry in enumerate(value):
            for key in EXTRA_KEYS:
                if isinstance(entry, dict) and entry.get(key):
                    found.append(((*here, index, key), entry[key]))

    _visit(values, (), extra, sets)
    return found


def problems(values: Any) -> list[str]:
    """What in a values file's tree keeps it from becoming a config: an `extra*` value the
    chart places that is not a list, and worker sets that a config could not name (the
    config carries a set's values by its name). Each as a sentence naming the value."""
    found: list[str] = []

    def extra(here: Path, value: Any) -> None:
        if value is not None and not isinstance(value, list) and _known(here):
            found.append(f"{dotted(here)} is {what_it_is(value)}, not a list")

    _visit(values, (), extra, lambda _, value: found.extend(_set_problems(value)))
    return found


def _visit(
    node: Any,
    path: Path,
    extra: Callable[[Path, Any], None],
    sets: Callable[[Path, Any], None],
) -> None:
    """Walk a values tree: `extra` for each `extra*` value (and the top-level `volumes` and
    `volumeMounts`), `sets` for `workers.celery.sets`; nothing else is the config's."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = (*path, str(key))
        if key in EXTRA_KEYS or (len(here) == 1 and key in _TOP):
            extra(here, value)
        elif here == _SETS:
            sets(here, value)
        else:
            _visit(value, here, extra, sets)


def _set_problems(sets: Any) -> list[str]:
    where = dotted(_SETS)
    if sets is None:
        return []
    if not isinstance(sets, list):
        return [f"{where} is {what_it_is(sets)}, not a list of worker sets"]
    found: list[str] = []
    named: dict[str, int] = {}
    for index, entry in enumerate(sets):
        here = f"{where}[{index}]"
        if not isinstance(entry, dict):
            found.append(f"{here} is {what_it_is(entry)}, not a worker set (a mapping)")
            continue
        if not any(entry.get(key) for key in EXTRA_KEYS):
            continue  # nothing of it goes into the config
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            what = "has no name" if name is None else f"has the name {name!r}, not a string"
            found.append(
                f"{here} {what}: a config carries a worker set's values by its name; name it "
                "as the chart renders it"
            )
        elif name in named:
            found.append(f"{here} has the name {name!r} of {where}[{named[name]}]")
        else:
            named[name] = index
    return found


def what_it_is(value: Any) -> str:
    """What a value is, in words."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else f"the {type(value).__name__} {value!r}"


def _known(path: Path) -> bool:
    if path[:3] == _SETS:
        return (*_SETS, "*", path[4]) in KNOWN
    return generic(tuple(str(step) for step in path)) in KNOWN


def config_spec(values: Any) -> tuple[dict[str, Any], list[str]]:
    """The config's spec, and the values left out (dotted paths the chart table lacks)."""
    spec: dict[str, Any] = {}
    left_out: list[str] = []
    for path, value in found_values(values):
        if not _known(path):
            left_out.append(dotted(path))
            continue
        if path[:3] == _SETS:
            index, key = int(path[3]), str(path[4])
            name = values["workers"]["celery"]["sets"][index].get("name")
            target = spec.setdefault("workers", {}).setdefault("celery", {})
            sets = target.setdefault("sets", [])
            entry = next((s for s in sets if s["name"] == name), None)
            if entry is None:
                entry = {"name": name}
                sets.append(entry)
            entry[key] = value
            continue
        target = spec
        for step in path[:-1]:
            target = target.setdefault(str(step), {})
        target[str(path[-1])] = value
    for section in spec.values():
        if isinstance(section, dict) and _holds_containers(section):
            section["allowPlainSidecars"] = True
    return spec, left_out


def _holds_containers(node: Any) -> bool:
    if isinstance(node, dict):
        return CONTAINERS in node or any(_holds_containers(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_containers(v) for v in node)
    return False


def merged(documents: list[Any]) -> Any:
    """Values files merged as Helm merges them: maps key by key, anything else replaced."""
    result: Any = {}
    for document in documents:
        result = _merge(result, document)
    return result


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(out[key], value) if key in out else value
        return out
    return override


def config_text(spec: dict[str, Any], name: str) -> str:
    """The config, written as block YAML (the same writer as inject's edits: no anchors)."""
    document = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}}
    document["spec"] = spec
    return "\n".join(yamlemit.block_lines(document, 0, 2)) + "\n"


def stripped(text: str, what: str) -> str:
    """The values text without the `extra*` values a config carries, by splices: a mapping
    left empty goes with its key (in Helm a null value would delete the chart's defaults)."""
    try:
        document = load_one(text, what)
    except NotOneDocument as error:
        if error.count == 0:  # empty, or only comments: nothing to take out
            return text
        raise
    paths = [path for path, _ in found_values(document.data) if _known(path)]
    if not paths:
        return text
    editor = Editor(text, seq_indent=detect_seq_indent(document.node, text))
    expected = copy.deepcopy(document.data)
    for path in _whole(document.node, paths):
        if path:
            editor.remove(document.node, path)
            holder = expected
            for step in path[:-1]:
                holder = holder[step]
            del holder[path[-1]]
        else:
            editor.replace(document.node, (), {})
            expected = {}
    result = editor.apply()
    # Verify before output: the stripped values must read as the values without them.
    if load_one(result, what).data != expected:
        raise UnsupportedYaml("internal: the stripped values do not read as planned")
    return result


def _whole(root: Node, paths: list[Path]) -> list[Path]:
    """The keys to remove: a mapping all of whose keys go is removed as one key of its parent,
    up to the document (the empty path: it becomes `{}`)."""
    gone = set(paths)
    changed = True
    while changed:
        changed = False
        for parent in {path[:-1] for path in gone if path}:
            node = node_at(root, parent)
            keys = {(*parent, key.value) for key, _ in mapping_pairs(node)}
            if isinstance(node, yaml.MappingNode) and keys and keys <= gone:
                gone = (gone - keys) | {parent}
                changed = True
    return sorted(gone, key=lambda path: tuple(str(step) for step in path))
