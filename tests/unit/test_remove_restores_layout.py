"""`remove` after `inject` gives the input back byte for byte, whatever its layout.

What inject writes into a list or a mapping, remove cuts out again, separator included, and
nothing else: the line break before a closing bracket laid out on its own line (JSON), a
trailing comma, a comment after the last entry, and the comments between block entries all
stay where they were. The renders are the real ones in tests/fixtures, laid out again as JSON
(indent 2 and 4, one object per document or one `kind: List`), as YAML flow collections (on
one line or many, with trailing commas and comments) and as block YAML with comments between
the entries; lists that inject made where the render had none (absent, null, `[]`, `[ ]`) come
back in their old form. inject stays idempotent on each layout, and both runs are verified
(api.py re-reads what they write).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_sidecars.runs.api import ConfigSource, run_inject, run_remove
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import Node
from conftest import FIXTURES, ROOT

Layout = Callable[[Any], str]


def _config(path: str) -> ConfigSource:
    return ConfigSource(path, (ROOT / path).read_bytes())


SEED = _config("pipelines/examples/seed-sidecars.yaml")
PRESETS = _config("pipelines/examples/seed-presets.yaml")
CLOUD_SQL = _config("pipelines/examples/cloud-sql-proxy.yaml")
NATIVE = _config("tests/golden/official-1.15.0-native-sidecars/config.yaml")

# (render, a config that adds to it without an error)
CASES = [
    ("official-1.15.0/01-default.yaml", SEED),
    ("official-1.15.0/02-kubernetes-executor.yaml", NATIVE),
    ("official-1.15.0/02-kubernetes-executor.yaml", PRESETS),
    ("official-1.15.0/03-celery-kubernetes-executor.yaml", CLOUD_SQL),
    ("official-1.20.0/01-default.yaml", PRESETS),
    ("official-1.22.0/01a-celery-default.yaml", SEED),
    ("community-8.9.0/01-default.yaml", SEED),
]


def _flow(value: Any, *, lines: bool, trailing: bool, comment: bool, depth: int = 0) -> str:
    """`value` in YAML flow style: on one line or one entry a line, with a trailing comma
    after the last entry, and a comment after it (only where a line break follows)."""
    if not isinstance(value, (list, dict)) or not value:
        return json.dumps(value)
    if isinstance(value, dict):
        entries = [
            f"{json.dumps(key)}: "
            + _flow(item, lines=lines, trailing=trailing, comment=comment, depth=depth + 1)
            for key, item in value.items()
        ]
        opening, closing = "{", "}"
    else:
        entries = [
            _flow(item, lines=lines, trailing=trailing, comment=comment, depth=depth + 1)
            for item in value
        ]
        opening, closing = "[", "]"
    end = "," if trailing else ""
    if not lines:
        return opening + ", ".join(entries) + end + closing
    pad = "  " * depth
    end += "  # the last entry" if comment else ""
    body = ",\n".join(f"{pad}  {entry}" for entry in entries)
    return f"{opening}\n{body}{end}\n{pad}{closing}"


LAYOUTS: dict[str, Layout] = {
    "json-indent-2": lambda doc: json.dumps(doc, indent=2) + "\n",
    "json-indent-4": lambda doc: json.dumps(doc, indent=4) + "\n",
    "json-one-line": lambda doc: json.dumps(doc) + "\n",
    "flow-one-line-trailing-comma": lambda doc: (
        _flow(doc, lines=False, trailing=True, comment=False) + "\n"
    ),
    "flow-lines": lambda doc: _flow(doc, lines=True, trailing=False, comment=False) + "\n",
    "flow-lines-trailing-comma": lambda doc: (
        _flow(doc, lines=True, trailing=True, comment=False) + "\n"
    ),
    "flow-lines-comments": lambda doc: _flow(doc, lines=True, trailing=False, comment=True) + "\n",
    "flow-lines-trailing-comma-comments": lambda doc: (
        _flow(doc, lines=True, trailing=True, comment=True) + "\n"
    ),
}


def _documents(render: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all((FIXTURES / render).read_text()) if doc]


def _laid_out(documents: list[Any], layout: Layout) -> str:
    return "---\n".join(layout(doc) for doc in documents)


def _round_trip(text: str, config: ConfigSource) -> tuple[str, str]:
    """inject's output (checked to be an idempotent, error-free edit) and remove's output."""
    injected = run_inject([("render.yaml", text.encode())], config)
    problems = [r.line() for r in injected.results if r.severity == "error"]
    assert not problems, problems
    assert injected.output != text.encode(), "the config added nothing to this render"
    again = run_inject([("render.yaml", injected.output)], config)
    assert again.output == injected.output, "not idempotent"
    removed = run_remove([("render.yaml", injected.output)], None)
    assert removed.exit_code == 0, [r.line() for r in removed.results]
    return injected.output.decode(), removed.output.decode()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize(("render", "config"), CASES, ids=[f"{r}-{c.name}" for r, c in CASES])
def test_remove_gives_back_every_layout(render: str, config: ConfigSource, layout: str) -> None:
    text = _laid_out(_documents(render), LAYOUTS[layout])
    _, removed = _round_trip(text, config)
    assert removed == text


@pytest.mark.parametrize("indent", [2, 4])
def test_remove_gives_back_a_json_list(indent: int) -> None:
    """A JSON `kind: List` (what `kubectl get -o json` prints) is read as its items, like a
    stream's documents: it comes back byte for byte, with nothing appended to it."""
    documents = _documents("official-1.15.0/01-default.yaml")
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}, indent=indent)
    text += "\n"
    injected, removed = _round_trip(text, SEED)
    assert isinstance(json.loads(injected), dict)
    assert removed == text


