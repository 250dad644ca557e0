"""Fuzzing (hypothesis): mutated real renders, hostile YAML, odd ResourceLists, odd strings.

Every generated input runs through `inject` and `validate` in-process (an exception escaping
`run_inject` / `run_validate` is what a traceback is on the command line), and these must hold:
- the exit status is 0, 1 or 2, and every result can be printed the way the command line does;
- the output is complete: in stream mode it parses as YAML with the same objects (kind, name)
  in the same order as the input (input we cannot parse either comes back as it came, with
  exit 1); in KRM mode it is one ResourceList with the same items in the same order, also on
  exit 1, carrying the error results;
- what the run may not edit comes back byte for byte: in stream mode every document (split on
  lines that start with `---`) that is no Airflow object (`tier: airflow` / `app: airflow`), no
  ServiceAccount and no ConfigMap; in KRM mode every such item. validate changes nothing;
- inject is idempotent: on exit 0, inject on its own output with the same config exits 0 and
  gives the same bytes (in KRM mode: the same items; results are appended, by design).

Generators: line-level and structural mutations of the real renders under tests/fixtures;
anchors, aliases, alias bombs, tags and merge keys in every position (the first document, an
Airflow workload the config does not target, one it does, the KubernetesExecutor pod template
string, the config); the KRM wrapper (results, index annotations, duplicate keys, JSON with
escaped C1 characters, a BOM, no final newline, a last item ending in a block scalar); and
special strings in configs (line breaks, NEL, C1, U+2028, spaces, templates, long strings).
The command line's stdio (closed stdin/stdout/stderr, a full disk, `--config -`) needs a real
process: tests/e2e/test_cli_stdio.py.

Examples are derandomised, so a CI run is the same run as on a laptop.
AIRFLOW_SIDECARS_FUZZ_EXAMPLES=N runs N examples per generator (default 100);
AIRFLOW_SIDECARS_FUZZ_SECONDS=S runs fresh random examples for about S seconds in all
(e.g. 3600 for an hour); AIRFLOW_SIDECARS_FUZZ_SAVE=DIR writes every failing input there.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from airflow_sidecars.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from conftest import FIXTURES, ROOT

# A failing example makes hypothesis's pytest plugin import libcst (to suggest a patch), which
# uses a deprecated mypy_extensions class: under `filterwarnings = error` that warning would
# turn the report of a failure into an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

# -- budget -----------------------------------------------------------------------------------

_EXAMPLES = int(os.environ.get("AIRFLOW_SIDECARS_FUZZ_EXAMPLES") or 100)
_SECONDS = float(os.environ.get("AIRFLOW_SIDECARS_FUZZ_SECONDS") or 0)
_GENERATORS = 7  # the @given tests below, which share AIRFLOW_SIDECARS_FUZZ_SECONDS
_RATE = 20.0  # examples per second of one generator on 2 cores, measured
_SAVE = os.environ.get("AIRFLOW_SIDECARS_FUZZ_SAVE")

FUZZ = settings(
    max_examples=(
        max(_EXAMPLES, int(_SECONDS * _RATE / _GENERATORS)) if _SECONDS > 0 else _EXAMPLES
    ),
    derandomize=_SECONDS <= 0,
    database=None,
    deadline=None,
    print_blob=_SECONDS > 0,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


def fuzz_as_found(rate: float, generators: int) -> settings:
    """FUZZ for a module whose inputs are real renders and a few named steps (their repr says
    how each was made): its own rate (examples per second of one generator, measured) shares
    AIRFLOW_SIDECARS_FUZZ_SECONDS among its generators, and nothing is shrunk (shrinking
    hundreds of KB of render took minutes per failure)."""
    examples = max(_EXAMPLES, int(_SECONDS * rate / generators)) if _SECONDS > 0 else _EXAMPLES
    return settings(
        FUZZ, max_examples=examples, phases=[Phase.explicit, Phase.reuse, Phase.generate]
    )


# Seconds one in-process run may take (a render normally takes 0.02-0.5 s, alias bombs too);
# a run still going then is stopped where it is, as a failure that shows where.
SLOW_RUN = 5.0

# -- inputs -----------------------------------------------------------------------------------

RENDER_DIRS = ("official-1.15.0", "community-8.9.0", "official-1.22.0")
RENDERS: dict[str, str] = {
    f"{folder}/{path.name}": path.read_text(encoding="utf-8")
    for folder in RENDER_DIRS
    for path in sorted((FIXTURES / folder).glob("*.yaml"))
    if not path.name.endswith(".values.yaml")
}
RENDER_NAMES = sorted(RENDERS)
TEMPLATE_RENDERS = [name for name in RENDER_NAMES if "pod_template_file.yaml: |" in RENDERS[name]]
SPECIAL_RENDERS = [
    "official-1.15.0/01-default.yaml",
    "official-1.15.0/02-kubernetes-executor.yaml",
    "official-1.15.0/01-default.hooks.yaml",
    "community-8.9.0/01-default.yaml",
    "official-1.22.0/02a-kubernetes-executor.yaml",
]
# The objects of each render, as data (the KRM generators build ResourceLists from them).
OBJECTS: dict[str, list[dict[str, Any]]] = {
    name: [doc for doc in yaml.safe_load_all(text) if doc] for name, text in RENDERS.items()
}

FUZZ_CONFIG = """\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata:
  name: fuzz
spec:
  scheduler:
    extraContainers:
      - name: fuzz-proxy
        image: busybox:1.36
        command: ["/bin/sh", "-c"]
        args: ["sleep 3600"]
        env:
          - name: MODE
            value: "on"
        resources:
          requests: {cpu: 10m, memory: 16Mi}
  workers:
    extraContainers:
      - name: fuzz-shipper
        image: busybox:1.36
        volumeMounts:
          - name: fuzz-cache
            mountPath: /cache
    extraVolumes:
      - name: fuzz-cache
        emptyDir: {}
  presets:
    s3Sync: {bucket: dags}
