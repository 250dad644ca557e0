"""Which pods open a connection to the metadata database, and where to: read from the render.

A pod connects to the database when one of its containers carries Airflow's connection
(`AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`, its older `AIRFLOW__CORE__` name or
`AIRFLOW_CONN_AIRFLOW_DB`, as a value, from a Secret, or as a `_CMD` / `_SECRET` variant), or
when it mounts a connection pooler's config (a pgbouncer.ini with a `[databases]` section).
A connection whose host is the Service of such a pooler goes through it: that pod talks to the
pooler, and only the pooler talks to the database. Nothing here goes by object or container
names, so a release named anything, with any components, is read the same way.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.krmio.krm import Item
from airflow_sidecars.renders.release import Release, from_env_source, source_value
from airflow_sidecars.text.yamlread import UnsupportedYaml, node_at, to_data

VARIABLES = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
    "AIRFLOW_CONN_AIRFLOW_DB",
)
# Where a proxy in the pod listens: a connection to any of these reaches it.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The community chart builds the connection in a shell command from these variables.
_HOST_VARIABLE, _PORT_VARIABLE = "DATABASE_HOST", "DATABASE_PORT"
_INI_ENTRY = re.compile(r"(?:^|\s)(host|port)\s*=\s*([^\s]+)")


class Endpoint(NamedTuple):
    """Where a connection goes, as far as the render says, and where that was read."""

    host: str | None  # None: the render does not say (a Secret it does not hold, a command)
    port: int | None
    source: str  # for messages: "Secret airflow-metadata, key connection"

    @property
    def local(self) -> bool:
        return self.host in LOCAL_HOSTS


def direct_endpoints(pod: dict[str, Any], release: Release | None) -> list[Endpoint]:
    """The connections to a database that this pod makes itself: every connection it
    carries, less those that go through a pooler of the release. Empty: no proxy needed."""
    found = [*_airflow_connections(pod, release), *_pooler_connections(pod, release)]
    pooler_hosts = _pooler_services(release) if release is not None else set()
    return [e for e in found if e.host is None or _service_of(e.host) not in pooler_hosts]


def _airflow_connections(pod: dict[str, Any], release: Release | None) -> list[Endpoint]:
    found: list[Endpoint] = []
    for list_name in ("initContainers", "containers"):
        for container in pod.get(list_name) or []:
            if isinstance(container, dict):
                env = _Environment(container, release)
                found += [e for name in VARIABLES if (e := env.connection(name)) is not None]
    return list(dict.fromkeys(found))  # one of each, in order


class _Environment:
    """A container's environment variables as the render gives them: `env` entries win over
    `envFrom` sources, and of two entries the later wins (as in Kubernetes)."""

    def __init__(self, container: dict[str, Any], release: Release | None) -> None:
        self.container, self.release = container, release

    def connection(self, variable: str) -> Endpoint | None:
        value = self.lookup(variable)
        if value is not None:
            return _parse_uri(*value)
        for suffix in ("_CMD", "_SECRET"):
            if self.lookup(variable + suffix) is not None:
                return self._commanded(variable + suffix)
        return None

    def _commanded(self, variable: str) -> Endpoint:
        """A connection Airflow gets by running a command or from a secrets backend: the host
        and port only where the render names them beside it (the community chart)."""
        host, port = self.lookup(_HOST_VARIABLE), self.lookup(_PORT_VARIABLE)
        where = f"{variable} (from {_HOST_VARIABLE} and {_PORT_VARIABLE})"
        if host is None:
            return Endpoint(None, None, variable)
        return Endpoint(host[0] or None, _port(port[0] if port else None), where)

    def lookup(self, variable: str) -> tuple[str | None, str] | None:
        """(the value, or None when the render does not hold it; where it was read)."""
        for entry in reversed(self.container.get("env") or []):
            if isinstance(entry, dict) and entry.get("name") == variable:
                return self._entry_value(entry)
        for source in reversed(self.container.get("envFrom") or []):
            found = self._from_source(source, variable)
            if found is not None:
                return found
        return None

    def _entry_value(self, entry: dict[str, Any]) -> tuple[str | None, str]:
        name = entry["name"]
        if isinstance(entry.get("value"), str):
            return entry["value"], f"the env value of {name}"
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef") or {}
        secret, key = ref.get("name"), ref.get("key")
        where = f"Secret {secret}, key {key}"
        return _secret_value(self.release, secret, key), where

    def _from_source(self, source: Any, variable: str) -> tuple[str | None, str] | None:
        return from_env_source(self.release, source, variable) if self.release else None


def _secret_value(release: Release | None, name: Any, key: Any) -> str | None:
    if release is None or not isinstance(name, str) or not isinstance(key, str):
        return None
    item = release.env_sources.get(("Secret", name))
    return source_value(item, key) if item is not None else None


def _keys(item: Item) -> list[str]:
    """The keys of a ConfigMap's or Secret's data (and stringData), sorted."""
    keys = set()
    for field in ("data", "stringData"):
        node = node_at(item.node, (field,))
        if isinstance(node, yaml.MappingNode):
            keys |= {str(key.value) for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    return sorted(keys)


def _parse_uri(value: str | None, where: str) -> Endpoint:
    if value is None:
        return Endpoint(None, None, where)
    from urllib.parse import urlsplit  # noqa: PLC0415 - only a run with cloudSqlProxy needs it

    try:
        parts = urlsplit(value)
        return Endpoint(parts.hostname, parts.port, where)
    except ValueError:  # not a URI, or a port that is no number
        return Endpoint(None, None, where)


def _port(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


# -- connection poolers --------------------------------------------------------------------


def _pooler_connections(pod: dict[str, Any], release: Release | None) -> list[Endpoint]:
    """The databases a pooler's config (mounted from a Secret or ConfigMap) connects to."""
    found: list[Endpoint] = []
    for source, text in _mounted_files(pod, release):
        found += _ini_databases(text, source)
    return found


