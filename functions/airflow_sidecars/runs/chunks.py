"""A large stream of many releases, run a part at a time, for peak memory (benchmarks/README.md).

Every pass of a run (prune, inject, the checksums and ServiceAccounts, validate's rules) reads
the node trees of the Airflow workloads, and the edits are keyed by node: those trees live from
parse to render, and a tree takes some seventeen times its text. On 720 `helm template` outputs
in one stream (49 MB) that was 19 times the input. Cut at document boundaries into parts that
each hold whole releases, and run the one-render path (parse, transform, render, verify) on one
part after the other: only one part's trees are alive at a time, and the outputs, joined, are
the output. runparts.py runs the parts; this module decides whether and where to cut.

A cut must change nothing, so it is made only where nothing one run reads crosses it:

- the input is one stream text (not a ResourceList), without directives (`%TAG` changes how
  the next documents read), with `\\n` line breaks only, and every document is an object;
- no object is there twice (estates.split reports that: then the whole input is run);
- each part starts at the line of a document's own `---`, a block mapping at column 0 (its
  leading comments are the next part's), so the parts' texts joined are the text;
- every object that carries a `release` label has all the others with that label in its part:
  what one run keys by release (namespaces for `{{ .Release.Namespace }}`, checksums, the
  release's facts) is then the same in the part; an Airflow workload without a release label
  stops all cutting;
- where a run also looks objects up by namespace alone (presets: ServiceAccounts, `envFrom`
  sources, Services; validate's database proxies), every namespace is in one part too;
- the parts use the whole stream's list indentation (its first document's).

The parts' results are joined phase by phase (edits.Run.mark: pod templates, workloads,
checksums, ServiceAccounts, ...), each phase in input order, which is the order one run says
them in. What a run says of all its workloads (a config value that reaches nothing, a chart
version said once) is the run's when a single part holds workloads (a part without any adds
nothing to it); what only the whole can say (that, with several such parts; an internal
error) makes runparts.py hand the whole input back to one run. Parts are made only for inputs
of at least THRESHOLD characters.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import NamedTuple

import yaml

from airflow_sidecars.krmio.krm import RESOURCE_LIST_KINDS
from airflow_sidecars.krmio.krmlight import (
    EDITED_KINDS,
    firsts,
    lookup,
    reads_alone,
    scalar,
    scalars,
)
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.runs.summary import Summary
from airflow_sidecars.text.yamlread import Node, is_null, iter_documents, scalar_at
from airflow_sidecars.text.yamltext import detect_seq_indent
from airflow_sidecars.transforms.proxycheck import IMAGES

# Below this many characters an input is run whole: finding the parts composes every document
# a second time (some 3 s on 49 MB), which a small input need not pay for. Around 4 MB a
# whole run passes 10 times its input (the workloads' trees, up to 17 times their text, on
# top of the interpreter's 19 MiB); below, it stays under some 80 MiB.
THRESHOLD = 4_000_000
# About this many characters a part (whole releases: one release of the official chart
# renders some 70 kB). Its trees, 17 times that, are what a run holds besides the texts.
PART_SIZE = 1_000_000

_NAMESPACE_KEYS = frozenset({"name", "namespace", "labels"})
_AIRFLOW_LABELS = (("tier", "airflow"), ("app", "airflow"))


class Part(NamedTuple):
    start: int  # where its text starts in the input text (a byte order mark is part 0's)
    end: int
    first_document: int  # the index of its first document among the input's


class Plan(NamedTuple):
    parts: list[Part]
    seq_indent: int  # the input's list indentation (its first document's)


class _Document(NamedTuple):
    """What a cut must know of one object (kept while the scan reads it)."""

    cut: int  # where a part may start at this document (its `---` line), else -1
    release: str | None
    namespace: str | None
    identity: int | None  # hash of (API group, kind, namespace, name)
    workload: bool  # an object an Airflow workload may be (by its kind and labels)


class _Scan:
    """Every document of a text, in machine integers and a few dicts: a scan of 100,000
    small objects must not itself hold what a run would."""

    __slots__ = ("cuts", "identities", "namespaces", "proxies", "releases", "seq_indent")

    def __init__(self) -> None:
        self.cuts = array("q")  # per document: where a part may start at it, else -1
        self.identities = array("q")  # per object: the hash of its identity
        self.releases: dict[str, list[int]] = {}  # label -> [first, last] document
        self.namespaces: dict[str, list[int]] = {}  # likewise ("\0": no namespace)
        self.proxies = False  # whether an Airflow workload may run a database proxy
        self.seq_indent: int | None = None

    def add(self, document: _Document | None) -> None:
        number = len(self.cuts)
        self.cuts.append(-1 if document is None else document.cut)
        if document is None:
            return
        if document.release is not None:
            self.releases.setdefault(document.release, [number, number])[1] = number
        namespace = document.namespace if document.namespace is not None else "\0"
        self.namespaces.setdefault(namespace, [number, number])[1] = number
        if document.identity is not None:
            self.identities.append(document.identity)


def plan(text: str, *, by_namespace: bool) -> Plan | None:
    """Where to cut `text` (as krm.decode gives it), or None: run it whole. `by_namespace`:
    the run also looks objects up by namespace alone (a config with presets)."""
    if len(text) < THRESHOLD:
        return None
    bom = 1 if text.startswith("\ufeff") else 0
    body = text[bom:]
    if body.startswith("%") or "\n%" in body or "\r" in body:
        return None
    scanned = _scan(body)
    del body  # a copy when there is a byte order mark
    if scanned is None or len(set(scanned.identities)) < len(scanned.identities):
        return None  # maybe one object twice: estates.split must see all of it
    spans = list(scanned.releases.values())
    if by_namespace or scanned.proxies:
        spans += scanned.namespaces.values()
    blocked = _crossed(len(scanned.cuts), spans)
    starts = [(0, 0)]  # (where in text, first document) of each part
    for number, cut in enumerate(scanned.cuts):
        if cut >= 0 and number and not blocked[number] and bom + cut - starts[-1][0] >= PART_SIZE:
            starts.append((bom + cut, number))
    if len(starts) < 2:
        return None
    ends = [start for start, _ in starts[1:]] + [len(text)]
    parts = [Part(start, end, first) for (start, first), end in zip(starts, ends, strict=True)]
    return Plan(parts, scanned.seq_indent if scanned.seq_indent is not None else 2)


def _crossed(count: int, spans: list[list[int]]) -> list[bool]:
    """For each of `count` documents, whether a cut before it parts a span [first, last]."""
    opened = [0] * (count + 1)
    for first, last in spans:
        opened[first + 1] += 1
        opened[last + 1] -= 1
    crossed, open_spans = [], 0
    for number in range(count):
        open_spans += opened[number]
        crossed.append(open_spans > 0)
    return crossed


def _scan(text: str) -> _Scan | None:
    """Each document's place and keys, composed one at a time and dropped. None when the text
    must be run whole."""
    scanned = _Scan()
    try:
        for node in iter_documents(text):
            if scanned.seq_indent is None and node is not None:
                scanned.seq_indent = detect_seq_indent(node, text)  # as krmread._source finds it
            if node is None or is_null(node):
                scanned.add(None)
                continue
            if not isinstance(node, yaml.MappingNode):
                return None  # not an object: krmread refuses the input
            document = _document(text, node)
            if document is None:
                return None
            scanned.proxies = scanned.proxies or (document.workload and _may_run_proxy(text, node))
            scanned.add(document)
    except (yaml.YAMLError, ValueError):
        return None  # krmread says what is wrong, on the whole input
    return scanned


def _document(text: str, node: Node) -> _Document | None:
    """What a cut must know of one object; None when no object may be cut apart from any
    (an Airflow workload without a release label: one run keys it with every unlabelled
    object)."""
    top = firsts(node, frozenset({"kind", "apiVersion", "metadata"}))
    kind = scalar(top["kind"]) if "kind" in top else None
    api_version = scalar(top["apiVersion"]) if "apiVersion" in top else None
    meta = firsts(top.get("metadata"), _NAMESPACE_KEYS)
    labels = scalars(meta.get("labels"))
    release = lookup(labels, "release")
    namespace = scalar(meta["namespace"]) if "namespace" in meta else None
    workload = kind in EDITED_KINDS and any(pair in _AIRFLOW_LABELS for pair in labels or ())
    if (workload and release is None) or kind in RESOURCE_LIST_KINDS:
        return None  # (a ResourceList alone in a part would be read in KRM mode)
    name = scalar(meta["name"]) if "name" in meta else None
    identity = None
    if kind and name:
        identity = hash(((api_version or "").rpartition("/")[0], kind, namespace, name))
    cut = _cut(text, node)
    return _Document(cut if cut is not None else -1, release, namespace, identity, workload)


def _cut(text: str, node: Node) -> int | None:
    """The start of the line of this document's `---`, when only comments and blank lines
    lie between it and the document's block mapping at column 0; else None."""
    if not reads_alone(node):
        return None
    line_start = node.start_mark.index
    while line_start > 0:
        start = text.rfind("\n", 0, line_start - 1) + 1
        line = text[start : line_start - 1]
        if line.startswith("---") and line[3:4] in ("", " ", "\t"):
            return start
        if line.strip() and not line.lstrip().startswith("#"):
            return None
        line_start = start
    return None