"""
CONFIGS: dict[str, str] = {
    "seed-sidecars": (ROOT / "pipelines/examples/seed-sidecars.yaml").read_text("utf-8"),
    "seed-presets": (ROOT / "pipelines/examples/seed-presets.yaml").read_text("utf-8"),
    "community-seed": (ROOT / "tests/golden/community-8.9.0-seed/config.yaml").read_text("utf-8"),
    "fuzz": FUZZ_CONFIG,
}
CONFIG_NAMES = sorted(CONFIGS)
CONFIG_DATA: dict[str, dict[str, Any]] = {k: yaml.safe_load(v) for k, v in CONFIGS.items()}
TARGETED = ("scheduler", "worker", "webserver", "web", "api-server", "dag-processor")

BOM = "\ufeff"
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Case:
    """One generated input. Its repr, which hypothesis prints for a failing example, says how
    it was made (the input itself is tens of kilobytes)."""

    __slots__ = ("config", "data", "mode", "origin", "steps")

    def __init__(
        self, origin: str, data: bytes, config: bytes | None, mode: str, steps: list[str]
    ) -> None:
        self.origin = origin
        self.data = data
        self.config = config  # stream mode: the --config file
        self.mode = mode  # "stream" or "krm"
        self.steps = steps

    def __repr__(self) -> str:
        return f"Case({self.origin!r}, mode={self.mode!r}, steps={self.steps!r})"


def _show(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# -- reading what came back -------------------------------------------------------------------

Identity = tuple[str | None, str | None]


def _compose(text: str) -> list[yaml.Node | None]:
    return list(yaml.compose_all(text, Loader=LOADER))


def _values(node: yaml.Node | None, key: str) -> list[yaml.Node]:
    """Every value under `key` in a mapping node (a key may be there twice)."""
    if not isinstance(node, yaml.MappingNode):
        return []
    return [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key]


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    found = _values(node, key)
    return found[0] if found else None


def _label(node: yaml.Node | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return f"<{type(node).__name__}>"


def _identity(node: yaml.Node) -> Identity:
    if not isinstance(node, yaml.MappingNode):
        return (_label(node), None)
    return (_label(_get(node, "kind")), _label(_get(_get(node, "metadata"), "name")))


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _objects(documents: list[yaml.Node | None]) -> list[Identity]:
    return [_identity(d) for d in documents if d is not None and not _is_null(d)]


def _meanings(documents: list[yaml.Node | None]) -> list[list[tuple[str, str]]]:
    return [_scalars(d) for d in documents if d is not None]


def _item_identities(node: yaml.Node) -> list[Identity]:
    if isinstance(node, yaml.SequenceNode):
        return [_identity(item) for item in node.value]
    return [(_label(node), "<not a list>")]


# The one byte change made on purpose to text nothing edited: a literal or folded block scalar
# that ends its text without a line break, when text follows it, gets `-` (strip) chomping so
# that the added line break stays out of its value. Compared without chomping indicators; the
# meaning is checked separately. A line may end with `\r` (test_fuzz_line_endings.py).
_BLOCK_HEADER = re.compile(r"(?m)([|>])[+-]?(\d?)[+-]?(?=[ \t]*(#[^\r\n]*)?(\r|$))")


def _unchomped(text: str) -> str:
    return _BLOCK_HEADER.sub(r"\1\2", text)


def _slice(text: str, node: yaml.Node) -> str:
    return text[node.start_mark.index : node.end_mark.index]


def _scalars(node: yaml.Node) -> list[tuple[str, str]]:
    """Every scalar of a tree in document order, each node once (alias graphs stay small)."""
    out: list[tuple[str, str]] = []
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode):
            out.append((current.tag, str(current.value)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(reversed(current.value))
        elif isinstance(current, yaml.MappingNode):
            for key, value in reversed(current.value):
                stack.extend((value, key))
    return out


def _pieces(text: str) -> list[str]:
    """The documents of a stream as text: split before every line that starts with `---` (a
    line starts after LF, or after a lone CR, which YAML reads as a line break too)."""
    return re.split(r"(?:\A|(?<=\n)|(?<=\r))(?=---)", text)


_AIRFLOW_LABEL = re.compile(
    r"""\b(?:tier|app)["']?\s*:\s*(?:!!str\s+)?["']?airflow["']?\s*(?:$|[\r,}#])""", re.M
)
_EDITABLE_KIND = re.compile(r"\b(?:ServiceAccount|ConfigMap)\b")


def _may_be_edited(text: str) -> bool:
    """Whether a document (or item) may be edited: an Airflow object, a ServiceAccount or a
    ConfigMap (judged on the text, generously)."""
    return bool(_AIRFLOW_LABEL.search(text) or _EDITABLE_KIND.search(text))


# -- running and checking ---------------------------------------------------------------------


class Hang(Exception):
    """A run that did not finish in SLOW_RUN seconds (raised where it was, to show where)."""


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run(function: str, data: bytes, config: bytes | None, name: str | None) -> Outcome:
    source = ConfigSource("config.yaml", config) if config is not None else None
    run = run_inject if function == "inject" else run_validate
    with _watchdog(SLOW_RUN):
        outcome = run([(name, data)], source)  # an exception here is a traceback on the CLI
    assert outcome.exit_code in (0, 1, 2), outcome.exit_code
    for result in outcome.results:  # what the command line prints, and what KRM carries
        line = f"{function}: {result.line()}"
        assert "Traceback" not in line, line
        json.dumps(result.as_dict())
    return outcome


def _errors(outcome: Outcome) -> list[str]:
    return [r.line() for r in outcome.results if r.severity == "error"][:5]


def _check_stream(function: str, data: bytes, config: bytes | None) -> Outcome:
    outcome = _run(function, data, config, "render.yaml")
    why = (function, _errors(outcome))
    assert outcome.mode == "stream", why
    try:
        text = data.decode("utf-8").removeprefix(BOM)
        before = _compose(text)
    except (UnicodeDecodeError, yaml.YAMLError):
        assert outcome.exit_code == 1, why
        assert outcome.output == data, (*why, "unreadable input must come back as it came")
        return outcome
    out_text = outcome.output.decode("utf-8").removeprefix(BOM)
    try:
        after = _compose(out_text)
    except yaml.YAMLError as error:
        raise AssertionError(f"{function}: the output is not YAML: {error}; {why}") from None
    assert _objects(after) == _objects(before), (*why, "objects lost, added or reordered")
    if function == "validate":
        assert _unchomped(out_text) == _unchomped(text), (*why, "validate changed its input")
        assert _meanings(after) == _meanings(before), (*why, "validate changed a value")
        return outcome
    pieces_in, pieces_out = _pieces(text), _pieces(out_text)
    assert len(pieces_out) == len(pieces_in), (*why, "documents lost or added")
    for number, (piece_in, piece_out) in enumerate(zip(pieces_in, pieces_out, strict=True)):
        if not _may_be_edited(piece_in):
            assert _unchomped(piece_out) == _unchomped(piece_in), (
                *why,
                f"document {number} changed",
                _show(piece_in),
            )
            if piece_out != piece_in:  # only a chomping indicator: the values must be the same
                assert _meanings(_compose(piece_out)) == _meanings(_compose(piece_in)), (
                    *why,
                    f"document {number} means something else now",
                )
    return outcome


