#!/usr/bin/python3.11
"""A stand-in for the Cloud SQL Auth Proxy v2 (gcr.io/cloud-sql-connectors/cloud-sql-proxy), run
by the acceptance suite as that image's ENTRYPOINT, /cloud-sql-proxy.

What a pod sees of it is what it sees of the real proxy 2.25:
- the command line: every flag 2.25.3 has, in pflag's syntax (`--flag=v`, `--flag v`, `-p 5432`,
  `--bool`, `--bool=false`, `--`), and its CLOUD_SQL_* environment variables. A flag the real
  proxy does not have ends it as the real one ends: `Error: unknown flag: --x` and exit code 1,
  so a typo in a preset's args fails the test. A real flag whose behaviour is not modelled here
  ends it with exit code 2 and says so, rather than being silently ignored;
- a TCP listener per instance on --address:--port (the first instance on --port, the next on
  --port+1; no --port: 5432, every instance here being PostgreSQL), whose connections it
  forwards to the instance, one upstream connection per client connection;
- with --health-check, /startup, /liveness and /readiness on --http-address:--http-port,
  served once the listeners are open: /startup 200 once it accepts connections (503 before),
  /readiness 503 again once it shuts down or while --max-connections are open, /liveness 200;
- SIGTERM: it waits --min-sigterm-delay (still accepting), then up to --max-sigterm-delay for
  the open connections to close, then exits 0 with --exit-zero-on-sigterm and 143 without;
  connections still open when the wait ran out make it exit 1, after an error. SIGINT: 130;
- its log: --structured-logs writes one JSON object a line (severity, timestamp, message), info
  on stdout and errors on stderr; the lines that matter are "[INSTANCE] Listening on ADDR",
  "[INSTANCE] Accepted connection from ADDR" and "[INSTANCE] failed to connect to instance".

What differs, and why: the real proxy asks the Cloud SQL Admin API (with the pod's Google
identity: Workload Identity on GKE) for the instance's addresses and certificate, then opens a
TLS 1.3 connection to the address of the chosen type (public unless --private-ip). No Admin API
or Cloud SQL instance exists here; instead the image's environment names a directory,
STANDIN_SQLADMIN_DIR, that plays the Admin API and the VPC route at once: an instance is a
directory named by its connection name, holding a Unix socket per IP type it has (`private`,
`public`) that reaches its database. An instance that is not there, or has no address of the
type asked for, fails each connection as the real proxy does (an error line, the client's
connection closed). --auto-iam-authn is accepted and changes nothing (the database here trusts
every connection). Identity, TLS, certificate refresh, metrics and tracing are not modelled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

VERSION = "2.25.3"
SQLADMIN_DIR = "STANDIN_SQLADMIN_DIR"
ENV_PREFIX = "CLOUD_SQL_"
POSTGRES_PORT = 5432


@dataclass(frozen=True)
class Flag:
    kind: str  # bool, string, int, uint, duration
    short: str = ""
    default: str = ""


# The root command's flags in cloud-sql-proxy 2.25.3 (`cloud-sql-proxy --help`).
FLAGS: dict[str, Flag] = {
    "help": Flag("bool", "h", "false"),
    "version": Flag("bool", "v", "false"),
    "config-file": Flag("string"),
    "user-agent": Flag("string"),
    "token": Flag("string", "t"),
    "login-token": Flag("string"),
    "credentials-file": Flag("string", "c"),
    "json-credentials": Flag("string", "j"),
    "gcloud-auth": Flag("bool", "g", "false"),
    "structured-logs": Flag("bool", "l", "false"),
    "debug-logs": Flag("bool", "", "false"),
    "max-connections": Flag("uint", "", "0"),
    "min-sigterm-delay": Flag("duration", "", "0s"),
    "max-sigterm-delay": Flag("duration", "", "0s"),
    "telemetry-project": Flag("string"),
    "disable-traces": Flag("bool", "", "false"),
    "telemetry-sample-rate": Flag("int", "", "10000"),
    "disable-metrics": Flag("bool", "", "false"),
    "telemetry-prefix": Flag("string"),
    "exit-zero-on-sigterm": Flag("bool", "", "false"),
    "prometheus": Flag("bool", "", "false"),
    "prometheus-namespace": Flag("string"),
    "http-address": Flag("string", "", "localhost"),
    "http-port": Flag("string", "", "9090"),
    "debug": Flag("bool", "", "false"),
    "quitquitquit": Flag("bool", "", "false"),
    "admin-port": Flag("string", "", "9091"),
    "health-check": Flag("bool", "", "false"),
    "sqladmin-api-endpoint": Flag("string"),
    "universe-domain": Flag("string"),
    "quota-project": Flag("string"),
    "fuse": Flag("string"),
    "fuse-tmp-dir": Flag("string", "", "/tmp/csql-tmp"),
    "impersonate-service-account": Flag("string"),
    "quiet": Flag("bool", "", "false"),
    "auto-ip": Flag("bool", "", "false"),
    "lazy-refresh": Flag("bool", "", "false"),
    "resource-exhausted-cooldown-delay": Flag("duration", "", "0s"),
    "sqldata-api-endpoint": Flag("string"),
    "run-connection-test": Flag("bool", "", "false"),
    "skip-failed-instance-config": Flag("bool", "", "false"),
    "address": Flag("string", "a", "127.0.0.1"),
    "port": Flag("int", "p", "0"),
    "unix-socket": Flag("string", "u"),
    "auto-iam-authn": Flag("bool", "i", "false"),
    "private-ip": Flag("bool", "", "false"),
    "psc": Flag("bool", "", "false"),
    "sql-data": Flag("bool", "", "false"),
}
# What the stand-in does something with; any other flag, set, ends it (exit code 2).
MODELLED = frozenset(
    {
        "help",
        "version",
        "structured-logs",
        "debug-logs",
        "quiet",
        "max-connections",
        "min-sigterm-delay",
        "max-sigterm-delay",
        "exit-zero-on-sigterm",
        "http-address",
        "http-port",
        "health-check",
        "address",
        "port",
        "auto-iam-authn",
        "private-ip",
    }
)
_SHORT = {flag.short: name for name, flag in FLAGS.items() if flag.short}
# one instance connection name: PROJECT:REGION:INSTANCE, the project maybe domain-scoped
_CONNECTION_NAME = re.compile(r"[^:]+(?::[^:]+)?:[^:]+:[^:]+")
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class UsageError(Exception):
    """A command line the real proxy refuses: `Error: <message>`, exit code 1."""


class NotModelled(Exception):
    """A real flag (or use) the stand-in does not model: exit code 2."""


def duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def _convert(name: str, kind: str, raw: str) -> Any:
    try:
        if kind == "bool":
            if raw.lower() in ("1", "t", "true"):
                return True
            if raw.lower() in ("0", "f", "false"):
                return False
            raise ValueError(f'strconv.ParseBool: parsing "{raw}": invalid syntax')
        if kind in ("int", "uint"):
            if not re.fullmatch(r"[-+]?[0-9]+" if kind == "int" else r"\+?[0-9]+", raw):
                raise ValueError(f'strconv.Parse{kind.title()}: parsing "{raw}": invalid syntax')
            return int(raw)
        if kind == "duration":
            return duration(raw)
        return raw
    except ValueError as error:
        short = FLAGS[name].short
        shown = f"-{short}, --{name}" if short else f"--{name}"
        raise UsageError(f'invalid argument "{raw}" for "{shown}" flag: {error}') from None


@dataclass
class Config:
    values: dict[str, Any]
    explicit: set[str]  # set on the command line or in the environment
    instances: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def _long(arg: str, args: list[str], raw: dict[str, str]) -> None:
    """`--name=value`, `--name value`, `--name` (a bool)."""
    name, eq, value = arg[2:].partition("=")
    name = "sqldata-api-endpoint" if name == "sql-data-endpoint" else name  # the old spelling
    if name not in FLAGS:
        raise UsageError(f"unknown flag: --{name}")
    if not eq:
        if FLAGS[name].kind == "bool":
            value = "true"
        elif args:
            value = args.pop(0)
        else:
            raise UsageError(f"flag needs an argument: --{name}")
    raw[name] = value


def _shorts(arg: str, args: list[str], raw: dict[str, str]) -> None:
    """`-p 5432`, `-p5432`, `-p=5432`, and bools together: `-li`."""
    shorts = arg[1:]
    while shorts:
        letter, shorts = shorts[0], shorts[1:]
        if letter not in _SHORT:
            raise UsageError(f"unknown shorthand flag: {letter!r} in {arg}")
        name = _SHORT[letter]
        if FLAGS[name].kind == "bool":
            if shorts.startswith("="):
                raw[name], shorts = shorts[1:], ""
            else:
                raw[name] = "true"
        elif shorts:
            raw[name], shorts = shorts.removeprefix("="), ""
        elif args:
            raw[name] = args.pop(0)
        else:
            raise UsageError(f"flag needs an argument: {letter!r} in {arg}")


def _instances_from(environ: Mapping[str, str]) -> list[str]:
    """CLOUD_SQL_INSTANCE_CONNECTION_NAME, or _0, _1, ... (only when no argument names one)."""
    found = []
    name = environ.get(f"{ENV_PREFIX}INSTANCE_CONNECTION_NAME") or environ.get(
        f"{ENV_PREFIX}INSTANCE_CONNECTION_NAME_0", ""
    )
    index = 1
    while name:
        found.append(name)
        name = environ.get(f"{ENV_PREFIX}INSTANCE_CONNECTION_NAME_{index}", "")
        index += 1
    return found


def parse(argv: list[str], environ: Mapping[str, str]) -> Config:
    """pflag's parsing of the root command's flags (interspersed with the instance names), then
    viper's CLOUD_SQL_* variables for the flags the command line left unset."""
    raw: dict[str, str] = {}
    positional: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            positional += args
            break
        if arg.startswith("--"):
            _long(arg, args, raw)
        elif arg.startswith("-") and len(arg) > 1:
            _shorts(arg, args, raw)
        else:
            positional.append(arg)
    explicit = set(raw)
    for name in FLAGS:
        variable = ENV_PREFIX + name.upper().replace("-", "_")
        if name not in raw and variable in environ:
            raw[name] = environ[variable]
            explicit.add(name)
    values = {
        name: _convert(name, flag.kind, raw.get(name, flag.default)) for name, flag in FLAGS.items()
    }
    return Config(values, explicit, positional or _instances_from(environ))


