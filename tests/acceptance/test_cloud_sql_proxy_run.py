"""cloudSqlProxy, run: the Cloud SQL Auth Proxy `inject` adds gets the pods to their database,
with real Airflow, in pods run as the kubelet runs them (kube.PodRun.run_pod), each in a network
of its own, so that the proxy is the only way to the database (deploy.py, cloud_sql_proxy.py).

The release is the render with `data.metadataConnection.host: 127.0.0.1`, which the preset asks
for: the chart then renders the Secret airflow-metadata's `connection` with host 127.0.0.1 (and
nothing else differs but the pods' checksum annotations, which nothing here reads); the render
is edited that way, and `inject` agrees (no proxy-connection warning). Render and hooks go
through `inject` together, as `helm template | inject` has them, so the hook Jobs get the proxy.

Per render (official 1.15.0 on Airflow 2.9.3, 1.20.0 on 3.1.8, 1.22.0 on 3.2.2, Celery):
- the migration Job's pod: the proxy starts first and its startup probe passes, then the
  chart's `airflow db migrate` runs through it (the instance sees the connections) and exits 0,
  then the proxy gets SIGTERM and exits 0: the pod has Succeeded, the Job would complete;
- the create-user Job's pod likewise, with `airflow users create`;
- the scheduler's pod: `wait-for-airflow-migrations` (which needs the database) succeeds
  because the proxy started before it, and `airflow db check` in the scheduler container
  succeeds through the proxy.
And the failures the preset prevents (on 1.15.0): without the proxy nothing listens on the
pod's 127.0.0.1:5432, and Airflow cannot connect; with the proxy as a plain container the
migration Job's pod never completes; with the proxy after `wait-for-airflow-migrations` the pod
never gets past that init container.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from acceptance import cloud_sql_proxy
from acceptance.deploy import ROOT, CloudSql, Deployment, set_secret_value
from acceptance.kube import PodRun, PodStatus

pytestmark = pytest.mark.acceptance

CONFIG = ROOT / "pipelines" / "examples" / "cloud-sql-proxy.yaml"
INSTANCE = str(yaml.safe_load(CONFIG.read_text())["spec"]["presets"]["cloudSqlProxy"]["instance"])
PROXY = "cloud-sql-proxy"
WAIT = "wait-for-airflow-migrations"
MIGRATE = ("Job", "airflow-run-airflow-migrations", "run-airflow-migrations")
CREATE_USER = ("Job", "airflow-create-user", "create-user")
SCHEDULER = ("Deployment", "airflow-scheduler", "scheduler")
# The chart's metadata connection with data.metadataConnection.host: 127.0.0.1 (the official
# chart's defaults otherwise: user, password, database, port 5432, sslmode).
CONNECTION = "postgresql://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"


class Case(NamedTuple):
    render: str
    airflow: str


CASES = {
    "official-1.15.0": Case("official-1.15.0/01-default.yaml", "2.9.3"),
    "official-1.20.0": Case("official-1.20.0/01-default.yaml", "3.1.8"),
    "official-1.22.0": Case("official-1.22.0/01a-celery-default.yaml", "3.2.2"),
}
COUNTER_CASE = "official-1.15.0"
# How long after a Job's container has exited 0 its pod may still run: the kubelet stops the
# sidecars at once; a pod still running then is stuck (the Job would never complete).
SETTLE = 10.0


def pointed_at_the_proxy(text: str) -> str:
    return set_secret_value(text, "airflow-metadata", "connection", CONNECTION)


def crash_looping(status: PodStatus) -> bool:
    """A container has failed twice: the pod will not get anywhere (run_pod's `until`, so that
    a broken pod fails its test at once rather than after the timeout)."""
    return any(sum(code != 0 for code in codes) >= 2 for codes in status.exit_codes.values())


def settled(container: str) -> Callable[[PodStatus], bool]:
    """For run_pod's `until`: `container` has exited 0, and SETTLE seconds have passed; or the
    pod is crash-looping."""
    done: list[float] = []

    def check(status: PodStatus) -> bool:
        if not done and status.happened(container, "exited 0"):
            done.append(time.monotonic())
        return crash_looping(status) or (bool(done) and time.monotonic() - done[0] > SETTLE)

    return check


class Released:
    """A case's release with its Cloud SQL instance; the database migrated once, by the
    migration Job's pod, on first need."""

    def __init__(self, deployment: Deployment, instance: CloudSql) -> None:
        self.deployment = deployment
        self.instance = instance
        self._migration: tuple[PodStatus, int, str] | None = None

    def pod(self, kind: str, name: str, **options: Any) -> PodRun:
        return self.deployment.pod(kind, name, network="pod", **options)

    def migration(self) -> tuple[PodStatus, int, str]:
        """The migration Job's pod, run: its status, the connections the instance saw while
        it ran, and the proxy's log."""
        if self._migration is None:
            before = self.instance.connections
            with self.pod(*MIGRATE[:2]) as pod:
                status = pod.run_pod(timeout=600, until=settled(MIGRATE[2]))
                self._migration = (status, self.instance.connections - before, pod.log(PROXY))
        return self._migration


