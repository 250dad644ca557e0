"""What every preset shares: the record that describes it (`Preset`), the facts it reads about
a pod, what it expands into, and the helpers that build its sidecar the same way in every pod."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple

from airflow_sidecars.krmio.results import Severity
from airflow_sidecars.pods.podspec import Additions, Wanted, entries, find_container
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.renders.release import Release

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"

Note = tuple[Severity, str, str]  # what a preset says about a pod: (severity, message, rule)


class PodFacts(NamedTuple):
    """What a preset reads about one pod."""

    workload: Workload
    pod: dict[str, Any]
    release: Release | None
    native: bool  # the pod must complete: sidecars go in as native sidecars

    @property
    def main_name(self) -> str:
        return self.workload.main_container

    @property
    def main(self) -> dict[str, Any] | None:
        found = find_container(self.pod, self.main_name, ("containers",))
        return found[2] if found is not None else None


class Expansion(NamedTuple):
    """One preset in one pod: the additions, what to say about it, and a ServiceAccount
    annotation to set (IRSA, Workload Identity), if any. `reached`: False when the preset
    has nothing to do with this pod (no database connection for the proxy), so that it does
    not count as having found its place."""

    additions: Additions
    notes: list[Note]
    annotations: dict[str, str]
    reached: bool = True


Expander = Callable[[Mapping[str, Any], PodFacts, str], Expansion]


class Sections(NamedTuple):
    """The config sections a preset's `components` parameter may name. `name` is the schema's
    `$defs` entry that lists them, so that each list is written once."""

    name: str
    choices: tuple[str, ...]


class Preset(NamedTuple):
    """Everything the package knows about one preset, in the preset's own module (`PRESET`).

    The registry (presets/__init__.py) is built from these records; the config schema's
    `spec.presets` part (presets/schema.py), the no-match messages, the defaults and the docs
    tests read them, so that nothing else names a preset. A NamedTuple, not a dataclass:
    importing `dataclasses` costs every run of the command line about 10 ms."""

    name: str  # the key under spec.presets
    summary: str  # the schema's description of the preset: what it adds, and where
    readme_title: str  # its README section is `### <name>: <readme_title>`
    container: str  # what the docs call its container: "sidecar", "renewer", "proxy"
    parameters: Mapping[str, Mapping[str, Any]]  # its own parameters' JSON Schema
    example: Mapping[str, Any]  # one whole `spec.presets.<name>` for the schema's examples
    sections: Sections  # what `components` may name
    default_sections: Callable[[Release | None], tuple[str, ...]]
    components_doc: str  # the `components` description; {choices} is the list
    components_examples: tuple[list[str], ...]
    # Requests that let the scheduler place the pod honestly (validate's no-requests rule);
    # the `resources` parameter replaces them (and the limits) whole.
    default_requests: Mapping[str, str]
    expand: Expander
    # Why it reached no pod of a render (`no-match`), after "spec.presets.<name> matched no
    # workload: ".
    unmatched: str
    # The rule ids its notes carry (rules.py), besides `preset` (a pod left alone).
    reports: frozenset[str] = frozenset()
    default_limits: Mapping[str, str] = MappingProxyType({})
    resources_note: str = ""  # why the requests are what they are, for the docs
    required: tuple[str, ...] = ()
    # Schema keywords on the whole parameters object (kerberos: oneOf), and the message for
    # each when it fails, by validator.
    constraints: Mapping[str, Any] = MappingProxyType({})
    constraint_messages: Mapping[str, str] = MappingProxyType({})
    # What a parameter's pattern stands for, for messages a person can act on.
    pattern_meanings: Mapping[str, str] = MappingProxyType({})
    # False: it goes beside no particular container (the pod's connections decide).
    needs_main: bool = True
    # The variables it sets on the Airflow container: a sidecar that copies that container's
    # environment (syncPerm, the Kerberos renewer) leaves them out.
    main_env: frozenset[str] = frozenset()

    def default_resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = {"requests": dict(self.default_requests)}
        if self.default_limits:
            resources["limits"] = dict(self.default_limits)
        return resources

    def resources(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The container's resources: the `resources` parameter, else the defaults."""
        return copy.deepcopy(params.get("resources") or self.default_resources())


def sidecar_additions(
    facts: PodFacts, value: dict[str, Any], origin: str, probe: Any = None
) -> Additions:
    if facts.native:
        native = {**value, "restartPolicy": "Always"}
        if probe is not None:
            native["startupProbe"] = probe
        return Additions(init_containers=[Wanted(native, origin)])
    return Additions(containers=[Wanted(value, origin)])


def into_main(facts: PodFacts) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset({facts.main_name}), frozenset()


def env_var(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


@cache
def _main_env_of_every_preset() -> frozenset[str]:
    """Every variable some preset sets on Airflow containers: once, from the registry."""
    from . import REGISTRY  # noqa: PLC0415 - the registry imports every preset, which import this

    return frozenset(name for preset in REGISTRY.values() for name in preset.main_env)


def airflow_env(main: dict[str, Any]) -> list[Any]:
    """The Airflow container's own `env`, as a sidecar running Airflow needs it: without the
    variables presets add to Airflow containers (each record's `main_env`), so that the
    sidecar is the same container on a second run, when the Airflow container has them."""
    added = _main_env_of_every_preset()
    return [
        copy.deepcopy(entry)
        for entry in main.get("env") or []
        if not (isinstance(entry, dict) and entry.get("name") in added)
    ]


def config_file_mounts(main: dict[str, Any]) -> list[dict[str, Any]]:
    """The main container's mounts of Airflow's config files (airflow.cfg, local settings,
    webserver_config.py)."""
    names = ("config", "webserver-config", "api-server-config")
    return [
        copy.deepcopy(mount)
        for mount in entries(main, "volumeMounts")
        if isinstance(mount, dict) and mount.get("name") in names
    ]


# Parameter shapes that several presets share, each written once.
def object_name(description: str, examples: list[str]) -> dict[str, Any]:
    """The name of a Kubernetes object in the release's namespace (Secret, ConfigMap, claim)."""
    return {
        "type": "string",
        "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        "maxLength": 253,
        "description": description,
        "examples": examples,
    }


def seconds(default: int, description: str, examples: list[int]) -> dict[str, Any]:
    """An interval in seconds, at most a day."""
    return {
        "type": "integer",
        "minimum": 1,
        "maximum": 86400,
        "default": default,
        "description": description,
        "examples": examples,
    }


def image(description: str, examples: list[str]) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description, "examples": examples}
