"""Where the command line's input comes from and where `--in-place` writes it back.

Folders are read the way `kubectl apply -f DIR -R` reads them: depth first, each folder's
entries in name order with subfolders read where they sort, files ending in .yaml, .yml or
.json, symbolic links to folders not followed. Names starting with '.' are skipped (`.git`,
kpt's `.expected`, editors' swap files): they are never manifests.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
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


def write_back(name: str, data: bytes) -> None:
    """Replace the file's content at once (a reader never sees half a file, an interrupted
    run leaves the old file), keeping its permissions; a link is written through."""
    import tempfile  # noqa: PLC0415 - only --in-place pays for it (shutil, random, ...)

    target = os.path.realpath(name)
    mode = stat.S_IMODE(os.stat(target).st_mode)
    folder, base = os.path.split(target)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
