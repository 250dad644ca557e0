"""`inject --plan` on real chart renders: every addition the plan names is in inject's output,
at that object, and everything inject's output adds is in the plan. What the output adds is
worked out here on its own, from the input and the output read with ruamel.yaml; the plan is
the JSON document the command line prints. Goldens of the table and the JSON on the README's
first example (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from conftest import FIXTURES, ROOT, TESTS, compare_or_update, run_cli

EXAMPLES = ROOT / "pipelines" / "examples"
GOLDEN = TESTS / "golden"
SEED = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"

# (renders, config): the README's first example, Airflow 3, the community chart, the
# KubernetesExecutor pod template, presets that annotate ServiceAccounts, Helm hook Jobs.
CASES: dict[str, tuple[list[Path], Path]] = {
    "seed": ([SEED], EXAMPLES / "seed-sidecars.yaml"),
    "airflow3-cloudsql": (
        [
            FIXTURES / "official-1.20.0/01-default.yaml",
            FIXTURES / "official-1.20.0/01-default.hooks.yaml",
        ],
        EXAMPLES / "cloud-sql-proxy.yaml",
    ),
    "airflow3": (
        [FIXTURES / "official-1.20.0/01-default.yaml"],
        GOLDEN / "official-1.20.0-airflow3/config.yaml",
    ),
    "community-seed": (
        [FIXTURES / "community-8.9.0/02a-extra-containers-before.yaml"],
        GOLDEN / "community-8.9.0-seed/config.yaml",
    ),
    "community-presets": (
        [FIXTURES / "community-8.9.0/01-default.yaml"],
        EXAMPLES / "seed-presets.yaml",
    ),
    "pod-template-presets": (
        [FIXTURES / "official-1.15.0/03-celery-kubernetes-executor.yaml"],
        EXAMPLES / "seed-presets.yaml",
    ),
    "pod-template-native": (
        [FIXTURES / "official-1.15.0/02-kubernetes-executor.yaml"],
        GOLDEN / "official-1.15.0-native-sidecars/config.yaml",
    ),
    "pod-template-cloudsql": (
        [
            FIXTURES / "official-1.15.0/02-kubernetes-executor.yaml",
            FIXTURES / "official-1.15.0/02-kubernetes-executor.hooks.yaml",
        ],
        EXAMPLES / "cloud-sql-proxy.yaml",
    ),
    "otel": (
        [FIXTURES / "official-1.15.0/03-celery-kubernetes-executor.yaml"],
        EXAMPLES / "otel-collector.yaml",
    ),
    "hooks": (
        [FIXTURES / "official-1.15.0/01-default.hooks.yaml"],
        GOLDEN / "official-1.15.0-hooks/config.yaml",
    ),
}

POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

# (object, pod template key, what, where: list or container, name, value as JSON)
Fact = tuple[str, str, str, str, str, str]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_plan_is_what_inject_writes(case: str) -> None:
    renders, config = CASES[case]
    injected = run_cli("inject", "--config", config, *renders)
    assert injected.returncode == 0, injected.stderr
    planned = run_cli("inject", "--plan", "-o", "json", "--config", config, *renders)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["applies"] is True
    before = "".join(path.read_text() for path in renders)
    written = _added(before, injected.stdout.decode())
    said, taken_back = _planned(plan)
    assert said, "the plan names nothing"
    assert taken_back == set()  # a fresh render: nothing to take back
    assert said - written == set(), "in the plan, not in inject's output"
    assert written - said == set(), "in inject's output, not in the plan"


def test_the_plan_says_what_a_config_no_longer_declares(tmp_path: Path) -> None:
    """Run again with the webserver's section gone from the config, inject takes back its
    container and the record: the plan names both, and nothing else."""
    renders, config = CASES["seed"]
    injected = run_cli("inject", "--config", config, *renders)
    assert injected.returncode == 0, injected.stderr
    before = tmp_path / "injected.yaml"
    before.write_bytes(injected.stdout)
    text = config.read_text()
    less = tmp_path / "less.yaml"
    less.write_text(text[: text.index("  webserver:")] + text[text.index("  workers:") :])
    again = run_cli("inject", "--config", less, before)
    assert again.returncode == 0, again.stderr
    planned = run_cli("inject", "--plan", "-o", "json", "--config", less, before)
    said, taken_back = _planned(json.loads(planned.stdout))
    assert said == set()
    assert taken_back == _added(again.stdout.decode(), before.read_text())  # added, backwards
    assert {(fact[0], fact[2], fact[4]) for fact in taken_back} == {
        ("Deployment/airflow-webserver", "container", "sync-perm"),
        ("Deployment/airflow-webserver", "annotation", "airflow-sidecars.dev/seed-sidecars"),
    }
    table = run_cli("inject", "--plan", "--config", less, before).stdout.decode()
    assert "plain sidecar  sync-perm                           taken back: image" in table
    assert "plan: 0 addition(s), 2 taken back in 1 object(s) of 1 release(s)" in table


def test_the_plan_says_what_an_error_keeps_from_being_written() -> None:
    """With a plain sidecar in the KubernetesExecutor pod template (an error), inject writes
    nothing: the plan exits 1 as inject does, says `applies: false`, and names the error."""
    config = GOLDEN / "official-1.15.0-kubernetes-executor/config.yaml"
    render = FIXTURES / "official-1.15.0/02-kubernetes-executor.yaml"
    injected = run_cli("inject", "--config", config, render)
    planned = run_cli("inject", "--plan", "-o", "json", "--config", config, render)
    assert injected.returncode == planned.returncode == 1
    plan = json.loads(planned.stdout)
    assert plan["applies"] is False
    assert plan["findings"][0]["tags"]["rule"] == "plain-sidecar"
    table = run_cli("inject", "--plan", "--config", config, render)
    assert table.returncode == 1
    assert (
        "not applied: with these errors inject writes the input as it came" in table.stdout.decode()
    )


def test_the_plan_says_what_reached_nothing() -> None:
    """A section that matches no workload is a finding of the plan, as of inject."""
    render = FIXTURES / "official-1.20.0/01-default.yaml"  # Airflow 3: no webserver
    planned = run_cli("inject", "--plan", "--config", EXAMPLES / "seed-sidecars.yaml", render)
    text = planned.stdout.decode()
    assert planned.returncode == 0
    assert (
        "warning: [no-match] AirflowSidecars seed-sidecars spec.webserver: spec.webserver" in text
    )
    assert "matched no\n      workload: this is an Airflow 3 render" in text
    assert all(len(line) <= 100 for line in text.splitlines())


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["-o", "yaml"], "with --plan, -o is the format: table (the default) or json"),
        (["--diff"], "--plan writes no manifests: leave out --diff"),
        (["--in-place"], "--plan writes no manifests: leave out --in-place"),
    ],
)
def test_plan_misuse_is_exit_2(options: list[str], said: str) -> None:
    planned = run_cli(
        "inject", "--plan", *options, "--config", EXAMPLES / "seed-sidecars.yaml", SEED
    )
    assert planned.returncode == 2
    assert said in planned.stderr
    assert planned.stdout == b""


def test_plan_without_a_config_is_exit_2() -> None:
    planned = run_cli("inject", "--plan", SEED)
    assert planned.returncode == 2


@pytest.mark.parametrize(
    ("output", "golden"), [("table", "expected.plan.txt"), ("json", "expected.plan.json")]
)
def test_plan_golden_on_the_seed_example(output: str, golden: str) -> None:
    """The README's first example (golden case official-1.15.0-seed): the table and the JSON,
    byte for byte; the same text in a pipe as on a terminal (no colour, no width probing)."""
    renders, config = CASES["seed"]
    paths = [path.relative_to(ROOT) for path in (config, *renders)]  # the JSON names the file
    planned = run_cli("inject", "--plan", "-o", output, "--config", *paths)
    assert planned.returncode == 0, planned.stderr
    assert planned.stderr == ""
    compare_or_update(GOLDEN / "official-1.15.0-seed" / golden, planned.stdout)
    if output == "table":
        assert all(len(line) <= 100 for line in planned.stdout.decode().splitlines())


# -- what inject's output adds, worked out from the input and the output ----------------------


def _documents(text: str) -> list[Any]:
    yaml = YAML(typ="safe", pure=True)
    return [doc for doc in yaml.load_all(io.StringIO(text)) if doc is not None]


def _added(before_text: str, after_text: str) -> set[Fact]:
    before, after = _documents(before_text), _documents(after_text)
    assert len(before) == len(after)
    found: set[Fact] = set()
    for old, new in zip(before, after, strict=True):
        if old == new:
            continue
        who = f"{new['kind']}/{new['metadata']['name']}"
        found |= _annotations(
            who, "", _get(old, "metadata", "annotations"), _get(new, "metadata", "annotations")
        )
        if new["kind"] == "ConfigMap":
            for key, value in new.get("data", {}).items():
                if value != old["data"][key]:
                    pod_before = _documents(old["data"][key])[0]["spec"]
                    pod_after = _documents(value)[0]["spec"]
                    found |= _pod(who, key, pod_before, pod_after)
            continue
        path = POD_SPEC_PATHS.get(new["kind"])
        if path is None:
            continue
        found |= _pod(who, "", _get(old, *path), _get(new, *path))
        template = path[:-1]
        found |= _annotations(
            who,
            "",
            _get(old, *template, "metadata", "annotations"),
            _get(new, *template, "metadata", "annotations"),
        )
        old_rest, new_rest = _without_pod(old, path), _without_pod(new, path)
        assert old_rest == new_rest, f"{who}: changed outside its pod spec and annotations"
    return found


def _pod(who: str, key: str, old: dict[str, Any], new: dict[str, Any]) -> set[Fact]:
    found: set[Fact] = set()
    for list_name in ("containers", "initContainers"):
        old_ones = {c["name"]: c for c in old.get(list_name) or []}
        for container in new.get(list_name) or []:
            name = container["name"]
            was = old_ones.get(name)
            if was is None or _bare(was) != _bare(container):
                found.add((who, key, "container", list_name, str(name), _j(container)))
                continue
            for field, merge_key, what in (
                ("volumeMounts", "mountPath", "volumeMount"),
                ("env", "name", "env"),
            ):
                had = [_j(entry) for entry in was.get(field) or []]
                for entry in container.get(field) or []:
                    if _j(entry) not in had:
                        found.add((who, key, what, str(name), str(entry[merge_key]), _j(entry)))
    old_volumes = [_j(volume) for volume in old.get("volumes") or []]
    for volume in new.get("volumes") or []:
        if _j(volume) not in old_volumes:
            found.add((who, key, "volume", "", str(volume["name"]), _j(volume)))
    rest = {k: v for k, v in new.items() if k not in ("containers", "initContainers", "volumes")}
    assert rest == {
        k: v for k, v in old.items() if k not in ("containers", "initContainers", "volumes")
    }
    return found


def _annotations(who: str, key: str, old: Any, new: Any) -> set[Fact]:
    old, new = old or {}, new or {}
    return {
        (who, key, "annotation", "", name, _j(value))
        for name, value in new.items()
        if old.get(name) != value
    }


def _planned(plan: dict[str, Any]) -> tuple[set[Fact], set[Fact]]:
    """What the plan adds (or replaces), and what it takes back."""
    added: set[Fact] = set()
    taken_back: set[Fact] = set()
    for workload in plan["workloads"]:
        who = f"{workload['kind']}/{workload['name']}"
        key = workload["podTemplate"] or ""
        for addition in workload["additions"]:
            said = taken_back if addition["action"] == "remove" else added
            what, value = addition["what"], addition["value"]
            if what == "container":
                where = "containers" if addition["role"] == "sidecar" else "initContainers"
                said.add((who, key, what, where, str(addition["name"]), _j(value)))
            elif what == "volumeMount":
                said.add(
                    (who, key, what, str(addition["container"]), value["mountPath"], _j(value))
                )
            elif what == "env":
                said.add((who, key, what, str(addition["container"]), addition["name"], _j(value)))
            else:
                said.add((who, key, what, "", str(addition["name"]), _j(value)))
    return added, taken_back


def _bare(container: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in container.items() if k not in ("volumeMounts", "env")}


def _without_pod(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    copied = json.loads(json.dumps(obj, default=str))
    holder = copied
    for step in path[:-1]:  # the pod template
        holder = holder[step]
    holder.get("metadata", {}).pop("annotations", None)
    holder.pop(path[-1], None)
    copied.get("metadata", {}).pop("annotations", None)
    return copied


def _get(data: Any, *path: str) -> Any:
    for step in path:
        if not isinstance(data, dict):
            return None
        data = data.get(step)
    return data


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def test_the_readme_shows_the_plan_of_its_first_example() -> None:
    """README.md's "Before you apply: --plan" shows the table this command prints (the
    golden above), so it cannot go stale."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Before you apply: `--plan`", 1)[1].split("\n### ", 1)[0]
    command = "$ airflow-sidecars inject --plan --config pipelines/examples/seed-sidecars.yaml "
    shown = section.split(command, 1)[1].split("\n", 1)[1].split("```", 1)[0]
    assert shown == (GOLDEN / "official-1.15.0-seed" / "expected.plan.txt").read_text()


