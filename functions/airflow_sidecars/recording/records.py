"""What inject added, recorded on the objects it edited, one annotation per config.

`airflow-sidecars.dev/<config name>` on a pod template (the workload's `spec.template`), on the
ConfigMap that holds the KubernetesExecutor pod template, and on a ServiceAccount a preset
annotated, holds what that config added there, as sorted JSON (no time, nothing random: a
second run writes the same bytes). With it, a later run of the config takes back what it no
longer declares (prune.py), `airflow-sidecars remove` takes back everything, and validate says
what is recorded but no longer declared. What a config replaced (`onConflict: replace`) is not
recorded: taking it back could not restore the chart's own entry. What a config put in place
of a chart's entry that the chart leaves out for its values (pods/leftout.py) is recorded
with the text it replaced (`took`): taking it back writes that text again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import yaml

from airflow_sidecars.charts.valuerules import LEFT_OUT
from airflow_sidecars.pods.podspec import Additions, Op, Restore, containers, find_container
from airflow_sidecars.recording.recordshape import RecordError, decode
from airflow_sidecars.text.yamlemit import NULL_SPELLINGS, Null
from airflow_sidecars.text.yamlread import (
    Node,
    UnsupportedYaml,
    entry_value,
    is_null,
    mapping_get,
    node_at,
)

PREFIX = "airflow-sidecars.dev/"
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")

# One added thing: ("container", name), ("initContainer", name), ("volume", name),
# ("mount", container, mountPath), ("env", container, name), ("annotation", key).
Item = tuple[str, ...]
# A list inject made (in a pod: "initContainers"; in a container: "env@<container>") -> what
# was there before: "absent", "null" or "empty". An emptied list goes back to that.
Lists = dict[str, str]

# In `lists`: what the annotations mapping that holds the record was before the record (so
# that taking the last record back leaves it as the chart rendered it).
ANNOTATIONS = "@annotations"

_GROUPS = {"container": "containers", "initContainer": "initContainers", "volume": "volumes"}
_TOOK = {"volume": "volumes", "mount": "mounts"}
_NESTED = {"mount": "mounts", "env": "env"}


def key(config_name: str) -> str:
    """The annotation of a config (its metadata.name, when it is a valid annotation name)."""
    name = config_name if _NAME.match(config_name or "") else "default"
    return PREFIX + name


class Record:
    """What one config added to one object, and the digest of each item as it was written."""

    __slots__ = ("checksum", "digests", "items", "lists", "took")

    def __init__(
        self,
        items: Iterable[Item] = (),
        lists: Lists | None = None,
        checksum: dict[str, str] | None = None,
        digests: dict[Item, str] | None = None,
        took: dict[Item, str] | None = None,
    ) -> None:
        self.items: set[Item] = set(items)
        self.lists: Lists = dict(lists or {})
        # On the ConfigMap of the pod template: the chart's checksum/airflow-config of each
        # pod ("Kind/name"; worker sets differ), given back to the pods when the last record
        # goes (nothing can compute Helm's).
        self.checksum = checksum
        # item -> the digest of what was written; an item without one was recorded by 0.1.x
        # (or could not be checked since): trusted only where a config vouches for it.
        self.digests: dict[Item, str] = {
            item: digest for item, digest in (digests or {}).items() if digest
        }
        # item (a volume or a mount) -> the text of the chart's entry it took the place of
        self.took: dict[Item, str] = {
            item: text for item, text in (took or {}).items() if item in self.items
        }

    def __bool__(self) -> bool:
        return bool(self.items)

    def dumps(self) -> str:
        out: dict[str, Any] = {}
        for item in sorted(self.items):
            kind, digest = item[0], self.digests.get(item, "")
            if kind in _GROUPS:
                out.setdefault(_GROUPS[kind], {})[item[1]] = digest
            elif kind in _NESTED:
                out.setdefault(_NESTED[kind], {}).setdefault(item[1], {})[item[2]] = digest
            else:
                out.setdefault("annotations", {})[item[1]] = digest
        lists = {name: form for name, form in self.lists.items() if self._holds(name)}
        if lists:
            out["lists"] = lists
        if self.checksum is not None:
            out["checksum"] = self.checksum
        for item in sorted(self.took):
            if item in self.items:
                group = out.setdefault("took", {}).setdefault(_TOOK[item[0]], {})
                group = group.setdefault(item[1], {}) if item[0] == "mount" else group
                group[item[-1]] = self.took[item]
        return json.dumps(out, sort_keys=True, separators=(",", ":"))

    def _holds(self, list_name: str) -> bool:
        """Whether an entry this record names is in the list (a list with none of ours left
        needs no memory of its old form)."""
        if list_name == ANNOTATIONS:
            return True
        field, _, container = list_name.partition("@")
        if not container:
            kind = {"containers": "container", "initContainers": "initContainer"}.get(
                field, "volume"
            )
            return any(item[0] == kind for item in self.items)
        kind = "mount" if field == "volumeMounts" else "env"
        return any(item[0] == kind and item[1] == container for item in self.items)


def read(annotations: Node | None, name: str) -> Record | None:
    """The record in the annotation `name` of these annotations; None when there is none.
    Raises RecordError as loads does, and for a value that is no string (a mapping, a list,
    null): the API server refuses such an annotation, and nothing it names is taken back."""
    return from_node(mapping_get(annotations, name))


def from_node(node: Node | None) -> Record | None:
    """The record an annotation's value node holds (see read)."""
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode) and not is_null(node):
        return loads(str(node.value))
    what = "a mapping" if isinstance(node, yaml.MappingNode) else "a list"
    raise RecordError(
        f"its value is {'null' if is_null(node) else what}, not the JSON string a record is"
    )


