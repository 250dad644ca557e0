"""inject and validate on live objects, as `kubectl get -o yaml|json` prints them: every golden
case's render and output, made live (server and Helm metadata, status, managedFields) and
wrapped the way kubectl wraps them (tests/support/livedump.py).

A kubectl List is read as its items, like a stream's documents, and comes back as it came:
a List stays a List, JSON stays JSON, nothing is added to it but the edits. What the server
adds is no rule's business: validate says of a live dump what it says of the render.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_validate
from conftest import FIXTURES, ROOT, TESTS, run_cli
from support import livedump

GOLDEN = TESTS / "golden"
# Stream cases only: the KRM-mode cases' input is a ResourceList, not what kubectl prints.
CASES = sorted(
    path.name
    for path in GOLDEN.iterdir()
    if (path / "case.yaml").exists()
    and not yaml.safe_load((path / "case.yaml").read_text()).get("resourceList")
)


def _case(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((GOLDEN / name / "case.yaml").read_text())
    return loaded


def _render(name: str) -> str:
    """The case's input files as one stream."""
    texts = []
    for entry in _case(name)["inputs"]:
        local = GOLDEN / name / entry
        texts.append((local if local.exists() else FIXTURES / entry).read_text())
    return "\n---\n".join(texts)


def _config(name: str) -> ConfigSource:
    config = _case(name).get("config", "config.yaml")
    path = ROOT / config if "/" in config else GOLDEN / name / config
    return ConfigSource(str(path), path.read_bytes())


def _text(outcome: Outcome) -> str:
    return outcome.output.decode()


def _said(outcome: Outcome) -> list[tuple[str, str, str, str, str | None]]:
    """What the results say of which object, without its namespace (a live object always has
    one; a render made without `--namespace` has none)."""
    return [
        (
            result.severity,
            result.tags.get("rule", ""),
            result.resource.kind if result.resource else "",
            result.resource.name if result.resource else "",
            result.field_path,
        )
        for result in outcome.results
    ]


def _scheduler(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-scheduler")
    )


def _in_dump_order(items: list[dict[str, Any]], form: str) -> list[dict[str, Any]]:
    if form == "lists":
        return [item for group in livedump.by_kind(items) for item in group]
    return items


