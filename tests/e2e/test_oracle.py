"""The oracle: the chart itself. For the same `extra*` values, inject applied to the render
*without* them must give the workloads of the chart's render *with* them.

Config = the `extra*` values of the "after" render's values file, so the test follows the
fixture, not a copy of it (tests/unit/test_oracle_matrix.py runs the same rule on every pair of the
chart-oracle matrix). Compared as the issue states: containers and init
containers in the same order; volumes and mounts as sets (order carries no meaning in
Kubernetes); nothing else changed; `checksum/*` annotations ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES, oracle_config, run_cli

PAIRS = [
    ("official-1.15.0", "05a-sidecars-before", "05b-sidecars-after"),
    ("community-8.9.0", "02a-extra-containers-before", "02b-extra-containers-after"),
]


def _normalised(document: dict[str, Any]) -> dict[str, Any]:
    pod = document.get("spec", {}).get("template", {})
    for metadata in (document.get("metadata", {}), pod.get("metadata", {})):
        annotations = metadata.get("annotations") or {}
        # the chart's checksums, and inject's records (its own, not the chart's)
        for key in [k for k in annotations if k.startswith(("checksum/", "airflow-sidecars.dev/"))]:
            del annotations[key]
        if "annotations" in metadata and not annotations:
            del metadata["annotations"]
    spec = pod.get("spec") or {}
    if "volumes" in spec:
        spec["volumes"] = sorted(spec["volumes"], key=lambda volume: volume["name"])
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if "volumeMounts" in container:
            container["volumeMounts"] = sorted(
                container["volumeMounts"], key=lambda m: m["mountPath"]
            )
    return document


def _with_dags_volume(config: Path) -> str:
    """Add an emptyDir `dags` to the section whose extraContainers hold s3-sync; its name."""
    document = yaml.safe_load(config.read_text())
    for name, section in document["spec"].items():
        containers = section.get("extraContainers") if isinstance(section, dict) else None
        if any(c["name"] == "s3-sync" for c in containers or []):
            section.setdefault("extraVolumes", []).append({"name": "dags", "emptyDir": {}})
            config.write_text(yaml.safe_dump(document, sort_keys=False))
            return str(name)
    raise AssertionError("no section adds s3-sync")


@pytest.mark.parametrize(("chart", "before", "after"), PAIRS, ids=[p[0] for p in PAIRS])
def test_inject_on_before_gives_the_charts_after(
    chart: str, before: str, after: str, tmp_path: Path
) -> None:
    config = oracle_config(FIXTURES / chart / f"{after}.values.yaml", tmp_path / "c.yaml")
    before_text = (FIXTURES / chart / f"{before}.yaml").read_bytes()
    # The seed's s3-sync mounts a `dags` volume the pod lacks; the chart renders that without
    # complaint (and the API server would reject the pod). We report it and apply nothing.
    result = run_cli("inject", "--config", config, FIXTURES / chart / f"{before}.yaml")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("inject: error:")]
    assert len(errors) == 1 and "'dags'" in errors[0] and "s3-sync" in errors[0]
    assert result.stdout == before_text
    # With the volume the chart's values forgot, inject gives the chart's render (plus it).
    section = _with_dags_volume(config)
    result = run_cli("inject", "--config", config, FIXTURES / chart / f"{before}.yaml")
    assert result.returncode == 0, result.stderr

    ours = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    charts = [d for d in yaml.safe_load_all((FIXTURES / chart / f"{after}.yaml").read_text()) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in ours] == [
        (d["kind"], d["metadata"]["name"]) for d in charts
    ]
    for mine, theirs in zip(ours, charts, strict=True):
        if (
            mine["kind"] in ("Deployment", "StatefulSet")
            and mine["metadata"]["labels"].get("component") == section
        ):
            volumes = mine["spec"]["template"]["spec"]["volumes"]
            volumes.remove({"name": "dags", "emptyDir": {}})
        assert _normalised(mine) == _normalised(theirs), (
            f"{mine['kind']} {mine['metadata']['name']}"
        )
    # the before render really differs from the after render (the test is not vacuous)
    befores = [
        d for d in yaml.safe_load_all((FIXTURES / chart / f"{before}.yaml").read_text()) if d
    ]
    assert sum(_normalised(b) != _normalised(a) for b, a in zip(befores, charts, strict=True)) == 3
