"""The services a rendered release talks to, run on the loopback address for the acceptance
suite: a PostgreSQL metadata database reachable under the chart's own service names and ports,
and a fake S3 (moto) with STS for IRSA.

A release's pods reach their database as `<service>.<namespace>:<port>` (the chart's PostgreSQL,
or pgbouncer in front of it). Here the pods' /etc/hosts maps every Service of the render to
127.0.0.1 (kube.Cluster.service_hosts) and a `Forwarder` listens on each port the release
connects to, passing the bytes to one PostgreSQL server, so the release's own connection
string works unchanged.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from acceptance import envs

# The stand-in proxy runs alone in a pod (the standard library only): the one copy of a
# connection's pump is its own, and the Forwarder here uses it.
from acceptance.cloud_sql_proxy import pump as _pump

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
# PostgreSQL refuses to run as root; Debian's package creates this user.
POSTGRES_USER = "postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 that trusts every local connection (the
    chart's passwords then need not match), in a directory of its own."""

    def __init__(self) -> None:
        if not (POSTGRES_BIN / "initdb").exists():
            raise RuntimeError(f"{POSTGRES_BIN}/initdb is missing: apt-get install postgresql")
        user = pwd.getpwnam(POSTGRES_USER)
        # /tmp/pytest-of-root is private to root: the server's user needs its own directory.
        self.root = Path(tempfile.mkdtemp(prefix="airflow-sidecars-pg-", dir="/var/tmp"))
        os.chown(self.root, user.pw_uid, user.pw_gid)
        self.data = self.root / "data"
        self.port = free_port()
        # database -> the Airflow version whose `airflow db migrate` ran on it
        self.migrated: dict[str, str] = {}
        self._as_postgres(
            [
                str(POSTGRES_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            [
                str(POSTGRES_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.root / "log"),
                "-w",
                "start",
            ]
        )

    def _as_postgres(self, argv: list[str]) -> str:
        done = subprocess.run(
            ["runuser", "-u", POSTGRES_USER, "--", *argv],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def sql(self, statement: str, database: str = "postgres") -> str:
        psql = str(POSTGRES_BIN / "psql")
        return self._as_postgres(
            [
                psql,
                "-h",
                str(self.root),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                statement,
            ]
        )

    def ensure(self, user: str, database: str) -> None:
        """A login role and a database, as the release's connection names them."""
        if not self.sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'"):
            self.sql(f'CREATE ROLE "{user}" LOGIN SUPERUSER')
        if not self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
            self.sql(f'CREATE DATABASE "{database}" OWNER "{user}"')

    def close(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                POSTGRES_USER,
                "--",
                str(POSTGRES_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


class Forwarder:
    """127.0.0.1:<listen> -> 127.0.0.1:<target>, a byte pipe per connection (what a Service
    does for the pods). `listen` may be a path instead: a Unix socket there, that any uid may
    connect to. `connections` counts the connections it has passed on."""

    def __init__(self, listen: int | Path, target: int) -> None:
        self.target = target
        self.connections = 0
        if isinstance(listen, Path):
            self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.server.bind(str(listen))
            listen.chmod(0o777)  # connecting to a Unix socket needs write permission on it
            self.server.listen()
        else:
            self.server = socket.create_server(("127.0.0.1", listen), reuse_port=False)
        self.server.settimeout(0.2)
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self.connections += 1
            threading.Thread(target=_connect, args=(client, upstream), daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        self.server.close()
        self.thread.join(timeout=2)


def _connect(client: socket.socket, upstream: socket.socket) -> None:
    """Both directions of one connection; both sockets are closed when both are done."""
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


class FakeS3:
    """moto's server (S3 and STS) on 127.0.0.1, and the AWS CLI run on the host to fill it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "moto.log"
        workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(envs.bin_dir("fake-s3") / "moto_server"),
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port)
        self.home = workdir / "aws-home"
        self.home.mkdir(exist_ok=True)

    def aws(self, *args: str) -> str:
        env = {
            "PATH": f"{envs.bin_dir('aws-cli')}:/usr/bin:/bin",
            "HOME": str(self.home),
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        done = subprocess.run(
            ["aws", *args], env=env, capture_output=True, text=True, check=False, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"aws {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def put(self, bucket: str, key: str, body: bytes, scratch: Path) -> None:
        scratch.write_bytes(body)
        self.aws("s3", "cp", str(scratch), f"s3://{bucket}/{key}", "--no-progress")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
