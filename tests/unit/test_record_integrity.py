"""Records that cannot be turned against the chart. See README.md, "A record is a claim".

A record is a claim about what inject added; the pod is the evidence. These tests edit real
inject output the ways records go wrong in a team's repository (hand-edited, copied between
objects, merged badly, made to crash the reader, written by 0.1.x without digests) and check
that `remove` and inject's take-back delete only what the pod shows inject wrote, and refuse a
record that is not one this tool writes, with a clear error and the input unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from airflow_sidecars.recording import records
from airflow_sidecars.recording.records import Record
from airflow_sidecars.recording.takeback import Claims, judge
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from conftest import FIXTURES, ROOT

RENDER = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
EXECUTOR = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_bytes()
SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
KEY = "airflow-sidecars.dev/seed-sidecars"
# One record annotation line as inject writes it: key, then the JSON in single quotes.
RECORD_LINE = re.compile(r"^(\s*airflow-sidecars\.dev/[\w.-]+: )'(\{.*\})'$", re.M)


def _config(path: Any = SEED) -> ConfigSource:
    return ConfigSource(str(path), path.read_bytes())


def _inject(render: bytes = RENDER, config: ConfigSource | None = None) -> bytes:
    outcome = run_inject([("render.yaml", render)], config or _config())
    assert outcome.exit_code == 0, [r.line() for r in outcome.results]
    return outcome.output


def _rules(outcome: Outcome, severity: str | None = None) -> list[str]:
    return [
        r.tags.get("rule", "")
        for r in outcome.results
        if severity is None or r.severity == severity
    ]


def _edit_record(text: bytes, change: Callable[[dict[str, Any]], Any], nth: int = 0) -> bytes:
    """The output with the nth record annotation's JSON changed by `change` (which may return
    a new value, or a string to write as it is)."""
    found = list(RECORD_LINE.finditer(text.decode()))[nth]
    data = json.loads(found.group(2))
    new = change(data)
    value = new if isinstance(new, str) else json.dumps(data if new is None else new)
    replaced = f"{found.group(1)}{json.dumps(value)}"  # a JSON string is a YAML scalar
    whole = text.decode()
    return (whole[: found.start()] + replaced + whole[found.end() :]).encode()


def _webserver_record(text: bytes) -> int:
    """The index of the webserver pod's record among the record lines."""
    lines = [m.group(2) for m in RECORD_LINE.finditer(text.decode())]
    return next(i for i, line in enumerate(lines) if "sync-perm" in line)


def _legacy(text: bytes) -> bytes:
    """Records as version 0.1 wrote them: names only, no digests."""

    def names(value: Any) -> Any:
        return sorted(value) if isinstance(value, dict) else value

    def convert(match: re.Match[str]) -> str:
        data = json.loads(match.group(2))
        for group in ("containers", "initContainers", "volumes", "annotations"):
            if group in data:
                data[group] = names(data[group])
        for group in ("mounts", "env"):
            if group in data:
                data[group] = {c: names(v) for c, v in data[group].items()}
        return f"{match.group(1)}'{json.dumps(data, sort_keys=True, separators=(',', ':'))}'"

    return RECORD_LINE.sub(convert, text.decode()).encode()


def _bump_sync_perm(text: bytes) -> bytes:
    """The sync-perm sidecar's image changed by hand after inject."""
    before = b"- name: sync-perm\n          image: apache/airflow:2.9.3"
    assert text.count(before) == 1
    return text.replace(before, before.replace(b"2.9.3", b"2.10.5"))


def _containers(text: bytes, kind: str, name: str) -> list[str]:
    for document in yaml.safe_load_all(text):
        if document and document["kind"] == kind and document["metadata"]["name"] == name:
            spec = document["spec"]["template"]["spec"]
            return [c["name"] for c in spec["containers"]]
    raise AssertionError(f"no {kind} {name}")


# -- class 1: a record naming the chart's own container ---------------------------------------


def test_a_record_naming_the_charts_container_is_refused_by_remove() -> None:
    injected = _inject()
    nth = _webserver_record(injected)
    tampered = _edit_record(
        injected, lambda r: r["containers"].update({"webserver": "0" * 16}), nth
    )
    removed = run_remove([("out.yaml", tampered)], None)
    assert removed.exit_code == 1
    assert removed.output == tampered  # nothing taken back, the chart's container stays
    errors = [r for r in removed.results if r.severity == "error"]
    assert [r.tags["rule"] for r in errors] == ["record"]
    assert str(errors[0].resource) == "Deployment airflow-webserver"
    assert KEY in errors[0].message and "'webserver'" in errors[0].message
    assert "webserver" in _containers(removed.output, "Deployment", "airflow-webserver")


