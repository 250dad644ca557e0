"""Peak memory of inject, validate, remove and audit, against the size of their input.

Two streams are generated, deterministically, into a temp folder:

- `small`: 100,000 small documents (ConfigMaps, Services and Secrets, none of them Airflow
  objects) around one real Airflow render (official 1.15.0, `05a-sidecars-before.yaml`),
  run with `pipelines/examples/seed-sidecars.yaml`;
- `releases`: that render copied `--releases` times (720 by default) with the release
  renamed, as `run.py --releases N` builds it, run with `benchmarks/seed-sidecars.yaml`.

Each function runs as a fresh child process, `--runs` times; `remove` and `audit` take
inject's output, so there are records to take back and sidecars to hold against the config
(audit reads a render as it reads a live dump). The peak RSS of a run is the child's own
`ru_maxrss` (from `os.wait4`). This process writes the streams a piece at a time and stays
small, because a child's maxrss starts at the RSS of the process that spawned it (see
launcher.py).

    python3 benchmarks/memory.py                      # both streams, 1 run each
    python3 benchmarks/memory.py --stream small --runs 3
    python3 benchmarks/memory.py --cli ".venv/bin/airflow-sidecars"

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import release_name, rename_release  # the renaming of run.py --releases N

ROOT = Path(__file__).resolve().parent.parent
RENDER = ROOT / "tests" / "fixtures" / "official-1.15.0" / "05a-sidecars-before.yaml"
CONFIGS = {
    "small": ROOT / "pipelines" / "examples" / "seed-sidecars.yaml",
    "releases": ROOT / "benchmarks" / "seed-sidecars.yaml",
}
FUNCTIONS = ("inject", "validate", "remove", "audit")
_ON_OUTPUT = ("remove", "audit")
MIB = 1024 * 1024


class Measured(NamedTuple):
    stream: str
    function: str
    input_bytes: int
    maxrss_kib: int
    wall_s: float
    returncode: int

    @property
    def ratio(self) -> float:
        return self.maxrss_kib * 1024 / self.input_bytes


def small_documents(count: int) -> Iterator[str]:
    """`count` small objects (74 bytes on average) that no Airflow release owns."""
    for number in range(count):
        kind = ("ConfigMap", "Service", "Secret")[number % 3]
        head = f"---\napiVersion: v1\nkind: {kind}\nmetadata:\n  name: o-{number:06d}\n"
        if kind == "ConfigMap":
            yield head + "data:\n  k: v\n"
        elif kind == "Service":
            yield head + "spec:\n  ports: []\n"
        else:
            yield head + "type: Opaque\n"


def write_small(path: Path, count: int) -> None:
    render = RENDER.read_text()
    with path.open("w") as out:
        half = count // 2
        for number, document in enumerate(small_documents(count)):
            if number == half:
                out.write(render if render.endswith("\n") else render + "\n")
            out.write(document)


def write_releases(path: Path, count: int) -> None:
    render = RENDER.read_text()
    if not render.endswith("\n"):
        render += "\n"
    with path.open("w") as out:
        for number in range(1, count + 1):
            out.write(rename_release(render, release_name(number, count)))


def measure(argv: list[str], stdin: Path, stdout: Path) -> tuple[int, float, int]:
    """(maxrss in KiB, wall seconds, exit code) of one run of `argv` in a fresh child."""
    with stdin.open("rb") as fin, stdout.open("wb") as fout:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss, wall, child.returncode


def run_stream(stream: str, path: Path, cli: list[str], runs: int) -> list[Measured]:
    config = str(CONFIGS[stream])
    out = path.with_suffix(".out.yaml")
    measured = []
    for function in FUNCTIONS:
        source = out if function in _ON_OUTPUT else path
        argv = [*cli, function, "--config", config] if function != "remove" else [*cli, function]
        target = out if function == "inject" else path.with_suffix(f".{function}.yaml")
        best: tuple[int, float, int] | None = None
        for _ in range(runs):
            rss, wall, code = measure(argv, source, target)
            best = (rss, wall, code) if best is None or wall < best[1] else best
        assert best is not None
        measured.append(Measured(stream, function, source.stat().st_size, *best))
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stream", choices=("small", "releases", "both"), default="both")
    parser.add_argument("--documents", type=int, default=100_000, help="small documents")
    parser.add_argument("--releases", type=int, default=720, help="copies of the render")
    parser.add_argument("--runs", type=int, default=1, help="runs per function (the fastest)")
    parser.add_argument(
        "--cli",
        default=f"{shlex.quote(sys.executable)} -m airflow_sidecars",
        help="the command to run (default: this interpreter's airflow_sidecars)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args()
    cli = shlex.split(args.cli)
    streams = ("small", "releases") if args.stream == "both" else (args.stream,)
    results: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="airflow-sidecars-memory-") as folder:
        for stream in streams:
            path = Path(folder) / f"{stream}.yaml"
            if stream == "small":
                write_small(path, args.documents)
            else:
                write_releases(path, args.releases)
            results += run_stream(stream, path, cli, args.runs)
    if args.json:
        print(json.dumps([{**m._asdict(), "ratio": round(m.ratio, 2)} for m in results]))
        return 0
    print(
        f"{'stream':<9} {'function':<9} {'input MB':>9} {'peak MiB':>9} {'ratio':>6} "
        f"{'wall s':>7} {'exit':>4}"
    )
    for m in results:
        print(
            f"{m.stream:<9} {m.function:<9} {m.input_bytes / 1e6:>9.1f} "
            f"{m.maxrss_kib / 1024:>9.0f} {m.ratio:>5.1f}x {m.wall_s:>7.1f} {m.returncode:>4}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
