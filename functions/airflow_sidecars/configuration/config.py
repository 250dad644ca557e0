"""The config: where it comes from (`--config FILE`, the ResourceList's functionConfig, or a
ConfigMap wrapping it), what it must be (`AirflowSidecars`, airflow-sidecars.dev/v1alpha1),
and what it becomes (`Config`).

Loading goes in kyaml's order: the JSON Schema first, because its messages name the field;
then the checks across values (configvalues.py); every problem is collected and reported at
once. jsonschema is imported only when schemacheck.py cannot say yes at once, which in a
pipeline that works means never: at about 50 ms it is the slowest import there is.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple

from airflow_sidecars.charts.chart import NATIVE_SIDECAR_SECTIONS, SECTION_ALIASES, ValuePath
from airflow_sidecars.configuration import schemacheck
from airflow_sidecars.configuration.configvalues import (
    Problem,
    ValueList,
    cross_checks,
    value_lists,
)
from airflow_sidecars.krmio import krm
from airflow_sidecars.krmio.results import ResourceRef
from airflow_sidecars.presets import REGISTRY
from airflow_sidecars.text.yamlread import (
    InvalidYaml,
    Node,
    NotOneDocument,
    UnsupportedYaml,
    dotted,
    load_one,
    to_data,
)

# The config's identity: the one place these are spelled (plugin.py builds kustomize's plugin
# path from them, the schema file is named after the version).
GROUP, VERSION, KIND = "airflow-sidecars.dev", "v1alpha1", "AirflowSidecars"
API_VERSION = f"{GROUP}/{VERSION}"
SCHEMA_FILE = f"airflow-sidecars.{VERSION}.json"
NO_CONFIG = (
    f"no config: give --config FILE, or (KRM mode) a functionConfig of kind {KIND}, "
    f"apiVersion {API_VERSION}"
)

__all__ = ["Problem", "ValueList"]  # defined in configvalues.py, part of this module's API


class ConfigError(Exception):
    def __init__(self, problems: list[Problem], ref: ResourceRef | None = None) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems
        self.ref = ref


class Match(NamedTuple):
    releases: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    labels: Mapping[str, str] = MappingProxyType({})  # read-only: the default is shared


class Config(NamedTuple):
    name: str
    ref: ResourceRef
    match: Match = Match()
    on_conflict: str = "error"
    # values path (chart.py) -> the list written there; read-only: the default is shared
    values: Mapping[ValuePath, ValueList] = MappingProxyType({})
    native_sidecars: frozenset[str] = frozenset()  # sections with nativeSidecars: true
    plain_sidecars_allowed: frozenset[str] = frozenset()  # ... with allowPlainSidecars: true
    # preset name -> its parameters, as written (the schema has checked them)
    presets: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    disabled_rules: tuple[str, ...] = ()  # validate rules turned off (spec.validate.disable)
    strict: bool = False  # reach warnings are errors (spec.strict, or --strict)
    # Run as Helm 4's post-renderer plugin: what an earlier call of the same Helm run handed
    # on (None: any other route, where a run is a function of its input alone).
    helm_run: HelmRun | None = None


# (namespace, ServiceAccount name, ((annotation, value), ...)), in order
CarriedAnnotations = tuple[tuple[str | None, str, tuple[tuple[str, str], ...]], ...]


class HelmRun(NamedTuple):
    """What one call of a Helm 4 run hands the next: Helm 4's `separate` post-render strategy
    calls the plugin twice, the hooks first, then the manifests. `hooks_done`: the hooks of this
    run were post-rendered; `annotations`: what the hooks' pods need on ServiceAccounts that
    only the manifests hold; `hook_sections`: the config sections of the hooks' workloads
    (not missing from the manifests)."""

    hooks_done: bool = False
    annotations: CarriedAnnotations = ()
    hook_sections: tuple[str, ...] = ()


class ConfigSource(NamedTuple):
    """A config file given on the command line (`--config FILE`)."""

    name: str
    data: bytes


def from_input(
    function_config: Node | None, config_file: ConfigSource | None, *, required: bool
) -> Config | None:
    """The config from --config FILE, else from the ResourceList's functionConfig (the object,
    or a ConfigMap wrapping it); None when there is none and none is required (validate then
    runs its built-in checks alone). kpt's empty placeholder counts as none."""
    if config_file is not None:
        data = _file_data(config_file)
    elif function_config is not None:
        try:
            data = to_data(function_config, "the functionConfig")
        except UnsupportedYaml as error:
            raise ConfigError([Problem("functionConfig", str(error))]) from None
    else:
        data = None
    if data is None or is_empty_function_input(data):
        if not required:
            return None
        raise ConfigError([Problem(".", NO_CONFIG)])
    return load(data)


