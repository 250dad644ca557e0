"""Files and folders on the command line, `--in-place`, the summary line, and the terminal
notice: a repository of committed rendered manifests laid out as `helm template --output-dir`
writes it (one file per chart template, folders as the chart's), run through a real process."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT, run_cli

SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
PRESETS = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
# The KubernetesExecutor render: the pod template's ConfigMap and the pods whose
# checksum/airflow-config follows it are in different files.
RENDER = FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml"
SOURCE = re.compile(r"^# Source: (.+)$", re.M)


def output_dir(render: Path, root: Path) -> dict[Path, bytes]:
    """`render` split the way `helm template --output-dir ROOT` writes it: each document into
    the file of the template it came from (`# Source:`), documents of one template joined by
    `---`. Returns each file's bytes."""
    files: dict[Path, bytes] = {}
    for document in re.split(r"^---\n", render.read_text(), flags=re.M):
        found = SOURCE.search(document)
        if found is None:
            continue
        path = root / found.group(1)
        before = files.get(path)
        files[path] = (before + b"---\n" if before else b"") + document.encode()
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def objects(text: bytes) -> list[object]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def walk_order(root: Path) -> list[Path]:
    """The order `kubectl -f DIR -R` reads a tree in (Go's filepath.Walk: each folder's
    entries by name, a subfolder read where its name sorts)."""
    order: list[Path] = []
    for entry in sorted(root.iterdir(), key=lambda path: path.name):
        order += walk_order(entry) if entry.is_dir() else [entry]
    return order


def test_a_folder_reads_like_the_files_in_walk_order(tmp_path: Path) -> None:
    files = output_dir(RENDER, tmp_path / "manifests")
    order = walk_order(tmp_path / "manifests")
    assert len(order) == len(files) > 20
    by_folder = run_cli("inject", "--config", PRESETS, tmp_path / "manifests")
    by_files = run_cli("inject", "--config", PRESETS, *order)
    assert by_folder.returncode == 0, by_folder.stderr
    assert by_folder.stdout == by_files.stdout
    assert by_folder.stderr == by_files.stderr.replace(str(tmp_path), str(tmp_path))
    # the same objects as the render given as one stream, in the folder's order
    whole = run_cli("inject", "--config", PRESETS, RENDER)
    assert sorted(map(json.dumps, objects(by_folder.stdout))) == sorted(
        map(json.dumps, objects(whole.stdout))
    )


def test_folder_order_skips_and_suffixes(tmp_path: Path) -> None:
    """Go's lexical walk puts b/ before b.yaml (a sort of whole paths would not), `.`-names and
    other suffixes are skipped, JSON is read, a link to a folder is not followed."""
    tree = tmp_path / "tree"

    def config_map(name: str) -> str:
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"

    for path, name in [
        ("a.yaml", "a"),
        ("b/c.yml", "b-c"),
        ("b.yaml", "b"),
        (".expected/x.yaml", "hidden"),
        ("b/.swap.yaml", "swap"),
        ("notes.txt", "notes"),
    ]:
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(config_map(name))
    (tree / "z.json").write_text(json.dumps(yaml.safe_load(config_map("z"))))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "y.yaml").write_text(config_map("linked"))
    (tree / "link").symlink_to(tmp_path / "elsewhere")
    completed = run_cli("validate", tree)
    assert completed.returncode == 0, completed.stderr
    names = [doc["metadata"]["name"] for doc in objects(completed.stdout)]  # type: ignore[index]
    assert names == ["a", "b-c", "b", "z"]


def test_a_folder_with_no_manifests_is_misuse(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "README.md").write_text("no manifests here\n")
    completed = run_cli("inject", "--config", SEED, tmp_path / "empty")
    assert completed.returncode == 2 and completed.stdout == b""
    assert completed.stderr == (
        f"airflow-sidecars inject: {tmp_path / 'empty'}: no *.yaml, *.yml or *.json files in "
        "the folder\n"
    )