def _may_run_proxy(text: str, node: Node) -> bool:
    """Whether a workload may run a database proxy (proxycheck.IMAGES): validate then looks the
    release's objects up by namespace too. A superset: the object's text holds such an image's
    name, or one of its strings does (an escape, which takes a backslash, may spell it), or
    in a ConfigMap (a pod template is YAML in a string, with escapes of its own) a string
    holds a backslash."""
    span = text[node.start_mark.index : node.end_mark.index]
    if any(name in span for name in IMAGES):
        return True
    if "\\" not in span:
        return False
    escapes = scalar_at(node, "kind") == "ConfigMap"
    return any(
        any(name in value for name in IMAGES) or (escapes and "\\" in value)
        for value in _strings(node)
    )


def _strings(node: Node) -> Iterator[str]:
    stack = [node]
    seen: set[int] = set()
    while stack:
        found = stack.pop()
        if id(found) in seen:
            continue
        seen.add(id(found))
        if isinstance(found, yaml.ScalarNode):
            yield str(found.value)
        elif isinstance(found, yaml.MappingNode):
            for key, value in found.value:
                stack += (key, value)
        elif isinstance(found, yaml.SequenceNode):
            stack += found.value


class Joined:
    """The parts' results and summaries, gathered part by part into what one run says: the
    results phase by phase (edits.Run.mark), the summary counted on. A part's share is folded
    in as it comes, so that a thousand parts cost no more than their results."""

    __slots__ = ("broken", "nothing_taken", "parts", "phases", "spare", "summary", "workloads")

    def __init__(self) -> None:
        self.phases: list[list[Result]] = []
        self.nothing_taken: dict[int, tuple[int, Result]] = {}  # phase -> (parts, the result)
        self.parts = 0
        self.workloads = 0  # parts that hold an Airflow workload
        self.broken = False  # the parts' phases differ
        # What the first part without a workload said of all workloads: the run's when no
        # part holds any (each such part says the same: it read no workload).
        self.spare: list[list[Result]] | None = None
        self.summary: Summary | None = None

    def add(self, phases: list[list[Result]], counts: Summary) -> None:
        """A part's results, by phase, and its summary."""
        if self.parts and len(phases) != len(self.phases):
            self.broken = True
        self.phases += [[] for _ in range(len(phases) - len(self.phases))]
        self.parts += 1
        self.workloads += bool(counts.workloads)
        if not counts.workloads and self.spare is None:
            self.spare = [[r for r in phase if _rule(r) in _OF_ALL_WORKLOADS] for phase in phases]
        for number, phase in enumerate(phases):
            for result in phase:
                if not counts.workloads and _rule(result) in _OF_ALL_WORKLOADS:
                    # A part without an Airflow workload adds nothing to what a run says of
                    # all its workloads (reach.py): its "reached nothing" is not the run's.
                    continue
                if result.resource is None and _rule(result) == "taken-back":
                    said, _ = self.nothing_taken.get(number, (0, result))
                    self.nothing_taken[number] = (said + 1, result)
                else:
                    self.phases[number].append(result)
        self.summary = counts if self.summary is None else _added(self.summary, counts)

    def kept(self, phases: list[list[Result]], counts: Summary) -> list[Result]:
        """What of a part's results one run says too (add's rule), for its exit code."""
        if counts.workloads:
            return [result for phase in phases for result in phase]
        return [r for phase in phases for r in phase if _rule(r) not in _OF_ALL_WORKLOADS]

    def results(self) -> list[Result] | None:
        """What one run says, or None when a part said something of the whole run that only
        the whole run can say."""
        if self.broken:
            return None
        said: list[Result] = []
        for number, phase in enumerate(self.phases):
            if any(_of_the_whole(result, self.workloads) for result in phase):
                return None
            if not self.workloads and self.spare is not None and self.spare[number]:
                if phase:
                    return None  # (no phase of a run mixes them: not worth an order of its own)
                said += self.spare[number]
                continue
            if number in self.nothing_taken:
                # remove's "nothing to take back": one run says it when no part took anything
                parts, result = self.nothing_taken[number]
                if phase:
                    return None
                said += [result] if parts == self.parts else []
                continue
            said += phase
        return said

    def total(self) -> Summary:
        assert self.summary is not None
        return self.summary


