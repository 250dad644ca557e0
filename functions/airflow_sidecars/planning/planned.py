"""What an inject run edits, said entry by entry for `inject --plan`.

Every edit inject makes goes through edits.py (`edit`, `set_annotation`) or the pod template's
editor (podtemplate.write); each of those also hands its ops here, and this module names what
they add, where, in the words a reader of the manifests uses: a container (plain sidecar,
native sidecar, init container), a volume, a mount into a container, an env var, an
annotation. The plan is these very ops, not a second computation of them, so it cannot say
anything inject does not write.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow_sidecars.krmio import krm
from airflow_sidecars.pods.podspec import Op, Restore
from airflow_sidecars.text.yamlemit import Null
from airflow_sidecars.text.yamlread import Path, dotted


class Target(NamedTuple):
    """The object an edit lands in, and, for the KubernetesExecutor pod template, the
    ConfigMap data key that holds it."""

    release: str | None
    namespace: str | None
    kind: str
    name: str
    component: str | None  # the chart's `component` label
    file: str | None  # the input file (None: stdin)
    template_key: str | None = None


class Entry(NamedTuple):
    """One thing an edit adds (or replaces, or takes away) in one object."""

    action: str  # "add", "replace" (a same-named entry, onConflict: replace), "remove"
    what: str  # "container", "volume", "volumeMount", "env", "annotation"
    name: str  # container, volume, variable or annotation name; a mount's volume
    container: str | None  # the container a mount or a variable goes into
    role: str | None  # a container's: "sidecar", "native-sidecar", "init"
    field: str  # where, as a dotted path in the object (`data.<key>#spec...` in a pod template)
    # what is written there (for "remove": what is taken out), as the op carries it: plain()
    # makes it JSON data
    value: Any


def target(item: krm.Item, template_key: str | None = None) -> Target:
    file = item.file()
    return Target(
        item.label("release"),
        item.namespace,
        item.kind or "",
        item.name or "",
        item.label("component"),
        file.path if file is not None else None,
        template_key,
    )


def entries(data: Any, prefix: Path, ops: list[Op], template_key: str | None = None) -> list[Entry]:
    """What `ops` (relative to `prefix` in `data`, the object as it is before them) add. The
    ops carry indices of the data as it is before them (podspec.plan's rule), so the
    containers that mounts and variables go into are named from `data`."""
    at = _at(data, prefix)
    found: list[Entry] = []
    for op in ops:
        where = _field(prefix + op.path, template_key)
        found += _entries(at, op, where)
    return found


def _entries(pod: Any, op: Op, where: str) -> list[Entry]:
    path = op.path
    value = op.value.value if isinstance(op.value, Restore) else op.value
    if op.action == "remove":  # said by what goes: the entry as it is before the op
        value = _at(pod, path)
    action = {"append": "add", "insert": "add", "remove": "remove"}.get(op.action, "replace")
    last = path[-1] if path else ""
    if op.action in ("append", "insert") and isinstance(value, list):
        # an insert's path ends at the index it goes before: the list is the step before
        holder = path[:-1] if isinstance(last, int) else path
        return [_entry(pod, (holder, last), action, one, where) for one in value]
    return [_entry(pod, (path[:-1], last), action, value, where)]


def _entry(
    pod: Any, holder_and_key: tuple[Path, Any], action: str, value: Any, where: str
) -> Entry:
    """One entry of the list (or mapping) at `holder`; `key` is the step after it."""
    holder, key = holder_and_key
    last = holder[-1] if holder else ""
    name = str(value.get("name", "")) if isinstance(value, dict) else ""
    if last in ("containers", "initContainers") and len(holder) == 1:
        return Entry(action, "container", name, None, _role(last, value), where, value)
    if last == "volumes" and len(holder) == 1:
        return Entry(action, "volume", name, None, None, where, value)
    if last in ("volumeMounts", "env") and len(holder) == 3:
        container = _name(_at(pod, holder[:2]))
        what = "volumeMount" if last == "volumeMounts" else "env"
        return Entry(action, what, name, container, None, where, value)
    if last == "annotations":
        return Entry(action, "annotation", str(key), None, None, where, value)
    return Entry(action, "field", str(key), None, None, where, value)


def _role(list_name: str, container: Any) -> str:
    if list_name == "containers":
        return "sidecar"
    if isinstance(container, dict) and container.get("restartPolicy") == "Always":
        return "native-sidecar"
    return "init"


def _field(path: Path, template_key: str | None) -> str:
    if template_key is None:
        return dotted(path)
    return f"data.{template_key}#{dotted(path)}"


def _at(data: Any, path: Path) -> Any:
    for step in path:
        if isinstance(data, dict) and isinstance(step, str):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            return None
    return data


def _name(container: Any) -> str | None:
    return str(container.get("name")) if isinstance(container, dict) else None


def plain(value: Any) -> Any:
    """The value as JSON data: a spelled null is None."""
    if isinstance(value, Null):
        return None
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
