"""`airflow-sidecars validate`: every rule fails and passes on the real renders.

Each rule has a case that must be flagged and one that must not, built from tests/fixtures (a
render as it is, the output of `inject`, or a render with one field changed to show one
mistake). Then the contract of the function: the clean renders give no errors; `inject` then
`validate` with the same config passes on every fixture; the seed's three examples, pasted into
the chart vocabulary, are flagged for exactly the problems they have; items come back as they
came, and KRM mode carries the results.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_validate
from conftest import FIXTURES, ROOT, TESTS, matrix_root

OFFICIAL = FIXTURES / "official-1.15.0"
SEED_AS_PASTED = TESTS / "golden" / "official-1.15.0-seed-as-pasted" / "config.yaml"
SEED_PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
# The charts' own renders of the seed's values (official 05b, community 02b) carry the seed's
# bugs; every other render is clean.
SEED_AFTER = [
    OFFICIAL / "05b-sidecars-after.yaml",
    FIXTURES / "community-8.9.0" / "02b-extra-containers-after.yaml",
]
CLEAN = sorted(
    path
    for path in FIXTURES.glob("*/*.yaml")
    if not path.name.endswith(".values.yaml") and path not in SEED_AFTER
)
CLEAN_IDS = [f"{p.parent.name}/{p.stem}" for p in CLEAN]


def _validate(render: bytes, config: bytes | None = None) -> Outcome:
    source = ConfigSource("config.yaml", config) if config is not None else None
    return run_validate([("render.yaml", render)], source)


def _inject(render: bytes, config: bytes) -> bytes:
    outcome = run_inject([("render.yaml", render)], ConfigSource("config.yaml", config))
    assert outcome.exit_code == 0, [r.message for r in outcome.results if r.severity == "error"]
    return outcome.output


def _findings(outcome: Outcome, rule: str) -> list[tuple[str, str | None, str]]:
    """(resource, field, message) of the results with this rule."""
    return [
        (str(r.resource), r.field_path, r.message)
        for r in outcome.results
        if r.tags.get("rule") == rule
    ]


def _edited(path: Path, change: Callable[[list[dict[str, Any]]], None]) -> bytes:
    """A real render with one deliberate mistake (change edits the parsed documents)."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    change(documents)
    return yaml.safe_dump_all(documents, sort_keys=False).encode()


def _workload(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name
    )
    return found


