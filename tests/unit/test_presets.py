"""Presets on real renders: one config for every release, valid Kubernetes objects, no shell.

The golden cases (tests/golden/presets-*) pin the bytes on each chart and executor. These
tests check what golden files cannot say on their own:
- a release under another name, fullnameOverride and namespace gets the same edits from the
  same config, with its own names: everything a preset adds comes from the render;
- every object a preset run writes (and every golden output of the chart vocabulary), and the
  pod template inside its ConfigMap, passes the Kubernetes OpenAPI schema in strict mode
  (kubernetes-validate, no cluster needed);
- parameters reach containers as values, never as shell text;
- on Airflow 3 without the FAB auth manager, syncPerm says why it cannot work and adds nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from airflow_sidecars.charts.chart import POD_TEMPLATE_SLOTS, SLOTS, Chart, placement
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject
from conftest import FIXTURES, ROOT, TESTS

# The oldest Kubernetes with native sidecars on by default (1.29, beta): what presets need.
KUBERNETES_VERSION = "1.29.0"
SEED_PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"


def _config(presets: dict[str, Any], **spec: Any) -> bytes:
    document = {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": "presets"},
        "spec": {"presets": presets, **spec},
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


def _inject(render: bytes, config: bytes) -> Outcome:
    return run_inject([("render.yaml", render)], ConfigSource("config.yaml", config))


# -- a renamed release ------------------------------------------------------------------------

# Names in the official chart are `<fullname>-*` (fullnameOverride); the release shows in the
# `release` label, the namespace in `namespace:` and airflow.cfg. Left alone: the chart label
# `airflow-1.15.0`, the port name `airflow-ui`, `wait-for-airflow-migrations`,
# `checksum/airflow-config`, image names (after a `/`) and paths.
_RECORDED = re.compile(r'"checksum":\{[^}]*\},?')
# A record's digests are of the content written, which names the release
_DIGEST = re.compile(r'":"[0-9a-f]{16}"')
_NAME = re.compile(r"(?<![\w./-])airflow-(?!ui\b|\d|sidecars\.dev/)")
_RELEASE_LABEL = re.compile(r"^(\s*release: )airflow$", re.M)
_NAMESPACE = re.compile(r'^(\s*namespace: )"?airflow"?$', re.M)
_CFG_NAMESPACE = re.compile(r"^(\s*namespace = )airflow$", re.M)
_CHECKSUM = re.compile(r"(checksum/airflow-config: )[0-9a-f]{64}")


def _rename(text: str) -> str:
    text = _NAME.sub("af-prod-", text)
    text = _RELEASE_LABEL.sub(r"\g<1>prod", text)
    text = _NAMESPACE.sub(r"\g<1>data-platform", text)
    return _CFG_NAMESPACE.sub(r"\g<1>data-platform", text)


# Parameters that are not names of this release, so that renaming the output cannot touch them.
RENAME_CONFIG = _config(
    {
        "s3Sync": {"bucket": "dag-bucket", "roleArn": "arn:aws:iam::123456789012:role/dags"},
        "syncPerm": {"interval": 30},
        "kerberos": {
            "principal": "svc@EXAMPLE.COM",
            "keytabSecret": "svc-keytab",
            "krb5Config": "krb5",
        },
    }
)


@pytest.mark.parametrize(
    "fixture",
    [
        "official-1.15.0/02-kubernetes-executor.yaml",
        "official-1.15.0/03-celery-kubernetes-executor.yaml",
        "official-1.20.0/01-default.yaml",
    ],
)
def test_a_renamed_release_gets_the_same_edits_from_the_same_config(fixture: str) -> None:
    original = (FIXTURES / fixture).read_text()
    renamed = _rename(original)
    assert "af-prod-scheduler" in renamed and "release: prod" in renamed  # the rename took

    edited = _inject(original.encode(), RENAME_CONFIG)
    edited_renamed = _inject(renamed.encode(), RENAME_CONFIG)
    assert edited.exit_code == edited_renamed.exit_code == 0, edited_renamed.results

    # The checksum is of the config's content, which the rename changes (and so are the
    # chart's checksums that the pod template's record keeps): compare the rest.
    want = _RECORDED.sub("", _CHECKSUM.sub(r"\g<1>...", _rename(edited.output.decode())))
    got = _RECORDED.sub("", _CHECKSUM.sub(r"\g<1>...", edited_renamed.output.decode()))
    want, got = _DIGEST.sub('":"-"', want), _DIGEST.sub('":"-"', got)
    assert got == want
    assert got != _CHECKSUM.sub(r"\g<1>...", renamed)  # and the presets did add something
    assert "secretKeyRef:\n                  name: af-prod-metadata" in got or "kerberos" in got


# -- valid Kubernetes objects -----------------------------------------------------------------

PRESET_CASES = sorted(
    path.parent.name for path in (TESTS / "golden").glob("presets-*/expected.yaml")
)


GOLDEN_CASES = sorted(path.parent.name for path in (TESTS / "golden").glob("*/expected.yaml"))


def _objects(path: Path) -> list[dict[str, Any]]:
    """The Kubernetes objects of an output (a stream, or a ResourceList's items), and the pod
    template inside its ConfigMap. Client-side objects (Kptfile, kustomization, our config)
    are not Kubernetes API objects and are left out."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    objects = [
        obj
        for doc in documents
        for obj in (doc.get("items") or [] if doc.get("kind") == "ResourceList" else [doc])
        if obj.get("apiVersion") and obj.get("kind") not in ("Kptfile", "AirflowSidecars")
    ]
    pod_templates = [
        yaml.safe_load(value)
        for obj in objects
        if obj.get("kind") == "ConfigMap"
        for key, value in (obj.get("data") or {}).items()
        if key in ("pod_template_file.yaml", "pod_template.yaml")
    ]
    return objects + pod_templates


