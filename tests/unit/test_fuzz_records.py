"""Fuzzing (hypothesis) the records inject writes and `remove` reads: hostile records.

inject writes, per config, an annotation `airflow-sidecars.dev/<config name>` with a JSON record
of what it added (functions/airflow_sidecars/recording/records.py); `remove`, and inject's own
take-back, trust it to decide what to delete. A record is text anyone can edit, so these
generators take a real inject output and mutate its records and the recorded items, and check
the contract:

- remove(inject(render)) == render, byte for byte, for every real render and every shipped
  example config, and inject is idempotent (test_remove_gives_the_render_back);
- a record of the wrong shape (another JSON type, unknown keys, thousands deep, hundreds of
  KB, not JSON, a YAML tag that makes it no string) or one that names a chart's own
  container is refused: an error result with rule `record`, exit 1, the output is the input
  (test_hostile_records_are_refused); `!!str` or an anchor is the same string, the same record;
- an item edited after inject stays in place, with a warning with rule `record`
  (test_foreign_items_stay); an item copied onto another object along with the record that
  vouches for it is what inject writes there, and remove takes it back;
- whatever a record says, and for records swapped between configs or items renamed: no
  chart container is removed, no pod that had containers is left with `containers: []`,
  every object comes back in order, documents nothing may edit come back byte for byte,
  exit 1 means the output is the input, and no exception escapes (every test here); inject
  and validate on the mutated output keep the invariants of `check`
  (tests/support/fuzz_invariants.py).

The budget and the saved inputs are tests/support/fuzzing.py's
(AIRFLOW_SIDECARS_FUZZ_EXAMPLES, _SECONDS, _SAVE: see its docstring); tests/fuzz_campaign.py
runs this module for a while.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from airflow_sidecars.charts.chart import CHART_CONTAINERS
from airflow_sidecars.krmio import krm, krmread
from airflow_sidecars.renders.airflow import find_workloads
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove
from conftest import FIXTURES, ROOT
from support.fuzz_invariants import _compose, _may_be_edited, _objects, _pieces, check
from support.fuzzing import DUMPER, LOADER, SLOW_RUN, Case, _save, _watchdog, fuzz_as_found

pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)
FUZZ_AS_FOUND = fuzz_as_found(rate=2.0, generators=3)  # examples/s here on 2 cores, measured

PREFIX = "airflow-sidecars.dev/"

# -- inputs: every real render, every shipped config ------------------------------------------

RENDER_DIRS = ("official-1.15.0", "official-1.20.0", "official-1.22.0", "community-8.9.0")
RENDERS: dict[str, bytes] = {
    f"{folder}/{path.name}": path.read_bytes()
    for folder in RENDER_DIRS
    for path in sorted((FIXTURES / folder).glob("*.yaml"))
    if not path.name.endswith(".values.yaml")
}
RENDER_NAMES = sorted(RENDERS)
CONFIG_PATHS = sorted(
    [*(ROOT / "pipelines/examples").glob("*.yaml"), *(ROOT / "tests/golden").glob("*/config*.yaml")]
)
CONFIGS: dict[str, bytes] = {str(p.relative_to(ROOT)): p.read_bytes() for p in CONFIG_PATHS}
CONFIG_NAMES = sorted(CONFIGS)
# A record's annotation names its config by metadata.name: the config that wrote it.
BY_RECORD_KEY: dict[str, str] = {}
for _path, _text in CONFIGS.items():
    BY_RECORD_KEY.setdefault(PREFIX + str(yaml.safe_load(_text)["metadata"]["name"]), _path)


def _source(config: str) -> ConfigSource:
    return ConfigSource(config, CONFIGS[config])


@functools.cache
def injected(render: str, config: str) -> bytes | None:
    """inject's output for a render and a config; None when it adds nothing or fails (the
    config is for another chart): there is no record to mutate."""
    outcome = run_inject([(render, RENDERS[render])], _source(config))
    if outcome.exit_code != 0 or PREFIX not in outcome.output.decode():
        return None
    return outcome.output


PAIRS = [(r, c) for r in RENDER_NAMES for c in CONFIG_NAMES]


@functools.cache
def _recorded_pairs() -> list[tuple[str, str]]:
    return [pair for pair in PAIRS if injected(*pair) is not None]


# -- reading pods --------------------------------------------------------------------------------


def _load_all(text: str) -> list[Any]:
    return [doc for doc in yaml.load_all(text, Loader=LOADER) if doc is not None]


def _template_pod(value: Any) -> dict[str, Any] | None:
    """The pod spec in a KubernetesExecutor pod template string, if it is one."""
    if not isinstance(value, str) or "kind: Pod" not in value:
        return None
    try:
        pod = yaml.load(value, Loader=LOADER)
    except yaml.YAMLError:
        return None
    spec = pod.get("spec") if isinstance(pod, dict) else None
    return spec if isinstance(spec, dict) else None


def pods(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod spec of an object: a workload's, a CronJob's, a pod template string's."""
    if not isinstance(doc, dict):
        return
    spec = doc.get("spec")
    for where, path in (
        ("spec.template.spec", ("template", "spec")),
        ("spec.jobTemplate.spec.template.spec", ("jobTemplate", "spec", "template", "spec")),
    ):
        node: Any = spec
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            yield where, node
    data = doc.get("data") if doc.get("kind") == "ConfigMap" else None
    for key, value in sorted((data or {}).items()) if isinstance(data, dict) else ():
        pod = _template_pod(value)
        if pod is not None:
            yield f"data.{key}", pod


