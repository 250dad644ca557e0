"""Fuzzing of concurrent `--in-place` runs: two real processes on one tree of
files, started together or a little apart, each an inject or a remove with one of two
configs, on a render as `helm template --output-dir` writes it or as one file, given as the
folder or as its files, from a render with none, one or both configs already applied.

The property: the files end as the two runs would leave them one after the other, in one
order or the other, and each run's exit code is the one it has in that order. So no run
says "wrote" while its work is gone, and no run half-applies. The runs are real processes
(the lock is flock on the folders; see tests/e2e/test_cli_concurrency.py for the races made
deterministic). AIRFLOW_SIDECARS_FUZZ_SECONDS gives the time; tests/fuzz_campaign.py runs it
with the other generators.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_concurrency import CLOUD_SQL, PRESETS, RENDER, finish, read_tree, start
from test_cli_files import output_dir

from conftest import run_cli

_SECONDS = float(os.environ.get("AIRFLOW_SIDECARS_FUZZ_SECONDS") or 0)
_RATE = 0.15  # races per second here on 2 cores, measured (each is 2 runs and 4 to model)
FUZZ_RACES = settings(
    max_examples=max(6, int(_SECONDS * _RATE / 8)) if _SECONDS > 0 else 6,
    derandomize=_SECONDS <= 0,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

RUNS = {
    "inject presets": ("inject", "--config", str(PRESETS)),
    "inject cloud-sql": ("inject", "--config", str(CLOUD_SQL)),
    "remove": ("remove",),
    "remove cloud-sql": ("remove", "--config", str(CLOUD_SQL)),
}
APPLIED_FIRST = {"render": (), "presets": (PRESETS,), "both": (PRESETS, CLOUD_SQL)}


class Race(NamedTuple):
    layout: str  # "output-dir" or "one file"
    applied: str  # what was injected before the race (APPLIED_FIRST)
    given: str  # "folder" or "files"
    runs: tuple[str, str]
    delay: float  # seconds between the starts


races = st.builds(
    Race,
    st.sampled_from(["output-dir", "one file"]),
    st.sampled_from(sorted(APPLIED_FIRST)),
    st.sampled_from(["folder", "files"]),
    st.tuples(st.sampled_from(sorted(RUNS)), st.sampled_from(sorted(RUNS))),
    st.sampled_from([0.0, 0.02, 0.1, 0.3]),
)


def _prepare(race: Race, root: Path) -> None:
    if race.layout == "output-dir":
        output_dir(RENDER, root)
    else:
        root.mkdir(parents=True)
        shutil.copy(RENDER, root / "render.yaml")
    for config in APPLIED_FIRST[race.applied]:
        completed = run_cli("inject", "-i", "--config", config, root)
        assert completed.returncode == 0, completed.stderr


def _targets(race: Race, root: Path) -> list[str]:
    if race.given == "folder":
        return [str(root)]
    return [str(path) for path in sorted(root.rglob("*.yaml"))]


def _one_after_the_other(
    race: Race, order: tuple[str, str], root: Path
) -> tuple[list[int], dict[Path, bytes]]:
    """Exit codes and the files, with the runs made one after the other."""
    _prepare(race, root)
    codes = []
    for name in order:
        completed = run_cli(*RUNS[name], "-i", *_targets(race, root))
        codes.append(completed.returncode)
    return codes, read_tree(root)


@given(races)
@FUZZ_RACES
def test_two_runs_at_once_end_as_one_after_the_other(race: Race) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        root = work / "manifests"
        _prepare(race, root)
        targets = _targets(race, root)
        first = start(*RUNS[race.runs[0]], "-i", *targets)
        time.sleep(race.delay)
        second = start(*RUNS[race.runs[1]], "-i", *targets)
        ended = [finish(first), finish(second)]
        after = read_tree(root)
        codes = [code for code, _, _ in ended]
        said = [stderr for _, _, stderr in ended]
        for stdout in (stdout for _, stdout, _ in ended):
            assert stdout == b""
        orders = [race.runs, race.runs[::-1]]
        serial = [
            _one_after_the_other(race, order, work / f"order{n}") for n, order in enumerate(orders)
        ]
        matches = [
            (serial_codes == (codes if n == 0 else codes[::-1])) and tree == after
            for n, (serial_codes, tree) in enumerate(serial)
        ]
        assert any(matches), (race, codes, said)