@pytest.fixture(scope="module", params=sorted(CASES))
def released(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Released]:
    case = CASES[request.param]
    workdir = tmp_path_factory.mktemp(request.param)
    with Deployment(
        case.render, CONFIG, workdir, case.airflow, hooks="inject", edit=pointed_at_the_proxy
    ) as deployment:
        # what the preset asks of the chart is done: inject finds the connection at the proxy
        assert "proxy-connection" not in deployment.stderr, deployment.stderr
        yield Released(deployment, deployment.with_cloud_sql(INSTANCE, CONNECTION))


def _accepted(log: str) -> int:
    return log.count(f"[{INSTANCE}] Accepted connection from")


def _before(status: PodStatus, first: tuple[str, str], then: tuple[str, str]) -> None:
    assert status.first(*first) <= status.first(*then), f"{first} after {then}\n{status}"


# -- the Jobs ---------------------------------------------------------------------------------


def test_migration_job_completes_through_the_proxy(released: Released) -> None:
    status, connections, log = released.migration()
    migrate = MIGRATE[2]
    assert status.phase == "Succeeded", f"{status}\n{log}"
    # the proxy listened before Airflow started, and stopped after Airflow was done
    _before(status, (PROXY, "startup probe succeeded"), (migrate, "started"))
    _before(status, (migrate, "exited 0"), (PROXY, "SIGTERM"))
    assert status.exit_codes == {migrate: [0], PROXY: [0]}, status  # no restart, no failure
    # `airflow db migrate` reached the database through the proxy: the pod has no other way
    assert connections > 0
    assert _accepted(log) == connections, log
    assert "SIGTERM signal received" in log
    assert released.deployment.postgres is not None
    assert released.deployment.postgres.sql("SELECT version_num FROM alembic_version").strip()


def test_create_user_job_completes_through_the_proxy(released: Released) -> None:
    assert released.migration()[0].phase == "Succeeded"
    before = released.instance.connections
    with released.pod(*CREATE_USER[:2]) as pod:
        status = pod.run_pod(timeout=600, until=settled(CREATE_USER[2]))
        log = pod.log(CREATE_USER[2])
    assert status.phase == "Succeeded", f"{status}\n{log}"
    _before(status, (PROXY, "startup probe succeeded"), (CREATE_USER[2], "started"))
    assert status.exit_codes == {CREATE_USER[2]: [0], PROXY: [0]}, status
    assert released.instance.connections > before
    assert released.deployment.postgres is not None
    users = released.deployment.postgres.sql("SELECT username FROM ab_user")
    assert users.split() == ["admin"]


# -- a long-running pod -----------------------------------------------------------------------