def validate(config: Config) -> None:
    """The checks the real proxy makes before it starts, where they touch what is modelled."""
    unmodelled = sorted(name for name in config.explicit if name not in MODELLED)
    # A flag left at its default changes nothing; one set to its default (`--psc=false`) does
    # not either, but is still refused: the stand-in cannot tell what the user meant by it.
    if unmodelled:
        raise NotModelled(
            "stand-in cloud-sql-proxy: not modelled: " + ", ".join(f"--{n}" for n in unmodelled)
        )
    if config["help"] or config["version"]:
        return
    if not config.instances:
        raise UsageError("missing instance_connection_name (e.g., project:region:instance)")
    for name in config.instances:
        if "?" in name:
            raise NotModelled(f"stand-in cloud-sql-proxy: not modelled: query parameters in {name}")
        if not _CONNECTION_NAME.fullmatch(name):
            raise UsageError(
                f"invalid instance connection name, want = PROJECT:REGION:INSTANCE, got = {name}"
            )
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in config["address"] else socket.AF_INET,
                         config["address"])  # fmt: skip
    except OSError:
        raise UsageError(f"not a valid IP address: {config['address']!r}") from None


# -- logging -----------------------------------------------------------------------------------


class Log:
    def __init__(self, structured: bool, quiet: bool, debug: bool) -> None:
        self.structured, self.quiet, self.debug_on = structured, quiet, debug
        self.lock = threading.Lock()

    def _write(self, stream: Any, severity: str, message: str) -> None:
        now = datetime.now(timezone.utc)
        if self.structured:
            line = json.dumps(
                {"severity": severity, "timestamp": now.isoformat(), "message": message}
            )
        else:
            line = f"{now.strftime('%Y/%m/%d %H:%M:%S')} {message}"
        with self.lock:
            stream.write(line + "\n")
            stream.flush()

    def info(self, message: str) -> None:
        if not self.quiet:
            self._write(sys.stdout, "INFO", message)

    def debug(self, message: str) -> None:
        if self.debug_on and not self.quiet:
            self._write(sys.stdout, "DEBUG", message)

    def error(self, message: str) -> None:
        self._write(sys.stderr, "ERROR", message)


