"""What the byte-preserving YAML editor (yamledit.Editor and its splice_literal) guarantees.

Every case gives an input text, the edits planned on it and the exact text expected back, so
the tests prove two things at once:

- the bytes: everything outside the edits comes back as it came in (comments, quoting, blank
  lines, key order), and new content takes the indentation of the place it goes into;
- the meaning: `yaml.safe_load(output)` equals `yaml.safe_load(input)` with the same edits made
  in plain Python, so no edit changes a value it was not asked to change.

Cases marked xfail record bugs found in the package (see each reason); they are strict, so a fix
shows up as an unexpected pass and the mark can go.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import (
    Node,
    Path,
    UnsupportedYaml,
    check_plain_tree,
    compose_all,
    mapping_get,
)
from airflow_sidecars.text.yamltext import detect_seq_indent

# -- operations, on the editor and on plain data ---------------------------------------------


@dataclass(frozen=True)
class Append:
    path: Path
    items: list[Any]


@dataclass(frozen=True)
class AddKey:
    path: Path
    key: str
    value: Any


@dataclass(frozen=True)
class Replace:
    path: Path
    value: Any


@dataclass(frozen=True)
class Insert:
    path: Path  # ends at the index of the entry the items go before
    items: list[Any]


Op = Append | AddKey | Replace | Insert


def plan(editor: Editor, root: Node, op: Op) -> None:
    """Plan one operation on the editor."""
    if isinstance(op, Append):
        editor.append(root, op.path, op.items)
    elif isinstance(op, AddKey):
        editor.add_key(root, op.path, op.key, op.value)
    elif isinstance(op, Insert):
        editor.insert(root, op.path, op.items)
    else:
        editor.replace(root, op.path, op.value)


def _walk(data: Any, path: Path) -> Any:
    """The value at `path`; missing or null mapping values on the way become empty mappings
    (what the editor does when it creates a missing parent)."""
    for step in path:
        if isinstance(step, str) and data.get(step) is None:
            data[step] = {}
        data = data[step]
    return data


def apply_to_data(data: Any, op: Op) -> Any:
    """The same operation on plain data (in place); returns the root."""
    if isinstance(op, Append):
        if not op.path:
            data.extend(copy.deepcopy(op.items))
            return data
        parent, last = _walk(data, op.path[:-1]), op.path[-1]
        if isinstance(last, str) and parent.get(last) is None:
            parent[last] = []
        parent[last].extend(copy.deepcopy(op.items))
    elif isinstance(op, AddKey):
        _walk(data, op.path)[op.key] = copy.deepcopy(op.value)
    elif isinstance(op, Insert):
        index = op.path[-1]
        assert isinstance(index, int)
        _walk(data, op.path[:-1])[index:index] = copy.deepcopy(op.items)
    else:
        _walk(data, op.path[:-1])[op.path[-1]] = copy.deepcopy(op.value)
    return data


def edit(text: str, ops: Sequence[Op]) -> str:
    """The text with `ops` applied, the editor set up as krmread.parse does it."""
    root = compose_all(text)[0]
    assert root is not None
    editor = Editor(text, seq_indent=detect_seq_indent(root, text))
    for op in ops:
        plan(editor, root, op)
    return editor.apply()


def expected_data(text: str, ops: Sequence[Op]) -> Any:
    data = yaml.safe_load(text)
    for op in ops:
        data = apply_to_data(data, op)
    return data


# -- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    ops: tuple[Op, ...]
    expected: str
    json: bool = False  # the input is JSON: the output must stay JSON
    bug: str | None = None  # the output differs from `expected` (xfail the byte check)
    parse_bug: str | None = None  # and means something else too (xfail the meaning check)


CONTAINER_B = {"name": "b", "image": "y", "args": ["--v", "2"]}
MOUNT_W = {"name": "w", "mountPath": "/w"}
QUOTED = ["10", "on", "null", "2024-01-01", "a: b", "#x", ""]

POD_WIDE = """\
spec:
  containers:
    - name: base
      image: b
      volumeMounts:
        - name: v
          mountPath: /v
