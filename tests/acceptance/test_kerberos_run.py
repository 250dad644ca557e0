"""The kerberos preset with real MIT Kerberos: a KDC of its own (kdc.py: realm EXAMPLE.COM, a
network namespace of its own, reached directly or through a gateway that translates the source
address as egress NAT does), principals with pre-authentication, keytabs exported from it into
the release's Secret, the pods run as the kubelet runs them (kube.py) with Airflow from PyPI and
the MIT client tools (kinit, klist, kvno) of Debian's krb5-user.

On each Airflow line the suite runs (a release with Celery workers and the KubernetesExecutor
pod template, the KDC behind NAT: where clusters usually meet Active Directory):
- a Celery worker gets its first ticket in `kerberos-first-ticket` before the worker starts,
  the Airflow container gets service tickets with it (`kvno`), and the renewer keeps running
  after Airflow's `kinit -R`, its probes passing;
- a task pod starts once the renewer's startup probe finds a ticket, and gets service tickets.

On Airflow 2.9.3 (the official chart 1.15.0, as the seed's users run it), what goes wrong:
- a ticket bound to the pod's address (`includeIp: true`) is refused by a KDC behind NAT, not
  by one that sees the pod's address;
- a principal without renewable life, a stale keytab, the KDC down: the worker never starts,
  and the log says why;
- the probes check the ticket, not the file: an expired ticket fails them.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from acceptance.deploy import Deployment, wait_until
from acceptance.kdc import SERVICE, Realm, Route
from acceptance.kube import PodRun, PodStatus
from acceptance.services import Postgres

pytestmark = pytest.mark.acceptance

CACHE = "/var/kerberos-ccache/cache"
FIRST, RENEWER = "kerberos-first-ticket", "kerberos-renewer"
# What Airflow logs once its renewal (`kinit -R`, 1.5 s after kinit) has worked: the renewer
# then sleeps until the next `interval`.
RENEWING = "Renewing kerberos ticket to work around kerberos 1.8.1"
FAILED_RENEWAL = "Couldn't renew kerberos ticket"


class Line(NamedTuple):
    render: str  # a release with Celery workers and the KubernetesExecutor pod template
    worker: str  # its Celery worker's Airflow container
    template: str  # the ConfigMap that holds the pod template


_OFFICIAL = ("worker", "airflow-config")
LINES = {
    "2.8.4": Line(
        "community-8.9.0/03-celery-kubernetes-executor.yaml",
        "airflow-worker",
        "airflow-pod-template",
    ),
    "2.9.3": Line("official-1.15.0/03-celery-kubernetes-executor.yaml", *_OFFICIAL),
    "2.10.5": Line("official-1.15.0/07-airflow-2.10.5-celery-kubernetes-executor.yaml", *_OFFICIAL),
    "3.0.6": Line(
        "official-1.18.0/01-airflow-3.0.6-celery-and-kubernetes-executors.yaml", *_OFFICIAL
    ),
    "3.1.8": Line("official-1.20.0/02-celery-and-kubernetes-executors.yaml", *_OFFICIAL),
    "3.2.2": Line("official-1.22.0/07-celery-and-kubernetes-executors.yaml", *_OFFICIAL),
}
SEED_LINE = "2.9.3"


class Databases:
    """A database server per Airflow line for the module, each migrated once: the releases of
    one line share it (a migration takes a minute; its schema is that line's)."""

    def __init__(self) -> None:
        self.servers: dict[str, Postgres] = {}

    def of(self, airflow: str) -> Postgres:
        if airflow not in self.servers:
            self.servers[airflow] = Postgres()
        return self.servers[airflow]

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Databases]:
    databases = Databases()
    try:
        yield databases
    finally:
        databases.close()


class Release(NamedTuple):
    deployment: Deployment
    line: Line
    principal: str

    def worker(self) -> PodRun:
        pod = self.deployment.pod("StatefulSet", "airflow-worker")
        self.deployment.with_database(pod, self.line.worker)
        return pod

    def task_pod(self) -> PodRun:
        pod = self.deployment.pod("PodTemplate", self.line.template)
        self.deployment.with_database(pod, "base")
        return pod


