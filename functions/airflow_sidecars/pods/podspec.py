"""Planning the edits of one pod spec: what to append, what is already there, what conflicts.

Everything here works on plain data (the pod spec as dicts and lists) and produces `Op`s with
paths relative to the pod spec; inject.py carries them into the text (yamledit.Editor) and
into the expected data that the output is checked against. The rules: append, never
prepend; match by name (mounts by mountPath); what is already there and equal is left alone,
so a second run changes nothing; a same-named entry that differs is a conflict unless the
config says `onConflict: replace`. Equal is modulo what the API server fills in (apidefaults.py),
so that objects read back from a cluster count as what was written.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

from airflow_sidecars.charts.chart import EXTRA_VOLUMES
from airflow_sidecars.pods.apidefaults import OWNERS_BY_WHAT, declared_equal
from airflow_sidecars.text.yamlemit import Null
from airflow_sidecars.text.yamlread import Path, dotted

ListName = Literal["containers", "initContainers"]


class Wanted(NamedTuple):
    """One value the config wants in the pod, and where in the config it was written."""

    value: dict[str, Any]
    origin: str  # e.g. "spec.scheduler.extraContainers[0]"
    # An init container that goes before every other (a native sidecar the others need
    # running, such as a database proxy in front of `wait-for-airflow-migrations`).
    first: bool = False


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
    # are the input's); "remove": the list entry or mapping key the path ends at (a plan of
    # removals lists a list's entries last first, so that each index is still the input's);
    # "take": a replace of a chart's own entry that the chart leaves out for the config's
    # values (leftout.py), recorded with the text it replaced; "restore": that text back
    # (the value is a Restore)
    action: Literal["append", "replace", "insert", "remove", "take", "restore"]
    path: Path  # relative to the pod spec
    value: Any


class Restore(NamedTuple):
    """A chart's entry given back as the text it was, and that text's value."""

    text: str
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


def plan(  # noqa: PLR0913 - two inputs and four named options, three with defaults
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
    planner = _Planner(pod, replace, pod_path)
    order: tuple[tuple[ListName, list[Wanted]], ...] = (
        ("initContainers", additions.init_containers),
        ("containers", additions.containers),
    )
    for list_name, wanted_list in order:
        for wanted in wanted_list:
            planner.container(list_name, wanted)
    result = planner.result
    insert_at = _first_index(pod.get("initContainers"), init_before)
    inserted = planner.appended["initContainers"] if insert_at is not None else []
    for name, new in planner.appended.items():
        if new and new is not inserted:
            result.ops.append(Op("append", (name,), new))
    leading = planner.leading
    if leading and not pod.get("initContainers"):  # nothing to go before: the list begins
        result.ops.append(Op("append", ("initContainers",), leading))
        leading = []
    if leading and insert_at == 0:  # one insert keeps the leading ones first
        inserted, leading = leading + inserted, []

    pod_volumes = _Owner(pod, "volumes", "name", "volume", pod_path)
    volumes = _plan_named(pod_volumes, additions.volumes, replace, result)
    if volumes:
        result.ops.append(Op("append", ("volumes",), volumes))
    planner.into_containers(additions.mounts, MOUNTS)
    planner.into_containers(additions.env, ENV)

    defined = {_get(v, "name") for v in (pod.get("volumes") or [])}
    defined |= {v["name"] for v in volumes} | extra_volume_names
    result.findings += _undefined_volumes(additions, defined, pod_path)
    # Inserts go last, the later index first: each index is still the input's when applied.
    if inserted and insert_at is not None:
        result.ops.append(Op("insert", ("initContainers", insert_at), inserted))
    if leading:
        result.ops.append(Op("insert", ("initContainers", 0), leading))
    return result


def _first_index(entries: Any, names: frozenset[str]) -> int | None:
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if _get(entry, "name") in names:
            return index
    return None


class _Planner:
    """Planning state for one pod: the plan so far, the containers appended per list, and the
    containers replaced (nothing merges into those: the config's value replaces them whole)."""

    __slots__ = ("appended", "leading", "pod", "pod_path", "replace", "replaced", "result")

    def __init__(self, pod: dict[str, Any], replace: bool, pod_path: str) -> None:
        self.pod, self.replace, self.pod_path = pod, replace, pod_path
        self.result = Plan()
        self.appended: dict[ListName, list[dict[str, Any]]] = {
            "containers": [],
            "initContainers": [],
        }
        self.replaced: set[tuple[ListName, int]] = set()
        self.leading: list[dict[str, Any]] = []  # new init containers that go first

    def container(self, list_name: ListName, wanted: Wanted) -> None:
        result, taken = self.result, self.result.origins
        name = wanted.value["name"]
        if name in taken:
            message = f"container {name!r} from {wanted.origin} is also added by {taken[name]}"
            result.findings.append(Finding("error", message, (list_name,), "name-conflict"))
            return
        taken[name] = wanted.origin
        where = find_container(self.pod, name)
        if where is None:
            first = wanted.first and list_name == "initContainers"
            (self.leading if first else self.appended[list_name]).append(
                copy.deepcopy(wanted.value)
            )
            result.added.append(f"{_singular(list_name)} {name}")
            return
        found_list, index, existing = where
        path = (found_list, index)
        if found_list == list_name and declared_equal(
            wanted.value, existing, "container", "template"
        ):
            result.unchanged.append(f"{_singular(list_name)} {name}")
        elif self.replace and found_list == list_name:
            result.ops.append(Op("replace", path, copy.deepcopy(wanted.value)))
            self.replaced.add((list_name, index))
            result.added.append(f"{_singular(list_name)} {name} (replaced)")
        else:
            message = (
                f"container {name!r} from {wanted.origin} conflicts with the container of the "
                f"same name at {self.pod_path}.{dotted(path)}"
                + ("" if found_list == list_name else f" (an {_singular(found_list)})")
                + "; rename it, or set spec.onConflict: replace to replace it"
            )
            result.findings.append(Finding("error", message, path, "name-conflict"))

    def into_containers(self, entries: list[Targeted], into: ContainerList) -> None:
        """Merge mounts or env vars into the pod's existing containers that they target."""
        result = self.result
        for list_name, index, container in containers(self.pod):
            if (list_name, index) in self.replaced:
                continue
            name = container.get("name")
            targets = [
                wanted
                for wanted, in_containers, in_init in entries
                if name in (in_containers if list_name == "containers" else in_init)
            ]
            if not targets:
                continue
            sub = Plan()
            prefix: Path = (list_name, index)
            where = f"{self.pod_path}.{list_name}[{index}]"
            owner = _Owner(container, into.key, into.merge_key, into.what, where)
            new = _plan_named(owner, targets, self.replace, sub)
            if new:
                result.ops.append(Op("append", (*prefix, into.key), new))
            result.ops += [Op(op.action, prefix + op.path, op.value) for op in sub.ops]
            result.findings += [f._replace(path=prefix + f.path) for f in sub.findings]
            result.added += [f"{text} into {name}" for text in sub.added]
            result.unchanged += [f"{text} in {name}" for text in sub.unchanged]


class _Owner(NamedTuple):
    """A list of named entries and what holds it: the pod's volumes, a container's mounts."""

    holder: dict[str, Any]
    list_name: str
    key: str  # what identifies an entry
    what: str  # for messages
    where: str  # the holder's path, for messages


def _plan_named(
    owner: _Owner, wanted_list: list[Wanted], replace: bool, result: Plan
) -> list[dict[str, Any]]:
    """Plan entries matched by `owner.key`; returns those to append (the caller appends them,
    so that one op carries them all)."""
    list_name, key, what = owner.list_name, owner.key, owner.what
    existing_list = owner.holder.get(list_name) or []
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
        elif not same:
            origins[identity] = wanted.origin
            appended.append(copy.deepcopy(wanted.value))
            result.added.append(f"{what} {identity}")
        elif declared_equal(wanted.value, existing_list[same[0]], OWNERS_BY_WHAT[what], "template"):
            result.unchanged.append(f"{what} {identity}")
        elif replace:
            result.ops.append(Op("replace", (list_name, same[0]), copy.deepcopy(wanted.value)))
            result.added.append(f"{what} {identity} (replaced)")
        else:
            message = (
                f"{what} {identity!r} from {wanted.origin} conflicts with the {what} of the same "
                f"{key} at {owner.where}.{list_name}[{same[0]}]; rename it, or set "
                "spec.onConflict: replace to replace it"
            )
            path = (list_name, same[0])
            result.findings.append(Finding("error", message, path, "name-conflict"))
    return appended


class ContainerList(NamedTuple):
    """A list inside each container that additions merge into."""

    key: str  # the list's field in the container
    merge_key: str  # what identifies an entry
    what: str  # for messages


MOUNTS = ContainerList("volumeMounts", "mountPath", "mount")
ENV = ContainerList("env", "name", "env var")


def _undefined_volumes(additions: Additions, defined: set[Any], pod_path: str) -> list[Finding]:
    """A mount of a volume the pod does not define is rejected by the API server: say so now,
    naming the container and the mount (the seed's s3-sync example has exactly this bug)."""
    found = []
    for wanted in [*additions.init_containers, *additions.containers]:
        for number, mount in enumerate(wanted.value.get("volumeMounts") or []):
            if mount["name"] not in defined:
                message = (
                    f"container {wanted.value['name']!r} ({wanted.origin}.volumeMounts"
                    f"[{number}]) mounts volume {mount['name']!r}, which this pod does not "
                    f"define ({pod_path}.volumes); add it to the section's {EXTRA_VOLUMES}"
                )
                found.append(Finding("error", message, ("volumes",), "missing-volume"))
    for wanted, _, _ in additions.mounts:
        if wanted.value["name"] not in defined:
            message = (
                f"{wanted.origin} mounts volume {wanted.value['name']!r}, which this pod does "
                f"not define ({pod_path}.volumes); add it to {EXTRA_VOLUMES}"
            )
            found.append(Finding("error", message, ("volumes",), "missing-volume"))
    return found


# -- the one lookup of containers and volumes in a pod spec (plain data) ----------------------

CONTAINER_LISTS: tuple[ListName, ListName] = ("containers", "initContainers")


def containers(
    pod: dict[str, Any], lists: tuple[ListName, ...] = CONTAINER_LISTS
) -> Iterator[tuple[ListName, int, dict[str, Any]]]:
    """Each container of the pod with its list and index, the lists in the order given;
    entries that are not mappings are skipped (podshape.py reports them)."""
    for list_name in lists:
        for index, container in enumerate(entries(pod, list_name)):
            if isinstance(container, dict):
                yield list_name, index, container


def find_container(
    pod: dict[str, Any], name: str, lists: tuple[ListName, ...] = CONTAINER_LISTS
) -> tuple[ListName, int, dict[str, Any]] | None:
    """The first container called `name` in the lists given: its list, index and value."""
    return next((found for found in containers(pod, lists) if found[2].get("name") == name), None)


def find_volume(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next(
        (v for v in entries(pod, "volumes") if isinstance(v, dict) and v.get("name") == name),
        None,
    )


def entries(holder: dict[str, Any], field: str) -> list[Any]:
    """The list at `field`; none where it is missing, null or of another type (podshape.py
    reports that: whoever reads a pod or a container must not fail on it)."""
    found = holder.get(field)
    return found if isinstance(found, list) else []


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
        if op.action in ("replace", "take"):  # a spelled null is None as data
            target[last] = None if isinstance(op.value, Null) else copy.deepcopy(op.value)
        elif op.action == "restore":
            target[last] = copy.deepcopy(op.value.value)
        elif op.action == "insert":
            target[last:last] = copy.deepcopy(op.value)
        elif op.action == "remove":
            del target[last]
        else:
            if target.get(last) is None:
                target[last] = []
            target[last].extend(copy.deepcopy(op.value))
