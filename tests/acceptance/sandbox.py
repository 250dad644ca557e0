"""Start one process the way a container runtime starts a container's process, without one.

Each launch is `unshare --mount --uts --fork` running a generated shell script: it assembles the
container's root in a private mount namespace (nothing is mounted on the host), then chroots into
it and drops to the container's user with `setpriv`. What the process sees:

- `/` is the container's writable layer: a host directory per container (see `new_layer`), root
  owned, mode 0755, so an unknown uid cannot create `/.aws` - as in an image with no passwd entry.
  It holds a copy of the host's /etc (images carry their own /etc; a copy lets mounts land under
  /etc, as runc creates mount points inside the image) and a /tmp with mode 1777. A layer is
  shared by every process of one container start (main process, exec, probe), as in a container.
- /usr (and the merged-/usr symlinks /bin, /lib, ...) is the host's, bound read-only: the image's
  software is the host's, plus the bin dirs and venvs the test names, bound at the same path.
- /proc is a fresh proc mount, /dev a minimal tmpfs with the usual character devices (not the
  host's /dev: a root process in the sandbox must not reach the host's disks).
- Volumes are bind mounts of host directories (or files, for a subPath of a Secret key).
- The network is the host's, or a network namespace of the pod's own that every container of
  the pod enters (`Launch.netns`, see kube.PodRun).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

# What Docker and containerd give a container unless its securityContext says otherwise.
DEFAULT_CAPABILITIES = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    }
)

# Top-level names that a merged-/usr Debian has as symlinks into /usr (or as real dirs elsewhere).
_USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


@dataclass(frozen=True)
class Bind:
    """One mount in the container: a host path bound at `target` (absolute, container view)."""

    source: Path
    target: str
    read_only: bool


@dataclass(frozen=True)
class Launch:
    """Everything the runtime needs to start one process of a container."""

    layer: Path  # the container's root (see new_layer)
    hostname: str
    host_dirs: tuple[str, ...]  # host dirs bound read-only at the same path (/usr, venvs)
    binds: tuple[Bind, ...]  # volume mounts, parents before children
    uid: int
    gid: int
    groups: tuple[int, ...]
    capabilities: frozenset[str]
    no_new_privs: bool
    read_only_root: bool
    workdir: str
    env: Mapping[str, str]
    argv: Sequence[str]
    # the pod's network namespace (a /proc/PID/ns/net path) to enter first; None: the host's
    netns: str | None = None


def new_layer(
    layer: Path,
    hosts: str,
    hostname: str,
    dirs: Mapping[str, tuple[int, int, int]],
    users: Mapping[int, str] = MappingProxyType({}),
) -> None:
    """A fresh writable layer at `layer` (a container (re)start gets a new one).

    `dirs` are the image's own directories (path -> uid, gid, mode), e.g. AIRFLOW_HOME owned by
    the image's user: without them a process could not write where it can in the real image."""
    if layer.exists():
        shutil.rmtree(layer)
    layer.mkdir(parents=True)
    layer.chmod(0o755)
    for name in ("usr", "proc", "dev"):
        (layer / name).mkdir(mode=0o755)
    tmp = layer / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)  # mkdir's mode is filtered by the umask; chmod is not
    for name in _USR_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            (layer / name).symlink_to(os.readlink(host))
        elif host.is_dir():
            (layer / name).mkdir(mode=0o755)  # a real dir on the host: bound in the script
    # cp -a keeps modes, owners and the (absolute) symlinks, which resolve inside the chroot
    subprocess.run(["cp", "-a", "/etc", str(layer / "etc")], check=True)
    # kubelet manages /etc/hosts; the runtime writes /etc/hostname
    (layer / "etc" / "hosts").write_text(hosts)
    (layer / "etc" / "hostname").write_text(hostname + "\n")
    # The image's users (uid -> HOME; the name is the home's last part): Airflow refuses to run
    # as a uid without a name, and the apache/airflow image has `airflow` (50000).
    passwd = layer / "etc" / "passwd"
    known = {line.split(":")[2] for line in passwd.read_text().splitlines() if line.count(":") >= 6}
    with passwd.open("a") as entries:
        for uid, home in users.items():
            if str(uid) not in known:
                entries.write(f"{Path(home).name}:x:{uid}:0::{home}:/bin/bash\n")
    for path, (uid, gid, mode) in dirs.items():
        made = layer / path.lstrip("/")
        made.mkdir(parents=True, exist_ok=True)
        os.chown(made, uid, gid)
        made.chmod(mode)


