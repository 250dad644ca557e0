"""otelCollector, run: Airflow's own OpenTelemetry metrics reach the collector `inject` puts in
the scheduler's pod, at the address the preset gives both, with real Airflow (deploy.py).

The collector is a stand-in (otel_collector.py): no registry ships otelcol-contrib for pip.
It takes the container's real arguments and environment (the `--config=yaml:` pieces, merged
and checked as the collector checks them) and listens where its otlp receiver is told to, the
pod's 127.0.0.1:<port>, decoding each ExportMetricsServiceRequest with opentelemetry-proto.
The scheduler container runs Airflow's own `airflow scheduler`, its env and airflow.cfg from
the injected render, with the metadata database migrated. The config is
pipelines/examples/otel-collector.yaml with `interval: 1`, so that a test takes seconds.

Per render (official 1.15.0 on Airflow 2.9.3, 1.20.0 on 3.1.8, 1.22.0 on 3.2.2, Celery; each
with StatsD on, the chart's default):
- the scheduler's heartbeat (airflow.scheduler_heartbeat) arrives at the collector, twice or
  more, over OTLP/HTTP; the metrics carry service.name = serviceName on 3.1.8 and 3.2.2, and
  Airflow's fixed "Airflow" on 2.9.3, which has no [metrics] otel_service (inject warns there);
  nothing goes to StatsD;
- the counter-example: the same pod without the preset's AIRFLOW__METRICS__STATSD_ON=False
  (the release's statsd_on = True applies) sends its heartbeats to StatsD and nothing to the
  collector, however long it runs: the precedence the preset turns StatsD off for.
Each test prints what it saw (metrics, heartbeats, seconds).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple

import pytest
import yaml

from acceptance import envs
from acceptance.deploy import ROOT, Deployment, airflow_setting, wait_until
from acceptance.kube import Image, PodRun

pytestmark = pytest.mark.acceptance

CONFIG = ROOT / "pipelines" / "examples" / "otel-collector.yaml"
PRESET = yaml.safe_load(CONFIG.read_text())["spec"]["presets"]["otelCollector"]
INTERVAL = 1  # seconds between Airflow's exports
COLLECTOR = "otel-collector"
IMAGE = "otel/opentelemetry-collector-contrib"
STANDIN = Path(__file__).with_name("otel_collector.py")
ENTRYPOINT = "/otelcol-contrib"
READY = "Everything is ready. Begin running and processing data."
RECEIVED = "standin: received "
HEARTBEAT = "airflow.scheduler_heartbeat"
SCHEDULER = ("Deployment", "airflow-scheduler", "scheduler")
SERVICE_NAME_SINCE = (2, 10, 3)  # [metrics] otel_service


class Case(NamedTuple):
    render: str
    airflow: str


CASES = {
    "official-1.15.0": Case("official-1.15.0/01-default.yaml", "2.9.3"),
    "official-1.20.0": Case("official-1.20.0/01-default.yaml", "3.1.8"),
    "official-1.22.0": Case("official-1.22.0/01a-celery-default.yaml", "3.2.2"),
}


def collector_image(airflow_version: str) -> Image:
    """otel/opentelemetry-collector-contrib (FROM scratch): ENTRYPOINT /otelcol-contrib, USER
    10001, no /etc/passwd. The stand-in at /otelcol-contrib, run by the Python of the Airflow
    environment, bound in, for its opentelemetry-proto."""
    env = envs.ensure(f"airflow-{airflow_version}")
    python = str(env / "bin" / "python")
    return Image(
        bin_dirs=(),
        extra_binds=(str(env),),
        env=MappingProxyType({}),
        users=MappingProxyType({}),
        entrypoint=lambda args: [python, ENTRYPOINT, *args],
        cmd=("--config", "/etc/otelcol-contrib/config.yaml"),
        default_uid=10001,
        files=MappingProxyType({ENTRYPOINT: str(STANDIN)}),
    )


class StatsD:
    """A StatsD server where the release sends its metrics (its [metrics] statsd_host, a
    Service of the render, is 127.0.0.1 here): the packets it got."""

    def __init__(self, port: int) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", port))
        self.socket.settimeout(0.2)
        self.lines: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._done.is_set():
            try:
                packet = self.socket.recv(65536)
            except TimeoutError:
                continue
            self.lines += packet.decode(errors="replace").splitlines()

    def count(self, metric: str) -> int:
        return sum(line.startswith(f"{metric}:") for line in self.lines)

    def __enter__(self) -> StatsD:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()
        self.socket.close()


class Released:
    """A case's release, injected with the example config at `interval: 1`, with its
    database migrated and the collector image mapped to the stand-in."""

    def __init__(self, case: Case, deployment: Deployment) -> None:
        self.case = case
        self.deployment = deployment
        self.version = tuple(int(part) for part in case.airflow.split("."))

    @property
    def service_name(self) -> str:
        return str(PRESET["serviceName"]) if self.version >= SERVICE_NAME_SINCE else "Airflow"


@pytest.fixture(scope="module", params=sorted(CASES))
def released(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Released]:
    case = CASES[request.param]
    workdir = tmp_path_factory.mktemp(request.param)
    document = yaml.safe_load(CONFIG.read_text())
    document["spec"]["presets"]["otelCollector"]["interval"] = INTERVAL
    config = workdir / "otel-collector.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    with Deployment(case.render, config, workdir, case.airflow) as deployment:
        deployment.images[IMAGE] = collector_image(case.airflow)
        kind, name, main = SCHEDULER
        with deployment.pod(kind, name) as pod:
            deployment.with_database(pod, main)
        yield Released(case, deployment)


def receipts(pod: PodRun) -> list[dict[str, Any]]:
    """What the collector took, one entry per resource of each request, in order."""
    found = []
    for line in pod.log(COLLECTOR).splitlines():
        if line.startswith(RECEIVED):
            found += json.loads(line.removeprefix(RECEIVED))
    return found


def heartbeats(pod: PodRun) -> int:
    """The scheduler's heartbeat counter as last exported (a cumulative sum)."""
    values = [
        int(entry["metrics"][HEARTBEAT]["last"])
        for entry in receipts(pod)
        if HEARTBEAT in entry["metrics"]
    ]
    return max(values, default=0)


