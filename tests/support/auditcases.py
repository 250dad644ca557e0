"""The golden cases as live dumps, for the audit's tests: each case's output as the API server
returns it after Helm installed it (livedump.py, with the API server's defaults), its config,
and the audit of objects in one of kubectl's forms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from airflow_sidecars.runs.api import ConfigSource, run_audit
from airflow_sidecars.transforms.audit import Finding
from support import livedump

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
GOLDEN = TESTS / "golden"
SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"

Object = dict[str, Any]
OFFICIAL_KEY = "pod_template_file.yaml"
COMMUNITY_KEY = "pod_template.yaml"


def case(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((GOLDEN / name / "case.yaml").read_text())
    return loaded


# Stream cases that inject applies (a ResourceList is not what kubectl prints; a case that
# fails leaves its input as it came).
CASES = sorted(
    path.name
    for path in GOLDEN.iterdir()
    if (path / "case.yaml").exists()
    and not case(path.name).get("resourceList")
    and case(path.name).get("exitCode", 0) == 0
)


def config(name: str) -> ConfigSource:
    """A golden case's config."""
    given = case(name).get("config", "config.yaml")
    path = ROOT / given if "/" in given else GOLDEN / name / given
    return ConfigSource(str(path), path.read_bytes())


def config_file(path: Path) -> ConfigSource:
    return ConfigSource(str(path), path.read_bytes())


def live(name: str) -> list[Object]:
    """A golden case's output as a live dump."""
    output = (GOLDEN / name / "expected.yaml").read_text()
    return livedump.live(livedump.objects(output), defaults=livedump.api_defaults)


def audit(objects: list[Object], source: ConfigSource, form: str = "list") -> list[Finding]:
    """The audit's findings, asserting that nothing blocked it."""
    audited = run_audit([(None, livedump.dump(objects, form).encode())], source)
    assert not audited.misuse
    assert not [problem for problem in audited.problems if problem.blocking]
    return audited.findings


def find(objects: list[Object], kind: str, name: str) -> Object:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def not_in_sync(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    return [(f.workload, f.config, f.item, f.state) for f in findings if f.state != "in-sync"]


def templates(objects: list[Object]) -> list[tuple[Object, str]]:
    return [
        (o, key)
        for o in objects
        if o["kind"] == "ConfigMap"
        for key in (OFFICIAL_KEY, COMMUNITY_KEY)
        if key in (o.get("data") or {})
    ]


def task_pod(config_map: Object, key: str = OFFICIAL_KEY, name: str = "") -> Object:
    """A task pod as Airflow makes it from the template (its `base` container runs the task,
    with Airflow's env, labels and annotations), admitted and defaulted as a Pod."""
    # A list the chart leaves empty (`initContainers:` with nothing) is none to Airflow.
    config_map = edited_template(config_map, without_nulls, key)
    pod = livedump.task_pod(config_map, key)
    if name:
        pod["metadata"]["name"] = name
    base = next(c for c in pod["spec"]["containers"] if c["name"] == "base")
    base["args"] = ["airflow", "tasks", "run", "example_dag", "this_task", "manual__1", "--local"]
    base.setdefault("env", []).append({"name": "AIRFLOW_IS_K8S_EXECUTOR_POD", "value": "True"})
    pod["metadata"]["labels"].update({"airflow-worker": "7", "airflow_version": "2.9.3"})
    pod["metadata"]["annotations"]["run_id"] = "manual__1"
    return livedump.api_defaults(pod)


def without_nulls(spec: Object) -> None:
    for field in [field for field, value in spec.items() if value is None]:
        del spec[field]


def edited_template(config_map: Object, change: Any, key: str = OFFICIAL_KEY) -> Object:
    """The ConfigMap with its pod template changed (as it was before, or after an edit)."""
    edited: Object = yaml.safe_load(yaml.safe_dump(config_map))
    template = yaml.safe_load(edited["data"][key])
    change(template["spec"])
    edited["data"][key] = yaml.safe_dump(template)
    return edited