def _release(  # noqa: PLR0913 - the release, then the case: realm, principal, route, params
    tmp_path: Path,
    postgres: Databases,
    realm: Realm,
    airflow: str,
    principal: str,
    route: Route,
    keytab: bytes | None = None,
    **params: Any,
) -> Release:
    """The line's render injected with a kerberos config for `principal`, deployed beside the
    keytab Secret (`keytab`, or the principal's current keys) and the krb5.conf that reaches the
    KDC over `route`."""
    config = tmp_path / "kerberos.yaml"
    preset = {
        "principal": principal,
        "keytabSecret": "airflow-keytab",
        "krb5Config": "airflow-krb5",
        **params,
    }
    document = {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": "kerberos"},
        "spec": {"presets": {"kerberos": preset}},
    }
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    secret = base64.b64encode(keytab if keytab is not None else realm.keytab(principal))
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "airflow-keytab", "namespace": "airflow"},
            "data": {"kerberos.keytab": secret.decode()},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "airflow-krb5", "namespace": "airflow"},
            "data": {"krb5.conf": realm.krb5_conf(route)},
        },
    ]
    line = LINES[airflow]
    deployment = Deployment(
        line.render, config, tmp_path, airflow, objects, postgres=postgres.of(airflow)
    )
    return Release(deployment, line, principal)


@pytest.fixture(params=list(LINES))
def line_release(
    request: pytest.FixtureRequest, tmp_path: Path, realm: Realm, postgres: Databases
) -> Iterator[Release]:
    """The line's release, per test (a release holds the database's port while it lives); its
    database stays migrated in the module's server."""
    airflow = str(request.param)
    principal = f"airflow-{airflow}@EXAMPLE.COM"
    if principal not in realm.kadmin("listprincs"):
        realm.principal(f"airflow-{airflow}")
    release = _release(tmp_path, postgres, realm, airflow, principal, "nat")
    with release.deployment:
        yield release


# -- helpers --------------------------------------------------------------------------------


def _initialize(pod: PodRun, timeout: float = 300) -> PodStatus:
    """Run the pod's init containers as the kubelet does, until they are done or the first
    ticket's container has failed once (the kubelet would retry it with a back-off)."""
    return pod.run_pod(
        timeout,
        initialize_only=True,
        until=lambda status: any(code != 0 for code in status.exit_codes.get(FIRST, [])),
    )


def _renewed(pod: PodRun) -> None:
    """Until the renewer has renewed its first ticket (Airflow's `kinit -R`) and sleeps."""
    wait_until(
        lambda: RENEWING in pod.log(RENEWER) or not pod.running(RENEWER),
        120,
        "the renewer's first renewal",
        lambda: pod.log(RENEWER),
    )
    time.sleep(2)  # the renewal's outcome is logged right after it
    log = pod.log(RENEWER)
    assert pod.running(RENEWER), log
    assert FAILED_RENEWAL not in log, log


def _service_ticket(pod: PodRun, container: str) -> None:
    """The Airflow container gets a service ticket with the shared cache (its KRB5CCNAME and
    KRB5_CONFIG), as a task's Kerberos hook does."""
    got = pod.exec(container, ["kvno", SERVICE], timeout=30)
    assert got.returncode == 0, got.stdout + got.stderr
    assert "kvno = " in got.stdout, got.stdout


# -- every line, behind NAT --------------------------------------------------------------------


def test_a_celery_worker_starts_with_a_ticket_and_keeps_it(line_release: Release) -> None:
    pod = line_release.worker()
    main = line_release.line.worker
    status = _initialize(pod)
    assert status.initialized, f"{status}\n{pod.log(FIRST)}"
    assert status.exit_codes[FIRST] == [0]
    cache = pod.host_path(main, CACHE)
    assert (cache.stat().st_mode & 0o777, cache.stat().st_uid) == (0o600, 50000)
    listed = pod.exec(main, ["klist", "-c", CACHE], timeout=30)
    assert f"Default principal: {line_release.principal}" in listed.stdout, listed
    _service_ticket(pod, main)
    _renewed(pod)  # started with the worker, once the init containers were done
    assert pod.probe(RENEWER, "startupProbe") and pod.probe(RENEWER, "livenessProbe")
    pod.stop()


