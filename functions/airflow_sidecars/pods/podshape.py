"""The shapes a pod spec's fields must have before anything reads them.

YAML allows any shape anywhere; the Kubernetes API does not. Planning, presets and validate
read the fields below, and a pod that breaks them is reported (rule `malformed-pod`) and left
as it is: planning it would guess at what the author meant.
"""

from __future__ import annotations

from typing import Any

from airflow_sidecars.text.yamlread import Path

# The fields read, and the shape each must have.
_POD_LISTS = ("initContainers", "containers", "volumes")
_CONTAINER_LISTS: dict[str, tuple[str, ...]] = {
    "volumeMounts": ("name", "mountPath"),
    "env": ("name",),
    "envFrom": (),
    "ports": (),
}
_POD_FIELDS: dict[str, type] = {"serviceAccountName": str, "securityContext": dict}
_CONTAINER_FIELDS: dict[str, type] = {
    "image": str,
    "securityContext": dict,
    "resources": dict,
    "command": list,
    "args": list,
}


def shape_problems(pod: Any) -> list[tuple[Path, str]]:
    """(path in the pod spec, what is wrong) for every field read here that has a shape the
    Kubernetes API would refuse (a list that is a number, a name that is a list, ...)."""
    if not isinstance(pod, dict):
        return [((), f"is {_shape(pod)}, not a mapping")]
    problems: list[tuple[Path, str]] = []
    for field, kind in _POD_FIELDS.items():
        if pod.get(field) is not None and not isinstance(pod[field], kind):
            problems.append(((field,), f"is {_shape(pod[field])}, not {_shape(kind())}"))
    for list_name in _POD_LISTS:
        entries = pod.get(list_name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems.append(((list_name,), f"is {_shape(entries)}, not a list"))
            continue
        for index, entry in enumerate(entries):
            at: Path = (list_name, index)
            if not isinstance(entry, dict):
                problems.append((at, f"is {_shape(entry)}, not a mapping"))
            elif not isinstance(entry.get("name"), str):
                problems.append(((*at, "name"), f"is {_shape(entry.get('name'))}, not a string"))
            elif list_name != "volumes":
                problems += [((*at, *path), what) for path, what in _container_problems(entry)]
    return problems


def _container_problems(container: dict[str, Any]) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    for field, kind in _CONTAINER_FIELDS.items():
        if container.get(field) is not None and not isinstance(container[field], kind):
            problems.append(((field,), f"is {_shape(container[field])}, not {_shape(kind())}"))
    for field, keys in _CONTAINER_LISTS.items():
        entries = container.get(field)
        if entries is None:
            continue
        if not isinstance(entries, list):
            problems.append(((field,), f"is {_shape(entries)}, not a list"))
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                problems.append(((field, index), f"is {_shape(entry)}, not a mapping"))
                continue
            problems += [
                ((field, index, key), f"is {_shape(entry.get(key))}, not a string")
                for key in keys
                if not isinstance(entry.get(key), str)
            ]
    return problems


def _shape(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    number = f"a number ({value!r})" if isinstance(value, int | float) else "?"
    return names.get(type(value), number)