def _groomer_mounts(form: str) -> Callable[[Any], Any]:
    """The scheduler's log groomer with no mount list of its own, in one of the forms inject
    remembers ("absent", "null", "empty"): the seed config mounts `dags` into it."""

    def change(document: Any) -> Any:
        document = copy.deepcopy(document)
        if document.get("kind") == "Deployment" and document["metadata"]["name"].endswith(
            "scheduler"
        ):
            for container in document["spec"]["template"]["spec"]["containers"]:
                if container["name"] == "scheduler-log-groomer":
                    if form == "absent":
                        del container["volumeMounts"]
                    else:
                        container["volumeMounts"] = None if form == "null" else []
        return document

    return change


@pytest.mark.parametrize("form", ["absent", "null", "empty"])
@pytest.mark.parametrize("layout", ["json-indent-2", "flow-lines-trailing-comma-comments"])
def test_a_list_inject_made_goes_back_to_its_old_form(form: str, layout: str) -> None:
    documents = [
        _groomer_mounts(form)(doc) for doc in _documents("official-1.15.0/01-default.yaml")
    ]
    text = _laid_out(documents, LAYOUTS[layout])
    injected, removed = _round_trip(text, SEED)
    assert _groomer(injected)["volumeMounts"] == [
        {"name": "dags", "mountPath": "/opt/airflow/dags"}
    ]
    assert removed == text


def _groomer(text: str) -> Any:
    for document in yaml.safe_load_all(text):
        if (
            document
            and document["kind"] == "Deployment"
            and document["metadata"]["name"] == "airflow-scheduler"
        ):
            containers = document["spec"]["template"]["spec"]["containers"]
            return next(c for c in containers if c["name"] == "scheduler-log-groomer")
    raise AssertionError("no scheduler")


GROOMER_MOUNTS = """\
          volumeMounts:
            - name: logs
              mountPath: "/opt/airflow/logs"
      volumes:"""

# The block render itself, changed in place: what a hand or another tool may have written.
BLOCK_EDITS = {
    "empty-list": ("          volumeMounts: []\n      volumes:"),
    "empty-list-with-a-space": ("          volumeMounts: [ ]\n      volumes:"),
    "empty-list-on-its-own-line": ("          volumeMounts:\n            []\n      volumes:"),
    "null-list": "          volumeMounts:\n      volumes:",  # as Helm renders null
    "flow-list-on-lines": (
        "          volumeMounts: [\n"
        '            {name: logs, mountPath: "/opt/airflow/logs"},  # the logs\n'
        "          ]\n      volumes:"
    ),
    "flow-list-on-one-line": (
        '          volumeMounts: [ {name: logs, mountPath: "/opt/airflow/logs"}, ]\n      volumes:'
    ),
}


@pytest.mark.parametrize("edit", sorted(BLOCK_EDITS))
def test_block_render_with_hand_written_lists(edit: str) -> None:
    render = (FIXTURES / "official-1.15.0/01-default.yaml").read_text()
    # the first is the scheduler's (the triggerer's and the worker's follow)
    text = render.replace(GROOMER_MOUNTS, BLOCK_EDITS[edit], 1)
    injected, removed = _round_trip(text, SEED)
    assert {"name": "dags", "mountPath": "/opt/airflow/dags"} in _groomer(injected)["volumeMounts"]
    assert removed == text


