"""The kpt packages under pipelines/kpt/, rendered as `kpt fn render` renders them.

Each package is a kpt e2e case (kptdev/kpt pkg/test/runner): `.expected/config.yaml` gives the
exit code, `.expected/results.yaml` the FunctionResultList of `--results-dir`, and
`.expected/diff.patch` the `git diff` of the package after the render (no file: no change).
The render is tests/support/kpt_contract.py's model of kpt, with the images run as
`python -m airflow_sidecars inject|validate`. Where a real `kpt` is on the PATH the same
expectations are checked against it too: running the images themselves with podman (where
`.ci/image.sh` built them), and with the images swapped for those commands as `exec:`
functions. UPDATE_GOLDEN=1 rewrites results.yaml and diff.patch from the model.

Then the contract, asserted directly on what crossed stdin and stdout: every item back, in
order, with the orchestrator's annotations as sent; local-config items and the Kptfile back
byte for byte; no line of an item lost or changed (so every comment kept); the validator
hands back what it got; a failing step leaves every file as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars import __version__
from conftest import ROOT, TESTS
from support import kpt_contract as kpt

PACKAGES = ROOT / "pipelines" / "kpt"
CASES = sorted(p.name for p in PACKAGES.iterdir() if (p / "Kptfile").exists())
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
# The Kptfiles pin the package version (tests/unit/test_catalog.py keeps them equal).
IMAGES = {
    f"localhost/airflow-sidecars:{__version__}": "inject",
    f"localhost/airflow-sidecars-validate:{__version__}": "validate",
}
KPT = shutil.which("kpt")


def _argv(step: kpt.Step) -> list[str]:
    return [sys.executable, "-m", "airflow_sidecars", IMAGES[step.image]]


def _expected(name: str) -> kpt.Outcome:
    expected = PACKAGES / name / ".expected"
    config = yaml.safe_load((expected / "config.yaml").read_text()) or {}
    texts = [
        (expected / f).read_text().strip() if (expected / f).exists() else ""
        for f in ("diff.patch", "results.yaml")
    ]
    return kpt.Outcome(config.get("exitCode", 0), *texts)


def _update(name: str, actual: kpt.Outcome) -> None:
    expected = PACKAGES / name / ".expected"
    for file, text in (("diff.patch", actual.diff), ("results.yaml", actual.results)):
        if text:
            (expected / file).write_text(text + "\n")
        elif (expected / file).exists():
            (expected / file).unlink()


def _assert_outcome(actual: kpt.Outcome, name: str, by: str) -> None:
    expected = _expected(name)
    hint = f"{by}: pipelines/kpt/{name}/.expected"
    assert actual.exit_code == expected.exit_code, hint
    assert actual.results == expected.results, f"{hint}/results.yaml differs"
    assert actual.diff == expected.diff, f"{hint}/diff.patch differs"


@pytest.mark.parametrize("name", CASES)
def test_render_gives_the_expected_e2e_outcome(name: str, tmp_path: Path) -> None:
    # Twice, each from a fresh copy, as kpt's harness does (runCount 2): same bytes both times.
    first, second = (
        kpt.run_case(PACKAGES / name, tmp_path / str(n), kpt.simulate(_argv)) for n in (1, 2)
    )
    assert first == second
    if UPDATE:
        _update(name, first)
    _assert_outcome(first, name, "model")


# --- the contract, on the good package -------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, kpt.Render]:
    package = tmp_path_factory.mktemp("kpt") / "airflow"
    shutil.copytree(PACKAGES / "airflow", package)
    return package, kpt.render(package, _argv)


def _mutator(render: kpt.Render) -> tuple[list[str], list[str]]:
    run = next(r for r in render.runs if r.step.role == "mutator")
    sent, _ = kpt.split_resource_list(run.sent)
    returned, _ = kpt.split_resource_list(run.received)
    return sent, returned


def _identity(text: str) -> tuple[str, str]:
    data = yaml.safe_load(text)
    return data["kind"], data["metadata"]["name"]


def _orchestrator(text: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in kpt.read_annotations(text).items() if k in kpt.ORCHESTRATOR]


def test_the_render_passes_and_both_steps_ran(rendered: tuple[Path, kpt.Render]) -> None:
    _, render = rendered
    assert render.exit_code == 0
    assert render.written
    assert [(r.step.role, r.exit_code) for r in render.runs] == [
        ("mutator", 0),
        ("validator", 0),
    ]
    assert "Traceback" not in "".join(r.stderr for r in render.runs)


def test_every_item_comes_back_in_order_with_the_annotations_it_was_sent(
    rendered: tuple[Path, kpt.Render],
) -> None:
    _, render = rendered
    sent, returned = _mutator(render)
    assert len(sent) == len(render.read) == 34
    assert [_identity(t) for t in returned] == [_identity(t) for t in sent]
    for before, after in zip(sent, returned, strict=True):
        assert _orchestrator(after) == _orchestrator(before), _identity(before)
        assert len(_orchestrator(before)) == len(kpt.ORCHESTRATOR)


def test_the_kptfile_and_local_config_come_back_byte_for_byte(
    rendered: tuple[Path, kpt.Render],
) -> None:
    package, render = rendered
    sent, returned = _mutator(render)
    local = [
        (before, after)
        for before, after in zip(sent, returned, strict=True)
        if kpt.read_annotations(before).get(kpt.LOCAL_CONFIG) == "true"
    ]
    assert sorted(kpt.read_annotations(b)[kpt.PATH] for b, _ in local) == [
        "Kptfile",
        "package-context.yaml",
        "sidecars.yaml",
    ]
    for before, after in local:
        assert after == before
    for file in ("Kptfile", "package-context.yaml", "sidecars.yaml"):
        assert (package / file).read_bytes() == (PACKAGES / "airflow" / file).read_bytes()


def test_no_line_is_lost_or_changed_so_every_comment_is_kept(
    rendered: tuple[Path, kpt.Render],
) -> None:
    _, render = rendered
    sent, returned = _mutator(render)
    edited = 0
    for before, after in zip(sent, returned, strict=True):
        old, new = before.splitlines(), after.splitlines()
        remaining = iter(new)
        assert all(line in remaining for line in old), f"{_identity(before)}: a line changed"
        comments = [line for line in old if line.lstrip().startswith("#")]
        assert [line for line in new if line.lstrip().startswith("#")] == comments
        edited += old != new
    # scheduler, webserver, worker, and the ServiceAccounts of the scheduler and the worker
    assert edited == 5


def test_the_function_config_is_the_config_file(rendered: tuple[Path, kpt.Render]) -> None:
    # The mutator gets the item as it is in the list, annotations and all; the validator (on
    # kpt 1.0.0-beta.56) gets the file as read. Either way, the comments come along.
    _, render = rendered
    mutator, validator = (yaml.safe_load(run.sent) for run in render.runs)
    (config,) = (
        i for i in mutator["items"] if i["metadata"]["annotations"].get(kpt.PATH) == "sidecars.yaml"
    )
    assert mutator["functionConfig"] == config
    file = PACKAGES / "airflow" / "sidecars.yaml"
    assert validator["functionConfig"] == yaml.safe_load(file.read_text())
    for run in render.runs:
        assert b"  # The function config of both pipeline steps" in run.sent


def test_the_validator_hands_back_what_it_got(rendered: tuple[Path, kpt.Render]) -> None:
    _, render = rendered
    run = next(r for r in render.runs if r.step.role == "validator")
    assert kpt.split_resource_list(run.received)[0] == kpt.split_resource_list(run.sent)[0]
    assert yaml.safe_load(run.received).get("results") is None  # nothing to report


def test_a_second_render_changes_nothing(rendered: tuple[Path, kpt.Render]) -> None:
    package, _ = rendered
    files = {p: p.read_bytes() for p in package.rglob("*") if p.is_file()}
    again = kpt.render(package, _argv)
    assert again.exit_code == 0
    assert {p: p.read_bytes() for p in package.rglob("*") if p.is_file()} == files
    mutator = again.runs[0]
    assert mutator.results  # it says what it found ...
    assert not [r for r in mutator.results if r.get("tags", {}).get("rule") == "added"]


def _without_sync_perm(package: Path) -> None:
    config = package / "sidecars.yaml"
    text = config.read_text()
    start = text.index("    # `airflow sync-perm` every minute")
    end = text.index("    # A ticket renewer")
    config.write_text(text[:start] + text[end:])


def test_a_preset_dropped_from_the_config_is_taken_back_in_place(tmp_path: Path) -> None:
    """An in-place package: render, drop a preset from the config, render again. The package
    is then what a fresh package renders with the smaller config, file for file."""
    package = _copy("airflow", tmp_path / "in-place")
    assert kpt.render(package, _argv).exit_code == 0
    assert "sync-perm" in (package / "deployment_airflow-webserver.yaml").read_text()
    _without_sync_perm(package)
    again = kpt.render(package, _argv)
    assert again.exit_code == 0
    taken = [r for r in again.runs[0].results if r.get("tags", {}).get("rule") == "taken-back"]
    assert [r["resourceRef"]["name"] for r in taken] == ["airflow-webserver"]
    fresh = _copy("airflow", tmp_path / "fresh")
    _without_sync_perm(fresh)
    assert kpt.render(fresh, _argv).exit_code == 0
    assert _package_bytes(package) == _package_bytes(fresh)


# --- failing renders: nothing is written -----------------------------------------------------


def _package_bytes(package: Path) -> dict[str, bytes]:
    return {str(p.relative_to(package)): p.read_bytes() for p in package.rglob("*") if p.is_file()}


def _copy(name: str, tmp_path: Path) -> Path:
    package = tmp_path / name
    shutil.copytree(PACKAGES / name, package)
    return package


def test_a_failing_validator_fails_the_render_and_nothing_is_written(tmp_path: Path) -> None:
    package = _copy("airflow-bad", tmp_path)
    render = kpt.render(package, _argv)
    assert render.exit_code == 1
    assert not render.written
    mutator, validator = render.runs
    assert mutator.exit_code == 0
    assert any(r["tags"]["rule"] == "added" for r in mutator.results)
    assert render.mutated != render.read  # the mutator did edit: kpt drops it on failure
    assert validator.exit_code == 1
    errors = [r for r in validator.results if r["severity"] == "error"]
    assert [
        (r["resourceRef"]["kind"], r["resourceRef"]["name"], r["field"]["path"]) for r in errors
    ] == [
        ("Deployment", "airflow-scheduler", "spec.template.spec.containers[2].env[0].value"),
        ("Deployment", "airflow-scheduler", "spec.template.spec.containers[2].env[1].value"),
    ]
    assert {r["tags"]["rule"] for r in errors} == {"literal-secret"}
    assert all(r["file"]["path"] == "deployment_airflow-scheduler.yaml" for r in errors)
    assert "placeholder" not in validator.stderr + str(validator.results)  # never repeated
    assert _package_bytes(package) == _package_bytes(PACKAGES / "airflow-bad")


SEED_AS_PASTED = TESTS / "golden" / "official-1.15.0-seed-as-pasted" / "config.yaml"


def test_a_failing_mutator_stops_the_render_before_the_validator(tmp_path: Path) -> None:
    # The seed's s3-sync as pasted into the chart's values: it mounts `dags`, which the
    # scheduler pod does not have. inject refuses it; kpt runs no validator and writes nothing.
    package = _copy("airflow-bad", tmp_path)
    seed = yaml.safe_load(SEED_AS_PASTED.read_text())
    seed["metadata"]["annotations"] = {kpt.LOCAL_CONFIG: "true"}
    seed["spec"] = {"scheduler": seed["spec"]["scheduler"]}
    (package / "sidecars.yaml").write_text(yaml.safe_dump(seed, sort_keys=False))
    before = _package_bytes(package)
    render = kpt.render(package, _argv)
    assert render.exit_code == 1
    assert [(r.step.role, r.exit_code) for r in render.runs] == [("mutator", 1)]
    (error,) = [r for r in render.runs[0].results if r["severity"] == "error"]
    assert error["tags"]["rule"] == "missing-volume"
    assert error["resourceRef"]["name"] == "airflow-scheduler"
    assert error["field"]["path"] == "spec.template.spec.volumes"
    assert "mounts volume 'dags'" in error["message"]
    assert _package_bytes(package) == before


# --- the model itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "style"),
    [
        ("a:\n- b\n", "compact"),
        ("a:\n  - b\n", "wide"),
        ("a:\n  # note\n  - b\n", "wide"),
        ("a: x\nb: |\n  - not a list\nc:\n- d\n", "compact"),
        ("a: {}\n", "compact"),
    ],
)
def test_seq_indent_is_derived_as_kyaml_derives_it(text: str, style: str) -> None:
    assert kpt.seq_indent_style(text) == style


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    a: b\n"
        "# about data\ndata: {}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n"
        "    a: |\n      two\n      lines\n",
        "kind: ConfigMap\nmetadata:\n    name: x  # wide\n    annotations:\n        a: 'b'\n",
    ],
)
def test_annotations_go_in_and_come_out_without_a_trace(text: str) -> None:
    pairs = [(kpt.PATH, "a.yaml"), (kpt.INDEX, "0")]
    annotated = kpt.add_annotations(text, pairs)
    assert list(kpt.read_annotations(annotated).items())[-2:] == pairs
    assert kpt.remove_annotations(annotated, {kpt.PATH, kpt.INDEX}) == text


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({kpt.PATH: "a.yaml", kpt.LEGACY_PATH: "b.yaml"}, "mismatched"),
        ({kpt.PATH: "../a.yaml", kpt.LEGACY_PATH: "../a.yaml"}, "outside of package"),
    ],
)
def test_the_model_refuses_what_kpt_refuses(annotations: dict[str, str], message: str) -> None:
    item = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "A", "metadata": {"name": "a", "annotations": annotations}}
    )
    with pytest.raises(kpt.RenderError, match=message):
        kpt.check_paths([item])


def test_two_items_on_one_path_and_index_are_refused() -> None:
    where = {kpt.PATH: "a.yaml", kpt.LEGACY_PATH: "a.yaml"}
    items = [
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "A", "metadata": {"name": n, "annotations": where}}
        )
        for n in ("a", "b")
    ]
    with pytest.raises(kpt.RenderError, match=r"at path 'a\.yaml' and index '0'"):
        kpt.check_paths(items)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ({"a": "plain words"}, "a: plain words\n"),
        ({"a": "key: value"}, "a: 'key: value'\n"),
        ({"a": "True"}, 'a: "True"\n'),
        ({"a": "10"}, 'a: "10"\n'),
        ({"a": "one\ntwo\n"}, "a: |\n  one\n  two\n"),
        ({"a": "one\ntwo"}, "a: |-\n  one\n  two\n"),
        ({"a": [{"b": 1, "c": ["d"]}]}, "a:\n  - b: 1\n    c:\n      - d\n"),
    ],
)
def test_results_are_written_as_go_yaml_writes_them(value: dict[str, Any], written: str) -> None:
    assert kpt.to_go_yaml(value) == written


# --- the real kpt, where there is one ------------------------------------------------------

needs_kpt = pytest.mark.skipif(KPT is None, reason="no kpt on the PATH")


def _kpt_version() -> str:
    assert KPT is not None
    return subprocess.run([KPT, "version"], capture_output=True, check=False).stdout.decode()


def _as_exec(package: Path, command: dict[str, str] | None = None) -> None:
    """The Kptfile's images as exec functions, which kpt runs without a container engine."""
    kptfile = (package / "Kptfile").read_text()
    for image, verb in IMAGES.items():
        run = (command or {}).get(verb, f"{sys.executable} -m airflow_sidecars {verb}")
        kptfile = kptfile.replace(f"- image: {image}", f"- exec: {run}")
    (package / "Kptfile").write_text(kptfile)