def loads(text: str | None) -> Record | None:
    """A record as `dumps` writes it (or as 0.1.x wrote it: names without digests); None for
    none. Raises RecordError for anything else: a record decides what is deleted, so one that
    is not ours is never half-believed."""
    if text is None:
        return None
    data = decode(text)
    digests: dict[Item, str] = {}
    for kind, group in _GROUPS.items():
        _read_names(digests, (kind,), data.get(group, {}))
    for kind, group in _NESTED.items():
        for container, names in data.get(group, {}).items():
            _read_names(digests, (kind, container), names)
    _read_names(digests, ("annotation",), data.get("annotations", {}))
    took: dict[Item, str] = {}
    for name, replaced in data.get("took", {}).get("volumes", {}).items():
        took[("volume", name)] = replaced
    for container, paths in data.get("took", {}).get("mounts", {}).items():
        for path, replaced in paths.items():
            took[("mount", container, path)] = replaced
    if set(took) - set(digests):
        raise RecordError("took names an item the record does not")
    for item, replaced in took.items():
        _check_took(item, replaced)
    return Record(digests, data.get("lists", {}), data.get("checksum"), digests, took)


def _check_took(item: Item, text: str) -> None:
    """A text a take-back writes into the pod: only ever one of the chart entries that a value
    rule leaves out (a volume or a mount of that name), never what a hand-edited record says."""
    try:
        value = entry_value(text, "a record's took text")
    except UnsupportedYaml as error:
        raise RecordError(f"took for {describe({item})} is not an entry's text ({error})") from None
    keys = {"name", "mountPath"} if item[0] == "mount" else {"name"}
    if not (isinstance(value, dict) and keys <= value.keys() and value["name"] in LEFT_OUT):
        raise RecordError(f"took for {describe({item})} is not a chart entry a value rule takes")


def _read_names(digests: dict[Item, str], prefix: Item, names: list[str] | dict[str, str]) -> None:
    for name in names:
        item: Item = (*prefix, name)
        digests[item] = names[name] if isinstance(names, dict) else ""


def digest(value: Any) -> str:
    """The digest of an entry as data: the same entry, however it is laid out, gives the same
    digest. Deferred import: hashlib's OpenSSL costs start-up that only records need."""
    import hashlib  # noqa: PLC0415

    text = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """Keys as strings (json.dumps cannot sort keys of mixed types)."""
    if isinstance(value, dict):
        return {str(key): _plain(entry) for key, entry in value.items()}
    if isinstance(value, list):
        return [_plain(entry) for entry in value]
    return value


def entry(holder: dict[str, Any], item: Item) -> Any:
    """What the item is in a pod spec (or, for an annotation, in the annotations mapping) as
    it stands: the container, volume, mount, env entry or value; None where it is not."""
    kind = item[0]
    if kind == "annotation":
        return holder.get(item[1])
    if kind in _GROUPS:
        return _named(holder.get(_GROUPS[kind]), "name", item[1])
    found = find_container(holder, item[1])
    if found is None:
        return None
    field, merge_key = ("volumeMounts", "mountPath") if kind == "mount" else ("env", "name")
    return _named(found[2].get(field), merge_key, item[2])