def test_scheduler_waits_for_migrations_and_checks_the_database_through_the_proxy(
    released: Released,
) -> None:
    assert released.migration()[0].phase == "Succeeded"
    kind, name, main = SCHEDULER
    with released.pod(kind, name) as pod:
        start = released.instance.connections
        status = pod.run_pod(timeout=180, initialize_only=True, until=crash_looping)
        assert status.initialized, f"{status}\n{pod.log(PROXY)}\n{pod.log(WAIT)}"
        # the proxy is the first init container; the one that needs the database comes after
        # its startup probe, and succeeds at once, through it
        assert status.events[0][1:] == (PROXY, "started"), status
        _before(status, (PROXY, "startup probe succeeded"), (WAIT, "started"))
        assert status.exit_codes == {WAIT: [0]}, status
        assert released.instance.connections > start
        assert pod.running(PROXY)

        before = released.instance.connections
        check = pod.exec(main, ["airflow", "db", "check"], timeout=300)
        assert check.returncode == 0, check.stdout + check.stderr
        assert released.instance.connections > before
        # every connection the instance saw since the pod started came through this proxy
        assert _accepted(pod.log(PROXY)) == released.instance.connections - start


# -- what the preset prevents -----------------------------------------------------------------


def _without_proxy(spec: dict[str, Any]) -> None:
    spec["initContainers"] = [c for c in spec["initContainers"] if c["name"] != PROXY]


def _proxy_as_plain_container(spec: dict[str, Any]) -> None:
    """The proxy the way it was added before native sidecars: a container beside Airflow's."""
    (proxy,) = [c for c in spec["initContainers"] if c["name"] == PROXY]
    _without_proxy(spec)
    del proxy["restartPolicy"]  # only init containers may have one
    spec["containers"].append(proxy)


def _proxy_after_wait(spec: dict[str, Any]) -> None:
    (proxy,) = [c for c in spec["initContainers"] if c["name"] == PROXY]
    _without_proxy(spec)
    names = [c["name"] for c in spec["initContainers"]]
    spec["initContainers"].insert(names.index(WAIT) + 1, proxy)


@pytest.mark.parametrize("released", [COUNTER_CASE], indirect=True)
def test_without_the_proxy_airflow_cannot_reach_the_database(released: Released) -> None:
    kind, name, main = SCHEDULER
    with released.pod(kind, name, edit=_without_proxy) as pod:
        before = released.instance.connections
        check = pod.exec(main, ["airflow", "db", "check"], timeout=300)
    out = check.stdout + check.stderr
    assert check.returncode != 0, out
    assert "Connection refused" in out, out  # nothing listens on the pod's 127.0.0.1:5432
    assert released.instance.connections == before


@pytest.mark.parametrize("released", [COUNTER_CASE], indirect=True)
def test_a_plain_proxy_container_keeps_the_migration_job_from_completing(
    released: Released,
) -> None:
    migrate = MIGRATE[2]
    with released.pod(*MIGRATE[:2], edit=_proxy_as_plain_container) as pod:
        status = pod.run_pod(timeout=600, until=settled(migrate))
        assert status.exit_codes.get(migrate, [])[-1:] == [0], f"{status}\n{pod.log(migrate)}"
        # the Job's work is done, yet its pod runs on: the proxy never stops, the Job never
        # completes
        assert status.phase == "Running", status
        assert pod.running(PROXY)
        assert not status.happened(PROXY, "SIGTERM"), status


@pytest.mark.parametrize("released", [COUNTER_CASE], indirect=True)
def test_a_proxy_after_wait_for_migrations_never_starts(released: Released) -> None:
    assert released.migration()[0].phase == "Succeeded"  # there are migrations to find
    kind, name, _ = SCHEDULER
    with released.pod(kind, name, edit=_proxy_after_wait) as pod:
        before = released.instance.connections
        status = pod.run_pod(timeout=120, initialize_only=True, until=crash_looping)
        log = pod.log(WAIT)
    # the init container that needs the database finds nothing on 127.0.0.1:5432, fails, is
    # restarted, fails again; the proxy, behind it, never starts
    assert not status.initialized, status
    assert status.exit_codes == {WAIT: [1, 1]}, status
    assert "Connection refused" in log, log
    assert not status.happened(PROXY, "started"), status
    assert released.instance.connections == before