def _real_kpt(package: Path, results_dir: Path, **env: str) -> int:
    assert KPT is not None
    args = [KPT, "fn", "render", str(package), "--allow-exec", "--results-dir", str(results_dir)]
    completed = subprocess.run(
        args, capture_output=True, check=False, timeout=600, env={**os.environ, **env}
    )
    (results_dir.parent / "kpt.log").write_bytes(completed.stdout + completed.stderr)
    return completed.returncode


def _images() -> str:
    """Why the real images cannot run here, or "" when they can: `source .ci/image.sh` builds
    them with podman and exports their names and podman's config (as .ci/run does)."""
    if shutil.which("podman") is None:
        return "no podman"
    for variable, image in zip(
        ("AIRFLOW_SIDECARS_IMAGE", "AIRFLOW_SIDECARS_VALIDATE_IMAGE"), IMAGES, strict=True
    ):
        if os.environ.get(variable) != image:
            return f"{variable} is not {image} (`source .ci/image.sh` builds and sets it)"
    return ""


@needs_kpt
@pytest.mark.parametrize("name", CASES)
def test_real_kpt_with_the_images_gives_the_expected_outcome(name: str, tmp_path: Path) -> None:
    # The package as it is: kpt runs the two images (podman run --network none --user nobody).
    # kpt 1.0.0-beta.56 reads KPT_FN_RUNTIME, later ones KRM_FN_RUNTIME.
    reason = _images()
    if reason and os.environ.get("AIRFLOW_SIDECARS_REQUIRE_IMAGE") == "1":
        pytest.fail(f"{reason} (AIRFLOW_SIDECARS_REQUIRE_IMAGE=1)")
    if reason:
        pytest.skip(reason)

    def real(package: Path, results_dir: Path) -> int:
        return _real_kpt(package, results_dir, KPT_FN_RUNTIME="podman", KRM_FN_RUNTIME="podman")

    outcome = kpt.run_case(PACKAGES / name, tmp_path, real)
    _assert_outcome(outcome, name, f"kpt {_kpt_version().strip()} with the images")


