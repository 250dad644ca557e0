"""Planning the edits of one pod spec: what to append, what is already there, what conflicts.

Everything here works on plain data (the pod spec as dicts and lists) and produces `Op`s with
paths relative to the pod spec; inject.py carries them into the text (yamledit.Editor) and
into the expected data that the output is checked against. The rules (design.md, Principles):
append, never prepend; match by name (mounts by mountPath); what is already there and equal
is left alone, so a second run changes nothing; a same-named entry that differs is a conflict
unless the config says `onConflict: replace`.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, NamedTuple

from .yamledit import Path, dotted

ListName = Literal["containers", "initContainers"]


class Wanted(NamedTuple):
    """One value the config wants in the pod, and where in the config it was written."""

    value: dict[str, Any]
    origin: str  # e.g. "spec.scheduler.extraContainers[0]"


# An entry for containers already in the pod, with the names of the containers and of the init
# containers it goes into.
Targeted = tuple[Wanted, frozenset[str], frozenset[str]]


class Additions:
    __slots__ = ("containers", "env", "init_containers", "mounts", "volumes")

    def __init__(
        self,
        containers: list[Wanted] | None = None,
        init_containers: list[Wanted] | None = None,
        volumes: list[Wanted] | None = None,
        mounts: list[Targeted] | None = None,
        env: list[Targeted] | None = None,
    ) -> None:
        self.containers: list[Wanted] = [] if containers is None else containers
        self.init_containers: list[Wanted] = [] if init_containers is None else init_containers
        self.volumes: list[Wanted] = [] if volumes is None else volumes
        self.mounts: list[Targeted] = [] if mounts is None else mounts
        self.env: list[Targeted] = [] if env is None else env  # variables, merged by name

    @property
    def empty(self) -> bool:
        return not (
            self.containers or self.init_containers or self.volumes or self.mounts or self.env
        )

    def extend(self, other: Additions) -> None:
        self.containers += other.containers
        self.init_containers += other.init_containers
        self.volumes += other.volumes
        self.mounts += other.mounts
        self.env += other.env


class Op(NamedTuple):
    # "insert": before the list entry the path ends at (applied last: other ops' indices
    # are the input's)
    action: Literal["append", "replace", "insert"]
    path: Path  # relative to the pod spec
    value: Any


class Finding(NamedTuple):
    severity: Literal["error", "warning", "info"]
    message: str
    path: Path  # relative to the pod spec
    rule: str


class Plan:
    __slots__ = ("added", "findings", "ops", "origins", "unchanged")

    def __init__(
        self,
        ops: list[Op] | None = None,
        findings: list[Finding] | None = None,
        added: list[str] | None = None,
        unchanged: list[str] | None = None,
    ) -> None:
        self.ops: list[Op] = [] if ops is None else ops
        self.findings: list[Finding] = [] if findings is None else findings
        self.added: list[str] = [] if added is None else added
        self.unchanged: list[str] = [] if unchanged is None else unchanged
        self.origins: dict[str, str] = {}  # container name -> where the config wrote it


def plan(
    pod: dict[str, Any],
    additions: Additions,
    *,
    replace: bool,
    pod_path: str,
    extra_volume_names: frozenset[str] = frozenset(),
    init_before: frozenset[str] = frozenset(),
) -> Plan:
    """The ops that give `pod` the `additions`. `extra_volume_names` are volumes the pod has
    from elsewhere (a StatefulSet's volumeClaimTemplates); new init containers go before the
    first of `init_before` the pod has (where the chart renders its own after the extras)."""
    result = Plan()
    taken = result.origins  # container name -> origin, among what this run adds
    appended: dict[ListName, list[dict[str, Any]]] = {"containers": [], "initContainers": []}
    replaced: set[tuple[ListName, int]] = set()
    order: tuple[tuple[ListName, list[Wanted]], ...] = (
        ("initContainers", additions.init_containers),
        ("containers", additions.containers),
    )
    for list_name, wanted_list in order:
        for wanted in wanted_list:
            _plan_container(
                pod, list_name, wanted, replace, taken, appended, replaced, result, pod_path
            )
    insert_at = _first_index(pod.get("initContainers"), init_before)
    inserted = appended["initContainers"] if insert_at is not None else []
    for name, new in appended.items():
        if new and new is not inserted:
            result.ops.append(Op("append", (name,), new))

    volumes = _plan_named(
        pod, "volumes", "name", additions.volumes, replace, result, pod_path, "volume"
    )
    if volumes:
        result.ops.append(Op("append", ("volumes",), volumes))
    _plan_into_containers(pod, additions.mounts, MOUNTS, replace, replaced, result, pod_path)
    _plan_into_containers(pod, additions.env, ENV, replace, replaced, result, pod_path)

    _check_mounted_volumes(pod, additions, volumes, extra_volume_names, result, pod_path)
    if inserted and insert_at is not None:
        result.ops.append(Op("insert", ("initContainers", insert_at), inserted))
    return result


def _first_index(entries: Any, names: frozenset[str]) -> int | None:
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if _get(entry, "name") in names:
            return index
    return None


def _plan_container(
    pod: dict[str, Any],
    list_name: ListName,
    wanted: Wanted,
    replace: bool,
    taken: dict[str, str],
    appended: dict[ListName, list[dict[str, Any]]],
    replaced: set[tuple[ListName, int]],
    result: Plan,
    pod_path: str,
) -> None:
    name = wanted.value["name"]
    if name in taken:
        message = f"container {name!r} from {wanted.origin} is also added by {taken[name]}"
        result.findings.append(Finding("error", message, (list_name,), "name-conflict"))
        return
    taken[name] = wanted.origin
    where = _find_container(pod, name)
    if where is None:
        appended[list_name].append(copy.deepcopy(wanted.value))
        result.added.append(f"{_singular(list_name)} {name}")
        return
    found_list, index, existing = where
    path = (found_list, index)
    if found_list == list_name and existing == wanted.value:
        result.unchanged.append(f"{_singular(list_name)} {name}")
        return
    if replace and found_list == list_name:
        result.ops.append(Op("replace", path, copy.deepcopy(wanted.value)))
        replaced.add((list_name, index))
        result.added.append(f"{_singular(list_name)} {name} (replaced)")
        return
    message = (
        f"container {name!r} from {wanted.origin} conflicts with the container of the same name "
        f"at {pod_path}.{dotted(path)}"
        + ("" if found_list == list_name else f" (an {_singular(found_list)})")
        + "; rename it, or set spec.onConflict: replace to replace it"
    )
    result.findings.append(Finding("error", message, path, "name-conflict"))


def _plan_named(
    pod: dict[str, Any],
    list_name: str,
    key: str,
    wanted_list: list[Wanted],
    replace: bool,
    result: Plan,
    pod_path: str,
    what: str,
) -> list[dict[str, Any]]:
    existing_list = pod.get(list_name) or []
    appended: list[dict[str, Any]] = []
    origins: dict[Any, str] = {}  # identity -> where the config wrote the one appended
    for wanted in wanted_list:
        identity = wanted.value[key]
        same = [i for i, entry in enumerate(existing_list) if _get(entry, key) == identity]
        if identity in origins:
            if any(entry == wanted.value for entry in appended):
                continue  # the same volume from two sections (top-level and extraVolumes): once
            message = (
                f"{what} {identity!r} from {wanted.origin} is also added, differently, by "
                f"{origins[identity]}; one pod can have only one"
            )
            result.findings.append(Finding("error", message, (list_name,), "name-conflict"))
            continue
        if not same:
            origins[identity] = wanted.origin
            appended.append(copy.deepcopy(wanted.value))
            result.added.append(f"{what} {identity}")
            continue
        index = same[0]
        if existing_list[index] == wanted.value:
            result.unchanged.append(f"{what} {identity}")
        elif replace:
            result.ops.append(Op("replace", (list_name, index), copy.deepcopy(wanted.value)))
            result.added.append(f"{what} {identity} (replaced)")
        else:
            message = (
                f"{what} {identity!r} from {wanted.origin} conflicts with the {what} of the same "
                f"{key} at {pod_path}.{list_name}[{index}]; rename it, or set "
                "spec.onConflict: replace to replace it"
            )
            result.findings.append(Finding("error", message, (list_name, index), "name-conflict"))
    return appended


class ContainerList(NamedTuple):
    """A list inside each container that additions merge into."""

    key: str  # the list's field in the container
    merge_key: str  # what identifies an entry
    what: str  # for messages


MOUNTS = ContainerList("volumeMounts", "mountPath", "mount")
ENV = ContainerList("env", "name", "env var")


def _plan_into_containers(
    pod: dict[str, Any],
    entries: list[Targeted],
    into: ContainerList,
    replace: bool,
    replaced: set[tuple[ListName, int]],
    result: Plan,
    pod_path: str,
) -> None:
    for list_name in ("containers", "initContainers"):
        for index, container in enumerate(pod.get(list_name) or []):
            if not isinstance(container, dict) or (list_name, index) in replaced:
                continue
            targets = [
                wanted
                for wanted, in_containers, in_init in entries
                if container.get("name")
                in (in_containers if list_name == "containers" else in_init)
            ]
            if not targets:
                continue
            sub = Plan()
            new = _plan_named(
                container,
                into.key,
                into.merge_key,
                targets,
                replace,
                sub,
                f"{pod_path}.{list_name}[{index}]",
                into.what,
            )
            prefix: Path = (list_name, index)
            if new:
                result.ops.append(Op("append", (*prefix, into.key), new))
            for op in sub.ops:
                result.ops.append(Op(op.action, prefix + op.path, op.value))
            for finding in sub.findings:
                result.findings.append(
                    Finding(finding.severity, finding.message, prefix + finding.path, finding.rule)
                )
            name = container.get("name")
            result.added += [f"{text} into {name}" for text in sub.added]
            result.unchanged += [f"{text} in {name}" for text in sub.unchanged]


def _check_mounted_volumes(
    pod: dict[str, Any],
    additions: Additions,
    new_volumes: list[dict[str, Any]],
    extra_volume_names: frozenset[str],
    result: Plan,
    pod_path: str,
) -> None:
    """A mount of a volume the pod does not define is rejected by the API server: say so now,
    naming the container and the mount (the seed's s3-sync example has exactly this bug)."""
    defined = {_get(v, "name") for v in (pod.get("volumes") or [])}
    defined |= {v["name"] for v in new_volumes} | extra_volume_names
    for wanted in [*additions.init_containers, *additions.containers]:
        for number, mount in enumerate(wanted.value.get("volumeMounts") or []):
            if mount["name"] not in defined:
                result.findings.append(
                    Finding(
                        "error",
                        f"container {wanted.value['name']!r} ({wanted.origin}.volumeMounts"
                        f"[{number}]) mounts volume {mount['name']!r}, which this pod does not "
                        f"define ({pod_path}.volumes); add it to the section's extraVolumes",
                        ("volumes",),
                        "missing-volume",
                    )
                )
    for wanted, _, _ in additions.mounts:
        if wanted.value["name"] not in defined:
            result.findings.append(
                Finding(
                    "error",
                    f"{wanted.origin} mounts volume {wanted.value['name']!r}, which this pod "
                    f"does not define ({pod_path}.volumes); add it to extraVolumes",
                    ("volumes",),
                    "missing-volume",
                )
            )


def _find_container(pod: dict[str, Any], name: str) -> tuple[ListName, int, Any] | None:
    lists: tuple[ListName, ListName] = ("containers", "initContainers")
    for list_name in lists:
        for index, container in enumerate(pod.get(list_name) or []):
            if _get(container, "name") == name:
                return list_name, index, container
    return None


def _get(entry: Any, key: str) -> Any:
    return entry.get(key) if isinstance(entry, dict) else None


def _singular(list_name: str) -> str:
    return {"containers": "container", "initContainers": "init container"}.get(list_name, list_name)


def apply_ops(data: Any, prefix: Path, ops: list[Op]) -> None:
    """Apply ops to plain data, the way yamledit.Editor applies them to text."""
    for op in ops:
        *parents, last = prefix + op.path
        target = data
        for step in parents:
            if isinstance(step, str) and target.get(step) is None:
                target[step] = {}
            target = target[step]
        if op.action == "replace":
            target[last] = copy.deepcopy(op.value)
        elif op.action == "insert":
            target[last:last] = copy.deepcopy(op.value)
        else:
            if target.get(last) is None:
                target[last] = []
            target[last].extend(copy.deepcopy(op.value))


# The fields of a pod spec that planning, presets and validate read, and the shape each must
# have; YAML allows any shape anywhere, and a pod that breaks these is not edited (nor checked).
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