def names(pod: dict[str, Any], field: str) -> list[str]:
    entries = pod.get(field)
    if not isinstance(entries, list):
        return []
    return [str(e.get("name")) for e in entries if isinstance(e, dict)]


def _identity(doc: Any) -> str:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"{doc.get('kind') if isinstance(doc, dict) else doc}/{name}"


# -- the invariants every run keeps ---------------------------------------------------------------


def _run(function: str, data: bytes, config: str | None) -> Outcome:
    source = _source(config) if config is not None else None
    with _watchdog(SLOW_RUN):
        if function.startswith("remove"):
            force = function == "remove --force"
            outcome = run_remove([("render.yaml", data)], source, force=force)
        else:
            outcome = run_inject([("render.yaml", data)], source)
    assert outcome.exit_code in (0, 1), (function, outcome.exit_code)
    for found in outcome.results:
        assert "Traceback" not in found.line(), found.line()
        json.dumps(found.as_dict())
    return outcome


def said(outcome: Outcome, severity: str, rule: str = "record") -> list[str]:
    return [
        r.line() for r in outcome.results if r.severity == severity and r.tags.get("rule") == rule
    ]


def _errors(outcome: Outcome) -> list[str]:
    return [r.line() for r in outcome.results if r.severity == "error"][:4]


def keeps_what_it_must(
    function: str, data: bytes, outcome: Outcome, original: bytes | None
) -> None:
    """No chart container goes, no pod is left without containers, every object comes back in
    order, what nothing may edit is byte for byte the same; exit 1: the output is the input."""
    why = (function, _errors(outcome))
    if outcome.exit_code == 1:
        assert outcome.output == data, (*why, "exit 1, but the output is not the input")
        return
    text, out_text = data.decode(), outcome.output.decode()
    assert _objects(_compose(out_text)) == _objects(_compose(text)), (*why, "objects lost")
    for number, (piece_in, piece_out) in enumerate(
        zip(_pieces(text), _pieces(out_text), strict=True)
    ):
        if not _may_be_edited(piece_in):
            assert piece_out == piece_in, (*why, f"document {number} changed")
    before, after = _load_all(text), _load_all(out_text)
    chart = _load_all(original.decode()) if original is not None else []
    for index, (doc_in, doc_out) in enumerate(zip(before, after, strict=True)):
        pods_out = dict(pods(doc_out))
        own = dict(pods(chart[index])) if index < len(chart) else {}
        for where, pod_in in pods(doc_in):
            pod_out = pods_out.get(where, {})
            place = f"{_identity(doc_in)} {where}"
            if names(pod_in, "containers"):
                assert names(pod_out, "containers"), (
                    *why,
                    place,
                    "a pod is left without containers",
                )
            for field in ("containers", "initContainers"):
                # The chart's own: what the render had (a config may add a container the
                # chart could have rendered, e.g. worker-kerberos; that one may go).
                chart_names = set(names(own[where], field)) if where in own else CHART_CONTAINERS
                gone = (set(names(pod_in, field)) & chart_names) - set(names(pod_out, field))
                assert not gone, (*why, place, sorted(gone), f"the chart's own {field} removed")


