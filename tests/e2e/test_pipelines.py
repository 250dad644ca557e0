"""pipelines/helm and pipelines/ci, run the way Helm, CI and Argo CD run them; and
`airflow-sidecars-pipeline`, the CI pipe that ships in the package, against the pipe it stands
for.

Helm is not installable here, so a stand-in `helm` on PATH prints a real `helm template`
output (the official chart 1.15.0's default render) for `helm template ...`; everything after
it - the post-renderer scripts, the Helm 4 plugin's command, the CI script and the Argo CD
plugin's generate command - is the committed file, run as it is (the GitHub Action and its
workflow example: tests/e2e/test_github_action.py). Each
must give exactly the golden output of the same config on the same render
(tests/golden/presets-official-1.15.0-celery), because it is the same function.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES, ROOT, TESTS

RENDER = FIXTURES / "official-1.15.0" / "01-default.yaml"
GOLDEN = (TESTS / "golden" / "presets-official-1.15.0-celery" / "expected.yaml").read_bytes()
PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
SEED_AS_PASTED = TESTS / "golden" / "official-1.15.0-seed-as-pasted" / "config.yaml"
HELM = ROOT / "pipelines" / "helm"
CI = ROOT / "pipelines" / "ci"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """PATH with the installed `airflow-sidecars`, `airflow-sidecars-pipeline` and a stand-in
    `helm`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(f'#!/bin/sh\n[ "$1" = template ] || exit 2\nexec cat "{RENDER}"\n')
    helm.chmod(0o755)
    scripts = sysconfig.get_path("scripts")
    for script in ("airflow-sidecars", "airflow-sidecars-pipeline"):
        assert shutil.which(script, path=scripts), f"pip install -e '.[test]' installs {script}"
    return {**os.environ, "PATH": os.pathsep.join([str(bin_dir), scripts, os.environ["PATH"]])}


def _run(
    argv: list[str], env: dict[str, str], stdin: bytes = b"", cwd: Path = ROOT
) -> subprocess.CompletedProcess[bytes]:
    # A session of its own has no controlling terminal: the Helm 4 plugin's lines stay here.
    return subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=120,
        start_new_session=True,
    )


def test_helm3_post_renderer(env: dict[str, str]) -> None:
    # Helm 3 pipes the rendered manifests (hooks excluded) through the executable.
    config = {"AIRFLOW_SIDECARS_CONFIG": str(PRESETS)}
    completed = _run([str(HELM / "post-renderer.sh")], {**env, **config}, RENDER.read_bytes())
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN


def test_helm3_post_renderer_with_args_needs_no_script(env: dict[str, str]) -> None:
    # Helm 3.10+: `--post-renderer airflow-sidecars --post-renderer-args inject ...`; Helm looks
    # the name up on PATH and runs it with the arguments, the render on stdin.
    executable = shutil.which("airflow-sidecars", path=env["PATH"])
    assert executable is not None
    argv = [executable, "inject", "--strict", f"--config={PRESETS}"]
    completed = _run(argv, env, RENDER.read_bytes())
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN


def test_helm4_postrenderer_plugin(env: dict[str, str]) -> None:
    manifest: dict[str, Any] = yaml.safe_load((HELM / "plugin" / "plugin.yaml").read_text())
    assert manifest["apiVersion"] == "v1" and manifest["type"] == "postrenderer/v1"
    assert manifest["runtime"] == "subprocess"
    (entry,) = manifest["runtimeConfig"]["platformCommand"]
    command = entry["command"].replace("${HELM_PLUGIN_DIR}", str(HELM / "plugin"))
    # --post-renderer-args --config=... reach the command as arguments.
    completed = _run([command, f"--config={PRESETS}"], env, RENDER.read_bytes())
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN


def test_ci_pipeline_renders_injects_and_validates(env: dict[str, str]) -> None:
    config = {"AIRFLOW_SIDECARS_CONFIG": str(PRESETS), "RENDER": "helm template airflow x"}
    completed = _run([str(CI / "pipeline.sh")], {**env, **config})
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN
    stderr = completed.stderr.decode()
    assert re.search(r"^inject: .*; 0 errors, 0 warnings, \d+ info$", stderr, re.M)
    assert re.search(r"^validate: .*; 0 errors, 0 warnings, 0 info$", stderr, re.M)


