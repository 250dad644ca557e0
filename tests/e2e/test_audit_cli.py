"""`airflow-sidecars audit` as a cron job or CI step runs it: a live dump on stdin or in a file,
the findings on stdout (a table, or JSON with -o json), a summary line on stderr, and an exit
code a script can act on: 0 all in sync, 1 missing or drifted (with --strict also unrecorded
or orphaned), 2 misuse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from conftest import ROOT, TESTS, run_cli
from support import auditcases, livedump

SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
OUTPUT = TESTS / "golden" / "official-1.15.0-seed" / "expected.yaml"
RECORD = "airflow-sidecars.dev/seed-sidecars"
NATIVE = "official-1.15.0-native-sidecars"  # log-shipper, a native sidecar in the template


def _live() -> list[dict[str, Any]]:
    return livedump.live(livedump.objects(OUTPUT.read_text()), defaults=livedump.api_defaults)


def _template(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = next(
        o
        for o in objects
        if o["metadata"]["name"] == name and o["kind"] in ("Deployment", "StatefulSet")
    )
    template: dict[str, Any] = found["spec"]["template"]
    return template


def test_in_sync_exits_0_with_a_summary() -> None:
    done = run_cli("audit", "--config", SEED, stdin=livedump.dump(_live(), "list").encode())
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "audit: 12 in-sync, 0 missing, 0 drifted, 0 orphaned, 0 unrecorded; "
        "3 of 4 workload(s) audited\n"
    )
    table = done.stdout.decode()
    assert "Deployment/airflow-webserver in namespace airflow  (config seed-sidecars)" in table
    assert "in-sync  container sync-perm" in table


def test_a_missing_sidecar_exits_1_and_json_names_it(tmp_path: Path) -> None:
    objects = _live()
    spec = _template(objects, "airflow-webserver")["spec"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "sync-perm"]
    dump = tmp_path / "live.json"
    dump.write_text(livedump.dump(objects, "json"))
    done = run_cli("audit", "--config", SEED, "-o", "json", dump)
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    assert len(findings) == 12
    assert [f for f in findings if f["state"] != "in-sync"] == [
        {
            "workload": "Deployment/airflow-webserver",
            "namespace": "airflow",
            "config": "seed-sidecars",
            "item": "container sync-perm",
            "state": "missing",
            "diff": [],
        }
    ]
    assert "1 missing" in done.stderr


def test_drift_shows_its_diff_in_the_table() -> None:
    objects = _live()
    sidecar = next(
        c
        for c in _template(objects, "airflow-scheduler")["spec"]["containers"]
        if c["name"] == "s3-sync"
    )
    sidecar["image"] = "amazon/aws-cli:2.18.0"
    done = run_cli("audit", "--config", SEED, stdin=livedump.dump(objects, "lists").encode())
    assert done.returncode == 1
    said = " ".join(done.stdout.decode().split())  # the table's columns, as words
    assert "drifted container s3-sync image: amazon/aws-cli:2.17.0 -> amazon/aws-cli:2.18.0" in said


def test_unrecorded_fails_only_under_strict() -> None:
    objects = _live()
    del _template(objects, "airflow-webserver")["metadata"]["annotations"][RECORD]
    dump = livedump.dump(objects, "single").encode()
    assert run_cli("audit", "--config", SEED, stdin=dump).returncode == 0
    strict = run_cli("audit", "--config", SEED, "--strict", stdin=dump)
    assert strict.returncode == 1
    assert "1 unrecorded" in strict.stderr


def test_misuse_exits_2(tmp_path: Path) -> None:
    dump = livedump.dump(_live(), "list").encode()
    no_config = run_cli("audit", stdin=dump)
    assert no_config.returncode == 2
    assert "--config FILE is required" in no_config.stderr
    assert run_cli("audit", "--config", SEED, "-o", "xml", stdin=dump).returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"apiVersion": "airflow-sidecars.dev/v1alpha1", "kind": "X"}))
    assert run_cli("audit", "--config", bad, stdin=dump).returncode == 2
    assert run_cli("audit", "--config", SEED, stdin=b"").returncode == 2


def test_workloads_and_task_pods_from_two_dumps(tmp_path: Path) -> None:
    """As the README runs it: `kubectl get deploy,sts,cm,sa` and `kubectl get pods -l
    kubernetes_executor=True`, each to a file."""
    objects = auditcases.live(NATIVE)
    config_map = auditcases.find(objects, "ConfigMap", "airflow-config")
    workloads, pods = tmp_path / "workloads.yaml", tmp_path / "task-pods.yaml"
    workloads.write_text(livedump.dump(objects, "list"))
    pods.write_text(livedump.dump([auditcases.task_pod(config_map)], "list"))
    source = auditcases.config(NATIVE).name
    done = run_cli("audit", "--config", source, workloads, pods, "-o", "json")
    assert done.returncode == 0, done.stderr
    found = {(f["workload"], f["item"], f["state"]) for f in json.loads(done.stdout)}
    assert found == {
        ("ConfigMap/airflow-config#pod_template_file.yaml", "initContainer log-shipper", "in-sync"),
        ("Pod/example-dag-run-this-task-k8s7vq2x", "initContainer log-shipper", "in-sync"),
    }


def test_older_template_fails_only_under_strict() -> None:
    objects = auditcases.live(NATIVE)
    config_map = auditcases.find(objects, "ConfigMap", "airflow-config")
    before = auditcases.edited_template(config_map, lambda spec: spec.pop("initContainers"))
    stdin = livedump.dump([*objects, auditcases.task_pod(before)], "list").encode()
    source = auditcases.config(NATIVE).name
    done = run_cli("audit", "--config", source, stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "audit: 1 in-sync, 0 missing, 0 drifted, 0 orphaned, 0 unrecorded, 1 older-template; "
        "1 of 4 workload(s) audited, 1 task pod(s)\n"
    )
    table = done.stdout.decode()
    assert "Pod/example-dag-run-this-task-k8s7vq2x in namespace airflow" in table
    assert "not in this pod: the pod template has it now" in table
    assert run_cli("audit", "--strict", "--config", source, stdin=stdin).returncode == 1


def test_what_could_not_be_audited_is_said_in_either_format() -> None:
    """A dump without the ServiceAccounts the presets annotate: said under the table, or on
    stderr with -o json (stdout stays one JSON document); it does not fail the audit."""
    name = "presets-official-1.15.0-celery"
    objects = [o for o in auditcases.live(name) if o["kind"] != "ServiceAccount"]
    stdin = livedump.dump(objects, "list").encode()
    source = auditcases.config(name).name
    said = "ServiceAccount/airflow-worker: not audited: not in the input"
    table = run_cli("audit", "--config", source, stdin=stdin)
    assert table.returncode == 0, table.stderr
    assert said in table.stdout.decode()
    assert table.stderr.endswith("; 2 not audited\n")
    machine = run_cli("audit", "--config", source, "-o", "json", stdin=stdin)
    assert machine.returncode == 0, machine.stderr
    assert {f["state"] for f in json.loads(machine.stdout)} == {"in-sync"}
    assert f"airflow-sidecars audit: {said}" in machine.stderr
