"""A large stream run part by part (chunks.py) gives what one run gives: the same output bytes,
the same results in the same order, the same exit code and summary. The parts are forced on
small inputs (THRESHOLD 0, a cut wherever one is allowed); each case is run both ways."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_sidecars.krmio import krm, krmread
from airflow_sidecars.planning.verify import verify as real_verify
from airflow_sidecars.runs import chunks, runparts
from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from conftest import FIXTURES, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from run import rename_release  # the renaming of benchmarks/run.py --releases N

RENDERS = [
    "official-1.15.0/01-default.yaml",
    "official-1.15.0/02-kubernetes-executor.yaml",
    "official-1.15.0/03-celery-kubernetes-executor.yaml",
    "official-1.15.0/05a-sidecars-before.yaml",
    "official-1.15.0/05b-sidecars-after.yaml",
    "official-1.15.0/05a-sidecars-before.hooks.yaml",
    "official-1.20.0/01-default.yaml",
    "official-1.22.0/01a-celery-default.yaml",
    "community-8.9.0/01-default.yaml",
    "community-8.9.0/02a-extra-containers-before.yaml",
]
CONFIGS = [
    *sorted((ROOT / "pipelines" / "examples").glob("*.yaml")),
    ROOT / "benchmarks" / "seed-sidecars.yaml",
]
OTHERS = (
    "---\n# Source: other/templates/cm.yaml\n"
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other-{n}\ndata:\n  k: v\n"
)


def release(render: str, number: int) -> str:
    """The render as release `tenantNNN` in its own namespace (as benchmarks/memory.py
    builds it; the community chart's quoted labels and bare namespaces too)."""
    text = (FIXTURES / render).read_text()
    text = text if text.endswith("\n") else text + "\n"
    name = f"tenant{number:03d}"
    text = rename_release(text, name)
    text = re.sub(r'^(\s*release: )"airflow"$', rf"\g<1>{name}", text, flags=re.M)
    text = re.sub(r"^(\s*(?:name|serviceAccountName): )airflow$", rf"\g<1>{name}", text, flags=re.M)
    return re.sub(r"^(\s*namespace: )airflow$", rf"\g<1>{name}", text, flags=re.M)


def stream(render: str, count: int, others: bool = False) -> bytes:
    """`count` releases of one render, with objects of no release between them (`others`)."""
    pieces = []
    for number in range(1, count + 1):
        if others:
            pieces.append(OTHERS.format(n=number))
        pieces.append(release(render, number))
    return "".join(pieces).encode()


def interleaved(render: str) -> bytes:
    """Two releases whose documents alternate (kustomize's order by kind): one run only."""
    first, second = (re.split(r"(?m)^(?=---)", release(render, n)) for n in (1, 2))
    mixed = itertools.chain.from_iterable(itertools.zip_longest(first, second, fillvalue=""))
    return "".join(mixed).encode()


class Counted:
    """How many parts each run was cut into (1: run whole)."""

    def __init__(self) -> None:
        self.parts: list[int] = []


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    counts = Counted()
    plan = chunks.plan

    def counting(text: str, **options: Any) -> chunks.Plan | None:
        found = plan(text, **options)
        counts.parts.append(len(found.parts) if found is not None else 1)
        return found

    monkeypatch.setattr(chunks, "plan", counting)
    return counts


def both_ways(
    monkeypatch: pytest.MonkeyPatch, run: Any, *args: Any, **options: Any
) -> tuple[Outcome, Outcome]:
    """The outcome of one run, and of the same run with parts forced."""
    with monkeypatch.context() as patch:
        patch.setattr(chunks, "THRESHOLD", 10**12)
        whole = run(*args, **options)
    with monkeypatch.context() as patch:
        patch.setattr(chunks, "THRESHOLD", 0)
        patch.setattr(chunks, "PART_SIZE", 1)
        in_parts = run(*args, **options)
    return whole, in_parts


def assert_same(whole: Outcome, in_parts: Outcome) -> None:
    assert in_parts.output == whole.output
    assert [r.line() for r in in_parts.results] == [r.line() for r in whole.results]
    assert in_parts.results == whole.results
    assert in_parts.exit_code == whole.exit_code
    assert in_parts.summary == whole.summary
    assert in_parts.files == whole.files
    assert in_parts.mode == whole.mode


def config_source(path: Path) -> ConfigSource:
    """A config, matching the releases of these streams where it matches release `airflow`."""
    text = path.read_text()
    releases = ", ".join(f"tenant{number:03d}" for number in range(1, 6))
    text = re.sub(r"^(    release: )airflow$", rf"\g<1>[{releases}]", text, flags=re.M)
    return ConfigSource(path.name, text.encode())


CASES = [
    (render, config, (first + second) % 4)
    for (first, render), (second, config) in itertools.product(
        enumerate(RENDERS), enumerate(CONFIGS)
    )
]


@pytest.mark.parametrize(
    ("render", "config", "variant"),
    CASES,
    ids=[f"{r.replace('/', ':')}-{c.stem}-{v}" for r, c, v in CASES],
)
def test_parts_give_what_one_run_gives(
    monkeypatch: pytest.MonkeyPatch, counted: Counted, render: str, config: Path, variant: int
) -> None:
    """Inject, validate and remove (on inject's output; with and without the config), on 2 to
    5 releases, from stdin or a file, with objects of no release between them."""
    count = 2 + variant
    data = stream(render, count, others=variant % 2 == 1)
    name = "releases.yaml" if variant >= 2 else None  # results name a file's documents
    source = config_source(config)
    whole, in_parts = both_ways(monkeypatch, run_inject, [(name, data)], source, each_file=True)
    assert_same(whole, in_parts)
    assert_same(*both_ways(monkeypatch, run_inject, [(name, data)], source, strict=True))
    assert_same(*both_ways(monkeypatch, run_validate, [(name, data)], source))
    injected = [(name, whole.output)]
    assert_same(*both_ways(monkeypatch, run_remove, injected, None, each_file=True))
    assert_same(*both_ways(monkeypatch, run_remove, injected, source))
    assert_same(*both_ways(monkeypatch, run_remove, [(name, data)], source))  # nothing recorded
    assert_same(*both_ways(monkeypatch, run_validate, injected, source))


def test_the_benchmark_stream_is_cut_release_by_release(
    monkeypatch: pytest.MonkeyPatch, counted: Counted
) -> None:
    data = stream("official-1.15.0/05a-sidecars-before.yaml", 4)
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    whole, in_parts = both_ways(monkeypatch, run_inject, [(None, data)], source)
    assert_same(whole, in_parts)
    assert counted.parts == [4]  # (the whole run, under THRESHOLD, plans nothing)
    assert whole.exit_code == 0 and len(whole.results) == 12
    assert_same(*both_ways(monkeypatch, run_remove, [(None, whole.output)], None))
    assert_same(*both_ways(monkeypatch, run_validate, [(None, data)], source))
    assert counted.parts == [4, 4, 4]  # remove and validate too


def test_objects_of_no_release_go_with_a_neighbour(
    monkeypatch: pytest.MonkeyPatch, counted: Counted
) -> None:
    data = stream("official-1.15.0/05a-sidecars-before.yaml", 3, others=True)
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    assert_same(*both_ways(monkeypatch, run_inject, [("all.yaml", data)], source))
    assert counted.parts[-1] == 6  # each ConfigMap alone too: it belongs to no release


KEEP = (
    "---\n# Source: airflow/templates/extra.yaml\napiVersion: v1\nkind: ConfigMap\n"
    "metadata:\n  name: {name}-kept\n  labels:\n    release: {name}\n"
    "data:\n  script: |+\n    echo kept\n\n\n"
)


@pytest.mark.parametrize(
    "shape", ["byte order mark", "no final line break", "kept line breaks", "comment first"]
)
def test_the_edges_of_parts(monkeypatch: pytest.MonkeyPatch, counted: Counted, shape: str) -> None:
    """What a part's text starts and ends with: the input's byte order mark (the first part's
    only), its missing last line break (the last part's), a block scalar that keeps the
    line breaks before the next `---`, a comment before the first document."""
    pieces = [release("official-1.15.0/05a-sidecars-before.yaml", n) for n in (1, 2, 3)]
    if shape == "kept line breaks":
        pieces = [p + KEEP.format(name=f"tenant{n:03d}") for n, p in enumerate(pieces, 1)]
    text = "".join(pieces)
    if shape == "byte order mark":
        text = "\ufeff" + text
    elif shape == "no final line break":
        text = text.rstrip("\n")
    elif shape == "comment first":
        text = "# a stream of releases\n" + text
    data = text.encode()
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    for name in (None, "all.yaml"):
        whole, in_parts = both_ways(monkeypatch, run_inject, [(name, data)], source)
        assert_same(whole, in_parts)
        assert whole.exit_code == 0
        assert_same(*both_ways(monkeypatch, run_remove, [(name, whole.output)], None))
        assert_same(*both_ways(monkeypatch, run_validate, [(name, data)], source))
    assert set(counted.parts) == {3}


@pytest.mark.parametrize("strict", [False, True])
def test_a_stream_without_airflow(
    monkeypatch: pytest.MonkeyPatch, counted: Counted, strict: bool
) -> None:
    """No part holds a workload: what the config reached (nothing) is said once, as one run
    says it (with --strict, as errors)."""
    data = "".join(OTHERS.format(n=n) for n in range(5)).encode()
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    whole, in_parts = both_ways(monkeypatch, run_inject, [(None, data)], source, strict=strict)
    assert_same(whole, in_parts)
    assert whole.results and all(r.tags.get("rule") == "no-match" for r in whole.results[:3])
    assert_same(*both_ways(monkeypatch, run_validate, [(None, data)], source))
    assert_same(*both_ways(monkeypatch, run_remove, [(None, data)], source))
    assert counted.parts == [5, 5, 5]


@pytest.mark.parametrize("strict", [False, True])
def test_validate_without_a_config_says_once_that_it_checked_nothing(
    monkeypatch: pytest.MonkeyPatch, counted: Counted, strict: bool
) -> None:
    """No part holds a workload: `no-workloads` is said once, as one run says it; when some
    part holds one, the parts without any say nothing of it."""
    data = "".join(OTHERS.format(n=n) for n in range(5)).encode()
    whole, in_parts = both_ways(monkeypatch, run_validate, [(None, data)], None, strict=strict)
    assert_same(whole, in_parts)
    assert [r.tags.get("rule") for r in whole.results] == ["no-workloads"]
    assert whole.exit_code == int(strict)
    mixed = stream("official-1.15.0/01-default.yaml", 2, others=True)
    whole, in_parts = both_ways(monkeypatch, run_validate, [(None, mixed)], None, strict=strict)
    assert_same(whole, in_parts)
    assert whole.results == [] and whole.exit_code == 0
    assert counted.parts == [5, 4]  # (the whole runs plan nothing)


def test_interleaved_releases_are_run_whole(
    monkeypatch: pytest.MonkeyPatch, counted: Counted
) -> None:
    data = interleaved("official-1.15.0/05a-sidecars-before.yaml")
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    whole, in_parts = both_ways(monkeypatch, run_inject, [(None, data)], source)
    assert_same(whole, in_parts)
    assert whole.exit_code == 0
    assert counted.parts[-1] == 1


@pytest.mark.parametrize(
    "data",
    [
        b"%YAML 1.1\n---\n" + stream("official-1.15.0/05a-sidecars-before.yaml", 2),
        stream("official-1.15.0/05a-sidecars-before.yaml", 2).replace(b"\n", b"\r\n"),
        stream("official-1.15.0/05a-sidecars-before.yaml", 2) * 2,  # each object twice
        stream("official-1.15.0/05a-sidecars-before.yaml", 2)
        + b"---\napiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
    ],
    ids=["directive", "crlf", "twice", "resourcelist"],
)
def test_what_parts_cannot_give_is_run_whole(
    monkeypatch: pytest.MonkeyPatch, counted: Counted, data: bytes
) -> None:
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    assert_same(*both_ways(monkeypatch, run_inject, [(None, data)], source))
    assert counted.parts[-1] == 1


def test_what_only_the_whole_run_can_say_is_said_by_it(
    monkeypatch: pytest.MonkeyPatch, counted: Counted
) -> None:
    """A config value that reaches no workload of the render: one warning of the whole run.
    The parts are tried, and the whole is run."""
    data = stream("official-1.15.0/05a-sidecars-before.yaml", 3)
    config = b"""apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata:
  name: test
spec:
  dagProcessor:
    extraContainers:
      - name: s3-sync
        image: example/s3-sync:1.0
"""
    whole, in_parts = both_ways(
        monkeypatch, run_inject, [(None, data)], ConfigSource("c.yaml", config)
    )
    assert_same(whole, in_parts)
    assert any(r.tags.get("rule") == "no-match" for r in whole.results)
    assert counted.parts[-1] == 3


def test_errors_in_one_part_apply_nothing_anywhere(
    monkeypatch: pytest.MonkeyPatch, counted: Counted
) -> None:
    text = stream("official-1.15.0/05a-sidecars-before.yaml", 3).decode()
    # the second release's scheduler already has another container of that name
    main = "        # Always run the main scheduler container.\n"
    second = text.index(main, text.index(main) + 1)
    clash = "        - name: s3-sync\n          image: other/s3-sync:2\n"
    data = (text[:second] + clash + text[second:]).encode()
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    whole, in_parts = both_ways(monkeypatch, run_inject, [(None, data)], source)
    assert_same(whole, in_parts)
    assert whole.exit_code == 1 and whole.output == data
    assert counted.parts[-1] == 3


def test_one_part_is_alive_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first part's node trees are gone before the last part is parsed."""
    monkeypatch.setattr(chunks, "THRESHOLD", 0)
    monkeypatch.setattr(chunks, "PART_SIZE", 1)
    first: list[weakref.ref[Any]] = []
    parse = krmread.parse
    parsed = []

    def parse_and_watch(texts: list[tuple[str | None, str]], **options: Any) -> krm.Input:
        found = parse(texts, **options)
        if options.get("parts") and options["parts"][0].first_document > 0 and first:
            alive = [ref for ref in first if ref() is not None]
            assert not alive, f"{len(alive)} documents of the first part are alive"
        if options.get("parts") and not first:
            trees = [d for d in found.sources[0].documents if isinstance(d, yaml.Node)]
            first.extend(weakref.ref(tree) for tree in trees)
        parsed.append(options.get("parts"))
        return found

    monkeypatch.setattr(krmread, "parse", parse_and_watch)
    monkeypatch.setattr(runparts, "verify", real_verify)
    data = stream("official-1.15.0/05a-sidecars-before.yaml", 3)
    source = config_source(ROOT / "benchmarks" / "seed-sidecars.yaml")
    outcome = run_inject([(None, data)], source)
    assert outcome.exit_code == 0
    assert len(first) > 10
    assert sum(1 for parts in parsed if parts) == 3  # three parts, each parsed once


def test_the_parts_switch_reaches_the_command_lines_the_tests_start() -> None:
    """AIRFLOW_SIDECARS_TEST_PARTS=1 (CONTRIBUTING.md): conftest forces parts in its own
    process and, through a sitecustomize on PYTHONPATH, in every `python` it starts. A stale
    module path there fails quietly (Python prints a line and goes on with whole streams)."""
    show = "from airflow_sidecars.runs import chunks; print(chunks.THRESHOLD, chunks.PART_SIZE)"
    child = (
        "import subprocess, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import conftest\n"
        f"{show}\n"
        "sys.stdout.flush()\n"
        f"subprocess.run([sys.executable, '-c', {show!r}], check=True)\n"
    )
    env = {**os.environ, "AIRFLOW_SIDECARS_TEST_PARTS": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", child, str(ROOT / "tests")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines() == ["0 1", "0 1"]  # this process, and the one it started
