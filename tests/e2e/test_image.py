"""The function image, run the way kustomize runs it (krm-contract.md §2.1), on real renders.

`docker run --rm -i -a STDIN -a STDOUT -a STDERR --network none --user nobody
--security-opt=no-new-privileges -e LOG_TO_STDERR=true -e STRUCTURED_RESULTS=true IMAGE`, plus
`--read-only`: the image must need no network, no root and no writable file. What comes out
must be what the package in this work tree gives for the same input, byte for byte.

The images are named by AIRFLOW_SIDECARS_IMAGE and AIRFLOW_SIDECARS_VALIDATE_IMAGE, which
`source .ci/image.sh` builds and exports (with a `docker` that is podman first on PATH).
Without them these tests are skipped, unless AIRFLOW_SIDECARS_REQUIRE_IMAGE=1, as in CI.

Then what else reads the image: `kpt fn doc` (it runs the image with `--help`: the help must
be the function's documentation, on stdout, with exit 0), and the OCI labels, which must say
what the kpt catalog entry (functions/<name>/metadata.yaml) and the package version say.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars import __version__
from airflow_sidecars.runs.api import ConfigSource, run_inject, run_validate
from conftest import FIXTURES, ROOT, Completed, function_image, run_cli

KUSTOMIZE_RUN = (
    "run",
    "--rm",
    "-i",
    *("-a", "STDIN", "-a", "STDOUT", "-a", "STDERR"),
    *("--network", "none"),
    *("--user", "nobody"),
    "--security-opt=no-new-privileges",
    *("-e", "LOG_TO_STDERR=true", "-e", "STRUCTURED_RESULTS=true"),
)
SENT_BY_KUSTOMIZE = ROOT / "pipelines" / "kustomize" / "exec" / "sent-by-kustomize.yaml"
SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
OFFICIAL = FIXTURES / "official-1.15.0"


@pytest.fixture(scope="module")
def image() -> str:
    return function_image("AIRFLOW_SIDECARS_IMAGE")


@pytest.fixture(scope="module")
def validate_image() -> str:
    return function_image("AIRFLOW_SIDECARS_VALIDATE_IMAGE")


def docker(*args: str, stdin: bytes = b"") -> Completed:
    found = shutil.which("docker")
    assert found, "`docker` is not on PATH (`source .ci/image.sh` puts podman there as docker)"
    completed = subprocess.run(
        [found, *args], input=stdin, capture_output=True, check=False, timeout=120
    )
    return Completed(completed.returncode, completed.stdout, completed.stderr.decode())


def run_function(image: str, stdin: bytes) -> Completed:
    """Exactly kustomize's command line, with a read-only root filesystem on top."""
    return docker(*KUSTOMIZE_RUN, "--read-only", image, stdin=stdin)


def resource_list(render: Path, config: Path | Any, *, as_json: bool = False) -> bytes:
    """A ResourceList as an orchestrator would send it: every object of a real render as items,
    the config (a file, an object, or None) as functionConfig."""
    items = [doc for doc in yaml.safe_load_all(render.read_text()) if doc]
    rl: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList"}
    rl["items"] = items
    if isinstance(config, Path):
        config = yaml.safe_load(config.read_text())
    if config is not None:
        rl["functionConfig"] = config
    if as_json:
        return json.dumps(rl, indent=2).encode()
    return yaml.safe_dump(rl, sort_keys=False).encode()


def items_of(output: bytes) -> list[Any]:
    items: list[Any] = yaml.safe_load(output)["items"]
    return items


INJECT_INPUTS: dict[str, Callable[[], bytes]] = {
    # what kubectl kustomize really sends (pipelines/kustomize/exec/sent-by-kustomize.yaml)
    "sent-by-kustomize": SENT_BY_KUSTOMIZE.read_bytes,
    # the presets on a KubernetesExecutor render (the pod template in the ConfigMap), as JSON
    "presets-kubernetes-executor-json": lambda: resource_list(
        OFFICIAL / "02-kubernetes-executor.yaml", PRESETS, as_json=True
    ),
    "seed-on-celery-render": lambda: resource_list(OFFICIAL / "05a-sidecars-before.yaml", SEED),
}


@pytest.mark.parametrize("name", sorted(INJECT_INPUTS))
def test_the_image_gives_what_the_package_gives(image: str, name: str) -> None:
    stdin = INJECT_INPUTS[name]()
    expected = run_inject([(None, stdin)], None)
    assert expected.exit_code == 0, [r.line() for r in expected.results]

    ran = run_function(image, stdin)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == expected.output
    # stderr is the command line's, and only that: no warning from the engine or from Python
    assert ran.stderr == run_cli("inject", stdin=stdin).stderr


