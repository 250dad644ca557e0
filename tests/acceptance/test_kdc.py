"""The realm of kdc.py does what the kerberos preset's tests rely on, seen through the real MIT
client tools (kinit, klist, kvno: the ones the pods' chroot exposes) run on the host.

The words the tools print are checked as they are: the preset's tests and its documentation
quote them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from acceptance import kdc
from acceptance.kdc import REALM, SERVICE, Realm, Route, Transport

pytestmark = [
    pytest.mark.acceptance,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and veths need root"),
]


class Client:
    """The MIT tools with a krb5.conf for one route, a keytab and a FILE: cache in tmp_path."""

    def __init__(self, realm: Realm, tmp_path: Path, principal: str, route: Route) -> None:
        self.principal = principal
        self.config = tmp_path / f"krb5-{route}.conf"
        self.keytab = tmp_path / "keytab"
        self.cache = tmp_path / "ccache"
        self.use(realm, route)
        self.keytab.write_bytes(realm.keytab(principal))

    def use(self, realm: Realm, route: Route, transport: Transport = "tcp") -> None:
        self.config.write_text(realm.krb5_conf(route, transport))

    def run(self, *argv: str, trace: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`trace`: where the library writes what it does (KRB5_TRACE), which KDC it asks how."""
        env = {"PATH": "/usr/bin:/bin", "KRB5_CONFIG": str(self.config)}
        if trace is not None:
            env["KRB5_TRACE"] = str(trace)
        return subprocess.run(
            argv, capture_output=True, text=True, check=False, env=env, timeout=60
        )

    def kinit(self, *options: str, trace: Path | None = None) -> subprocess.CompletedProcess[str]:
        """A ticket from the keytab, as the renewer sidecar gets its first one."""
        keytab, cache = str(self.keytab), str(self.cache)
        return self.run(
            "kinit", *options, "-k", "-t", keytab, "-c", cache, self.principal, trace=trace
        )

    def renew(self) -> subprocess.CompletedProcess[str]:
        return self.run("kinit", "-c", str(self.cache), "-R")

    def valid(self) -> int:
        """`klist -s`'s exit code: 0 while the cache holds a ticket that has not expired."""
        return self.run("klist", "-s", "-c", str(self.cache)).returncode

    def kvno(self) -> subprocess.CompletedProcess[str]:
        return self.run("kvno", "-c", str(self.cache), SERVICE)


def ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{done.args}: {done.stdout}{done.stderr}"


