"""What a rendered release says about itself: the facts that presets fill themselves in from.

A preset is written once and serves every release (prod, dev, differently named ones), so
nothing here goes by object names: the chart's config ConfigMap is found by its labels, a
ServiceAccount by the name the pod spec gives, the Airflow version by the main container's
image, and an Airflow setting by the precedence Airflow itself applies (an `AIRFLOW__S__K`
environment variable over airflow.cfg).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.krmio.krm import Item
from airflow_sidecars.pods.podspec import entries
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.text.yamlread import node_at, scalar_at

AIRFLOW_CFG = "airflow.cfg"
DEFAULT_DAGS_FOLDER = "/opt/airflow/dags"
_VERSION_TAG = re.compile(r":v?(\d+)\.(\d+)")

ReleaseKey = tuple[str | None, str | None]  # (release, namespace)


class Release:
    """One Airflow release (release label, namespace) in the input."""

    __slots__ = (
        "airflow_cfg",
        "cache",
        "env_sources",
        "sections",
        "service_accounts",
        "services",
        "workloads",
    )

    def __init__(self) -> None:
        self.airflow_cfg: dict[tuple[str, str], str] = {}  # (section, option) -> value
        self.service_accounts: dict[str, Item] = {}
        # ConfigMaps and Secrets of the namespace, by (kind, name), for `envFrom`: the
        # community chart sets Airflow's options only there (Secret `<fullname>-config-envs`).
        self.env_sources: dict[tuple[str, str], Item] = {}
        self.sections: set[str] = set()  # config sections with a workload in this release
        self.workloads: list[Workload] = []
        self.services: dict[str, dict[str, str]] = {}  # Service name -> its pod selector
        self.cache: dict[str, frozenset[str]] = {}  # what a preset worked out once per release


def release_namespaces(items: list[Item]) -> dict[str | None, set[str]]:
    """The namespaces of each release label's objects (None: objects without one): what a
    chart value templated with the release's namespace may name."""
    found: dict[str | None, set[str]] = {}
    for item in items:
        if item.namespace is not None and not item.is_local_config:
            found.setdefault(item.label("release"), set()).add(item.namespace)
    return found


def releases(items: list[Item], workloads: list[Workload]) -> dict[ReleaseKey, Release]:
    found: dict[ReleaseKey, Release] = {}

    def release(key: ReleaseKey) -> Release:
        return found.setdefault(key, Release())

    for workload in workloads:
        owner = release((workload.release, workload.item.namespace))
        owner.sections.add(workload.section)
        owner.workloads.append(workload)
    for item in items:
        if item.is_local_config:
            continue
        key = (item.label("release"), item.namespace)
        # Objects may carry no release label (the community chart's ServiceAccount): keep
        # them findable by namespace as well.
        by_namespace = release((None, item.namespace))
        if item.kind == "ServiceAccount" and item.name:
            release(key).service_accounts[item.name] = item
            by_namespace.service_accounts.setdefault(item.name, item)
        elif item.kind in ("ConfigMap", "Secret") and item.name:
            release(key).env_sources[(item.kind, item.name)] = item
            by_namespace.env_sources.setdefault((item.kind, item.name), item)
        elif item.kind == "Service" and item.name:
            selector = _selector(item)
            release(key).services[item.name] = selector
            by_namespace.services.setdefault(item.name, selector)
        if item.kind == "ConfigMap" and item.label("component") == "config":
            text = scalar_at(item.node, "data", AIRFLOW_CFG)
            if text is not None:
                release(key).airflow_cfg.update(parse_airflow_cfg(text))
    # `envFrom` names a ConfigMap or Secret of the pod's namespace, whatever its labels; a
    # host name, a Service of the namespace.
    for (name, namespace), found_release in found.items():
        if name is not None and (None, namespace) in found:
            for source, item in found[(None, namespace)].env_sources.items():
                found_release.env_sources.setdefault(source, item)
            for service, selector in found[(None, namespace)].services.items():
                found_release.services.setdefault(service, selector)
    return found


def _selector(service: Item) -> dict[str, str]:
    node = node_at(service.node, ("spec", "selector"))
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): str(value.value)
        for key, value in node.value
        if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode)
    }


def parse_airflow_cfg(text: str) -> dict[tuple[str, str], str]:
    """airflow.cfg as (section, option) -> value; Airflow reads it with a configparser, whose
    INI rules (sections, `key = value`, comments, `%%` for `%`) are all the chart's file uses.
    A value whose `%` does not interpolate is taken as written."""
    import configparser  # noqa: PLC0415 - only runs with presets

    parser = configparser.ConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {}
    found: dict[tuple[str, str], str] = {}
    for section in parser.sections():
        for option in parser.options(section):
            try:
                value = parser.get(section, option)
            except configparser.InterpolationError:
                value = parser.get(section, option, raw=True)
            found[(section.lower(), option.lower())] = value
    return found


def setting(
    release: Release | None, main: dict[str, Any] | None, section: str, option: str
) -> str | None:
    """An Airflow setting as the component sees it: an `AIRFLOW__SECTION__OPTION` variable
    (a literal in the main container's env, then a ConfigMap or Secret it loads with
    `envFrom`) wins over airflow.cfg, as in Airflow's own config lookup."""
    variable = f"AIRFLOW__{section.upper()}__{option.upper()}"
    # Kubernetes: of two entries with one name the later wins, and so does the later source.
    for entry in reversed(entries(main or {}, "env")):
        if isinstance(entry, dict) and entry.get("name") == variable:
            value = entry.get("value")
            return value if isinstance(value, str) else None
    if release is None:
        return None
    for source in reversed(entries(main or {}, "envFrom")):
        value = _from_env_source(release, source, variable)
        if value is not None:
            return value
    return release.airflow_cfg.get((section.lower(), option.lower()))


