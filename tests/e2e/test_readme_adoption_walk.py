"""README's adoption walk-through, run: an umbrella chart with the Airflow chart under an
alias, two values files, `from-values` for Helm 3 and for Helm 4, each install post-rendered
strictly (tests/fixtures/adoption/official-alias; README.md, "A walk-through").

The README's commands are read from the README itself. The `airflow-sidecars` lines run as
they are, in a copy of the chart's folder. Helm's own steps are the chart's renders, made from
the chart 1.22.0 with real Helm (tests/fixtures/adoption/README.md): `helm template` is the
original render, hooks included; each `helm upgrade` hands its post-renderer, run as that Helm
runs it, the render of the stripped values the line names (Helm 3: the manifest on stdin, the
script reading the config from AIRFLOW_SIDECARS_CONFIG; Helm 4: manifest and hooks as one
stream, the plugin's command with the --post-renderer-args). What it prints must be the
chart's render of the original values.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path

from test_adoption_routes import assert_same_objects

from conftest import FIXTURES, ROOT

SCRIPTS = sysconfig.get_path("scripts")

CASE = FIXTURES / "adoption" / "official-alias"
MARKER = "<!-- adoption walk:"
# Helm 4 post-renders as the stream route does: its stripped values and renders are those.
RENDERED_AS = {"helm3": "helm3", "helm4": "stream"}


def _walk() -> list[str]:
    """The commands of the README's walk-through, one per line."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(MARKER) :]
    block = block[block.index("```sh\n") + len("```sh\n") :]
    block = block[: block.index("```")]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def _run(command: str, folder: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["bash", "-c", command],
        input=stdin,
        capture_output=True,
        cwd=folder,
        # this installation's airflow-sidecars first, as the plugin script finds it on the PATH
        env={
            **os.environ,
            "PWD": str(folder),
            "PATH": f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}",
        },
        check=False,
        timeout=120,
        start_new_session=True,  # no controlling terminal: the plugin's lines stay here
    )


def _post_render(line: str, folder: Path) -> tuple[str, subprocess.CompletedProcess[bytes]]:
    """A `helm upgrade ... --post-renderer` line, done as that Helm would do it: the route
    (by the stripped values it names) and what its post-renderer printed."""
    words = shlex.split(line.replace("$PWD", str(folder)))
    values = [words[n + 1] for n, word in enumerate(words) if word == "-f"]
    route = re.fullmatch(r"values\.(\w+)\.yaml", values[0])[1]  # type: ignore[index]
    assert values == [f"values.{route}.yaml", f"values-prod.{route}.yaml"]
    as_route = RENDERED_AS[route]
    for name in values:  # what from-values wrote is what the chart rendered
        committed = CASE / name.replace(f".{route}.", f".{as_route}.")
        assert (folder / name).read_text() == committed.read_text(), name
    manifest = (CASE / f"render.{as_route}.yaml").read_bytes()
    hooks = (CASE / f"render.{as_route}.hooks.yaml").read_bytes()
    renderer = words[words.index("--post-renderer") + 1]
    if renderer.startswith("./"):  # Helm 3: an executable, the manifest without the hooks
        assert hooks == (CASE / "render.hooks.yaml").read_bytes()
        shutil.copy(ROOT / "pipelines" / "helm" / "post-renderer.sh", folder / renderer)
        environment = words[: words.index("helm")]  # VARIABLE=value words before it
        assert environment == ["AIRFLOW_SIDECARS_CONFIG=sidecars-helm3.yaml"], line
        script = shlex.join([*environment, renderer])
        return route, _run(script, folder, manifest)
    assert renderer == "airflow-sidecars"  # Helm 4: the plugin, manifest and hooks together
    arguments = words[words.index("--post-renderer-args") + 1 :][:1]
    plugin = ROOT / "pipelines" / "helm" / "plugin" / "post-render.sh"
    return route, _run(shlex.join([str(plugin), *arguments]), folder, manifest + hooks)


def test_the_readme_walk_installs_what_the_original_values_installed(tmp_path: Path) -> None:
    folder = tmp_path / "platform"
    folder.mkdir()
    for name in ("Chart.yaml", "Chart.lock", "values.yaml", "values-prod.yaml"):
        shutil.copy(CASE / name, folder / name)
    original = (CASE / "render.yaml").read_text()
    original_hooks = (CASE / "render.hooks.yaml").read_text()
    installed = set()
    for line in _walk():
        if line == "helm dependency build":
            continue  # the renders below were made with the chart in charts/
        if line.startswith("helm template "):
            assert line.endswith("-f values.yaml -f values-prod.yaml > today.yaml"), line
            (folder / "today.yaml").write_text(original + original_hooks)
        elif line.startswith("airflow-sidecars "):
            adopted = _run(line, folder)
            said = adopted.stderr.decode()
            assert adopted.returncode == 0, said
            assert "values under orchestrator: the Airflow dependency in Chart.yaml" in said
            warnings = [text for text in said.splitlines() if "warning:" in text]
            if "--route helm3" in line:  # the Job's values stay with the chart: nothing to say
                assert warnings == [], said
            else:  # the README names the one warning: the migrations Job's plain sidecar
                assert len(warnings) == 1 and "'cloud-sql-proxy'" in warnings[0], said
        elif " helm upgrade " in f" {line}":
            route, rendered = _post_render(line, folder)
            assert rendered.returncode == 0, rendered.stderr.decode()
            wanted = original if route == "helm3" else original + original_hooks
            assert_same_objects(rendered.stdout, wanted)
            installed.add(route)
        else:
            raise AssertionError(f"a README line the walk does not know: {line}")
    assert installed == {"helm3", "helm4"}
