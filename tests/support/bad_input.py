"""The renders, configs and small edits the example tests of bad input start from (tests/unit:
hostile YAML, the depth limit, malformed objects, splices, ResourceLists, config errors and
strings), and both functions run on one input.
"""

from __future__ import annotations

from typing import Any

import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_validate
from conftest import FIXTURES, ROOT, config_yaml

RENDER = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_text()
KUBERNETES = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_text()
PRESETS = (ROOT / "pipelines" / "examples" / "seed-presets.yaml").read_bytes()


def _config(spec: dict[str, Any]) -> bytes:
    return config_yaml(spec, "t")


SIDECARS = _config(
    {
        "scheduler": {"extraContainers": [{"name": "side", "image": "busybox:1.36"}]},
        "workers": {
            "extraContainers": [{"name": "w", "image": "busybox:1.36"}],
            "extraVolumes": [{"name": "v", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "v", "mountPath": "/v"}],
        },
    }
)


def _run(render: str, config: bytes = SIDECARS) -> list[tuple[str, Outcome]]:
    """inject and validate on the render, both with `config`."""
    inputs: list[tuple[str | None, bytes]] = [("render.yaml", render.encode())]
    return [
        ("inject", run_inject(inputs, ConfigSource("c.yaml", config))),
        ("validate", run_validate(inputs, ConfigSource("c.yaml", config))),
    ]


def _errors(outcome: Outcome) -> list[str]:
    return [r.message for r in outcome.results if r.severity == "error"]


def _in_scheduler(old: str, new: str) -> str:
    """The render with one edit inside the scheduler Deployment."""
    start = RENDER.index("kind: Deployment\nmetadata:\n  name: airflow-scheduler")
    assert old in RENDER[start:]
    return RENDER[:start] + RENDER[start:].replace(old, new, 1)


def _in_template(old: str, new: str) -> str:
    assert old in KUBERNETES
    return KUBERNETES.replace(old, new, 1)


def _objects(output: bytes) -> int:
    """How many objects (documents that are not empty) a stream holds."""
    return sum(1 for doc in yaml.compose_all(output) if doc is not None)


def _both(data: bytes) -> list[tuple[str, Outcome]]:
    """inject with the presets example and validate without a config, on the input."""
    return [
        ("inject", run_inject([("in.yaml", data)], ConfigSource("c.yaml", PRESETS))),
        ("validate", run_validate([("in.yaml", data)], None)),
    ]
