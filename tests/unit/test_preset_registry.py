"""The preset registry: every preset is one module with a complete record, and everything
else (the schema, the config checks, reach, the README) is read off the records.

A new preset module that leaves a field out, or gives one that does not fit (a parameter
without docs, a rule id no table has, requests the API server would refuse), fails here."""

from __future__ import annotations

import importlib
import pkgutil
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from airflow_sidecars import presets
from airflow_sidecars.configuration.config import ConfigError, load, schema
from airflow_sidecars.pods.quantity import resource_problems
from airflow_sidecars.presets import REGISTRY, SUPPORT_MODULES, Preset
from airflow_sidecars.presets.sections import EVERY_POD
from airflow_sidecars.renders.release import Release
from airflow_sidecars.runs.api import ConfigSource, run_inject
from airflow_sidecars.transforms.rules import RULES
from conftest import FIXTURES, config_yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "schemas" / "source" / "build.py"
PRESET_IDS = sorted(REGISTRY)


def preset_modules() -> list[str]:
    """Found independently of the package's own listing (presets.preset_modules)."""
    return sorted(
        module.name
        for module in pkgutil.iter_modules(presets.__path__)
        if module.name not in SUPPORT_MODULES
    )


def test_the_package_lists_the_same_preset_modules() -> None:
    assert presets.preset_modules() == preset_modules()


def test_every_preset_module_is_in_the_registry_under_its_own_name() -> None:
    names = []
    for module in preset_modules():
        record = importlib.import_module(f"airflow_sidecars.presets.{module}").PRESET
        assert isinstance(record, Preset), module
        names.append(record.name)
    assert sorted(names) == sorted(REGISTRY)
    assert len(REGISTRY) >= 4


def test_a_record_without_a_field_does_not_build() -> None:
    record = REGISTRY["s3Sync"]
    fields = record._asdict()
    for name in ("summary", "parameters", "default_requests", "expand", "unmatched"):
        with pytest.raises(TypeError):
            Preset(**{k: v for k, v in fields.items() if k != name})


@pytest.mark.parametrize("name", PRESET_IDS)
def test_a_record_is_complete(name: str) -> None:
    preset = REGISTRY[name]
    assert re.fullmatch(r"[a-z][A-Za-z0-9]+", preset.name)
    for text in (preset.summary, preset.readme_title, preset.unmatched, preset.components_doc):
        assert len(text.split()) >= 3, text
    assert preset.container and preset.parameters and preset.components_examples
    assert "{choices}" in preset.components_doc
    for parameter, fragment in preset.parameters.items():
        assert len(str(fragment.get("description", "")).split()) >= 3, parameter
        assert fragment.get("examples"), parameter
    assert not {"components", "resources"} & set(preset.parameters)  # every preset has them
    assert set(preset.required) <= set(preset.parameters)
    assert set(preset.pattern_meanings) <= {
        p for p, fragment in preset.parameters.items() if "pattern" in fragment
    }
    assert set(preset.constraint_messages) == set(preset.constraints)
    assert preset.reports <= set(RULES)
    assert {"cpu", "memory"} <= set(preset.default_requests)
    assert not resource_problems(preset.default_resources())


@pytest.mark.parametrize("name", PRESET_IDS)
def test_the_default_sections_are_among_the_choices(name: str) -> None:
    preset = REGISTRY[name]
    for sections in ({"scheduler", "workers"}, {"dagProcessor", "apiServer", "workers"}):
        release = Release()
        release.sections = sections
        for section in (*preset.default_sections(release), *preset.default_sections(None)):
            assert section == EVERY_POD or section in preset.sections.choices
    for example in preset.components_examples:
        assert set(example) <= set(preset.sections.choices)


@pytest.mark.parametrize("name", PRESET_IDS)
def test_the_record_example_is_a_valid_config(name: str) -> None:
    config = load(_config({name: dict(REGISTRY[name].example)}))
    assert name in config.presets


def test_an_unknown_preset_is_an_error_at_config_load() -> None:
    with pytest.raises(ConfigError) as raised:
        load(_config({"otel": {}}))
    [problem] = raised.value.problems
    assert problem.path == "spec.presets"
    assert all(name in problem.message for name in REGISTRY)


def test_the_checked_in_schema_is_what_its_source_builds() -> None:
    build: Any = runpy.run_path(str(BUILD))["build"]
    checked_in = (ROOT / "schemas" / "airflow-sidecars.v1alpha1.json").read_text("utf-8")
    assert build() == checked_in, "stale schema: run python schemas/source/build.py"


def test_the_schema_takes_exactly_the_registry_presets() -> None:
    properties = schema()["properties"]["spec"]["properties"]["presets"]["properties"]
    assert list(properties) == list(REGISTRY)
    Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("name", PRESET_IDS)
def test_the_readme_has_a_section_for_each_preset(name: str) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    preset = REGISTRY[name]
    heading = f"### {name}: {preset.readme_title}\n"
    assert heading in readme
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    for parameter in preset.required:
        assert parameter in section or parameter in readme.split("## Presets", 1)[1]


@pytest.mark.parametrize("name", PRESET_IDS)
@pytest.mark.parametrize(
    "render",
    [
        "official-1.15.0/01-default.yaml",
        "official-1.15.0/02-kubernetes-executor.yaml",
        "official-1.20.0/01-default.yaml",
        "community-8.9.0/01-default.yaml",
    ],
)
def test_a_preset_reports_only_the_rules_its_record_names(name: str, render: str) -> None:
    """What a preset says carries `preset` or one of the rule ids its record lists."""
    spec = {"presets": {name: dict(REGISTRY[name].example)}}
    config = ConfigSource("config.yaml", config_yaml(spec, "registry"))
    outcome = run_inject([("render.yaml", (FIXTURES / render).read_bytes())], config)
    said = {
        result.tags.get("rule")
        for result in outcome.results
        if result.message.startswith(f"preset {name}")
    }
    assert said <= {"preset", *REGISTRY[name].reports}
    assert outcome.exit_code == 0, [r.message for r in outcome.results if r.severity == "error"]


def test_the_inject_function_readme_names_every_preset() -> None:
    """The catalog README (and so `inject --help` and `kpt fn doc`) lists the presets."""
    readme = (ROOT / "functions" / "inject" / "README.md").read_text("utf-8")
    assert all(f"`{name}`" in readme for name in REGISTRY)


def _config(presets_spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": "registry"},
        "spec": {"presets": presets_spec},
    }
