"""ServiceAccount annotations that presets ask for (IRSA's role ARN), set on the accounts the
pods run as, and the warning when an annotated account reaches other pods too."""

from __future__ import annotations

from typing import Any

import yaml

from airflow_sidecars.configuration.config import CarriedAnnotations, Config
from airflow_sidecars.krmio import krm
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.planning.edits import TAG, Run, WantedAnnotations, result, set_annotation
from airflow_sidecars.recording import records
from airflow_sidecars.recording.recordshape import RecordError
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.renders.release import Release, ReleaseKey
from airflow_sidecars.text.yamlread import Path, UnsupportedYaml, dotted, node_at, scalar_at

Account = tuple[str | None, str]  # (namespace, name)


def account_of(workload: Workload, pod: dict[str, Any]) -> Account:
    """The ServiceAccount a pod runs as: its own, or else its namespace's `default`."""
    return (workload.item.namespace, str(pod.get("serviceAccountName") or "default"))


class Asked:
    """What a config's presets ask of each ServiceAccount, gathered pod by pod: what prune
    keeps (or vouches for) and audit holds the accounts against."""

    def __init__(self) -> None:
        self.values: dict[Account, dict[str, str]] = {}

    def ask(self, workload: Workload, pod: dict[str, Any], annotations: dict[str, str]) -> None:
        if annotations:
            self.values.setdefault(account_of(workload, pod), {}).update(annotations)

    def of(self, account: Account) -> dict[str, str]:
        return self.values.get(account, {})


def ask(run: Run, workload: Workload, pod: dict[str, Any], annotations: dict[str, str]) -> None:
    """Record that this pod's ServiceAccount should carry `annotations`."""
    key = account_of(workload, pod)
    wanted = run.annotations.setdefault(key, WantedAnnotations(workload, {}, set()))
    wanted.values.update(annotations)
    wanted.askers.add((workload.item.position, workload.pod_path))


def annotate(
    run: Run, known_releases: dict[ReleaseKey, Release], config: Config, hooks_only: bool = False
) -> CarriedAnnotations:
    """Set the annotations presets ask for on the ServiceAccounts the pods run as. On the Helm 4
    plugin route (`config.helm_run`), also those an earlier call of the same Helm run handed on;
    and from a hooks stream (`hooks_only`), what it cannot set is handed on (returned): Helm 4's
    `separate` strategy gives the hooks' ServiceAccounts, which are not hooks, to the next call."""
    _annotate_carried(run, known_releases, config)
    handed: list[tuple[str | None, str, tuple[tuple[str, str], ...]]] = []
    for (namespace, name), (workload, wanted, _) in _in_order(run):
        release = known_releases.get((workload.release, namespace)) or known_releases.get(
            (None, namespace)
        )
        account = release.service_accounts.get(name) if release is not None else None
        if account is None and hooks_only and config.helm_run is not None:
            handed.append((namespace, name, tuple(sorted(wanted.items()))))
            message = (
                f"the pods run as ServiceAccount {name!r}, which is not in this stream of Helm "
                "hooks: handed on to the call with the rest of this Helm run, which annotates it "
                "with " + ", ".join(f"{k}: {v}" for k, v in sorted(wanted.items()))
            )
            run.results.append(result(workload, "info", message, None, "service-account"))
            continue
        if account is None:
            message = (
                f"the pods run as ServiceAccount {name!r}, which is not in the input: annotate "
                "it yourself with " + ", ".join(f"{k}: {v}" for k, v in wanted.items())
            )
            run.results.append(result(workload, "warning", message, None, "service-account"))
            continue
        added = {
            key
            for key, value in wanted.items()
            if _set_annotation(run, account, key, value, config)
        }
        _record(run, account, config, wanted, added)
    return tuple(handed)


def _annotate_carried(run: Run, known_releases: dict[ReleaseKey, Release], config: Config) -> None:
    """The annotations the hooks call of this Helm run handed on: merged into what this
    stream's pods ask of the same ServiceAccount, else set on the account here (with the same
    record, so that validate and remove see them)."""
    for namespace, name, pairs in config.helm_run.annotations if config.helm_run else ():
        wanted = run.annotations.get((namespace, name))
        if wanted is not None:
            wanted.values.update(pairs)
            continue
        account = _account_in(known_releases, namespace, name)
        values = dict(pairs)
        if account is None:
            message = (
                f"the Helm hooks' pods run as ServiceAccount {name!r}, which is in neither of "
                "this Helm run's streams: annotate it yourself with "
                + ", ".join(f"{k}: {v}" for k, v in pairs)
            )
            tags = {**TAG, "rule": "service-account"}
            run.results.append(Result(message, "warning", config.ref, None, None, tags))
            continue
        added = {key for key, value in pairs if _set_annotation(run, account, key, value, config)}
        _record(run, account, config, values, added)