def _named(entries: Any, merge_key: str, name: str) -> Any:
    if not isinstance(entries, list):
        return None
    return next((e for e in entries if isinstance(e, dict) and str(e.get(merge_key)) == name), None)


def declared(pod: dict[str, Any], additions: Additions) -> dict[Item, str]:
    """What the additions put into this pod, as record items, each with the digest of what
    it would be."""
    return {item: digest(value) for item, value in declared_values(pod, additions).items()}


def declared_values(pod: dict[str, Any], additions: Additions) -> dict[Item, Any]:
    """What the additions put into this pod, as record items, each with the entry it adds
    (a container, volume, mount or env entry as declared)."""
    found: dict[Item, Any] = {}
    for kind, wanted_list in (
        ("container", additions.containers),
        ("initContainer", additions.init_containers),
        ("volume", additions.volumes),
    ):
        for wanted in wanted_list:
            found[(kind, str(wanted.value["name"]))] = wanted.value
    for kind, entries, merge_key in (
        ("mount", additions.mounts, "mountPath"),
        ("env", additions.env, "name"),
    ):
        for wanted, in_containers, in_init in entries:
            for list_name, _, container in containers(pod):
                targets = in_containers if list_name == "containers" else in_init
                if container.get("name") in targets:
                    item = (kind, str(container["name"]), str(wanted.value[merge_key]))
                    found[item] = wanted.value
    return found


def added(pod: dict[str, Any], ops: list[Op], pod_node: Node | None = None) -> Record:
    """What planned ops add to a pod (before they are applied), and the lists they make (and
    how a null they fill was spelled, from the pod's node where there is one)."""
    record = Record()
    for op in ops:
        if op.action == "take":
            record.items.add(_taken_item(pod, op))
        if op.action not in ("append", "insert"):
            continue  # a replaced entry is not ours to take back
        path = op.path
        if path[0] in ("containers", "initContainers") and len(path) <= 2:
            kind = "container" if path[0] == "containers" else "initContainer"
            record.items |= {(kind, entry["name"]) for entry in op.value}
            _made(record, pod, str(path[0]), str(path[0]), node_at(pod_node, path[:1]))
        elif path == ("volumes",):
            record.items |= {("volume", entry["name"]) for entry in op.value}
            _made(record, pod, "volumes", "volumes", node_at(pod_node, path))
        elif len(path) == 3 and path[2] in ("volumeMounts", "env"):
            container = pod[str(path[0])][int(path[1])]
            name = str(container["name"])
            kind, merge_key = (
                ("mount", "mountPath") if path[2] == "volumeMounts" else ("env", "name")
            )
            record.items |= {(kind, name, str(entry[merge_key])) for entry in op.value}
            spelled = node_at(pod_node, path)
            _made(record, container, str(path[2]), f"{path[2]}@{name}", spelled)
    return record


def _taken_item(pod: dict[str, Any], op: Op) -> Item:
    """The item a "take" op writes: a volume, or a mount in a container."""
    if op.path[0] == "volumes":
        return ("volume", str(op.value["name"]))
    container = pod[str(op.path[0])][int(op.path[1])]
    return ("mount", str(container["name"]), str(op.value["mountPath"]))


def form(node: Any, parent: Any = None) -> str | None:
    """What an annotations mapping is before inject writes the first record into it:
    "absent", "null" or "empty" (a null as spelled: "null:~"), "parent-null" where the
    mapping that holds it is a null (`metadata: null`); None when it holds something."""
    if node is None:
        return spelled("parent-null", parent) if isinstance(parent, yaml.Node) else "absent"
    if is_null(node):
        return spelled("null", node)
    return "empty" if getattr(node, "value", None) == [] else None


def spelled(form: str, node: Any) -> str:
    """`form`, with how the null node was spelled where that was a word or `~`, not empty."""
    if not (isinstance(node, yaml.Node) and is_null(node)):
        return "absent"
    text = str(node.value)
    return f"{form}:{text}" if text in NULL_SPELLINGS else form


def null_of(form: str) -> Null | None:
    """What to write for a null `form` ("null:~" -> `~`); None: an empty value."""
    text = form.partition(":")[2]
    return Null(text) if text else None