def failed(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 1, f"{done.args} did not fail: {done.stdout}{done.stderr}"
    assert words in done.stderr, done.stderr


def requests_from(realm: Realm, principal: str) -> set[str]:
    """The client addresses the KDC's log shows for `principal`'s requests."""
    sources = set()
    for line in realm.log().splitlines():
        if f" {principal} for " in line and "_REQ (" in line:
            sources.add(line.split("}) ", 1)[1].split(":", 1)[0])
    return sources


def test_direct_route_issues_renews_and_gets_a_service_ticket(realm: Realm, tmp_path: Path) -> None:
    client = Client(realm, tmp_path, realm.principal("direct"), "direct")
    ok(client.kinit("-f", "-a", "-r", "3600m"))
    # pre-authentication happened (the principal requires it): kinit notes its type in the
    # cache, as it does against Active Directory
    assert b"X-CACHECONF:" in client.cache.read_bytes()
    assert b"pa_type" in client.cache.read_bytes()
    ok(client.renew())
    # a renewal writes the cache anew, with the renewed ticket only: the notes are gone
    assert b"X-CACHECONF:" not in client.cache.read_bytes()
    assert client.valid() == 0
    done = client.kvno()
    ok(done)
    assert done.stdout == f"{SERVICE}@{REALM}: kvno = 1\n"
    # the KDC saw the host's own address on the direct link, which is in the ticket
    assert requests_from(realm, client.principal) == {realm.client_addresses["direct"]}
    tickets = client.run("klist", "-a", "-c", str(client.cache)).stdout
    assert realm.client_addresses["direct"] in tickets


def test_nat_route_refuses_an_addressed_ticket_and_takes_an_addressless_one(
    realm: Realm, tmp_path: Path
) -> None:
    client = Client(realm, tmp_path, realm.principal("natted"), "nat")
    ok(client.kinit("-f", "-a", "-r", "3600m"))  # an AS request's addresses are not checked
    failed(client.renew(), "kinit: Incorrect net address while renewing credentials")
    failed(
        client.kvno(),
        f"kvno: Incorrect net address while getting credentials for {SERVICE}@{REALM}",
    )
    # the KDC saw the gateway, not any address of the host
    assert requests_from(realm, client.principal) == {realm.client_addresses["nat"]}
    tickets = client.run("klist", "-a", "-c", str(client.cache)).stdout
    assert realm.client_addresses["nat"] not in tickets

    ok(client.kinit("-f", "-A", "-r", "3600m"))
    ok(client.renew())
    ok(client.kvno())
    assert "Addresses: (none)" in client.run("klist", "-a", "-c", str(client.cache)).stdout


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_nat_route_works_over_either_transport(
    realm: Realm, tmp_path: Path, transport: Transport
) -> None:
    client = Client(realm, tmp_path, realm.principal(f"over-{transport}"), "nat")
    client.use(realm, "nat", transport)
    trace = tmp_path / "trace"
    done = client.kinit("-A", trace=trace)
    ok(done)
    sent = trace.read_text()
    first = "Sending initial UDP request" if transport == "udp" else "Sending TCP request"
    other = "Sending TCP request" if transport == "udp" else "Sending initial UDP request"
    assert first in sent
    assert other not in sent
    ok(client.kvno())


def test_a_ticket_without_renewable_life_cannot_be_renewed(realm: Realm, tmp_path: Path) -> None:
    client = Client(realm, tmp_path, realm.principal("fixed", renewable=False), "direct")
    ok(client.kinit("-f", "-a", "-r", "3600m"))
    # asked for, granted in name only: renewable until the second it was issued
    tickets = client.run("klist", "-c", str(client.cache)).stdout.splitlines()
    issued = tickets[4].split()[:2]
    assert tickets[5].split()[2:4] == issued, tickets
    time.sleep(1.1)  # KDC times are whole seconds: that second has passed
    failed(client.renew(), "kinit: Ticket expired while renewing credentials")

    # a ticket not asked renewable is refused for what it is
    ok(client.kinit("-f", "-a"))
    failed(client.renew(), "kinit: KDC can't fulfill requested option while renewing credentials")


def test_a_rotated_key_makes_the_old_keytab_stale(realm: Realm, tmp_path: Path) -> None:
    client = Client(realm, tmp_path, realm.principal("rotated"), "direct")
    ok(client.kinit())
    realm.rotate(client.principal)
    failed(
        client.kinit(),
        "kinit: Preauthentication failed while getting initial credentials",
    )
    client.keytab.write_bytes(realm.keytab(client.principal))
    ok(client.kinit())


def test_a_stopped_kdc_cannot_be_contacted(realm: Realm, tmp_path: Path) -> None:
    client = Client(realm, tmp_path, realm.principal("patient"), "nat")
    realm.stop()
    try:
        failed(
            client.kinit(),
            f"kinit: Cannot contact any KDC for realm '{REALM}' while getting initial credentials",
        )
    finally:
        realm.start()
    ok(client.kinit())


def test_klist_s_fails_on_an_expired_or_missing_cache(realm: Realm, tmp_path: Path) -> None:
    client = Client(realm, tmp_path, realm.principal("brief", max_life="3 seconds"), "direct")
    assert client.valid() == 1  # no cache yet
    ok(client.kinit())
    assert client.valid() == 0
    time.sleep(4)
    assert client.valid() == 1


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _host_links(block: int) -> list[str]:
    listed = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True
    )
    prefix = f"krb{block}"
    return [
        name
        for name in (line.split(": ")[1].split("@")[0] for line in listed.stdout.splitlines())
        if name[len(prefix) :].isalpha() and name.startswith(prefix)
    ]


def test_a_realm_that_fails_half_way_leaves_nothing(
    realm: Realm, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Realm] = []
    holders: list[int] = []
    build_links, run = Realm._build_links, kdc._run

    def remember(self: Realm) -> None:
        started.append(self)
        build_links(self)

    def refuse_the_route(argv: Sequence[str], *args: Any, **kwargs: Any) -> str:
        if list(argv[:3]) == ["ip", "route", "add"]:  # the network's last step
            assert _host_links(started[0].block), "the links were made"
            holders.extend(namespace.holder.pid for namespace in started[0]._namespaces)
            raise RuntimeError("route refused")
        return run(argv, *args, **kwargs)

    monkeypatch.setattr(Realm, "_build_links", remember)
    monkeypatch.setattr(kdc, "_run", refuse_the_route)
    with pytest.raises(RuntimeError, match="route refused"):
        Realm()
    (half,) = started
    assert half.block != realm.block  # this module's realm is still there
    assert _host_links(half.block) == []
    assert not half.root.exists()
    assert len(holders) == 2  # the KDC's namespace and the gateway's
    assert not any(_alive(pid) for pid in holders)


def test_nothing_outlives_a_killed_test_process(realm: Realm) -> None:
    script = (
        "import time\n"
        "from acceptance.kdc import Realm\n"
        "realm = Realm()\n"
        "pids = [realm._kdc.pid, *(n.holder.pid for n in realm._namespaces)]\n"
        "print(realm.block, realm.root, *pids, flush=True)\n"
        "time.sleep(600)\n"
    )
    tests = Path(__file__).resolve().parents[1]
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=tests, stdout=subprocess.PIPE, text=True
    ) as other:
        assert other.stdout is not None
        block, root, *pids = other.stdout.readline().split()
        assert int(block) != realm.block
        assert len(_host_links(int(block))) == 2  # direct, and the uplink to the gateway
        assert all(_alive(int(pid)) for pid in pids)
        other.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        _host_links(int(block)) or any(_alive(int(pid)) for pid in pids)
    ):
        time.sleep(0.1)
    assert _host_links(int(block)) == []
    assert not any(_alive(int(pid)) for pid in pids)
    shutil.rmtree(root)  # the one thing a killed process leaves behind