def test_a_record_of_0_1_naming_the_charts_container_is_refused_even_with_force() -> None:
    legacy = _legacy(_inject())
    nth = _webserver_record(legacy)
    tampered = _edit_record(legacy, lambda r: r["containers"].append("webserver"), nth)
    for force in (False, True):
        removed = run_remove([("out.yaml", tampered)], None, force=force)
        assert removed.exit_code == 1 and removed.output == tampered
        assert "record" in _rules(removed, "error")


def test_inject_and_validate_refuse_it_too() -> None:
    injected = _inject()
    nth = _webserver_record(injected)
    tampered = _edit_record(
        injected, lambda r: r["containers"].update({"webserver": "0" * 16}), nth
    )
    injected_again = run_inject([("out.yaml", tampered)], _config())
    assert injected_again.exit_code == 1 and injected_again.output == tampered
    assert _rules(injected_again, "error") == ["record"]  # said once
    checked = run_validate([("out.yaml", tampered)], _config())
    assert checked.exit_code == 1 and "record" in _rules(checked, "error")


# -- class 2: a record of the wrong shape ------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda r: {"containers": "sync-perm"},
        lambda r: {"containers": ["sync-perm", 5]},
        lambda r: {"containers": {"sync-perm": 5}},
        lambda r: {"containers": {"sync-perm": "not-a-digest"}},
        lambda r: {"containers": None},
        lambda r: {"mounts": {"webserver": "/x"}},
        lambda r: {"lists": {"containers": "gone"}},
        lambda r: {"lists": {"containers": ["absent"]}},  # the campaign: a TypeError traceback
        lambda r: {"lists": {"containers": {"absent": 1}}},
        lambda r: {"sidecars": ["sync-perm"]},
        lambda r: ["sync-perm"],
        lambda r: "not json at all",
        lambda r: '{"containers": ["sync-perm", "sync-perm"]}',
    ],
    ids=[
        "string-for-list",
        "number-in-list",
        "number-for-digest",
        "bad-digest",
        "null",
        "string-for-mounts",
        "bad-list-form",
        "list-for-list-form",
        "object-for-list-form",
        "unknown-field",
        "list-at-top",
        "not-json",
        "named-twice",
    ],
)
def test_a_record_of_the_wrong_shape_is_an_error_and_nothing_is_taken_back(
    change: Callable[[dict[str, Any]], Any],
) -> None:
    injected = _inject()
    tampered = _edit_record(injected, change, _webserver_record(injected))
    removed = run_remove([("out.yaml", tampered)], None)
    assert removed.exit_code == 1 and removed.output == tampered
    error = next(r for r in removed.results if r.severity == "error")
    assert error.tags["rule"] == "record" and str(error.resource) == "Deployment airflow-webserver"
    assert KEY in error.message
    assert "sync-perm" in _containers(removed.output, "Deployment", "airflow-webserver")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("{containers: [sync-perm]}", "record"),
        ("[sync-perm]", "record"),
        ("null", "record"),
        ("!!binary e30=", "unsupported-yaml"),  # a tag no Kubernetes object has
    ],
    ids=["mapping", "list", "null", "binary"],
)
def test_a_record_whose_value_is_no_string_is_an_error(value: str, rule: str) -> None:
    # Found by the fuzzing campaign: a mapping or a list was read as no record at all, so
    # remove said "nothing to take back" and the sidecars stayed without a word.
    injected = _inject()
    found = list(RECORD_LINE.finditer(injected.decode()))[_webserver_record(injected)]
    text = injected.decode()
    tampered = (text[: found.start()] + found.group(1) + value + text[found.end() :]).encode()
    for outcome in (
        run_remove([("out.yaml", tampered)], None),
        run_inject([("out.yaml", tampered)], _config()),
        run_validate([("out.yaml", tampered)], _config()),
    ):
        assert outcome.exit_code == 1 and outcome.output == tampered
        error = next(r for r in outcome.results if r.severity == "error")
        assert error.tags["rule"] == rule
        assert "(line " in error.message if rule != "record" else KEY in error.message


# -- class 3: a record built to crash the reader -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    ['{"containers":' + "[" * 3000 + "]" * 3000 + "}", '{"x":"' + "a" * 40000 + '"}'],
    ids=["thousands-deep", "too-large"],
)
def test_a_hostile_record_is_an_error_in_every_function(value: str) -> None:
    injected = _inject()
    tampered = _edit_record(injected, lambda r: value, _webserver_record(injected))
    for outcome in (
        run_inject([("out.yaml", tampered)], _config()),
        run_validate([("out.yaml", tampered)], _config()),
        run_validate([("out.yaml", tampered)], None),
        run_remove([("out.yaml", tampered)], None),
    ):
        assert outcome.output == tampered
    for outcome in (
        run_inject([("out.yaml", tampered)], _config()),
        run_remove([("out.yaml", tampered)], None),
    ):
        assert outcome.exit_code == 1 and "record" in _rules(outcome, "error")