@needs_kpt
@pytest.mark.parametrize("name", CASES)
def test_real_kpt_with_exec_functions_gives_the_same_outcome(name: str, tmp_path: Path) -> None:
    # No container engine needed: the Kptfile's images swapped for `exec:` of the same
    # functions. kpt keeps an exec function's stderr as it is (a container's: line by line, no
    # last newline) and names it by its command: the results are compared as data, with those
    # two read back.
    outcome = kpt.run_case(PACKAGES / name, tmp_path, _real_kpt, _as_exec)
    expected = _expected(name)
    assert outcome.exit_code == expected.exit_code
    assert outcome.diff == expected.diff, f"pipelines/kpt/{name}/.expected/diff.patch differs"
    commands = {f"{sys.executable} -m airflow_sidecars {verb}": i for i, verb in IMAGES.items()}
    results = yaml.safe_load(outcome.results)
    for item in results["items"]:
        item["image"] = commands[item.pop("exec")]
        item["stderr"] = kpt.container_stderr(item["stderr"])
        results_order = ["image", *(k for k in item if k != "image")]
        item.update({k: item.pop(k) for k in results_order})
    assert results == yaml.safe_load(expected.results)


CAPTURE = """\
import subprocess, sys
data = sys.stdin.buffer.read()
with open(sys.argv[1], "wb") as file:
    file.write(data)
function = [sys.executable, "-m", "airflow_sidecars", sys.argv[2]]
sys.exit(subprocess.run(function, input=data).returncode)
"""