def _resource_list(text: str) -> yaml.MappingNode:
    documents = [d for d in _compose(text) if d is not None]
    assert len(documents) == 1, f"{len(documents)} documents where one ResourceList belongs"
    root = documents[0]
    assert isinstance(root, yaml.MappingNode), "the output is not a ResourceList"
    assert _label(_get(root, "kind")) == "ResourceList", _label(_get(root, "kind"))
    return root


def _check_krm(function: str, data: bytes) -> Outcome:
    outcome = _run(function, data, None, None)
    why = (function, _errors(outcome))
    assert outcome.mode == "resourcelist", why
    text = data.decode("utf-8").removeprefix(BOM)
    out_text = outcome.output.decode("utf-8").removeprefix(BOM)
    try:
        out_root = _resource_list(out_text)
    except yaml.YAMLError as error:
        raise AssertionError(f"{function}: the output is not YAML: {error}; {why}") from None
    try:
        in_root = _resource_list(text)
    except yaml.YAMLError:  # unreadable: a ResourceList that carries the error
        assert outcome.exit_code == 1, why
        results = _values(out_root, "results")
        assert results and isinstance(results[-1], yaml.SequenceNode), why
        assert "error" in [_label(_get(r, "severity")) for r in results[-1].value], why
        return outcome
    api_version = _label(_get(in_root, "apiVersion")) or ""
    if api_version.startswith("config.kubernetes.io/"):
        assert _label(_get(out_root, "apiVersion")) == api_version, why
    items_in, items_out = _values(in_root, "items"), _values(out_root, "items")
    lists_in = [_item_identities(n) for n in items_in]
    lists_out = [_item_identities(n) for n in items_out]
    assert lists_out == lists_in or (len(lists_out) == 1 and lists_out[0] in lists_in), (
        *why,
        "items lost, added or reordered",
    )
    results = _values(out_root, "results")
    assert len(results) <= max(1, len(_values(in_root, "results"))), (*why, "results twice")
    if outcome.results:
        assert results, (*why, "the results are not in the ResourceList")
        assert isinstance(results[-1], yaml.SequenceNode), (*why, "results is not a list")
        assert len(results[-1].value) >= len(outcome.results), why
    if outcome.exit_code == 1:
        carried = [_label(_get(r, "severity")) for r in results[-1].value]
        assert "error" in carried, (*why, "exit 1 but the ResourceList carries no error")
    if len(items_in) == 1 and len(items_out) == 1:
        sequence_in, sequence_out = items_in[0], items_out[0]
        if isinstance(sequence_in, yaml.SequenceNode) and isinstance(
            sequence_out, yaml.SequenceNode
        ):
            pairs = zip(sequence_in.value, sequence_out.value, strict=True)
            for number, (item_in, item_out) in enumerate(pairs):
                if function == "inject" and _may_be_edited(_slice(text, item_in)):
                    continue
                piece_out, piece_in = _slice(out_text, item_out), _slice(text, item_in)
                assert _unchomped(piece_out).rstrip() == _unchomped(piece_in).rstrip(), (
                    *why,
                    f"items[{number}] changed",
                )
                assert _scalars(item_out) == _scalars(item_in), (
                    *why,
                    f"items[{number}] means something else now",
                )
    return outcome


def _check_idempotent(case: Case, first: Outcome) -> None:
    if first.exit_code != 0:
        return
    if case.mode == "stream":
        second = _run("inject", first.output, case.config, "render.yaml")
        assert second.exit_code == 0, _errors(second)
        assert second.output == first.output, "inject on its own output changed it"
        return
    second = _run("inject", first.output, None, None)
    assert second.exit_code == 0, _errors(second)
    text_1, text_2 = first.output.decode(), second.output.decode()
    root_1, root_2 = _resource_list(text_1), _resource_list(text_2)
    for key in ("items", "functionConfig"):
        nodes_1, nodes_2 = _values(root_1, key), _values(root_2, key)
        assert [_slice(text_1, n) for n in nodes_1] == [_slice(text_2, n) for n in nodes_2], (
            f"inject on its own output changed {key}"
        )


def _check_remove_undoes_inject(case: Case, first: Outcome) -> None:
    """remove(inject(input)) is the input byte for byte (in KRM mode: its items), whatever the
    layout (YAML, JSON, flow); but not where inject replaced a container (`onConflict:
    replace` records nothing: the chart's entry cannot come back)."""
    if first.exit_code != 0 or first.output == case.data:
        return
    if any("(replaced)" in r.message for r in first.results):
        return
    if b"airflow-sidecars.dev/" in case.data:
        return  # records in the input (test_fuzz_records): remove takes back what they name too
    name = "render.yaml" if case.mode == "stream" else None
    with _watchdog(SLOW_RUN):
        removed = run_remove([(name, first.output)], None)
    assert removed.exit_code == 0, _errors(removed)
    if case.mode == "stream":
        if removed.output != case.data:
            _only_quoted_pod_templates_differ(
                _pieces(case.data.decode()), _pieces(removed.output.decode())
            )
        return
    text_in, text_out = case.data.decode(), removed.output.decode()
    nodes_in = _items_of(_resource_list(text_in))
    nodes_out = _items_of(_resource_list(text_out))
    assert len(nodes_in) == len(nodes_out), "remove after inject lost or added items"
    for node_in, node_out in zip(nodes_in, nodes_out, strict=True):
        # Ending the items without a line break, or a last block scalar, is the wrapper's
        # say: `results:` follows them in the output (the chomping header: see _check_krm).
        item_in = _unchomped(_slice(text_in, node_in)).rstrip("\r\n")
        item_out = _unchomped(_slice(text_out, node_out)).rstrip("\r\n")
        if item_in != item_out:
            assert _scalars(node_in) == _scalars(node_out), "remove changed what an item means"
            assert _quoted_pod_template(node_in), "remove after inject did not give items back"


def _items_of(root: yaml.Node) -> list[yaml.Node]:
    found = _values(root, "items")
    return list(found[0].value) if found and isinstance(found[0], yaml.SequenceNode) else []


def _only_quoted_pod_templates_differ(pieces_in: list[str], pieces_out: list[str]) -> None:
    """A pod template string written quoted or plain (as `yaml.dump` writes one) is written
    again when inject edits it, on one line; its value comes back, not its folding. Every
    other document comes back byte for byte."""
    assert len(pieces_in) == len(pieces_out), "remove after inject lost or added objects"
    for piece_in, piece_out in zip(pieces_in, pieces_out, strict=True):
        if piece_in == piece_out:
            continue
        assert yaml.load(piece_out, Loader=LOADER) == yaml.load(piece_in, Loader=LOADER), (
            "remove after inject changed what an object means"
        )
        if _unchomped(piece_out) == _unchomped(piece_in):
            continue  # a last block scalar made `-` when inject wrote after it (see README)
        root = yaml.compose(piece_in, Loader=LOADER)
        assert _quoted_pod_template(root), "remove after inject is not the input"