def test_ci_pipeline_fails_on_the_seed_as_pasted(env: dict[str, str]) -> None:
    config = {"AIRFLOW_SIDECARS_CONFIG": str(SEED_AS_PASTED), "RENDER": "helm template a b"}
    render = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"
    (Path(env["PATH"].split(os.pathsep)[0]) / "helm").write_text(
        f'#!/bin/sh\nexec cat "{render}"\n'
    )
    completed = _run([str(CI / "pipeline.sh")], {**env, **config})
    assert completed.returncode == 1
    assert "error: [missing-volume] Deployment airflow-scheduler" in completed.stderr.decode()


def _app_folder(tmp_path: Path, config_name: str) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(PRESETS, folder / config_name)
    (folder / "pipelines").symlink_to(ROOT / "pipelines")
    return folder


def test_argocd_config_management_plugin(env: dict[str, str], tmp_path: Path) -> None:
    plugin: dict[str, Any] = yaml.safe_load((CI / "argocd-cmp.yaml").read_text())
    spec = plugin["spec"]
    folder = _app_folder(tmp_path, spec["discover"]["fileName"])
    app = {"ARGOCD_APP_NAME": "airflow", "ARGOCD_APP_NAMESPACE": "airflow"}
    completed = _run(
        [*spec["generate"]["command"], *spec["generate"]["args"]], {**env, **app}, cwd=folder
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN


def _helm4_command() -> str:
    manifest: dict[str, Any] = yaml.safe_load((HELM / "plugin" / "plugin.yaml").read_text())
    (entry,) = manifest["runtimeConfig"]["platformCommand"]
    return str(entry["command"]).replace("${HELM_PLUGIN_DIR}", str(HELM / "plugin"))


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([str(HELM / "post-renderer.sh")], id="helm3-post-renderer"),
        pytest.param([_helm4_command()], id="helm4-plugin"),
        pytest.param([str(CI / "pipeline.sh")], id="ci-pipeline"),
    ],
)
def test_no_route_runs_without_a_config(env: dict[str, str], argv: list[str]) -> None:
    # A forgotten variable must not deploy the example presets (an IRSA role of a made-up
    # account): each route stops, prints nothing, and says what to set.
    clean = {key: value for key, value in env.items() if key != "AIRFLOW_SIDECARS_CONFIG"}
    completed = _run(argv, {**clean, "RENDER": "helm template a b"}, RENDER.read_bytes())
    assert completed.returncode == 2
    assert completed.stdout == b""
    assert "config" in completed.stderr.decode().lower()


def test_the_helm3_arguments_given_to_the_helm4_plugin_say_what_to_give(
    env: dict[str, str], tmp_path: Path
) -> None:
    # The Helm 3.10+ command pointed at the plugin passes `inject --strict` again: the plugin
    # says to give only the config, also in its report file (Helm 4 hides stderr).
    report = tmp_path / "report.txt"
    argv = [_helm4_command(), "inject", "--strict", f"--config={PRESETS}"]
    completed = _run(argv, {**env, "AIRFLOW_SIDECARS_REPORT": str(report)}, RENDER.read_bytes())
    assert completed.returncode == 2
    assert completed.stdout == b""
    said = completed.stderr.decode()
    assert "the plugin runs inject --strict itself: give only --post-renderer-args" in said
    assert report.read_text() == said


@pytest.mark.parametrize(
    "route",
    [
        pytest.param("helm3", id="helm3-post-renderer"),
        pytest.param("helm4", id="helm4-plugin"),
        pytest.param("ci", id="ci-pipeline"),
    ],
)
def test_the_packaged_routes_are_strict(env: dict[str, str], tmp_path: Path, route: str) -> None:
    # apiServer on an Airflow 2 render reaches nothing: the release must not deploy without it.
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\n"
        "metadata:\n  name: strict\nspec:\n  scheduler:\n    extraContainers:\n"
        "      - {name: a, image: busybox:1.36}\n  apiServer:\n    extraContainers:\n"
        "      - {name: b, image: busybox:1.36}\n"
    )
    variables = {"AIRFLOW_SIDECARS_CONFIG": str(config), "RENDER": "helm template a b"}
    argv = {
        "helm3": [str(HELM / "post-renderer.sh")],
        "helm4": [_helm4_command(), f"--config={config}"],
        "ci": [str(CI / "pipeline.sh")],
    }[route]
    completed = _run(argv, {**env, **variables}, RENDER.read_bytes())
    assert completed.returncode == 1
    assert "error: [no-match]" in completed.stderr.decode()
    assert completed.stdout == RENDER.read_bytes()  # nothing applied