def _objects(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        found.extend(document["items"] if document.get("kind") == "List" else [document])
    return [_annotations_form_aside(obj) for obj in found]


def _annotations_form_aside(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with its records' note of the form the annotations had before inject
    (`"@annotations": "absent"`) set aside: a rendered ConfigMap may have no annotations,
    a live one has Helm's, so each record remembers the form it found (recordshape.py)."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    for key, value in annotations.items():
        if key.startswith("airflow-sidecars.dev/") and value.startswith("{"):
            record = json.loads(value)
            record.get("lists", {}).pop("@annotations", None)
            annotations[key] = json.dumps(record, sort_keys=True)
    return obj


@pytest.mark.parametrize("form", livedump.FORMS)
@pytest.mark.parametrize("name", CASES)
def test_inject_edits_a_live_dump_as_it_edits_the_render(name: str, form: str) -> None:
    """inject on the live dump of a case's render makes the edits it makes on the render, and
    only those: the output read back is the live dump of inject's output on the render."""
    config = _config(name)
    on_render = run_inject([("render.yaml", _render(name).encode())], config)
    live_render = livedump.live(livedump.objects(_render(name)), managed_fields=True)
    dump = livedump.dump(live_render, form)
    on_live = run_inject([("live.yaml", dump.encode())], config)

    assert on_live.exit_code == on_render.exit_code == _case(name)["exitCode"]
    assert _said(on_live) == _said(on_render)
    if on_render.exit_code:
        assert on_live.output == dump.encode()  # nothing applied: the input, as it came
        return
    expected = livedump.live(livedump.objects(_text(on_render)), managed_fields=True)
    expected = [_annotations_form_aside(obj) for obj in expected]
    assert _objects(_text(on_live)) == _in_dump_order(expected, form)
    if form == "json":
        assert isinstance(json.loads(_text(on_live)), dict)  # JSON, not a stream of YAML


@pytest.mark.parametrize("defaulted", [False, True], ids=["as-written", "api-defaulted"])
@pytest.mark.parametrize("form", livedump.FORMS)
@pytest.mark.parametrize("name", [n for n in CASES if _case(n)["exitCode"] == 0])
def test_a_live_dump_of_the_output_comes_back_byte_for_byte(
    name: str, form: str, defaulted: bool
) -> None:
    """What runs already has the sidecars: inject adds nothing and gives every byte back
    (a List stays a List, JSON stays JSON, no results written into it), and validate says of
    it what it says of the output it was installed from: never a finding about the status,
    the server's metadata, Helm's or kubectl's annotations, nor (`api-defaulted`) about what
    the API server filled in: no name-conflict, no second copy."""
    config = _config(name)
    output = (GOLDEN / name / "expected.yaml").read_text()
    defaults = livedump.api_defaults if defaulted else None
    live = livedump.live(livedump.objects(output), defaults=defaults, old_server=True, applied=True)
    dump = livedump.dump(live, form)

    injected = run_inject([("live.yaml", dump.encode())], config)
    assert injected.exit_code == 0, [r.line() for r in injected.results]
    assert injected.output == dump.encode()
    assert not [r for r in injected.results if r.tags.get("rule") == "added"]

    on_output = run_validate([("render.yaml", output.encode())], config)
    on_live = run_validate([("live.yaml", dump.encode())], config)
    assert on_live.output == dump.encode()
    assert on_live.exit_code == on_output.exit_code
    assert sorted(_said(on_live)) == sorted(_said(on_output))


def test_running_pods_in_the_list_are_left_alone() -> None:
    """A task pod made from the pod template and a scheduler pod owned by its ReplicaSet, with
    what admission adds, in the List beside what they came from: read, never edited, no
    finding about them."""
    name = "official-1.15.0-celery-kubernetes-executor"
    output = livedump.objects((GOLDEN / name / "expected.yaml").read_text())
    template = next(o for o in output if "pod_template_file.yaml" in o.get("data", {}))
    scheduler = _scheduler(output)
    pods = [livedump.task_pod(template), livedump.replica_pod(scheduler)]
    dump = livedump.dump([*livedump.live(output), *pods], "list")

    injected = run_inject([("live.yaml", dump.encode())], _config(name))
    assert injected.exit_code == 0
    assert injected.output == dump.encode()
    validated = run_validate([("live.yaml", dump.encode())], _config(name))
    assert validated.exit_code == 0
    assert not [r for r in validated.results if r.resource and r.resource.kind == "Pod"]
    assert _said(validated) == _said(
        run_validate(
            [("o.yaml", livedump.to_yaml(livedump.as_list(output)).encode())], _config(name)
        )
    )


def test_a_live_dump_is_a_stream_not_a_resource_list(tmp_path: Path) -> None:
    """A List only kubectl wraps is no ResourceList: without --config it is a stream without
    a config (misuse, exit 2), not a KRM call answered with results written into the List."""
    name = "official-1.15.0-seed"
    live = tmp_path / "live.yaml"
    live.write_text(livedump.dump(livedump.live(livedump.objects(_render(name))), "list"))
    done = run_cli("inject", live)
    assert done.returncode == 2
    assert "no config: give --config FILE" in done.stderr
    assert done.stdout == live.read_bytes()


_LIST = "the List (document 1 in live.yaml)"
_NO_ITEMS = f"{_LIST} has no items (kubectl writes `items: []` when it finds nothing)"
MALFORMED = {
    "no items": ("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: ''\n", _NO_ITEMS),
    "items null": ("apiVersion: v1\nitems:\nkind: List\n", _NO_ITEMS),
    "items not a list": (
        "apiVersion: v1\nitems: {kind: ConfigMap}\nkind: List\n",
        f"{_LIST}: its items are not a list of objects",
    ),
    "an item not a mapping": (
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n"
        "- airflow-scheduler\nkind: List\n",
        f"List item 1 of {_LIST} is not an object",
    ),
    "JSON, an item not an object": (
        '{"apiVersion": "v1", "items": [[]], "kind": "List"}\n',
        f"List item 0 of {_LIST} is not an object",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_list_is_refused_naming_it_and_nothing_is_lost(case: str) -> None:
    """A List kubectl would not print: an error naming the List (and the item), exit 1, and
    the input back as it came, the objects before the List included."""
    name = "official-1.15.0-seed"
    before = livedump.dump(livedump.live(livedump.objects(_render(name))[:1]), "single")
    malformed, says = MALFORMED[case]
    text = (before + "---\n" + malformed).encode()
    for run in (run_inject, run_validate):
        outcome = run([("live.yaml", text)], _config(name))
        assert outcome.exit_code == 1
        assert outcome.output == text
        assert [(r.severity, r.message) for r in outcome.results] == [("error", says)]


def test_a_malformed_list_on_the_command_line(tmp_path: Path) -> None:
    live = tmp_path / "live.yaml"
    live.write_text(MALFORMED["an item not a mapping"][0])
    config = ROOT / "pipelines/examples/seed-sidecars.yaml"
    done = run_cli("inject", "--config", config, live)
    assert done.returncode == 1
    assert done.stdout == live.read_bytes()
    assert "List item 1 of the List (document 0 in" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_list_with_a_function_config_is_still_a_resource_list() -> None:
    """kyaml reads `kind: List` as a ResourceList: one that carries a functionConfig is a
    function call, answered in KRM mode with its results."""
    name = "official-1.15.0-seed"
    config = yaml.safe_load(_config(name).data)
    items = livedump.objects(_render(name))
    text = livedump.to_yaml(
        {"apiVersion": "v1", "kind": "List", "functionConfig": config, "items": items}
    )
    outcome = run_inject([("list.yaml", text.encode())], None)
    assert outcome.mode == "resourcelist"
    assert outcome.exit_code == 0
    assert "results" in yaml.safe_load(outcome.output)


def test_a_config_kubernetes_io_list_is_a_resource_list_without_a_function_config() -> None:
    """kubectl's List is `apiVersion: v1`; a `config.kubernetes.io/v1` List is a function's
    ResourceList (a kpt run without a config sends none), answered in KRM mode."""
    name = "official-1.15.0-seed"
    items = livedump.objects(_render(name))
    text = livedump.to_yaml(
        {"apiVersion": "config.kubernetes.io/v1", "kind": "List", "items": items}
    )
    outcome = run_validate([("list.yaml", text.encode())], None)
    assert outcome.mode == "resourcelist"
    kubectl_list = text.replace("apiVersion: config.kubernetes.io/v1\n", "apiVersion: v1\n", 1)
    assert kubectl_list != text
    assert run_validate([("list.yaml", kubectl_list.encode())], None).mode == "stream"


def test_one_object_in_json_comes_back_json() -> None:
    """`kubectl get deploy airflow-scheduler -o json`: one bare object, edited in JSON."""
    name = "official-1.15.0-seed"
    config = _config(name)
    render = livedump.objects(_render(name))
    scheduler = _scheduler(render)
    on_render = run_inject([("render.yaml", livedump.to_yaml(scheduler).encode())], config)
    text = livedump.to_json(livedump.live([scheduler])[0])
    on_live = run_inject([("live.json", text.encode())], config)
    assert on_live.exit_code == on_render.exit_code == 0
    assert _said(on_live) == _said(on_render)
    edited = json.loads(on_live.output)
    assert edited == livedump.live(livedump.objects(_text(on_render)))[0]
