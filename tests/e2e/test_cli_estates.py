"""Estates: several renders of one release in one input (README.md, "Files and folders").

A GitOps repository keeps one rendered release per environment, `envs/dev` and `envs/prod`,
both release `airflow`. Read as one render their facts mixed (prod's checksum/airflow-config in
dev's pods, dev's worker in prod's record). The rule: the same object in two places whose paths
part into folders of their own means two renders; each is injected on its own. The oracle is
the tool itself run on each environment alone: the estate run must give, file for file, the
same bytes. The same object twice in one file, one stream or one folder is an error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, run_inject, run_remove, run_validate
from airflow_sidecars.runs.outcomes import Inputs
from conftest import FIXTURES, ROOT, run_cli

PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
DEV = FIXTURES / "official-1.15.0" / "01-default.yaml"  # Celery
PROD = FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml"
STAGING = FIXTURES / "official-1.15.0" / "03-celery-kubernetes-executor.yaml"


def _split(render: Path, folder: Path) -> list[Path]:
    """A render as `helm template --output-dir` lays it out: a file per template, in
    subfolders by template path."""
    files: list[Path] = []
    text = render.read_text()
    for number, document in enumerate(text.split("\n---\n")):
        source = next((line for line in document.splitlines() if line.startswith("# Source:")), "")
        template = source.removeprefix("# Source: airflow/templates/") or f"doc-{number}.yaml"
        path = folder / template
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(("---\n" if path.stat().st_size else "") + document.strip("-\n") + "\n")
        files.append(path)
    return sorted(set(files))


def _estate(tmp_path: Path) -> Path:
    envs = tmp_path / "envs"
    _split(DEV, envs / "dev")
    _split(PROD, envs / "prod" / "eu")
    _split(STAGING, envs / "prod" / "us")  # prod itself is split again: eu and us
    return envs


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.yaml"))
    }


def test_each_environment_is_injected_as_if_it_were_alone(tmp_path: Path) -> None:
    envs = _estate(tmp_path)
    alone = tmp_path / "alone"
    shutil.copytree(envs, alone)
    for environment in ("dev", "prod/eu", "prod/us"):
        completed = run_cli("inject", "-i", "--config", PRESETS, alone / environment)
        assert completed.returncode == 0, completed.stderr
    estate = run_cli("inject", "-i", "--config", PRESETS, envs)
    assert estate.returncode == 0, estate.stderr
    assert _files(envs) == _files(alone)
    assert estate.stderr.count("[render]") == 3
    assert "in 3 renders, 3 releases (airflow, airflow, airflow)" in estate.stderr
    # and back: remove gives every environment's chart render
    removed = run_cli("remove", "-i", envs)
    assert removed.returncode == 0, removed.stderr
    original = tmp_path / "original"
    _estate(original)
    assert _files(envs) == _files(original / "envs")


def test_the_stream_output_is_each_render_in_input_order(tmp_path: Path) -> None:
    envs = _estate(tmp_path)
    names = [str(p) for p in sorted(envs.rglob("*.yaml"))]
    config = ConfigSource(str(PRESETS), PRESETS.read_bytes())
    inputs: Inputs = [(name, Path(name).read_bytes()) for name in names]
    whole = run_inject(inputs, config, each_file=True)
    assert whole.exit_code == 0
    assert whole.files is not None
    for environment in ("dev", "prod/eu", "prod/us"):
        within = [n for n in names if n.startswith(str(envs / environment) + "/")]
        part: Inputs = [(n, Path(n).read_bytes()) for n in within]
        alone = run_inject(part, config, each_file=True)
        assert alone.files is not None
        mine = [whole.files[names.index(n)] for n in within]
        assert mine == alone.files
    # validate reads the estate the same way: nothing mixed, nothing flagged twice
    checked = run_validate([(n, f) for n, f in zip(names, whole.files, strict=True)], config)
    assert checked.exit_code == 0, [r.line() for r in checked.results if r.severity == "error"]


def test_without_the_split_prods_facts_leak_into_dev(tmp_path: Path) -> None:
    """What the split prevents, shown on the estate itself: dev's pods keep dev's checksum."""
    envs = _estate(tmp_path)
    estate = run_cli("inject", "-i", "--config", PRESETS, envs)
    assert estate.returncode == 0
    dev_checksums = {
        line.strip()
        for path in (envs / "dev").rglob("*.yaml")
        for line in path.read_text().splitlines()
        if "checksum/airflow-config:" in line
    }
    prod_checksums = {
        line.strip()
        for path in (envs / "prod").rglob("*.yaml")
        for line in path.read_text().splitlines()
        if "checksum/airflow-config:" in line
    }
    assert dev_checksums and prod_checksums and not dev_checksums & prod_checksums


def test_an_output_dir_tree_without_duplicates_stays_one_render(tmp_path: Path) -> None:
    _split(PROD, tmp_path / "rendered")
    completed = run_cli("inject", "--config", PRESETS, tmp_path / "rendered")
    assert completed.returncode == 0, completed.stderr
    assert "[render]" not in completed.stderr and " renders" not in completed.stderr
    whole = run_cli("inject", "--config", PRESETS, PROD)
    assert completed.stdout.count(b"\nkind: ") == whole.stdout.count(b"\nkind: ")


@pytest.mark.parametrize("where", ["one-file", "one-folder", "stdin"])
def test_one_object_twice_without_paths_that_part_is_an_error(tmp_path: Path, where: str) -> None:
    render = DEV.read_bytes()
    if where == "one-file":
        (tmp_path / "render.yaml").write_bytes(render + b"---\n" + render)
        completed = run_cli("inject", "--config", PRESETS, tmp_path / "render.yaml")
        given = (tmp_path / "render.yaml").read_bytes()
    elif where == "one-folder":
        (tmp_path / "a.yaml").write_bytes(render)
        (tmp_path / "b.yaml").write_bytes(render)
        completed = run_cli("inject", "--config", PRESETS, tmp_path)
        given = render + b"---\n" + render
    else:
        given = render + b"---\n" + render
        completed = run_cli("inject", "--config", PRESETS, stdin=given)
    assert completed.returncode == 1
    errors = [line for line in completed.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "[duplicate-object]" in errors[0]
    assert "(and 30 more objects in both)" in errors[0]
    assert completed.stdout.replace(b"---\n", b"") == given.replace(b"---\n", b"")


@pytest.mark.parametrize(
    ("copy", "why"),
    [
        ("configmap-copy.yaml", "one file beside the other's folder"),
        ("extra/configmap-copy.yaml", "do not each hold an Airflow render"),
    ],
)
def test_a_stray_copy_in_one_environment_is_named_not_split_off(
    tmp_path: Path, copy: str, why: str
) -> None:
    """A copied ConfigMap beside or below the chart's folders must not cut dev into pieces."""
    envs = _estate(tmp_path)
    extra = envs / "dev" / copy
    extra.parent.mkdir(exist_ok=True)
    shutil.copy(envs / "dev" / "configmaps" / "configmap.yaml", extra)
    inputs: Inputs = [(str(p), p.read_bytes()) for p in sorted(envs.rglob("*.yaml"))]
    outcome = run_remove(inputs, None)
    assert outcome.exit_code == 1
    error = next(r for r in outcome.results if r.severity == "error")
    assert error.tags["rule"] == "duplicate-object"
    assert "configmap-copy.yaml" in error.message and "configmap.yaml" in error.message
    assert why in error.message
    given = b"".join(data for _, data in inputs)
    assert outcome.output.replace(b"---\n", b"") == given.replace(b"---\n", b"")


def test_a_resource_list_with_one_object_twice_is_refused_naming_the_items_paths() -> None:
    # KRM mode: a kpt package with envs/dev and envs/prod sends both in one ResourceList.
    # That is one step's input, so one render: refused, each copy named by its item's path.
    items = []
    for environment, render in (("dev", DEV), ("prod", PROD)):
        for document in yaml.safe_load_all(render.read_text()):
            if document:
                annotations = document["metadata"].setdefault("annotations", {})
                path = f"envs/{environment}/{document['kind']}-{document['metadata']['name']}.yaml"
                annotations["internal.config.kubernetes.io/path"] = path
                items.append(document)
    resource_list = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
        "functionConfig": yaml.safe_load(PRESETS.read_text()),
    }
    data = json.dumps(resource_list).encode()
    outcome = run_inject([(None, data)], None)
    assert outcome.exit_code == 1 and outcome.mode == "resourcelist"
    [error] = [r for r in outcome.results if r.severity == "error"]
    assert error.tags["rule"] == "duplicate-object"
    assert "(envs/dev/ServiceAccount-" in error.message
    assert "(envs/prod/ServiceAccount-" in error.message
    assert "one ResourceList is one render" in error.message
    assert yaml.safe_load(outcome.output)["items"] == items