def test_a_hostile_record_in_krm_mode_gives_a_whole_resource_list() -> None:
    injected = _inject()
    tampered = _edit_record(
        injected,
        lambda r: '{"containers":' + "[" * 3000 + "]" * 3000 + "}",
        _webserver_record(injected),
    )
    items = [d for d in yaml.safe_load_all(tampered) if d]
    config = yaml.safe_load(SEED.read_bytes())
    resource_list = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": config,
    }
    outcome = run_inject([(None, json.dumps(resource_list).encode())], None)
    assert outcome.exit_code == 1 and outcome.mode == "resourcelist"
    answer = yaml.safe_load(outcome.output)
    assert len(answer["items"]) == len(items)
    assert [i["metadata"]["name"] for i in answer["items"]] == [
        i["metadata"]["name"] for i in items
    ]
    assert any(r.get("tags", {}).get("rule") == "record" for r in answer["results"])


# -- digests: what changed since is left in place ----------------------------------------------


def test_a_sidecar_changed_since_it_was_added_is_left_with_a_warning() -> None:
    injected = _inject()
    changed = _bump_sync_perm(injected)
    removed = run_remove([("out.yaml", changed)], None)
    assert removed.exit_code == 0
    warnings = [r for r in removed.results if r.tags.get("rule") == "record"]
    assert len(warnings) == 1 and "container sync-perm" in warnings[0].message
    assert "remove --force" in warnings[0].message
    assert "sync-perm" in _containers(removed.output, "Deployment", "airflow-webserver")
    # everything else went; the webserver keeps its sidecar and the record of it
    assert b"s3-sync" not in removed.output and b"worker-kerberos" not in removed.output
    again = run_remove([("out.yaml", removed.output)], None)
    assert again.output == removed.output  # idempotent: the same warning, nothing else
    forced = run_remove([("out.yaml", changed)], None, force=True)
    assert forced.exit_code == 0 and forced.output == RENDER


def test_inject_leaves_a_changed_item_it_no_longer_declares_and_keeps_its_record() -> None:
    injected = _inject()
    changed = _bump_sync_perm(injected)
    config = yaml.safe_load(SEED.read_bytes())
    del config["spec"]["webserver"]
    smaller = ConfigSource("smaller.yaml", json.dumps(config).encode())
    outcome = run_inject([("out.yaml", changed)], smaller)
    assert outcome.exit_code == 0
    assert "record" in _rules(outcome, "warning")
    assert "sync-perm" in _containers(outcome.output, "Deployment", "airflow-webserver")
    assert KEY.encode() in outcome.output  # the record keeps naming it: --force can take it
    forced = run_remove([("out.yaml", outcome.output)], None, force=True)
    assert forced.output == RENDER


def test_a_record_copied_onto_another_object_takes_nothing_of_it() -> None:
    injected = _inject()
    webserver = list(RECORD_LINE.finditer(injected.decode()))[_webserver_record(injected)]
    # the scheduler's record replaced by the webserver's: the scheduler has no sync-perm, and
    # its own sidecar is recorded by nobody
    scheduler_record = 0
    copied = _edit_record(injected, lambda r: json.loads(webserver.group(2)), scheduler_record)
    removed = run_remove([("out.yaml", copied)], None)
    assert removed.exit_code == 0
    assert "s3-sync" in _containers(removed.output, "Deployment", "airflow-scheduler")
    assert "sync-perm" not in _containers(removed.output, "Deployment", "airflow-webserver")


def test_an_item_two_configs_record_is_left_to_both() -> None:
    injected = _inject()
    text = injected.decode()
    found = list(RECORD_LINE.finditer(text))[_webserver_record(injected)]
    indent = found.group(1)[: len(found.group(1)) - len(found.group(1).lstrip())]
    other = f"\n{indent}airflow-sidecars.dev/other: '{found.group(2)}'"
    merged = (text[: found.end()] + other + text[found.end() :]).encode()
    outcome = run_remove([("out.yaml", merged)], _config())
    assert outcome.exit_code == 0
    warning = next(r for r in outcome.results if r.tags.get("rule") == "record")
    assert "'other'" in warning.message and "container sync-perm" in warning.message
    assert "sync-perm" in _containers(outcome.output, "Deployment", "airflow-webserver")