def test_the_plan_of_a_resource_list_is_the_plan_of_its_items(tmp_path: Path) -> None:
    """KRM mode: the golden case krm-resourcelist carries the seed render and the article's
    config as a ResourceList; its plan is the plan of its items given as a stream, with its
    functionConfig given as --config."""
    resource_list = GOLDEN / "krm-resourcelist" / "input.yaml"
    as_list = YAML(typ="safe", pure=True).load(resource_list.read_text())
    config, items = tmp_path / "sidecars.yaml", tmp_path / "items.yaml"
    writer = YAML(typ="safe", pure=True)
    with config.open("w") as file:
        writer.dump(as_list["functionConfig"], file)
    with items.open("w") as file:
        writer.dump_all(as_list["items"], file)
    planned = run_cli("inject", "--plan", resource_list.relative_to(ROOT))
    assert planned.returncode == 0, planned.stderr
    assert b"myrepository/s3-sync:latest" in planned.stdout  # the functionConfig's, not the seed's
    streamed = run_cli("inject", "--plan", "--config", config, items)
    assert streamed.returncode == 0, streamed.stderr
    assert planned.stdout == streamed.stdout


def test_the_plan_on_a_terminal_is_the_text_in_a_pipe() -> None:
    """No colour and no width taken from the terminal: what a person sees is the golden."""
    renders, config = CASES["seed"]
    paths = [str(path.relative_to(ROOT)) for path in (config, *renders)]
    parent, child = pty.openpty()
    command = [sys.executable, "-m", "airflow_sidecars", "inject", "--plan", "--config", *paths]
    process = subprocess.Popen(command, stdout=child, stderr=child, cwd=ROOT)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(parent)
    assert process.wait(timeout=120) == 0
    golden = (GOLDEN / "official-1.15.0-seed" / "expected.plan.txt").read_bytes()
    assert seen.replace(b"\r\n", b"\n") == golden