def test_there_are_preset_golden_cases() -> None:
    assert len(PRESET_CASES) >= 5, PRESET_CASES


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_every_golden_output_passes_the_kubernetes_schema(case: str) -> None:
    # The preset cases above all, and the chart vocabulary's too.
    objects = _objects(TESTS / "golden" / case / "expected.yaml")
    assert any(obj["kind"] in ("Deployment", "StatefulSet", "Job", "Pod") for obj in objects)
    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{obj['kind']} {obj['metadata'].get('name')}: {error.message}")
    assert not problems, problems


def test_the_schema_check_catches_a_broken_pod() -> None:
    # The counterpart: a field kubernetes-validate must reject, in the same kind of object.
    objects = _objects(TESTS / "golden" / PRESET_CASES[0] / "expected.yaml")
    deployment = next(obj for obj in objects if obj["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["mountPath"] = "/opt/airflow/dags"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


# -- values, not shell text -------------------------------------------------------------------


def test_parameters_never_reach_a_shell_string() -> None:
    hostile = "dags; touch /tmp/pwned $(id)"
    config = _config({"s3Sync": {"bucket": "dag-bucket", "prefix": hostile}})
    render = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    outcome = _inject(render, config)
    assert outcome.exit_code == 0, outcome.results
    scheduler = next(
        doc
        for doc in yaml.safe_load_all(outcome.output)
        if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"] == "airflow-scheduler"
    )
    sidecar = next(
        c for c in scheduler["spec"]["template"]["spec"]["containers"] if c["name"] == "s3-sync"
    )
    assert all(hostile not in arg for arg in sidecar["command"] + sidecar["args"])
    assert {"name": "S3_PREFIX", "value": hostile} in sidecar["env"]


def test_a_bucket_name_is_checked_by_the_schema() -> None:
    config = _config({"s3Sync": {"bucket": "x; rm -rf /"}})
    render = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    outcome = _inject(render, config)
    assert outcome.exit_code == 1
    assert any(r.field_path == "spec.presets.s3Sync.bucket" for r in outcome.results)


# -- Airflow 3 without the FAB auth manager ---------------------------------------------------


def test_sync_perm_on_airflow_3_needs_the_fab_auth_manager() -> None:
    render = (FIXTURES / "official-1.20.0" / "01-default.yaml").read_text()
    fab = "auth_manager = airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    assert fab in render
    simple = render.replace(
        fab, "auth_manager = airflow.api_fastapi.auth.managers.simple.simple_auth_manager"
    )
    outcome = _inject(simple.encode(), _config({"syncPerm": {}}))
    assert outcome.exit_code == 0
    warnings = [r.message for r in outcome.results if r.severity == "warning"]
    assert any("FAB auth manager" in w and "left as it is" in w for w in warnings), warnings
    assert outcome.output.decode().count("name: sync-perm") == 0


# -- the README's examples --------------------------------------------------------------------

_EXAMPLE = re.compile(r"<!-- golden: (?P<case>[\w.-]+) -->\n```yaml\n(?P<body>.*?)```", re.S)


def test_readme_preset_examples_are_taken_from_the_golden_outputs() -> None:
    # Each piece between `# ...` lines must appear in the case's expected output, in order.
    readme = (ROOT / "README.md").read_text()
    examples = list(_EXAMPLE.finditer(readme))
    assert {m["case"] for m in examples} >= {
        "presets-official-1.15.0-celery",
        "presets-official-1.20.0-airflow3",
        "presets-official-1.15.0-kubernetes-executor",
    }
    for example in examples:
        golden = (TESTS / "golden" / example["case"] / "expected.yaml").read_text()
        pieces = re.split(r"^ *# \.\.\.\n", example["body"], flags=re.M)
        position = 0
        for piece in pieces:
            found = golden.find(piece, position)
            assert found >= 0, f"README example for {example['case']} is not in it:\n{piece}"
            position = found + len(piece)


def test_every_main_container_is_one_the_chart_table_mounts_into() -> None:
    # Presets go beside the slot's main container; the chart table was read off the templates.
    for flavour, slots in SLOTS.items():
        chart = Chart(flavour, None)
        template = POD_TEMPLATE_SLOTS[flavour]
        for slot, is_template in [*((slot, False) for slot in slots.values()), (template, True)]:
            if (flavour, slot.component) == ("community", "pgbouncer"):
                continue  # no Airflow container: only cloudSqlProxy goes there, beside none
            mounts = placement(chart, slot, None, is_template).mounts
            assert any(slot.main_container in m.containers for m in mounts), (flavour, slot)


# -- the folder Airflow reads: DAG bundles on Airflow 3 ---------------------------------------

_BUNDLES = (
    'dag_bundle_config_list = [{"classpath":"airflow.dag_processing.bundles.local.LocalDagBundle",'
    '"kwargs":{},"name":"dags-folder"}]'
)


def _with_bundles(bundles: str) -> bytes:
    render = (FIXTURES / "official-1.20.0" / "01-default.yaml").read_text()
    assert _BUNDLES in render
    return render.replace(_BUNDLES, f"dag_bundle_config_list = {bundles}").encode()


def _dags_folders(output: bytes) -> set[str]:
    return set(re.findall(r"- name: DAGS_FOLDER\n\s+value: (\S+)", output.decode()))


def test_s3_sync_on_airflow_3_writes_into_the_local_bundle_path() -> None:
    local = '"classpath":"airflow.dag_processing.bundles.local.LocalDagBundle"'
    bundles = f'[{{{local},"kwargs":{{"path":"/opt/airflow/bundles/team"}},"name":"team"}}]'
    outcome = _inject(_with_bundles(bundles), _config({"s3Sync": {"bucket": "airflow-src"}}))
    assert outcome.exit_code == 0
    assert _dags_folders(outcome.output) == {"/opt/airflow/bundles/team"}
    assert "mountPath: /opt/airflow/bundles/team" in outcome.output.decode()


def test_s3_sync_on_airflow_3_with_several_local_bundles_needs_a_name() -> None:
    local = '"classpath":"airflow.dag_processing.bundles.local.LocalDagBundle"'
    bundles = (
        f'[{{{local},"kwargs":{{"path":"/srv/a"}},"name":"a"}},'
        f'{{{local},"kwargs":{{"path":"/srv/b"}},"name":"b"}}]'
    )
    unnamed = _inject(_with_bundles(bundles), _config({"s3Sync": {"bucket": "airflow-src"}}))
    warnings = [r.message for r in unnamed.results if r.severity == "warning"]
    assert any("several LocalDagBundles (a, b)" in w for w in warnings), warnings
    assert "name: s3-sync" not in unnamed.output.decode()
    named = _inject(
        _with_bundles(bundles), _config({"s3Sync": {"bucket": "airflow-src", "bundle": "b"}})
    )
    assert _dags_folders(named.output) == {"/srv/b"}


def test_s3_sync_on_airflow_3_without_a_local_bundle_adds_nothing() -> None:
    git = '[{"classpath":"airflow.providers.git.bundles.git.GitDagBundle","kwargs":{},"name":"g"}]'
    outcome = _inject(_with_bundles(git), _config({"s3Sync": {"bucket": "airflow-src"}}))
    warnings = [r.message for r in outcome.results if r.severity == "warning"]
    assert any("no LocalDagBundle to sync into" in w for w in warnings), warnings
    assert "name: s3-sync" not in outcome.output.decode()


# -- kerberos: the Airflow container is told ----------------------------------------------------


_KERBEROS = {"principal": "airflow@EXAMPLE.COM", "keytabSecret": "airflow-keytab"}


def test_kerberos_keeps_a_security_setting_the_release_already_has() -> None:
    render = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_text()
    assert "[core]\n" in render
    told = render.replace("[core]\n", "[core]\n    security = kerberos\n", 1)
    outcome = _inject(told.encode(), _config({"kerberos": _KERBEROS}))
    assert outcome.exit_code == 0
    assert "AIRFLOW__CORE__SECURITY" not in outcome.output.decode()
    plain = _inject(render.encode(), _config({"kerberos": _KERBEROS}))
    assert "name: AIRFLOW__CORE__SECURITY\n" in plain.output.decode()
