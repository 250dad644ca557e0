"""audit on running KubernetesExecutor task pods: a pod made from the pod template as it is now
is in sync (with what Airflow, admission and the Pod defaults add); one made from an older
template says so (`older-template`, with what differs); one made from a template that is itself
missing its sidecars shares the template's state; a `checksum/...` the pod carries is held
against its release's workloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import run_audit, run_inject
from conftest import FIXTURES, config_yaml
from support import livedump
from support.auditcases import (
    CASES,
    OFFICIAL_KEY,
    audit,
    config,
    config_file,
    edited_template,
    find,
    live,
    not_in_sync,
    task_pod,
    templates,
)

Object = dict[str, Any]
NATIVE = "official-1.15.0-native-sidecars"  # log-shipper, a native sidecar in the template
PRESETS = "presets-official-1.15.0-kubernetes-executor"  # kerberos and more in the template


def _task_findings(findings: list[Any]) -> list[Any]:
    return [f for f in findings if f.workload.startswith("Pod/")]


TEMPLATE_CASES = [name for name in CASES if templates(live(name))]


@pytest.mark.parametrize("name", TEMPLATE_CASES)
def test_a_task_pod_of_every_golden_template_is_in_sync(name: str) -> None:
    objects = live(name)
    pods = [task_pod(cm, key) for cm, key in templates(objects)]
    findings = audit([*objects, *pods], config(name))
    assert [f for f in findings if f.state != "in-sync"] == []
    declared_for_template = [f for f in findings if "#" in f.workload]
    assert len(_task_findings(findings)) == len(declared_for_template) > 0


def test_there_are_golden_templates_to_audit() -> None:
    assert NATIVE in TEMPLATE_CASES
    assert PRESETS in TEMPLATE_CASES


def test_a_task_pod_from_the_template_before_inject_is_older_template() -> None:
    """The post-renderer ran at the last upgrade; the pod was made before it."""
    objects = live(NATIVE)
    config_map = find(objects, "ConfigMap", "airflow-config")
    before = edited_template(config_map, lambda spec: spec.pop("initContainers"))
    findings = audit([*objects, task_pod(before)], config(NATIVE))
    assert not_in_sync(findings) == [
        (
            "Pod/example-dag-run-this-task-k8s7vq2x",
            "native-sidecars",
            "initContainer log-shipper",
            "older-template",
        )
    ]
    (older,) = [f for f in findings if f.state == "older-template"]
    assert older.diff == ("not in this pod: the pod template has it now",)


def test_an_older_sidecar_image_in_a_task_pod_is_older_template_with_the_diff() -> None:
    objects = live(NATIVE)
    config_map = find(objects, "ConfigMap", "airflow-config")

    def older_image(spec: Object) -> None:
        spec["initContainers"][0]["image"] = "fluent/fluent-bit:3.1.8"

    findings = audit([*objects, task_pod(edited_template(config_map, older_image))], config(NATIVE))
    (older,) = [f for f in findings if f.state != "in-sync"]
    assert (older.item, older.state) == ("initContainer log-shipper", "older-template")
    assert older.diff == ("image: fluent/fluent-bit:3.1.9 -> fluent/fluent-bit:3.1.8",)


def test_a_task_pod_shares_the_state_of_a_template_that_lost_its_sidecars() -> None:
    """`helm upgrade` without the post-renderer: the template and the pods made from it both
    lack the sidecar, and the template is what to fix."""
    render = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_text()
    objects = livedump.live(livedump.objects(render), defaults=livedump.api_defaults)
    pod = task_pod(find(objects, "ConfigMap", "airflow-config"))
    findings = audit([*objects, pod], config(NATIVE))
    assert not_in_sync(findings) == [
        ("ConfigMap/airflow-config#pod_template_file.yaml", "native-sidecars", item, "missing")
        for item in ["initContainer log-shipper"]
    ] + [
        ("Pod/example-dag-run-this-task-k8s7vq2x", "native-sidecars", item, "missing")
        for item in ["initContainer log-shipper"]
    ]


def test_a_sidecar_edited_in_a_running_task_pod_is_drifted_only_when_the_template_agrees() -> None:
    """A running pod's image can be patched (`kubectl set image`): when the template as it is
    now differs from the pod, the pod's item is older-template; when the template has the same
    drift, both are drifted."""
    objects = live(NATIVE)
    config_map = find(objects, "ConfigMap", "airflow-config")

    def drifted(spec: Object) -> None:
        spec["initContainers"][0]["image"] = "fluent/fluent-bit:3.2.0"

    both = [
        *[o for o in objects if o is not config_map],
        edited_template(config_map, drifted),
        task_pod(edited_template(config_map, drifted)),
    ]
    assert {f.state for f in audit(both, config(NATIVE)) if f.state != "in-sync"} == {"drifted"}


def _injected(
    tmp_path: Path, spec: Object, render: str = "official-1.15.0/02-kubernetes-executor.yaml"
) -> tuple[list[Object], Path]:
    """A render with a config of `spec` injected, as a live dump; and the config's file."""
    path = tmp_path / "sidecars.yaml"
    path.write_bytes(config_yaml(spec, "task-pods"))
    injected = run_inject([(render, (FIXTURES / render).read_bytes())], config_file(path))
    assert injected.exit_code == 0, [result.line() for result in injected.results]
    output = injected.output.decode()
    return livedump.live(livedump.objects(output), defaults=livedump.api_defaults), path


