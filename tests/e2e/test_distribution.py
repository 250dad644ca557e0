"""The sdist and the wheel, built from a clean copy of the project as a release builds them
(`python -m build`: the sdist, then the wheel from the sdist), and installed the way pipx
installs a tool: into a fresh venv without the system's packages, from the wheel and its
dependencies' wheels only, then run from a folder outside this checkout.
"""

from __future__ import annotations

import configparser
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path
from typing import NamedTuple

import pytest
from packaging.requirements import Requirement

from airflow_sidecars import __version__
from conftest import FIXTURES, ROOT, TESTS
from support.distribution import (
    dependency_wheels,
    isolated_env,
    metadata,
    project_copy,
    pyproject,
    run,
)

NAME = "airflow-sidecars"
SCHEMA = "airflow-sidecars.v1alpha1.json"


class Dist(NamedTuple):
    sdist: Path
    wheel: Path  # built from the sdist, as `python -m build` does
    tree_wheel: Path  # built from the source tree, as `pip install DIR` does


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    work = tmp_path_factory.mktemp("dist")
    wheels = dependency_wheels()
    # The build backend from the same wheels as the installs: offline, and no stale build/.
    env = isolated_env([wheels])
    source = project_copy(work / "source")
    run([sys.executable, "-m", "build", "--outdir", work / "out", source], env=env)
    tree = project_copy(work / "tree")
    run([sys.executable, "-m", "build", "--wheel", "--outdir", work / "tree-out", tree], env=env)
    (sdist,) = (work / "out").glob("*.tar.gz")
    (wheel,) = (work / "out").glob("*.whl")
    (tree_wheel,) = (work / "tree-out").glob("*.whl")
    return Dist(sdist, wheel, tree_wheel)


def _wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _sdist_files(sdist: Path) -> dict[str, bytes]:
    with tarfile.open(sdist) as archive:
        files = {}
        for member in archive.getmembers():
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                files[member.name.split("/", 1)[1]] = handle.read()
        return files


def _all(info: Message, field: str) -> list[str]:
    return info.get_all(field) or []


def _dist_info(files: dict[str, bytes], name: str) -> bytes:
    return files[f"airflow_sidecars-{__version__}.dist-info/{name}"]


def _package_files() -> set[str]:
    """What the wheel must hold: every module of the package and its subpackages, py.typed,
    and the schema package (schemas/ mapped into it)."""
    package = ROOT / "functions" / "airflow_sidecars"
    modules = {
        f"airflow_sidecars/{path.relative_to(package).as_posix()}"
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts and not path.is_relative_to(package / "schemas")
    }
    schemas = {
        f"airflow_sidecars/schemas/{path.name}"
        for path in (ROOT / "schemas").iterdir()
        if path.suffix in (".py", ".json")
    }
    return modules | schemas | {"airflow_sidecars/py.typed"}


def test_metadata(dist: Dist) -> None:
    project = pyproject()["project"]
    wheel, wheel_description = metadata(_dist_info(_wheel_files(dist.wheel), "METADATA"))
    sdist, sdist_description = metadata(_sdist_files(dist.sdist)["PKG-INFO"])
    for info, description in ((wheel, wheel_description), (sdist, sdist_description)):
        assert info["Name"] == NAME == project["name"]
        assert info["Version"] == __version__
        assert info["Summary"] == project["description"]
        assert info["Requires-Python"] == project["requires-python"]
        assert info["License-Expression"] == project["license"] == "Apache-2.0"
        assert sorted(_all(info, "Project-URL")) == sorted(
            f"{label}, {url}" for label, url in project["urls"].items()
        )
        assert _all(info, "Provides-Extra") == ["test"]
        declared = [Requirement(r) for r in project["dependencies"]] + [
            Requirement(f'{r}; extra == "test"') for r in project["optional-dependencies"]["test"]
        ]
        assert sorted(map(str, map(Requirement, _all(info, "Requires-Dist")))) == sorted(
            map(str, declared)
        )
        runtime = [r for r in _all(info, "Requires-Dist") if "extra ==" not in r]
        assert {Requirement(r).name for r in runtime} == {"PyYAML", "jsonschema"}
        # The README is the project page on an index: all of it, as Markdown.
        assert info["Description-Content-Type"] == "text/markdown"
        assert description == (ROOT / "README.md").read_text(encoding="utf-8")
    assert [(k, v) for k, v in wheel.items() if k != "Metadata-Version"] == [
        (k, v) for k, v in sdist.items() if k != "Metadata-Version"
    ]


