"""otelCollector: an OpenTelemetry Collector beside each Airflow component, with Airflow's own
OpenTelemetry metrics pointed at it.

Airflow (2.7+) exports its metrics over OTLP/HTTP (protobuf) when `[metrics] otel_on` is set,
to `http://<otel_host>:<otel_port>/v1/metrics`, unless StatsD is on (see `_main_env`). A
collector in the pod takes them on the pod's loopback address, batches them, and sends them on
to the endpoint the config names, so the Airflow containers need no route, credentials or retry
policy of their own, and a Job or task pod still completes (the collector goes in as a native
sidecar there, and the kubelet stops it after the Airflow container has exited and flushed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow_sidecars.charts.chart import Flavour
from airflow_sidecars.pods.podspec import Wanted
from airflow_sidecars.renders.release import Release, is_true, setting

from .common import (
    Expansion,
    Note,
    PodFacts,
    Preset,
    env_var,
    image,
    into_main,
    seconds,
    sidecar_additions,
)
from .sections import AIRFLOW_COMPONENTS

NAME = "otel-collector"
# The contrib distribution, the one clusters most often mirror already (the core `otelcol`
# has the three components used here too); pinned so that renders are reproducible.
IMAGE = "otel/opentelemetry-collector-contrib:0.116.1"
DEFAULT_PORT = 4318  # OTLP/HTTP's registered port
# The components that emit Airflow's metrics: the scheduler (and its executor), the parser,
# the triggerer and the workers that run tasks. The UI emits almost none.
METRIC_SOURCES = ("scheduler", "dagProcessor", "triggerer", "workers")

# The collector's whole configuration, as `--config=yaml:` arguments (the collector merges
# them): constants only; the two endpoints come from the container's environment
# (`${env:...}`), never spliced into the text.
COLLECTOR_ARGS = (
    "--config=yaml:receivers::otlp::protocols::http::endpoint: ${env:OTEL_RECEIVER_ENDPOINT}",
    "--config=yaml:processors::batch: {}",
    "--config=yaml:exporters::otlphttp::endpoint: ${env:OTEL_EXPORTER_ENDPOINT}",
    "--config=yaml:service::pipelines::metrics::receivers: [otlp]",
    "--config=yaml:service::pipelines::metrics::processors: [batch]",
    "--config=yaml:service::pipelines::metrics::exporters: [otlphttp]",
)


def expand(params: Mapping[str, Any], facts: PodFacts, origin: str) -> Expansion:
    port = int(params.get("port", DEFAULT_PORT))
    collector = {
        "name": NAME,
        "image": params.get("image", IMAGE),
        "args": list(COLLECTOR_ARGS),
        "env": [
            env_var("OTEL_RECEIVER_ENDPOINT", f"127.0.0.1:{port}"),
            env_var("OTEL_EXPORTER_ENDPOINT", params["endpoint"]),
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": PRESET.resources(params),
    }
    main_env, notes = _main_env(params, facts, port)
    additions = sidecar_additions(facts, collector, origin)
    additions.env += [(Wanted(entry, origin), *into_main(facts)) for entry in main_env]
    return Expansion(additions, notes, {})


def _main_env(
    params: Mapping[str, Any], facts: PodFacts, port: int
) -> tuple[list[dict[str, Any]], list[Note]]:
    """Airflow's `[metrics]` settings that send its metrics to the collector.

    Airflow emits to one backend, picked in this order (its stats factory, the same in 2.9, 3.1
    and 3.2): Datadog's StatsD (`statsd_datadog_enabled`), StatsD (`statsd_on`), then
    OpenTelemetry (`otel_on`). A release that turns one of the first two on (the official
    chart turns StatsD on, with statsd.enabled) gets it turned off in these pods, and is told.
    The `otel_*` options are the ones Airflow 2.7 to 3.2 read (3.2 deprecates them in favour of
    the OTEL_* variables, and still reads them)."""
    main_env = [
        env_var("AIRFLOW__METRICS__OTEL_ON", "True"),
        env_var("AIRFLOW__METRICS__OTEL_HOST", "127.0.0.1"),
        env_var("AIRFLOW__METRICS__OTEL_PORT", str(port)),
        env_var("AIRFLOW__METRICS__OTEL_SSL_ACTIVE", "False"),
        env_var(
            "AIRFLOW__METRICS__OTEL_INTERVAL_MILLISECONDS",
            str(int(params.get("interval", 60)) * 1000),
        ),
    ]
    notes: list[Note] = []
    if "serviceName" in params:
        main_env.append(env_var("AIRFLOW__METRICS__OTEL_SERVICE", params["serviceName"]))
        version = _airflow_version(facts.main)
        if version is not None and version < SERVICE_NAME_SINCE:
            shown = ".".join(map(str, version))
            message = (
                f"preset otelCollector: Airflow {shown} (the image's tag) names the service of "
                "its metrics 'Airflow' whatever serviceName says: [metrics] otel_service came "
                "in Airflow 2.10.3"
            )
            notes.append(("warning", message, "preset"))
    for option, what, value in _OTHER_BACKENDS:
        if is_true(setting(facts.release, facts.main, "metrics", option)):
            main_env.append(env_var(f"AIRFLOW__METRICS__{option.upper()}", "False"))
            message = (
                f"preset otelCollector: the release sends Airflow's metrics to {what} "
                f"([metrics] {option}), which Airflow picks before OpenTelemetry: {what} is "
                f"turned off in this pod (set {value[facts.workload.flavour]} in the chart's "
                "values to say so there too)"
            )
            notes.append(("warning", message, "preset"))
    return main_env, notes


# The metrics backends Airflow picks before OpenTelemetry, and the chart value that turns each
# off, by chart.
_OTHER_BACKENDS: tuple[tuple[str, str, Mapping[Flavour, str]], ...] = (
    (
        "statsd_datadog_enabled",
        "Datadog's StatsD",
        {
            "official": "config.metrics.statsd_datadog_enabled: 'False'",
            "community": "airflow.config.AIRFLOW__METRICS__STATSD_DATADOG_ENABLED: 'False'",
        },
    ),
    (
        "statsd_on",
        "StatsD",
        {
            "official": "statsd.enabled: false",
            "community": "airflow.config.AIRFLOW__METRICS__STATSD_ON: 'False'",
        },
    ),
)
# `[metrics] otel_service` (before it, the service is always "Airflow")
SERVICE_NAME_SINCE = (2, 10, 3)
_TAG_VERSION = re.compile(r":(?:slim-)?v?(\d+)\.(\d+)\.(\d+)(?![\d.])")


def _airflow_version(main: dict[str, Any] | None) -> tuple[int, int, int] | None:
    """The Airflow version in the Airflow container's image tag (`apache/airflow:2.9.3`,
    `...:slim-2.10.5-python3.12`); None for a tag that does not say it."""
    image = (main or {}).get("image")
    found = _TAG_VERSION.search(image.rsplit("/", 1)[-1]) if isinstance(image, str) else None
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def _default_sections(release: Release | None) -> tuple[str, ...]:
    """The components that emit metrics; of those, the ones the release runs."""
    if release is None:
        return METRIC_SOURCES
    return tuple(section for section in METRIC_SOURCES if section in release.sections)


PRESET = Preset(
    name="otelCollector",
    summary=(
        f"An OpenTelemetry Collector ({NAME}) beside each Airflow component that emits metrics, "
        "with Airflow's own OpenTelemetry metrics ([metrics] otel_on) pointed at it on the "
        "pod's loopback address; the collector batches them and exports them over OTLP/HTTP "
        "to endpoint. Airflow emits to one backend and picks StatsD (and Datadog's) before "
        "OpenTelemetry: a release that turns one on gets it turned off in those pods, with a "
        "warning. Needs Airflow 2.7+ (the OTLP exporter is one of Airflow's own dependencies)."
    ),
    readme_title="Airflow's metrics through an OpenTelemetry Collector",
    container="collector",
    parameters={
        "endpoint": {
            "type": "string",
            "pattern": "^https?://[^\\s/$.?#][^\\s]*$",
            "maxLength": 2048,
            "description": (
                "The OTLP/HTTP endpoint the collector exports to (its otlphttp exporter's "
                "endpoint: /v1/metrics is added to it), e.g. a gateway collector or a vendor's "
                "OTLP intake. Required."
            ),
            "examples": [
                "http://otel-gateway.observability.svc:4318",
                "https://otlp.eu01.example.com",
            ],
        },
        "interval": seconds(
            60,
            "Seconds between two metric exports from Airflow to the collector (Airflow's "
            "[metrics] otel_interval_milliseconds, 1-86400). Default: 60.",
            [60, 15],
        ),
        "serviceName": {
            "type": "string",
            "minLength": 1,
            "maxLength": 253,
            "description": (
                "The service.name Airflow's metrics carry ([metrics] otel_service, read by "
                "Airflow 2.10.3 and later; before, it is always Airflow, and inject warns). "
                "Default: Airflow's own (Airflow)."
            ),
            "examples": ["airflow-prod"],
        },
        "port": {
            "type": "integer",
            "minimum": 1024,
            "maximum": 65535,
            "description": (
                "The port the collector takes Airflow's metrics on, at 127.0.0.1 in each pod. "
                f"Default: {DEFAULT_PORT}."
            ),
            "examples": [DEFAULT_PORT, 14318],
        },
        "image": image(
            f"The collector's image: a distribution with the otlp receiver, the batch processor "
            f"and the otlphttp exporter. Default: {IMAGE} (pinned).",
            [IMAGE, "ghcr.io/open-telemetry/opentelemetry-collector-releases/otelcol:0.116.1"],
        ),
    },
    required=("endpoint",),
    example={"endpoint": "http://otel-gateway.observability.svc:4318", "interval": 30},
    sections=AIRFLOW_COMPONENTS,
    default_sections=_default_sections,
    components_doc=(
        "The config sections whose pods get the collector ({choices}; workers includes the "
        "KubernetesExecutor pod template). Default: the components that emit Airflow's "
        "metrics and that the release runs: scheduler, dagProcessor, triggerer, workers."
    ),
    components_examples=(["scheduler", "workers"], ["scheduler", "workers", "apiServer"]),
    default_requests={"cpu": "50m", "memory": "128Mi"},
    # The collector buffers what it cannot send yet: without a limit a slow endpoint would
    # let it grow until the node evicts the whole pod.
    default_limits={"memory": "256Mi"},
    expand=expand,
    unmatched="none of its components is in the render (set `components` to choose them)",
    pattern_meanings={"endpoint": "an http:// or https:// URL"},
    main_env=frozenset(
        {
            "AIRFLOW__METRICS__OTEL_ON",
            "AIRFLOW__METRICS__OTEL_HOST",
            "AIRFLOW__METRICS__OTEL_PORT",
            "AIRFLOW__METRICS__OTEL_SSL_ACTIVE",
            "AIRFLOW__METRICS__OTEL_INTERVAL_MILLISECONDS",
            "AIRFLOW__METRICS__OTEL_SERVICE",
            "AIRFLOW__METRICS__STATSD_ON",
            "AIRFLOW__METRICS__STATSD_DATADOG_ENABLED",
        }
    ),
)
