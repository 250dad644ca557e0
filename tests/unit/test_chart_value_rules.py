"""The charts' value-dependent rules (charts/valuerules.py), on real renders of the charts.

The community chart renders no `logs-data` volume or mount where an extra mount covers
`logs.path`: inject must give that render (the config's entries in place of the chart's),
take it back byte for byte, and stay put on a second run. The per-version placement of the
top-level volumes is in the table too (1.15.0's cleanup CronJob takes none). The renders are
the probes of the chart-oracle matrix (tests/fixtures/matrix/README.md).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from airflow_sidecars.charts.chart import OFFICIAL_SLOTS, Chart, placement
from airflow_sidecars.charts.valuerules import RULES, covers, go_clean, rules_for
from airflow_sidecars.pods.apidefaults import apply_defaults
from airflow_sidecars.recording import records
from airflow_sidecars.recording.recordshape import RecordError
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove
from conftest import config_yaml, matrix_root

LOGS_VOLUME = {"name": "logs-vol", "emptyDir": {}}
LOGS_MOUNT = {"name": "logs-vol", "mountPath": "/opt/airflow/logs"}
GLOBAL_LOGS = {"airflow": {"extraVolumes": [LOGS_VOLUME], "extraVolumeMounts": [LOGS_MOUNT]}}


def _render(chart: str, name: str) -> bytes:
    return (matrix_root() / chart / name).read_bytes()


def _inject(text: bytes, spec: dict[str, Any], name: str = "rules") -> Outcome:
    config = config_yaml(spec, name)
    return run_inject([("render.yaml", text)], ConfigSource("config.yaml", config))


def _errors(outcome: Outcome) -> list[tuple[str, str]]:
    return [(r.tags["rule"], r.message) for r in outcome.results if r.severity == "error"]


def _pods(text: bytes) -> dict[str, Any]:
    """Each workload's pod spec (the pod template's too), by kind and name."""
    found = {}
    for document in yaml.safe_load_all(text):
        if not document:
            continue
        name = f"{document['kind']}/{document['metadata']['name']}"
        spec = document.get("spec") or {}
        template = (spec.get("jobTemplate") or {}).get("spec", spec).get("template")
        if template:
            found[name] = template["spec"]
        for key, value in (document.get("data") or {}).items():
            if key.startswith("pod_template"):
                found[name] = yaml.safe_load(value)["spec"]
    return found


def _volume_names(pod: dict[str, Any]) -> list[str]:
    return [volume["name"] for volume in pod.get("volumes") or []]


# -- the table -------------------------------------------------------------------------------


def test_the_table_has_the_community_logs_rule_and_no_official_one() -> None:
    assert [(r.flavour, r.since, r.volume) for r in RULES] == [
        ("community", (8, 8, 0), "logs-data")
    ]
    for version in ((8, 8, 0), (8, 9, 0)):
        assert [r.volume for r in rules_for(Chart("community", version))] == ["logs-data"]
    for minor in range(15, 23):
        assert rules_for(Chart("official", (1, minor, 0))) == ()


@pytest.mark.parametrize(
    ("mount_path", "expected"),
    [
        ("/opt/airflow/logs", True),
        ("/opt/airflow/logs/", True),  # cleaned
        ("/opt/airflow//logs/.", True),
        ("/opt/airflow", True),  # above it
        ("/opt/airflow/lo", True),  # `hasPrefix` on the strings, as the chart does
        ("/", True),
        ("/opt/airflow/logs/scheduler", False),  # below it: the chart keeps logs-data
        ("/opt/airflow/dags", False),
        ("", False),
        (None, False),
    ],
)
def test_a_mount_covers_the_logs_path_as_the_chart_says(mount_path: Any, expected: bool) -> None:
    assert covers(mount_path, "/opt/airflow/logs") is expected


def test_go_clean() -> None:
    cases = {"": ".", "/": "/", "a/../..": "..", "/../a": "/a", "a//b/./c/": "a/b/c", "//x": "/x"}
    assert {path: go_clean(path) for path in cases} == cases


@pytest.mark.parametrize(
    ("version", "takes"), [((1, 15, 0), False), ((1, 16, 0), True), ((1, 22, 0), True)]
)
def test_the_cleanup_cronjob_takes_the_top_level_volumes_from_1_16(
    version: tuple[int, int, int], takes: bool
) -> None:
    cleanup = OFFICIAL_SLOTS["airflow-cleanup-pods"]
    found = placement(Chart("official", version), cleanup, None, template=False)
    assert bool(found.volumes) is takes and bool(found.mounts) is takes
    database = placement(
        Chart("official", version), OFFICIAL_SLOTS["database-cleanup"], None, False
    )
    assert database.volumes and database.mounts  # from its first version (1.20.0) on


def test_top_level_volumes_leave_the_1_15_cleanup_cronjob_as_the_chart_renders_it() -> None:
    before = _render("official-1.15.0-probes", "07a-cronjobs-top-level.yaml")
    spec = {
        "volumes": [{"name": "global-vol", "emptyDir": {}}],
        "volumeMounts": [{"name": "global-vol", "mountPath": "/extra/global"}],
    }
    outcome = _inject(before, spec)
    assert outcome.exit_code == 0, _errors(outcome)
    pods = _pods(outcome.output)
    assert "global-vol" not in _volume_names(pods["CronJob/airflow-cleanup"])
    assert "global-vol" in _volume_names(pods["Deployment/airflow-scheduler"])


# -- inject, on the community chart's renders ------------------------------------------------


@pytest.mark.parametrize("chart", ["community-8.8.0-probes", "community-8.9.0-probes"])
def test_a_mount_at_the_logs_path_takes_the_place_of_logs_data(chart: str) -> None:
    before = _render(chart, "04a-logs-path-global.yaml")
    outcome = _inject(before, GLOBAL_LOGS)
    assert outcome.exit_code == 0, _errors(outcome)  # not a name conflict
    after = _pods(outcome.output)
    had = [name for name, pod in _pods(before).items() if "logs-data" in _volume_names(pod)]
    assert len(had) >= 4  # scheduler, web, workers, triggerer, db-migrations, ...
    for name in had:
        assert "logs-data" not in _volume_names(after[name]), name
        assert "logs-vol" in _volume_names(after[name]), name
    assert _pods(outcome.output) == _pods(_render(chart, "04b-logs-path-global.yaml"))

    again = _inject(outcome.output, GLOBAL_LOGS)
    assert again.exit_code == 0 and again.output == outcome.output
    assert run_remove([(None, outcome.output)], None).output == before


def test_on_conflict_replace_leaves_no_unused_chart_volume() -> None:
    before = _render("community-8.9.0-probes", "04a-logs-path-global.yaml")
    replacing = _inject(before, {**GLOBAL_LOGS, "onConflict": "replace"})
    assert replacing.exit_code == 0, _errors(replacing)
    assert replacing.output == _inject(before, GLOBAL_LOGS).output
    assert run_remove([(None, replacing.output)], None).output == before


def test_the_record_keeps_the_text_it_replaced() -> None:
    before = _render("community-8.9.0-probes", "06a-logs-persistence-worker-own.yaml")
    spec = {
        "workers": {
            "extraVolumes": [{"name": "wrk-logs", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "wrk-logs", "mountPath": "/opt/airflow/logs"}],
        }
    }
    outcome = _inject(before, spec)
    assert outcome.exit_code == 0, _errors(outcome)
    worker = next(
        d
        for d in yaml.safe_load_all(outcome.output)
        if d and d["kind"] == "StatefulSet" and d["metadata"]["name"] == "airflow-worker"
    )
    annotation = worker["spec"]["template"]["metadata"]["annotations"]["airflow-sidecars.dev/rules"]
    record = records.loads(annotation)
    assert record is not None
    # the chart's PVC volume and its mount with an empty `subPath:` and trailing spaces, as
    # they were written: nothing could rebuild those from the data
    assert record.took[("volume", "wrk-logs")].startswith("name: logs-data\n")
    assert "claimName: airflow-logs" in record.took[("volume", "wrk-logs")]
    mounts = [text for item, text in record.took.items() if item[0] == "mount"]
    assert len(mounts) == 3  # the worker, check-db, wait-for-db-migrations
    assert any(text.endswith("subPath:         \n") for text in mounts)
    assert run_remove([(None, outcome.output)], None).output == before


def test_a_later_run_without_the_mount_gives_the_chart_s_logs_data_back() -> None:
    before = _render("community-8.9.0-probes", "05a-logs-path-own-and-template.yaml")
    spec = {
        "scheduler": {
            "extraVolumes": [{"name": "sch-home", "emptyDir": {"medium": "Memory"}}],
            "extraVolumeMounts": [{"name": "sch-home", "mountPath": "/opt/airflow"}],
        }
    }
    other = {"scheduler": {"extraVolumes": [{"name": "other", "emptyDir": {}}]}}
    first = _inject(before, spec)
    assert first.exit_code == 0, _errors(first)
    later = _inject(first.output, other)  # the same config's name: its record is taken back
    assert later.exit_code == 0, _errors(later)
    assert later.output == _inject(before, other).output


def test_the_pod_template_takes_a_volume_of_the_chart_s_own_name() -> None:
    before = _render("community-8.9.0-probes", "05a-logs-path-own-and-template.yaml")
    claim = {"name": "logs-data", "persistentVolumeClaim": {"claimName": "task-logs"}}
    spec = {
        "airflow": {
            "kubernetesPodTemplate": {
                "extraVolumes": [claim],
                "extraVolumeMounts": [{"name": "logs-data", "mountPath": "/opt/airflow/logs/"}],
            }
        }
    }
    outcome = _inject(before, spec)
    assert outcome.exit_code == 0, _errors(outcome)
    template = _pods(outcome.output)["ConfigMap/airflow-pod-template"]
    assert template["volumes"] == [claim]
    again = _inject(outcome.output, spec)
    assert again.output == outcome.output
    assert run_remove([(None, outcome.output)], None).output == before


def test_the_chart_refuses_the_values_while_log_cleanup_mounts_logs_data() -> None:
    before = _render("community-8.9.0", "01a-celery-default.yaml")  # log-cleanup on
    outcome = _inject(before, GLOBAL_LOGS)
    errors = _errors(outcome)
    assert any("log-cleanup" in message and "refuses" in message for _, message in errors)
    assert outcome.output == before  # nothing applied


def test_the_mounted_volume_must_come_with_the_config() -> None:
    before = _render("community-8.9.0-probes", "04a-logs-path-global.yaml")
    outcome = _inject(before, {"airflow": {"extraVolumeMounts": [LOGS_MOUNT]}})
    assert any("leaves out its own volume 'logs-data'" in m for _, m in _errors(outcome))
    assert outcome.output == before


def test_the_official_chart_keeps_its_logs_volume() -> None:
    # No such rule there: the chart renders both mounts at one path, which the API server
    # rejects; inject says so instead.
    before = _render("official-1.22.0", "01a-celery-default.yaml")
    spec = {"scheduler": {"extraVolumes": [LOGS_VOLUME], "extraVolumeMounts": [LOGS_MOUNT]}}
    outcome = _inject(before, spec)
    assert "name-conflict" in [rule for rule, _ in _errors(outcome)]
    assert outcome.output == before


# -- the record's new field ------------------------------------------------------------------


@pytest.mark.parametrize(
    "took",
    [
        {"volumes": {"other": "name: logs-data\n"}},  # an item the record does not name
        {"volumes": {"v": 5}},
        {"volumes": {"v": ""}},
        {"secrets": {"v": "name: x\n"}},
        {"mounts": {"c": "name: x\n"}},
    ],
)
def test_a_record_whose_took_is_not_inject_s_is_refused(took: dict[str, Any]) -> None:
    text = records.Record({("volume", "v")}, digests={("volume", "v"): "0" * 16}).dumps()
    data = yaml.safe_load(text)
    data["took"] = took
    with pytest.raises(RecordError):
        records.loads(yaml.safe_dump(data, default_flow_style=True).replace("\n", " "))


def test_a_record_keeps_took_through_dumps_and_loads() -> None:
    item = ("mount", "base", "/opt/airflow/logs")
    record = records.Record(
        {item}, digests={item: "1" * 16}, took={item: "name: logs-data\n  mountPath: /l  \n"}
    )
    again = records.loads(record.dumps())
    assert again is not None and again.took == record.took


def test_the_chart_refuses_a_global_mount_over_the_logs_claim() -> None:
    # logs.persistence on: `logs-data` is the logs claim, and the chart refuses a mount of
    # airflow.extraVolumeMounts over it (a pod's own mount it renders: the probe 06 pair)
    before = _render("community-8.9.0-probes", "06a-logs-persistence-worker-own.yaml")
    for spec in (GLOBAL_LOGS, {"volumes": [LOGS_VOLUME], "volumeMounts": [LOGS_MOUNT]}):
        outcome = _inject(before, spec)
        refused = [m for _, m in _errors(outcome) if "refuses" in m]
        assert refused and "logs.persistence.enabled" in refused[0], _errors(outcome)
        assert outcome.output == before


@pytest.mark.parametrize(
    "text",
    [
        "name: evil\n  hostPath:\n    path: /\n",  # not the chart's entry
        "name: logs-data\n---\nkind: Secret\n",  # not one entry
        "- a\n",
    ],
)
def test_a_took_text_is_only_ever_a_chart_entry_a_rule_takes(text: str) -> None:
    item = ("volume", "v")
    record = records.Record({item}, digests={item: "2" * 16}, took={item: text})
    with pytest.raises(RecordError):
        records.loads(record.dumps())


def test_a_take_read_back_from_a_cluster_is_not_taken_again() -> None:
    """The config's volume of the chart's own name in place of logs-data, as the API server
    stores it (a hostPath gets `type: ""`): the take is done, a second run changes nothing."""
    before = _render("community-8.9.0-probes", "04a-logs-path-global.yaml")
    host_logs = {"name": "logs-data", "hostPath": {"path": "/var/log/airflow"}}
    mount = {"name": "logs-data", "mountPath": "/opt/airflow/logs"}
    spec = {"airflow": {"extraVolumes": [host_logs], "extraVolumeMounts": [mount]}}
    first = _inject(before, spec)
    assert first.exit_code == 0, _errors(first)
    documents = [d for d in yaml.safe_load_all(first.output) if d]
    for document in documents:
        spec_of = document.get("spec") or {}
        template = (spec_of.get("jobTemplate") or {}).get("spec", spec_of).get("template")
        if template:
            template["spec"] = apply_defaults(template["spec"], "podSpec", "template")
    live = yaml.safe_dump_all(documents, sort_keys=False).encode()
    assert b'type: ""' in live or b"type: ''" in live
    again = _inject(live, spec)
    assert again.exit_code == 0, _errors(again)
    assert list(yaml.safe_load_all(again.output)) == list(yaml.safe_load_all(live))