def test_console_scripts(dist: Dist) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(_wheel_files(dist.wheel), "entry_points.txt").decode())
    assert dict(entry_points["console_scripts"]) == pyproject()["project"]["scripts"]
    assert dict(entry_points["console_scripts"]) == {
        "airflow-sidecars": "airflow_sidecars.commands.cli:main",
        "airflow-sidecars-pipeline": "airflow_sidecars.commands.pipeline:main",
    }


def test_wheel_holds_the_package_and_nothing_else(dist: Dist) -> None:
    files = _wheel_files(dist.wheel)
    shipped = {name for name in files if ".dist-info/" not in name}
    # Every module, py.typed (type checkers read the package's annotations) and the schema;
    # no tests, fixtures, caches or build leftovers.
    assert shipped == _package_files()
    assert files[f"airflow_sidecars/schemas/{SCHEMA}"] == (ROOT / "schemas" / SCHEMA).read_bytes()
    assert {name.split("/", 1)[0] for name in files} == {
        "airflow_sidecars",
        f"airflow_sidecars-{__version__}.dist-info",
    }


def test_sdist_has_the_sources_and_builds_the_same_wheel(dist: Dist) -> None:
    files = _sdist_files(dist.sdist)
    # The wheel's files where the source tree has them: functions/airflow_sidecars/, schemas/.
    sources = {
        name.replace("airflow_sidecars/schemas/", "schemas/", 1)
        if name.startswith("airflow_sidecars/schemas/")
        else f"functions/{name}"
        for name in _package_files()
    }
    for name in sources | {"README.md", "pyproject.toml", "PKG-INFO"}:
        assert name in files, f"{name} is not in the sdist"
    assert files["pyproject.toml"] == (ROOT / "pyproject.toml").read_bytes()
    assert not [name for name in files if "__pycache__" in name or name.startswith("tests/")]
    # `python -m build` built the wheel from the sdist; `pip install DIR` (the GitHub Action)
    # builds it from the tree. Both must hold the same files, byte for byte.
    from_sdist, from_tree = _wheel_files(dist.wheel), _wheel_files(dist.tree_wheel)
    assert sorted(from_sdist) == sorted(from_tree)
    record = f"airflow_sidecars-{__version__}.dist-info/RECORD"
    assert {k: v for k, v in from_sdist.items() if k != record} == {
        k: v for k, v in from_tree.items() if k != record
    }


def test_pipx_style_install(dist: Dist, tmp_path: Path) -> None:
    # A venv of its own without the system's packages, the wheel and its dependencies' wheels
    # only (--no-index), and every command run from a folder that has nothing of this checkout.
    venv = tmp_path / "venv"
    env = isolated_env([dist.wheel.parent, dependency_wheels()])
    run([sys.executable, "-m", "venv", venv], env=env)
    run([venv / "bin" / "python", "-m", "pip", "install", f"{NAME}=={__version__}"], env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    presets = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
    (elsewhere / "sidecars.yaml").write_bytes(presets.read_bytes())
    render = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()
    (elsewhere / "rendered.yaml").write_bytes(render)

    def tool(*argv: str) -> str:
        return run([venv / "bin" / argv[0], *argv[1:]], env=env, cwd=elsewhere).stdout

    assert tool("airflow-sidecars", "--version") == f"airflow-sidecars {__version__}\n"
    assert tool("airflow-sidecars-pipeline", "--version") == (
        f"airflow-sidecars-pipeline {__version__}\n"
    )
    assert tool("airflow-sidecars", "schema") == (ROOT / "schemas" / SCHEMA).read_text()
    located = tool("python", "-c", "import airflow_sidecars; print(airflow_sidecars.__file__)")
    assert Path(located).is_relative_to(venv), located
    golden = TESTS / "golden" / "presets-official-1.15.0-celery" / "expected.yaml"
    injected = tool("airflow-sidecars", "inject", "--config", "sidecars.yaml", "rendered.yaml")
    assert injected == golden.read_text()
    piped = tool("airflow-sidecars-pipeline", "--config", "sidecars.yaml", "rendered.yaml")
    assert piped == injected
    # The type information ships: a type checker of the user's finds py.typed beside the code.
    assert (Path(located).parent / "py.typed").exists()