def _made(
    record: Record, holder: dict[str, Any], field: str, list_name: str, node: Node | None
) -> None:
    before = holder.get(field, ...)
    if before is ...:
        record.lists[list_name] = "absent"
    elif before is None:
        record.lists[list_name] = spelled("null", node) if node is not None else "null"
    elif before == []:
        record.lists[list_name] = "empty"


def removal_ops(
    pod: dict[str, Any], items: set[Item], lists: Lists, took: dict[Item, str] | None = None
) -> list[Op]:
    """Ops that take `items` out of a pod: the chart's entries that items of `took` replaced
    written back first, then entries inside containers, then whole entries, each list's last
    first (so that every index is the pod's own); a list left empty goes back to what it was
    before inject made it."""
    restores, items = _restores(pod, items, took or {})
    nested: list[Op] = []
    entries: list[Op] = []
    gone = {(item[0], item[1]) for item in items if item[0] in ("container", "initContainer")}
    for list_name, index, container in containers(pod):
        name = str(container.get("name"))
        kind = "container" if list_name == "containers" else "initContainer"
        if (kind, name) in gone:
            continue
        for field, item_kind, merge_key in (
            ("volumeMounts", "mount", "mountPath"),
            ("env", "env", "name"),
        ):
            ours = {item[2] for item in items if item[0] == item_kind and item[1] == name}
            nested += _take(
                container.get(field),
                ours,
                merge_key,
                (list_name, index, field),
                lists.get(f"{field}@{name}"),
            )
    for list_name, kind in (
        ("containers", "container"),
        ("initContainers", "initContainer"),
        ("volumes", "volume"),
    ):
        ours = {item[1] for item in items if item[0] == kind}
        entries += _take(pod.get(list_name), ours, "name", (list_name,), lists.get(list_name))
    return restores + nested + entries


def _restores(
    pod: dict[str, Any], items: set[Item], took: dict[Item, str]
) -> tuple[list[Op], set[Item]]:
    """The chart's entries written back where the items that took their place are, and the
    items left to remove. Restores come first: they move no index."""
    ops: list[Op] = []
    restored: set[Item] = set()
    for item in sorted(items & took.keys()):
        path = _index_path(pod, item)
        if path is None:
            continue
        try:
            value = entry_value(took[item], "the chart's entry a record keeps")
        except UnsupportedYaml:
            continue  # not the text of an entry: the item is removed like any other
        ops.append(Op("restore", path, Restore(took[item], value)))
        restored.add(item)
    return ops, items - restored


def _index_path(pod: dict[str, Any], item: Item) -> tuple[str | int, ...] | None:
    """Where an item is in the pod, as a path ending in its index."""
    if item[0] == "volume":
        names = [_key(entry, "name") for entry in pod.get("volumes") or []]
        return ("volumes", names.index(item[1])) if item[1] in names else None
    for list_name, index, container in containers(pod):
        if str(container.get("name")) == item[1]:
            paths = [_key(m, "mountPath") for m in container.get("volumeMounts") or []]
            if item[2] in paths:
                return (list_name, index, "volumeMounts", paths.index(item[2]))
            return None
    return None


def _key(entry: Any, key: str) -> str | None:
    return str(entry.get(key)) if isinstance(entry, dict) else None


def _take(
    entries: Any, ours: set[str], merge_key: str, path: tuple[str | int, ...], form: str | None
) -> list[Op]:
    if not ours or not isinstance(entries, list):
        return []
    indices = [
        index
        for index, entry in enumerate(entries)
        if isinstance(entry, dict) and str(entry.get(merge_key)) in ours
    ]
    if not indices:
        return []
    if len(indices) == len(entries):  # the list is left empty: as it was before inject
        if form == "absent":
            return [Op("remove", path, None)]
        if form is not None and form.startswith("null"):
            return [Op("replace", path, null_of(form))]
        return [Op("replace", path, [])]
    return [Op("remove", (*path, index), None) for index in reversed(indices)]


def describe(items: set[Item]) -> str:
    """Items as people say them: `container s3-sync, mount /opt/airflow/dags in scheduler`."""
    words = {
        "container": "container {1}",
        "initContainer": "init container {1}",
        "volume": "volume {1}",
        "mount": "mount {2} in {1}",
        "env": "env var {2} in {1}",
        "annotation": "annotation {1}",
    }
    return ", ".join(words[item[0]].format(*item) for item in sorted(items))
