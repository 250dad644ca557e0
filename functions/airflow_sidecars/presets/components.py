"""Which components each preset goes into by default, from what the release runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_sidecars.airflow import Workload
from airflow_sidecars.release import Release


def parser_section(release: Release | None) -> str:
    """Whoever parses DAG files: a standalone dag-processor when the release runs one (always
    on Airflow 3), else the scheduler."""
    sections = release.sections if release is not None else set()
    return "dagProcessor" if "dagProcessor" in sections else "scheduler"


# Every workload of the release: the preset itself decides, pod by pod.
EVERY_POD = "*"


def default_components(name: str, release: Release | None) -> tuple[str, ...]:
    sections = release.sections if release is not None else set()
    if name == "cloudSqlProxy":
        # Wherever the database connection is made, whatever the component (also the
        # CronJobs and the community chart's Jobs, which have no config section).
        return (EVERY_POD,)
    if name == "s3Sync":
        # Every pod that reads DAG files: the parser, and the workers that run the tasks (a
        # Celery worker imports the DAG file; on Airflow 3 the task runner parses it from the
        # local bundle), the KubernetesExecutor pod template included.
        return (parser_section(release), "workers")
    if name == "syncPerm":
        # The UI component: the api-server exists only on Airflow 3.
        return ("apiServer",) if "apiServer" in sections else ("webserver",)
    return ("workers",)


def components(name: str, params: Mapping[str, Any], release: Release | None) -> tuple[str, ...]:
    """The config sections a preset goes into: its `components`, else its defaults."""
    return tuple(params.get("components") or default_components(name, release))


def targets(components: tuple[str, ...], workload: Workload) -> bool:
    return (
        EVERY_POD in components
        or workload.section in components
        or ("workers" in components and workload.is_pod_template)
    )
