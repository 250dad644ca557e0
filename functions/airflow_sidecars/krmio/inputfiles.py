"""Where the command line's input comes from and where `--in-place` writes it back.

Folders are read the way `kubectl apply -f DIR -R` reads them: depth first, each folder's
entries in name order with subfolders read where they sort, files ending in .yaml, .yml or
.json, symbolic links to folders not followed. Names starting with '.' are skipped (`.git`,
kpt's `.expected`, editors' swap files): they are never manifests.

An `--in-place` run locks the folders that hold its files for the whole read-plan-write, and
writes nothing when a file no longer holds the bytes it read (`lock`, `replace_all`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import time
from collections.abc import Callable

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


def expand(names: list[str]) -> list[str]:
    """The files to read: each name as given, a folder replaced by the files under it.
    Raises OSError for a folder that holds none (a wrong path must not read as an empty
    render)."""
    files: list[str] = []
    for name in names:
        if name != STDIN and os.path.isdir(name):
            found = _walk(name)
            if not found:
                raise OSError(errno.ENOENT, "no *.yaml, *.yml or *.json files in the folder", name)
            files += found
        else:
            files.append(name)
    return files


def _walk(folder: str) -> list[str]:
    found: list[str] = []
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            found += _walk(entry.path)
        elif entry.name.endswith(SUFFIXES) and entry.is_file():
            found.append(entry.path)
    return found


def read(name: str, waiting: Callable[[], None]) -> bytes:
    """A file's bytes, or stdin's; `waiting` is called first when stdin is a terminal (a
    person who ran the command without input would otherwise see nothing happen)."""
    if name == STDIN:
        if sys.stdin is None:  # the process was started with stdin closed
            raise OSError(errno.EBADF, "stdin is closed: give the input as a file")
        if sys.stdin.isatty():
            waiting()
        return sys.stdin.buffer.read()
    with open(name, "rb") as handle:
        return handle.read()


def twice(files: list[str]) -> str | None:
    """A file named twice (directly, through a folder, or a link): written back in place, the
    second write would lose the first."""
    seen: set[str] = set()
    for name in files:
        real = os.path.realpath(name)
        if real in seen:
            return name
        seen.add(real)
    return None


class Held(Exception):
    """Another run kept a folder's lock longer than this run would wait."""

    def __init__(self, folder: str) -> None:
        super().__init__(folder)
        self.folder = folder


class Stale(Exception):
    """A file no longer holds the bytes the run read: someone else wrote it meanwhile."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def replace_all(read: list[tuple[str, bytes]], changes: list[tuple[str, bytes]]) -> None:
    """Write each (name, new bytes) of `changes` back, or none of them: each file's content is
    replaced at once (a reader never sees half a file, an interrupted run leaves the old file),
    keeping its permissions; a link is written through.

    Raises Stale when a file of `read` (every input, name and the bytes the run read) no longer
    holds those bytes: someone who does not take the lock changed it, and writing would lose
    that change, or put out what was planned from what is no longer there. The new contents go
    into temporary files first, then every input is checked, then the renames follow: a run
    that finds a change has written nothing. What remains is the moment between the check and
    the renames (only renames happen in it, no content is read or written): a change made then
    is lost, as is one written after the rename through a descriptor opened before it (it goes
    to the replaced file). Raises OSError when a file cannot be written; the files not yet
    renamed stay as they were."""
    import tempfile  # noqa: PLC0415 - only --in-place pays for it (shutil, random, ...)

    pending: list[tuple[str, str, str]] = []  # (name, temporary, target)
    name = ""
    try:
        for name, data in changes:
            target = os.path.realpath(name)
            mode = stat.S_IMODE(os.stat(target).st_mode)
            folder, base = os.path.split(target)
            descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".tmp")
            pending.append((name, temporary, target))
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, mode)
        for name, before in read:
            with open(name, "rb") as handle:
                if handle.read() != before:
                    raise Stale(name)
        while pending:
            name, temporary, target = pending[0]
            os.replace(temporary, target)
            pending.pop(0)
    except OSError as error:  # named by the input, not by a temporary file
        raise OSError(error.errno, error.strerror or str(error), name) from error
    finally:
        for _, temporary, _ in pending:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def lock_folders(files: list[str]) -> list[str]:
    """The folders an `--in-place` run over `files` locks: the real folder of each file (the
    folder its write-back renames into; a link is written through), once each, in the order of
    their paths. Every run takes its locks in that one order, so two runs cannot each hold a
    lock the other waits for. Locking the folder of each file, not the folder named on the
    command line, also serialises a run on a folder with a run on one file inside it."""
    return sorted({os.path.dirname(os.path.realpath(name)) for name in files})


def lock(
    files: list[str],
    seconds: float,
    waiting: Callable[[str], None],
    unlockable: Callable[[str, OSError], None],
) -> list[int]:
    """Take an exclusive advisory lock (flock) on each of the files' folders, waiting at most
    `seconds` in all; returns the descriptors that hold them (`unlock` lets go). `waiting` is
    called once, with the folder, when a lock is taken by someone else; raises Held when it is
    still taken after `seconds`.

    The lock is flock(2) on the folder's own descriptor: nothing is written into the user's
    tree (no lock file to leave behind or commit), and it ends with the process, however that
    ends. Only runs that take it are kept out: an editor is not (`replace_all` checks for
    that). Where there is no flock (no `fcntl` module, as on Windows) nothing is locked; where
    the file system refuses it (some network file systems), `unlockable` is told and the run
    goes on unlocked. Either way `replace_all` still refuses to write over a file that changed
    since it was read, so a run that loses a race fails instead of writing."""
    try:
        import fcntl  # noqa: F401, PLC0415 - only --in-place pays for it
    except ImportError:  # pragma: no cover - not POSIX
        return []
    held: list[int] = []
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + seconds
    try:
        for folder in lock_folders(files):
            try:
                descriptor = os.open(folder, os.O_RDONLY)
            except OSError as error:  # a folder one may search but not list
                unlockable(folder, error)
                continue
            identity = os.fstat(descriptor)
            # One folder under two real paths (a bind mount): a second flock by this process
            # on another descriptor would wait for itself.
            if (identity.st_dev, identity.st_ino) in seen:
                os.close(descriptor)
                continue
            seen.add((identity.st_dev, identity.st_ino))
            held.append(descriptor)
            _take(descriptor, folder, deadline, waiting, unlockable)
    except BaseException:
        unlock(held)
        raise
    return held


def _take(
    descriptor: int,
    folder: str,
    deadline: float,
    waiting: Callable[[str], None],
    unlockable: Callable[[str, OSError], None],
) -> None:
    """One folder's lock, tried without blocking until `deadline` (flock itself cannot wait
    for a bounded time)."""
    import fcntl  # noqa: PLC0415

    told = False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError as error:  # ENOLCK, EOPNOTSUPP, EBADF: the file system has no locks
            unlockable(folder, error)
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise Held(folder)
        if not told:
            waiting(folder)
            told = True
        time.sleep(min(0.05, left))


def unlock(held: list[int]) -> None:
    """Let go of the locks `lock` took (closing the descriptor releases its flock)."""
    for descriptor in held:
        os.close(descriptor)
    held.clear()