def test_block_lists_with_comments_between_and_after_entries() -> None:
    render = (FIXTURES / "official-1.15.0/01-default.yaml").read_text()
    text = render.replace(
        "        - name: scheduler-log-groomer\n",
        "        # the groomer\n\n        - name: scheduler-log-groomer\n",
    ).replace(
        "          emptyDir:\n            {}\n\n---",
        "          emptyDir:\n            {}\n        # the last volume\n\n---",
    )
    assert text.count("# the groomer") == 1 and text.count("# the last volume") >= 1
    _, removed = _round_trip(text, SEED)
    assert removed == text


def _edited_back(text: str, edit: Callable[[Editor, Any], None], path: tuple[Any, ...]) -> str:
    """`edit` the text, then remove `path` from what it wrote."""
    editor = Editor(text)
    edit(editor, yaml.compose(text))
    written = editor.apply()
    assert written != text
    back = Editor(written)
    back.remove(_compose(written), path)
    return back.apply()


def _compose(text: str) -> Node:
    root = yaml.compose(text)
    assert root is not None
    return root


FLOW_LISTS = [
    "a: [x, y]\n",
    "a: [x, y,]\n",
    "a: [x, y, ]  # end\n",
    "a: [\n  x,\n  y\n]\n",
    "a: [\n  x,\n  y,\n]\n",
    "a: [\n  x,\n  y  # the last\n]\n",
    "a: [\n  x,\n  y,  # the last\n  # and a comment line\n]\n",
    '{"a": [\n    "x",\n    "y"\n  ]\n}\n',
]


@pytest.mark.parametrize("text", FLOW_LISTS)
def test_editor_append_and_remove_are_inverses(text: str) -> None:
    def two(editor: Editor, root: Any) -> None:
        editor.append(root, ("a",), ["z"])
        editor.append(root, ("a",), [{"name": "w"}])

    assert _edited_back(text, lambda e, r: e.append(r, ("a",), ["z"]), ("a", 2)) == text
    # entries removed one by one, last first (as records.removal_ops orders them) or not
    for order in ([3, 2], [2, 3]):
        editor = Editor(text)
        two(editor, yaml.compose(text))
        written = editor.apply()
        back, root = Editor(written), _compose(written)
        for index in order:
            back.remove(root, ("a", index))
        assert back.apply() == text


@pytest.mark.parametrize("text", FLOW_LISTS)
def test_editor_insert_and_remove_are_inverses(text: str) -> None:
    assert _edited_back(text, lambda e, r: e.insert(r, ("a", 1), ["z"]), ("a", 1)) == text
    assert _edited_back(text, lambda e, r: e.insert(r, ("a", 0), ["z"]), ("a", 0)) == text


@pytest.mark.parametrize(
    "text",
    ["m: {a: 1}\n", "m: {a: 1,}\n", "m: {\n  a: 1  # one\n}\n", '{"m": {\n    "a": 1\n  }\n}\n'],
)
def test_editor_add_key_and_remove_are_inverses(text: str) -> None:
    assert _edited_back(text, lambda e, r: e.add_key(r, ("m",), "b", "2"), ("m", "b")) == text


@pytest.mark.parametrize(
    ("text", "path", "emptied"),
    [
        ("a: []\n", ("a",), []),
        ("a: [ ]  # none yet\n", ("a",), []),
        ('{"a": [\n  ]\n}\n', ("a",), []),
        ("- [ ]\n", (0,), []),
    ],
)
def test_editor_fills_and_empties_an_empty_flow_list_in_place(
    text: str, path: tuple[Any, ...], emptied: Any
) -> None:
    """Entries go inside the brackets, and taking them all out leaves the brackets as they
    were (remove writes an emptied list back to its old form, here `empty`)."""
    editor = Editor(text)
    editor.append(_compose(text), path, [{"name": "x"}, {"name": "y"}])
    written = editor.apply()
    assert yaml.safe_load(written) != yaml.safe_load(text)
    back = Editor(written)
    back.replace(_compose(written), path, emptied)
    assert back.apply() == text


@pytest.mark.parametrize("text", ["m: {}\n", "m: { }\n", '{"m": {\n  }\n}\n'])
def test_editor_fills_and_empties_an_empty_flow_mapping_in_place(text: str) -> None:
    editor, root = Editor(text), _compose(text)
    editor.add_key(root, ("m",), "a", "1")
    editor.add_key(root, ("m",), "b", "2")  # written together with the first
    written = editor.apply()
    assert yaml.safe_load(written)["m"] == {"a": "1", "b": "2"}
    back = Editor(written)
    back.replace(_compose(written), ("m",), {})
    assert back.apply() == text


