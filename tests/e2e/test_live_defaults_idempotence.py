"""inject and validate on objects read back from a cluster: every pod template as the API
server stores it (apidefaults.apply_defaults on each golden case's output), the
KubernetesExecutor pod template in its ConfigMap as written (a string: nothing defaults it).

What the sidecars added is there, only with `imagePullPolicy`, `terminationMessagePath`, port
protocols, probe periods and `defaultMode: 420` filled in: inject must add nothing and report no
conflict, and validate --config must find nothing missing and no name-conflict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.pods.apidefaults import apply_defaults
from conftest import ROOT, TESTS, run_cli

GOLDEN = TESTS / "golden"
# official 1.15.0 seed, an Airflow 3 one, the community chart, the KubernetesExecutor pod template
# (native sidecars), presets with probes and native sidecars, the database proxy (first init
# container, native, with probes and ports)
CASES = [
    "official-1.15.0-seed",
    "official-1.20.0-airflow3",
    "community-8.9.0-seed",
    "official-1.15.0-native-sidecars",
    "presets-official-1.15.0-kubernetes-executor",
    "presets-official-1.20.0-airflow3",
    "cloudsql-official-1.15.0-celery",
    "otel-official-1.15.0-celery-kubernetes-executor",
]


def _config(name: str) -> Path:
    case = yaml.safe_load((GOLDEN / name / "case.yaml").read_text())
    config = str(case.get("config", "config.yaml"))
    return ROOT / config if "/" in config else GOLDEN / name / config


def _pod_specs(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document.get("spec") or {}
    if document.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = (spec.get("template") or {}).get("spec")
    return [template] if isinstance(template, dict) else []


def as_stored(text: str) -> tuple[str, int]:
    """The stream with every pod template defaulted as the API server would; and how many
    fields that filled in (the test means nothing if it filled none)."""
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    filled = 0
    for document in documents:
        for pod in _pod_specs(document):
            stored = apply_defaults(pod, "podSpec", "template")
            filled += _count(stored) - _count(pod)
            pod.clear()
            pod.update(stored)
    return yaml.safe_dump_all(documents, sort_keys=False), filled


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count(v) for v in value)
    return 0


@pytest.mark.parametrize("name", CASES)
def test_inject_and_validate_on_defaulted_output(name: str, tmp_path: Path) -> None:
    live, filled = as_stored((GOLDEN / name / "expected.yaml").read_text())
    assert filled > 20, "nothing was defaulted: the test would prove nothing"
    live_file = tmp_path / "live.yaml"
    live_file.write_text(live)
    config = _config(name)

    again = run_cli("inject", "--config", config, live_file)
    assert again.returncode == 0, again.stderr
    assert "name-conflict" not in again.stderr
    assert " added " not in again.stderr, again.stderr
    # Nothing added: the objects come back as they went in (the record stays as it was).
    assert list(yaml.safe_load_all(again.stdout.decode())) == list(yaml.safe_load_all(live))

    checked = run_cli("validate", "--config", config, live_file)
    assert "name-conflict" not in checked.stderr, checked.stderr
    assert "declared-missing" not in checked.stderr, checked.stderr
    assert "Traceback" not in checked.stderr


def _taken_back(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "[taken-back]" in line]


@pytest.mark.parametrize(
    "name",
    ["official-1.15.0-seed", "presets-official-1.15.0-kubernetes-executor", "community-8.9.0-seed"],
)
def test_remove_takes_back_what_the_api_server_defaulted(name: str, tmp_path: Path) -> None:
    """A record's digest is of what inject wrote; read back from a cluster, a sidecar also
    holds what the API server filled in. It is still what inject wrote: remove takes it back,
    as it does from inject's own output, and does not call it changed since."""
    written = GOLDEN / name / "expected.yaml"
    live, _ = as_stored(written.read_text())
    live_file = tmp_path / "live.yaml"
    live_file.write_text(live)
    config = _config(name)

    from_output = run_cli("remove", "--config", config, written)
    from_live = run_cli("remove", "--config", config, live_file)
    assert from_live.returncode == 0, from_live.stderr
    assert "changed since" not in from_live.stderr
    assert "not what config" not in from_live.stderr
    assert _taken_back(from_live.stderr) == _taken_back(from_output.stderr)
    assert _taken_back(from_live.stderr)
