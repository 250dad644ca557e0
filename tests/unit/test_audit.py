"""audit on live dumps: every golden case's output, as the API server returns it after Helm
installed it (tests/support/livedump.py, with the API server's defaults), is in sync with the
case's config; each drift kind, made by hand in such a dump, is reported as that kind, naming
the workload, the item and the config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource
from conftest import FIXTURES
from support import livedump
from support.auditcases import CASES, SEED, find, not_in_sync
from support.auditcases import audit as _audit
from support.auditcases import config as _config
from support.auditcases import live as _live

RECORD = "airflow-sidecars.dev/seed-sidecars"


@pytest.mark.parametrize("name", CASES)
def test_every_golden_output_is_in_sync_when_live(name: str) -> None:
    findings = _audit(_live(name), _config(name))
    assert [f for f in findings if f.state != "in-sync"] == []


@pytest.mark.parametrize("form", livedump.FORMS)
def test_the_seed_is_in_sync_in_every_kubectl_form(form: str) -> None:
    findings = _audit(_live("official-1.15.0-seed"), _config("official-1.15.0-seed"), form)
    assert len(findings) == 12
    assert {f.state for f in findings} == {"in-sync"}


def _seed() -> list[dict[str, Any]]:
    return _live("official-1.15.0-seed")


def _container(objects: list[dict[str, Any]], kind: str, name: str, container: str) -> Any:
    spec = find(objects, kind, name)["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == container)


def test_a_sidecar_taken_away_is_missing() -> None:
    objects = _seed()
    spec = find(objects, "Deployment", "airflow-webserver")["spec"]["template"]["spec"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "sync-perm"]
    findings = _audit(objects, ConfigSource(str(SEED), SEED.read_bytes()))
    assert not_in_sync(findings) == [
        ("Deployment/airflow-webserver", "seed-sidecars", "container sync-perm", "missing")
    ]


@pytest.mark.parametrize(
    ("change", "diff"),
    [
        (
            lambda c: c.update(image="amazon/aws-cli:2.18.0"),
            "image: amazon/aws-cli:2.17.0 -> amazon/aws-cli:2.18.0",
        ),
        (lambda c: c.update(args=["sleep infinity"]), "args: "),
        (lambda c: c["env"][0].update(value="another-bucket"), "env: "),
        (lambda c: c["volumeMounts"][0].update(mountPath="/dags"), "volumeMounts: "),
    ],
    ids=["image", "args", "env", "mount"],
)
def test_a_changed_sidecar_is_drifted_with_a_diff(change: Any, diff: str) -> None:
    objects = _seed()
    change(_container(objects, "Deployment", "airflow-scheduler", "s3-sync"))
    findings = _audit(objects, ConfigSource(str(SEED), SEED.read_bytes()))
    assert not_in_sync(findings) == [
        ("Deployment/airflow-scheduler", "seed-sidecars", "container s3-sync", "drifted")
    ]
    (drifted,) = [f for f in findings if f.state == "drifted"]
    assert len(drifted.diff) == 1
    assert drifted.diff[0].startswith(diff)


def test_a_sidecar_without_its_record_is_unrecorded() -> None:
    objects = _seed()
    template = find(objects, "Deployment", "airflow-webserver")["spec"]["template"]
    del template["metadata"]["annotations"][RECORD]
    findings = _audit(objects, ConfigSource(str(SEED), SEED.read_bytes()))
    assert not_in_sync(findings) == [
        ("Deployment/airflow-webserver", "seed-sidecars", "container sync-perm", "unrecorded")
    ]


def test_what_the_config_no_longer_declares_is_orphaned(tmp_path: Path) -> None:
    config = yaml.safe_load(SEED.read_text())
    del config["spec"]["webserver"]
    path = tmp_path / "sidecars.yaml"
    path.write_text(yaml.safe_dump(config))
    findings = _audit(_seed(), ConfigSource(str(path), path.read_bytes()))
    assert not_in_sync(findings) == [
        ("Deployment/airflow-webserver", "seed-sidecars", "container sync-perm", "orphaned")
    ]


def test_a_defaulted_field_changed_by_hand_is_drift() -> None:
    """Modulo defaults, not modulo anything: a pull policy set to another value than the
    default is a change."""
    objects = _seed()
    sidecar = _container(objects, "Deployment", "airflow-scheduler", "s3-sync")
    assert sidecar["imagePullPolicy"] == "IfNotPresent"
    sidecar["imagePullPolicy"] = "Always"
    (drifted,) = [
        f for f in _audit(objects, _config("official-1.15.0-seed")) if f.state != "in-sync"
    ]
    assert drifted.diff == ("imagePullPolicy: IfNotPresent -> Always",)


def test_the_render_before_inject_is_all_missing() -> None:
    """`helm upgrade` without the post-renderer: the chart's objects, no sidecar, no record."""
    render = (FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml").read_text()
    objects = livedump.live(livedump.objects(render), defaults=livedump.api_defaults)
    findings = _audit(objects, _config("official-1.15.0-seed"))
    assert len(findings) == 12
    assert {f.state for f in findings} == {"missing"}
    assert findings[0].config == "seed-sidecars"


def _pod_template(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The KubernetesExecutor pod template's ConfigMap, and the template as data."""
    config_map = find(objects, "ConfigMap", "airflow-config")
    return config_map, yaml.safe_load(config_map["data"]["pod_template_file.yaml"])


@pytest.mark.parametrize(
    ("change", "state"),
    [
        (lambda spec: spec.pop("initContainers"), "missing"),
        (lambda spec: spec["initContainers"][0].update(image="fluent/fluent-bit:3.2"), "drifted"),
    ],
    ids=["missing", "drifted"],
)
def test_the_pod_template_in_its_config_map_is_audited(change: Any, state: str) -> None:
    name = "official-1.15.0-native-sidecars"
    objects = _live(name)
    config_map, template = _pod_template(objects)
    assert [c["name"] for c in template["spec"]["initContainers"]] == ["log-shipper"]
    change(template["spec"])
    config_map["data"]["pod_template_file.yaml"] = yaml.safe_dump(template)
    findings = _audit(objects, _config(name))
    assert not_in_sync(findings) == [
        (
            "ConfigMap/airflow-config#pod_template_file.yaml",
            "native-sidecars",
            "initContainer log-shipper",
            state,
        )
    ]


def test_a_native_sidecar_moved_among_the_containers_is_drifted_in_place() -> None:
    """Moved by hand, or written to a cluster that does not keep native sidecars: it is
    there, in the other list, which changes when it starts and whether the pod completes."""
    name = "official-1.15.0-native-sidecars"
    objects = _live(name)
    config_map, template = _pod_template(objects)
    spec = template["spec"]
    spec["containers"].append(spec.pop("initContainers")[0])
    config_map["data"]["pod_template_file.yaml"] = yaml.safe_dump(template)
    (drifted,) = [f for f in _audit(objects, _config(name)) if f.state != "in-sync"]
    assert (drifted.item, drifted.state) == ("initContainer log-shipper", "drifted")
    assert drifted.diff == ("placement: initContainers -> containers",)


def test_a_community_chart_sidecar_taken_away_is_missing() -> None:
    name = "community-8.9.0-seed"
    objects = _live(name)
    found = next(
        f for f in _audit(objects, _config(name)) if f.item.startswith(("container", "initCont"))
    )
    workload, config, item = found.workload, found.config, found.item
    kind, object_name = workload.split("/")
    spec = find(objects, kind, object_name)["spec"]["template"]["spec"]
    container = item.split()[1]
    for list_name in ("containers", "initContainers"):
        spec[list_name] = [c for c in spec.get(list_name, []) if c["name"] != container]
    assert not_in_sync(_audit(objects, _config(name))) == [(workload, config, item, "missing")]
