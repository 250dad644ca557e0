"""What the fuzz modules (tests/unit/test_fuzz_*.py) share: the budget, the real renders and
configs their generators start from, the generated case, a watchdog for one run, where failing
inputs are saved, and how data is written as YAML or JSON.

Examples are derandomised, so a CI run is the same run as on a laptop.
AIRFLOW_SIDECARS_FUZZ_EXAMPLES=N runs N examples per generator (default 100);
AIRFLOW_SIDECARS_FUZZ_SECONDS=S runs fresh random examples for about S seconds in all
(e.g. 3600 for an hour); AIRFLOW_SIDECARS_FUZZ_SAVE=DIR writes every failing input there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, settings

from conftest import FIXTURES, ROOT

# -- budget -----------------------------------------------------------------------------------

_EXAMPLES = int(os.environ.get("AIRFLOW_SIDECARS_FUZZ_EXAMPLES") or 100)
_SECONDS = float(os.environ.get("AIRFLOW_SIDECARS_FUZZ_SECONDS") or 0)
# The @given tests that use FUZZ in test_fuzz_renders, test_fuzz_hostile_yaml,
# test_fuzz_pod_templates, test_fuzz_resource_lists and test_fuzz_config_strings, which
# share AIRFLOW_SIDECARS_FUZZ_SECONDS.
_GENERATORS = 7
_RATE = 20.0  # examples per second of one generator on 2 cores, measured
_SAVE = os.environ.get("AIRFLOW_SIDECARS_FUZZ_SAVE")

FUZZ = settings(
    max_examples=(
        max(_EXAMPLES, int(_SECONDS * _RATE / _GENERATORS)) if _SECONDS > 0 else _EXAMPLES
    ),
    derandomize=_SECONDS <= 0,
    database=None,
    deadline=None,
    print_blob=_SECONDS > 0,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


def fuzz_as_found(rate: float, generators: int) -> settings:
    """FUZZ for a module whose inputs are real renders and a few named steps (their repr says
    how each was made): its own rate (examples per second of one generator, measured) shares
    AIRFLOW_SIDECARS_FUZZ_SECONDS among its generators, and nothing is shrunk (shrinking
    hundreds of KB of render took minutes per failure)."""
    examples = max(_EXAMPLES, int(_SECONDS * rate / generators)) if _SECONDS > 0 else _EXAMPLES
    return settings(
        FUZZ, max_examples=examples, phases=[Phase.explicit, Phase.reuse, Phase.generate]
    )


# Seconds one in-process run may take (a render normally takes 0.02-0.5 s, alias bombs too);
# a run still going then is stopped where it is, as a failure that shows where.
SLOW_RUN = 5.0

# -- inputs -----------------------------------------------------------------------------------

RENDER_DIRS = ("official-1.15.0", "community-8.9.0", "official-1.22.0")
RENDERS: dict[str, str] = {
    f"{folder}/{path.name}": path.read_text(encoding="utf-8")
    for folder in RENDER_DIRS
    for path in sorted((FIXTURES / folder).glob("*.yaml"))
    if not path.name.endswith(".values.yaml")
}
RENDER_NAMES = sorted(RENDERS)
# The objects of each render, as data (the KRM generators build ResourceLists from them).
OBJECTS: dict[str, list[dict[str, Any]]] = {
    name: [doc for doc in yaml.safe_load_all(text) if doc] for name, text in RENDERS.items()
}

FUZZ_CONFIG = """\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata:
  name: fuzz
spec:
  scheduler:
    extraContainers:
      - name: fuzz-proxy
        image: busybox:1.36
        command: ["/bin/sh", "-c"]
        args: ["sleep 3600"]
        env:
          - name: MODE
            value: "on"
        resources:
          requests: {cpu: 10m, memory: 16Mi}
  workers:
    extraContainers:
      - name: fuzz-shipper
        image: busybox:1.36
        volumeMounts:
          - name: fuzz-cache
            mountPath: /cache
    extraVolumes:
      - name: fuzz-cache
        emptyDir: {}
  presets:
    s3Sync: {bucket: dags}
"""
CONFIGS: dict[str, str] = {
    "seed-sidecars": (ROOT / "pipelines/examples/seed-sidecars.yaml").read_text("utf-8"),
    "seed-presets": (ROOT / "pipelines/examples/seed-presets.yaml").read_text("utf-8"),
    "community-seed": (ROOT / "tests/golden/community-8.9.0-seed/config.yaml").read_text("utf-8"),
    "fuzz": FUZZ_CONFIG,
}
CONFIG_NAMES = sorted(CONFIGS)
CONFIG_DATA: dict[str, dict[str, Any]] = {k: yaml.safe_load(v) for k, v in CONFIGS.items()}

BOM = "\ufeff"
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Case:
    """One generated input. Its repr, which hypothesis prints for a failing example, says how
    it was made (the input itself is tens of kilobytes)."""

    __slots__ = ("config", "data", "mode", "origin", "steps")

    def __init__(
        self, origin: str, data: bytes, config: bytes | None, mode: str, steps: list[str]
    ) -> None:
        self.origin = origin
        self.data = data
        self.config = config  # stream mode: the --config file
        self.mode = mode  # "stream" or "krm"
        self.steps = steps

    def __repr__(self) -> str:
        return f"Case({self.origin!r}, mode={self.mode!r}, steps={self.steps!r})"


def _show(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# -- one run: a watchdog, and the input saved when it fails -----------------------------------


class Hang(Exception):
    """A run that did not finish in SLOW_RUN seconds (raised where it was, to show where)."""


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _save(case: Case) -> None:
    if not _SAVE:
        return
    folder = Path(_SAVE)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(case.data + (case.config or b"")).hexdigest()[:12]
    (folder / f"{digest}.input").write_bytes(case.data)
    if case.config is not None:
        (folder / f"{digest}.config.yaml").write_bytes(case.config)
    (folder / f"{digest}.txt").write_text(repr(case) + "\n")


# -- data written as YAML or JSON -------------------------------------------------------------


_NOT_PRINTABLE = re.compile("[\x7f-\x9f\ufeff\ufffe\uffff]")


def _json(text: str) -> str:
    """JSON as a KRM orchestrator may write it: what YAML cannot carry raw (C1 characters,
    U+FEFF) escaped as `\\u0085`; the rest raw (escaped, characters beyond the BMP would be
    surrogate pairs, which YAML does not read)."""
    return _NOT_PRINTABLE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _dump(value: Any, style: str) -> str:
    if style == "json":
        return _json(json.dumps(value, indent=1, ensure_ascii=False)) + "\n"
    if style == "json-compact":
        return _json(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    if style == "yaml-flow":
        return yaml.dump(
            value, Dumper=DUMPER, default_flow_style=True, width=200, allow_unicode=True
        )
    return yaml.dump(value, Dumper=DUMPER, sort_keys=False, allow_unicode=True)
