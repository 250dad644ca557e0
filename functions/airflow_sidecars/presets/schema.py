"""The config schema's `spec.presets` part, built from the preset records: each preset's own
parameters with the ones every preset has (`components`, `resources`) added the same way, and
one `$defs` entry per list of sections that `components` may name. The schema file is built
from this (schemas/source/build.py) and checked in; a test keeps the two the same."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import Preset

DESCRIPTION = (
    "Presets: ready-made sidecars that fill themselves in from the rendered release (the "
    "Airflow image, the main container's env and config files, the DAG folder, the Airflow "
    "version, the ServiceAccount), so one config serves every release. Not chart values. In "
    "pods that must complete they go in as native sidecars{without_main}. Default: none."
)


def presets_schema(registry: Mapping[str, Preset]) -> dict[str, Any]:
    """The schema of `spec.presets`."""
    without_main = [p.name for p in registry.values() if not p.needs_main]
    native = "".join(f"; {name} goes in as a native sidecar everywhere" for name in without_main)
    return {
        "type": "object",
        "additionalProperties": False,
        "description": DESCRIPTION.format(without_main=native),
        "examples": [{name: dict(preset.example) for name, preset in registry.items()}],
        "properties": {name: preset_schema(preset) for name, preset in registry.items()},
    }


def section_defs(registry: Mapping[str, Preset]) -> dict[str, Any]:
    """The `$defs` entries of the section lists, one per list."""
    return {
        preset.sections.name: {
            "enum": list(preset.sections.choices),
            "description": "A config section whose pods a preset may go into.",
            "examples": [preset.sections.choices[0]],
        }
        for preset in registry.values()
    }


def preset_schema(preset: Preset) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if preset.required:
        schema["required"] = list(preset.required)
    schema.update(preset.constraints)
    schema["description"] = preset.summary
    schema["examples"] = [dict(preset.example)]
    schema["properties"] = {
        **{name: dict(fragment) for name, fragment in preset.parameters.items()},
        "components": _components(preset),
        "resources": _resources(preset),
    }
    return schema


def _components(preset: Preset) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"$ref": f"#/$defs/{preset.sections.name}"},
        "minItems": 1,
        "description": preset.components_doc.format(choices=", ".join(preset.sections.choices)),
        "examples": [list(example) for example in preset.components_examples],
    }


def _resources(preset: Preset) -> dict[str, Any]:
    defaults = ", ".join(
        f"{kind} {_quantities(values)}"
        for kind, values in (
            ("requests", preset.default_requests),
            ("limits", preset.default_limits),
        )
        if values
    )
    note = f" ({preset.resources_note})" if preset.resources_note else ""
    example = preset.default_resources()
    example.setdefault("limits", {"memory": _twice(preset.default_requests["memory"])})
    return {
        "$ref": "#/$defs/container/properties/resources",
        "description": (
            f"The {preset.container}'s resources (requests and limits), replacing the default "
            f"whole. Default: {defaults}{note}."
        ),
        "examples": [example],
    }


def _quantities(values: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items())


def _twice(memory: str) -> str:
    """An example limit: twice the request (`128Mi` -> `256Mi`)."""
    digits = memory.rstrip("KMGTPEi")
    return f"{int(digits) * 2}{memory[len(digits) :]}"
