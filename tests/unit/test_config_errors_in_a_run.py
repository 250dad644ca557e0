"""What a run says about a config it cannot apply: every problem at once, each at its field
path, with the render given back as it came; and a conflict (with a chart's container, between
two sections, between a preset and a section) names both places, so that the message alone
says what to fix.
"""

from __future__ import annotations

import pytest

from airflow_sidecars.runs.api import ConfigSource, run_inject
from conftest import FIXTURES
from support.bad_input import _errors

RENDER = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()


def test_every_config_problem_is_reported_at_once() -> None:
    config = b"""\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata: {name: broken}
spec:
  scheduler:
    extraContainers:
      - image: busybox:1.36
      - name: ""
        image: busybox:1.36
      - name: no-image
    extraVolumes:
      - name: no-source
  workers:
    extraContainers: {name: not-a-list}
  presets:
    s3Sync: {bucket: "a;rm -rf /"}
"""
    outcome = run_inject([("in.yaml", RENDER)], ConfigSource("c.yaml", config))
    assert outcome.exit_code == 1
    assert outcome.output == RENDER
    paths = sorted(r.field_path or "" for r in outcome.results)
    assert paths == [
        "spec.presets.s3Sync.bucket",
        "spec.scheduler.extraContainers[0]",
        "spec.scheduler.extraContainers[1].name",
        "spec.scheduler.extraContainers[2]",
        "spec.scheduler.extraVolumes[0]",
        "spec.workers.extraContainers",
    ]


def _config(spec: str) -> bytes:
    head = "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\nmetadata: {name: c}\n"
    return (head + "spec:\n" + spec).encode()


CONFLICTS = [
    (
        "a-chart-container-name",
        "  scheduler:\n    extraContainers: [{name: scheduler-log-groomer, image: busybox:1.36}]\n",
        "conflicts with the container of the same name at spec.template.spec.containers[1]",
    ),
    (
        "one-volume-name-from-two-sections",
        "  volumes: [{name: shared, emptyDir: {}}]\n"
        "  scheduler:\n    extraVolumes: [{name: shared, secret: {secretName: s}}]\n",
        # in the chart's order: the top-level volumes come first
        "volume 'shared' from spec.scheduler.extraVolumes[0] is also added, differently, by "
        "spec.volumes[0]",
    ),
    (
        "a-preset-and-a-section-with-one-container-name",
        "  scheduler:\n    extraContainers: [{name: s3-sync, image: busybox:1.36}]\n"
        "  presets:\n    s3Sync: {bucket: dags}\n",
        "container 's3-sync' from spec.presets.s3Sync is also added by "
        "spec.scheduler.extraContainers[0]",
    ),
]


@pytest.mark.parametrize(("spec", "message"), [pytest.param(*c[1:], id=c[0]) for c in CONFLICTS])
def test_conflicts_name_both_places(spec: str, message: str) -> None:
    outcome = run_inject([("in.yaml", RENDER)], ConfigSource("c.yaml", _config(spec)))
    assert outcome.exit_code == 1
    assert any(message in error for error in _errors(outcome)), _errors(outcome)