def test_a_changed_service_account_annotation_is_left() -> None:
    injected = _inject(config=_config(PRESETS))
    assert b"eks.amazonaws.com/role-arn" in injected
    role = re.search(rb"eks.amazonaws.com/role-arn: (\S+)", injected)
    assert role is not None
    changed = injected.replace(role.group(0), b"eks.amazonaws.com/role-arn: arn:aws:iam::1:role/x")
    removed = run_remove([("out.yaml", changed)], None)
    assert removed.exit_code == 0
    assert b"arn:aws:iam::1:role/x" in removed.output
    assert any("annotation eks.amazonaws.com/role-arn" in r.message for r in removed.results
               if r.tags.get("rule") == "record")  # fmt: skip


# -- records of 0.1 (no digests) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("render", "config_path"),
    [(RENDER, SEED), (EXECUTOR, PRESETS)],
    ids=["celery-seed", "kubernetes-executor-presets"],
)
def test_records_of_0_1_keep_working_with_their_config(render: bytes, config_path: Any) -> None:
    config = _config(config_path)
    injected = _inject(render, config)
    legacy = _legacy(injected)
    assert legacy != injected and b'":"' not in re.sub(
        rb"(lists|checksum)\":\{[^}]*\}", b"", legacy
    )
    # inject with the config vouches for every item: the records get their digests
    assert _inject(legacy, config) == injected
    # remove with the config: taken back where the pod holds what the config declares
    removed = run_remove([("out.yaml", legacy)], config)
    assert removed.exit_code == 0 and removed.output == render
    # without a config nothing vouches: left, with a warning naming the way out
    alone = run_remove([("out.yaml", legacy)], None)
    assert alone.exit_code == 0 and alone.output == legacy
    assert "record" in _rules(alone, "warning")
    assert all("--config" in r.message for r in alone.results if r.tags.get("rule") == "record")


def test_force_takes_a_record_of_0_1_at_its_word_but_never_a_chart_named_container() -> None:
    legacy = _legacy(_inject())
    forced = run_remove([("out.yaml", legacy)], None, force=True)
    assert forced.exit_code == 0
    # the seed's Kerberos renewer is called worker-kerberos, as the chart's own renewer is:
    # only a digest or the config may vouch for it
    assert "worker-kerberos" in _containers(forced.output, "StatefulSet", "airflow-worker")
    assert b"s3-sync" not in forced.output and b"sync-perm" not in forced.output
    left = [r for r in forced.results if r.tags.get("rule") == "record"]
    assert len(left) == 1 and "container worker-kerberos" in left[0].message
    assert run_remove([("out.yaml", legacy)], _config(), force=True).output == RENDER


def test_force_never_takes_a_changed_container_with_a_name_the_chart_renders() -> None:
    # Found by the fuzzing campaign: a record edited to name the scheduler's log groomer (with
    # any digest) made `remove --force` delete the chart's own container.
    def name_the_groomer(record: dict[str, Any]) -> None:
        record["containers"]["scheduler-log-groomer"] = "0123456789abcdef"

    tampered = _edit_record(_inject(), name_the_groomer, 0)
    for force in (False, True):
        removed = run_remove([("out.yaml", tampered)], None, force=force)
        assert removed.exit_code == 0
        assert "scheduler-log-groomer" in _containers(
            removed.output, "Deployment", "airflow-scheduler"
        )
        assert "s3-sync" not in _containers(removed.output, "Deployment", "airflow-scheduler")
        left = [r.message for r in removed.results if r.tags.get("rule") == "record"]
        assert len(left) == 1 and "scheduler-log-groomer" in left[0] and "--force" in left[0]


# -- the guard: no pod left without containers --------------------------------------------------


def test_taking_back_every_container_of_a_pod_is_refused() -> None:
    sidecar = {"name": "shipper", "image": "fluent/fluent-bit:3.1"}
    pod = {"containers": [sidecar]}
    record = Record([("container", "shipper")], digests={("container", "shipper"): ""})
    record.digests[("container", "shipper")] = records.digest(sidecar)
    verdict = judge(pod, record, set(record.items), Claims({}, {}, ""))
    assert verdict.refused is not None and "without containers" in verdict.refused


def test_a_pod_that_had_no_containers_gets_its_render_back() -> None:
    # Found by fuzzing: a scheduler whose `containers` was missing got the sidecar
    # as its only container (the record says the list was absent), and remove refused to
    # take it back "leaving the pod without containers", which is what the render was.
    docs = [doc for doc in yaml.safe_load_all(RENDER) if doc]
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "airflow-scheduler":
            del doc["spec"]["template"]["spec"]["containers"]
    render = yaml.safe_dump_all(docs, sort_keys=False).encode()
    injected = _inject(render)
    assert _containers(injected, "Deployment", "airflow-scheduler") == ["s3-sync"]
    removed = run_remove([("out.yaml", injected)], None)
    assert removed.exit_code == 0, _rules(removed, "error")
    assert removed.output == render