"""
POD_WIDE_TWO_APPENDS = """\
spec:
  containers:
    - name: base
      image: b
      volumeMounts:
        - name: v
          mountPath: /v
        - name: w
          mountPath: /w
    - name: side
      image: s
"""

LITERAL_LAST = """\
data:
  first: 1
  script: |
    echo hi
    echo there


  # indented comment
# top-level comment
"""

CASES: list[Case] = [
    # ---- insert before an entry (the chart's own init container that comes after the extras)
    Case(
        "insert-before-block-entry",
        "init:\n    - name: git\n    - name: kerberos-init  # the chart's\n      args: [x]\n",
        (Insert(("init", 1), [{"name": "a"}, {"name": "b"}]),),
        "init:\n    - name: git\n    - name: a\n    - name: b\n"
        "    - name: kerberos-init  # the chart's\n      args: [x]\n",
    ),
    Case(
        "insert-before-first-compact-entry",
        "init:\n- name: kerberos-init\n",
        (Insert(("init", 0), [CONTAINER_B]),),
        "init:\n- name: b\n  image: \"y\"\n  args:\n  - --v\n  - '2'\n- name: kerberos-init\n",
    ),
    Case(
        "insert-before-flow-entry",
        "init: [{name: k}]\n",
        (Insert(("init", 0), [{"name": "a"}]),),
        'init: [{"name": "a"}, {name: k}]\n',
    ),
    # ---- append to block sequences
    Case(
        "append-wide",
        "key:\n  - a\n",
        (Append(("key",), ["b"]),),
        "key:\n  - a\n  - b\n",
    ),
    Case(
        "append-compact",
        "key:\n- a\n",
        (Append(("key",), ["b"]),),
        "key:\n- a\n- b\n",
    ),
    Case(
        "append-mapping-nested-list-wide",
        "spec:\n  containers:\n    - name: a\n      image: x\n",
        (Append(("spec", "containers"), [CONTAINER_B]),),
        "spec:\n  containers:\n    - name: a\n      image: x\n"
        "    - name: b\n      image: \"y\"\n      args:\n        - --v\n        - '2'\n",
    ),
    Case(
        "append-mapping-nested-list-compact",
        "spec:\n  containers:\n  - name: a\n    image: x\n",
        (Append(("spec", "containers"), [CONTAINER_B]),),
        "spec:\n  containers:\n  - name: a\n    image: x\n"
        "  - name: b\n    image: \"y\"\n    args:\n    - --v\n    - '2'\n",
    ),
    Case(
        # the document's first sequence is wide, the target compact: the target wins
        "append-nested-list-follows-target-not-document",
        "a:\n  - x\nb:\n- name: n\n",
        (Append(("b",), [{"name": "m", "l": [1]}]),),
        "a:\n  - x\nb:\n- name: n\n- name: m\n  l:\n  - 1\n",
    ),
    Case(
        "append-dash-gap-kept",
        "key:\n  -   name: a\n      v: 1\n",
        (Append(("key",), [{"name": "b", "l": ["x"]}, "plain"]),),
        "key:\n  -   name: a\n      v: 1\n  -   name: b\n      l:\n        - x\n  -   plain\n",
    ),
    Case(
        "append-to-root-sequence",
        "- a\n- b\n",
        (Append((), [{"n": [1]}]),),
        '- a\n- b\n- "n":\n    - 1\n',
    ),
    # ---- append to empty values
    Case(
        "append-empty-flow",
        "key: []\nz: 1\n",
        (Append(("key",), ["b"]),),
        'key: ["b"]\nz: 1\n',  # inside the brackets: taking it out gives `[]` back
    ),
    Case(
        "append-null",
        "key:\nz: 1\n",
        (Append(("key",), ["b"]),),
        "key:\n  - b\nz: 1\n",
    ),
    Case(
        "append-tilde",
        "key: ~\nz: 1\n",
        (Append(("key",), ["b"]),),
        "key:\n  - b\nz: 1\n",
    ),
    Case(
        "append-empty-flow-own-line",
        "spec:\n  initContainers:\n    []\n  containers:\n    - name: c\n",
        (Append(("spec", "initContainers"), [{"name": "i", "args": ["a"]}]),),
        "spec:\n  initContainers:\n    - name: i\n      args:\n        - a\n"
        "  containers:\n    - name: c\n",
    ),
    Case(
        "append-missing-key",
        "spec:\n  containers:\n  - name: c\n",
        (Append(("spec", "volumes"), [{"name": "v", "emptyDir": {}}]),),
        "spec:\n  containers:\n  - name: c\n  volumes:\n  - name: v\n    emptyDir: {}\n",
    ),
    # ---- flow sequences and JSON
    Case(
        "append-flow",
        "key: [a, b]\nz: 1\n",
        (Append(("key",), ["c", {"d": 1}]),),
        'key: [a, b, "c", {"d": 1}]\nz: 1\n',
    ),
    Case(
        "append-flow-trailing-comma",
        "key: [a, b,]\n",
        (Append(("key",), ["c"]),),
        'key: [a, b, "c",]\n',
    ),
    Case(
        "append-flow-trailing-comma-then-comment",
        "key: [\n  a,\n  b,  # last\n]\n",
        (Append(("key",), ["c"]),),
        'key: [\n  a,\n  b, "c",  # last\n]\n',
    ),
    Case(
        "append-flow-trailing-comma-twice",
        "key: [a, b,]\n",
        (Append(("key",), ["c"]), Append(("key",), ["d"])),
        'key: [a, b, "c", "d",]\n',
    ),
    Case(
        "append-flow-mapping-add-key",
        "m: {a: 1}\n",
        (AddKey(("m",), "k", [1, "x"]),),
        'm: {a: 1, "k": [1, "x"]}\n',
    ),
    Case(
        "json-no-trailing-newline",
        '{"a": [1], "m": {"k": "v"}}',
        (Append(("a",), [2, {"x": None}]), AddKey(("m",), "n", [True])),
        '{"a": [1, 2, {"x": null}], "m": {"k": "v", "n": [true]}}',
        json=True,
    ),
    Case(
        "json-empty-and-null",
        '{"a": [], "b": null, "c": 1}\n',
        (Append(("a",), [1]), Append(("b",), ["q"]), AddKey((), "new", {"k": "v"})),
        '{"a": [1], "b": ["q"], "c": 1, "new": {"k": "v"}}\n',
        json=True,
    ),
    # ---- add_key after block scalars
    Case(
        "add-key-after-literal-with-blank-lines-and-comments",
        LITERAL_LAST,
        (AddKey(("data",), "added", "v"),),
        "data:\n  first: 1\n  script: |\n    echo hi\n    echo there\n  added: v\n"
        "\n\n  # indented comment\n# top-level comment\n",
    ),
    Case(
        "add-key-after-keep-literal",
        "data:\n  script: |+\n    echo hi\n\n\nother: 1\n",
        (AddKey(("data",), "added", "v"),),
        "data:\n  script: |+\n    echo hi\n\n\n  added: v\nother: 1\n",
    ),
    Case(
        "add-key-after-keep-literal-then-comment",
        "data:\n  script: |+\n    echo hi\n\n# c\n",
        (AddKey(("data",), "added", "v"),),
        "data:\n  script: |+\n    echo hi\n\n  added: v\n# c\n",
    ),
    Case(
        "add-key-after-literal-at-eof-without-newline",
        "data:\n  script: |\n    echo hi",
        (AddKey(("data",), "added", "v"),),
        "data:\n  script: |-\n    echo hi\n  added: v",
    ),
    # ---- add_key creating parents
    Case(
        "add-key-missing-parent",
        "metadata:\n  name: x\n",
        (AddKey(("metadata", "annotations"), "a", "b"),),
        "metadata:\n  name: x\n  annotations:\n    a: b\n",
    ),
    Case(
        "add-key-missing-grandparent",
        "metadata:\n  name: x\n",
        (AddKey(("spec", "template"), "k", ["v"]),),
        "metadata:\n  name: x\nspec:\n  template:\n    k:\n      - v\n",
    ),
    Case(
        "two-appends-create-one-missing-parent",
        "x: 1\n",
        (Append(("a", "b"), [1]), Append(("a", "c"), [2])),
        "x: 1\na:\n  b:\n    - 1\n  c:\n    - 2\n",
    ),
    Case(
        "two-appends-fill-one-empty-mapping",
        "spec: {}\n",
        (Append(("spec", "containers"), [{"name": "a"}]), Append(("spec", "volumes"), ["v"])),
        'spec: {"containers": [{"name": "a"}], "volumes": ["v"]}\n',
    ),
    Case(
        "append-after-a-tag-on-the-sequence",
        "spec:\n  containers: !!seq\n  - name: a\n  x: 1\n",
        (Append(("spec", "containers"), [{"name": "b"}]),),
        "spec:\n  containers: !!seq\n  - name: a\n  - name: b\n  x: 1\n",
    ),
    Case(
        "append-after-an-anchor-on-the-sequence",
        "spec:\n  containers: &c\n    - name: a\n  x: 1\n",
        (Append(("spec", "containers"), [{"name": "b"}]),),
        "spec:\n  containers: &c\n    - name: a\n    - name: b\n  x: 1\n",
    ),
    Case(
        "replace-a-block-scalar-keeps-the-next-key",
        "a:\n  b: |-\n    old\n    text\n  c: 1\n",
        (Replace(("a", "b"), "new"),),
        "a:\n  b: new\n  c: 1\n",
    ),
    Case(
        "replace-a-folded-scalar-at-the-end-without-newline",
        "a:\n  b: >-\n    old",
        (Replace(("a", "b"), "new"),),
        "a:\n  b: new\n",
    ),
    # ---- text around the edit
    Case(
        "no-trailing-newline-append",
        "key:\n  - a",
        (Append(("key",), ["b"]),),
        "key:\n  - a\n  - b",
    ),
    Case(
        "no-trailing-newline-add-key",
        "a:\n  x: 1",
        (AddKey(("a",), "y", 2),),
        'a:\n  x: 1\n  "y": 2',
    ),
    Case(
        "trailing-comment-stays-on-last-item",
        "key:\n  - a  # last\nz: 1\n",
        (Append(("key",), ["b"]),),
        "key:\n  - a  # last\n  - b\nz: 1\n",
    ),
    Case(
        "comments-between-items-kept",
        "key:\n  # first\n  - a\n\n  # between\n  - b # c2\n\n  # after\nz: 1\n",
        (Append(("key",), ["c"]),),
        "key:\n  # first\n  - a\n\n  # between\n  - b # c2\n  - c\n\n  # after\nz: 1\n",
    ),
    Case(
        "empty-flow-own-line-comment-kept",
        "key:\n    []  # empty\nz: 1\n",
        (Append(("key",), ["b"]),),
        "key:\n  - b  # empty\nz: 1\n",
    ),
    # ---- replace
    Case(
        "replace-scalar-keeps-comment",
        "a:\n  image: old:1  # pinned\n  pull: Always\n",
        (Replace(("a", "image"), "new:2"),),
        "a:\n  image: new:2  # pinned\n  pull: Always\n",
    ),
    Case(
        "replace-scalar-quoted",
        "a:\n  flag: x\n",
        (Replace(("a", "flag"), "on"),),
        "a:\n  flag: 'on'\n",
    ),
    Case(
        "replace-mapping-item-wide",
        "items:\n  - name: a\n    v: 1\n  # keep\n  - name: b\n    v: 2\nz: 1\n",
        (Replace(("items", 0), {"name": "a", "v": 3, "l": ["x"]}),),
        "items:\n  - name: a\n    v: 3\n    l:\n      - x\n  # keep\n  - name: b\n    v: 2\nz: 1\n",
    ),
    Case(
        "replace-mapping-item-compact",
        "items:\n- name: a\n  v: 1\n- name: b\nz: 1\n",
        (Replace(("items", 0), {"name": "a", "l": ["x"]}),),
        "items:\n- name: a\n  l:\n  - x\n- name: b\nz: 1\n",
    ),
    # ---- what new values look like
    Case(
        "multi-line-strings-as-literal-blocks",
        "a:\n  k: 1\nz: 2\n",
        (
            AddKey(("a",), "scripts", {"clip": "x\ny\n", "strip": "x\ny", "keep": "p\n\n"}),
            Append(("z_list",), ["one\ntwo\n"]),
        ),
        "a:\n  k: 1\n  scripts:\n    clip: |\n      x\n      y\n    strip: |-\n      x\n      y\n"
        "    keep: |+\n      p\n\nz: 2\nz_list:\n  - |\n    one\n    two\n",
    ),
    Case(
        "multi-line-string-leading-space",
        "key:\n  - a\n",
        (Append(("key",), [" lead\nx\n", {"s": " lead\nx"}]),),
        "key:\n  - a\n  - |2\n     lead\n    x\n  - s: |2-\n       lead\n      x\n",
    ),
    Case(
        "multi-line-string-leading-space-dash-gap",
        "key:\n  -   a\n",
        (Append(("key",), [" lead\nx\n"]),),
        "key:\n  -   a\n  -   |4\n       lead\n      x\n",
    ),
    Case(
        "multi-line-string-leading-space-wide-dash-gap",
        "key:\n  -         a\n",
        (Append(("key",), [" lead\nx\n"]),),
        "key:\n  -         a\n  - |2\n     lead\n    x\n",
    ),
    Case(
        "strings-that-need-quoting-block",
        "a:\n  - x\n",
        (Append(("a",), QUOTED), AddKey((), "m", {"10": "on", "k": "null"})),
        "a:\n  - x\n  - '10'\n  - 'on'\n  - 'null'\n  - '2024-01-01'\n  - 'a: b'\n  - '#x'\n"
        "  - ''\nm:\n  '10': 'on'\n  k: 'null'\n",
    ),
    Case(
        "strings-that-need-quoting-flow",
        "a: [x]\n",
        (Append(("a",), QUOTED),),
        'a: [x, "10", "on", "null", "2024-01-01", "a: b", "#x", ""]\n',
    ),
    Case(
        "strings-that-other-readers-take-for-bools-and-numbers",
        "a:\n  - x\n",
        (Append(("a",), ["y", "n", "1e3", "0o17"]),),
        'a:\n  - x\n  - "y"\n  - "n"\n  - "1e3"\n  - "0o17"\n',
    ),
    Case(
        "non-ascii-positions",
        "# café 한국어 😀\nkey:\n  - é\n  - 한국어  # 주석\nz: ü\n",
        (Append(("key",), ["ß", "日本"]), Replace(("z",), "ö")),
        "# café 한국어 😀\nkey:\n  - é\n  - 한국어  # 주석\n  - ß\n  - 日本\nz: ö\n",
    ),
    Case(
        "non-ascii-flow",
        "key: [é, 한국어]\nz: 1\n",
        (Append(("key",), ["日本"]),),
        'key: [é, 한국어, "日本"]\nz: 1\n',
    ),
    # ---- several insertions at one position
    Case(
        "nested-append-before-outer-append",
        POD_WIDE,
        (
            Append(("spec", "containers"), [{"name": "side", "image": "s"}]),
            Append(("spec", "containers", 0, "volumeMounts"), [MOUNT_W]),
        ),
        POD_WIDE_TWO_APPENDS,
    ),
    Case(
        "nested-append-before-outer-append-other-order",
        POD_WIDE,
        (
            Append(("spec", "containers", 0, "volumeMounts"), [MOUNT_W]),
            Append(("spec", "containers"), [{"name": "side", "image": "s"}]),
        ),
        POD_WIDE_TWO_APPENDS,
    ),
    Case(
        "nested-add-key-and-outer-append-compact",
        "spec:\n  containers:\n  - name: base\n    image: b\n",
        (
            Append(("spec", "containers"), [{"name": "side", "image": "s"}]),
            Append(("spec", "containers", 0, "volumeMounts"), [MOUNT_W]),
        ),
        "spec:\n  containers:\n  - name: base\n    image: b\n    volumeMounts:\n"
        "    - name: w\n      mountPath: /w\n  - name: side\n    image: s\n",
    ),
    Case(
        "compact-list-append-and-new-key-at-one-column",
        "spec:\n  containers:\n  - name: c\n  volumes:\n  - name: a\n",
        (
            Append(("spec", "initContainers"), [{"name": "init"}]),
            Append(("spec", "volumes"), [{"name": "b"}]),
        ),
        "spec:\n  containers:\n  - name: c\n  volumes:\n  - name: a\n  - name: b\n"
        "  initContainers:\n  - name: init\n",
    ),
]


def _params(which: str) -> list[Any]:
    params = []
    for case in CASES:
        reason = case.bug if which == "bytes" else case.parse_bug
        marks = [pytest.mark.xfail(strict=True, reason=f"bug: {reason}")] if reason else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _params("bytes"))
def test_output_is_exactly_the_expected_text(case: Case) -> None:
    assert edit(case.text, case.ops) == case.expected


@pytest.mark.parametrize("case", _params("meaning"))
def test_output_means_the_input_with_the_edits(case: Case) -> None:
    output = edit(case.text, case.ops)
    wanted = expected_data(case.text, case.ops)
    assert yaml.safe_load(output) == wanted
    if case.json:
        assert json.loads(output) == wanted


def test_the_table_expectations_mean_what_the_operations_do() -> None:
    """The expected texts themselves parse as the edited data (a check of the table)."""
    for case in CASES:
        assert yaml.safe_load(case.expected) == expected_data(case.text, case.ops), case.id


# -- what the editor refuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "message"),
    [
        pytest.param("a: 1\n", Append(("a",), [1]), "a is not a list", id="append-to-scalar"),
        pytest.param("a: [1]\n", AddKey(("a",), "k", 1), "a is not a mapping", id="key-to-list"),
        pytest.param("a: 1\n", Replace(("b", "c"), 1), "b.c does not exist", id="replace-missing"),
    ],
)
def test_editor_refuses(text: str, op: Op, message: str) -> None:
    root = compose_all(text)[0]
    assert root is not None
    with pytest.raises(UnsupportedYaml, match=message):
        plan(Editor(text), root, op)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: &x {k: 1}\nb: *x\n", "anchors and aliases", id="mapping-alias"),
        pytest.param("l: [&s x, *s]\n", "anchors and aliases", id="scalar-alias"),
        pytest.param("a: &x {k: 1}\nb:\n  <<: *x\n", "merge key", id="merge-alias"),
        pytest.param("a: {<<: {k: 1}, j: 2}\n", "merge key", id="merge-inline"),
    ],
)
def test_check_plain_tree_rejects(text: str, message: str) -> None:
    root = compose_all(text)[0]
    assert root is not None
    with pytest.raises(UnsupportedYaml, match=message):
        check_plain_tree(root, "the input")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: {k: 1}\nb: [1, 2]\n", id="plain"),
        pytest.param("a: &x {k: 1}\nb: 2\n", id="anchor-without-alias"),
        pytest.param("'<<': 1\n", id="quoted-merge-lookalike"),
    ],
)
def test_check_plain_tree_accepts(text: str) -> None:
    root = compose_all(text)[0]
    assert root is not None
    check_plain_tree(root, "the input")


# -- splice_literal: edits inside a literal block string ------------------------------------


@dataclass(frozen=True)
class LiteralCase:
    id: str
    outer: str  # a ConfigMap whose data['pod.yaml'] is the inner document
    ops: tuple[Op, ...]  # planned on the inner document
    expected: str
    bug: str | None = None
    parse_bug: str | None = None


TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: pod-template
data:
  pod.yaml: {header}
    # the pod template
    apiVersion: v1
    kind: Pod
    spec:
      containers:
        - name: base  # main

      # volumes below
      volumes:
        - name: v
{tail}"""