PROPERTY = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(
    case=st.sampled_from(CASES),
    layout=st.sampled_from(sorted(LAYOUTS)),
    per_document=st.lists(st.sampled_from(sorted(LAYOUTS)), min_size=0, max_size=40),
)
def test_remove_undoes_inject_whatever_the_layout(
    case: tuple[str, ConfigSource], layout: str, per_document: list[str]
) -> None:
    """remove(inject(x)) == x byte for byte, for real renders each of whose objects is laid
    out in one of the styles (a stream may mix them)."""
    render, config = case
    documents = _documents(render)
    chosen = per_document + [layout] * len(documents)
    text = "---\n".join(LAYOUTS[chosen[i]](doc) for i, doc in enumerate(documents))
    _, removed = _round_trip(text, config)
    assert removed == text


@pytest.mark.parametrize("header", ["|2-", "|2", "|4-", "|2+"])
def test_a_pod_template_with_an_indentation_indicator_stays_a_literal_block(header: str) -> None:
    # Found by fuzzing: a pod template block with an indentation indicator (as
    # go-yaml writes a string that starts with a blank line, after kustomize) was written
    # back as one double-quoted line, and remove did not give the block back.
    render = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_text()
    start = render.index("  pod_template_file.yaml: |")
    line_end = render.index("\n", start)
    body_start = line_end + 1
    body_end = render.index("\n---", body_start)
    body = render[body_start:body_end]
    if header.startswith("|4"):  # content at key + 4, deeper than the chart writes it
        body = "\n".join(("  " + line) if line.strip() else line for line in body.split("\n"))
    text = f"{render[:start]}  pod_template_file.yaml: {header}{render[line_end:body_start]}"
    text += body + render[body_end:]
    injected = run_inject([("render.yaml", text.encode())], PRESETS)
    assert injected.exit_code == 0, [r.line() for r in injected.results]
    assert f"  pod_template_file.yaml: {header}\n" in injected.output.decode()
    assert b"s3-sync" in injected.output
    removed = run_remove([("render.yaml", injected.output)], None)
    assert removed.exit_code == 0
    assert removed.output == text.encode()


@pytest.mark.parametrize("spelled", ["null", "~", "Null", ""])
def test_a_null_that_inject_made_a_list_of_comes_back_as_spelled(spelled: str) -> None:
    # Found by fuzzing: `containers: null` (or `~`) came back from remove as
    # `containers:`, the same null in other words. The record keeps the spelling.
    docs = [
        d
        for d in yaml.safe_load_all((FIXTURES / "official-1.15.0" / "01-default.yaml").read_text())
        if d
    ]
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "airflow-scheduler":
            pod = doc["spec"]["template"]["spec"]
            pod["initContainers"] = None
            pod["volumes"] = None
            pod["containers"][0]["volumeMounts"] = None
    text = yaml.safe_dump_all(docs, sort_keys=False).replace(
        ": null\n", f": {spelled}\n".replace(": \n", ":\n")
    )
    injected = run_inject([("render.yaml", text.encode())], PRESETS)
    assert injected.exit_code == 0, [r.line() for r in injected.results]
    assert injected.output != text.encode()
    removed = run_remove([("render.yaml", injected.output)], None)
    assert removed.exit_code == 0, [r.line() for r in removed.results]
    assert removed.output == text.encode()


@pytest.mark.parametrize("where", ["metadata", "annotations"])
@pytest.mark.parametrize("spelled", ["null", "~", ""])
def test_a_null_metadata_or_annotations_comes_back_as_spelled(where: str, spelled: str) -> None:
    # Found by fuzzing: a pod template's `metadata: null` went altogether after
    # inject (which wrote its record there) and remove.
    render = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_text()
    docs = [d for d in yaml.safe_load_all(render) if d]
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "airflow-webserver":
            template = doc["spec"]["template"]
            if where == "metadata":
                template["metadata"] = None
            else:
                template["metadata"]["annotations"] = None
    text = yaml.safe_dump_all(docs, sort_keys=False)
    text = text.replace(f"{where}: null\n", f"{where}: {spelled}\n".replace(": \n", ":\n"))
    injected = run_inject([("render.yaml", text.encode())], SEED)
    assert injected.exit_code == 0, [r.line() for r in injected.results]
    assert b"sync-perm" in injected.output
    removed = run_remove([("render.yaml", injected.output)], None)
    assert removed.exit_code == 0, [r.line() for r in removed.results]
    assert removed.output == text.encode()