def _quoted_pod_template(root: yaml.Node | None) -> bool:
    """Whether the object is a ConfigMap whose pod template (a `*.yaml` key) is not a block
    scalar."""
    data = _get(root, "data") if _label(_get(root, "kind")) == "ConfigMap" else None
    if not isinstance(data, yaml.MappingNode):
        return False
    return any(
        str(key.value).endswith(".yaml") and getattr(value, "style", "|") not in ("|", ">")
        for key, value in data.value
    )


def _save(case: Case) -> None:
    if not _SAVE:
        return
    folder = Path(_SAVE)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(case.data + (case.config or b"")).hexdigest()[:12]
    (folder / f"{digest}.input").write_bytes(case.data)
    if case.config is not None:
        (folder / f"{digest}.config.yaml").write_bytes(case.config)
    (folder / f"{digest}.txt").write_text(repr(case) + "\n")


def check(case: Case) -> list[Outcome]:
    """Both functions on one input, and inject once more on its own output."""
    try:
        outcomes: list[Outcome] = []
        for function in ("inject", "validate"):
            if case.mode == "stream":
                outcome = _check_stream(function, case.data, case.config)
            else:
                outcome = _check_krm(function, case.data)
            outcomes.append(outcome)
        _check_idempotent(case, outcomes[0])
        _check_remove_undoes_inject(case, outcomes[0])
    except BaseException:
        _save(case)
        raise
    return outcomes


# -- line-level mutations ---------------------------------------------------------------------