def _added(before: Summary, part: Summary) -> Summary:
    """Two summaries as one run's: the part's positions moved by the objects before it."""
    offset = before.objects
    workloads = before.workloads | {offset + position for position in part.workloads}
    changed = before.changed
    if part.changed is not None:
        moved = {offset + position for position in part.changed}
        changed = frozenset(moved if changed is None else changed | moved)
    releases = sorted(set(before.releases) | set(part.releases), key=_release_order)
    return Summary(
        before.objects + part.objects,
        tuple(releases),
        frozenset(workloads),
        changed,
        before.applied and part.applied,
    )


def _release_order(key: tuple[str | None, str | None]) -> tuple[str, str]:
    return (key[0] or "", key[1] or "")  # as summary.of sorts them


def _of_the_whole(result: Result, with_workloads: int) -> bool:
    """Whether only the whole run can say this, parts cannot."""
    rule = _rule(result)
    if rule in _OF_ALL_WORKLOADS:
        return with_workloads > 1
    return rule in _OF_THE_RUN or (result.resource is None and rule != "taken-back")


# What a run says once, of all its workloads (reach.py), and of itself (outcomes.py,
# runestate.py)
_OF_ALL_WORKLOADS = frozenset({"no-match", "chart-version", "no-workloads"})
_OF_THE_RUN = frozenset({"internal", "not-applied", "render"})


def _rule(result: Result) -> str | None:
    return result.tags.get("rule")
