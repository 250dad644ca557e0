"""The kpt function catalog's entries (functions/<name>/metadata.yaml and README.md) say what
the code does, and every pinned image tag is the package version.

The catalog keeps `functions/<language>/<name>/{metadata.yaml,README.md}`; metadata.yaml has
the fields its generator reads (image, description, tags, sourceURL, examplePackageURLs,
emails, license, hidden). The image's tag cannot follow `__version__` by itself in a YAML
file, a Kptfile or a README, so a version bump must fail here until each pin says the new
version (tests/e2e/test_image.py checks the images' own labels).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars import __version__
from airflow_sidecars.runs.api import ConfigSource, run_inject, run_validate
from airflow_sidecars.transforms.rules import CAN_DISABLE, RULES
from conftest import FIXTURES, ROOT

FUNCTIONS = {"inject": "mutator", "validate": "validator"}
IMAGES = {
    "inject": f"localhost/airflow-sidecars:{__version__}",
    "validate": f"localhost/airflow-sidecars-validate:{__version__}",
}
RENDER = FIXTURES / "official-1.15.0" / "01-default.yaml"


def metadata(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (ROOT / "functions" / name / "metadata.yaml").read_text()
    )
    return loaded


def readme(name: str) -> str:
    return (ROOT / "functions" / name / "README.md").read_text()


def section(name: str, kind: str) -> str:
    found = re.search(rf"<!--mdtogo:{kind}-->\n(.*?)<!--mdtogo-->", readme(name), re.DOTALL)
    assert found, (name, kind)
    return found[1]


def pyproject_value(key: str) -> str:
    found = re.search(
        rf'^{key} = (?:\{{ text = )?"([^"]*)"', (ROOT / "pyproject.toml").read_text(), re.M
    )
    assert found, key
    return found[1]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_metadata_has_the_catalogs_fields_with_ours(name: str) -> None:
    data = metadata(name)
    assert list(data) == [
        "image",
        "description",
        "tags",
        "sourceURL",
        "examplePackageURLs",
        "emails",
        "license",
        "hidden",
    ]
    assert data["image"] == IMAGES[name]
    assert data["tags"][0] == FUNCTIONS[name]
    assert data["sourceURL"] == pyproject_value("Homepage")
    assert data["license"] == pyproject_value("license") == "Apache-2.0"
    assert data["hidden"] is False
    # the catalog's one-line description is the README's Short section
    assert data["description"] == " ".join(section(name, "Short").split())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_example_packages_run_this_image(name: str) -> None:
    urls = metadata(name)["examplePackageURLs"]
    assert urls == ["pipelines/kpt/airflow", "pipelines/kpt/airflow-bad"]
    for url in urls:
        kptfile = yaml.safe_load((ROOT / url / "Kptfile").read_text())
        steps = kptfile["pipeline"]["mutators" if name == "inject" else "validators"]
        assert [step["image"] for step in steps] == [IMAGES[name]], url


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_readme_has_the_catalogs_layout(name: str) -> None:
    text = readme(name)
    headings = re.findall(r"^#+ .*", text, re.M)
    assert headings == [f"# {name}", "## Overview", "## Usage", "## FunctionConfig", "## Examples"]
    markers = re.findall(r"<!--mdtogo(?::\w+)?-->", text)
    assert markers == [
        *("<!--mdtogo:Short-->", "<!--mdtogo-->"),
        *("<!--mdtogo:Long-->", "<!--mdtogo-->"),
        *("<!--mdtogo:Examples-->", "<!--mdtogo-->"),
    ]


def yaml_blocks(name: str) -> list[Any]:
    return [
        yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", readme(name), re.S | re.M)
    ]


def test_injects_minimal_config_works_as_the_readme_says() -> None:
    config = next(b for b in yaml_blocks("inject") if b.get("kind") == "AirflowSidecars")
    source = ConfigSource("readme.yaml", yaml.safe_dump(config).encode())
    outcome = run_inject([(None, RENDER.read_bytes())], source)
    assert outcome.exit_code == 0, [r.line() for r in outcome.results]
    added = [r.message for r in outcome.results if r.tags.get("rule") == "added"]
    assert added == ["scheduler: added container heartbeat"]
    # a sidecar with requests and a pinned image: validate has nothing to say
    checked = run_validate([(None, outcome.output)], source)
    assert [r.line() for r in checked.results] == []


def test_validates_minimal_config_works_as_the_readme_says() -> None:
    config = next(b for b in yaml_blocks("validate") if b.get("kind") == "AirflowSidecars")
    source = ConfigSource("readme.yaml", yaml.safe_dump(config).encode())
    # what it declares must be there: on the chart's own render, it is missing
    before = run_validate([(None, RENDER.read_bytes())], source)
    assert before.exit_code == 1
    assert {r.tags["rule"] for r in before.results if r.severity == "error"} == {"declared-missing"}
    injected = run_inject([(None, RENDER.read_bytes())], source).output
    after = run_validate([(None, injected)], source)
    assert after.exit_code == 0
    # the sidecar has no requests, and that rule is off
    assert [r.line() for r in after.results] == []


def test_validates_readme_lists_its_checks_with_their_verdicts() -> None:
    long = section("validate", "Long")
    listed: dict[str, str] = {}
    for verdict, item in re.findall(
        r"^- (errors|warnings|info|either): (.*?)(?=^- |^$)", long, re.S | re.M
    ):
        verdicts = {"errors": "error", "warnings": "warning", "info": "info", "either": "varies"}
        for rule in re.findall(r"`([a-z-]+)` \(", item):
            listed[rule] = verdicts[verdict]
    # every built-in check, with validate's verdict (the other two need a config)
    checks = CAN_DISABLE - {"declared-missing", "no-longer-declared"}
    assert listed == {rule: RULES[rule].validate for rule in checks}
    for rule in ("declared-missing", "no-longer-declared", "unsupported-yaml", "malformed-pod"):
        assert f"`{rule}`" in long


# -- the version ---------------------------------------------------------------------------------

# an image tag's characters; a sentence's full stop after it is not one of them
PIN = re.compile(r"localhost/airflow-sidecars(?:-validate)?:(\w[\w.-]*\w)")


def pinned_files() -> list[Path]:
    """Every file that may name the images: the docs, the pipelines, the catalog entries, the
    Dockerfile, the generated help (the tests name them by __version__)."""
    found = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "Dockerfile"]
    found += sorted((ROOT / "docs").rglob("*.md"))
    found += sorted(p for p in (ROOT / "pipelines").rglob("*") if p.is_file())
    found += sorted((ROOT / "functions").glob("*/*.md")) + sorted(
        (ROOT / "functions").glob("*/metadata.yaml")
    )
    found += [ROOT / "functions" / "airflow_sidecars" / "commands" / "fndocs.py"]
    return found


def test_every_pinned_image_tag_is_the_package_version() -> None:
    pins = {
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}": m[1]
        for path in pinned_files()
        for text in [path.read_text(errors="replace")]
        for m in PIN.finditer(text)
    }
    assert len(pins) > 20  # the Kptfiles, the kustomize configs, the catalog entries, ...
    wrong = {where: tag for where, tag in pins.items() if tag != __version__}
    assert wrong == {}, f"the package is {__version__}: update these pins"


def test_the_helm_plugins_version_is_the_package_version() -> None:
    plugin = yaml.safe_load((ROOT / "pipelines" / "helm" / "plugin" / "plugin.yaml").read_text())
    assert plugin["version"] == __version__