# -- the proxy ---------------------------------------------------------------------------------


def pump(source: socket.socket, sink: socket.socket) -> None:
    """One direction of a connection; when it ends, both do (as the real proxy's copy ends the
    connection once either side has closed)."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class Proxy:
    def __init__(self, config: Config, log: Log, sqladmin: Path) -> None:
        self.config, self.log, self.sqladmin = config, log, sqladmin
        self.listeners: list[tuple[str, socket.socket]] = []
        self.open = 0
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.stopping = threading.Event()
        self.closed = threading.Event()

    def listen(self) -> None:
        port = int(self.config["port"]) or POSTGRES_PORT
        for offset, instance in enumerate(self.config.instances):
            address = (self.config["address"], port + offset)
            try:
                listener = socket.create_server(address)
            except OSError as error:
                raise RuntimeError(
                    f"[{instance}] Unable to mount socket: listen tcp "
                    f"{address[0]}:{address[1]}: {error.strerror}"
                ) from None
            listener.settimeout(0.2)
            self.listeners.append((instance, listener))
            self.log.info(f"[{instance}] Listening on {address[0]}:{address[1]}")

    def serve(self) -> None:
        for instance, listener in self.listeners:
            threading.Thread(target=self._accept, args=(instance, listener), daemon=True).start()
        self.started.set()
        self.log.info("The proxy has started successfully and is ready for new connections!")

    def _accept(self, instance: str, listener: socket.socket) -> None:
        while not self.closed.is_set():
            try:
                client, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self.log.info(f"[{instance}] Accepted connection from {peer[0]}:{peer[1]}")
            threading.Thread(target=self._handle, args=(instance, client), daemon=True).start()

    def _upstream(self, instance: str) -> socket.socket:
        """What the Admin API and the VPC give the real proxy: a connection to the instance's
        address of the type asked for (see the module's docstring)."""
        kind = "private" if self.config["private-ip"] else "public"
        where = self.sqladmin / instance
        if not where.is_dir():
            raise ConnectionError(
                f"failed to get instance: Refresh error: instance {instance!r} not found "
                "(or no permission to see it)"
            )
        if not (where / kind).exists():
            raise ConnectionError(f'instance does not have IP of type "{kind.upper()}"')
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(str(where / kind))
        except OSError:
            upstream.close()
            raise
        return upstream

    def _handle(self, instance: str, client: socket.socket) -> None:
        limit = int(self.config["max-connections"])
        with self.lock:
            self.open += 1
            count = self.open
        try:
            if limit and count > limit:
                self.log.info(f"max connections ({limit}) exceeded, refusing new connection")
                return
            try:
                upstream = self._upstream(instance)
            except OSError as error:
                self.log.error(f"[{instance}] failed to connect to instance: {error}")
                return
            back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
            back.start()
            pump(client, upstream)
            back.join()
            upstream.close()
            self.log.debug(f"[{instance}] client closed the connection")
        finally:
            client.close()
            with self.lock:
                self.open -= 1

    def connections(self) -> int:
        with self.lock:
            return self.open

    def close(self, wait: float) -> int:
        """Wait up to `wait` seconds for the open connections to close, then close the
        listeners; the connections still open."""
        deadline = time.monotonic() + wait
        while self.connections() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.closed.set()
        for _, listener in self.listeners:
            listener.close()
        return self.connections() if wait > 0 else 0


# -- health checks -----------------------------------------------------------------------------


def health_server(proxy: Proxy, address: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            path = self.path.split("?", 1)[0]
            limit = int(proxy.config["max-connections"])
            if path == "/startup":
                ok, why = proxy.started.is_set(), "proxy is not started"
            elif path == "/liveness":
                ok, why = True, ""
            elif path == "/readiness":
                ok, why = proxy.started.is_set(), "proxy is not started"
                if ok and proxy.stopping.is_set():
                    ok, why = False, "proxy has stopped"
                if ok and limit and proxy.connections() >= limit:
                    ok, why = False, "max connections reached"
            else:
                self.send_error(404)
                return
            body = b"ok" if ok else why.encode()
            if not ok and path == "/readiness":
                proxy.log.error(f"[Health Check] Readiness failed: {why}")
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the kubelet probes every second; the real proxy does not log them either

    host = "127.0.0.1" if address == "localhost" else address
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True).start()
    return server


# -- main --------------------------------------------------------------------------------------


def run(argv: list[str], environ: Mapping[str, str]) -> int:
    try:
        config = parse(argv, environ)
        validate(config)
    except UsageError as error:
        print(f"Error: {error}", file=sys.stderr)
        print("Run 'cloud-sql-proxy --help' for usage.", file=sys.stderr)
        return 1
    except NotModelled as error:
        print(str(error), file=sys.stderr)
        return 2
    if config["help"]:
        print("cloud-sql-proxy (stand-in) INSTANCE_CONNECTION_NAME...\n\nflags: " + " ".join(
            f"--{name}" for name in FLAGS))  # fmt: skip
        return 0
    if config["version"]:
        print(f"cloud-sql-proxy version {VERSION}+stand-in")
        return 0
    log = Log(config["structured-logs"], config["quiet"], config["debug-logs"])
    if SQLADMIN_DIR not in environ:
        log.error(f"stand-in cloud-sql-proxy: no {SQLADMIN_DIR}: the image names it")
        return 2
    # Signals are taken by the main thread only, with sigwait: the threads inherit the mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    proxy = Proxy(config, log, Path(environ[SQLADMIN_DIR]))
    log.info("Authorizing with Application Default Credentials")
    if config["auto-iam-authn"]:
        log.info("Automatic IAM database authentication: not modelled by the stand-in")
    try:
        proxy.listen()
    except RuntimeError as error:
        log.error(f"The proxy has encountered a terminal error: unable to start: {error}")
        return 1
    server: ThreadingHTTPServer | None = None
    if config["health-check"]:
        address, port = config["http-address"], int(config["http-port"])
        log.info(f"Starting health check server at {address}:{port}")
        try:
            server = health_server(proxy, address, port)
        except OSError as error:
            log.error(f"The proxy has encountered a terminal error: {error}")
            return 1
    proxy.serve()
    received = signal.sigwait({signal.SIGTERM, signal.SIGINT})
    proxy.stopping.set()
    name = "SIGTERM" if received == signal.SIGTERM else "SIGINT"
    log.info(f"{name} signal received. Shutting down...")
    time.sleep(float(config["min-sigterm-delay"]))
    still_open = proxy.close(float(config["max-sigterm-delay"]))
    if server is not None:
        server.shutdown()
        server.server_close()
    if still_open:
        log.error(
            f"error during shutdown: {still_open} connection(s) still open after waiting "
            f"{config['max-sigterm-delay']:g}s"
        )
        return 1
    if received == signal.SIGINT:
        return 130
    return 0 if config["exit-zero-on-sigterm"] else 143


def main() -> None:
    # Flush what the threads wrote, then leave without waiting for them (they are daemons).
    code = run(sys.argv[1:], os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