def test_a_bad_config_exits_1_with_a_complete_resource_list(image: str) -> None:
    config = yaml.safe_load(SEED.read_text())
    config["spec"]["scheduler"]["extraContainer"] = config["spec"]["scheduler"].pop(
        "extraContainers"
    )
    stdin = resource_list(OFFICIAL / "05a-sidecars-before.yaml", config)
    expected = run_inject([(None, stdin)], None)

    ran = run_function(image, stdin)

    assert ran.returncode == 1, ran.stderr
    assert ran.stdout == expected.output
    out = yaml.safe_load(ran.stdout)
    assert out["kind"] == "ResourceList"
    assert out["items"] == items_of(stdin)  # every item, unchanged
    errors = [r for r in out["results"] if r["severity"] == "error"]
    assert errors
    assert {r["tags"]["rule"] for r in errors} == {"config"}
    assert any("extraContainer" in r["message"] for r in errors), errors
    assert "Traceback" not in ran.stderr


def test_validate_flags_the_charts_render_of_the_seed(validate_image: str) -> None:
    """The chart's own render of the seed's values (05b): the s3-sync mounts a volume the
    scheduler pod does not have. No functionConfig: the built-in rules alone."""
    stdin = resource_list(OFFICIAL / "05b-sidecars-after.yaml", None)
    expected = run_validate([(None, stdin)], None)

    ran = run_function(validate_image, stdin)

    assert ran.returncode == 1, ran.stderr
    assert ran.stdout == expected.output
    out = yaml.safe_load(ran.stdout)
    assert out["items"] == items_of(stdin)
    errors = [r for r in out["results"] if r["severity"] == "error"]
    assert [(r["tags"]["rule"], r["resourceRef"]["name"]) for r in errors] == [
        ("missing-volume", "airflow-scheduler")
    ]
    assert ran.stderr == run_cli("validate", stdin=stdin).stderr


@pytest.mark.parametrize("variable", ["AIRFLOW_SIDECARS_IMAGE", "AIRFLOW_SIDECARS_VALIDATE_IMAGE"])
def test_the_image_runs_as_nobody_on_a_read_only_filesystem(variable: str) -> None:
    image = function_image(variable)
    # No --user: the image's own USER. kustomize's `--user nobody` must mean the same.
    for user in ([], ["--user", "nobody"]):
        ran = docker(
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            *user,
            "--entrypoint",
            "id",
            image,
            "-u",
        )
        assert (ran.returncode, ran.stdout) == (0, b"65534\n"), ran.stderr


# Run inside the image: every module that the functions import, from the standard library
# too, has up-to-date bytecode from the build, so a run compiles nothing (and, with the root
# filesystem read-only and PYTHONDONTWRITEBYTECODE=1, could write nothing anyway).
BYTECODE_CHECK = """
import importlib.util, os, sys
from airflow_sidecars.runs import api
from airflow_sidecars.configuration import config
rl = b"apiVersion: config.kubernetes.io/v1\\nkind: ResourceList\\nitems: []\\n"
api.run_inject([(None, rl + b"functionConfig: {kind: Nope}\\n")], None)
api.run_validate([(None, rl)], None)
config.schema_text()
stale = []
for module in list(sys.modules.values()):
    source = getattr(module, "__file__", None) or ""
    if not source.endswith(".py"):
        continue
    try:
        with open(importlib.util.cache_from_source(source), "rb") as handle:
            header = handle.read(16)
    except OSError:
        stale.append(source)
        continue
    st = os.stat(source)
    fresh = header[:4] == importlib.util.MAGIC_NUMBER and (
        int.from_bytes(header[4:8], "little") != 0  # hash-based: checked by its own rules
        or (
            int.from_bytes(header[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == st.st_size & 0xFFFFFFFF
        )
    )
    if not fresh:
        stale.append(source)
print(sys.flags.dont_write_bytecode, len(sys.modules), stale)
"""


def test_every_module_is_compiled_at_build_time(image: str) -> None:
    ran = docker(
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--read-only",
        "--user",
        "nobody",
        "--entrypoint",
        "/opt/airflow-sidecars/bin/python",
        image,
        "-",
        stdin=BYTECODE_CHECK.encode(),
    )
    assert ran.returncode == 0, ran.stderr
    dont_write, modules, stale = ran.stdout.decode().split(" ", 2)
    assert dont_write == "1"
    assert int(modules) > 50
    assert stale.strip() == "[]"


