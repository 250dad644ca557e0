"""Safe in real pipelines: a config that reaches nothing fails, `--strict` makes every reach
warning an error, a Helm 4 hooks stream is quiet about what it cannot hold, a plain sidecar in
a pod that must complete is an error unless allowed, and a run with errors applies nothing,
in both modes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_validate
from conftest import FIXTURES, config_yaml

O15 = FIXTURES / "official-1.15.0"
O20 = FIXTURES / "official-1.20.0"
RENDER_15 = (O15 / "01-default.yaml").read_bytes()
HOOKS_15 = (O15 / "01-default.hooks.yaml").read_bytes()
KUBERNETES_15 = (O15 / "02-kubernetes-executor.yaml").read_bytes()
RENDER_20 = (O20 / "01-default.yaml").read_bytes()
SIDECAR = {"name": "shipper", "image": "fluent/fluent-bit:3.1"}


def inject(render: bytes, spec: dict[str, Any], *, strict: bool = False) -> Outcome:
    config = ConfigSource("config.yaml", config_yaml(spec, "test"))
    return run_inject([("render.yaml", render)], config, strict=strict)


def found(outcome: Outcome, rule: str) -> list[tuple[str, str]]:
    return [(r.severity, r.message) for r in outcome.results if r.tags.get("rule") == rule]


# -- a config that reaches nothing ---------------------------------------------------------


def test_a_config_for_the_other_airflow_version_fails_and_says_what_the_render_has() -> None:
    outcome = inject(RENDER_20, {"webserver": {"extraContainers": [SIDECAR]}})
    assert outcome.exit_code == 1
    (error,) = [m for s, m in found(outcome, "no-match") if s == "error"]
    assert "reaches no workload of this render" in error
    assert "release 'airflow'" in error and "apiServer" in error
    assert "official chart 1.20.0" in error
    warnings = [m for s, m in found(outcome, "no-match") if s == "warning"]
    assert any("did you mean apiServer?" in m for m in warnings)
    assert outcome.output == RENDER_20  # nothing applied


def test_match_that_leaves_nothing_fails() -> None:
    spec = {"match": {"release": "prod"}, "scheduler": {"extraContainers": [SIDECAR]}}
    outcome = inject(RENDER_15, spec)
    assert outcome.exit_code == 1
    (error,) = [m for s, m in found(outcome, "no-match") if s == "error"]
    assert "spec.match leaves none of them" in error


def test_a_config_that_reaches_something_only_warns_about_the_rest() -> None:
    spec = {
        "scheduler": {"extraContainers": [SIDECAR]},
        "apiServer": {"extraContainers": [{**SIDECAR, "name": "other"}]},
    }
    outcome = inject(RENDER_15, spec)
    assert outcome.exit_code == 0
    assert [s for s, _ in found(outcome, "no-match")] == ["warning"]
    assert b"fluent/fluent-bit:3.1" in outcome.output


def test_a_second_run_reaches_what_the_first_added() -> None:
    spec = {"scheduler": {"extraContainers": [SIDECAR]}}
    first = inject(RENDER_15, spec)
    again = inject(first.output, spec)
    assert again.exit_code == 0 and again.output == first.output


def test_an_input_without_airflow_only_warns() -> None:
    render = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n"
    outcome = inject(render, {"scheduler": {"extraContainers": [SIDECAR]}})
    assert outcome.exit_code == 0
    assert [s for s, _ in found(outcome, "no-match")] == ["warning"]
    assert outcome.output == render


# -- strict ------------------------------------------------------------------------------


def test_strict_makes_every_reach_warning_an_error() -> None:
    spec = {
        "scheduler": {"extraContainers": [SIDECAR]},
        "apiServer": {"extraContainers": [{**SIDECAR, "name": "other"}]},
    }
    for outcome in (
        inject(RENDER_15, spec, strict=True),
        inject(RENDER_15, {**spec, "strict": True}),
    ):
        assert outcome.exit_code == 1
        assert [s for s, _ in found(outcome, "no-match")] == ["error"]
        assert outcome.output == RENDER_15


def test_strict_validate_reports_the_same_as_errors() -> None:
    spec = {"apiServer": {"extraContainers": [SIDECAR]}, "scheduler": {"extraContainers": []}}
    config = ConfigSource("config.yaml", config_yaml(spec, "test"))
    loose = run_validate([("render.yaml", RENDER_15)], config)
    strict = run_validate([("render.yaml", RENDER_15)], config, strict=True)
    assert {s for s, _ in found(loose, "no-match")} == {"error", "warning"}
    assert {s for s, _ in found(strict, "no-match")} == {"error"}


# -- Helm 4 (`separate`): the hooks as a stream of their own----------------------------------------


def test_a_hooks_stream_is_quiet_about_what_it_cannot_hold() -> None:
    spec = {
        "scheduler": {"extraContainers": [SIDECAR]},
        "migrateDatabaseJob": {"extraInitContainers": [{**SIDECAR, "name": "wait"}]},
    }
    hooks = inject(HOOKS_15, spec)
    assert hooks.exit_code == 0, hooks.results
    assert found(hooks, "no-match") == []
    assert b"name: wait" in hooks.output
    main = inject(RENDER_15, spec)
    assert main.exit_code == 0
    (warning,) = [m for _, m in found(main, "no-match")]
    assert "Helm 3's --post-renderer passes no hooks" in warning
    assert "from-values --route helm3" in warning


def test_a_hooks_stream_with_nothing_for_hooks_changes_nothing_quietly() -> None:
    outcome = inject(HOOKS_15, {"scheduler": {"extraContainers": [SIDECAR]}}, strict=True)
    assert outcome.exit_code == 0, outcome.results
    assert outcome.output == HOOKS_15
    assert found(outcome, "no-match") == []


# -- plain sidecars in pods that must complete ---------------------------------------------


def test_a_plain_sidecar_in_a_hook_job_is_an_error_and_nothing_is_applied() -> None:
    outcome = inject(HOOKS_15, {"createUserJob": {"extraContainers": [SIDECAR]}})
    assert outcome.exit_code == 1
    ((severity, message),) = found(outcome, "plain-sidecar")
    assert severity == "error"
    assert "spec.createUserJob.nativeSidecars: true" in message
    assert "spec.createUserJob.allowPlainSidecars: true" in message
    assert outcome.output == HOOKS_15


@pytest.mark.parametrize(
    ("switch", "where"),
    [("allowPlainSidecars", b"  containers:"), ("nativeSidecars", b"restartPolicy: Always")],
)
def test_a_plain_sidecar_allowed_or_made_native_goes_in(switch: str, where: bytes) -> None:
    spec = {"createUserJob": {"extraContainers": [SIDECAR], switch: True}}
    outcome = inject(HOOKS_15, spec)
    assert outcome.exit_code == 0, outcome.results
    assert found(outcome, "plain-sidecar") == []
    assert b"fluent/fluent-bit:3.1" in outcome.output and where in outcome.output
    config = ConfigSource("config.yaml", config_yaml(spec, "test"))
    checked = run_validate([("out.yaml", outcome.output)], config)
    # made native: nothing to say; allowed: said all the same, as a warning
    expected = ["warning"] if switch == "allowPlainSidecars" else []
    assert [s for s, _ in found(checked, "plain-sidecar")] == expected, checked.results
    assert checked.exit_code == 0


def test_validate_without_the_allowance_reports_the_plain_sidecar() -> None:
    spec = {"createUserJob": {"extraContainers": [SIDECAR], "allowPlainSidecars": True}}
    injected = inject(HOOKS_15, spec)
    checked = run_validate([("out.yaml", injected.output)], None)
    assert [s for s, _ in found(checked, "plain-sidecar")] == ["error"]
    # with the config: the same finding, at the same field, the allowance noted
    config = ConfigSource("config.yaml", config_yaml(spec, "test"))
    allowed = run_validate([("out.yaml", injected.output)], config)
    (error,) = [r for r in checked.results if r.tags.get("rule") == "plain-sidecar"]
    (warning,) = [r for r in allowed.results if r.tags.get("rule") == "plain-sidecar"]
    assert (warning.resource, warning.field_path) == (error.resource, error.field_path)
    assert warning.severity == "warning"
    assert "allowed by spec.createUserJob.allowPlainSidecars" in warning.message


def test_a_plain_sidecar_in_the_pod_template_is_an_error() -> None:
    outcome = inject(KUBERNETES_15, {"workers": {"extraContainers": [SIDECAR]}})
    assert outcome.exit_code == 1
    assert [s for s, _ in found(outcome, "plain-sidecar")] == ["error"]
    assert outcome.output == KUBERNETES_15


# -- on any error, nothing is applied, in both modes -----------------------------------------


def test_an_error_in_one_pod_applies_nothing_and_says_so() -> None:
    spec = {
        "scheduler": {"extraContainers": [SIDECAR]},
        "triggerer": {"extraContainers": [{**SIDECAR, "name": "triggerer"}]},  # the chart's own
    }
    outcome = inject(RENDER_15, spec)
    assert outcome.exit_code == 1
    assert outcome.output == RENDER_15
    assert [s for s, _ in found(outcome, "name-conflict")] == ["error"]
    (added,) = [m for _, m in found(outcome, "added")]
    assert "would have added container shipper" in added and added.endswith("(not applied)")
    assert outcome.results[-1].tags["rule"] == "not-applied"
    assert "nothing was applied" in outcome.results[-1].message


def test_in_krm_mode_the_items_come_back_unchanged_with_the_results() -> None:
    items = [doc for doc in yaml.safe_load_all(RENDER_15) if doc]
    spec = {
        "scheduler": {"extraContainers": [SIDECAR]},
        "triggerer": {"extraContainers": [{**SIDECAR, "name": "triggerer"}]},
    }
    resource_list = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": yaml.safe_load(config_yaml(spec, "test")),
    }
    outcome = run_inject([(None, yaml.safe_dump(resource_list).encode())], None)
    assert outcome.exit_code == 1
    output = yaml.safe_load(outcome.output)
    assert output["items"] == items
    rules = [r["tags"]["rule"] for r in output["results"]]
    assert "name-conflict" in rules and rules[-1] == "not-applied"