def _pod(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = _workload(documents, kind, name)["spec"]["template"]["spec"]
    return pod


SEED_WORKERS_ONLY = b"""\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata: {name: seed-workers}
spec:
  workers:
    extraContainers:
      - name: worker-kerberos
        image: myrepository/kerberos:1.0
        volumeMounts: [{name: keytab, mountPath: /etc/keytab}]
    extraVolumes: [{name: keytab, persistentVolumeClaim: {claimName: airflow-keytab}}]
"""


def _swap_base(documents: list[dict[str, Any]]) -> None:
    config = _workload(documents, "ConfigMap", "airflow-config")
    template = yaml.safe_load(config["data"]["pod_template_file.yaml"])
    sidecar = {"name": "log-shipper", "image": "fluent/fluent-bit:3.1.9"}
    template["spec"]["containers"].insert(0, sidecar)
    config["data"]["pod_template_file.yaml"] = yaml.safe_dump(template, sort_keys=False)


def _duplicate_container(documents: list[dict[str, Any]]) -> None:
    pod = _pod(documents, "Deployment", "airflow-scheduler")
    pod["initContainers"].append(copy.deepcopy(pod["containers"][1]))


SECRET_VALUE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DATABASE_URI = "postgresql://airflow:s3cr3t-passw0rd@db.example.com:5432/airflow"


def _literal_secrets(documents: list[dict[str, Any]]) -> None:
    scheduler = _pod(documents, "Deployment", "airflow-scheduler")["containers"][0]
    scheduler["env"] += [
        {"name": "AWS_SECRET_ACCESS_KEY", "value": SECRET_VALUE},
        {"name": "MY_DB", "value": DATABASE_URI},
        # Airflow's `_CMD` / `_SECRET` options name a command or a backend key: not secrets.
        {"name": "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET", "value": "airflow/db"},
        {"name": "AIRFLOW__WEBSERVER__SECRET_KEY_CMD", "value": "cat /run/secret"},
    ]


class Case:
    def __init__(self, rule: str, failing: Callable[[], Outcome], passing: Callable[[], Outcome]):
        self.rule, self.failing, self.passing = rule, failing, passing


def _after_05b() -> Outcome:
    return _validate((OFFICIAL / "05b-sidecars-after.yaml").read_bytes())


def _presets_on_kubernetes_executor() -> Outcome:
    render = (OFFICIAL / "02-kubernetes-executor.yaml").read_bytes()
    return _validate(_inject(render, SEED_PRESETS.read_bytes()))


def _seed_workers_in_pod_template(native: bool) -> Outcome:
    """The seed's renewer in the pod template: native, or plain as the chart adds it (inject
    refuses that unless allowed, so this render is made with the allowance)."""
    switch = b"nativeSidecars" if native else b"allowPlainSidecars"
    config = SEED_WORKERS_ONLY.replace(b"  workers:\n", b"  workers:\n    " + switch + b": true\n")
    render = (OFFICIAL / "02-kubernetes-executor.yaml").read_bytes()
    return _validate(_inject(render, config))


FIXED_SEED = (ROOT / "pipelines" / "examples" / "seed-sidecars.yaml").read_bytes()


def _bad_quantity(documents: list[dict[str, Any]]) -> None:
    scheduler = _pod(documents, "Deployment", "airflow-scheduler")["containers"][0]
    scheduler["resources"] = {"limits": {"cpu": True, "memory": "5 GiB"}}


CASES = [
    Case(
        "missing-volume",
        _after_05b,
        lambda: _validate((OFFICIAL / "05a-sidecars-before.yaml").read_bytes()),
    ),
    Case(
        "duplicate-container",
        lambda: _validate(_edited(OFFICIAL / "01-default.yaml", _duplicate_container)),
        lambda: _validate((OFFICIAL / "01-default.yaml").read_bytes()),
    ),
    Case(
        "plain-sidecar",
        lambda: _seed_workers_in_pod_template(native=False),
        lambda: _seed_workers_in_pod_template(native=True),
    ),
    Case(
        "base-not-first",
        lambda: _validate(_edited(OFFICIAL / "02-kubernetes-executor.yaml", _swap_base)),
        lambda: _validate((OFFICIAL / "02-kubernetes-executor.yaml").read_bytes()),
    ),
    Case("keytab-exposed", _after_05b, _presets_on_kubernetes_executor),
    Case(
        "literal-secret",
        lambda: _validate(_edited(OFFICIAL / "01-default.yaml", _literal_secrets)),
        lambda: _validate((OFFICIAL / "01-default.yaml").read_bytes()),
    ),
    Case("unpinned-image", _after_05b, _presets_on_kubernetes_executor),
    Case("no-requests", _after_05b, _presets_on_kubernetes_executor),
    Case(
        "bad-quantity",
        lambda: _validate(_edited(OFFICIAL / "01-default.yaml", _bad_quantity)),
        lambda: _validate((OFFICIAL / "01-default.yaml").read_bytes()),
    ),
    Case(
        "declared-missing",
        lambda: _validate((OFFICIAL / "05a-sidecars-before.yaml").read_bytes(), FIXED_SEED),
        lambda: _validate(
            _inject((OFFICIAL / "05a-sidecars-before.yaml").read_bytes(), FIXED_SEED), FIXED_SEED
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_each_rule_fails_and_passes(case: Case) -> None:
    failing, passing = case.failing(), case.passing()
    assert _findings(failing, case.rule), [r.line() for r in failing.results]
    assert not _findings(passing, case.rule), _findings(passing, case.rule)


def test_a_literal_secret_is_named_but_never_echoed() -> None:
    outcome = _validate(_edited(OFFICIAL / "01-default.yaml", _literal_secrets))
    found = _findings(outcome, "literal-secret")
    assert sorted(message.split()[2] for _, _, message in found) == [
        "AWS_SECRET_ACCESS_KEY",
        "MY_DB",
    ]
    everything = outcome.output.decode() + "\n".join(r.line() for r in outcome.results)
    shown = "\n".join(r.line() for r in outcome.results)
    assert SECRET_VALUE not in shown and "s3cr3t" not in shown
    assert everything.count(SECRET_VALUE) == 1  # only in the item, as it came


def test_the_seed_as_pasted_is_flagged_for_exactly_its_problems() -> None:
    # The chart itself rendered the seed's values (05b): a dangling `dags` mount, the keytab
    # in the worker's Airflow containers, unpinned sidecar images, no requests.
    outcome = _after_05b()
    got = sorted(
        (r.severity, r.tags["rule"], str(r.resource), r.field_path or "") for r in outcome.results
    )
    scheduler, worker = "Deployment airflow-scheduler", "StatefulSet airflow-worker"
    webserver, pod = "Deployment airflow-webserver", "spec.template.spec"
    assert got == sorted(
        [
            ("error", "missing-volume", scheduler, f"{pod}.containers[2].volumeMounts[0].name"),
            ("warning", "unpinned-image", scheduler, f"{pod}.containers[2].image"),
            ("info", "no-requests", scheduler, f"{pod}.containers[2]"),
            ("info", "no-requests", webserver, f"{pod}.containers[1]"),
            ("warning", "keytab-exposed", worker, f"{pod}.initContainers[0].volumeMounts[2]"),
            ("warning", "keytab-exposed", worker, f"{pod}.containers[0].volumeMounts[0]"),
            ("warning", "keytab-exposed", worker, f"{pod}.containers[1].volumeMounts[1]"),
            ("warning", "unpinned-image", worker, f"{pod}.containers[2].image"),
            ("info", "no-requests", worker, f"{pod}.containers[2]"),
        ]
    )
    assert outcome.exit_code == 1
    # The community chart's render of the same values has the same problems.
    community = _validate(SEED_AFTER[1].read_bytes())
    assert sorted({(r.tags["rule"], str(r.resource)) for r in community.results}) == sorted(
        [
            ("keytab-exposed", worker),
            ("missing-volume", scheduler),
            ("no-requests", "Deployment airflow-web"),
            ("no-requests", scheduler),
            ("no-requests", worker),
            ("unpinned-image", scheduler),
            ("unpinned-image", worker),
        ]
    )
    # And the seed's worker sidecar in a KubernetesExecutor pod template:
    in_pod_template = _seed_workers_in_pod_template(native=False)
    assert [f[0] for f in _findings(in_pod_template, "plain-sidecar")] == [
        "ConfigMap airflow-config"
    ]


def test_there_are_clean_renders_of_every_chart() -> None:
    assert {p.parent.name for p in CLEAN} == {
        "official-1.15.0",
        "official-1.18.0",
        "official-1.20.0",
        "official-1.22.0",
        "community-8.9.0",
    }
    assert len(CLEAN) >= 12


@pytest.mark.parametrize("render", CLEAN, ids=CLEAN_IDS)
def test_clean_renders_have_no_errors(render: Path) -> None:
    outcome = _validate(render.read_bytes())
    assert outcome.exit_code == 0, [r.line() for r in outcome.results if r.severity == "error"]
    assert outcome.output == render.read_bytes()


@pytest.mark.parametrize("render", CLEAN, ids=CLEAN_IDS)
def test_inject_then_validate_with_the_same_config_passes(render: Path) -> None:
    config = SEED_PRESETS.read_bytes()
    injected = _inject(render.read_bytes(), config)
    outcome = _validate(injected, config)
    errors = [r.line() for r in outcome.results if r.severity == "error"]
    assert outcome.exit_code == 0 and not errors, errors
    # Hook files hold Jobs only; every other render gets at least one preset sidecar.
    if not render.name.endswith(".hooks.yaml"):
        assert injected != render.read_bytes()


def test_rules_can_be_turned_off() -> None:
    config = b"""\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata: {name: relaxed}
spec:
  validate: {disable: [missing-volume, keytab-exposed]}
"""
    outcome = _validate((OFFICIAL / "05b-sidecars-after.yaml").read_bytes(), config)
    rules = {r.tags["rule"] for r in outcome.results}
    assert rules == {"unpinned-image", "no-requests"}
    assert outcome.exit_code == 0


def test_krm_mode_returns_every_item_and_the_results() -> None:
    items = [d for d in yaml.safe_load_all((OFFICIAL / "05b-sidecars-after.yaml").read_text()) if d]
    resource_list = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
    }
    outcome = run_validate([(None, json.dumps(resource_list).encode())], None)
    output = yaml.safe_load(outcome.output)
    assert output["items"] == items
    assert len(output["results"]) == len(outcome.results) == 9
    first = output["results"][0]
    assert first["tags"] == {"function": "validate", "rule": "missing-volume"}
    assert first["resourceRef"]["name"] == "airflow-scheduler"
    assert first["field"]["path"].startswith("spec.template.spec.containers[2]")


# Every render of the official chart's own Kerberos values in the committed fixtures: the
# chart mounts its keytab into the Celery worker and the pod template's `base` (and its
# kerberos-init and worker-kerberos), whatever a user does.
CHART_KERBEROS = [
    "official-1.15.0/09-chart-kerberos-init.yaml",
    "official-1.18.0/09a-kerberos.yaml",
    "official-1.18.0/20a-kubernetes-executor-kerberos.yaml",
    "official-1.20.0/09a-kerberos.yaml",
    "official-1.20.0/22a-kubernetes-executor-kerberos.yaml",
    "official-1.20.0-probes/06a-kerberos-celery-k8s-nested.yaml",
    "official-1.22.0/09a-kerberos.yaml",
    "official-1.22.0/22a-kubernetes-executor-kerberos.yaml",
    "official-1.22.0-probes/06a-kerberos-celery-k8s-nested.yaml",
]

# A config that mounts the chart's own keytab into a log shipper beside each worker: a
# container that does not need it.
KEYTAB_INTO_A_SIDECAR = b"""\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata: {name: shipper}
spec:
  workers:
    extraContainers:
      - name: log-shipper
        image: fluent/fluent-bit:3.1.9
        resources: {requests: {cpu: 10m, memory: 32Mi}}
        volumeMounts: [{name: kerberos-keytab, mountPath: /etc/airflow.keytab, readOnly: true}]
"""


def _chart_kerberos_render(name: str) -> Path:
    if name.startswith("official-1.15.0/"):
        return FIXTURES / name
    return matrix_root() / name


@pytest.mark.parametrize("render", CHART_KERBEROS)
def test_the_charts_own_kerberos_layout_exposes_no_keytab(render: str) -> None:
    outcome = _validate(_chart_kerberos_render(render).read_bytes())
    assert not _findings(outcome, "keytab-exposed")
    hooks = _chart_kerberos_render(render.replace(".yaml", ".hooks.yaml"))
    if hooks.exists():
        assert not _findings(_validate(hooks.read_bytes()), "keytab-exposed")


@pytest.mark.parametrize(
    "render", ["official-1.15.0/09-chart-kerberos-init.yaml", "official-1.22.0/09a-kerberos.yaml"]
)
def test_the_charts_keytab_mounted_by_a_config_into_a_sidecar_is_exposed(render: str) -> None:
    injected = _inject(_chart_kerberos_render(render).read_bytes(), KEYTAB_INTO_A_SIDECAR)
    found = _findings(_validate(injected, KEYTAB_INTO_A_SIDECAR), "keytab-exposed")
    assert [(resource, message.split(" sees")[0]) for resource, _, message in found] == [
        ("StatefulSet airflow-worker", "container 'log-shipper'")
    ]


@pytest.mark.parametrize("render", ["05a-sidecars-before.yaml", "09-chart-kerberos-init.yaml"])
def test_a_keytab_a_config_mounts_into_the_worker_is_still_exposed(render: str) -> None:
    # The seed as the article wrote it: its own keytab volume, mounted by
    # workers.extraVolumeMounts into the chart's containers, which do not need it - also
    # beside the chart's own Kerberos layout, which is not flagged.
    config = (
        SEED_WORKERS_ONLY + b"    extraVolumeMounts: [{name: keytab, mountPath: /etc/keytab}]\n"
    )
    found = _findings(
        _validate(_inject((OFFICIAL / render).read_bytes(), config)), "keytab-exposed"
    )
    exposed = {(message.split(" sees")[0], message.split("keytab (")[1]) for _, _, message in found}
    assert (
        "container 'worker'",
        "'keytab'); only the ticket renewer needs it - share the credential cache instead",
    ) in exposed
    assert all(volume.startswith("'keytab'") for _, volume in exposed)
