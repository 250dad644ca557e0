"""A real MIT Kerberos realm for the acceptance suite: `EXAMPLE.COM`, one KDC per test session.

The pods run on the host's network namespace; the KDC runs in a network namespace of its own,
reached from the host two ways, so that the tests see what a KDC outside the cluster sees:

- "direct": a veth pair host <-> KDC. The KDC sees the client's own address (a local address
  of the host), the one `kinit -a` puts into the ticket.
- "nat": host <-> a gateway namespace <-> KDC, the gateway forwarding and masquerading on its
  KDC-facing interface. The KDC sees the gateway's address, as a KDC outside a cluster sees a
  pod behind the cluster's egress NAT: a ticket with the pod's addresses in it is then refused
  where the KDC checks them (a renewal, a service ticket).

    198.18.N.1 host ------------- 198.18.N.2  KDC   (direct)
    198.18.N.5 host -- 198.18.N.6 gateway 198.18.N.9 -- 198.18.N.10 KDC   (nat)

The addresses come from 198.18.0.0/15 (RFC 2544, set aside for network tests), a /28 of it per
realm that no route or address of the host overlaps (10.88.0.0/16, the usual example, is
podman's default network). Interface names carry the /28's number, so two sessions on one
machine do not collide; a lock file orders their choices.

Everything is in a temporary directory (kdc.conf, krb5.conf, the database, its stash, the ACL,
the log): the environment (KRB5_CONFIG, KRB5_KDC_PROFILE) points MIT's tools at it, /etc/krb5.conf
and /etc/krb5kdc are never read or written. Nothing outlives the test process: the namespaces'
holder processes end when their stdin (a pipe from this process) closes, the KDC gets SIGKILL
when this process dies (setpriv --pdeathsig), and a namespace's interfaces (and their peers on
the host) go with it. The host's netfilter rules and sysctls are never touched: the gateway's
forwarding and NAT are its own namespace's.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal

REALM = "EXAMPLE.COM"
SERVICE = "HTTP/airflow.example.com"  # what a task's Kerberos hook asks a service ticket for
Route = Literal["direct", "nat"]
Transport = Literal["tcp", "udp"]

# RFC 2544's benchmarking block: nobody routes it, and a /28 of it holds the three /30 links.
_BLOCKS = ipaddress.ip_network("198.18.0.0/15")
_BLOCK_PREFIX = 28
_ALLOCATION_LOCK = Path("/run/lock/airflow-sidecars-kdc.lock")
_KDC_PORT = 88
# kdb5_util asks for it once; the stash file holds it afterwards.
_MASTER_PASSWORD = "master-key-of-a-throwaway-realm"
# `ip route show table all` starts a line with the route's type, unless it is "unicast".
_ROUTE_TYPES = ("local", "broadcast", "unreachable", "blackhole", "prohibit", "multicast", "nat")
# A holder keeps a network namespace alive; `read` ends with this process (its stdin's EOF).
_HOLDER = "ip link set lo up && echo up && read -r _"


def _run(argv: Sequence[str], env: dict[str, str] | None = None, what: str = "") -> str:
    done = subprocess.run(
        list(argv), capture_output=True, text=True, check=False, env=env, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{what or argv[0]} failed (exit {done.returncode}): {' '.join(argv)}\n"
            f"{done.stdout}{done.stderr}"
        )
    return done.stdout


class _Namespace:
    """A network namespace kept by a holder process, with its loopback interface up."""

    def __init__(self) -> None:
        self.holder = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", _HOLDER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.holder.stdout is not None
        with self.holder.stdout:
            if self.holder.stdout.readline() != b"up\n":
                self.close()
                raise RuntimeError("could not make a network namespace (unshare --net)")
        self.path = f"/proc/{self.holder.pid}/ns/net"

    def enter(self, *argv: str) -> list[str]:
        return ["nsenter", f"--net={self.path}", "--", *argv]

    def run(self, *argv: str) -> str:
        return _run(self.enter(*argv), what=f"{argv[0]} in a namespace")

    def close(self) -> None:
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait()
        if self.holder.stdin is not None:
            self.holder.stdin.close()


def _taken_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the host has a route (other than the default) or an address in."""
    prefixes = [line.split()[3] for line in _run(["ip", "-4", "-o", "addr", "show"]).splitlines()]
    for line in _run(["ip", "-4", "-o", "route", "show", "table", "all"]).splitlines():
        words = line.split()
        if words and words[0] in _ROUTE_TYPES:
            words = words[1:]
        if words and words[0] != "default":
            prefixes.append(words[0])
    return [ipaddress.IPv4Network(prefix, strict=False) for prefix in prefixes]


