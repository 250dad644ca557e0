"""inject, validate and audit on the live dumps in tests/fixtures/live-public: Airflow objects
as `kubectl get -o yaml|json` prints them in the forms people paste into issues (that folder's
README says what each file is modelled on, and why none is a verbatim public copy).

What they add to the generated dumps of test_live_dumps.py: a whole `kubectl get
deploy,sts,cm` with the workload-level defaults and a ConfigMap Helm did not make, an old
server's `selfLink` and `managedFields` (whose `k:{"name":...}` keys are YAML a reader must
take), a Deployment in JSON, and running Pods: a KubernetesExecutor task pod and a scheduler's
replica pod, which inject and audit must leave to the objects that own them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_audit, run_inject, run_validate
from airflow_sidecars.transforms.audit import Finding
from conftest import FIXTURES, ROOT, run_cli
from support import livedump

FOLDER = FIXTURES / "live-public"
SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
TASK_POD = "official-1.15.0/task-pod.yaml"


class Dump(NamedTuple):
    """What the seed config finds in a dump: the workloads inject edits and audit audits, and
    how many items it declares for them."""

    workloads: tuple[str, ...]
    declared: int


DUMPS = {
    "official-1.15.0/get-deploy-sts-cm.yaml": Dump(
        (
            "Deployment/airflow-scheduler",
            "Deployment/airflow-webserver",
            "StatefulSet/airflow-worker",
        ),
        12,
    ),
    TASK_POD: Dump((), 0),
    "community-8.9.0/scheduler-deploy-old-server.json": Dump(("Deployment/airflow-scheduler",), 5),
    "community-8.9.0/scheduler-pod-old-server.yaml": Dump((), 0),
}
WITH_WORKLOADS = [name for name, dump in DUMPS.items() if dump.workloads]


def _seed() -> ConfigSource:
    return ConfigSource(str(SEED), SEED.read_bytes())


def _objects(text: bytes | str) -> list[dict[str, Any]]:
    """The objects of a dump in order: a List's items, or the bare objects."""
    found: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(text):
        if document is not None:
            found.extend(document["items"] if document.get("kind") == "List" else [document])
    return found


def _name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _as_dumped(objects: list[dict[str, Any]], like: str) -> str:
    """The objects in the form of the fixture `like`: a List, a bare YAML object or JSON."""
    if like.endswith(".json"):
        (obj,) = objects
        return livedump.to_json(obj)
    if yaml.safe_load((FOLDER / like).read_text()).get("kind") == "List":
        return livedump.to_yaml(livedump.as_list(objects))
    (obj,) = objects
    return livedump.to_yaml(obj)


def _rules(outcome: Outcome) -> set[str]:
    return {result.tags.get("rule", "") for result in outcome.results}


def _findings(text: bytes | str, name: str) -> list[Finding]:
    data = text.encode() if isinstance(text, str) else text
    audited = run_audit([(name, data)], _seed())
    assert not audited.misuse
    assert not audited.problems
    return audited.findings