def _mounted_files(pod: dict[str, Any], release: Release | None) -> list[tuple[str, str]]:
    if release is None:
        return []
    files: list[tuple[str, str]] = []
    for volume in pod.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for field, kind, name_key in (
            ("secret", "Secret", "secretName"),
            ("configMap", "ConfigMap", "name"),
        ):
            name = (volume.get(field) or {}).get(name_key)
            item = release.env_sources.get((kind, name)) if isinstance(name, str) else None
            if item is None:
                continue
            for key in _keys(item):
                if key.endswith(".ini"):
                    text = source_value(item, key)
                    if text is not None:
                        files.append((f"{kind} {name}, key {key}", text))
    return files


def _ini_databases(text: str, source: str) -> list[Endpoint]:
    """The `[databases]` entries of a pgbouncer.ini: `name = host=H port=P dbname=D ...`."""
    import configparser  # noqa: PLC0415 - only a run with cloudSqlProxy needs it

    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    if not parser.has_section("databases"):
        return []
    found = []
    for _, entry in parser.items("databases"):
        fields = dict(_INI_ENTRY.findall(entry))
        found.append(Endpoint(fields.get("host"), _port(fields.get("port")), source))
    return found


def _pooler_services(release: Release) -> set[str]:
    """The Services of the release that select a pod which mounts a pooler's config."""
    cached = release.cache.get("pooler-services")
    if cached is not None:
        return set(cached)
    labels = [pod_labels for pod_labels, pod in _pods(release) if _pooler_connections(pod, release)]
    services = {
        name
        for name, selector in release.services.items()
        if selector and any(selector.items() <= found.items() for found in labels)
    }
    release.cache["pooler-services"] = frozenset(services)
    return services


def _pods(release: Release) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(the pod template's labels, its spec) of each workload of the release."""
    found = []
    for workload in release.workloads:
        if workload.is_pod_template:
            continue
        node = node_at(workload.item.node, workload.pod_path[:-1])
        try:
            template = to_data(node) if node is not None else None
        except UnsupportedYaml:
            continue
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            labels = (template.get("metadata") or {}).get("labels") or {}
            found.append((labels if isinstance(labels, dict) else {}, template["spec"]))
    return found


def _service_of(host: str) -> str:
    """The Service a cluster host name names: `svc`, `svc.ns`, `svc.ns.svc.cluster.local`."""
    return host.split(".", 1)[0]
