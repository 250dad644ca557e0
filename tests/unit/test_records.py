"""Record and prune: inject records what each config added; a later run of the config takes
back what it no longer declares, `remove` takes back everything, and validate says what is
recorded but no longer declared. (tests/unit/test_oracle_matrix.py also removes everything
after each of its 225 oracle cases and gets the chart's render back, byte for byte.)"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from conftest import FIXTURES, ROOT, config_yaml

PRESETS: dict[str, Any] = yaml.safe_load(
    (ROOT / "pipelines" / "examples" / "seed-presets.yaml").read_text()
)
RENDERS = [
    "official-1.15.0/01-default.yaml",
    "official-1.15.0/02-kubernetes-executor.yaml",
    "official-1.15.0/03-celery-kubernetes-executor.yaml",
    "official-1.20.0/01-default.yaml",
    "community-8.9.0/01-default.yaml",
]
SIDECAR = {"name": "shipper", "image": "fluent/fluent-bit:3.1"}
VOLUME = {"name": "scratch", "emptyDir": {}}
MOUNT = {"name": "scratch", "mountPath": "/scratch"}


def _source(document: dict[str, Any]) -> ConfigSource:
    # JSON: PyYAML would write the repeated volume as an anchor and an alias
    return ConfigSource("config.yaml", json.dumps(document).encode())


# the seed's presets, as the example config has them
SEED_PRESETS = tuple(PRESETS["spec"]["presets"])


def _presets(*names: str, config_name: str = "seed-presets") -> ConfigSource:
    document = copy.deepcopy(PRESETS)
    document["metadata"]["name"] = config_name
    document["spec"]["presets"] = {n: document["spec"]["presets"][n] for n in names}
    return _source(document)


def _inject(render: bytes, config: ConfigSource) -> Outcome:
    outcome = run_inject([("render.yaml", render)], config)
    assert outcome.exit_code == 0, [r.line() for r in outcome.results if r.severity != "info"]
    return outcome


def _rules(outcome: Outcome) -> list[str]:
    return [r.tags.get("rule", "") for r in outcome.results]


@pytest.mark.parametrize("render", RENDERS)
@pytest.mark.parametrize("dropped", SEED_PRESETS)
def test_dropping_a_preset_gives_what_the_smaller_config_gives(render: str, dropped: str) -> None:
    original = (FIXTURES / render).read_bytes()
    everything = _inject(original, _presets(*SEED_PRESETS))
    kept = [name for name in SEED_PRESETS if name != dropped]
    smaller = _presets(*kept)
    pruned = _inject(everything.output, smaller)
    assert pruned.output == _inject(original, smaller).output
    again = _inject(pruned.output, smaller)
    assert again.output == pruned.output  # and nothing more to take back


def test_dropping_chart_values_gives_what_the_smaller_config_gives() -> None:
    original = (FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml").read_bytes()
    spec: dict[str, Any] = {
        "scheduler": {"extraContainers": [SIDECAR], "extraVolumes": [VOLUME]},
        "workers": {
            "nativeSidecars": True,
            "extraContainers": [{**SIDECAR, "volumeMounts": [MOUNT]}],
            "extraVolumes": [VOLUME],
            "extraVolumeMounts": [MOUNT],
        },
    }
    full = _inject(original, _source(yaml.safe_load(config_yaml(spec, "team"))))
    smaller = _source(yaml.safe_load(config_yaml({"scheduler": spec["scheduler"]}, "team")))
    pruned = _inject(full.output, smaller)
    assert "taken-back" in _rules(pruned)
    assert pruned.output == _inject(original, smaller).output


@pytest.mark.parametrize("render", RENDERS)
def test_remove_gives_back_the_charts_render(render: str) -> None:
    original = (FIXTURES / render).read_bytes()
    injected = _inject(original, _presets(*SEED_PRESETS))
    assert injected.output != original
    removed = run_remove([("out.yaml", injected.output)], None)
    assert removed.exit_code == 0, removed.results
    assert removed.output == original


def test_each_team_owns_its_part() -> None:
    original = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    team_a = _source(
        yaml.safe_load(config_yaml({"scheduler": {"extraContainers": [SIDECAR]}}, "a"))
    )
    team_b = _presets("s3Sync", config_name="b")
    both = _inject(_inject(original, team_a).output, team_b)
    without_a = run_remove([("out.yaml", both.output)], team_a)
    assert without_a.exit_code == 0, without_a.results
    assert without_a.output == _inject(original, team_b).output
    # a's config, run again without its sidecar, leaves b's part alone too
    empty_a = _source(yaml.safe_load(config_yaml({"scheduler": {"extraInitContainers": []}}, "a")))
    pruned = run_inject([("out.yaml", both.output)], empty_a)
    assert b"fluent/fluent-bit" not in pruned.output and b"s3-sync" in pruned.output


def test_a_record_is_sorted_json_of_what_was_added_with_digests() -> None:
    original = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    injected = _inject(original, _presets("s3Sync"))
    documents = [d for d in yaml.safe_load_all(injected.output) if d]
    scheduler = next(d for d in documents if d["metadata"]["name"] == "airflow-scheduler"
                     and d["kind"] == "Deployment")  # fmt: skip
    pod = scheduler["spec"]["template"]
    text = pod["metadata"]["annotations"]["airflow-sidecars.dev/seed-presets"]
    record = json.loads(text)
    # each item names the digest of what it is in the pod: the shape, and the digests are
    # those of the entries the output holds
    assert {k: sorted(v) for k, v in record.items()} == {
        "containers": ["s3-sync"],
        "mounts": ["scheduler"],
        "volumes": ["dags", "s3-sync-tmp"],
    }
    assert sorted(record["mounts"]["scheduler"]) == ["/opt/airflow/dags"]
    spec = pod["spec"]
    s3_sync = next(c for c in spec["containers"] if c["name"] == "s3-sync")
    assert record["containers"]["s3-sync"] == _digest(s3_sync)
    for volume in spec["volumes"]:
        if volume["name"] in ("dags", "s3-sync-tmp"):
            assert record["volumes"][volume["name"]] == _digest(volume)
    scheduler_container = next(c for c in spec["containers"] if c["name"] == "scheduler")
    mount = next(m for m in scheduler_container["volumeMounts"]
                 if m["mountPath"] == "/opt/airflow/dags")  # fmt: skip
    assert record["mounts"]["scheduler"]["/opt/airflow/dags"] == _digest(mount)
    assert text == json.dumps(record, sort_keys=True, separators=(",", ":"))
    account = next(d for d in documents if d["kind"] == "ServiceAccount"
                   and d["metadata"]["name"] == "airflow-scheduler")  # fmt: skip
    annotations = account["metadata"]["annotations"]
    role = annotations["eks.amazonaws.com/role-arn"]
    assert json.loads(annotations["airflow-sidecars.dev/seed-presets"]) == {
        "annotations": {"eks.amazonaws.com/role-arn": _digest(role)}
    }


def _digest(value: Any) -> str:
    """The digest as the README documents it, computed here independently."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_validate_reports_what_is_recorded_and_no_longer_declared() -> None:
    original = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    injected = _inject(original, _presets("s3Sync", "syncPerm"))
    checked = run_validate([("out.yaml", injected.output)], _presets("s3Sync"))
    found = [r for r in checked.results if r.tags.get("rule") == "no-longer-declared"]
    assert checked.exit_code == 1
    assert [str(r.resource) for r in found] == ["Deployment airflow-webserver"]
    assert "container sync-perm" in found[0].message
    assert checked.output == injected.output  # validate changes nothing


def test_a_record_not_written_by_inject_is_refused() -> None:
    original = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    injected = _inject(original, _presets("s3Sync"))
    tampered = re.sub(
        rb"'\{\"containers\":\{\"s3-sync\":\"[0-9a-f]+\"", b"'not json", injected.output
    )
    assert tampered != injected.output
    outcome = run_inject([("out.yaml", tampered)], _presets("s3Sync"))
    assert "record" in _rules(outcome) and outcome.exit_code == 1
    assert outcome.output == tampered  # nothing applied
    removed = run_remove([("out.yaml", tampered)], None)
    assert removed.exit_code == 1 and removed.output == tampered  # nothing taken back


def test_remove_without_records_says_so() -> None:
    original = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    removed = run_remove([("render.yaml", original)], None)
    assert removed.exit_code == 0 and removed.output == original
    assert "nothing to take back" in removed.results[-1].message