# -- the stand-in's command line --------------------------------------------------------------


def _preset_args() -> list[str]:
    """The proxy's args as inject writes them (the golden case of the example config)."""
    expected = ROOT / "tests" / "golden" / "cloudsql-official-1.15.0-celery" / "expected.yaml"
    for doc in yaml.safe_load_all(expected.read_text()):
        if doc and doc["kind"] == "Job":
            for container in doc["spec"]["template"]["spec"]["initContainers"]:
                if container["name"] == PROXY:
                    return [str(a) for a in container["args"]]
    raise AssertionError("no proxy in the golden case")


def test_the_stand_in_reads_the_presets_flags_and_refuses_a_typo() -> None:
    args = _preset_args()
    config = cloud_sql_proxy.parse(args, {})
    cloud_sql_proxy.validate(config)
    assert config.instances == [INSTANCE]
    assert (config["port"], config["http-address"], config["http-port"]) == (
        5432,
        "0.0.0.0",
        "9801",
    )
    assert config["health-check"] and config["exit-zero-on-sigterm"] and config["private-ip"]
    assert config["max-sigterm-delay"] == 10.0
    typo = [a.replace("--exit-zero-on-sigterm", "--exit-zero-on-sigtem") for a in args]
    done = subprocess.run(
        [sys.executable, str(cloud_sql_proxy.__file__), *typo],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        1,
        "Error: unknown flag: --exit-zero-on-sigtem",
    )


def test_the_stand_in_on_sigterm_waits_for_open_connections() -> None:
    """After SIGTERM it waits for the open connection; once that is closed it exits 0 with
    --exit-zero-on-sigterm and 143 without; a connection still open after --max-sigterm-delay
    makes it exit 1 then."""
    # short: a Unix socket's path has at most 107 bytes
    with (
        tempfile.TemporaryDirectory(prefix="sqladmin-") as scratch,
        socket.socket(socket.AF_UNIX) as instance,
    ):
        sqladmin = Path(scratch)
        (sqladmin / INSTANCE).mkdir()
        # an instance that takes connections (the kernel queues them) and never answers
        instance.bind(str(sqladmin / INSTANCE / "public"))
        instance.listen(8)
        seen = [
            _sigterm_with_a_connection(sqladmin, flags, hold)
            for flags, hold in (
                (["--exit-zero-on-sigterm", "--max-sigterm-delay=5s"], 1.0),
                (["--max-sigterm-delay=5s"], 0.0),
                (["--exit-zero-on-sigterm", "--max-sigterm-delay=1s"], 4.0),
            )
        ]
    # (exited while the connection was open, exit code)
    assert seen == [(False, 0), (False, 143), (True, 1)]


def _sigterm_with_a_connection(sqladmin: Path, flags: list[str], hold: float) -> tuple[bool, int]:
    port = _free_port()
    with subprocess.Popen(
        [sys.executable, str(cloud_sql_proxy.__file__), f"--port={port}", *flags, INSTANCE],
        env={"STANDIN_SQLADMIN_DIR": str(sqladmin)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proxy:
        client = _connect(port)
        time.sleep(0.2)  # accepted and passed on
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(timeout=hold)
            early = hold > 0
        except subprocess.TimeoutExpired:
            early = False
        client.close()
        out, _ = proxy.communicate(timeout=30)
        assert "SIGTERM signal received" in out, out
        return early, proxy.returncode


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connect(port: int) -> socket.socket:
    deadline = time.monotonic() + 10
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1)
        except OSError:
            assert time.monotonic() < deadline, "the stand-in never listened"
            time.sleep(0.05)