def is_true(value: str | None) -> bool:
    """Airflow's own reading of a boolean option (conf.getboolean)."""
    return (value or "").split("#", 1)[0].strip().lower() in ("t", "true", "1")


def _from_env_source(release: Release, source: Any, variable: str) -> str | None:
    found = from_env_source(release, source, variable)
    return found[0] if found is not None else None


def from_env_source(release: Release, source: Any, variable: str) -> tuple[str, str] | None:
    """What an `envFrom` entry gives `variable`, and where it was read ("Secret s, key k")."""
    if not isinstance(source, dict):
        return None
    prefix = source.get("prefix") or ""
    if not variable.startswith(prefix):
        return None
    key = variable[len(prefix) :]
    for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
        ref = source.get(field)
        name = ref.get("name") if isinstance(ref, dict) else None
        item = release.env_sources.get((kind, name)) if isinstance(name, str) else None
        value = source_value(item, key) if item is not None else None
        if value is not None:
            return value, f"{kind} {name}, key {key}"
    return None


def source_value(item: Item, key: str) -> str | None:
    """A ConfigMap's or Secret's value for `key`, a Secret's `data` decoded."""
    value = scalar_at(item.node, "stringData", key) if item.kind == "Secret" else None
    if value is None:
        value = scalar_at(item.node, "data", key)
        if value is not None and item.kind == "Secret":
            value = base64_text(value)
    return value


def base64_text(value: str) -> str | None:
    import base64  # noqa: PLC0415 - only runs with presets
    import binascii  # noqa: PLC0415

    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def airflow_major(release: Release | None, main: dict[str, Any] | None) -> int:
    """Airflow's major version from the main container's image tag (`apache/airflow:2.9.3`,
    `...:3.1.8-python3.12`); a custom tag says nothing, then an api-server means Airflow 3."""
    image = (main or {}).get("image")
    if isinstance(image, str):
        found = _VERSION_TAG.search(image.rsplit("/", 1)[-1])
        if found:
            return int(found.group(1))
    return 3 if release is not None and "apiServer" in release.sections else 2


def dags_folder(release: Release | None, main: dict[str, Any] | None) -> str:
    return setting(release, main, "core", "dags_folder") or DEFAULT_DAGS_FOLDER


LOCAL_DAG_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
DEFAULT_BUNDLE = "dags-folder"  # the bundle Airflow 3 configures when nothing else is said


class BundleFolder(NamedTuple):
    """Where a component reads the DAG files that a sync should write: the folder, or why
    there is none."""

    folder: str | None
    problem: str = ""


def dag_bundle_folder(
    release: Release | None, main: dict[str, Any] | None, bundle: str | None = None
) -> BundleFolder:
    """The folder Airflow will read DAG files from. On Airflow 2 that is `[core] dags_folder`.
    On Airflow 3 the dag-processor and the task runner read DAG bundles
    (`[dag_processor] dag_bundle_config_list`): a `LocalDagBundle` reads its `path`, or
    `dags_folder` when it has none; other bundle classes (git, S3) fetch files themselves."""
    folder = dags_folder(release, main)
    if airflow_major(release, main) < 3:
        return BundleFolder(folder)
    text = setting(release, main, "dag_processor", "dag_bundle_config_list")
    if not text or not text.strip():
        return BundleFolder(folder)  # Airflow's default: one LocalDagBundle on dags_folder
    try:
        bundles = json.loads(text)
    except ValueError:
        return BundleFolder(None, "[dag_processor] dag_bundle_config_list is not valid JSON")
    local = [
        entry
        for entry in (bundles if isinstance(bundles, list) else [])
        if isinstance(entry, dict) and entry.get("classpath") == LOCAL_DAG_BUNDLE
    ]
    chosen = _chosen_bundle(local, bundle)
    if isinstance(chosen, str):
        return BundleFolder(None, chosen)
    kwargs = chosen.get("kwargs")
    path = kwargs.get("path") if isinstance(kwargs, dict) else None
    return BundleFolder(path if isinstance(path, str) and path else folder)


def _chosen_bundle(local: list[dict[str, Any]], bundle: str | None) -> dict[str, Any] | str:
    """The LocalDagBundle to sync into: the one named, the only one, or `dags-folder`; else
    why there is none."""
    names = [str(entry.get("name")) for entry in local]
    if bundle is not None:
        chosen = [entry for entry in local if entry.get("name") == bundle]
        found = ", ".join(names) or "none"
        return chosen[0] if chosen else f"no LocalDagBundle named {bundle!r} (found: {found})"
    if len(local) == 1:
        return local[0]
    chosen = [entry for entry in local if entry.get("name") == DEFAULT_BUNDLE]
    if chosen:
        return chosen[0]
    if not local:
        return "[dag_processor] dag_bundle_config_list has no LocalDagBundle to sync into"
    return f"several LocalDagBundles ({', '.join(names)}): set `bundle` to choose one"
