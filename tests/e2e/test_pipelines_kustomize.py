"""pipelines/kustomize: the function image run by a real `kubectl kustomize`, and the exec form
fed what kustomize really sends.

- The container form needs the images (AIRFLOW_SIDECARS_IMAGE, AIRFLOW_SIDECARS_VALIDATE_IMAGE)
  and a `docker` on PATH: `source .ci/image.sh`. Without them it is skipped, unless
  AIRFLOW_SIDECARS_REQUIRE_IMAGE=1 (CI).
- The exec form needs the standalone kustomize (`--enable-exec`), which kubectl lacks. What it
  would send is recorded (exec/sent-by-kustomize.yaml, identical for both forms), so the
  function's side of the exchange is tested here without it.

UPDATE_GOLDEN=1 rewrites expected.yaml and exec/expected.yaml (then review the diff).
"""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import yaml

from conftest import FIXTURES, ROOT, compare_or_update, function_image, run_cli, run_kustomize

PIPELINE = ROOT / "pipelines" / "kustomize"
EXEC = PIPELINE / "exec"
SENT = EXEC / "sent-by-kustomize.yaml"
RENDER = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"
SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
FUNCTION = "config.kubernetes.io/function"
# What kustomize adds to the items it sends to a function, and removes from what comes back.
BOOKKEEPING = {
    "config.kubernetes.io/index",
    "internal.config.kubernetes.io/index",
    "internal.config.kubernetes.io/annotations-migration-resource-id",
    "internal.config.kubernetes.io/id",
    "config.k8s.io/id",
    "kustomize.config.k8s.io/id",
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def function_of(path: Path) -> Any:
    return yaml.safe_load(load(path)["metadata"]["annotations"][FUNCTION])


def without_bookkeeping(item: dict[str, Any]) -> dict[str, Any]:
    annotations = {
        key: value
        for key, value in item["metadata"].get("annotations", {}).items()
        if key not in BOOKKEEPING
    }
    metadata = {key: value for key, value in item["metadata"].items() if key != "annotations"}
    if annotations:
        metadata["annotations"] = annotations
    return {**item, "metadata": metadata}


def by_id(objects: list[Any]) -> dict[tuple[str, str], Any]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_kubectl_kustomize_runs_the_images() -> None:
    image = function_image("AIRFLOW_SIDECARS_IMAGE")
    validate_image = function_image("AIRFLOW_SIDECARS_VALIDATE_IMAGE")
    # The pipeline names the images with the version; the ones under test must be those.
    assert function_of(PIPELINE / "sidecars.yaml") == {"container": {"image": image}}
    assert function_of(PIPELINE / "validate.yaml") == {"container": {"image": validate_image}}

    completed = run_kustomize(PIPELINE)
    stderr = completed.stderr
    assert completed.returncode == 0, stderr
    compare_or_update(PIPELINE / "expected.yaml", completed.stdout)
    # the containers' stderr reaches the user: the mutator's and the validator's summaries
    assert re.search(r"^inject: .*; 0 errors, 0 warnings, \d+ info$", stderr, re.M)
    assert re.search(r"^validate: .*; 0 errors, ", stderr, re.M)


def test_the_pipeline_adds_the_seeds_sidecars() -> None:
    objects = by_id(list(yaml.safe_load_all((PIPELINE / "expected.yaml").read_text())))
    assert len(objects) == 31  # the render's objects; the configs are local, never output

    def containers(kind: str, name: str) -> list[str]:
        return [c["name"] for c in objects[(kind, name)]["spec"]["template"]["spec"]["containers"]]

    assert containers("Deployment", "airflow-scheduler")[-1] == "s3-sync"
    assert containers("Deployment", "airflow-webserver")[-1] == "sync-perm"
    assert containers("StatefulSet", "airflow-worker")[-1] == "worker-kerberos"


def test_the_exec_form_on_what_kustomize_sends() -> None:
    """KRM mode (no --config): the config is the ResourceList's functionConfig. On stdin, as
    kustomize gives it (a file argument would put its path into the results)."""
    result = run_cli("inject", stdin=SENT.read_bytes())
    assert result.returncode == 0, result.stderr
    compare_or_update(EXEC / "expected.yaml", result.stdout)


def test_the_exec_scripts_are_what_kustomize_would_run() -> None:
    """inject.sh and validate.sh as kustomize's exec runner starts them: from the
    kustomization's folder, `airflow-sidecars` found on PATH."""
    scripts = sysconfig.get_path("scripts")
    path = f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    assert function_of(EXEC / "sidecars.yaml") == {"exec": {"path": "./inject.sh"}}
    assert function_of(EXEC / "validate.yaml") == {"exec": {"path": "./validate.sh"}}

    injected = subprocess.run(
        ["./inject.sh"],
        input=SENT.read_bytes(),
        capture_output=True,
        cwd=EXEC,
        env=env,
        check=False,
        timeout=120,
    )
    assert injected.returncode == 0, injected.stderr.decode()
    assert injected.stdout == (EXEC / "expected.yaml").read_bytes()

    # The validator gets the mutator's items; here with the validator's own functionConfig.
    request = yaml.safe_load(injected.stdout)
    request["functionConfig"] = load(EXEC / "validate.yaml")
    del request["results"]
    validated = subprocess.run(
        ["./validate.sh"],
        input=yaml.safe_dump(request).encode(),
        capture_output=True,
        cwd=EXEC,
        env=env,
        check=False,
        timeout=120,
    )
    assert validated.returncode == 0, validated.stderr.decode()
    assert yaml.safe_load(validated.stdout)["items"] == request["items"]
    assert re.search(r"^validate: .*; 0 errors, ", validated.stderr.decode(), re.M)


def test_the_recording_is_this_pipeline() -> None:
    """sent-by-kustomize.yaml is still what kustomize makes of pipelines/kustomize: the
    render's objects with kustomize's bookkeeping annotations, and sidecars.yaml as the
    functionConfig, marked local-config."""
    sent = load(SENT)
    render = [doc for doc in yaml.safe_load_all(RENDER.read_text()) if doc]
    assert [without_bookkeeping(item) for item in sent["items"]] == render
    assert all(set(item["metadata"]["annotations"]) >= BOOKKEEPING for item in sent["items"])
    config = load(PIPELINE / "sidecars.yaml")
    config["metadata"]["annotations"]["config.kubernetes.io/local-config"] = "true"
    assert sent["functionConfig"] == config


def test_the_exec_output_is_what_kustomize_prints() -> None:
    """The function's answer to the recorded input, less kustomize's bookkeeping, is the
    container pipeline's output (kustomize reorders, so compare by object), validated."""
    items = yaml.safe_load((EXEC / "expected.yaml").read_text())["items"]
    printed = list(yaml.safe_load_all((PIPELINE / "expected.yaml").read_text()))
    assert by_id([without_bookkeeping(item) for item in items]) == by_id(printed)


def test_the_configs_are_the_seed_config() -> None:
    """Three copies of one config (the annotation is part of the file): they stay the same."""
    seed = load(SEED)
    for path in (PIPELINE / "sidecars.yaml", EXEC / "sidecars.yaml"):
        config = load(path)
        del config["metadata"]["annotations"]
        assert config == seed, path
    container, exec_ = load(PIPELINE / "validate.yaml"), load(EXEC / "validate.yaml")
    del container["metadata"]["annotations"], exec_["metadata"]["annotations"]
    assert container == exec_


def test_kubectl_kustomize_silently_skips_exec_functions() -> None:
    """The trap exec/README.md warns about: kubectl has no --enable-exec, and on the exec form
    it neither runs the functions nor fails - the render comes out without the sidecars."""
    completed = run_kustomize(EXEC)
    assert completed.returncode == 0, completed.stderr
    printed = by_id(list(yaml.safe_load_all(completed.stdout)))
    render = by_id([doc for doc in yaml.safe_load_all(RENDER.read_text()) if doc])
    assert printed == render