def test_a_task_pod_starts_once_there_is_a_ticket(line_release: Release) -> None:
    pod = line_release.task_pod()
    status = _initialize(pod)
    assert status.initialized, f"{status}\n{pod.log(RENEWER)}"
    # the task's container starts only after the renewer's startup probe found a ticket
    assert status.first(RENEWER, "startup probe succeeded") <= status.first("", "initialized")
    _service_ticket(pod, "base")
    _renewed(pod)
    pod.stop()


# -- what goes wrong, on the seed's line ---------------------------------------------------------


def _worker_first_ticket(release: Release) -> tuple[PodStatus, str]:
    with release.deployment:
        pod = release.worker()
        status = _initialize(pod, timeout=180)
        log = pod.log(FIRST)
        pod.stop()
    return status, log


@pytest.mark.parametrize(("route", "works"), [("direct", True), ("nat", False)])
def test_a_ticket_bound_to_the_pod_s_address_is_refused_behind_nat(
    tmp_path: Path, realm: Realm, postgres: Databases, route: Route, works: bool
) -> None:
    principal = realm.principal(f"bound-{route}")
    release = _release(tmp_path, postgres, realm, SEED_LINE, principal, route, includeIp=True)
    status, log = _worker_first_ticket(release)
    assert status.initialized is works, f"{status}\n{log}"
    if not works:
        assert "Incorrect net address" in log, log
        assert "set the kerberos preset's includeIp to false" in log, log


def test_a_principal_without_renewable_life_is_named_with_the_fix(
    tmp_path: Path, realm: Realm, postgres: Databases
) -> None:
    principal = realm.principal("not-renewable", renewable=False)
    release = _release(tmp_path, postgres, realm, SEED_LINE, principal, "nat")
    status, log = _worker_first_ticket(release)
    assert not status.initialized, status  # the worker never started
    assert "Ticket expired while renewing credentials" in log, log
    assert f"give {principal} and krbtgt/EXAMPLE.COM a renewable life" in log, log
    assert "maxrenewlife" in log


def test_a_stale_keytab_keeps_the_worker_from_starting(
    tmp_path: Path, realm: Realm, postgres: Databases
) -> None:
    principal = realm.principal("stale")
    exported = realm.keytab(principal)
    realm.rotate(principal)  # the keytab in the Secret is the old key
    release = _release(tmp_path, postgres, realm, SEED_LINE, principal, "nat", keytab=exported)
    status, log = _worker_first_ticket(release)
    assert not status.initialized, status
    assert "Couldn't reinit from keytab" in log, log
    assert "Preauthentication failed" in log or "Password incorrect" in log, log


def test_with_the_kdc_down_the_worker_does_not_start(
    tmp_path: Path, realm: Realm, postgres: Databases
) -> None:
    principal = realm.principal("kdc-down")
    release = _release(tmp_path, postgres, realm, SEED_LINE, principal, "nat")
    realm.stop()
    try:
        status, log = _worker_first_ticket(release)
    finally:
        realm.start()
    assert not status.initialized, status
    assert not status.happened("worker", "started"), status
    assert "Cannot contact any KDC for realm 'EXAMPLE.COM'" in log, log


def test_the_probes_fail_on_an_expired_ticket_that_is_still_a_file(
    tmp_path: Path, realm: Realm, postgres: Databases
) -> None:
    principal = realm.principal("short-lived", max_life="25 seconds")
    release = _release(tmp_path, postgres, realm, SEED_LINE, principal, "nat")
    with release.deployment:
        pod = release.task_pod()
        status = _initialize(pod)
        assert status.initialized, f"{status}\n{pod.log(RENEWER)}"
        assert pod.probe(RENEWER, "livenessProbe")
        # The renewer sleeps until its next `interval` (an hour); the ticket ends first.
        wait_until(
            lambda: not pod.probe(RENEWER, "livenessProbe"),
            60,
            "the liveness probe on an expired ticket",
        )
        assert not pod.probe(RENEWER, "startupProbe")
        # `test -s` (the probe before) passes on the same cache: the file is still there
        assert pod.exec(RENEWER, ["test", "-s", CACHE]).returncode == 0
        assert pod.host_path("base", CACHE).stat().st_size > 0
        pod.stop()