TEMPLATE_EDITED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: pod-template
data:
  pod.yaml: {header}
    # the pod template
    apiVersion: v1
    kind: Pod
    spec:
      containers:
        - name: base  # main
        - name: side
          image: s

      # volumes below
      volumes:
        - name: v
        - name: w
          emptyDir: {{}}
{tail}"""

SIDECAR_AND_VOLUME: tuple[Op, ...] = (
    Append(("spec", "containers"), [{"name": "side", "image": "s"}]),
    Append(("spec", "volumes"), [{"name": "w", "emptyDir": {}}]),
)

NESTED_LITERAL = """\
kind: ConfigMap
data:
  pod.yaml: |
    metadata:
      annotations:
        note: "café 한국어"
    spec:
      containers:
        - name: base
          image: old  # keep
          args:
            - |
              echo 한국어
              echo done


    # end of template
  other: x
"""

NESTED_LITERAL_EDITED = """\
kind: ConfigMap
data:
  pod.yaml: |
    metadata:
      annotations:
        note: "café 한국어"
        extra: é
    spec:
      containers:
        - name: base
          image: new:1  # keep
          args:
            - |
              echo 한국어
              echo done
        - name: side
          args:
            - |
              multi
              line


    # end of template
  other: x
"""

# an indentation indicator: splice_literal falls back to one double-quoted line
INDICATOR = (
    "kind: ConfigMap\ndata:\n  pod.yaml: |2-\n      # c\n    spec:\n      volumes:\n      - v\n"
)
# An indentation indicator sets the content's indentation (key + 2): edited line by line.
INDICATOR_EDITED = (
    "kind: ConfigMap\ndata:\n  pod.yaml: |2-\n      # c\n    spec:\n      volumes:\n      - v\n"
    "      - w\n"
)

LITERAL_CASES = [
    LiteralCase(
        "strip-at-end-of-text",  # the inner text ends without a newline
        TEMPLATE.format(header="|-", tail=""),
        SIDECAR_AND_VOLUME,
        TEMPLATE_EDITED.format(header="|-", tail=""),
    ),
    LiteralCase(
        "strip-then-key",
        TEMPLATE.format(header="|-", tail="  other: x\n"),
        SIDECAR_AND_VOLUME,
        TEMPLATE_EDITED.format(header="|-", tail="  other: x\n"),
    ),
    LiteralCase(
        "clip-then-key",  # the inner text ends with a newline
        TEMPLATE.format(header="|", tail="other: 1\n"),
        SIDECAR_AND_VOLUME,
        TEMPLATE_EDITED.format(header="|", tail="other: 1\n"),
    ),
    LiteralCase(
        "keep-blank-lines-then-key",
        TEMPLATE.format(header="|+", tail="\n\n  other: x\n"),
        SIDECAR_AND_VOLUME,
        TEMPLATE_EDITED.format(header="|+", tail="\n\n  other: x\n"),
    ),
    LiteralCase(
        "nested-literal-non-ascii-replace-add-key",
        NESTED_LITERAL,
        (
            Replace(("spec", "containers", 0, "image"), "new:1"),
            Append(("spec", "containers"), [{"name": "side", "args": ["multi\nline\n"]}]),
            AddKey(("metadata", "annotations"), "extra", "é"),
        ),
        NESTED_LITERAL_EDITED,
    ),
    LiteralCase(
        "indentation-indicator-at-end-of-text",
        INDICATOR,
        (Append(("spec", "volumes"), ["w"]),),
        INDICATOR_EDITED,
    ),
    LiteralCase(
        "indentation-indicator-then-key",
        INDICATOR + "  other: x\n",
        (Append(("spec", "volumes"), ["w"]),),
        INDICATOR_EDITED + "  other: x\n",
    ),
]


def edit_literal(outer_text: str, ops: Sequence[Op]) -> tuple[str, str]:
    """(outer output, inner output): `ops` planned on the pod.yaml string and carried into
    the outer text with splice_literal, as inject.py does it."""
    root = compose_all(outer_text)[0]
    scalar = mapping_get(mapping_get(root, "data"), "pod.yaml")
    assert isinstance(scalar, yaml.ScalarNode)
    inner_text = str(scalar.value)
    inner_root = compose_all(inner_text)[0]
    assert inner_root is not None
    inner = Editor(inner_text, seq_indent=detect_seq_indent(inner_root, inner_text))
    for op in ops:
        plan(inner, inner_root, op)
    outer = Editor(outer_text)
    outer.splice_literal(scalar, inner)
    return outer.apply(), inner.apply()


def _literal_params(which: str) -> list[Any]:
    params = []
    for case in LITERAL_CASES:
        reason = case.bug if which == "bytes" else case.parse_bug
        marks = [pytest.mark.xfail(strict=True, reason=f"bug: {reason}")] if reason else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _literal_params("bytes"))
def test_splice_literal_exact_text(case: LiteralCase) -> None:
    assert edit_literal(case.outer, case.ops)[0] == case.expected


@pytest.mark.parametrize("case", _literal_params("meaning"))
def test_splice_literal_carries_the_inner_edits(case: LiteralCase) -> None:
    output, inner_output = edit_literal(case.outer, case.ops)
    outer_data = yaml.safe_load(output)
    embedded: str = outer_data["data"]["pod.yaml"]
    assert embedded == inner_output
    inner_input: str = yaml.safe_load(case.outer)["data"]["pod.yaml"]
    assert yaml.safe_load(embedded) == expected_data(inner_input, case.ops)
    comments = [line.strip() for line in inner_input.splitlines() if line.strip().startswith("#")]
    for comment in comments:
        assert comment in embedded
    # the rest of the outer document is untouched
    before = yaml.safe_load(case.outer)
    before["data"]["pod.yaml"] = embedded
    assert outer_data == before


def test_splice_literal_without_inner_edits_changes_nothing() -> None:
    outer_text = TEMPLATE.format(header="|", tail="")
    root = compose_all(outer_text)[0]
    scalar = mapping_get(mapping_get(root, "data"), "pod.yaml")
    assert scalar is not None
    outer = Editor(outer_text)
    outer.splice_literal(scalar, Editor(str(scalar.value)))
    assert not outer.changed
    assert outer.apply() == outer_text


@pytest.mark.parametrize("value", [[], {}, "x", 0])
@pytest.mark.parametrize("last", [True, False], ids=["last-key", "key-after"])
def test_an_indentless_list_replaced_by_a_scalar_or_empty_value_stays_valid(
    value: Any, last: bool
) -> None:
    # Found by the fuzzing campaign: remove emptied an indentless list (`key:\n- a`, as
    # PyYAML and many charts write lists) to `key:\n[]`, which no YAML reader accepts; the
    # self-check caught it as an internal error.
    text = "spec:\n  initContainers:\n  - name: a\n    image: b\n" + ("" if last else "  x: 1\n")
    ops = [Replace(("spec", "initContainers"), value)]
    assert yaml.safe_load(edit(text, ops)) == expected_data(text, ops)