@needs_kpt
def test_real_kpt_sends_the_functions_what_the_model_sends(tmp_path: Path) -> None:
    (tmp_path / "capture.py").write_text(CAPTURE)
    sent = {verb: tmp_path / f"{verb}.yaml" for verb in IMAGES.values()}
    capture = {v: f"{sys.executable} {tmp_path / 'capture.py'} {sent[v]} {v}" for v in sent}
    real = tmp_path / "real" / "airflow"
    shutil.copytree(PACKAGES / "airflow", real)
    _as_exec(real, capture)
    (tmp_path / "results").mkdir()
    assert _real_kpt(real, tmp_path / "results") == 0, (tmp_path / "kpt.log").read_text()
    model = kpt.render(_copy("airflow", tmp_path / "model"), _argv)
    for run in model.runs:
        theirs = _comparable(yaml.safe_load(sent[IMAGES[run.step.image]].read_bytes()))
        ours = _comparable(yaml.safe_load(run.sent))
        assert theirs == ours, run.step.role


def _comparable(resource_list: dict[str, Any]) -> Any:
    """The data, with each item's annotations as an ordered list, and the package path and
    the Kptfile's pipeline (exec: there, image: here) taken out."""

    def plain(item: dict[str, Any]) -> Any:
        annotations = item["metadata"].pop("annotations")
        annotations.pop(kpt.PACKAGE_PATH, None)
        item.pop("pipeline", None)
        return item, list(annotations.items())

    items = [plain(i) for i in resource_list["items"]]
    return resource_list["apiVersion"], items, plain(resource_list["functionConfig"])
