"""A fuzzing campaign: every fuzz generator for a given time, with fresh random examples.

    .venv/bin/python tests/fuzz_campaign.py --seconds 3600 --save /tmp/fuzz
    .venv/bin/python tests/fuzz_campaign.py --replay /tmp/fuzz/<class>.bin

Runs the hypothesis tests of tests/unit/test_fuzz*.py (every `@given` test is a generator)
through hypothesis's `fuzz_one_input`, with random bytes as the choices: no shrinking and no
stop at the first failure, so one run finds many failures. The time is shared out evenly
(the generator that has had the least time runs next). At the end (and every few minutes)
it reports the inputs tried per generator and the distinct failure classes, a class being
the exception, where it was raised or which assertion failed, the assertion's words and the
rules of the error results it quotes (digits and long quoted text left out), so that a
thousand inputs that fail the same way are one line.

Into --save DIR go, per failure class, the random bytes that reproduce it (`<class>.bin`, for
--replay, which runs that one input again and shows the whole traceback) and a `<class>.txt`
with the generator and the message; the failing inputs themselves (renders, configs, file
trees) go to DIR/inputs through AIRFLOW_SIDECARS_FUZZ_SAVE. The report is also written to
DIR/report.txt. Exit status 1 when any input failed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

TESTS = Path(__file__).resolve().parent
# Every fuzz module: renders, hostile YAML, pod templates, ResourceLists, config strings,
# records, folders, line ends, quantities, concurrent runs (e2e: real processes), and any added
# later.
FOLDERS = (TESTS / "unit", TESTS / "e2e")
MODULES = tuple(sorted(path.stem for folder in FOLDERS for path in folder.glob("test_fuzz*.py")))
BUFFER = 16_384  # random bytes per input: the generators make many choices (mutations, paths)
REPORT_EVERY = 300.0


@dataclass
class Generator:
    name: str  # module::test
    run: Callable[[bytes], Any]  # hypothesis's fuzz_one_input
    tried: int = 0
    invalid: int = 0  # the bytes ran out or a filter rejected them: not an input
    failed: int = 0
    seconds: float = 0.0


@dataclass
class FailureClass:
    key: str
    generator: str
    first: str  # the first message, in full
    reproducer: str  # file name of the bytes
    count: int = 0
    generators: set[str] = field(default_factory=set)


def generators(modules: list[str]) -> list[Generator]:
    found = []
    for name in modules:
        module: ModuleType = importlib.import_module(name)
        for attribute in sorted(vars(module)):
            test = getattr(module, attribute)
            if attribute.startswith("test_") and hasattr(test, "hypothesis"):
                found.append(Generator(f"{name}::{attribute}", test.hypothesis.fuzz_one_input))
    return found


def _where(trace: TracebackType | None) -> str:
    """Where it failed: the innermost frame in the package or in the tests."""
    frames = traceback.extract_tb(trace)
    ours = [f for f in frames if "airflow_sidecars" in f.filename or "/tests/" in f.filename]
    if not (ours or frames):
        return "?"
    frame = (ours or frames)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} {frame.name}"


_RULE = re.compile(r"(?:error|warning): \[([a-z][\w-]*)\]")
_DIGITS = re.compile(r"\d+")
_LONG_QUOTED = re.compile(r"'[^']{40,}'|\"[^\"]{40,}\"")


def _words(error: BaseException) -> str:
    """The assertion's own words (the last string of the tuple the checks assert with),
    else the message's first line."""
    text = str(error)
    if isinstance(error, AssertionError) and text.startswith("("):
        try:
            parts = ast.literal_eval(text.split("\nassert", maxsplit=1)[0])
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parts = None
        if isinstance(parts, tuple):
            strings = [p for p in parts if isinstance(p, str)]
            if strings:
                text = strings[-1]
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _DIGITS.sub("N", _LONG_QUOTED.sub("'...'", first))[:160]