def _file_data(config_file: ConfigSource) -> Any:
    def fail(message: str) -> ConfigError:
        return ConfigError([Problem(config_file.name, message)])

    try:
        text = krm.decode(config_file.data, config_file.name).removeprefix(krm.BOM)
        return load_one(text, "the config").data
    except krm.InputError as error:
        raise fail(str(error)) from None
    except NotOneDocument as error:
        raise fail(f"a config file holds one object, this one holds {error.count}") from None
    except InvalidYaml as error:
        raise fail(f"not valid YAML: {error.problem}") from None
    except UnsupportedYaml as error:
        raise fail(str(error)) from None


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


def schema_text() -> str:
    # The schema ships as data of the package `airflow_sidecars.schemas` (pyproject.toml maps
    # it to schemas/); imported by name because type checkers do not follow that mapping.
    schemas = importlib.import_module("airflow_sidecars.schemas")
    # Read beside the package module: importlib.resources would add 5 ms of imports to every
    # run; it is kept for installs that are not plain files (a zipapp).
    try:
        with open(os.path.join(os.path.dirname(schemas.__file__ or ""), SCHEMA_FILE), "rb") as f:
            return f.read().decode("utf-8")
    except OSError:
        from importlib import resources  # noqa: PLC0415

        return resources.files(schemas).joinpath(SCHEMA_FILE).read_text("utf-8")


def is_empty_function_input(data: Any) -> bool:
    """kpt's placeholder when a Kptfile step has no config: ConfigMap `function-input`, no data
    (SDK `EmptyFunctionConfig`, docs/krm-contract.md §1.7)."""
    if not isinstance(data, dict) or data.get("kind") != "ConfigMap" or data.get("data"):
        return False
    metadata = data.get("metadata")
    if metadata is None:
        return True
    return isinstance(metadata, dict) and metadata.get("name") in (None, "function-input")


def load(data: Any) -> Config:
    """Check and convert a config object; raises ConfigError naming every problem."""
    if not isinstance(data, dict):
        raise ConfigError([Problem(".", "the config must be an object")])
    if data.get("kind") == "ConfigMap":
        data = _from_config_map(data)
    ref = _ref_of(data)
    kind, api_version = data.get("kind"), data.get("apiVersion")
    if kind != KIND or api_version != API_VERSION:
        message = (
            f"expected kind {KIND} with apiVersion {API_VERSION} (or a ConfigMap whose "
            f"data.config holds it), got {_named('kind', kind)} and "
            f"{_named('apiVersion', api_version)}"
        )
        if kind is None and api_version is None and _CHART_KEYS & set(data):
            message += (
                "; this looks like a chart values file: `airflow-sidecars from-values FILE` "
                "writes the config that its extra* values make"
            )
        raise ConfigError([Problem("kind", message)], ref)
    problems = [] if schemacheck.matches(schema(), data) else _schema_problems(data)
    if problems:
        raise ConfigError(problems, ref)
    spec = data.get("spec") or {}
    problems = cross_checks(spec) + _unknown_presets(spec)
    if problems:
        raise ConfigError(problems, ref)
    return _build(spec, ref)


def _named(field: str, value: Any) -> str:
    """`kind 'Deployment'`, or `no kind` when the object has none (never Python's None)."""
    return f"no {field}" if value is None else f"{field} {value!r}"


# Top-level keys of the Airflow charts' values files, to tell one given as a config.
_CHART_KEYS = frozenset(
    {"executor", "images", "scheduler", "webserver", "workers", "airflow", "dags", "web"}
)


def _from_config_map(data: dict[str, Any]) -> dict[str, Any]:
    """`data.config` holds the AirflowSidecars object, or just its spec, as YAML."""
    ref = _ref_of(data)
    config_data = data.get("data")
    text = config_data.get("config") if isinstance(config_data, dict) else None
    if not isinstance(text, str):
        message = (
            "a ConfigMap config needs data.config: the AirflowSidecars object (or its spec) as YAML"
        )
        raise ConfigError([Problem("data.config", message)], ref)
    try:
        inner = load_one(text, "data.config").data
    except NotOneDocument:
        raise ConfigError([Problem("data.config", "must hold one YAML document")], ref) from None
    except InvalidYaml as error:
        message = f"not valid YAML: {error.problem}"
        raise ConfigError([Problem("data.config", message)], ref) from None
    except UnsupportedYaml as error:
        raise ConfigError([Problem("data.config", str(error))], ref) from None
    if not isinstance(inner, dict):
        raise ConfigError([Problem("data.config", "must hold an object")], ref)
    if "kind" in inner or "apiVersion" in inner:
        return inner
    name = ref.name or "config"
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": inner}


def _ref_of(data: dict[str, Any]) -> ResourceRef:
    found = data.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    return ResourceRef(
        str(data.get("apiVersion", "")),
        str(data.get("kind", "")),
        str(metadata.get("name", "")),
        metadata.get("namespace"),
    )


