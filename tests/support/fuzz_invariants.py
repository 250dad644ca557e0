"""What must hold of every run on every input a fuzz generator makes (`check`).

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
  gives the same bytes (in KRM mode: the same items; results are appended, by design);
- remove undoes inject: on exit 0, `remove` on inject's output gives the input back byte for
  byte (in KRM mode: its items; a pod template string written quoted comes back as the same
  value), unless inject replaced a container or the input carries records already.
A run still going after SLOW_RUN seconds is stopped where it is, as a failure that shows where.
"""

from __future__ import annotations

import json
import re

import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from support.fuzzing import BOM, LOADER, SLOW_RUN, Case, _save, _show, _watchdog

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
