#!/usr/bin/env python3
"""Where the time of `airflow-sidecars inject` goes, in-process.

Runs the function on the same input as run.py (the 05a render, or N release-renamed copies)
with the same config, and prints: the import time of the package, the first call (which pays
for deferred imports) and a warm call, the phases of a profiled call, and the functions with
the most time of their own. It imports `airflow_sidecars` from the interpreter that runs it,
so an older version can be profiled with that version's interpreter:

    python3 benchmarks/profile_run.py --releases 100
    /path/to/old-venv/bin/python benchmarks/profile_run.py --releases 100
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import pstats
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import SEED, build_input  # noqa: E402 - the benchmark's own input builder

# The phases of a run, as (label, module, function, calling functions or None for all calls).
# krmread.parse runs twice (input, and the output again in verify), hence the caller. A name the
# profiled version does not have shows as "-", so older versions can be profiled too.
ENTRY = ("run_inject", "_run_inject", "_parse")  # callers of krmread.parse, over the versions
PHASES = (
    ("parse input", "krmread.py", "parse", ENTRY),
    ("load config", "api.py", "_load_config", None),
    ("plan and edit", "inject.py", "inject", None),
    ("render output", "krmwrite.py", "render", ENTRY),
    ("verify output", "inject.py", "verify", None),
    ("all YAML composition", "yamledit.py", "compose_all", None),
    ("all node -> data conversion", "yamledit.py", "to_data", None),
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--releases", type=int, default=1, metavar="N")
    p.add_argument("--config", type=Path, default=SEED)
    p.add_argument("--top", type=int, default=15, help="how many functions to list")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    data = build_input(args.releases).encode()
    config_bytes = args.config.read_bytes()

    started = time.perf_counter()
    api = importlib.import_module("airflow_sidecars.runs.api")
    imported = time.perf_counter() - started
    source = api.ConfigSource(str(args.config), config_bytes)

    def call() -> Any:
        return api.run_inject([("render.yaml", data)], source)

    first = timed(call)
    warm = timed(call)
    profiler = cProfile.Profile()
    profiler.enable()
    outcome = call()
    profiler.disable()

    print(f"airflow_sidecars {getattr(sys.modules['airflow_sidecars'], '__version__', '?')}")
    print(f"input: {args.releases} release(s), {len(data) / 1024:.0f} KiB")
    print(f"exit code {outcome.exit_code}, {len(outcome.results)} results")
    print(f"import airflow_sidecars.runs.api   {1000 * imported:8.1f} ms")
    print(f"first call                    {1000 * first:8.1f} ms")
    print(f"warm call                     {1000 * warm:8.1f} ms")
    print(f"jsonschema imported: {'jsonschema' in sys.modules}")

    stats = pstats.Stats(profiler)
    entries: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tottime for (_, _, tottime, _, _) in entries.values())
    print(f"\nprofiled call (profiler overhead included): {1000 * total:.1f} ms")
    for label, filename, function, caller in PHASES:
        cell = "       -"
        for (file, _, name), (_, _, _, all_calls, callers) in entries.items():
            if name != function or not file.endswith(f"airflow_sidecars/{filename}"):
                continue
            spent = all_calls
            if caller is not None:
                spent = sum(ct for (_, _, by), (_, _, _, ct) in callers.items() if by in caller)
            cell = f"{1000 * spent:8.1f} ms"
        print(f"  {label:<30} {cell}")
    print()
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


def timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
