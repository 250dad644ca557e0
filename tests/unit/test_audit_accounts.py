"""audit on the ServiceAccounts presets annotate (IRSA's role ARN): in sync after inject; an
annotation taken away, changed, kept without its record, or no longer asked for is reported
as missing, drifted, unrecorded or orphaned, naming the account, the annotation and the config;
an account the input does not hold is said, without failing the audit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import run_audit
from support import livedump
from support.auditcases import ROOT, audit, config, config_file, find, live, not_in_sync

CASE = "presets-official-1.15.0-celery"
ROLE = "eks.amazonaws.com/role-arn"
ARN = "arn:aws:iam::123456789012:role/airflow-dag-sync"
RECORD = "airflow-sidecars.dev/seed-presets"
ITEM = f"annotation {ROLE}"


def _changed(change: Any) -> list[tuple[str, str, str, str]]:
    objects = live(CASE)
    change(find(objects, "ServiceAccount", "airflow-worker")["metadata"]["annotations"])
    return not_in_sync(audit(objects, config(CASE)))


def test_the_annotated_accounts_are_in_sync() -> None:
    findings = audit(live(CASE), config(CASE))
    accounts = [(f.workload, f.item, f.state) for f in findings if "ServiceAccount" in f.workload]
    assert accounts == [
        ("ServiceAccount/airflow-scheduler", ITEM, "in-sync"),
        ("ServiceAccount/airflow-worker", ITEM, "in-sync"),
    ]


@pytest.mark.parametrize(
    ("change", "state"),
    [
        (lambda annotations: annotations.pop(ROLE), "missing"),
        (lambda annotations: annotations.update({ROLE: ARN + "-old"}), "drifted"),
        (lambda annotations: annotations.pop(RECORD), "unrecorded"),
    ],
    ids=["missing", "drifted", "unrecorded"],
)
def test_a_changed_annotation_is_reported_as_its_kind(change: Any, state: str) -> None:
    assert _changed(change) == [("ServiceAccount/airflow-worker", "seed-presets", ITEM, state)]


def test_a_drifted_annotation_shows_both_values() -> None:
    objects = live(CASE)
    find(objects, "ServiceAccount", "airflow-worker")["metadata"]["annotations"][ROLE] = "arn:x"
    (drifted,) = [f for f in audit(objects, config(CASE)) if f.state == "drifted"]
    assert drifted.diff == (f"value: {ARN} -> arn:x",)


def test_an_annotation_the_config_no_longer_asks_for_is_orphaned(tmp_path: Path) -> None:
    """The s3Sync preset dropped: its sidecars and its role annotation are orphaned."""
    source = yaml.safe_load((ROOT / "pipelines" / "examples" / "seed-presets.yaml").read_text())
    del source["spec"]["presets"]["s3Sync"]
    path = tmp_path / "sidecars.yaml"
    path.write_text(yaml.safe_dump(source))
    findings = audit(live(CASE), config_file(path))
    accounts = [(f.workload, f.item, f.state) for f in findings if "ServiceAccount" in f.workload]
    assert accounts == [
        ("ServiceAccount/airflow-scheduler", ITEM, "orphaned"),
        ("ServiceAccount/airflow-worker", ITEM, "orphaned"),
    ]


def test_an_account_not_in_the_input_is_said_and_does_not_fail() -> None:
    """`kubectl get deploy,sts,cm` holds no ServiceAccounts."""
    objects = [o for o in live(CASE) if o["kind"] != "ServiceAccount"]
    audited = run_audit([(None, livedump.dump(objects, "list").encode())], config(CASE))
    assert [(p.workload, p.blocking) for p in audited.problems] == [
        ("ServiceAccount/airflow-scheduler", False),
        ("ServiceAccount/airflow-worker", False),
    ]
    assert "add `sa` to the kubectl get" in audited.problems[0].message
    assert {f.state for f in audited.findings} == {"in-sync"}
