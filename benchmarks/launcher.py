"""Run and measure commands for run.py, from a process that stays small.

Why a separate process: a child's ru_maxrss is at least the RSS of the
process it was spawned from. On exec, Linux folds the old address space's
high-water mark into the child's maxrss, and with vfork (which subprocess
uses) that old address space is the parent's, so the parent's lifetime peak
leaks into every child it starts. run.py grows with --releases (it builds the
input and parses the outputs); this launcher only imports what it needs and
is started with `python3 -I -S`, so the floor it adds stays near a bare
interpreter's and does not depend on N. run.py measures that floor (`true`).

Protocol: one JSON request per line on stdin
  {"argv": [...], "stdin": path or null, "stdout": path, "stderr": path, "cwd": path}
and one JSON reply per line on stdout
  {"wall_s": float, "maxrss_kib": int, "returncode": int} or {"error": str}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any


def measure(req: dict[str, Any]) -> dict[str, Any]:
    with (
        open(req["stdin"] or os.devnull, "rb") as fin,
        open(req["stdout"], "wb") as fout,
        open(req["stderr"], "wb") as ferr,
    ):
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                req["argv"], stdin=fin, stdout=fout, stderr=ferr, cwd=req["cwd"]
            )
        except OSError as exc:
            return {"error": str(exc)}
        # Reap with wait4 rather than proc.wait(): it hands back this one
        # child's rusage (getrusage(RUSAGE_CHILDREN) is a max over all).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
    # ru_maxrss is in KiB on Linux.
    rc = proc.returncode
    return {"wall_s": wall, "maxrss_kib": usage.ru_maxrss, "returncode": rc}


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(measure(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