def _account_in(
    known_releases: dict[ReleaseKey, Release], namespace: str | None, name: str
) -> krm.Item | None:
    """The ServiceAccount `name` in `namespace`, of whichever release holds it."""
    for (_, release_namespace), release in sorted(
        known_releases.items(), key=lambda entry: (entry[0][0] or "", entry[0][1] or "")
    ):
        if release_namespace == namespace and name in release.service_accounts:
            return release.service_accounts[name]
    return None


def warn_shared(run: Run, every: list[Workload]) -> None:
    """An annotation on a ServiceAccount reaches every pod that runs as it. The community chart
    runs all its pods as one ServiceAccount: the bucket role (IRSA) then reaches the webserver,
    the triggerer and the rest too. Say which pods, so the widening is a decision."""
    for (namespace, name), (asker, wanted, askers) in _in_order(run):
        others = sorted(
            {
                f"{w.item.kind} {w.item.name}"
                for w in every
                if not w.is_pod_template
                and w.item.namespace == namespace
                and (w.item.position, w.pod_path) not in askers
                and (scalar_at(node_at(w.item.node, w.pod_path), "serviceAccountName") or "default")
                == name
            }
        )
        if others:
            message = (
                f"ServiceAccount {name!r} gets {', '.join(sorted(wanted))} for the preset's pods, "
                f"and other pods run as it too ({', '.join(others)}): they get the same role. "
                "Give those pods their own ServiceAccount to keep the role narrow"
            )
            run.results.append(result(asker, "warning", message, None, "service-account"))


def _in_order(run: Run) -> list[tuple[tuple[str | None, str], WantedAnnotations]]:
    return sorted(run.annotations.items(), key=lambda entry: (entry[0][0] or "", entry[0][1]))


def _record(
    run: Run, item: krm.Item, config: Config, wanted: dict[str, str], added: set[str]
) -> None:
    """The ServiceAccount's record of this config: the annotations it added and still wants,
    each with the digest of the value it set."""
    name = records.key(config.name)
    try:
        old = records.read(node_at(item.node, ("metadata", "annotations")), name)
    except RecordError:
        return  # prune has said so, as an error: nothing of this run is applied
    kept = set(wanted) & _annotations(old)
    items = {("annotation", key) for key in added | kept}
    digests: dict[records.Item, str] = {
        ("annotation", key): records.digest(wanted[key]) for key in added | kept
    }
    record = records.Record(items, digests=digests)
    try:
        set_annotation(run, item, ANNOTATIONS, (name, record.dumps() if record else None))
    except UnsupportedYaml as error:
        tags = {**TAG, "rule": "unsupported-yaml"}
        run.results.append(item.result(str(error), "error", None, tags))


def _annotations(record: records.Record | None) -> set[str]:
    return {item[1] for item in record.items if item[0] == "annotation"} if record else set()


ANNOTATIONS: Path = ("metadata", "annotations")


def _set_annotation(run: Run, item: krm.Item, key: str, value: str, config: Config) -> bool:
    """Set one annotation a preset wants; whether it was not there before (so, ours)."""
    path: Path = (*ANNOTATIONS, key)
    current = node_at(item.node, path)
    tags = {**TAG, "rule": "service-account"}
    if isinstance(current, yaml.ScalarNode) and current.value == value:
        return False
    if current is not None and config.on_conflict != "replace":
        message = (
            f"annotation {key} is already {getattr(current, 'value', '?')!r}; a preset wants "
            f"{value!r} (set spec.onConflict: replace to replace it)"
        )
        run.results.append(item.result(message, "error", dotted(path), tags))
        return False
    try:
        set_annotation(run, item, ANNOTATIONS, (key, value))
    except UnsupportedYaml as error:
        run.results.append(item.result(str(error), "error", dotted(path), tags))
        return False
    run.results.append(item.result(f"annotated {key}: {value}", "info", dotted(path), tags))
    missing = f"a preset needs the annotation {key}: {value}, not here"
    missing_tags = {**TAG, "rule": "declared-missing"}
    run.declared_missing.append(item.result(missing, "error", dotted(path), missing_tags))
    return current is None
