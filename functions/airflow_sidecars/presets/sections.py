"""Which config sections a preset goes into: what its `components` parameter may name, and
how a pod is matched against them. Each preset's defaults are in its own module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.renders.release import Release

from .common import Preset, Sections

# The sections of Airflow's own components: where a sidecar beside the Airflow container goes.
AIRFLOW_COMPONENTS = Sections(
    "airflowComponent",
    ("scheduler", "webserver", "apiServer", "workers", "triggerer", "dagProcessor"),
)
# Every section of a pod that may open the metadata database connection.
DATABASE_CLIENTS = Sections(
    "databaseClient",
    (*AIRFLOW_COMPONENTS.choices, "flower", "pgbouncer", "createUserJob", "migrateDatabaseJob"),
)
# Every workload of the release: the preset itself decides, pod by pod.
EVERY_POD = "*"


def parser_section(release: Release | None) -> str:
    """Whoever parses DAG files: a standalone dag-processor when the release runs one (always
    on Airflow 3), else the scheduler."""
    sections = release.sections if release is not None else set()
    return "dagProcessor" if "dagProcessor" in sections else "scheduler"


def ui_section(release: Release | None) -> str:
    """The UI component: the api-server exists only on Airflow 3."""
    sections = release.sections if release is not None else set()
    return "apiServer" if "apiServer" in sections else "webserver"


def sections_for(
    preset: Preset, params: Mapping[str, Any], release: Release | None
) -> tuple[str, ...]:
    """The config sections a preset goes into: its `components`, else its defaults."""
    return tuple(params.get("components") or preset.default_sections(release))


def targets(sections: tuple[str, ...], workload: Workload) -> bool:
    return (
        EVERY_POD in sections
        or workload.section in sections
        or ("workers" in sections and workload.is_pod_template)
    )