def test_every_fixture_is_in_the_table() -> None:
    found = [p for p in FOLDER.glob("*/*") if p.suffix in (".yaml", ".json")]
    assert sorted(str(p.relative_to(FOLDER)) for p in found) == sorted(DUMPS)


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_validate_reads_every_object_and_gives_every_byte_back(name: str) -> None:
    """What the server and kubectl add (managedFields, selfLink, status, Helm's and the
    controllers' annotations, a ConfigMap nobody rendered) is no finding: only that the
    seed's items are not there yet, and the sections no workload of the dump takes."""
    data = (FOLDER / name).read_bytes()
    outcome = run_validate([(name, data)], _seed())
    assert outcome.output == data
    assert _rules(outcome) <= {"declared-missing", "no-match"}
    said = {f"{r.resource.kind}/{r.resource.name}" for r in outcome.results if r.resource}
    assert said - {"AirflowSidecars/seed-sidecars"} == set(DUMPS[name].workloads)


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_inject_edits_only_the_workloads_and_again_changes_nothing(name: str) -> None:
    data = (FOLDER / name).read_bytes()
    first = run_inject([(name, data)], _seed())
    assert first.exit_code == 0, [r.line() for r in first.results]
    assert "name-conflict" not in _rules(first)
    before, after = _objects(data), _objects(first.output)
    assert [_name(o) for o in after] == [_name(o) for o in before]  # every object, in order
    edited = [_name(b) for b, a in zip(before, after, strict=True) if a != b]
    assert edited == list(DUMPS[name].workloads)
    if not edited:
        assert first.output == data
    if name.endswith(".json"):
        assert isinstance(json.loads(first.output), dict)  # JSON, not a stream of YAML

    again = run_inject([(name, first.output)], _seed())
    assert again.exit_code == 0
    assert again.output == first.output
    assert not _rules(again) & {"added", "name-conflict"}


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_the_command_line_reads_each_dump_without_a_traceback(name: str) -> None:
    path = FOLDER / name
    done = run_cli("inject", "--config", SEED, path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == run_inject([(str(path), path.read_bytes())], _seed()).output


@pytest.mark.parametrize("name", WITH_WORKLOADS)
def test_audit_before_inject_finds_every_declared_item_missing(name: str) -> None:
    findings = _findings((FOLDER / name).read_bytes(), name)
    assert len(findings) == DUMPS[name].declared
    assert {f.state for f in findings} == {"missing"}
    assert sorted({f.workload for f in findings}) == sorted(DUMPS[name].workloads)
    assert {f.config for f in findings} == {"seed-sidecars"}


@pytest.mark.parametrize("name", WITH_WORKLOADS)
def test_audit_after_inject_and_the_servers_defaults_is_in_sync(name: str) -> None:
    """inject's output, installed: the API server fills in its defaults in what inject
    added (livedump.api_defaults), and audit holds the same items, each in sync."""
    data = (FOLDER / name).read_bytes()
    injected = run_inject([(name, data)], _seed())
    live = [livedump.api_defaults(obj) for obj in _objects(injected.output)]
    before = _findings(data, name)
    after = _findings(_as_dumped(live, name), name)
    assert [f.state for f in after] == ["in-sync"] * DUMPS[name].declared
    assert [(f.workload, f.item) for f in after] == [(f.workload, f.item) for f in before]


def test_a_scheduler_replica_pod_is_left_to_its_deployment() -> None:
    """A Pod a ReplicaSet made is not the workload: audit reads the Deployment, and of the
    pod alone says nothing (it is no KubernetesExecutor task pod)."""
    name = "community-8.9.0/scheduler-pod-old-server.yaml"
    audited = run_audit([(name, (FOLDER / name).read_bytes())], _seed())
    assert (audited.findings, audited.problems, audited.misuse, audited.workloads) == (
        [],
        [],
        [],
        0,
    )


def _template_items() -> list[str]:
    """What the seed declares for the KubernetesExecutor pod template of the chart render the
    task pod was made from, as audit says it of the live ConfigMap."""
    render = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_text()
    live = livedump.live(livedump.objects(render))
    findings = _findings(livedump.dump(live, "list"), "live.yaml")
    template = "ConfigMap/airflow-config#pod_template_file.yaml"
    items = [f.item for f in findings if f.workload == template]
    assert items == [
        "container worker-kerberos",
        "volume keytab",
        "volume kerberos-ccache",
        "mount /var/kerberos-ccache in base",
    ]
    return items


def _task_pod_with(render: str, config: ConfigSource) -> tuple[list[Finding], list[str]]:
    """The task pod audited with the live objects of `render` (its pod template's release):
    its findings, and the items declared for the template."""
    live = livedump.live(livedump.objects(render), defaults=livedump.api_defaults)
    inputs: list[tuple[str | None, bytes]] = [
        ("live.yaml", livedump.dump(live, "list").encode()),
        (TASK_POD, (FOLDER / TASK_POD).read_bytes()),
    ]
    audited = run_audit(inputs, config)
    assert (audited.misuse, audited.problems) == ([], [])
    pod = yaml.safe_load((FOLDER / TASK_POD).read_text())
    template = "ConfigMap/airflow-config#pod_template_file.yaml"
    return (
        [f for f in audited.findings if f.workload == f"Pod/{pod['metadata']['name']}"],
        [f.item for f in audited.findings if f.workload == template],
    )


def test_a_task_pod_shares_the_state_of_its_template_without_the_workers_items() -> None:
    """A running task pod (label `kubernetes_executor: "True"`) made from the chart's template,
    which still lacks the seed's worker items: audit names the pod and each item the seed
    declares for task pods, missing as in the template; never the scheduler's or the
    webserver's items."""
    render = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_text()
    findings, _ = _task_pod_with(render, _seed())
    assert [(f.item, f.state) for f in findings] == [
        (item, "missing") for item in _template_items()
    ]


def test_a_task_pod_from_before_inject_is_older_template(tmp_path: Path) -> None:
    """The same pod once the template has the seed's items (its worker sidecar native, as
    task pods need): made from an older template."""
    seed = yaml.safe_load(SEED.read_text())
    seed["spec"]["workers"]["nativeSidecars"] = True
    path = tmp_path / "sidecars.yaml"
    path.write_text(yaml.safe_dump(seed))
    config = ConfigSource(str(path), path.read_bytes())
    render = FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml"
    injected = run_inject([(render.name, render.read_bytes())], config)
    assert injected.exit_code == 0, [result.line() for result in injected.results]
    findings, items = _task_pod_with(injected.output.decode(), config)
    assert "initContainer worker-kerberos" in items
    assert [(f.item, f.state) for f in findings] == [(item, "older-template") for item in items]
    assert {f.diff for f in findings} == {("not in this pod: the pod template has it now",)}


def test_a_task_pod_without_its_template_in_the_input_is_said() -> None:
    audited = run_audit([(TASK_POD, (FOLDER / TASK_POD).read_bytes())], _seed())
    assert audited.findings == []
    (problem,) = audited.problems
    assert not problem.blocking
    assert "no pod template of its namespace in the input" in problem.message
