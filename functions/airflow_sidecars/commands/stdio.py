"""stdout and stderr for the console scripts: data on one, words for people on the other, and
neither a closed nor a full stream turns into a traceback."""

from __future__ import annotations

import errno
import os
import sys

# What was said on stderr, kept for a caller that does not show stderr (caller.py); None when
# nobody asked.
_kept: list[str] | None = None


def keep_said() -> None:
    """From now on, keep a copy of what is said."""
    global _kept  # noqa: PLW0603 - one process, one run: the command line's own state
    _kept = []


def said() -> str:
    """What was said since keep_said()."""
    return "".join(_kept or [])


def say(text: str) -> None:
    """A line for people on stderr. A closed stderr loses the words, never the run."""
    if _kept is not None:
        _kept.append(text)
    if sys.stderr is None:
        return
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except OSError:
        pass


def write_stdout(data: bytes, who: str) -> bool:
    """stdout carries the output; when it cannot (closed, a full device, a reader that went
    away) `who` says so on stderr and the run fails, without a traceback."""
    try:
        if sys.stdout is None:
            raise OSError(errno.EBADF, "stdout is closed")
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as error:
        say(f"{who}: cannot write the output: {error.strerror or error}\n")
        # Python flushes stdout again at exit; point it at /dev/null so that it has nothing
        # left to fail on.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        return False
    return True
