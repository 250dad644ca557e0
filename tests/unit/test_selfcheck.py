"""The self-check: output that does not mean what was planned is never handed on.

inject parses its output again and compares every edited object with the data the edits were
to produce (verify.py). These tests plant a fault in the text the editor writes and check
that the run then fails cleanly: exit status 1, an `internal` error result, and the input back
as it came (KRM mode: every item as it came, plus the results).
"""

from __future__ import annotations

import weakref
from typing import Any

import pytest
import yaml

from airflow_sidecars.krmio import krm, krmread
from airflow_sidecars.planning.verify import verify as real_verify
from airflow_sidecars.runs import outcomes
from airflow_sidecars.runs.api import ConfigSource, run_inject
from airflow_sidecars.text import yamledit
from conftest import FIXTURES, ROOT

RENDER = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
CONFIG = b"""\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata:
  name: test
spec:
  scheduler:
    extraContainers:
      - name: s3-sync
        image: example/s3-sync:1.0
"""


@pytest.fixture
def faulty_editor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edited text gets a wrong image: it still parses, it just is not what was planned."""
    apply = yamledit.Editor.apply

    def apply_with_fault(self: yamledit.Editor) -> str:
        return apply(self).replace("example/s3-sync:1.0", "example/s3-sync:2.0")

    monkeypatch.setattr(yamledit.Editor, "apply", apply_with_fault)


def _internal_errors(messages: list[tuple[str, str]]) -> list[str]:
    return [message for severity, message in messages if "internal error" in message]


@pytest.mark.usefixtures("faulty_editor")
def test_stream_output_is_the_input_when_the_check_fails() -> None:
    outcome = run_inject([("render.yaml", RENDER)], ConfigSource("config.yaml", CONFIG))
    assert outcome.exit_code == 1
    assert outcome.output == RENDER
    errors = _internal_errors([(r.severity, r.message) for r in outcome.results])
    assert len(errors) == 1
    assert "Deployment" in errors[0] and "airflow-scheduler" in errors[0], errors
    assert "nothing was changed" in errors[0]


@pytest.mark.usefixtures("faulty_editor")
def test_resource_list_items_come_back_unchanged_when_the_check_fails() -> None:
    items = [doc for doc in yaml.safe_load_all(RENDER) if doc is not None]
    resource_list = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": yaml.safe_load(CONFIG),
    }
    text = yaml.safe_dump(resource_list, sort_keys=False).encode()
    outcome = run_inject([(None, text)], None)
    assert outcome.exit_code == 1
    output = yaml.safe_load(outcome.output)
    assert output["items"] == items
    errors = _internal_errors([(r["severity"], r["message"]) for r in output["results"]])
    assert len(errors) == 1 and "nothing was changed" in errors[0]


def test_without_the_fault_the_same_run_succeeds() -> None:
    # The counterpart of the tests above: the fault, not the config, is what they catch.
    outcome = run_inject([("render.yaml", RENDER)], ConfigSource("config.yaml", CONFIG))
    assert outcome.exit_code == 0
    assert b"example/s3-sync:1.0" in outcome.output


def test_the_input_trees_are_released_before_the_output_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Holding the input's node trees while the output is parsed again doubles the peak memory
    # (312 -> 186 MiB at 100 releases). Twice a stray reference kept them alive: a
    # local tuple in api.py, and the ServiceAccount planning state of the presets.
    documents: list[weakref.ref[Any]] = []
    parse = krmread.parse

    def parse_and_watch(texts: list[tuple[str | None, str]], **options: Any) -> krm.Input:
        parsed = parse(texts, **options)
        if not documents:
            # Documents that no function edits keep no tree (krmlight.Light): nothing to watch.
            trees = [doc for doc in parsed.sources[0].documents if isinstance(doc, yaml.Node)]
            documents.extend(weakref.ref(doc) for doc in trees)
        return parsed

    verify = real_verify

    def verify_once_released(run: Any, output: str, item_count: int) -> str | None:
        alive = [ref for ref in documents if ref() is not None]
        assert not alive, f"{len(alive)} of {len(documents)} input documents are still alive"
        result: str | None = verify(run, output, item_count)
        return result

    monkeypatch.setattr(krmread, "parse", parse_and_watch)
    monkeypatch.setattr(outcomes, "verify", verify_once_released)
    presets = (ROOT / "pipelines" / "examples" / "seed-presets.yaml").read_bytes()
    outcome = run_inject([("render.yaml", RENDER)], ConfigSource("config.yaml", presets))
    assert outcome.exit_code == 0
    assert b"eks.amazonaws.com/role-arn" in outcome.output  # the preset annotated its account
    assert len(documents) > 10
