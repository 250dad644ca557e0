"""The functionConfig: `AirflowSidecars` (airflow-sidecars.dev/v1alpha1), or a ConfigMap.

Loading follows kyaml's fixed order (style.md A3.2): the JSON Schema first, because its
messages name the field; then our own checks; every problem is collected and reported at once.
jsonschema is imported only when schemacheck.py cannot say yes at once, which in a pipeline
that works means never: it is the slowest import there is here (issue #3).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

from . import schemacheck
from .chart import (
    CONTAINERS,
    EXTRA_KEYS,
    INIT_CONTAINERS,
    MOUNTS,
    NATIVE_SIDECAR_SECTIONS,
    SECTION_ALIASES,
    VOLUMES,
    ValuePath,
)
from .results import ResourceRef
from .templating import template_problems

API_VERSION = "airflow-sidecars.dev/v1alpha1"
KIND = "AirflowSidecars"
SCHEMA_FILE = "airflow-sidecars.v1alpha1.json"


class Problem(NamedTuple):
    """One thing wrong with the config, at a field path like `spec.scheduler.extraContainers[0]`."""

    path: str
    message: str


class ConfigError(Exception):
    def __init__(self, problems: list[Problem], ref: ResourceRef | None = None) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems
        self.ref = ref


class ValueList(NamedTuple):
    """One `extra*` list of the config, at the chart's nesting, and where it was written."""

    entries: tuple[dict[str, Any], ...]
    origin: str  # e.g. "spec.workers.celery.sets[0].extraContainers"


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
    # preset name -> its parameters, as written (the schema has checked them)
    presets: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    disabled_rules: tuple[str, ...] = ()  # validate rules turned off (spec.validate.disable)


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


