"""One Helm 4 run, as the plugin sees it, on the streams real Helm 4 hands it
(tests/fixtures/helm4/sent: recorded by tests/e2e/test_helm4_sdk.py): `separate` calls the
plugin twice, the hooks first, and the second call finishes what the hooks' pods need; a
stream without hooks (Helm 4's `nohooks`, Helm 3) says why a hook Job's section cannot work;
and the command line's report file and hand-over record (caller.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from airflow_sidecars.commands import caller
from airflow_sidecars.runs.api import ConfigSource, HelmRun, Outcome, run_inject, run_remove
from conftest import FIXTURES

HELM4 = FIXTURES / "helm4"
CONFIG = ConfigSource("sidecars.yaml", (HELM4 / "config" / "sidecars.yaml").read_bytes())
COMBINED = (HELM4 / "sent" / "combined.yaml").read_bytes()
HOOKS = (HELM4 / "sent" / "separate-hooks.yaml").read_bytes()
MANIFESTS = (HELM4 / "sent" / "separate-manifests.yaml").read_bytes()
NOHOOKS = (HELM4 / "sent" / "nohooks.yaml").read_bytes()
ANNOTATION = "iam.gke.io/gcp-service-account"
ACCOUNT = "airflow@my-project.iam.gserviceaccount.com"
HANDED = HelmRun(
    True, ((None, "airflow-create-user-job", ((ANNOTATION, ACCOUNT),)),), ("createUserJob",)
)


def inject(stream: bytes, helm_run: HelmRun | None = None) -> Outcome:
    return run_inject([(None, stream)], CONFIG, strict=True, helm_run=helm_run)


def rules(outcome: Outcome, severity: str) -> list[str]:
    return [r.tags["rule"] for r in outcome.results if r.severity == severity]


def annotations_of(output: bytes, account: str) -> dict[str, str]:
    for doc in yaml.safe_load_all(output):
        if doc["kind"] == "ServiceAccount" and doc["metadata"]["name"] == account:
            return dict(doc["metadata"].get("annotations") or {})
    raise AssertionError(account)


def test_the_hooks_call_hands_on_the_annotation_its_service_account_needs() -> None:
    hooks = inject(HOOKS, HelmRun())
    assert hooks.exit_code == 0, hooks.results
    assert hooks.handover == HANDED
    assert rules(hooks, "warning") == []  # not "annotate it yourself": the next call will
    assert b"name: user-audit" in hooks.output


def test_the_second_call_annotates_it_and_does_not_miss_the_hook_job() -> None:
    rest = inject(MANIFESTS, HANDED)
    assert rest.exit_code == 0, rest.results
    assert rest.handover is None
    assert annotations_of(rest.output, "airflow-create-user-job")[ANNOTATION] == ACCOUNT
    # With its record: remove takes it back like any annotation inject set.
    removed = run_remove([(None, rest.output)], CONFIG)
    assert ANNOTATION not in annotations_of(removed.output, "airflow-create-user-job")


def test_the_hooks_call_and_the_second_call_give_what_one_combined_call_gives() -> None:
    combined = inject(COMBINED, HelmRun())
    rest = inject(MANIFESTS, inject(HOOKS, HelmRun()).handover)
    for account in ("airflow-create-user-job", "airflow-scheduler"):
        assert annotations_of(rest.output, account) == annotations_of(combined.output, account)


def test_a_hook_jobs_section_that_neither_call_reaches_is_still_missing() -> None:
    # The chart has no migrations Job at all: the hooks call had none, nor has the rest.
    config = (HELM4 / "config" / "sidecars.yaml").read_text() + (
        "  migrateDatabaseJob:\n    extraInitContainers:\n"
        "      - {name: wait, image: busybox:1.36}\n"
    )
    source = ConfigSource("sidecars.yaml", config.encode())
    hooks = run_inject([(None, HOOKS)], source, strict=True, helm_run=HelmRun())
    assert hooks.exit_code == 0, hooks.results  # a hooks stream cannot tell
    rest = run_inject([(None, MANIFESTS)], source, strict=True, helm_run=hooks.handover)
    assert rest.exit_code == 1
    (message,) = [r.message for r in rest.results if r.tags["rule"] == "no-match"]
    assert message.startswith("spec.migrateDatabaseJob matched no workload")
    assert "neither the Helm hooks (post-rendered before this stream) nor this stream" in message


def test_plain_inject_stays_a_function_of_its_input() -> None:
    # Without the plugin route, the hooks stream hands nothing on and says what is missing.
    hooks = run_inject([(None, HOOKS)], CONFIG, strict=True)
    assert hooks.handover is None
    (warning,) = [r.message for r in hooks.results if r.severity == "warning"]
    assert "'airflow-create-user-job', which is not in the input" in warning


@pytest.mark.parametrize("helm_run", [None, HelmRun()], ids=["plain", "plugin-first-call"])
def test_nohooks_is_an_error_that_says_why_and_what_to_do(helm_run: HelmRun | None) -> None:
    # Helm 4 marked the stream, and no hooks call came before: the strategy is nohooks.
    outcome = inject(NOHOOKS, helm_run)
    assert outcome.exit_code == 1
    (message,) = [r.message for r in outcome.results if r.tags["rule"] == "no-match"]
    assert "the post-render strategy `nohooks` does not post-render hooks" in message
    for fix in ("`combined`", "from-values --route helm3", "createUserJob.useHelmHooks: false"):
        assert fix in message


def test_helm3_says_why_and_what_to_do() -> None:
    helm3 = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    config = ConfigSource(
        "c.yaml",
        b"apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\nmetadata:\n"
        b"  name: h3\nspec:\n  migrateDatabaseJob:\n    extraInitContainers:\n"
        b"      - {name: wait, image: busybox:1.36}\n  scheduler:\n    extraContainers:\n"
        b"      - {name: s, image: busybox:1.36}\n",
    )
    outcome = run_inject([(None, helm3)], config, strict=True)
    assert outcome.exit_code == 1
    (message,) = [r.message for r in outcome.results if r.tags["rule"] == "no-match"]
    assert "Helm 3's --post-renderer passes no hooks" in message
    assert "from-values --route helm3" in message
    assert "migrateDatabaseJob.useHelmHooks: false" in message


# -- the command line's side: the report file and the hand-over record --------------------------


def test_a_report_gathers_one_callers_runs_and_a_new_caller_replaces_it(tmp_path: Path) -> None:
    report = tmp_path / "state" / "report.txt"
    helm = caller.Caller(4321, "987654")
    assert caller.write_report(str(report), "inject: hooks\n", helm) is None
    assert caller.write_report(str(report), "inject: the rest\n", helm) is None
    assert report.read_text() == helm.header() + "inject: hooks\ninject: the rest\n"
    again = caller.Caller(4321, "999999")  # the same pid, a later process
    assert caller.write_report(str(report), "inject: next run\n", again) is None
    assert report.read_text() == again.header() + "inject: next run\n"


def test_the_caller_is_the_parent_process_and_its_start_time() -> None:
    who = caller.caller()
    assert who.pid == os.getppid()
    if os.path.exists(f"/proc/{who.pid}/stat"):
        assert who.started.isdigit()


def test_the_hand_over_record_is_private_and_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    helm = caller.Caller(4321, "987654")
    assert caller.take_handover(helm) == HelmRun()  # none left: an empty one
    caller.leave_handover(helm, HANDED)
    (record,) = tmp_path.iterdir()
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert caller.take_handover(caller.Caller(4321, "1")) == HelmRun()  # another caller's
    assert caller.take_handover(helm) == HANDED
    assert not list(tmp_path.iterdir())
    assert caller.take_handover(helm) == HelmRun()