def run_and_keep(function: str, data: bytes, config: str | None, original: bytes | None) -> Outcome:
    outcome = _run(function, data, config)
    keeps_what_it_must(function, data, outcome, original)
    return outcome


# -- mutating records, as text -------------------------------------------------------------

RECORD_LINE = re.compile(
    r"^(?P<lead>[ ]*)(?P<key>airflow-sidecars\.dev/[A-Za-z0-9_.-]+):[ ]+(?P<value>'.*')[ ]*$"
)


def record_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if RECORD_LINE.match(line.rstrip("\n"))]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _document_of(lines: list[str], index: int) -> str:
    start = index
    while start > 0 and not lines[start].startswith("---"):
        start -= 1
    end = index + 1
    while end < len(lines) and not lines[end].startswith("---"):
        end += 1
    return "".join(lines[start:end])


def _json_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key in value:
            found += _json_paths(value[key], (*path, key))
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            found += _json_paths(entry, (*path, index))
    return found


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


OTHER_TYPES: list[Any] = [5, -1, 1.5, True, None, "x", "", [], ["x"], [1], {}, {"a": 1}]
DEEP = "\x00deep\x00"  # where a thousands-deep value goes (json.dumps cannot write one)


_NAME_FIELDS = ("containers", "initContainers", "volumes", "annotations")


