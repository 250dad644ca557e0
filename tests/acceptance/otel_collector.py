"""A stand-in for the OpenTelemetry Collector (otel/opentelemetry-collector-contrib), run by the
acceptance suite as that image's ENTRYPOINT, /otelcol-contrib, with the Python of the release's
Airflow environment (whose opentelemetry-proto decodes what Airflow sends).

What a pod sees of it is what it sees of the real collector:
- the command line: `--config` (any number, merged in order, later keys winning, as confmap
  merges them), `--set`, `--feature-gates`; a flag the collector does not have ends it as cobra
  ends it: `Error: unknown flag: --x`, exit code 1. Of the config providers, `yaml:` is
  modelled (keys split on `::`, as the collector splits them); `file:`, `env:`, `http:` and
  `--set` end it with exit code 2, saying so, rather than being ignored;
- `${env:NAME}` (and `${NAME}`) in values: the container's variable, empty when it is unset;
  `$$` is a literal `$`;
- the config checked as the collector checks it before it starts: every component a pipeline
  names is configured, with a type this stand-in knows (receiver otlp; processors batch and
  memory_limiter; exporters otlphttp and debug) - an unknown type, a missing component or an
  otlphttp exporter without an endpoint fails with `Error: ...` and exit code 1;
- the otlp receiver's OTLP/HTTP endpoint (`protocols::http::endpoint`, default localhost:4318):
  POST /v1/metrics with an ExportMetricsServiceRequest, protobuf or JSON, gzip or not, answered
  200 with an empty ExportMetricsServiceResponse as the collector answers; 404 elsewhere, 415 for
  another content type. The gRPC protocol is not modelled (exit code 2 when configured);
- "Everything is ready. Begin running and processing data." once it listens, and SIGTERM ends
  it with exit code 0, as the collector shuts down.

What differs: nothing is batched or exported. Each request it takes is one log line,
`standin: received {json}` - the resource's attributes (service.name) and, per metric, its
kind, data point count and last value - and the endpoint the otlphttp exporter would send to
is logged at start. The real collector's own config parsing beyond these components, its
exporting, retries and queue are not modelled.
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

PROTOBUF = "application/x-protobuf"
KNOWN: dict[str, frozenset[str]] = {
    "receivers": frozenset({"otlp"}),
    "processors": frozenset({"batch", "memory_limiter"}),
    "exporters": frozenset({"otlphttp", "debug"}),
    "connectors": frozenset(),
    "extensions": frozenset(),
}
FLAGS = frozenset({"config", "set", "feature-gates", "help", "version"})
READY = "Everything is ready. Begin running and processing data."
_REFERENCE = re.compile(r"\$\$|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """What the collector reports as `Error: ...` before it starts (exit code 1)."""


class NotModelled(Exception):
    """Something the real collector does that this stand-in does not (exit code 2)."""


def log(message: str) -> None:
    print(f"info\t{message}", flush=True)


# -- the command line and the config ------------------------------------------------------------


def config_uris(argv: list[str]) -> list[str]:
    """The --config values, in order (`--config=v` or `--config v`), as cobra reads them."""
    uris: list[str] = []
    items = iter(argv)
    for arg in items:
        if not arg.startswith("--"):
            raise ConfigError(f'unknown command "{arg}" for "otelcol-contrib"')
        name, eq, value = arg[2:].partition("=")
        if name not in FLAGS:
            raise ConfigError(f"unknown flag: --{name}")
        if name in ("help", "version"):
            raise NotModelled(f"--{name}")
        if not eq:
            value = next(items, None) or ""
            if not value:
                raise ConfigError(f"flag needs an argument: --{name}")
        if name == "set":
            raise NotModelled("--set")
        if name == "config":
            uris.append(value)
    if not uris:
        raise NotModelled("the image's default config file (no --config)")
    return uris


def split_keys(value: Any) -> Any:
    """confmap's key delimiter: `a::b: v` is `a: {b: v}`, at every level."""
    if isinstance(value, list):
        return [split_keys(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        parts = str(key).split("::")
        nested: Any = split_keys(item)
        for part in reversed(parts[1:]):
            nested = {part: nested}
        merge(out, {parts[0]: nested})
    return out


def merge(into: dict[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """confmap's merge: maps merge key by key, anything else is replaced."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def expand(value: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: expand(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, environ) for item in value]
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: "$" if m[0] == "$$" else environ.get(m[1], ""), value)
    return value


def load(uris: list[str], environ: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for uri in uris:
        scheme, colon, body = uri.partition(":")
        if not colon or scheme != "yaml":
            raise NotModelled(f"config provider of {uri!r} (only yaml: is modelled)")
        try:
            loaded = yaml.safe_load(body)
        except yaml.YAMLError as error:
            raise ConfigError(f"cannot retrieve the configuration: {error}") from error
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise ConfigError(f"retrieved value (type={type(loaded).__name__}) cannot be used")
        merge(config, split_keys(loaded))
    return dict(expand(config, environ))


def check(config: dict[str, Any]) -> dict[str, Any]:
    """What the collector checks before it starts; the metrics pipeline's components."""
    for kind, known in KNOWN.items():
        for component in config.get(kind) or {}:
            kind_name = str(component).split("/", 1)[0]
            if kind_name not in known:
                raise ConfigError(
                    f"failed to get config: cannot unmarshal the configuration: unknown type: "
                    f'"{kind_name}" for id: "{component}"'
                )
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    if not pipelines:
        raise ConfigError("invalid configuration: service must have at least one pipeline")
    for pipeline, spec in pipelines.items():
        if str(pipeline).split("/", 1)[0] != "metrics":
            raise NotModelled(f"pipeline {pipeline!r} (only metrics is modelled)")
        for kind in ("receivers", "processors", "exporters"):
            names = (spec or {}).get(kind) or []
            if kind != "processors" and not names:
                raise ConfigError(
                    f"service::pipelines::{pipeline}: must have at least one {kind[:-1]}"
                )
            for name in names:
                if name not in (config.get(kind) or {}):
                    raise ConfigError(
                        f'service::pipelines::{pipeline}: references {kind[:-1]} "{name}" which '
                        "is not configured"
                    )
    for name, spec in (config.get("exporters") or {}).items():
        exporter = spec or {}
        if str(name).startswith("otlphttp") and not (
            exporter.get("endpoint") or exporter.get("metrics_endpoint")
        ):
            raise ConfigError(
                f"invalid configuration: exporters::{name}: at least one endpoint must be specified"
            )
        endpoint = str(exporter.get("endpoint") or "")
        if endpoint and not re.match(r"https?://[^/\s]+", endpoint):
            raise ConfigError(f"invalid configuration: exporters::{name}: invalid endpoint")
    return config


def http_endpoint(config: Mapping[str, Any]) -> tuple[str, int]:
    receivers = config.get("receivers") or {}
    otlp = next((spec or {} for name, spec in receivers.items() if name.startswith("otlp")), None)
    if otlp is None:
        raise NotModelled("a metrics pipeline without an otlp receiver")
    protocols = otlp.get("protocols") or {}
    if "grpc" in protocols:
        raise NotModelled("the otlp receiver's grpc protocol")
    if "http" not in protocols:
        raise ConfigError("receivers::otlp: must specify at least one protocol")
    endpoint = str((protocols.get("http") or {}).get("endpoint") or "localhost:4318")
    host, _, port = endpoint.rpartition(":")
    return host or "0.0.0.0", int(port)


# -- the receiver -------------------------------------------------------------------------------


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def summary(request: Any) -> list[dict[str, Any]]:
    """Per resource: its attributes, and per metric its kind, point count and last value."""
    resources = []
    for resource_metrics in request.resource_metrics:
        attributes = {kv.key: _value(kv.value) for kv in resource_metrics.resource.attributes}
        metrics: dict[str, Any] = {}
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                points = list(getattr(metric, kind).data_points) if kind else []
                last: Any = None
                if points and kind in ("sum", "gauge"):
                    last = getattr(points[-1], points[-1].WhichOneof("value") or "as_int")
                elif points:
                    last = points[-1].count
                metrics[metric.name] = {"kind": kind, "points": len(points), "last": last}
        resources.append({"resource": attributes, "metrics": metrics})
    return resources


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pb2: Any = None  # the ExportMetricsService messages

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/metrics":
            self._answer(404, "text/plain", b"404 page not found\n")
            return
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            body = gzip.decompress(body)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        request = self.pb2.ExportMetricsServiceRequest()
        if content_type == PROTOBUF:
            request.ParseFromString(body)
            answer = self.pb2.ExportMetricsServiceResponse().SerializeToString()
        elif content_type == "application/json":
            json_format = importlib.import_module("google.protobuf.json_format")
            json_format.Parse(body, request)
            answer = b"{}"
        else:
            self._answer(415, "text/plain", f"unsupported media type {content_type}\n".encode())
            return
        print("standin: received " + json.dumps(summary(request), sort_keys=True), flush=True)
        self._answer(200, content_type, answer)

    def do_GET(self) -> None:
        self._answer(405, "text/plain", b"405 method not allowed, supported: [POST]\n")

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    try:
        config = check(load(config_uris(sys.argv[1:]), os.environ))
        host, port = http_endpoint(config)
    except ConfigError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
    except NotModelled as error:
        print(f"stand-in: not modelled: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    Receiver.pb2 = importlib.import_module(
        "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2"
    )
    for name, exporter in (config.get("exporters") or {}).items():
        if str(name).startswith("otlphttp"):
            target = (exporter or {}).get("metrics_endpoint") or (
                str(exporter["endpoint"]).rstrip("/") + "/v1/metrics"
            )
            log(f"exporter {name}: would export to {target}")
    server = ThreadingHTTPServer((host, port), Receiver)
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            log("Received signal from OS, shutting down")
            threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f'Starting HTTP server\t{{"endpoint": "{host}:{port}"}}')
    log(READY)
    server.serve_forever()
    server.server_close()
    log("Shutdown complete.")


if __name__ == "__main__":
    main()
