"""Properties that hold for any manifests and any config (hypothesis).

Generated streams mix Airflow-shaped workloads of both charts (labels, main containers,
volumes, mounts, init containers) with other objects, with comments between documents and
both block and flow style; generated configs put containers, init containers, volumes and
mounts into random sections, sometimes with names that collide with the chart's own, and
sometimes use presets. Whatever the outcome, error or not:
- every object comes back once, in the order it came;
- objects no section or preset targets come back byte for byte;
- validate never changes anything;
- inject is idempotent: run on its own error-free output, it changes nothing and finds
  nothing new to add.
Examples are derandomised, so a run in CI is the same run as on a laptop.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_validate

SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# (chart flavour label, component label, main container, config section)
COMPONENTS = [
    ({"tier": "airflow"}, "scheduler", "scheduler", "scheduler"),
    ({"tier": "airflow"}, "webserver", "webserver", "webserver"),
    ({"tier": "airflow"}, "worker", "worker", "workers"),
    ({"tier": "airflow"}, "triggerer", "triggerer", "triggerer"),
    ({"tier": "airflow"}, "dag-processor", "dag-processor", "dagProcessor"),
    ({"app": "airflow"}, "scheduler", "airflow-scheduler", "scheduler"),
    ({"app": "airflow"}, "web", "airflow-web", "webserver"),
]
NAMES = st.sampled_from(["sidecar", "log-shipper", "proxy", "scheduler", "worker", "base"])
VOLUMES = st.sampled_from(["data", "cache", "config", "logs"])


def _container(name: str, mounts: list[str]) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": "example/image:1.0"}
    if mounts:
        container["volumeMounts"] = [{"name": m, "mountPath": f"/mnt/{m}"} for m in mounts]
    return container


@st.composite
def workloads(draw: st.DrawFn, index: int) -> dict[str, Any]:
    flavour, component, main, _ = draw(st.sampled_from(COMPONENTS))
    volumes = draw(st.lists(VOLUMES, max_size=3, unique=True))
    pod: dict[str, Any] = {
        "containers": [
            _container(
                main, draw(st.lists(st.sampled_from(volumes), unique=True)) if volumes else []
            )
        ]
    }
    extra = draw(st.lists(NAMES.filter(lambda n: n != main), max_size=2, unique=True))
    pod["containers"] += [_container(name, []) for name in extra]
    if draw(st.booleans()):
        pod["initContainers"] = [_container("wait-for-airflow-migrations", [])]
    if volumes:
        pod["volumes"] = [{"name": v, "emptyDir": {}} for v in volumes]
    kind = draw(st.sampled_from(["Deployment", "StatefulSet"]))
    release = draw(st.sampled_from(["airflow", "prod"]))
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {
            "name": f"{release}-{component}-{index}",
            "labels": {**flavour, "component": component, "release": release},
        },
        "spec": {"template": {"metadata": {"labels": {"component": component}}, "spec": pod}},
    }


@st.composite
def others(draw: st.DrawFn, index: int) -> dict[str, Any]:
    data = draw(
        st.dictionaries(st.sampled_from(["a", "b", "key"]), st.text(max_size=20), max_size=3)
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{index}"},
        "data": data,
    }


@st.composite
def streams(draw: st.DrawFn) -> list[str]:
    """Documents as text (each ends with a newline), some with comments, some in flow style."""
    count = draw(st.integers(min_value=1, max_value=6))
    documents = []
    for index in range(count):
        obj = draw(st.one_of(workloads(index), others(index)))
        flow = draw(st.booleans())
        text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=flow)
        if draw(st.booleans()):
            text = f"# Source: chart/templates/{index}.yaml\n" + text
        documents.append(text)
    return documents


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for section in draw(
        st.lists(
            st.sampled_from(["scheduler", "webserver", "workers", "triggerer", "dagProcessor"]),
            max_size=2,
            unique=True,
        )
    ):
        values: dict[str, Any] = {}
        volume: str = draw(VOLUMES)
        if draw(st.booleans()):
            values["extraContainers"] = [
                _container(draw(NAMES), [volume] if draw(st.booleans()) else [])
            ]
        if draw(st.booleans()):
            values["extraInitContainers"] = [_container(draw(NAMES) + "-init", [])]
        if draw(st.booleans()):
            values["extraVolumes"] = [{"name": volume, "emptyDir": {"medium": "Memory"}}]
        if draw(st.booleans()):
            values["extraVolumeMounts"] = [{"name": volume, "mountPath": "/extra"}]
        native: bool = draw(st.booleans())
        if values and native:
            values["nativeSidecars"] = True
        spec[section] = values
    if draw(st.booleans()):
        spec["presets"] = {"s3Sync": {"bucket": "dags"}}
    if draw(st.booleans()):
        spec["onConflict"] = "replace"
    return {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": "generated"},
        "spec": spec,
    }


def _inject(text: str, config: dict[str, Any]) -> Outcome:
    source = ConfigSource("config.yaml", json.dumps(config).encode())
    return run_inject([("in.yaml", text.encode())], source)


def _identities(text: str) -> list[tuple[str, str]]:
    return [(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(text) if d]


def _targeted(document: str, config: dict[str, Any]) -> bool:
    obj = yaml.safe_load(document)
    labels = obj["metadata"].get("labels", {})
    if "component" not in labels:
        return False
    section = next(
        c[3] for c in COMPONENTS if c[1] == labels["component"] and c[0].items() <= labels.items()
    )
    spec = config["spec"]
    return section in spec or "presets" in spec


@given(streams(), configs())
@SETTINGS
def test_objects_come_back_in_order_and_untargeted_ones_unchanged(
    documents: list[str], config: dict[str, Any]
) -> None:
    text = "---\n".join(documents)
    outcome = _inject(text, config)
    output = outcome.output.decode()
    assert _identities(output) == _identities(text)
    out_documents = output.split("---\n")
    assert len(out_documents) == len(documents)
    for before, after in zip(documents, out_documents, strict=True):
        if not _targeted(before, config):
            assert after == before


@given(streams(), configs())
@SETTINGS
def test_inject_is_idempotent(documents: list[str], config: dict[str, Any]) -> None:
    first = _inject("---\n".join(documents), config)
    if first.exit_code != 0:
        return  # an error run hands back what it could not do; nothing to repeat
    second = _inject(first.output.decode(), config)
    assert second.output == first.output
    assert second.exit_code == 0
    new = [r for r in second.results if r.tags.get("rule") == "added" or r.severity == "error"]
    assert not new, [r.message for r in new]


@given(streams(), st.one_of(st.none(), configs()))
@SETTINGS
def test_validate_never_changes_anything(
    documents: list[str], config: dict[str, Any] | None
) -> None:
    text = "---\n".join(documents).encode()
    source = ConfigSource("c.yaml", json.dumps(config).encode()) if config else None
    assert run_validate([("in.yaml", text)], source).output == text


@given(streams(), configs())
@SETTINGS
def test_validate_accepts_what_inject_wrote(documents: list[str], config: dict[str, Any]) -> None:
    injected = _inject("---\n".join(documents), config)
    if injected.exit_code != 0:
        return
    source = ConfigSource("c.yaml", json.dumps(config).encode())
    checked = run_validate([("in.yaml", injected.output)], source)
    missing = [r.message for r in checked.results if r.tags.get("rule") == "declared-missing"]
    assert not missing


@given(streams(), configs())
@SETTINGS
def test_a_resource_list_keeps_every_item_in_order(
    documents: list[str], config: dict[str, Any]
) -> None:
    items = [yaml.safe_load(d) for d in documents]
    resource_list = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": config,
    }
    outcome = run_inject([(None, yaml.safe_dump(resource_list, sort_keys=False).encode())], None)
    output = yaml.safe_load(outcome.output)
    assert [(i["kind"], i["metadata"]["name"]) for i in output["items"]] == [
        (i["kind"], i["metadata"]["name"]) for i in items
    ]
    assert len(output.get("results") or []) == len(outcome.results)
