"""What the command line does for a caller that keeps stderr from the user, and what the calls of
one Helm 4 run hand each other.

Helm 4 runs its post-renderer plugin with stderr in a buffer it never prints: on a failure it
says only that the plugin "exited with error", and on success every warning is lost. kustomize's
legacy exec plugin puts stderr into its error on a failure and drops it on success. So inject
can also write what it says on stderr to the controlling terminal (the plugin inherits Helm's)
and to a report file that the README names, for CI, which has no terminal.

One caller is one parent process: the plugin script `exec`s inject, so the parent is Helm (or
kustomize) itself. Helm 4's `separate` post-render strategy calls the plugin twice in one
process, the hooks first: both calls' findings go into one report, and the first leaves the
second a record (config.HelmRun) of what the hooks need from the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import NamedTuple

from airflow_sidecars.configuration.config import HelmRun


class Caller(NamedTuple):
    """The process that started this one: its pid, and its start time (Linux: from /proc, so
    that a pid used again by a later process is a new caller; "" where it cannot be read)."""

    pid: int
    started: str

    def header(self) -> str:
        since = f", started {self.started} clock ticks after boot" if self.started else ""
        return f"# airflow-sidecars: what the runs of one caller said (process {self.pid}{since})\n"


def caller() -> Caller:
    pid = os.getppid()
    return Caller(pid, _start_time(pid))


def _start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat, counted after the command name (which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
        return text[text.rindex(b")") + 2 :].split()[19].decode("ascii")
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return ""


def write_report(path: str, text: str, who: Caller) -> str | None:
    """Add `text` to the report of this caller: a report another caller wrote is replaced.
    None, or why it could not be written."""
    header = who.header()
    try:
        with open(path, encoding="utf-8", errors="replace") as old:
            same_caller = old.readline() == header
    except OSError:
        same_caller = False
    try:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        if same_caller:
            with open(path, "a", encoding="utf-8") as report:
                report.write(text)
            return None
        # Written beside it and renamed: a reader never sees half of a new report.
        fd, partial = tempfile.mkstemp(prefix=".airflow-sidecars-report-", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as report:
            report.write(header + text)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None


def tell_terminal(text: str) -> None:
    """`text` on the controlling terminal, when there is one and stderr is not already it (a
    person running inject by hand sees each line once)."""
    if _stderr_is_the_terminal():
        return
    try:
        terminal = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return  # no controlling terminal (CI, a daemon): the report file is the way
    try:
        data = text.encode("utf-8", "replace")
        while data:
            data = data[os.write(terminal, data) :]
    except OSError:
        pass
    finally:
        os.close(terminal)


def _stderr_is_the_terminal() -> bool:
    try:
        os.tcgetpgrp(2)  # fails unless fd 2 is this process's controlling terminal
    except OSError:
        return False
    return True


def _handover_path(who: Caller) -> str:
    folder = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    user = os.getuid() if hasattr(os, "getuid") else 0
    started = f"-{who.started}" if who.started else ""
    return os.path.join(folder, f"airflow-sidecars-helm-{user}-{who.pid}{started}.json")


def take_handover(who: Caller) -> HelmRun:
    """What an earlier call of this Helm run handed on (removed once read: it is for one
    call), else an empty HelmRun. A record that cannot be read counts as none."""
    path = _handover_path(who)
    try:
        with open(path, encoding="utf-8") as record:
            data = json.load(record)
    except (OSError, ValueError):
        return HelmRun()
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
    try:
        annotations = tuple(
            (namespace, str(name), tuple((str(k), str(v)) for k, v in pairs))
            for namespace, name, pairs in data["annotations"]
        )
        sections = tuple(str(section) for section in data["hook_sections"])
        return HelmRun(bool(data["hooks_done"]), annotations, sections)
    except (KeyError, TypeError, ValueError):
        return HelmRun()


def leave_handover(who: Caller, handover: HelmRun) -> None:
    """The record for the next call of this Helm run: readable by this user only (it names
    ServiceAccounts and their annotations)."""
    path = _handover_path(who)
    data = {
        "hooks_done": handover.hooks_done,
        "annotations": handover.annotations,
        "hook_sections": handover.hook_sections,
    }
    folder = os.path.dirname(path)
    try:
        fd, partial = tempfile.mkstemp(prefix=".airflow-sidecars-helm-", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as record:  # mkstemp: mode 0600
            json.dump(data, record)
        os.replace(partial, path)
    except OSError:
        pass  # the next call then says what is missing, as without a record