def start_collector(pod: PodRun) -> None:
    pod.start(COLLECTOR)
    wait_until(
        lambda: READY in pod.log(COLLECTOR), 60, "the collector listens", lambda: pod.log(COLLECTOR)
    )


def without_statsd_off(spec: dict[str, Any]) -> None:
    """The pod as it would be without the preset's AIRFLOW__METRICS__STATSD_ON=False."""
    main = next(c for c in spec["containers"] if c["name"] == SCHEDULER[2])
    main["env"] = [e for e in main["env"] if e["name"] != "AIRFLOW__METRICS__STATSD_ON"]


def statsd_port(pod: PodRun) -> int:
    host = airflow_setting(pod, SCHEDULER[2], "metrics", "statsd_host")
    assert pod.hosts.get(host) == "127.0.0.1", f"{host} is not a Service of the render"
    return int(airflow_setting(pod, SCHEDULER[2], "metrics", "statsd_port"))


def test_inject_says_what_it_turned_off(released: Released) -> None:
    stderr = released.deployment.stderr
    assert "StatsD is turned off in this pod" in stderr, stderr
    older = "[metrics] otel_service came in Airflow 2.10.3" in stderr
    assert older == (released.version < SERVICE_NAME_SINCE), stderr


def test_scheduler_metrics_reach_the_collector_in_its_pod(released: Released) -> None:
    kind, name, main = SCHEDULER
    with released.deployment.pod(kind, name) as pod:
        env, collector = pod.container_env(main), pod.container_env(COLLECTOR)
        # Airflow is pointed where the collector listens: the pod's loopback address
        address = f"{env['AIRFLOW__METRICS__OTEL_HOST']}:{env['AIRFLOW__METRICS__OTEL_PORT']}"
        assert address == collector["OTEL_RECEIVER_ENDPOINT"] == "127.0.0.1:4318"
        # and, as Airflow itself reads its config there, OTel is on and StatsD off, although
        # the release's airflow.cfg turns StatsD on
        assert airflow_setting(pod, main, "metrics", "otel_on") == "True"
        assert airflow_setting(pod, main, "metrics", "statsd_on") == "False"
        with StatsD(statsd_port(pod)) as statsd:
            start_collector(pod)
            started = time.monotonic()
            pod.start(main)
            wait_until(
                lambda: heartbeats(pod) >= 1,
                300,
                f"{HEARTBEAT} at the collector",
                lambda: pod.log(main)[-4000:] + pod.log(COLLECTOR)[-2000:],
            )
            first = time.monotonic() - started
            wait_until(
                lambda: heartbeats(pod) >= 2,
                60,
                f"a second {HEARTBEAT}",
                lambda: pod.log(main)[-4000:],
            )
            seen = receipts(pod)
            assert statsd.lines == [], statsd.lines[:5]
    names = {metric for entry in seen for metric in entry["metrics"]}
    services = {entry["resource"].get("service.name") for entry in seen}
    assert services == {released.service_name}, services
    print(
        f"\n{released.case.airflow}: {HEARTBEAT} at the collector {first:.1f} s after the "
        f"scheduler started; {len(seen)} exports, {len(names)} metrics "
        f"({', '.join(sorted(names)[:8])}{', ...' if len(names) > 8 else ''}), heartbeat "
        f"counter {heartbeats(pod)}, service.name {services}; StatsD packets: 0"
    )


def test_with_statsd_on_airflow_sends_nothing_to_the_collector(released: Released) -> None:
    kind, name, main = SCHEDULER
    with released.deployment.pod(kind, name, edit=without_statsd_off) as pod:
        assert airflow_setting(pod, main, "metrics", "otel_on") == "True"
        assert airflow_setting(pod, main, "metrics", "statsd_on") == "True"  # the release's
        with StatsD(statsd_port(pod)) as statsd:
            start_collector(pod)
            started = time.monotonic()
            pod.start(main)
            wait_until(
                lambda: statsd.count(HEARTBEAT) >= 2,
                300,
                f"{HEARTBEAT} at StatsD",
                lambda: pod.log(main)[-4000:],
            )
            elapsed = time.monotonic() - started
            time.sleep(5 * INTERVAL)  # five more export intervals
            assert receipts(pod) == [], pod.log(COLLECTOR)
            statsd_lines, heartbeats_seen = len(statsd.lines), statsd.count(HEARTBEAT)
    print(
        f"\n{released.case.airflow}, StatsD on: {heartbeats_seen} heartbeats and "
        f"{statsd_lines} StatsD lines in {elapsed:.1f} s (+{5 * INTERVAL} s), 0 OTLP exports"
    )