KEY_LINE = re.compile(
    r"^(?P<lead>[ ]*(?:-[ ]+)*)(?P<key>[A-Za-z_][\w./-]*)[ ]*:(?:[ ]+(?P<value>.*?))?[ ]*$"
)
READ_FIELDS = frozenset(
    (
        "containers",
        "initContainers",
        "volumes",
        "volumeMounts",
        "env",
        "envFrom",
        "name",
        "image",
        "metadata",
        "labels",
        "annotations",
        "serviceAccountName",
        "volumeClaimTemplates",
        "data",
        "template",
        "spec",
        "tier",
        "app",
        "component",
        "release",
        "chart",
        "kind",
        "apiVersion",
        "mountPath",
        "args",
        "command",
        "value",
        "pod_template_file.yaml",
        "persistentVolumeClaim",
        "claimName",
        "emptyDir",
    )
)
TYPE_VALUES = [
    "5",
    "true",
    "null",
    "[x]",
    "{a: 1}",
    '""',
    "~",
    "[]",
    "{}",
    "-1",
    "1.5",
    "[{name: 5}]",
    "[[x]]",
    "[null]",
    "{name: {a: 1}}",
    "2001-12-14",
    "0x1F",
    "'multi\n  line'",
]
CHARACTERS = st.one_of(
    st.sampled_from(list(":-[]{},#&*!|>'\"%@`?\t\\ ~\n\r\x00\x85\u2028\ufeff\x91")),
    st.characters(codec="utf-8"),
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _match(line: str) -> re.Match[str] | None:
    return KEY_LINE.match(line.rstrip("\r\n"))


def _subtree_end(lines: list[str], index: int) -> int:
    """The line after a key line's value (its nested block too)."""
    found = _match(lines[index])
    assert found is not None
    column, block = len(found["lead"]), not found["value"]
    end = index + 1
    while end < len(lines):
        line = lines[end]
        if line.startswith(("---", "...")):
            break
        if line.strip():
            indent = _indent(line)
            same_column_list = block and indent == column and line.lstrip(" ").startswith("-")
            if indent < column or (indent == column and not same_column_list):
                break
        end += 1
    return end


def _in(draw: st.DrawFn, low: int, high: int) -> int:
    return draw(st.integers(low, max(low, high - 1)))


def _choose(draw: st.DrawFn, candidates: list[int]) -> int | None:
    if not candidates:
        return None
    return candidates[draw(st.integers(0, len(candidates) - 1))]


def _key_lines(
    lines: list[str], low: int, high: int, test: Callable[[re.Match[str]], bool]
) -> list[int]:
    found = []
    for index in range(low, min(high, len(lines))):
        match = _match(lines[index])
        if match is not None and test(match):
            found.append(index)
    return found


def _eol(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :] or "\n"


LineOp = Callable[[st.DrawFn, list[str], int, int], str | None]


def op_delete(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    removed = lines.pop(index)
    return f"delete line {index + 1} {_show(removed)}"


def op_duplicate(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    lines.insert(index, lines[index])
    return f"duplicate line {index + 1} {_show(lines[index])}"


def op_swap(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    first = _in(draw, low, high)
    second = _in(draw, low, high)
    lines[first], lines[second] = lines[second], lines[first]
    return f"swap lines {first + 1} and {second + 1}"


def op_reindent(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    delta = draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
    line = lines[index]
    indent = _indent(line)
    lines[index] = " " * max(0, indent + delta) + line[indent:]
    return f"indent line {index + 1} by {delta}: {_show(lines[index])}"


def op_tab(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    line = lines[index]
    position = draw(st.integers(0, len(line.rstrip("\r\n"))))
    lines[index] = line[:position] + "\t" + line[position:]
    return f"tab into line {index + 1}: {_show(lines[index])}"


def op_character(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _in(draw, low, high)
    line = lines[index]
    position = draw(st.integers(0, len(line.rstrip("\r\n"))))
    character = draw(CHARACTERS)
    lines[index] = line[:position] + character + line[position:]
    return f"insert {character!r} into line {index + 1}: {_show(lines[index])}"


def op_retype(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    # The field first, then one of its lines: rare fields (volumeClaimTemplates) as often as
    # common ones (name).
    key = draw(st.sampled_from(sorted(READ_FIELDS)))
    index = _choose(draw, _key_lines(lines, low, high, lambda m: m["key"] == key))
    if index is None:
        return None
    found = _match(lines[index])
    assert found is not None
    end = _subtree_end(lines, index)
    value = draw(st.sampled_from(TYPE_VALUES))
    lines[index:end] = [f"{found['lead']}{found['key']}: {value}{_eol(lines[end - 1])}"]
    return f"line {index + 1}: {found['key']}: {value!r} (was {end - index} line(s))"


LINE_OPS: dict[str, LineOp] = {
    "delete": op_delete,
    "duplicate": op_duplicate,
    "swap": op_swap,
    "reindent": op_reindent,
    "tab": op_tab,
    "character": op_character,
    "retype": op_retype,
}


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


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


_NOT_PRINTABLE = re.compile("[\x7f-\x9f\ufeff\ufffe\uffff]")


def _json(text: str) -> str:
    """JSON as a KRM orchestrator may write it: what YAML cannot carry raw (C1 characters,
    U+FEFF) escaped as `\\u0085`; the rest raw (escaped, characters beyond the BMP would be
    surrogate pairs, which YAML does not read)."""
    return _NOT_PRINTABLE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _dump(value: Any, style: str) -> str:
    if style == "json":
        return _json(json.dumps(value, indent=1, ensure_ascii=False)) + "\n"
    if style == "json-compact":
        return _json(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    if style == "yaml-flow":
        return yaml.dump(
            value, Dumper=DUMPER, default_flow_style=True, width=200, allow_unicode=True
        )
    return yaml.dump(value, Dumper=DUMPER, sort_keys=False, allow_unicode=True)


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


# -- anchors, aliases, tags and merge keys in every position ----------------------------------


def _bomb(levels: int = 9, fan_out: int = 9) -> str:
    """`levels` nested anchored lists, each of `fan_out` aliases of the one below."""
    text = "[" + ", ".join(["x"] * fan_out) + "]"
    for level in range(1, levels):
        text = f"[&b{level} {text}, " + ", ".join([f"*b{level}"] * (fan_out - 1)) + "]"
    return text


BOMB = _bomb()
VALUE_SNIPPETS = [
    "&a [*a]",
    "&a {k: *a}",
    BOMB,
    "!!str {a: 1}",
    "!!map [a]",
    "!!seq {a: 1}",
    "!!int abc",
    "!!python/object:os.system {}",
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system ''",
    "!foo bar",
    "!foo {a: 1}",
    "{? {a: 1} : b}",
    "{? [a] : b}",
    "[&b {tier: airflow}, {<<: *b, x: 1}]",
    "{<<: {tier: airflow, component: scheduler, release: airflow}}",
    "*undefined",
    "!!binary aGk=",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!float 1e400",
    "!<tag:yaml.org,2002:str> x",
    "&x plain",
    "!!null ''",
    "!!bool maybe",
    "!!timestamp 2001-12-14",
]
BLOCK_MARKS = [" !!str", " !!map", " !!seq", " !foo", " &anchor", " !!python/object:os.system"]
SIBLINGS = [
    "? {a: 1}\n: b",
    "? [x]\n: y",
    "<<: {tier: airflow, component: worker, release: airflow}",
    "<<: [{tier: airflow}, {component: scheduler}]",
    "x-alias: *undefined",
    f"x-bomb: {BOMB}",
    "x-recursive: &r [*r]",
    "x-python: !!python/object/apply:os.system ['true']",
    "!!str x-tagged-key: v",
    "&k x-anchored-key: *k",
]


def _scalar_value(match: re.Match[str]) -> bool:
    value = match["value"] or ""
    if not value or value.startswith(("|", ">", "#")):
        return False
    opened = value.count("[") + value.count("{")
    return opened == value.count("]") + value.count("}")


def op_snippet_value(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _choose(draw, _key_lines(lines, low, high, _scalar_value))
    if index is None:
        return None
    found = _match(lines[index])
    assert found is not None
    snippet = draw(st.sampled_from(VALUE_SNIPPETS))
    lines[index] = f"{found['lead']}{found['key']}: {snippet}{_eol(lines[index])}"
    return f"line {index + 1}: {found['key']}: {_show(snippet, 60)}"


def op_block_mark(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _choose(draw, _key_lines(lines, low, high, lambda m: not m["value"]))
    if index is None:
        return None
    mark = draw(st.sampled_from(BLOCK_MARKS))
    line = lines[index]
    lines[index] = line.rstrip("\r\n").rstrip() + mark + _eol(line)
    return f"line {index + 1}: {_show(lines[index])}"


def op_sibling(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    index = _choose(draw, _key_lines(lines, low, high, _scalar_value))
    if index is None:
        return None
    found = _match(lines[index])
    assert found is not None
    sibling = draw(st.sampled_from([*SIBLINGS, "the same key twice"]))
    if sibling == "the same key twice":
        sibling = f"{found['key']}: {found['value']}"
    pad = " " * len(found["lead"])
    eol = _eol(lines[index])
    lines[index + 1 : index + 1] = [pad + part + eol for part in sibling.split("\n")]
    return f"after line {index + 1}: {_show(sibling, 60)}"


def op_anchor_alias(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    """An anchor on one key's value and an alias of it as a later key's value (which may be
    inside the anchored value: a recursive alias)."""
    anchors = _key_lines(lines, low, high, lambda m: True)
    first = _choose(draw, anchors)
    if first is None:
        return None
    second = _choose(draw, _key_lines(lines, first + 1, high, _scalar_value))
    if second is None:
        return None
    found_1, found_2 = _match(lines[first]), _match(lines[second])
    assert found_1 is not None and found_2 is not None
    value = found_1["value"] or ""
    lines[first] = f"{found_1['lead']}{found_1['key']}: &fz {value}".rstrip() + _eol(lines[first])
    lines[second] = f"{found_2['lead']}{found_2['key']}: *fz{_eol(lines[second])}"
    return f"anchor line {first + 1} ({found_1['key']}), alias line {second + 1} ({found_2['key']})"


def op_merge_labels(draw: st.DrawFn, lines: list[str], low: int, high: int) -> str | None:
    """`labels: &base` on the object and `<<: *base` in the pod template's labels."""
    blocks = _key_lines(lines, low, high, lambda m: m["key"] == "labels" and not m["value"])
    if len(blocks) < 2:
        return op_snippet_value(draw, lines, low, high)
    first, second = blocks[0], blocks[draw(st.integers(1, len(blocks) - 1))]
    lines[first] = lines[first].rstrip("\r\n").rstrip() + " &base" + _eol(lines[first])
    below = lines[second + 1] if second + 1 < len(lines) else "  x"
    pad = " " * _indent(below)
    replace = draw(st.booleans())  # the merge key alone, or before the chart's own labels
    end = _subtree_end(lines, second) if replace else second + 1
    lines[second + 1 : end] = [f"{pad}<<: *base{_eol(lines[second])}"]
    return f"labels line {first + 1} &base, line {second + 2}: <<: *base (replacing: {replace})"


SNIPPET_OPS: dict[str, LineOp] = {
    "value": op_snippet_value,
    "block-mark": op_block_mark,
    "sibling": op_sibling,
    "anchor-alias": op_anchor_alias,
    "merge-labels": op_merge_labels,
}


def _document_ranges(lines: list[str]) -> list[tuple[int, int]]:
    starts = [0] + [n for n, line in enumerate(lines) if line.startswith("---") and n > 0]
    return list(zip(starts, [*starts[1:], len(lines)], strict=True))


_WORKLOAD_KIND = re.compile(r"(?m)^kind:\s*(Deployment|StatefulSet|Job|CronJob)\s*$")
_COMPONENT = re.compile(r"(?m)^\s+component:\s*[\"']?([\w-]+)")


def _template_range(lines: list[str]) -> tuple[int, int] | None:
    """The lines of the pod template string (official chart: ConfigMap data key)."""
    for number, line in enumerate(lines):
        if re.match(r"^\s+pod_template_file\.yaml:\s*[|>]", line):
            column = _indent(line)
            end = number + 1
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > column):
                end += 1
            return number + 1, end
    return None


def _positions(lines: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Line ranges by position: the first document, Airflow workloads the configs do not
    target, ones they do, the pod template string."""
    found: dict[str, list[tuple[int, int]]] = {"first": [], "untargeted": [], "targeted": []}
    for low, high in _document_ranges(lines):
        text = "".join(lines[low:high])
        if not found["first"] and re.search(r"(?m)^kind:", text):
            found["first"].append((low, high))
        if not (_AIRFLOW_LABEL.search(text) and _WORKLOAD_KIND.search(text)):
            continue
        component = _COMPONENT.search(text)
        targeted = component is not None and component[1] in TARGETED
        found["targeted" if targeted else "untargeted"].append((low, high))
    template = _template_range(lines)
    if template is not None:
        found["template"] = [template]
    return {key: value for key, value in found.items() if value}


@st.composite
def hostile_yaml(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from(RENDER_NAMES))
    config = draw(st.sampled_from(CONFIG_NAMES))
    render_lines, config_lines = _lines(RENDERS[name]), _lines(CONFIGS[config])
    positions = _positions(render_lines)
    where = draw(st.sampled_from([*sorted(positions), "config", "new-first-document"]))
    steps = [where]
    if where == "new-first-document":
        snippet = draw(st.sampled_from(VALUE_SNIPPETS))
        steps.append(snippet[:60])
        head = draw(st.sampled_from(["--- ", "apiVersion: v1\nkind: ConfigMap\nmetadata: "]))
        render_lines.insert(0, f"{head}{snippet}\n---\n")
    else:
        for _ in range(draw(st.integers(1, 2))):
            op = draw(st.sampled_from(sorted(SNIPPET_OPS)))
            if where == "config":
                low, high = 0, len(config_lines)
                step = SNIPPET_OPS[op](draw, config_lines, low, high)
            else:
                ranges = _positions(render_lines).get(where) or [(0, len(render_lines))]
                low, high = ranges[draw(st.integers(0, len(ranges) - 1))]
                step = SNIPPET_OPS[op](draw, render_lines, low, high)
            if step is not None:
                steps.append(f"{op}: {step}")
    return Case(
        f"{name} + {config}",
        "".join(render_lines).encode(),
        "".join(config_lines).encode(),
        "stream",
        steps,
    )


# -- the pod template string ------------------------------------------------------------------


def _deep_flow(depth: int) -> str:
    return "x: " + "[" * depth + "]" * depth


def _deep_block(depth: int) -> list[str]:
    return [" " * level + "k:" for level in range(depth)]


TEMPLATE_JUNK: list[list[str]] = [
    ["kind: [unclosed"],
    ["\tkind: Pod"],
    ["spec:\t{}"],
    ["  \t- x"],
    [_deep_flow(150)],
    [_deep_flow(201)],
    [_deep_flow(1000)],
    [_deep_flow(5000)],
    ["x: " + "{a: " * 300 + "b" + "}" * 300],
    _deep_block(250),
    [f"x: {BOMB}"],
    ["x: &a [*a]"],
    ["spec: !!python/object:os.system {}"],
    ["spec: !foo {containers: []}"],
    ["metadata: !!str {name: x}"],
    ["? {a: 1}", ": b"],
    ["<<: {kind: Pod}"],
    ["metadata: *undefined"],
    ["---"],
    ["..."],
    ["%YAML 1.1"],
    ["'unclosed"],
    ['"\\uZZZZ"'],
    ["- just a list"],
    ["@"],
    ["spec: 5"],
    ["spec: {containers: 5}"],
    ["spec:", "  containers: {name: base}"],
    ["spec:", "  containers:", "  - 5"],
    ["spec:", "  containers:", "  - name: [base]"],
    ["spec:", "  volumes: x"],
    ["metadata: []"],
    ["kind: Pod", "kind: Pod"],
    ["a: \u0085b"],
    ["a: \u2028b"],
]
TEMPLATE_HEADERS = ["|", "|-", "|+", ">", "|2-", "!!binary |-", "!foo |-", "&t |-", "5", "null"]


@st.composite
def pod_templates(draw: st.DrawFn) -> Case:
    """The KubernetesExecutor pod template string made invalid YAML, tabbed, deep, hostile, or
    another type."""
    name = draw(st.sampled_from(TEMPLATE_RENDERS))
    config = draw(st.sampled_from(CONFIG_NAMES))
    lines = _lines(RENDERS[name])
    found = _template_range(lines)
    assert found is not None
    low, high = found
    column = _indent(next(line for line in lines[low:high] if line.strip()))
    action = draw(st.sampled_from(["insert", "replace-line", "replace-all", "header", "line-op"]))
    steps = [action]
    if action == "header":
        header = draw(st.sampled_from(TEMPLATE_HEADERS))
        lines[low - 1] = re.sub(r"[|>].*$", header, lines[low - 1].rstrip("\n")) + "\n"
        if header in ("5", "null"):
            del lines[low:high]
        steps.append(header)
    elif action == "line-op":
        op = draw(st.sampled_from(sorted(LINE_OPS)))
        step = LINE_OPS[op](draw, lines, low, high)
        steps.append(f"{op}: {step}")
    else:
        junk = draw(st.sampled_from(TEMPLATE_JUNK))
        inner = draw(st.sampled_from([0, 0, 2, 6]))
        new = [" " * (column + inner) + part + "\n" for part in junk]
        if action == "replace-all":
            lines[low:high] = new
        else:
            index = _in(draw, low, high)
            lines[index : index + (action == "replace-line")] = new
            steps.append(f"at line {index + 1}")
        steps.append(f"indent +{inner}: {_show(chr(10).join(junk), 80)}")
    return Case(
        f"{name} + {config}", "".join(lines).encode(), CONFIGS[config].encode(), "stream", steps
    )


# -- the KRM wrapper --------------------------------------------------------------------------

INDEX_VALUES = [
    "²",
    "9" * 5000,
    "-1",
    "",
    "0x10",
    "1.5",
    " 3",
    "\u0661",
    "\U0001d7d9",
    "9" * 30,
    "0",
    "007",
]
RESULTS_VALUES: list[Any] = [
    "oops",
    {"a": 1},
    None,
    [1, "x"],
    [],
    [{"message": "an earlier step", "severity": "warning"}],
    [{"message": "an earlier error", "severity": "error"}],
    [{"message": {"not": "a string"}, "severity": 5}],
]
C1_VALUES = ["\u0085", "\u0091", "a\u0085b", "\u2028", "\u009f", "x\u0091\u0092y", "\u0080"]
API_VERSIONS = [
    "config.kubernetes.io/v1",
    "config.kubernetes.io/v1beta1",
    "config.kubernetes.io/v1alpha1",
]
TAIL_ITEM = (
    "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: fuzz-tail\n"
    "  data:\n    script: {chomp}\n      echo one\n      echo two"
)


def _configured(draw: st.DrawFn, name: str, steps: list[str]) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG_DATA[name])
    if name == "fuzz" and draw(st.booleans()):
        value = draw(st.sampled_from(C1_VALUES))
        config["spec"]["scheduler"]["extraContainers"][0]["env"][0]["value"] = value
        steps.append(f"config env value {value!r}")
    if draw(st.integers(0, 5)) == 5:  # kpt's `configMap:` form
        steps.append("functionConfig as a ConfigMap")
        config = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "fuzz-fn-config"},
            "data": {"config": yaml.safe_dump(config, allow_unicode=True)},
        }
    return config


def _mark_items(draw: st.DrawFn, items: list[dict[str, Any]], steps: list[str]) -> None:
    """Index annotations kyaml would not write (on one item or on all: results about any item
    then name its file), and C1 characters in labels or annotations."""
    airflow = [n for n, item in enumerate(items) if _may_be_edited(json.dumps(item))]
    marked = draw(st.sampled_from(["none", "all", "one"]))
    if marked != "none":
        value = draw(st.sampled_from(INDEX_VALUES))
        prefix = draw(st.sampled_from(["config.kubernetes.io", "internal.config.kubernetes.io"]))
        numbers = list(range(len(items)))
        if marked == "one":
            prefer_airflow: bool = draw(st.booleans())  # an item with results about it
            pool = airflow if airflow and prefer_airflow else numbers
            numbers = [pool[draw(st.integers(0, len(pool) - 1))]]
        for number in numbers:
            annotations = items[number].setdefault("metadata", {}).setdefault("annotations", {})
            annotations[f"{prefix}/path"] = "fuzz/render.yaml"
            annotations[f"{prefix}/index"] = value
        steps.append(
            f"items{numbers if marked == 'one' else ''} {prefix}/index = {_show(value, 20)}"
        )
    if draw(st.booleans()):
        number = draw(st.integers(0, len(items) - 1))
        value = draw(st.sampled_from(C1_VALUES))
        metadata = items[number].setdefault("metadata", {})
        where = draw(st.sampled_from(["annotations", "labels"]))
        metadata.setdefault(where, {})["fuzz.dev/c1"] = value
        steps.append(f"items[{number}] {where} fuzz.dev/c1 = {value!r}")


def _duplicate_key(draw: st.DrawFn, text: str, style: str, steps: list[str]) -> str:
    """`items` or `functionConfig` a second time, before or after the first."""
    duplicate = draw(st.sampled_from(["", "", "items", "functionConfig"]))
    if not duplicate or style == "yaml-tail":
        return text
    value = "[]" if duplicate == "items" else json.dumps(CONFIG_DATA["seed-presets"])
    before = draw(st.booleans())
    steps.append(f"{duplicate} twice ({'first' if before else 'last'})")
    if style == "yaml":
        entry = f"{duplicate}: {value}\n"
        return entry + text if before else text + entry
    entry = f'"{duplicate}": {value}' if style.startswith("json") else f"{duplicate}: {value}"
    if before:
        return "{" + entry + ", " + text[1:]
    return text.rstrip()[:-1] + ", " + entry + "}"


@st.composite
def resource_lists(draw: st.DrawFn) -> Case:
    name = draw(st.sampled_from(RENDER_NAMES))
    objects = OBJECTS[name]
    start = draw(st.integers(0, len(objects) - 1))
    stop = draw(st.integers(start + 1, min(len(objects), start + 12)))
    items = copy.deepcopy(objects[start:stop])
    steps = [f"items {start}:{stop}"]
    _mark_items(draw, items, steps)
    config_name = draw(st.sampled_from(CONFIG_NAMES))
    steps.append(config_name)
    root: dict[str, Any] = {
        "apiVersion": draw(st.sampled_from(API_VERSIONS)),
        "kind": "ResourceList",
    }
    config = _configured(draw, config_name, steps)
    results = draw(st.sampled_from([-1, *range(len(RESULTS_VALUES))]))
    style = draw(st.sampled_from(["yaml", "json", "json-compact", "yaml-flow", "yaml-tail"]))
    steps.append(style)
    items_last = style == "yaml-tail" or draw(st.booleans())
    hostile_config = style == "yaml" and draw(st.integers(0, 5)) == 5
    if not items_last:
        root["items"] = items
    if not hostile_config:
        root["functionConfig"] = config
    if results >= 0:
        root["results"] = RESULTS_VALUES[results]
        steps.append(f"results: {RESULTS_VALUES[results]!r}")
    if items_last:
        root["items"] = items
    # JSON escapes C1 characters (\\u0085), PyYAML too (\\x85)
    text = _dump(root, "yaml" if style == "yaml-tail" else style)
    if style == "yaml-tail":
        chomp = draw(st.sampled_from(["|", "|-", "|+", ">"]))
        text += TAIL_ITEM.format(chomp=chomp)
        steps.append(f"last item ends in a {chomp} block scalar without a final newline")
    if hostile_config:
        snippet = draw(st.sampled_from(VALUE_SNIPPETS))
        text += f"functionConfig: {snippet}\n"
        steps.append(f"functionConfig: {_show(snippet, 60)}")
    text = _duplicate_key(draw, text, style, steps)
    if draw(st.integers(0, 3)) == 3:
        text = text.rstrip("\n")
        steps.append("no final newline")
    if draw(st.integers(0, 4)) == 4:
        text = BOM + text
        steps.append("BOM")
    return Case(name, text.encode(), None, "krm", steps)


# -- special strings in configs ---------------------------------------------------------------

SPECIAL_STRINGS = [
    "a\nb",
    "line\n- item",
    "\u0085",
    "x\u0085y",
    "\u0091",
    "a\u2028b",
    "\u2029",
    " lead",
    "trail ",
    " ",
    "{{ .Release.Name }}",
    "{{- .Release.Name -}}-x",
    "{{ .Release.Namespace }}",
    "{{ .Values.x }}",
    "x" * 5000,
    "'",
    '"',
    "#",
    "a #b",
    "a: b",
    "- x",
    "[x]",
    "{a: 1}",
    "&a",
    "*a",
    "!x",
    "%x",
    "@x",
    "`x`",
    "|",
    ">",
    "\t",
    "",
    "null",
    "~",
    "true",
    "yes",
    "1e3",
    "0x1F",
    "010",
    "<<",
    "\\",
    "\ufeff",
    "\U0001f600",
    "\x7f",
    "\x1b[31m",
    "\r\n",
    "\r",
    "---",
    "...",
    "a\n---\nb",
    "a\n\n\nb\n",
    "\u00a0",
    "\x00",
]
SPECIAL = st.one_of(
    st.sampled_from(SPECIAL_STRINGS),
    st.lists(st.sampled_from(SPECIAL_STRINGS), min_size=2, max_size=4).map("".join),
    st.text(st.characters(codec="utf-8"), max_size=20),
)


@st.composite
def special_configs(draw: st.DrawFn) -> Case:
    """A config with special strings in env values, command args, names, images and paths, on
    a render, in stream or KRM mode. The steps name every field that got a special string."""
    name = draw(st.sampled_from(SPECIAL_RENDERS))
    specials: list[str] = []

    def pick(field: str, normal: str | None = None) -> str:
        """A special string for `field`; with `normal`, sometimes (and shrinking to) that."""
        strings = SPECIAL if normal is None else st.one_of(st.just(normal), SPECIAL)
        chosen: str = draw(strings)
        if chosen != normal:
            specials.append(f"{field}={chosen[:80]!r}{'...' if len(chosen) > 80 else ''}")
        return chosen

    volume = pick("volume name", "fuzz-data")
    scheduler = {
        "name": pick("scheduler container name", "fuzz-sidecar"),
        "image": pick("scheduler image", "busybox:1.36"),
        "command": [pick("scheduler command[0]", "/bin/sh"), "-c"],
        "args": [pick("scheduler args[0]"), pick("scheduler args[1]", "sleep 3600")],
        "env": [
            {
                "name": pick("scheduler env[0].name", "FUZZ_VALUE"),
                "value": pick("scheduler env[0].value"),
            },
            {"name": "FUZZ_SECOND", "value": pick("scheduler env[1].value")},
        ],
        "volumeMounts": [{"name": volume, "mountPath": pick("mountPath", "/fuzz")}],
    }
    worker = {
        "name": "fuzz-worker-sidecar",
        "image": "busybox:1.36",
        "args": [pick("worker args[0]")],
        "env": [{"name": "FUZZ_WORKER", "value": pick("worker env[0].value")}],
    }
    spec: dict[str, Any] = {
        "scheduler": {
            "extraContainers": [scheduler],
            "extraVolumes": [{"name": volume, "emptyDir": {}}],
        },
        "workers": {"extraContainers": [worker]},
    }
    if draw(st.booleans()):
        spec["presets"] = {"s3Sync": {"bucket": "dags", "prefix": pick("s3Sync prefix", "dags")}}
    config = {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": pick("config name", "fuzz-special")},
        "spec": spec,
    }
    if draw(st.booleans()):
        resource_list = {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": OBJECTS[name],
            "functionConfig": config,
        }
        style = draw(st.sampled_from(["yaml", "json", "json-compact"]))
        data = _dump(resource_list, style).encode()
        return Case(name, data, None, "krm", [f"ResourceList as {style}", *specials])
    style = draw(st.sampled_from(["yaml", "json", "json-raw", "yaml-flow"]))
    if style == "json-raw":  # C1 characters raw: a config YAML may refuse to read
        config_text = json.dumps(config, ensure_ascii=False, indent=2)
    else:
        config_text = _dump(config, style)
    steps = [f"config as {style}", *specials]
    return Case(name, RENDERS[name].encode(), config_text.encode(), "stream", steps)


def _containers(obj: Any) -> list[dict[str, Any]]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [c for c in pod.get("containers", []) if isinstance(c, dict)]


def _check_values_survive(case: Case, outcome: Outcome) -> None:
    """On exit 0, the sidecar's strings in the output are the strings of the config (as a
    YAML reader reads the config: that is what it says)."""
    if outcome.exit_code != 0:
        return
    text = outcome.output.decode().removeprefix(BOM)
    if case.mode == "krm":
        output = yaml.load(text, Loader=LOADER)
        objects = output["items"]
        config = yaml.load(case.data.decode().removeprefix(BOM), Loader=LOADER)["functionConfig"]
    else:
        objects = [d for d in yaml.load_all(text, Loader=LOADER) if d]
        config = yaml.load((case.config or b"").decode(), Loader=LOADER)
    wanted = config["spec"]["scheduler"]["extraContainers"][0]
    if "{{" in wanted["name"]:
        return  # a templated name: the official chart templates it, so it is not found as written
    schedulers = [
        obj
        for obj in objects
        if obj.get("kind") in ("Deployment", "StatefulSet")
        and (obj.get("metadata", {}).get("labels") or {}).get("component") == "scheduler"
    ]
    for scheduler in schedulers:
        added = [c for c in _containers(scheduler) if c.get("name") == wanted["name"]]
        assert len(added) == 1, f"sidecar {wanted['name']!r} is not in {scheduler['metadata']}"
        for key in ("args", "command"):
            if not any("{{" in word for word in wanted[key]):
                assert added[0][key] == wanted[key], key
        for env in wanted["env"]:
            if "{{" not in env["value"] + env["name"]:  # both are templated (the chart's tpl)
                assert env in added[0]["env"], env


# -- the tests --------------------------------------------------------------------------------


@given(mutated_renders())
@FUZZ
def test_mutated_renders(case: Case) -> None:
    check(case)


@given(retyped_renders())
@FUZZ
def test_fields_of_another_type(case: Case) -> None:
    check(case)


@given(hostile_yaml())
@FUZZ
def test_anchors_aliases_tags_and_merge_keys(case: Case) -> None:
    check(case)


@given(pod_templates())
@FUZZ
def test_pod_template_strings(case: Case) -> None:
    check(case)


@given(resource_lists())
@FUZZ
def test_resource_list_wrappers(case: Case) -> None:
    check(case)


@given(special_configs())
@FUZZ
def test_special_strings_in_configs(case: Case) -> None:
    inject, _ = check(case)
    try:
        _check_values_survive(case, inject)
    except BaseException:
        _save(case)
        raise


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
