"""A program run with a terminal of its own, as a person runs Helm or kustomize: `pty.fork()`
gives the child a new session whose controlling terminal is a pseudo terminal, and what is
written to that terminal (/dev/tty) is read here. The child's stdout and stderr go to files,
so the terminal holds only what a program wrote to /dev/tty itself: what a caller that keeps
stdout and stderr (Helm 4's plugin runner, kustomize) leaves the person to see.
"""

from __future__ import annotations

import os
import pty
import select
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple


class Ran(NamedTuple):
    status: int  # the exit status (a signal: 128 + its number)
    terminal: str  # what the program wrote to its controlling terminal
    stdout: bytes
    stderr: str


def run_in_terminal(
    argv: Sequence[str],
    env: Mapping[str, str],
    scratch: Path,
    timeout: float = 120,
    *,
    stderr_on_terminal: bool = False,
) -> Ran:
    """Run `argv` (the program as a path) in a pseudo terminal; `scratch` holds its stdout and
    stderr files. `stderr_on_terminal`: stderr stays the terminal (a person running the
    program by hand), and Ran.stderr is empty."""
    out, err = scratch / "terminal-run.stdout", scratch / "terminal-run.stderr"
    err.write_text("")
    redirected = ((1, out),) if stderr_on_terminal else ((1, out), (2, err))
    pid, master = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and stderr are the terminal, until these
        try:
            for fd, path in redirected:
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(handle, fd)
                os.close(handle)
            os.execve(argv[0], list(argv), dict(env))
        finally:
            os._exit(127)
    read = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every program holding the terminal has closed it
                break
            if not chunk:
                break
            read += chunk
        else:
            os.kill(pid, 9)
    finally:
        os.close(master)
    _, wait_status = os.waitpid(pid, 0)
    status = os.waitstatus_to_exitcode(wait_status)
    status = status if status >= 0 else 128 - status
    # A terminal turns "\n" into "\r\n" on output.
    terminal = read.decode("utf-8", "replace").replace("\r\n", "\n")
    return Ran(status, terminal, out.read_bytes(), err.read_text(errors="replace"))