def classify(error: BaseException) -> str:
    rules = sorted(set(_RULE.findall(str(error)[:20_000])))
    shown = f" rules={','.join(rules)}" if rules else ""
    return f"{type(error).__name__} at {_where(error.__traceback__)}: {_words(error)}{shown}"


def report(gens: list[Generator], classes: dict[str, FailureClass], elapsed: float) -> str:
    lines = [f"fuzz campaign: {elapsed:.0f} s", "", "inputs tried per generator:"]
    width = max(len(g.name) for g in gens)
    for g in gens:
        rate = g.tried / g.seconds if g.seconds else 0.0
        lines.append(
            f"  {g.name:<{width}}  {g.tried:6d} tried  {g.failed:5d} failed  "
            f"{g.invalid:5d} invalid  {g.seconds:7.0f} s  {rate:5.1f}/s"
        )
    lines += ["", f"distinct failure classes: {len(classes)}"]
    for found in sorted(classes.values(), key=lambda c: -c.count):
        lines.append(f"  {found.count:5d} x {found.key}")
        lines.append(f"          in {', '.join(sorted(found.generators))}; {found.reproducer}")
    return "\n".join(lines) + "\n"


def campaign(seconds: float, save: Path, modules: list[str]) -> int:
    gens = generators(modules)
    classes: dict[str, FailureClass] = {}
    start = last_report = time.monotonic()
    while time.monotonic() - start < seconds:
        gen = min(gens, key=lambda g: g.seconds)
        buffer = os.urandom(BUFFER)
        began = time.monotonic()
        try:
            used = gen.run(buffer)
            if used is None:
                gen.invalid += 1
            else:
                gen.tried += 1
        except Exception as error:  # every failure is counted, none stops the campaign
            gen.tried += 1
            gen.failed += 1
            key = classify(error)
            if key not in classes:
                digest = hashlib.sha256(key.encode()).hexdigest()[:12]
                (save / f"{digest}.bin").write_bytes(buffer)
                detail = "".join(traceback.format_exception(error))[-20_000:]
                (save / f"{digest}.txt").write_text(f"{gen.name}\n{key}\n\n{detail}")
                classes[key] = FailureClass(key, gen.name, str(error), f"{digest}.bin")
            classes[key].count += 1
            classes[key].generators.add(gen.name)
        gen.seconds += time.monotonic() - began
        if time.monotonic() - last_report > REPORT_EVERY:
            last_report = time.monotonic()
            print(report(gens, classes, last_report - start), flush=True)
    text = report(gens, classes, time.monotonic() - start)
    (save / "report.txt").write_text(text)
    print(text, end="")
    return 1 if classes else 0


def replay(path: Path, modules: list[str]) -> int:
    """Run the input saved as `path` (a .bin) again, with the whole traceback."""
    name = (path.with_suffix(".txt")).read_text().splitlines()[0]
    for gen in generators(modules):
        if gen.name == name:
            gen.run(path.read_bytes())
            print(f"{name}: passes now")
            return 0
    print(f"no generator {name}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="in all (default 60)")
    parser.add_argument(
        "--save", type=Path, help="folder (default: a new one under the system's temp folder)"
    )
    parser.add_argument("--modules", nargs="+", default=list(MODULES), help="fuzz modules")
    parser.add_argument("--replay", type=Path, help="a saved .bin to run again")
    args = parser.parse_args(argv)
    # Never into the checkout by default: the saved configs would pass for shipped ones.
    save: Path = args.save or Path(tempfile.mkdtemp(prefix="airflow-sidecars-fuzz-"))
    save.mkdir(parents=True, exist_ok=True)
    print(f"reproducers and failing inputs go to {save}", flush=True)
    # Before the modules are imported: they read it once.
    os.environ.setdefault("AIRFLOW_SIDECARS_FUZZ_SAVE", str(save / "inputs"))
    sys.path[:0] = [str(TESTS), *map(str, FOLDERS)]
    if args.replay is not None:
        return replay(args.replay, args.modules)
    return campaign(args.seconds, save, args.modules)


if __name__ == "__main__":
    sys.exit(main())
