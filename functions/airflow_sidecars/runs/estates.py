"""Many renders in one input: a repository of environments, split where their paths part.

A GitOps repository often holds one rendered release per environment: `envs/dev/...` and
`envs/prod/...`, both release `airflow`, the same objects by kind, namespace and name. Read
as one render, their facts mix: prod's `checksum/airflow-config` lands in dev's pods, dev's
worker in prod's record. The rule (README, "Files and folders"):

- One object (API group, kind, namespace, name) in two files whose paths part into different
  subtrees means two renders. The input is split at the folder where the two paths part, each
  subfolder below it is a render of its own (checksums, records, reach and the summary are
  per render), and what lies elsewhere is one more render. Splitting repeats inside a part
  that still holds an object twice (`envs/prod/eu`, `envs/prod/us`).
- A `helm template --output-dir` tree, one release over many subfolders with no object twice,
  stays one render.
- One object twice in one file, in one stream (stdin, a ResourceList) or in files of one
  folder is an error naming both places: no path says which render each belongs to.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import NamedTuple

from airflow_sidecars.krmio.krm import Input, Item
from airflow_sidecars.renders.airflow import find_workloads

# (API group, kind, namespace, name): what the API server keys an object by
Identity = tuple[str, str, str | None, str]


class Place(NamedTuple):
    source: int  # the source's index in the input
    name: str | None  # the file, None for stdin
    document: int  # the document's index in the file (stream mode), the item's (KRM mode)
    path: str | None = None  # KRM mode: the item's path annotation, where the orchestrator has it

    def __str__(self) -> str:
        if self.path is not None:
            return f"item {self.document} ({self.path})"
        where = self.name if self.name is not None else "stdin"
        return f"{where} (document {self.document})"


class Twice(NamedTuple):
    """One object in two places that no path tells apart."""

    what: str  # "Deployment airflow-scheduler" (with namespace/ when it has one)
    first: Place
    second: Place
    item: Item  # the second occurrence, to name in the result
    why: str = (
        "their paths do not part into folders of their own (one file, one stream, one "
        "folder, or one file beside the other's folder)"
    )


_NOT_RENDERS = "the folders their paths part into do not each hold an Airflow render"
# A ResourceList is what one kpt or kustomize step was given: one render, whatever paths its
# items' annotations name (run a pipeline per environment).
_ONE_LIST = "one ResourceList is one render, whatever paths its items name"


def message(found: list[Twice]) -> str:
    """The error for objects that two places (files, or one file) both hold."""
    first = found[0]
    more = f" (and {len(found) - 1} more objects in both)" if len(found) > 1 else ""
    return (
        f"{first.what} is in the input twice, at {first.first} and at {first.second}{more}, "
        f"and {first.why}: one object must be in one place. Nothing was changed"
    )


class Split(NamedTuple):
    renders: list[list[int]]  # the sources of each render, in input order
    twice: list[Twice]  # non-empty: the input cannot be split, and is an error


def split(inp: Input) -> Split:
    """The renders the input holds (each a list of source indices), or why it holds none."""
    everything = list(range(len(inp.sources)))
    if not _maybe_twice(inp):
        return Split([everything], [])  # the common case: nothing more to do
    places = _places(inp)
    twice: list[Twice] = []
    renders = _split(everything, places, inp, twice)
    return Split(renders, twice)


def _maybe_twice(inp: Input) -> bool:
    """Whether some identity may be there twice, by the hashes of the identities only: a place
    per object costs some 400 bytes, 40 MiB on a stream of 100,000 small objects."""
    seen: set[int] = set()
    for item in inp.items:
        identity = _identity(item)
        if identity is not None:
            key = hash(identity)
            if key in seen:
                return True
            seen.add(key)
    return False


def _places(inp: Input) -> dict[Identity, list[tuple[Place, Item]]]:
    index = {id(source): number for number, source in enumerate(inp.sources)}
    found: dict[Identity, list[tuple[Place, Item]]] = {}
    for item in inp.items:
        identity = _identity(item)
        if identity is None:
            continue
        number = index[id(item.source)]
        if inp.mode == "stream":
            place = Place(number, item.source.name, item.document)
        else:
            file = item.file()
            place = Place(number, item.source.name, item.position, file and file.path)
        found.setdefault(identity, []).append((place, item))
    return found


def _identity(item: Item) -> Identity | None:
    if item.is_local_config:
        return None
    kind, name = item.kind, item.name
    if not kind or not name:
        return None  # nothing to key it by; the API server would refuse it anyway
    group = (item.api_version or "").rpartition("/")[0]
    return (group, kind, item.namespace, name)


def _split(
    sources: list[int],
    places: dict[Identity, list[tuple[Place, Item]]],
    inp: Input,
    twice: list[Twice],
) -> list[list[int]]:
    """Split `sources` until no part holds an object twice; what cannot be split goes to
    `twice`."""
    members = set(sources)
    pairs = [
        (identity, first, second)
        for identity, found in places.items()
        for first, second in _pairs([entry for entry in found if entry[0].source in members])
    ]
    if not pairs:
        return [sources]
    parted: list[tuple[tuple[str, ...], Twice]] = []
    for identity, (first, _), (second, item) in pairs:
        found = Twice(_what(identity), first, second, item)
        if inp.mode != "stream":
            twice.append(found._replace(why=_ONE_LIST))
            continue
        folder = _parting(first, second)
        if folder is None:
            twice.append(found)
        else:
            parted.append((folder, found))
    if len(parted) < len(pairs):
        return [sources]  # an error: every pair that no path tells apart is named above
    shallowest = min((folder for folder, _ in parted), key=len)
    parts: dict[str, list[int]] = {}
    for number in sources:
        parts.setdefault(_part(inp.sources[number].name, shallowest), []).append(number)
    # Each subfolder that holds one of the two copies must be a render: hold an Airflow
    # workload. A copy of a ConfigMap in another chart folder is a mistake, not a render.
    lacking = [
        found._replace(why=_NOT_RENDERS)
        for folder, found in parted
        if folder == shallowest
        and not all(
            _holds_workload(inp, parts[_part(place.name, shallowest)])
            for place in (found.first, found.second)
        )
    ]
    if lacking:
        twice += lacking
        return [sources]
    renders: list[list[int]] = []
    for part in parts.values():
        renders += _split(part, places, inp, twice)
    return sorted(renders)


def _holds_workload(inp: Input, sources: list[int]) -> bool:
    names = {id(inp.sources[number]) for number in sources}
    return bool(find_workloads([item for item in inp.items if id(item.source) in names]))


def _pairs(found: list[tuple[Place, Item]]) -> Iterable[tuple[tuple[Place, Item], ...]]:
    """Each later place with the first one (one pair per extra copy is enough to decide)."""
    return [(found[0], later) for later in found[1:]]


def _folders(name: str | None) -> tuple[str, ...] | None:
    if name is None:
        return None
    folder = os.path.dirname(os.path.normpath(name))
    return tuple(part for part in folder.split(os.sep) if part not in ("", "."))


def _parting(first: Place, second: Place) -> tuple[str, ...] | None:
    """The folder where the two places' paths part, or None when they do not part (the same
    file, stdin, the same folder, or one directly in a folder above the other: a stray copy
    beside a render's subfolders must not cut that render into pieces)."""
    a, b = _folders(first.name), _folders(second.name)
    if a is None or b is None or first.source == second.source or a == b:
        return None
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    if common in (len(a), len(b)):
        return None  # one lies directly in the other's folder: no subtree of its own
    return a[:common]


def _part(name: str | None, folder: tuple[str, ...]) -> str:
    """The subfolder of `folder` a file lies in ("" for files elsewhere: one more part)."""
    found = _folders(name)
    if found is None or len(found) <= len(folder) or found[: len(folder)] != folder:
        return ""
    return found[len(folder)]


def _what(identity: Identity) -> str:
    _, kind, namespace, name = identity
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