def _unknown_presets(spec: dict[str, Any]) -> list[Problem]:
    """A preset the registry does not hold: never a default. The schema already refuses one
    (it is built from the registry); this keeps a stale schema from letting one through."""
    unknown = sorted(set(spec.get("presets") or {}) - set(REGISTRY))
    if not unknown:
        return []
    message = f"unknown preset(s) {', '.join(unknown)}; the presets are: {', '.join(REGISTRY)}"
    return [Problem("spec.presets", message)]


def _schema_problems(data: Any) -> list[Problem]:
    from jsonschema import Draft202012Validator  # noqa: PLC0415 - deferred: slow import

    errors = Draft202012Validator(schema()).iter_errors(data)
    return sorted((_problem(error) for error in errors), key=lambda p: (p.path, p.message))


def _problem(error: Any) -> Problem:
    path = dotted(tuple(error.absolute_path))
    validator = error.validator
    instance = error.instance
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        listed = ", ".join(allowed)
        message = f"unknown field(s) {', '.join(extra)}; allowed here: {listed}"
        return Problem(path, message + (_under_spec(path, extra) or _did_you_mean(extra, allowed)))
    if validator == "required":
        return Problem(path, error.message.replace("is a required property", "is required"))
    if validator in (
        "minProperties",
        "maxProperties",
    ) and "persistentVolumeClaim" in error.schema.get("properties", {}):
        return Problem(path, "a volume needs a name and exactly one source (emptyDir, secret, ...)")
    if validator == "const":
        return Problem(path, f"must be {error.validator_value!r}")
    if validator == "pattern" and path.endswith("name"):
        return Problem(path, f"{instance!r} is not a valid name (lowercase letters, digits, '-')")
    if validator == "pattern" and path.rsplit(".", 1)[-1] in PATTERN_MEANINGS:
        return Problem(path, f"{instance!r} is not {PATTERN_MEANINGS[path.rsplit('.', 1)[-1]]}")
    preset = REGISTRY.get(path.removeprefix("spec.presets.")) if path.startswith("spec.") else None
    if preset is not None and validator in preset.constraint_messages:
        return Problem(path, preset.constraint_messages[validator])
    if validator == "type":
        return Problem(path, f"must be of type {error.validator_value}, not {_type_name(instance)}")
    return Problem(path, error.message)


def _under_spec(path: str, unknown: list[str]) -> str:
    """`; scheduler belongs under spec: spec.scheduler` for a section written at the top."""
    if path != ".":
        return ""
    fields = schema()["properties"]["spec"].get("properties", {})
    misplaced = [f"spec.{name}" for name in unknown if name in fields]
    if not misplaced:
        return ""
    these = "it belongs" if len(misplaced) == 1 else "they belong"
    return f"; {these} under spec: {', '.join(misplaced)}"


def _did_you_mean(unknown: list[str], allowed: list[str]) -> str:
    """`; did you mean scheduler?` for names close to an allowed one (a typo, a case slip)."""
    import difflib  # noqa: PLC0415 - only on a config with an unknown field

    guesses = []
    for name in unknown:
        by_case = [known for known in allowed if known.lower() == name.lower()]
        close = by_case or difflib.get_close_matches(name, allowed, n=1, cutoff=0.75)
        guesses += [f"{known} for {name}" if len(unknown) > 1 else known for known in close]
    return f"; did you mean {', '.join(guesses)}?" if guesses else ""


# What a pattern in the schema stands for, by field name, for messages a person can act on.
PATTERN_MEANINGS = {
    field: meaning
    for preset in REGISTRY.values()
    for field, meaning in preset.pattern_meanings.items()
}


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _build(spec: dict[str, Any], ref: ResourceRef) -> Config:
    match = spec.get("match") or {}
    return Config(
        name=ref.name,
        ref=ref,
        match=Match(
            releases=_names(match.get("release")),
            namespaces=_names(match.get("namespace")),
            labels=dict(match.get("labels") or {}),
        ),
        on_conflict=spec.get("onConflict", "error"),
        values=value_lists(spec),
        native_sidecars=_switched_on(spec, "nativeSidecars"),
        plain_sidecars_allowed=_switched_on(spec, "allowPlainSidecars"),
        presets=dict(spec.get("presets") or {}),
        disabled_rules=tuple((spec.get("validate") or {}).get("disable") or ()),
        strict=bool(spec.get("strict", False)),
    )


def _switched_on(spec: dict[str, Any], switch: str) -> frozenset[str]:
    """The sections (`web` as `webserver`) that set a switch of theirs to true."""
    return frozenset(
        SECTION_ALIASES.get(section, section)
        for section in NATIVE_SIDECAR_SECTIONS
        if (spec.get(section) or {}).get(switch, False)
    )


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