def test_in_place_writes_back_only_what_changed(tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    original = output_dir(RENDER, root)
    scheduler = root / "airflow/templates/scheduler/scheduler-deployment.yaml"
    scheduler.chmod(0o640)
    mtimes = {path: path.stat().st_mtime_ns for path in original}
    time.sleep(0.01)
    expected = run_cli("inject", "--config", PRESETS, *walk_order(root))
    completed = run_cli("inject", "--in-place", "--config", PRESETS, root)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == b""  # the output went into the files
    after = read_tree(root)
    assert set(after) == set(original)  # no file added (no temporary left), none lost
    changed = {path for path in original if after[path] != original[path]}
    written = {
        root / line.split("wrote ", 1)[1].removeprefix(f"{root}/")
        for line in completed.stderr.splitlines()
        if line.startswith("inject: wrote ")
    }
    assert changed == written and len(changed) >= 4
    assert scheduler in changed and stat_mode(scheduler) == 0o640
    for path in set(original) - changed:  # not even touched
        assert path.stat().st_mtime_ns == mtimes[path]
    # what the files now hold is what the stream output holds, in the same order
    joined = b"---\n".join(after[path] for path in walk_order(root))
    assert objects(joined) == objects(expected.stdout)
    assert completed.stderr.splitlines()[-1].endswith("; 0 errors, 0 warnings, 8 info")

    again = run_cli("inject", "--in-place", "--config", PRESETS, root)
    assert again.returncode == 0 and "wrote" not in again.stderr
    assert read_tree(root) == after

    removed = run_cli("remove", "--in-place", root)
    assert removed.returncode == 0, removed.stderr
    assert read_tree(root) == original  # the chart's render, byte for byte


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_in_place_writes_nothing_when_there_are_errors(tmp_path: Path) -> None:
    root = tmp_path / "manifests"
    original = output_dir(RENDER, root)
    config = tmp_path / "plain.yaml"
    config.write_text(
        "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\n"
        "metadata:\n  name: plain\nspec:\n  workers:\n    extraContainers:\n"
        "      - name: shipper\n        image: busybox:1.36\n"
    )
    completed = run_cli("inject", "-i", "--config", config, root)
    assert completed.returncode == 1
    assert "[plain-sidecar]" in completed.stderr and "wrote" not in completed.stderr
    assert read_tree(root) == original


def test_json_files_stay_json_in_place(tmp_path: Path) -> None:
    render = [doc for doc in objects(RENDER.read_bytes()) if isinstance(doc, dict)]
    scheduler = next(d for d in render if d["kind"] == "Deployment" and "scheduler" in str(d))
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps(scheduler, indent=2) + "\n")
    completed = run_cli("inject", "-i", "--config", SEED, path)
    assert completed.returncode == 0, completed.stderr
    written = json.loads(path.read_text())  # still JSON, not just YAML
    containers = written["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["scheduler", "scheduler-log-groomer", "s3-sync"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-"], "--in-place writes files back: give the input as files or folders, not stdin"),
        (["-o", "out.yaml", "r.yaml"], "--in-place and -o both say where the output goes"),
        (["r.yaml", "."], "--in-place: ./r.yaml is given twice"),
    ],
)
def test_in_place_misuse(tmp_path: Path, arguments: list[str], message: str) -> None:
    (tmp_path / "r.yaml").write_bytes(RENDER.read_bytes())
    completed = run_cli("inject", "-i", "--config", SEED, *arguments, cwd=tmp_path)
    assert completed.returncode == 2 and completed.stdout == b""
    assert completed.stderr.startswith(f"airflow-sidecars inject: {message}")
    assert (tmp_path / "r.yaml").read_bytes() == RENDER.read_bytes()
    assert not (tmp_path / "out.yaml").exists()


def test_in_place_refuses_a_resource_list(tmp_path: Path) -> None:
    request = tmp_path / "request.yaml"
    items = objects(RENDER.read_bytes())
    request.write_text(
        yaml.safe_dump(
            {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
        )
    )
    before = request.read_bytes()
    completed = run_cli("inject", "--in-place", "--config", SEED, request)
    assert completed.returncode == 2
    assert "the input is a ResourceList (KRM mode" in completed.stderr
    assert request.read_bytes() == before


def test_summary_line_counts_objects_releases_and_workloads(tmp_path: Path) -> None:
    completed = run_cli("inject", "--config", PRESETS, RENDER)
    assert completed.stderr.splitlines()[-1] == (
        "inject: 26 objects, 1 release (airflow); 4 workloads changed, 0 unchanged; "
        "0 errors, 0 warnings, 8 info"
    )
    # a second release, in its own namespace, next to the first
    other = re.sub(r"\brelease: airflow\b", "release: team-b", RENDER.read_text())
    other = other.replace("  namespace: airflow\n", "  namespace: team-b\n")
    (tmp_path / "team-b.yaml").write_text(other)
    checked = run_cli("validate", "--quiet", RENDER, tmp_path / "team-b.yaml")
    # the objects keep their names (helm template without --namespace writes none): the same
    # objects in two folders are two renders, each checked on its own (README, "Files and
    # folders"), and said so in an info line each
    assert checked.stderr.splitlines()[-1] == (
        "validate: 52 objects in 2 renders, 2 releases (airflow, team-b); 8 workloads checked; "
        "0 errors, 0 warnings, 2 info"
    )
    failed = run_cli("inject", "--config", SEED, RENDER)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == (
        "inject: 26 objects, 1 release (airflow); nothing applied (4 workloads would have "
        "changed); 1 error, 0 warnings, 7 info"
    )


def test_a_terminal_on_stdin_is_told_what_is_awaited() -> None:
    """Run with no input on a terminal, the command says it waits for stdin (and how to give
    files) instead of hanging in silence; Ctrl-D ends the input."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_sidecars", "validate"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(follower)
    try:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 30)
        assert ready, "nothing said on stderr"
        said = os.read(process.stderr.fileno(), 4096).decode()
        assert said == (
            "airflow-sidecars validate: waiting for manifests on stdin (a terminal): paste "
            "them and press Ctrl-D, or give files or folders: airflow-sidecars validate "
            "--config FILE RENDER.yaml|DIR\n"
        )
        os.write(leader, b"\x04")  # Ctrl-D: the end of the input
        stdout, stderr = process.communicate(timeout=30)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    # Nothing pasted: an input without objects, said once (an error: a check of nothing).
    assert process.returncode == 1, stderr
    assert stdout == b"" and stderr.decode().startswith("validate: error: [no-objects]")


def test_a_pipe_on_stdin_is_not_announced() -> None:
    completed = run_cli("validate", stdin=RENDER.read_bytes())
    assert "waiting" not in completed.stderr