def test_requests_copied_from_limits_in_a_task_pod_are_no_drift(tmp_path: Path) -> None:
    """The Pod defaults (SetDefaults_Pod copies limits into requests) apply to task pods and
    not to templates: a sidecar with limits only is in sync in both."""
    shipper = {
        "name": "log-shipper",
        "image": "fluent/fluent-bit:3.1.9",
        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
    }
    objects, path = _injected(
        tmp_path, {"workers": {"nativeSidecars": True, "extraContainers": [shipper]}}
    )
    ((config_map, key),) = templates(objects)
    pod = task_pod(config_map, key)
    (sidecar,) = pod["spec"]["initContainers"]
    assert sidecar["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}
    findings = audit([*objects, pod], config_file(path))
    assert [(f.item, f.state) for f in _task_findings(findings)] == [
        ("initContainer log-shipper", "in-sync")
    ]
    assert [f for f in findings if f.state != "in-sync"] == []


def test_a_checksum_the_task_pod_carries_is_held_against_its_release() -> None:
    objects = live(PRESETS)
    scheduler = find(objects, "Deployment", "airflow-scheduler")
    now = scheduler["spec"]["template"]["metadata"]["annotations"]["checksum/airflow-config"]
    config_map = find(objects, "ConfigMap", "airflow-config")
    current, older = task_pod(config_map, name="current-pod"), task_pod(config_map, name="old-pod")
    current["metadata"]["annotations"]["checksum/airflow-config"] = now
    older["metadata"]["annotations"]["checksum/airflow-config"] = "0" * 64
    findings = audit([*objects, current, older], config(PRESETS))
    assert not_in_sync(findings) == [
        ("Pod/old-pod", "seed-presets", "annotation checksum/airflow-config", "older-template")
    ]
    (found,) = [f for f in findings if f.state != "in-sync"]
    assert found.diff == (f"checksum/airflow-config: {now[:57]}... -> {'0' * 57}...",)


def test_pods_that_are_not_task_pods_are_not_audited() -> None:
    """A scheduler's replica pod is its Deployment's business: the audit holds the
    Deployment, not each pod."""
    objects = live(NATIVE)
    replica = livedump.api_defaults(
        livedump.replica_pod(find(objects, "Deployment", "airflow-scheduler"))
    )
    assert _task_findings(audit([*objects, replica], config(NATIVE))) == []


def test_a_community_chart_task_pod_is_matched_by_its_namespace(tmp_path: Path) -> None:
    """The community chart's template labels its pods with nothing: its task pods carry only
    Airflow's labels, and the template of their namespace is theirs."""
    relay = {"name": "statsd-relay", "image": "busybox:1.36"}
    objects, path = _injected(
        tmp_path,
        {
            "airflow": {
                "nativeSidecars": True,
                "kubernetesPodTemplate": {"extraContainers": [relay]},
            }
        },
        "community-8.9.0/03-celery-kubernetes-executor.yaml",
    )
    ((config_map, key),) = templates(objects)
    pod = task_pod(config_map, key)
    assert "release" not in pod["metadata"]["labels"]
    findings = audit([*objects, pod], config_file(path))
    tasks = _task_findings(findings)
    assert [(f.item, f.state) for f in tasks] == [("initContainer statsd-relay", "in-sync")]
    assert [f for f in findings if f.state != "in-sync"] == []


def test_a_task_pod_of_one_of_two_templates_without_a_release_label_is_said() -> None:
    objects = live(NATIVE)
    config_map = find(objects, "ConfigMap", "airflow-config")
    other = yaml.safe_load(yaml.safe_dump(config_map))
    other["metadata"]["name"] = "other-airflow-config"
    other["metadata"]["labels"]["release"] = "other"
    pod = task_pod(config_map)
    del pod["metadata"]["labels"]["release"]
    audited = run_audit(
        [(None, livedump.dump([*objects, other, pod], "list").encode())], config(NATIVE)
    )
    (problem,) = audited.problems
    assert problem.workload == "Pod/example-dag-run-this-task-k8s7vq2x"
    assert not problem.blocking
    assert "more than one pod template" in problem.message
    assert _task_findings(audited.findings) == []


def test_a_task_pod_whose_template_cannot_be_read_points_at_it() -> None:
    objects = live(NATIVE)
    config_map = find(objects, "ConfigMap", "airflow-config")
    pod = task_pod(config_map)
    config_map["data"][OFFICIAL_KEY] = "spec: [unclosed\n"
    audited = run_audit([(None, livedump.dump([*objects, pod], "list").encode())], config(NATIVE))
    template = "ConfigMap/airflow-config#pod_template_file.yaml"
    assert [(p.workload, p.blocking) for p in audited.problems] == [
        (template, True),
        ("Pod/example-dag-run-this-task-k8s7vq2x", False),
    ]
    assert f"could not be read ({template}: see its own line)" in audited.problems[1].message
    assert _task_findings(audited.findings) == []