def _replace(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    holder = root
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return root


def _chart_names(document: str, record: Any) -> tuple[list[str], list[str]]:
    """The chart's containers and init containers in the pods of one document (those its
    record does not name as containers: a config may add one the chart could render too)."""
    try:
        docs = _load_all(document)
    except yaml.YAMLError:
        return [], []
    found: tuple[list[str], list[str]] = ([], [])
    for doc in docs:
        for _, pod in pods(doc):
            for number, field in enumerate(("containers", "initContainers")):
                named = record.get(field, ()) if isinstance(record, dict) else ()
                found[number].extend(
                    n for n in names(pod, field) if n in CHART_CONTAINERS and n not in named
                )
    return found


def _main_containers(document: str) -> set[str]:
    """The Airflow container of each workload in the document (the tool's own reading)."""
    try:
        items = krmread.parse([(None, document)]).items
    except (krm.InputError, yaml.YAMLError):
        return set()
    return {workload.main_container for workload in find_workloads(items)}


def _add_name(record: Any, group: str, name: str) -> Any:
    """`name` into the record's `group` (a list of names, or a mapping of name -> anything,
    as a record with a digest per item may be)."""
    if not isinstance(record, dict):
        return {group: [name]}
    entries = record.get(group)
    if isinstance(entries, dict):
        entries[name] = next(iter(entries.values()), "0" * 64)
    elif isinstance(entries, list):
        entries.append(name)
    else:
        record[group] = [name]
    return record


@st.composite
def _retyped(draw: st.DrawFn, record: Any, steps: list[str]) -> tuple[str, str]:
    path = draw(st.sampled_from(_json_paths(record)))
    node: Any = record
    for step in path:
        node = node[step]
    choices = [v for v in OTHER_TYPES if _json_type(v) != _json_type(node)]
    value = draw(st.sampled_from(choices))
    steps.append(f"retype {list(path)} to {value!r}")
    # A list of names where names map to digests is a record as 0.1 wrote it: valid.
    names_at = (len(path) == 1 and path[0] in _NAME_FIELDS) or (
        len(path) == 2 and path[0] in ("mounts", "env")
    )
    legacy = names_at and isinstance(value, list) and all(isinstance(v, str) for v in value)
    return json.dumps(_replace(record, path, value)), "generic" if legacy else "refused"


@st.composite
def _naming_a_chart_container(
    draw: st.DrawFn, record: Any, document: str, steps: list[str]
) -> tuple[str, str]:
    containers, init_containers = _chart_names(document, record)
    choices = [("containers", n) for n in containers]
    choices += [("initContainers", n) for n in init_containers]
    group, name = draw(st.sampled_from(choices or [("containers", "scheduler")]))
    steps.append(f"name the chart's {group} {name!r}")
    # The workload's own container: the record is refused. Another container the chart
    # renders (a log groomer, an init container) stays with a warning, --force or not; one
    # the pod does not have takes nothing. keeps_what_it_must checks both.
    main = group == "containers" and name in _main_containers(document)
    return json.dumps(_add_name(record, group, name)), "refused" if main else "generic"


@st.composite
def _json_mutation(
    draw: st.DrawFn, record: Any, document: str, steps: list[str]
) -> tuple[str, str]:
    """A new record text, and what it is: "refused" (wrong shape, a chart container) or
    "generic" (renamed items that name nothing of the chart)."""
    how = draw(
        st.sampled_from(
            ["retype", "unknown-key", "chart-container", "deepen", "bloat", "invalid", "rename"]
        )
    )
    record = copy.deepcopy(record)
    if how == "retype":
        return draw(_retyped(record, steps))
    if how == "unknown-key":
        key = draw(st.sampled_from(["fuzz", "Containers", "containers ", "", "__proto__"]))
        value = draw(st.sampled_from(OTHER_TYPES))
        if not isinstance(record, dict) or key in record:
            key = "fuzz-unknown"
        steps.append(f"unknown key {key!r}: {value!r}")
        record[key] = value
        return json.dumps(record), "refused"
    if how == "chart-container":
        return draw(_naming_a_chart_container(record, document, steps))
    if how == "deepen":
        depth = draw(st.sampled_from([1_000, 5_000, 100_000]))
        path = draw(st.sampled_from(_json_paths(record)))
        steps.append(f"{list(path)} nested {depth} deep")
        text = json.dumps(_replace(record, path, DEEP))
        return text.replace(json.dumps(DEEP), "[" * depth + "]" * depth), "refused"
    if how == "bloat":
        count = draw(st.sampled_from([20_000, 60_000]))
        if draw(st.booleans()):
            steps.append(f"{count} made-up container names")
            for number in range(count):
                record = _add_name(record, "containers", f"bloat-{number}")
        else:
            steps.append(f"a container name {count * 10} characters long")
            record = _add_name(record, "containers", "b" * count * 10)
        return json.dumps(record), "refused"
    if how == "invalid":
        text = json.dumps(record)
        variant = draw(st.sampled_from(["truncate", "trailing", "nan", "single", "empty", "yaml"]))
        steps.append(f"invalid JSON: {variant}")
        if variant == "truncate":
            return text[: draw(st.integers(1, max(1, len(text) - 1)))], "refused"
        if variant == "trailing":
            return text + draw(st.sampled_from(["}", ",", " x", "\\u0000"])), "refused"
        if variant == "nan":
            return json.dumps({"containers": [float("nan")]}), "refused"
        if variant == "single":
            return text.replace('"', "'"), "refused"
        if variant == "empty":
            return "", "refused"
        return "containers: [s3-sync]", "refused"
    # rename: an item's name becomes one nothing has (taking nothing back is fine)
    strings = [p for p in _json_paths(record) if p and isinstance(p[-1], int)]
    if not strings:
        return json.dumps(record), "generic"
    path = draw(st.sampled_from(strings))
    steps.append(f"rename {list(path)} to a name nothing has")
    return json.dumps(_replace(record, path, "fuzz-renamed")), "generic"


YAML_FORMS = ["!!str {v}", "&fuzz {v}", "!fuzz {v}", "!!binary {b}", "{{containers: [x]}}", "[{v}]"]
# The same string as YAML (and Kubernetes) reads it: the record is the one inject wrote.
SAME_STRING = frozenset({"!!str {v}", "&fuzz {v}"})


@st.composite
def hostile_records(draw: st.DrawFn) -> tuple[Case, str, str, str | None]:
    """A real inject output whose record on one object is hostile: the case, what it is
    ("refused" or "generic"), the config that wrote the output and the config whose record it
    is (None: a key no config has)."""
    render, config = draw(st.sampled_from(_recorded_pairs()))
    output = injected(render, config)
    assert output is not None
    lines = output.decode().splitlines(keepends=True)
    index = draw(st.sampled_from(record_lines(lines)))
    found = RECORD_LINE.match(lines[index].rstrip("\n"))
    assert found is not None
    steps = [f"record on line {index + 1} ({found['key']})"]
    value = yaml.safe_load(found["value"])
    kind = "refused"
    if draw(st.integers(0, 4)) == 0:  # the value as YAML sees it, not as JSON does
        form = draw(st.sampled_from(YAML_FORMS))
        b64 = base64.b64encode(value.encode()).decode()
        new_value = form.format(v=_quoted(value), b=b64)
        steps.append(f"annotation value {form!r}")
        kind = "generic" if form in SAME_STRING else "refused"
    else:
        text, kind = draw(_json_mutation(json.loads(value), _document_of(lines, index), steps))
        new_value = _quoted(text)
    key = found["key"]
    if kind == "generic" and draw(st.booleans()):  # the record of another config
        key = draw(st.sampled_from([*sorted(BY_RECORD_KEY), PREFIX + "nobody"]))
        steps.append(f"key renamed to {key}")
    lines[index] = f"{found['lead']}{key}: {new_value}\n"
    data = "".join(lines).encode()
    case = Case(f"{render} + {config}", data, CONFIGS[config], "stream", steps)
    return case, kind, config, BY_RECORD_KEY.get(key)


# -- mutating records and items, as data ---------------------------------------------------------


def _record_of(doc: Any, where: str) -> dict[str, Any] | None:
    """The annotations that hold a workload pod's records."""
    node: Any = doc.get("spec")
    path = ("template",) if where == "spec.template.spec" else ("jobTemplate", "spec", "template")
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    meta = node.get("metadata") if isinstance(node, dict) else None
    return meta.get("annotations") if isinstance(meta, dict) else None


def _added(doc: Any, chart_doc: Any) -> dict[str, list[dict[str, Any]]]:
    """Per pod: the containers, init containers and volumes inject added (not the chart's)."""
    own = dict(pods(chart_doc))
    found: dict[str, list[dict[str, Any]]] = {}
    for where, pod in pods(doc):
        for field in ("containers", "initContainers", "volumes"):
            chart = set(names(own.get(where, {}), field))
            for entry in pod.get(field) or []:
                if isinstance(entry, dict) and str(entry.get("name")) not in chart:
                    found.setdefault(where, []).append({"field": field, "entry": entry})
    return found


def _dump(docs: list[Any]) -> bytes:
    return yaml.dump_all(docs, Dumper=DUMPER, sort_keys=False, width=10_000).encode()


@st.composite
def foreign_items(draw: st.DrawFn) -> tuple[Case, str, str, str, str]:
    """A real inject output where one recorded item is not what inject added there: edited
    after inject, or named by a record copied from another object (and copied along with it).
    The case, the config, the object, the pod and the item's name.

    An item copied with the record that vouches for it is what inject would have written
    there (a digest is of the item, wherever it is: a namespace or name set later by kustomize
    must not make a record false). Those cases are marked COPIED in the steps, and remove
    takes the copy back: the pod as it was before the copy."""
    render, config = draw(st.sampled_from(_recorded_pairs()))
    output = injected(render, config)
    assert output is not None
    docs = _load_all(output.decode())
    chart = _load_all(RENDERS[render].decode())
    candidates = [
        (index, where, added)
        for index, doc in enumerate(docs)
        for where, added in _added(doc, chart[index]).items()
        if where.startswith("spec.") and added
    ]
    assume(candidates)  # every recorded pair has some, but a pod template string's are not here
    index, where, added = draw(st.sampled_from(candidates))
    doc = docs[index]
    choice = draw(st.sampled_from(added))
    entry, field = choice["entry"], choice["field"]
    targets = [
        (i, w)
        for i, other in enumerate(docs)
        for w, other_pod in pods(other)
        if w.startswith("spec.")
        and i != index
        and str(entry.get("name")) not in names(other_pod, field)
    ]
    if field == "volumes" or not targets or draw(st.booleans()):
        how = draw(
            st.sampled_from(["image", "env", "command"] if field != "volumes" else ["volume"])
        )
        original = copy.deepcopy(entry)
        if how == "image":
            entry["image"] = str(entry.get("image", "")) + "-edited"
        elif how == "env":
            entry["env"] = [*(entry.get("env") or []), {"name": "EDITED", "value": "by hand"}]
        elif how == "command":
            entry["command"] = ["/bin/sh", "-c", "edited by hand"]
        else:
            name = entry.get("name")
            entry.clear()
            entry.update({"name": name, "emptyDir": {"medium": "Memory"}})
            if entry == original:  # it was that already (the Kerberos cache): edit it still
                entry["emptyDir"]["sizeLimit"] = "1Mi"
        steps = [f"{_identity(doc)} {where}: {field} {entry.get('name')!r} edited ({how})"]
        case = Case(f"{render} + {config}", _dump(docs), CONFIGS[config], "stream", steps)
        return case, config, _identity(doc), where, f"{field}/{entry.get('name')}"
    target, target_where = draw(st.sampled_from(targets))
    other = docs[target]
    other_pod = dict(pods(other))[target_where]
    records = _record_of(doc, where) or {}
    annotations = _record_of(other, target_where)
    if annotations is None:
        holder: Any = other["spec"]
        path = (
            ("template",)
            if target_where == "spec.template.spec"
            else ("jobTemplate", "spec", "template")
        )
        for step in path:
            holder = holder[step]
        holder.setdefault("metadata", {})
        holder["metadata"]["annotations"] = annotations = {}
    for key, value in records.items():
        if str(key).startswith(PREFIX):
            annotations[key] = value
    other_pod.setdefault(field, [])
    other_pod[field] = [*(other_pod[field] or []), copy.deepcopy(entry)]
    steps = [
        f"the records of {_identity(doc)} and its {field} {entry.get('name')!r} copied to "
        f"{_identity(other)} {target_where}"
    ]
    steps.append(COPIED if _identity(other) in _workloads(output) else NOT_READ)
    case = Case(f"{render} + {config}", _dump(docs), CONFIGS[config], "stream", steps)
    return case, config, _identity(other), target_where, f"{field}/{entry.get('name')}"


COPIED = "copied with its record: what inject writes there"
NOT_READ = "onto no Airflow workload: nothing reads records there"


def _workloads(output: bytes) -> set[str]:
    """The objects the tool reads as Airflow workloads, as _identity names them."""
    items = krmread.parse([(None, output.decode())]).items
    return {f"{w.item.kind}/{w.item.name}" for w in find_workloads(items)}


def _entry(docs: list[Any], identity: str, where: str, item: str) -> dict[str, Any] | None:
    field, _, name = item.partition("/")
    for doc in docs:
        if _identity(doc) == identity:
            pod = dict(pods(doc)).get(where, {})
            for entry in pod.get(field) or []:
                if isinstance(entry, dict) and str(entry.get("name")) == name:
                    return entry
    return None


# -- the tests ------------------------------------------------------------------------------------


@contextmanager
def _saving(case: Case) -> Iterator[None]:
    """The input is saved (AIRFLOW_SIDECARS_FUZZ_SAVE) when the check fails."""
    try:
        yield
    except BaseException:
        _save(case)
        raise


@given(st.sampled_from(PAIRS))
@FUZZ_AS_FOUND
def test_remove_gives_the_render_back(pair: tuple[str, str]) -> None:
    render, config = pair
    original = RENDERS[render]
    case = Case(f"{render} + {config}", original, CONFIGS[config], "stream", [])
    with _saving(case):
        inject = run_and_keep("inject", original, config, original)
        if inject.exit_code != 0:
            return
        again = _run("inject", inject.output, config)
        assert again.exit_code == 0, _errors(again)
        assert again.output == inject.output, "inject on its own output changed it"
        for whose in (None, config):
            removed = run_and_keep("remove", inject.output, whose, original)
            assert removed.exit_code == 0, _errors(removed)
            assert removed.output == original, f"remove ({whose}) did not give the render back"


@given(hostile_records())
@FUZZ_AS_FOUND
def test_hostile_records_are_refused(found: tuple[Case, str, str, str | None]) -> None:
    case, kind, _, whose = found
    render = RENDERS[case.origin.partition(" + ")[0]]
    with _saving(case):
        runs: list[tuple[str, str | None]] = [("remove", None), ("remove --force", None)]
        if whose is not None:
            runs += [("remove", whose), ("inject", whose)]
        for function, config_name in runs:
            outcome = run_and_keep(function, case.data, config_name, render)
            if kind == "refused":
                why = (function, config_name, case.steps, _errors(outcome))
                assert outcome.exit_code == 1, (*why, "a hostile record was not refused")
                # A tag no Kubernetes object can have is refused before the record is read.
                refusals = said(outcome, "error") + said(outcome, "error", "unsupported-yaml")
                assert refusals, (*why, "no error with rule `record` or `unsupported-yaml`")
        check(case)


@given(foreign_items())
@FUZZ_AS_FOUND
def test_foreign_items_stay(found: tuple[Case, str, str, str, str]) -> None:
    case, config, identity, where, item = found
    render = RENDERS[case.origin.partition(" + ")[0]]
    before = _entry(_load_all(case.data.decode()), identity, where, item)
    with _saving(case):
        outcome = run_and_keep("remove", case.data, None, render)
        why = (case.steps, _errors(outcome))
        assert outcome.exit_code == 0, why
        after = _entry(_load_all(outcome.output.decode()), identity, where, item)
        if COPIED in case.steps:
            assert after is None, (*why, identity, where, item, "a vouched-for copy was left")
        elif NOT_READ in case.steps:
            assert after == before, (*why, identity, where, item, "changed, and not a workload")
        else:
            assert after == before, (
                *why,
                identity,
                where,
                item,
                "a foreign item was taken back or changed",
            )
            assert said(outcome, "warning"), (*why, "no warning with rule `record`")
        run_and_keep("inject", case.data, config, render)


def test_the_generators_find_records() -> None:
    # The generators' own sanity: the shipped configs record something on most renders.
    assert len(_recorded_pairs()) > len(RENDER_NAMES)
    assert all(record_lines(injected(*p).decode().splitlines(True)) for p in _recorded_pairs()[:5])  # type: ignore[union-attr]


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{r}+{c}" for r, c in PAIRS])
def test_remove_gives_every_render_back(pair: tuple[str, str]) -> None:
    # The generator above samples; this is every render with every shipped config, once.
    test_remove_gives_the_render_back.hypothesis.inner_test(pair)  # type: ignore[attr-defined]
