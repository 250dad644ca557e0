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
    annotations = pod.get("metadata", {}).get("annotations") or {}
    for key in [key for key in annotations if key.startswith("checksum/")]:
        del annotations[key]
    spec = pod.get("spec") or {}
    if "volumes" in spec:
        spec["volumes"] = sorted(spec["volumes"], key=lambda volume: volume["name"])
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if "volumeMounts" in container:
            container["volumeMounts"] = sorted(
                container["volumeMounts"], key=lambda m: m["mountPath"]
            )
    return document


@pytest.mark.parametrize(("chart", "before", "after"), PAIRS, ids=[p[0] for p in PAIRS])
def test_inject_on_before_gives_the_charts_after(
    chart: str, before: str, after: str, tmp_path: Path
) -> None:
    config = oracle_config(FIXTURES / chart / f"{after}.values.yaml", tmp_path / "c.yaml")
    result = run_cli("inject", "--config", config, FIXTURES / chart / f"{before}.yaml")
    # The seed's s3-sync mounts a `dags` volume the pod lacks; the chart renders that without
    # complaint, we report it (and still produce the chart's output).
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("inject: error:")]
    assert len(errors) == 1 and "'dags'" in errors[0] and "s3-sync" in errors[0]

    ours = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    charts = [d for d in yaml.safe_load_all((FIXTURES / chart / f"{after}.yaml").read_text()) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in ours] == [
        (d["kind"], d["metadata"]["name"]) for d in charts
    ]
    for mine, theirs in zip(ours, charts, strict=True):
        assert _normalised(mine) == _normalised(theirs), (
            f"{mine['kind']} {mine['metadata']['name']}"
        )
    # the before render really differs from the after render (the test is not vacuous)
    befores = [
        d for d in yaml.safe_load_all((FIXTURES / chart / f"{before}.yaml").read_text()) if d
    ]
    assert sum(_normalised(b) != _normalised(a) for b, a in zip(befores, charts, strict=True)) == 3