def _links() -> set[str]:
    return {
        line.split(": ")[1].split("@")[0]
        for line in _run(["ip", "-o", "link", "show"]).splitlines()
    }


class Realm:
    """The realm EXAMPLE.COM: a database in a temporary directory, `krb5kdc` in a network
    namespace of its own, reachable from the host directly and through a NAT gateway (see the
    module's docstring). A context manager: closing it removes every namespace, interface and
    file it made."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="airflow-sidecars-kdc-", dir="/var/tmp"))
        self.root.chmod(0o755)
        self._kdc: subprocess.Popen[bytes] | None = None
        self._namespaces: list[_Namespace] = []
        self._host_links: list[str] = []
        self.timings: dict[str, float] = {}
        started = time.monotonic()
        try:
            self._write_config()
            self._create_database()
            self.timings["database"] = time.monotonic() - started
            self._make_network()
            self.timings["network"] = time.monotonic() - started - self.timings["database"]
            self.start()
        except BaseException:
            self.close()
            raise
        self.timings["start"] = time.monotonic() - started

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self) -> Realm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- configuration ------------------------------------------------------------------------

    @property
    def _env(self) -> dict[str, str]:
        """What MIT's tools read instead of /etc/krb5.conf and /etc/krb5kdc/kdc.conf."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "KRB5_CONFIG": str(self.root / "krb5.conf"),
            "KRB5_KDC_PROFILE": str(self.root / "kdc.conf"),
        }

    def _write_config(self) -> None:
        root = self.root
        (root / "kdc.conf").write_text(
            f"""[kdcdefaults]
    kdc_listen = {_KDC_PORT}
    kdc_tcp_listen = {_KDC_PORT}

[realms]
    {REALM} = {{
        database_name = {root}/principal
        key_stash_file = {root}/stash
        acl_file = {root}/kadm5.acl
        admin_keytab = FILE:{root}/kadm5.keytab
        max_life = 10h 0m 0s
        max_renewable_life = 7d 0h 0m 0s
    }}

[logging]
    kdc = FILE:{root}/kdc.log
    admin_server = FILE:{root}/kadmin.log
    default = FILE:{root}/krb5lib.log
"""
        )
        (root / "kadm5.acl").write_text(f"*/admin@{REALM} *\n")
        # The tools on the KDC's side only need the realm's name; the KDC is never asked
        # over the network from here (kadmin.local edits the database itself).
        (root / "krb5.conf").write_text(
            f"[libdefaults]\n    default_realm = {REALM}\n    dns_lookup_kdc = false\n"
            f"    dns_lookup_realm = false\n"
        )

    def _create_database(self) -> None:
        _run(
            ["kdb5_util", "-r", REALM, "create", "-s", "-P", _MASTER_PASSWORD],
            self._env,
            "kdb5_util create",
        )
        # the ticket-granting service's own limit caps every renewable life in the realm
        self.kadmin(f'modprinc -maxrenewlife "7 days" -maxlife "10 hours" krbtgt/{REALM}')

    def kadmin(self, query: str) -> str:
        """One kadmin.local query (it edits the database directly, no kadmind); its output.
        kadmin.local -q exits 0 even when the query fails: its error line says so."""
        done = subprocess.run(
            ["kadmin.local", "-r", REALM, "-q", query],
            capture_output=True,
            text=True,
            check=False,
            env=self._env,
            timeout=60,
        )
        # a failed query prints "<command>: <message> while <doing>" on stderr
        errors = [line for line in done.stderr.splitlines() if " while " in line]
        if done.returncode != 0 or errors:
            raise RuntimeError(f"kadmin.local -q {query!r}: {done.stdout}{done.stderr}")
        return done.stdout

    # -- network ------------------------------------------------------------------------------

    def _make_network(self) -> None:
        _ALLOCATION_LOCK.parent.mkdir(parents=True, exist_ok=True)
        with _ALLOCATION_LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # chosen and claimed (the host's end gets its address) under the lock
            self.block = self._free_block()
            self._build_links()

    def _free_block(self) -> int:
        taken = _taken_networks()
        links = _links()
        count = _BLOCKS.num_addresses >> (32 - _BLOCK_PREFIX)
        for step in range(count):
            number = (os.getpid() + step) % count
            block = self._network(number)
            if any(block.overlaps(net) for net in taken):
                continue
            if {f"krb{number}d", f"krb{number}u"} & links:  # a realm's, with its route gone
                continue
            return number
        raise RuntimeError(f"no free /{_BLOCK_PREFIX} in {_BLOCKS} for the KDC's links")

    @staticmethod
    def _network(number: int) -> ipaddress.IPv4Network:
        size = 1 << (32 - _BLOCK_PREFIX)
        return ipaddress.IPv4Network((int(_BLOCKS.network_address) + number * size, _BLOCK_PREFIX))

    def _address(self, offset: int) -> str:
        return str(self._network(self.block).network_address + offset)

    def _link(self, host_end: str, peer: str, namespace: _Namespace) -> None:
        """A veth pair: `host_end` stays on the host, `peer` moves into `namespace`."""
        _run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", peer])
        self._host_links.append(host_end)
        _run(["ip", "link", "set", peer, "netns", str(namespace.holder.pid)])

    def _build_links(self) -> None:
        n = self.block
        kdc = _Namespace()
        self._namespaces.append(kdc)
        gateway = _Namespace()
        self._namespaces.append(gateway)
        direct_host, direct_kdc = self._address(1), self._address(2)
        uplink_host, uplink_gateway = self._address(5), self._address(6)
        inner_gateway, inner_kdc = self._address(9), self._address(10)
        self.addresses: dict[Route, str] = {"direct": direct_kdc, "nat": inner_kdc}
        # the host's view of who talks to the KDC, for the tests to compare with its log
        self.client_addresses: dict[Route, str] = {"direct": direct_host, "nat": inner_gateway}

        # direct: host <-> KDC
        self._link(f"krb{n}d", f"krb{n}dk", kdc)
        _run(["ip", "addr", "add", f"{direct_host}/30", "dev", f"krb{n}d"])
        _run(["ip", "link", "set", f"krb{n}d", "up"])
        kdc.run("ip", "addr", "add", f"{direct_kdc}/30", "dev", f"krb{n}dk")
        kdc.run("ip", "link", "set", f"krb{n}dk", "up")

        # nat: host <-> gateway <-> KDC
        self._link(f"krb{n}u", f"krb{n}ug", gateway)
        _run(["ip", "addr", "add", f"{uplink_host}/30", "dev", f"krb{n}u"])
        _run(["ip", "link", "set", f"krb{n}u", "up"])
        gateway.run("ip", "addr", "add", f"{uplink_gateway}/30", "dev", f"krb{n}ug")
        gateway.run("ip", "link", "set", f"krb{n}ug", "up")
        # the inner link is made inside the gateway: its names never exist on the host
        gateway.run("ip", "link", "add", "inner", "type", "veth", "peer", "name", f"krb{n}ik")
        gateway.run("ip", "link", "set", f"krb{n}ik", "netns", str(kdc.holder.pid))
        gateway.run("ip", "addr", "add", f"{inner_gateway}/30", "dev", "inner")
        gateway.run("ip", "link", "set", "inner", "up")
        kdc.run("ip", "addr", "add", f"{inner_kdc}/30", "dev", f"krb{n}ik")
        kdc.run("ip", "link", "set", f"krb{n}ik", "up")
        # the gateway's own sysctl (a namespace has its own copy; the host's stays as it is)
        gateway.run("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        masquerade = (
            "table ip egress {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat;\n"
            '    oifname "inner" masquerade\n'
            "  }\n"
            "}\n"
        )
        rules = self.root / "gateway.nft"
        rules.write_text(masquerade)
        gateway.run("nft", "-f", str(rules))
        _run(["ip", "route", "add", f"{inner_kdc}/32", "via", uplink_gateway])
        self._kdc_namespace = kdc

    # -- the KDC ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start krb5kdc (in the foreground, -n) in its namespace; return once it answers."""
        if self._kdc is not None and self._kdc.poll() is None:
            return
        with (self.root / "krb5kdc.out").open("ab") as out:
            self._kdc = subprocess.Popen(
                self._kdc_namespace.enter("setpriv", "--pdeathsig", "KILL", "--", "krb5kdc", "-n"),
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._kdc.poll() is not None:
                raise RuntimeError(f"krb5kdc exited {self._kdc.returncode}: {self.log()}")
            try:
                with socket.create_connection((self.addresses["direct"], _KDC_PORT), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"krb5kdc does not answer on port {_KDC_PORT}: {self.log()}")

    def stop(self) -> None:
        """Stop the KDC (the clients then cannot reach any KDC); `start()` starts it again."""
        if self._kdc is None:
            return
        if self._kdc.poll() is None:
            self._kdc.terminate()
            try:
                self._kdc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kdc.kill()
                self._kdc.wait()
        self._kdc = None

    def log(self) -> str:
        """The KDC's log (one line per request: the client's address, ISSUE or the error)."""
        text = ""
        for name in ("krb5kdc.out", "kdc.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text

    # -- what clients use ---------------------------------------------------------------------

    def krb5_conf(self, route: Route, transport: Transport = "tcp") -> str:
        """A client's krb5.conf reaching the KDC over `route`. No DNS anywhere (the realm and
        its KDC are named here, hostnames are taken as written). `transport` "tcp": TCP first
        (udp_preference_limit = 1), UDP if TCP fails; "udp": UDP first (every message is far
        below the limit), TCP if the KDC asks (a reply too big for a datagram)."""
        limit = 1 if transport == "tcp" else 65535
        return (
            "[libdefaults]\n"
            f"    default_realm = {REALM}\n"
            "    dns_lookup_kdc = false\n"
            "    dns_lookup_realm = false\n"
            "    rdns = false\n"
            "    dns_canonicalize_hostname = false\n"
            f"    udp_preference_limit = {limit}\n"
            "\n"
            "[realms]\n"
            f"    {REALM} = {{\n"
            f"        kdc = {self.addresses[route]}:{_KDC_PORT}\n"
            "    }\n"
            "\n"
            "[domain_realm]\n"
            f"    .example.com = {REALM}\n"
            f"    example.com = {REALM}\n"
        )

    def principal(self, name: str, *, renewable: bool = True, max_life: str | None = None) -> str:
        """A user principal `name@EXAMPLE.COM` with a random key (a keytab is its only
        credential) that requires pre-authentication, as Active Directory does. `renewable`:
        tickets renewable for up to 7 days, else not renewable at all. `max_life` (kadmin's
        words, "30 seconds") caps its tickets' life below the realm's 10 hours."""
        life = f' -maxlife "{max_life}"' if max_life else ""
        renew = '"7 days"' if renewable else "0"
        self.kadmin(f"addprinc -randkey +requires_preauth -maxrenewlife {renew}{life} {name}")
        return f"{name}@{REALM}"

    def service(self, name: str) -> str:
        """A service principal (`HTTP/airflow.example.com`) with a random key: what a client
        asks a service ticket for (`kvno`)."""
        self.kadmin(f"addprinc -randkey {name}")
        return f"{name}@{REALM}"

    def keytab(self, principal: str) -> bytes:
        """A keytab with `principal`'s current keys, the keys left as they are (-norandkey):
        every keytab exported between two `rotate`s works."""
        scratch = Path(tempfile.mkdtemp(dir=self.root))
        try:
            path = scratch / "keytab"
            self.kadmin(f"ktadd -k {path} -norandkey {principal}")
            return path.read_bytes()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def rotate(self, principal: str) -> None:
        """A new random key for `principal` (its key version goes up): keytabs exported before
        no longer get tickets."""
        self.kadmin(f"cpw -randkey {principal}")

    # -- teardown -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the KDC, delete the host's veths, end the namespaces (and with them their
        interfaces, routes and NAT rules), remove the directory. Safe to call twice and after
        a failed start."""
        with contextlib.suppress(Exception):
            self.stop()
        for name in self._host_links:
            # a route through it goes with the interface
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
        self._host_links.clear()
        for namespace in self._namespaces:
            namespace.close()
        self._namespaces.clear()
        shutil.rmtree(self.root, ignore_errors=True)