def test_argocd_passes_its_parameters_and_the_cluster_to_helm(
    env: dict[str, str], tmp_path: Path
) -> None:
    plugin: dict[str, Any] = yaml.safe_load((CI / "argocd-cmp.yaml").read_text())
    spec = plugin["spec"]
    folder = _app_folder(tmp_path, "team-sidecars.yaml")
    (folder / "Chart.yaml").write_text(
        "apiVersion: v2\nname: app\ndependencies:\n  - name: airflow\n"
    )
    calls = tmp_path / "helm-calls"
    bin_dir = Path(env["PATH"].split(os.pathsep)[0])
    (bin_dir / "helm").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\n'
        f'[ "$1" = template ] && exec cat "{RENDER}"\nexit 0\n'
    )
    app = {
        "ARGOCD_APP_NAME": "airflow-prod",
        "ARGOCD_APP_NAMESPACE": "data",
        "PARAM_CONFIG": "team-sidecars.yaml",
        "PARAM_RELEASE_NAME": "airflow",
        "PARAM_VALUES_FILES_0": "values.yaml",
        "PARAM_VALUES_FILES_1": "values-prod.yaml",
        "KUBE_VERSION": "1.31.2",
        "KUBE_API_VERSIONS": "v1,apps/v1,batch/v1",
    }
    init = _run([*spec["init"]["command"], *spec["init"]["args"]], {**env, **app}, cwd=folder)
    assert init.returncode == 0, init.stderr.decode()
    completed = _run(
        [*spec["generate"]["command"], *spec["generate"]["args"]], {**env, **app}, cwd=folder
    )
    assert completed.returncode == 0, completed.stderr.decode()
    assert completed.stdout == GOLDEN
    assert calls.read_text().splitlines() == [
        "dependency build",
        "template airflow . --namespace data --values values.yaml --values values-prod.yaml "
        "--kube-version 1.31.2 --api-versions v1 --api-versions apps/v1 --api-versions batch/v1",
    ]


SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
BEFORE = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"
# The shell pipe that airflow-sidecars-pipeline stands for, as pipeline.sh ran it before.
SHELL_PIPE = (
    'set -o pipefail; airflow-sidecars inject --strict --config "$CONFIG" "$@" '
    '| airflow-sidecars validate --strict --config "$CONFIG"'
)


@pytest.mark.parametrize(
    ("config", "status"),
    [pytest.param(SEED, 0, id="seed-sidecars"), pytest.param(SEED_AS_PASTED, 1, id="as-pasted")],
)
@pytest.mark.parametrize("given", ["file", "render", "stdin"])
def test_pipeline_command_is_the_shell_pipe(
    env: dict[str, str], config: Path, status: int, given: str
) -> None:
    # The same stdout, stderr and exit status as inject | validate run as two processes, on a
    # real render: with the seed's sidecars (added, warnings only) and with the seed as pasted
    # (errors: nothing applied, both functions' findings shown), but each finding once: the
    # pipe's validate says again what inject said.
    piped = _run(
        ["bash", "-c", SHELL_PIPE, "pipe", *([str(BEFORE)] if given == "file" else [])],
        {**env, "CONFIG": str(config)},
        b"" if given == "file" else BEFORE.read_bytes(),
    )
    assert piped.returncode == status, piped.stderr.decode()
    argv = {
        "file": [str(BEFORE)],
        "render": ["--render", f"cat '{BEFORE}'"],
        "stdin": [],
    }[given]
    completed = _run(
        ["airflow-sidecars-pipeline", "--config", str(config), *argv],
        env,
        b"" if given != "stdin" else BEFORE.read_bytes(),
    )
    assert (completed.returncode, completed.stderr, completed.stdout) == (
        piped.returncode,
        _each_finding_once(piped.stderr),
        piped.stdout,
    )
    if status == 0:
        assert b"name: s3-sync" in completed.stdout
    else:
        assert completed.stdout == BEFORE.read_bytes()


