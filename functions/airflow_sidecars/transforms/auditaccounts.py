"""The audit of ServiceAccounts: the annotations presets ask for (IRSA's role ARN, Workload
Identity's service account) held against the accounts in the live input, with the record
inject leaves on each account (planning/serviceaccounts.py).

An annotation is `in-sync` (the value asked for, recorded), `unrecorded` (that value, without
a record: set by hand or by the chart's own values), `missing`, `drifted` (another value) or
`orphaned` (recorded, no longer asked for). An account the pods run as that is not in the
input cannot be judged: that is said, and does not fail the audit (a dump of
`kubectl get deploy,sts,cm` has no ServiceAccounts).
"""

from __future__ import annotations

from typing import Any

from airflow_sidecars.configuration.config import Config
from airflow_sidecars.krmio import krm
from airflow_sidecars.planning.serviceaccounts import Account, Asked
from airflow_sidecars.recording import records
from airflow_sidecars.recording.recordshape import RecordError
from airflow_sidecars.text.yamlread import UnsupportedYaml, node_at, to_data
from airflow_sidecars.transforms.auditstates import Finding, Here, Problem, shown


def audit(
    items: list[krm.Item], wanted: Asked, config: Config, problems: list[Problem]
) -> list[Finding]:
    """Each annotation asked for or recorded, on each ServiceAccount of the input."""
    key = records.key(config.name)
    findings: list[Finding] = []
    seen: set[Account] = set()
    for item in items:
        if item.kind != "ServiceAccount" or item.is_local_config or item.name is None:
            continue
        account = (item.namespace, item.name)
        name = f"ServiceAccount/{item.name}"
        node = node_at(item.node, ("metadata", "annotations"))
        try:
            record = records.read(node, key) or records.Record()
            live = to_data(node, f"ServiceAccount {item.name}") if node is not None else {}
        except (RecordError, UnsupportedYaml) as error:
            problems.append(Problem(name, str(error)))
            continue
        declared = wanted.of(account)
        seen.add(account)
        here = Here(name, item.namespace, config.name)
        present = live if isinstance(live, dict) else {}
        findings += [
            _judge(here, annotation, value, present, record)
            for annotation, value in sorted(declared.items())
        ]
        asked = {("annotation", annotation) for annotation in declared}
        findings += [
            here.at(entry, "orphaned")
            for entry in sorted(record.items - asked)
            if entry[0] == "annotation"
        ]
    for (namespace, account_name), declared in sorted(
        wanted.values.items(), key=lambda entry: (entry[0][0] or "", entry[0][1])
    ):
        if (namespace, account_name) not in seen:
            message = (
                "not in the input, so its annotations ("
                + ", ".join(sorted(declared))
                + ") are not audited: add `sa` to the kubectl get"
            )
            problems.append(Problem(f"ServiceAccount/{account_name}", message, blocking=False))
    return findings


def _judge(
    here: Here, annotation: str, value: str, live: dict[Any, Any], record: records.Record
) -> Finding:
    item = ("annotation", annotation)
    found = live.get(annotation)
    if found is None:
        return here.at(item, "missing")
    if str(found) == value:
        return here.at(item, "in-sync" if item in record.items else "unrecorded")
    return here.at(item, "drifted", (f"value: {shown(value)} -> {shown(found)}",))