def schema_text() -> str:
    # The schema ships as data of the package `airflow_sidecars.schemas` (pyproject.toml maps
    # it to schemas/); imported by name because type checkers do not follow that mapping.
    schemas = importlib.import_module(f"{__package__}.schemas")
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
    (SDK `EmptyFunctionConfig`, krm-contract.md §1.7)."""
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
            f"data.config holds it), got kind {kind!r} apiVersion {api_version!r}"
        )
        raise ConfigError([Problem("kind", message)], ref)
    problems = [] if schemacheck.matches(schema(), data) else _schema_problems(data)
    if problems:
        raise ConfigError(problems, ref)
    spec = data.get("spec") or {}
    problems = _cross_checks(spec)
    if problems:
        raise ConfigError(problems, ref)
    return _build(spec, ref)


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
    from .yamledit import YamlEditError, check_plain_tree, compose_all, to_data  # noqa: PLC0415

    try:
        documents = [doc for doc in compose_all(text) if doc is not None]
        if len(documents) != 1:
            raise ConfigError([Problem("data.config", "must hold one YAML document")], ref)
        check_plain_tree(documents[0], "data.config")
        inner = to_data(documents[0])
    except yaml.YAMLError as error:
        raise ConfigError([Problem("data.config", f"not valid YAML: {error}")], ref) from None
    except YamlEditError as error:
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


def _schema_problems(data: Any) -> list[Problem]:
    from jsonschema import Draft202012Validator  # noqa: PLC0415 - deferred: slow import

    errors = Draft202012Validator(schema()).iter_errors(data)
    return sorted((_problem(error) for error in errors), key=lambda p: (p.path, p.message))


def _problem(error: Any) -> Problem:
    path = _json_path(list(error.absolute_path))
    validator = error.validator
    instance = error.instance
    if validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        listed = ", ".join(allowed)
        return Problem(path, f"unknown field(s) {', '.join(extra)}; allowed here: {listed}")
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
    if validator == "oneOf" and path == "spec.presets.kerberos":
        return Problem(path, "give the keytab as exactly one of keytabSecret and keytabClaim")
    if validator == "type":
        return Problem(path, f"must be of type {error.validator_value}, not {_type_name(instance)}")
    return Problem(path, error.message)


# What a pattern in the schema stands for, by field name, for messages a person can act on.
PATTERN_MEANINGS = {
    "bucket": "an S3 bucket name (3-63 lowercase letters, digits, '.', '-')",
    "roleArn": "an IAM role ARN (arn:aws:iam::<account id>:role/<name>)",
    "principal": "a Kerberos principal (name@REALM or name/host@REALM)",
    "keytabSecret": "a Secret name",
    "keytabClaim": "a PersistentVolumeClaim name",
    "krb5Config": "a ConfigMap name",
}


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _json_path(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "."


def _cross_checks(spec: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if "web" in spec and "webserver" in spec:
        problems.append(Problem("spec.web", "web and webserver name the same component; use one"))
    for base, group in _value_groups(spec):
        names: dict[str, str] = {}
        for number, container in enumerate(group.get(CONTAINERS) or []):
            if "restartPolicy" in container:
                problems.append(
                    Problem(
                        f"{base}.{CONTAINERS}[{number}].restartPolicy",
                        "only init containers take restartPolicy (Always makes a native sidecar); "
                        "move this container to extraInitContainers",
                    )
                )
        for key in (INIT_CONTAINERS, CONTAINERS):
            for number, container in enumerate(group.get(key) or []):
                where = f"{base}.{key}[{number}].name"
                if container["name"] in names:
                    problems.append(
                        Problem(
                            where,
                            f"container name {container['name']!r} is also used at "
                            f"{names[container['name']]}",
                        )
                    )
                names.setdefault(container["name"], where)
        problems += _unique(group.get(VOLUMES) or [], "name", f"{base}.{VOLUMES}", "volume name")
        problems += _unique(group.get(MOUNTS) or [], "mountPath", f"{base}.{MOUNTS}", "mountPath")
    problems += _unique(spec.get("volumes") or [], "name", "spec.volumes", "volume name")
    problems += _unique(
        spec.get("volumeMounts") or [], "mountPath", "spec.volumeMounts", "mountPath"
    )
    sets = ((spec.get("workers") or {}).get("celery") or {}).get("sets") or []
    problems += _unique(sets, "name", "spec.workers.celery.sets", "worker set name")
    problems += [Problem(path, message) for path, message in template_problems(_value_lists(spec))]
    return problems


def _value_groups(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every object of the spec that holds `extra*` lists, with its config path: a section,
    `workers.celery`, each worker set, `airflow.kubernetesPodTemplate`, ..."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for number, entry in enumerate(node):
                walk(entry, f"{path}[{number}]")
            return
        if not isinstance(node, dict):
            return
        if any(key in node for key in EXTRA_KEYS):
            found.append((path, node))
        for key, value in node.items():
            if key not in EXTRA_KEYS and isinstance(value, dict | list):
                walk(value, f"{path}.{key}")

    for section, values in spec.items():
        if section not in _NOT_VALUES:
            walk(values, f"spec.{section}")
    return found


# Spec keys that are not chart values.
_NOT_VALUES = frozenset({"match", "onConflict", "presets", "validate", "volumes", "volumeMounts"})


def _value_lists(spec: dict[str, Any]) -> dict[ValuePath, ValueList]:
    """The spec's `extra*` lists by values path (a worker set by its name; `web` as
    `webserver`), and the top-level `volumes` / `volumeMounts`."""
    found: dict[ValuePath, ValueList] = {}
    for base, group in _value_groups(spec):
        path = _values_path(spec, base)
        for key in EXTRA_KEYS:
            if group.get(key):
                value_path = (*path, key)
                found[value_path] = ValueList(tuple(group[key]), f"{base}.{key}")
    for key in ("volumes", "volumeMounts"):
        if spec.get(key):
            found[(key,)] = ValueList(tuple(spec[key]), f"spec.{key}")
    return found


def _values_path(spec: dict[str, Any], base: str) -> ValuePath:
    """`spec.workers.celery.sets[0]` -> ("workers", "celery", "sets", <its name>)."""
    parts: list[str] = []
    node: Any = spec
    for step in base.split(".")[1:]:
        key, _, index = step.partition("[")
        node = node[key]
        parts.append(SECTION_ALIASES.get(key, key) if not parts else key)
        if index:
            node = node[int(index.rstrip("]"))]
            parts.append(str(node["name"]))
    return tuple(parts)


def _unique(entries: list[dict[str, Any]], key: str, base: str, what: str) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for number, entry in enumerate(entries):
        value = entry[key]
        if value in seen:
            problems.append(
                Problem(
                    f"{base}[{number}].{key}", f"{what} {value!r} repeats {base}[{seen[value]}]"
                )
            )
        seen.setdefault(value, number)
    return problems


def _build(spec: dict[str, Any], ref: ResourceRef) -> Config:
    match = spec.get("match") or {}
    native = frozenset(
        SECTION_ALIASES.get(section, section)
        for section in NATIVE_SIDECAR_SECTIONS
        if (spec.get(section) or {}).get("nativeSidecars", False)
    )
    return Config(
        name=ref.name,
        ref=ref,
        match=Match(
            releases=_names(match.get("release")),
            namespaces=_names(match.get("namespace")),
            labels=dict(match.get("labels") or {}),
        ),
        on_conflict=spec.get("onConflict", "error"),
        values=_value_lists(spec),
        native_sidecars=native,
        presets=dict(spec.get("presets") or {}),
        disabled_rules=tuple((spec.get("validate") or {}).get("disable") or ()),
    )


def _names(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