def _each_finding_once(stderr: bytes) -> bytes:
    """The pipe's stderr without validate's lines that repeat one of inject's findings."""
    lines = stderr.decode().splitlines(keepends=True)
    said = {line.removeprefix("inject: ") for line in lines if line.startswith("inject: ")}
    kept = [
        line
        for line in lines
        if not (line.startswith("validate: ") and line.removeprefix("validate: ") in said)
    ]
    return "".join(kept).encode()


def test_pipeline_command_reads_its_variables(env: dict[str, str]) -> None:
    variables = {"AIRFLOW_SIDECARS_CONFIG": str(SEED), "RENDER": f"cat {BEFORE}"}
    completed = _run(["airflow-sidecars-pipeline"], {**env, **variables})
    assert completed.returncode == 0, completed.stderr.decode()
    direct = _run(["airflow-sidecars-pipeline", "--config", str(SEED), str(BEFORE)], env)
    assert completed.stdout == direct.stdout and b"name: s3-sync" in completed.stdout


@pytest.mark.parametrize(
    ("argv", "variables", "status", "said"),
    [
        pytest.param([], {"RENDER": f"cat {BEFORE}"}, 2, "no config", id="no-config"),
        pytest.param(
            ["--config", "missing.yaml", str(BEFORE)],
            {},
            2,
            "missing.yaml: No such file",
            id="config-unreadable",
        ),
        pytest.param(
            ["--config", str(SEED), "--render", "cat x", str(BEFORE)],
            {},
            2,
            "either",
            id="render-and-files",
        ),
        pytest.param(
            ["--config", str(SEED), "--render", "sh -c 'echo partial; exit 3'"],
            {},
            1,
            "the render command failed (exit status 3)",
            id="render-fails",
        ),
        pytest.param(
            ["--config", str(SEED), "--render", "no-such-helm template"],
            {},
            1,
            "could not start: no-such-helm",
            id="render-not-found",
        ),
        pytest.param(
            ["--config", str(SEED), "--render", "cat 'unclosed"],
            {},
            2,
            "cannot be split",
            id="render-unsplittable",
        ),
    ],
)
def test_pipeline_command_misuse(
    env: dict[str, str], argv: list[str], variables: dict[str, str], status: int, said: str
) -> None:
    # One line that says what is wrong, nothing on stdout, never a traceback.
    clean = {k: v for k, v in env.items() if k not in ("AIRFLOW_SIDECARS_CONFIG", "RENDER")}
    completed = _run(["airflow-sidecars-pipeline", *argv], {**clean, **variables})
    stderr = completed.stderr.decode()
    assert completed.returncode == status, stderr
    assert completed.stdout == b""
    assert said in stderr and "Traceback" not in stderr
    assert stderr.startswith("airflow-sidecars-pipeline: ")


def test_pipeline_command_no_strict(env: dict[str, str], tmp_path: Path) -> None:
    # --no-strict: a section that reaches nothing is a warning, as without --strict.
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\n"
        "metadata:\n  name: lax\nspec:\n  scheduler:\n    extraContainers:\n"
        "      - {name: a, image: busybox:1.36}\n  apiServer:\n    extraContainers:\n"
        "      - {name: b, image: busybox:1.36}\n"
    )
    argv = ["airflow-sidecars-pipeline", "--config", str(config), str(RENDER)]
    strict = _run(argv, env)
    assert strict.returncode == 1 and "error: [no-match]" in strict.stderr.decode()
    lax = _run([*argv, "--no-strict"], env)
    assert lax.returncode == 0, lax.stderr.decode()
    assert "warning: [no-match]" in lax.stderr.decode() and b"name: a\n" in lax.stdout
    # inject and validate both find that apiServer reaches nothing: one finding, one line
    findings = [line.split(": ", 1)[1] for line in lax.stderr.decode().splitlines()]
    warnings = [finding for finding in findings if finding.startswith("warning:")]
    assert len(warnings) == len(set(warnings)) == 1, lax.stderr.decode()