def test_the_entrypoints(image: str, validate_image: str) -> None:
    def entrypoint(name: str) -> Any:
        ran = docker("image", "inspect", "--format", "{{json .Config.Entrypoint}}", name)
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    binary = "/opt/airflow-sidecars/bin/airflow-sidecars"
    assert entrypoint(image) == [binary, "inject"]
    assert entrypoint(validate_image) == [binary, "validate"]


def test_the_config_file_form_works_in_the_image_too(image: str) -> None:
    """`--config` with the config mounted read-only (kustomize's `mounts:`), stream mode: the
    Helm post-renderer use, from the image."""
    render = OFFICIAL / "05a-sidecars-before.yaml"
    expected = run_inject(
        [(None, render.read_bytes())], ConfigSource("/config/seed.yaml", SEED.read_bytes())
    )
    ran = docker(
        *KUSTOMIZE_RUN,
        "--read-only",
        "--mount",
        f"type=bind,source={SEED},target=/config/seed.yaml,readonly",
        image,
        "--config",
        "/config/seed.yaml",
        stdin=render.read_bytes(),
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == expected.output


# -- kpt fn doc ------------------------------------------------------------------------------------

# What `kpt fn doc --image IMAGE` runs (kptdev/kpt commands/fn/doc/cmdfndoc.go, runE), with the
# engine that KPT_FN_RUNTIME (1.0.0-beta.56) or KRM_FN_RUNTIME (later) names. It prints the
# container's stdout only if the run exits 0; anything else fails with "please ensure the
# container has an entrypoint and it supports --help flag".
KPT_FN_DOC = {
    # 1.0.0-beta.56, the kpt on these machines: no stdin at all
    "kpt-1.0.0-beta.56": (("run", "--rm"), b""),
    # 1.0.0-beta.65 and later, for functions that read their input first: `-i` and an empty
    # ResourceList on stdin. (beta.60.1 to beta.64 also passed `--stdin`, which docker does not
    # know, nor the podman here (4.3.1): there `kpt fn doc` fails for every image.)
    "kpt-1.0.0-beta.65": (
        ("run", "--rm", "-i"),
        b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
    ),
}
FUNCTION_IMAGES = {
    "inject": "AIRFLOW_SIDECARS_IMAGE",
    "validate": "AIRFLOW_SIDECARS_VALIDATE_IMAGE",
}


def local_help(function: str) -> Completed:
    """The package's `FUNCTION --help` where there is no terminal, as in a container."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    completed = subprocess.run(
        [sys.executable, "-m", "airflow_sidecars", function, "--help"],
        capture_output=True,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        check=True,
        timeout=60,
    )
    return Completed(completed.returncode, completed.stdout, completed.stderr.decode())


@pytest.mark.parametrize("kpt", sorted(KPT_FN_DOC))
@pytest.mark.parametrize("function", sorted(FUNCTION_IMAGES))
def test_kpt_fn_doc_prints_the_functions_documentation(function: str, kpt: str) -> None:
    image = function_image(FUNCTION_IMAGES[function])
    engine_args, stdin = KPT_FN_DOC[kpt]

    ran = docker(*engine_args, image, "--help", stdin=stdin)

    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout == local_help(function).stdout
    text = ran.stdout.decode()
    # the usage, the config and its source, examples that run this very image
    assert text.startswith(f"usage: airflow-sidecars {function} ")
    assert "\nFunctionConfig:\n" in text and "kind: AirflowSidecars" in text
    assert f"--image {image}" in text or f"image: {image}" in text
    assert "\nexamples:\n" in text


@pytest.mark.skipif(shutil.which("kpt") is None, reason="no kpt on PATH")
@pytest.mark.parametrize("function", sorted(FUNCTION_IMAGES))
def test_the_real_kpt_fn_doc(function: str) -> None:
    image = function_image(FUNCTION_IMAGES[function])
    kpt = shutil.which("kpt")
    assert kpt
    # kpt runs the engine by its own name; where `docker` is podman (CI), podman it is
    runtime = "podman" if _docker_is_podman() else "docker"
    env = {**os.environ, "KPT_FN_RUNTIME": runtime, "KRM_FN_RUNTIME": runtime}
    ran = subprocess.run(
        [kpt, "fn", "doc", "--image", image], capture_output=True, env=env, check=False, timeout=120
    )
    assert ran.returncode == 0, ran.stderr.decode()
    # kpt prints the container's stdout and a line break
    assert ran.stdout == local_help(function).stdout + b"\n"


def _docker_is_podman() -> bool:
    ran = docker("--version")
    return ran.returncode == 0 and ran.stdout.startswith(b"podman")


# -- the labels ------------------------------------------------------------------------------------


def _project_url(name: str) -> str:
    found = re.search(rf'^{name} = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found, name
    return found[1]


@pytest.mark.parametrize("function", sorted(FUNCTION_IMAGES))
def test_the_images_oci_labels(function: str) -> None:
    image = function_image(FUNCTION_IMAGES[function])
    metadata = yaml.safe_load((ROOT / "functions" / function / "metadata.yaml").read_text())
    # the image under test is the catalog's: its tag is the package version
    assert image == metadata["image"] == f"{metadata['image'].rsplit(':', 1)[0]}:{__version__}"
    ran = docker("image", "inspect", "--format", "{{json .Labels}}", image)
    assert ran.returncode == 0, ran.stderr
    labels = json.loads(ran.stdout)

    oci = {k: v for k, v in labels.items() if k.startswith("org.opencontainers.image.")}
    assert oci == {
        "org.opencontainers.image.title": image.rsplit("/", 1)[1].rsplit(":", 1)[0],
        "org.opencontainers.image.description": metadata["description"],
        "org.opencontainers.image.version": __version__,
        "org.opencontainers.image.licenses": metadata["license"],
        "org.opencontainers.image.url": _project_url("Homepage"),
        "org.opencontainers.image.source": _project_url("Homepage"),
        "org.opencontainers.image.documentation": _project_url("Documentation"),
    }


# -- the README's docker build -------------------------------------------------------------------

# What a checkout's `docker build .` reads (.dockerignore keeps the rest out).
CHECKOUT = ("pyproject.toml", "README.md", "functions", "schemas", "wheelhouse", ".dockerignore")
# The base that .ci/image.sh makes from Debian packages: no registry is reachable in CI.
CI_BASE = "localhost/debian-python:bookworm"


def _readme_build_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(V=\$\(sed [^\n]*\n(?:docker build [^\n]*\n)+)```", readme)
    assert block, "the README gives the `docker build` commands"
    return block.group(1).splitlines()


def test_the_readmes_docker_build_gives_the_same_function(
    image: str, validate_image: str, tmp_path: Path
) -> None:
    # The README's commands, as written, in a copy of the checkout: offline (the wheels that
    # .ci/image.sh downloaded, in wheelhouse/) and on CI's base, the only changes. The image
    # they build runs as kustomize runs it on the seed example and gives the golden output,
    # and carries the labels of the images the other tests check.
    commands = _readme_build_commands()
    header = [line[4:] for line in (ROOT / "Dockerfile").read_text().splitlines()[:6]]
    assert commands == [line for line in header if line.startswith(("V=", "docker build"))]
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in (*CHECKOUT, "Dockerfile"):
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.whl")
            shutil.copytree(source, checkout / name, ignore=ignore)
        else:
            shutil.copy(source, checkout / name)
    work = Path(os.environ.get("AIRFLOW_SIDECARS_CI_WORK", "~/.cache/airflow-sidecars-ci"))
    wheels = sorted(work.expanduser().glob("deps/*.whl"))
    assert wheels, "`source .ci/image.sh` downloads the wheels"
    for wheel in wheels:
        shutil.copy(wheel, checkout / "wheelhouse" / wheel.name)
    offline = f"docker build --network none --build-arg BASE_IMAGE={CI_BASE} "
    script = "\n".join(
        line.replace("docker build ", offline).replace(
            " -t airflow-sidecars", " -t readme/airflow-sidecars"
        )
        for line in commands
    )
    built = subprocess.run(
        ["bash", "-euc", script], cwd=checkout, capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    ours = {
        f"localhost/readme/{name}:{__version__}": name
        for name in ("airflow-sidecars", "airflow-sidecars-validate")
    }
    try:
        inject_image, validate_readme = ours
        ran = run_function(inject_image, SENT_BY_KUSTOMIZE.read_bytes())
        assert ran.returncode == 0, ran.stderr
        exec_expected = ROOT / "pipelines" / "kustomize" / "exec" / "expected.yaml"
        assert ran.stdout == exec_expected.read_bytes()
        checked = run_function(validate_readme, ran.stdout)
        assert checked.returncode == 0, checked.stderr
        for readme_image, tested in zip(ours, (image, validate_image), strict=True):
            assert _labels(readme_image) == _labels(tested)
    finally:
        docker("rmi", "-f", *ours)


def _labels(image: str) -> dict[str, str]:
    """The image's labels, less the one .ci/image.sh adds (the hash of its sources)."""
    ran = docker("image", "inspect", "--format", "{{json .Labels}}", image)
    assert ran.returncode == 0, ran.stderr
    labels: dict[str, str] = json.loads(ran.stdout)
    labels.pop("dev.airflow-sidecars.source", None)
    return labels
