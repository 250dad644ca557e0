"""audit on a large stream runs it part by part (whole releases and namespaces at a time, as
inject does), and says exactly what one run over the whole stream says: the same findings in
the same order, task pods held against their own namespace's template.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_sidecars.configuration.config import from_input
from airflow_sidecars.krmio import krm
from airflow_sidecars.runs import api, chunks
from support import livedump
from support.auditcases import config, edited_template, find, live, task_pod

CASE = "official-1.15.0-native-sidecars"  # a template with a native sidecar
RELEASES = 80  # some 60 kB of live objects each: past chunks.THRESHOLD


def _stream(with_task_pods: bool) -> bytes:
    """RELEASES copies of the case's live objects, each a release in a namespace of its own;
    every other release's template lost its sidecar, and with `with_task_pods` each has a
    task pod made from the template as it was before that."""
    objects = []
    for number in range(RELEASES):
        release = f"airflow-{number:02d}"
        copied = copy.deepcopy(live(CASE))
        for obj in copied:
            obj["metadata"]["namespace"] = release
            for labels in _release_labels(obj):
                labels["release"] = release
        config_map = find(copied, "ConfigMap", "airflow-config")
        key = "pod_template_file.yaml"
        config_map["data"][key] = config_map["data"][key].replace(
            "release: airflow\n", f"release: {release}\n"
        )
        if with_task_pods:
            made_from = edited_template(config_map, _older_image) if number % 3 else config_map
            copied.append(task_pod(made_from))
        if number % 2:
            config_map["data"][key] = config_map["data"][key].replace("log-shipper", "shipper")
        objects += copied
    return livedump.dump(objects, "single").encode()


def _older_image(spec: dict[str, Any]) -> None:
    spec["initContainers"][0]["image"] = "fluent/fluent-bit:3.1.8"


def _release_labels(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The label maps of an object and its pod template that name the release."""
    template = (obj.get("spec") or {}).get("template") or {}
    found = [obj["metadata"].get("labels"), (template.get("metadata") or {}).get("labels")]
    return [labels for labels in found if isinstance(labels, dict) and "release" in labels]


@pytest.mark.parametrize("with_task_pods", [False, True], ids=["workloads", "task-pods"])
def test_a_large_stream_is_audited_in_parts_as_one_run_would(with_task_pods: bool) -> None:
    stream = _stream(with_task_pods)
    source = config(CASE)
    loaded = from_input(None, source, required=True)
    assert loaded is not None
    pieces = list(api._audit_pieces([(None, krm.decode(stream, None))], loaded))
    assert len(stream) > chunks.THRESHOLD
    assert len(pieces) > 1
    in_parts = api.run_audit([(None, stream)], source)
    # Two inputs are never cut into parts: one run over all of it.
    whole = api.run_audit([(None, stream), ("empty.yaml", b"")], source)
    assert in_parts == whole
    states = {finding.state for finding in whole.findings}
    assert states == (
        {"in-sync", "missing", "older-template"} if with_task_pods else {"in-sync", "missing"}
    )