def _host_dirs(launch: Launch) -> list[str]:
    real = [f"/{name}" for name in _USR_LINKS if Path(f"/{name}").is_dir()]
    real = [d for d in real if not Path(d).is_symlink()]
    return ["/usr", *real, *launch.host_dirs]


def script(launch: Launch) -> str:
    """The shell script run inside the new namespaces; ends by exec'ing the container process."""
    q = shlex.quote
    root = str(launch.layer)
    lines = [
        "set -eu",
        "umask 022",  # parents of mount points: 0755, so any uid can traverse them
        "mount --make-rprivate /",  # nothing we mount may propagate to the host
        f"hostname {q(launch.hostname)}",
        f"mount --bind {q(root)} {q(root)}",  # a mount of its own, so it can be remounted ro
    ]
    for host_dir in _host_dirs(launch):
        target = q(root + host_dir)
        lines += [
            f"mkdir -p {target}",
            f"mount --rbind {q(host_dir)} {target}",
            f"mount -o remount,bind,ro {target}",
        ]
    dev = q(root + "/dev")
    lines += [
        f"mount -t proc proc {q(root + '/proc')}",
        f"mount -t tmpfs -o mode=755,nosuid tmpfs {dev}",
        f"mkdir -p {dev}/shm && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {dev}/shm",
    ]
    for device in _DEVICES:
        lines.append(f"touch {dev}/{device} && mount --bind /dev/{device} {dev}/{device}")
    for name, link in (("fd", ""), ("stdin", "/0"), ("stdout", "/1"), ("stderr", "/2")):
        lines.append(f"ln -s /proc/self/fd{link} {dev}/{name}")
    for bind in launch.binds:
        target = q(root + bind.target)
        if bind.source.is_dir():
            lines.append(f"mkdir -p {target}")
        else:  # a single file (subPath of a Secret key): the mount point must be a file too
            lines.append(f"mkdir -p {q(str(Path(root + bind.target).parent))}")
            lines.append(f"[ -e {target} ] || touch {target}")
        lines.append(f"mount --bind {q(str(bind.source))} {target}")
        if bind.read_only:
            lines.append(f"mount -o remount,bind,ro {target}")
    if launch.read_only_root:
        lines.append(f"mount -o remount,bind,ro {q(root)}")
    lines.append("exec " + shlex.join(_exec_argv(launch)))
    return "\n".join(lines) + "\n"


def _exec_argv(launch: Launch) -> list[str]:
    if not launch.argv:
        raise ValueError("the container has no command: no command/args and the image has none")
    if "=" in launch.argv[0]:
        raise NotImplementedError(f"a command containing '=' cannot be started: {launch.argv[0]}")
    groups = (
        ["--groups=" + ",".join(map(str, launch.groups))] if launch.groups else ["--clear-groups"]
    )
    caps = ",".join(["-all", *(f"+{c.lower()}" for c in sorted(launch.capabilities))])
    argv = [
        "chroot",
        str(launch.layer),
        "/usr/bin/setpriv",
        f"--reuid={launch.uid}",
        f"--regid={launch.gid}",
        *groups,
        f"--bounding-set={caps}",
    ]
    if launch.no_new_privs:
        argv.append("--no-new-privs")
    # env -i: the process gets exactly this environment; its PATH is what finds the command,
    # as the runtime resolves a container's command with the container's PATH
    argv += ["/usr/bin/env", "-i", "-C", launch.workdir, "--"]
    argv += [f"{name}={value}" for name, value in launch.env.items()]
    return [*argv, *launch.argv]


def command(launch: Launch) -> list[str]:
    """The host command line for `launch`, for subprocess (with start_new_session=True)."""
    # --kill-child: if unshare is killed, so is what it forked
    unshare = [
        "unshare",
        "--mount",
        "--uts",
        "--fork",
        "--kill-child",
        "bash",
        "-c",
        script(launch),
    ]
    # nsenter execs unshare (it forks only to enter a PID namespace): the same process
    return ["nsenter", f"--net={launch.netns}", "--", *unshare] if launch.netns else unshare


def kill_session(sid: int, grace: float = 0.0) -> None:
    """SIGTERM every process of the session `sid` leads, then SIGKILL what is left after up to
    `grace` seconds (a pod's terminationGracePeriodSeconds, in small).

    killpg reaches the process group; a process that moved to another group of the same session
    (a shell with job control) is found by its session id in /proc."""
    _signal_session(sid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _session_members(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_session(sid, signal.SIGKILL)


def _signal_session(sid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    for pid in _session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # after the ")" that closes the command name: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members
