"""The command line as users and orchestrators call it: modes, exit codes, stdout/stderr, and
a real `kubectl kustomize` run of the legacy exec-plugin layout; validate's findings as printed;
hostile and large input through a real process (a deep input that once crashed libyaml, a 50 MB
stream); and what a fresh interpreter imports for a run (the start-up budget)."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT, compare_or_update, kubectl, run_cli, run_kustomize
from support.terminal import run_in_terminal

SEED = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
RENDER = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"
DEFAULT = FIXTURES / "official-1.15.0" / "01-default.yaml"
AFTER = FIXTURES / "official-1.15.0" / "05b-sidecars-after.yaml"


def test_stream_from_stdin_to_stdout() -> None:
    result = run_cli("inject", "--config", SEED, stdin=RENDER.read_bytes())
    assert result.returncode == 0, result.stderr
    names = [
        c["name"]
        for d in yaml.safe_load_all(result.stdout)
        if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "airflow-scheduler"
        for c in d["spec"]["template"]["spec"]["containers"]
    ]
    assert names == ["scheduler", "scheduler-log-groomer", "s3-sync"]
    assert result.stderr.endswith(
        "inject: 31 objects, 1 release (airflow); 3 workloads changed, 1 unchanged; "
        "0 errors, 0 warnings, 3 info\n"
    )


def test_inject_without_config_is_misuse_and_the_input_comes_back_unchanged() -> None:
    # As the README's failure modes say: no config at all is misuse (exit 2), in both modes;
    # the output is still complete (the stream as it came; a ResourceList with the error).
    result = run_cli("inject", RENDER)
    assert result.returncode == 2
    assert result.stdout == RENDER.read_bytes()
    assert "no config" in result.stderr
    krm = run_cli("inject", stdin=_as_resource_list(RENDER, None))
    assert krm.returncode == 2
    listed = yaml.safe_load(krm.stdout)
    assert len(listed["items"]) == 31
    assert [r["message"][:10] for r in listed["results"]] == ["no config:"]


@pytest.mark.parametrize("command", ["validate", "inject"])
@pytest.mark.parametrize("given", ["file", "stdin"])
def test_a_config_given_as_the_input_is_misuse(command: str, given: str) -> None:
    # `validate sidecars.yaml`, --config forgotten: not "0 workloads checked" and exit 0.
    argv, stdin = ([SEED], b"") if given == "file" else ([], SEED.read_bytes())
    for strict in ([], ["--strict"]):
        result = run_cli(command, *strict, *argv, stdin=stdin)
        assert result.returncode == 2, result.stderr
        assert result.stdout == b""
        (said,) = result.stderr.splitlines()
        name = str(SEED) if given == "file" else "stdin"
        assert said.startswith(f"airflow-sidecars {command}: {name} holds an AirflowSidecars")
        assert "--config" in said
    # with a render beside it, too: the config is still not a manifest
    both = run_cli(command, SEED, RENDER)
    assert both.returncode == 2 and f"{SEED} holds an AirflowSidecars config" in both.stderr


def test_a_config_as_functionconfig_is_no_misuse() -> None:
    # KRM mode: the config is the ResourceList's functionConfig, as kpt sends it.
    result = run_cli("inject", "--strict", stdin=_as_resource_list(RENDER, SEED))
    assert result.returncode == 0, result.stderr
    assert len(yaml.safe_load(result.stdout)["items"]) == 31


@pytest.mark.parametrize("command", ["validate", "inject"])
@pytest.mark.parametrize(
    "stdin", [b"", b"# Source: nothing\n---\n"], ids=["empty", "only-comments"]
)
def test_an_input_without_objects_is_said_once(command: str, stdin: bytes) -> None:
    # Not one no-match per section of the config: one error (a CI render that failed before
    # the pipe must not pass), the input back as it came.
    result = run_cli(command, "--config", SEED, stdin=stdin)
    assert result.returncode == 1
    assert result.stdout == stdin
    findings = result.stderr.splitlines()[:-1]
    assert findings == [
        f"{command}: error: [no-objects]: the input holds no objects (empty, or only "
        f"comments): nothing to {'check' if command == 'validate' else 'add to'}; give the "
        "rendered manifests"
    ]


@pytest.mark.parametrize("command", ["validate", "inject"])
def test_an_empty_resource_list_is_nothing_to_do(command: str) -> None:
    # kpt runs functions on empty packages: no reach findings, not even under --strict.
    document = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [],
        "functionConfig": yaml.safe_load(SEED.read_text()),
    }
    result = run_cli(command, "--strict", stdin=yaml.safe_dump(document).encode())
    assert result.returncode == 0, result.stderr
    output = yaml.safe_load(result.stdout)
    assert output["items"] == []
    assert [(r["severity"], r["tags"]["rule"]) for r in output["results"]] == [
        ("info", "no-objects")
    ]


def _without_airflow_workloads(render: Path) -> bytes:
    """The chart's render with its workloads filtered out, as a wrong selector or a render of
    the wrong chart leaves it: the chart's Services, ConfigMaps, Secrets and RBAC."""
    kept = [
        document
        for document in yaml.safe_load_all(render.read_text())
        if document
        and document["kind"] not in {"Deployment", "StatefulSet", "Job", "CronJob"}
        and "pod_template_file.yaml" not in document.get("data", {})
    ]
    return yaml.safe_dump_all(kept).encode()


@pytest.mark.parametrize("strict", [False, True], ids=["plain", "strict"])
@pytest.mark.parametrize("mode", ["stream", "resourcelist"])
def test_validate_that_checked_no_workload_says_so(strict: bool, mode: str) -> None:
    # Without a config, "0 workloads checked" and exit 0 let a CI check of the wrong input
    # pass; the warning (an error with --strict) says what validate looks for.
    stream = _without_airflow_workloads(DEFAULT)
    count = sum(1 for document in yaml.safe_load_all(stream) if document)
    stdin = stream
    if mode == "resourcelist":
        items = list(yaml.safe_load_all(stream))
        document = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList", "items": items}
        stdin = yaml.safe_dump(document).encode()
    result = run_cli("validate", *(["--strict"] if strict else []), stdin=stdin)
    assert result.returncode == (1 if strict else 0), result.stderr
    severity = "error" if strict else "warning"
    findings = result.stderr.splitlines()
    assert findings[0].startswith(
        f"validate: {severity}: [no-workloads]: nothing was checked: the input holds "
        "objects but no Airflow workload. validate looks for the Deployments, "
    )
    assert "label `tier: airflow`, or `app: airflow`" in findings[0]
    assert findings[1:] == [
        f"validate: {count} objects, no Airflow release; 0 workloads checked; "
        f"{int(strict)} error{'' if strict else 's'}, {int(not strict)} warning"
        f"{'' if not strict else 's'}, 0 info"
    ]
    if mode == "resourcelist":
        results = yaml.safe_load(result.stdout)["results"]
        assert [(r["severity"], r["tags"]["rule"]) for r in results] == [(severity, "no-workloads")]
    else:
        assert result.stdout == stdin  # every object back, byte for byte


def test_validate_of_a_render_with_workloads_or_with_a_config_says_no_more() -> None:
    # The chart's render: workloads checked, nothing to say. A config: its no-match says it.
    plain = run_cli("validate", "--strict", DEFAULT)
    assert plain.returncode == 0 and "no-workloads" not in plain.stderr
    stream = _without_airflow_workloads(DEFAULT)
    with_config = run_cli("validate", "--config", SEED, stdin=stream)
    assert "no-workloads" not in with_config.stderr
    assert "[no-match]" in with_config.stderr


def test_malformed_yaml_is_a_clear_error_without_traceback() -> None:
    result = run_cli("inject", "--config", SEED, stdin=b"kind: Deployment\nmetadata: {name: [x\n")
    assert result.returncode == 1
    assert "input is not valid YAML: line 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_line_misuse_exits_2() -> None:
    assert run_cli("inject", "--no-such-flag").returncode == 2
    assert run_cli("frobnicate").returncode == 2
    missing = run_cli("inject", "--config", "no-such-file.yaml", RENDER)
    assert missing.returncode == 2
    assert "no-such-file.yaml" in missing.stderr


def test_schema_prints_the_shipped_json_schema() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "AirflowSidecars"
    assert schema == json.loads((ROOT / "schemas" / "airflow-sidecars.v1alpha1.json").read_text())


def test_kubectl_kustomize_runs_it_as_a_legacy_exec_plugin(tmp_path: Path) -> None:
    """kustomize's pre-KRM plugin style (krm-contract.md §2.3): the plugin gets the config file
    as argv[1] and a plain stream on stdin, and must print every resource back. The plugin is
    installed by our own command, and pipelines/kustomize-plugin is run exactly as its
    kustomization.yaml says, against the golden output."""
    home = tmp_path / "plugins"
    installed = run_cli("install-kustomize-plugin", "--plugin-home", home)
    assert installed.returncode == 0, installed.stderr
    plugin = home / "airflow-sidecars.dev" / "v1alpha1" / "airflowsidecars" / "AirflowSidecars"
    assert installed.stdout.decode().strip() == str(plugin)
    assert plugin.stat().st_mode & stat.S_IXUSR

    example = ROOT / "pipelines" / "kustomize-plugin"
    completed = run_kustomize(example, {"KUSTOMIZE_PLUGIN_HOME": str(home)})
    assert completed.returncode == 0, completed.stderr
    compare_or_update(example / "expected.yaml", completed.stdout)

    objects = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(completed.stdout)}
    assert len(objects) == 31

    def containers(kind: str, name: str) -> list[str]:
        spec = objects[(kind, name)]["spec"]["template"]["spec"]
        return [c["name"] for c in spec["containers"]]

    assert containers("Deployment", "airflow-scheduler")[-1] == "s3-sync"
    assert containers("Deployment", "airflow-webserver")[-1] == "sync-perm"
    assert containers("StatefulSet", "airflow-worker")[-1] == "worker-kerberos"


# A config that reaches the scheduler, and names a section this Airflow 2 render lacks: a
# warning (not strict), and the run succeeds.
WARNS = """\
apiVersion: airflow-sidecars.dev/v1alpha1
kind: AirflowSidecars
metadata:
  name: warns
spec:
  scheduler:
    extraContainers:
      - {name: s3-sync, image: busybox:1.36}
  dagProcessor:
    extraContainers:
      - {name: parse-log, image: busybox:1.36}
"""


def test_the_legacy_plugins_warnings_reach_the_terminal_and_the_report(tmp_path: Path) -> None:
    """kustomize drops a legacy plugin's stderr when it succeeds: inject's warning would be
    lost. The plugin also writes what inject says to the terminal kustomize runs in, and to its
    report file."""
    home = tmp_path / "plugins"
    assert run_cli("install-kustomize-plugin", "--plugin-home", home).returncode == 0
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "render.yaml").write_bytes(RENDER.read_bytes())
    (folder / "sidecars.yaml").write_text(WARNS)
    (folder / "kustomization.yaml").write_text(
        "resources: [render.yaml]\ntransformers: [sidecars.yaml]\n"
    )
    state = tmp_path / "state"
    env = {**os.environ, "KUSTOMIZE_PLUGIN_HOME": str(home), "XDG_STATE_HOME": str(state)}
    env.pop("AIRFLOW_SIDECARS_REPORT", None)
    ran = run_in_terminal(
        [kubectl(), "kustomize", "--enable-alpha-plugins", str(folder)], env, tmp_path
    )
    assert ran.status == 0, ran.stderr
    assert b"name: s3-sync" in ran.stdout
    assert "dagProcessor" not in ran.stderr  # kustomize showed nothing of it
    lines = ran.terminal.splitlines()
    assert lines[0].startswith(
        "inject: warning: [no-match] AirflowSidecars warns spec.dagProcessor"
    )
    assert "0 errors, 1 warning" in lines[-1]
    report = (state / "airflow-sidecars" / "kustomize-plugin.txt").read_text()
    assert report.splitlines()[1:] == lines


def test_a_person_running_inject_sees_each_line_once(tmp_path: Path) -> None:
    """--terminal when stderr already is the terminal: nothing twice."""
    config = tmp_path / "sidecars.yaml"
    config.write_text(WARNS)
    argv = [sys.executable, "-m", "airflow_sidecars", "inject", "--terminal"]
    argv += ["--config", str(config), "-o", str(tmp_path / "out.yaml"), str(RENDER)]
    ran = run_in_terminal(argv, dict(os.environ), tmp_path, stderr_on_terminal=True)
    assert ran.status == 0, ran.terminal
    lines = ran.terminal.splitlines()
    assert len(lines) == len(set(lines)) == 3, ran.terminal  # warning, info, summary
    assert "0 errors, 1 warning" in lines[-1]


def test_the_plugin_installer_follows_kustomizes_plugin_home(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env.pop("KUSTOMIZE_PLUGIN_HOME", None)
    completed = subprocess.run(
        [sys.executable, "-m", "airflow_sidecars", "install-kustomize-plugin"],
        capture_output=True,
        env=env,
        check=True,
        text=True,
    )
    expected = tmp_path / "xdg" / "kustomize" / "plugin" / "airflow-sidecars.dev" / "v1alpha1"
    assert completed.stdout.strip() == str(expected / "airflowsidecars" / "AirflowSidecars")


@pytest.mark.parametrize("on_path", [True, False], ids=["found-on-path", "not-found"])
def test_the_plugin_outlives_the_environment_that_wrote_it(tmp_path: Path, on_path: bool) -> None:
    """The plugin records the interpreter that wrote it; when that environment is gone, it runs
    `airflow-sidecars` from the PATH, or says how to install it again - never a bare
    "not found" from the shell."""
    home = tmp_path / "plugins"
    assert run_cli("install-kustomize-plugin", "--plugin-home", home).returncode == 0
    plugin = home / "airflow-sidecars.dev" / "v1alpha1" / "airflowsidecars" / "AirflowSidecars"
    text = plugin.read_text()
    assert f"python={shlex.quote(sys.executable)}\n" in text
    plugin.write_text(text.replace(f"python={shlex.quote(sys.executable)}", "python=/gone/python3"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if on_path:
        wrapper = bin_dir / "airflow-sidecars"
        wrapper.write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m airflow_sidecars "$@"\n'
        )
        wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    config = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
    render = (FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml").read_bytes()
    completed = subprocess.run(
        [str(plugin), str(config)], input=render, capture_output=True, env=env, check=False
    )
    if on_path:
        assert completed.returncode == 0, completed.stderr
        assert b"name: s3-sync" in completed.stdout
    else:
        assert completed.returncode == 1
        assert completed.stdout == b""
        message = completed.stderr.decode()
        assert "/gone/python3" in message and "install-kustomize-plugin" in message


def test_the_command_line_prints_one_line_per_finding() -> None:
    completed = run_cli("validate", AFTER)
    assert completed.returncode == 1
    assert completed.stdout == (AFTER).read_bytes()
    lines = completed.stderr.splitlines()
    assert lines[0] == (
        "validate: error: [missing-volume] Deployment airflow-scheduler "
        "spec.template.spec.containers[2].volumeMounts[0].name: container 's3-sync' mounts "
        "volume 'dags', which this pod does not define; the API server rejects the pod"
    )
    assert lines[-1].endswith("; 1 error, 5 warnings, 3 info")
    assert len(lines) == 10


# -- hostile and large input -----------------------------------------------------------------------


def test_a_deep_input_is_an_error_from_the_command_line_not_a_crash() -> None:
    # libyaml's composer recursed until the process died (SIGSEGV) before the depth check.
    deep = b"a: " + b"[" * 200_000 + b"]" * 200_000 + b"\n"
    for command in (
        ["inject", "--config", ROOT / "pipelines/examples/seed-presets.yaml"],
        ["validate"],
    ):
        completed = run_cli(*command, stdin=deep)
        assert completed.returncode == 1, completed.stderr[-500:]
        assert any(
            words in completed.stderr
            for words in ("nested deeper than 200 levels", "exceeded maximum nesting depth")
        ), completed.stderr
        assert "Traceback" not in completed.stderr


def test_a_50_mb_stream_of_thousands_of_objects(tmp_path: Path) -> None:
    # 700 releases of the official render under their own names: 21,700 objects, 50 MB. The
    # benchmark measures time and memory (benchmarks/README.md); here: it completes, and every
    # object comes back, in order, with the sidecars added to each release.
    text = DEFAULT.read_text()
    copies = [
        text.replace("release: airflow", f"release: r{i}").replace("name: airflow-", f"name: r{i}-")
        for i in range(700)
    ]
    stream = tmp_path / "big.yaml"
    stream.write_text("".join(copies))
    assert stream.stat().st_size > 45_000_000
    out = tmp_path / "out.yaml"
    with out.open("wb") as output:
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "airflow_sidecars",
                "inject",
                "--config",
                str(ROOT / "pipelines" / "examples" / "seed-presets.yaml"),
                str(stream),
            ],
            stdout=output,
            stderr=subprocess.PIPE,
            check=False,
            timeout=600,
        )
    assert completed.returncode == 0, completed.stderr[-2000:]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    before = [
        (d["kind"], d["metadata"]["name"])
        for d in yaml.load_all(stream.read_text(), Loader=loader)
        if d
    ]
    after_docs = [d for d in yaml.load_all(out.read_text(), Loader=loader) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in after_docs] == before
    assert len(before) > 20_000
    sidecars = sum(
        1
        for d in after_docs
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
        if c["name"] == "s3-sync"
    )
    assert sidecars == 700


# -- start-up --------------------------------------------------------------------------------------


IMPORTS_AFTER_A_RUN = """
import sys
from airflow_sidecars.runs.api import ConfigSource, run_inject
config = ConfigSource("config.yaml", open(sys.argv[1], "rb").read())
render = open(sys.argv[2], "rb").read()
outcome = run_inject([("render.yaml", render)], config)
print(outcome.exit_code, "jsonschema" in sys.modules)
"""


def _run_in_fresh_interpreter(config: Path) -> tuple[str, str]:
    render = ROOT / "tests/fixtures/official-1.15.0/05a-sidecars-before.yaml"
    completed = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_A_RUN, str(config), str(render)],
        capture_output=True,
        text=True,
        check=True,
    )
    exit_code, jsonschema_imported = completed.stdout.split()
    return exit_code, jsonschema_imported


def test_a_valid_config_does_not_import_jsonschema() -> None:
    # The start-up budget (benchmarks/README.md) rests on this, so it is checked in a fresh
    # interpreter.
    assert _run_in_fresh_interpreter(ROOT / "benchmarks/seed-sidecars.yaml") == ("0", "False")


def test_an_invalid_config_is_checked_by_jsonschema(tmp_path: Path) -> None:
    text = (ROOT / "benchmarks/seed-sidecars.yaml").read_text()
    invalid = tmp_path / "config.yaml"
    invalid.write_text(text.replace("imagePullPolicy: Always", "imagePullPolicy: Sometimes"))
    assert _run_in_fresh_interpreter(invalid) == ("1", "True")


def test_remove_on_the_command_line_gives_back_the_charts_render(tmp_path: Path) -> None:
    render = FIXTURES / "official-1.15.0" / "02-kubernetes-executor.yaml"
    presets = ROOT / "pipelines" / "examples" / "seed-presets.yaml"
    injected = run_cli("inject", "--config", presets, render)
    assert injected.returncode == 0, injected.stderr
    output = tmp_path / "out.yaml"
    output.write_bytes(injected.stdout)
    configs: list[list[str | Path]] = [[], ["--config", presets]]
    for config in configs:
        removed = run_cli("remove", *config, output)
        assert removed.returncode == 0, removed.stderr
        assert removed.stdout == render.read_bytes()
        assert "remove: info: [taken-back]" in removed.stderr


def test_diff_output_file_and_quiet(tmp_path: Path) -> None:
    """--diff shows what changed, object by object; -o puts the output in a file (the same
    bytes stdout would carry); --quiet leaves out the info lines, not the findings."""
    config = ROOT / "pipelines" / "examples" / "seed-sidecars.yaml"
    render = FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml"
    plain = run_cli("inject", "--config", config, render)
    assert plain.returncode == 0 and "info: [added]" in plain.stderr
    out = tmp_path / "out.yaml"
    shown = run_cli("inject", "--quiet", "--diff", "-o", out, "--config", config, render)
    assert shown.returncode == 0, shown.stderr
    assert out.read_bytes() == plain.stdout
    assert "info:" not in shown.stderr and shown.stderr.endswith("0 errors, 0 warnings, 3 info\n")
    diff = shown.stdout.decode()
    headers = [line for line in diff.splitlines() if line.startswith("+++ ")]
    assert headers == [
        "+++ Deployment airflow-scheduler (output)",
        "+++ Deployment airflow-webserver (output)",
        "+++ StatefulSet airflow-worker (output)",
    ]
    assert "+        - name: s3-sync\n" in diff and "\033[" not in diff  # no colour in a pipe
    added = [line for line in diff.splitlines() if line.startswith("+") and "+++" not in line]
    removed = [line for line in diff.splitlines() if line.startswith("-") and "---" not in line]
    assert added and not removed  # inject only adds
    # without -o, --diff prints only the diff; nothing changed, nothing printed
    again = run_cli("inject", "--diff", "--config", config, out)
    assert again.returncode == 0 and again.stdout == b""


def test_the_diff_is_coloured_on_a_terminal() -> None:
    from airflow_sidecars.runs.diffs import object_diffs  # noqa: PLC0415

    before = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"
    after = before.replace("k: v", "k: w")
    coloured = object_diffs([(None, before)], after, colour=True)
    assert "\033[31m-  k: v\033[0m\n" in coloured and "\033[32m+  k: w\033[0m\n" in coloured
    assert object_diffs([(None, before)], before, colour=True) == ""


AIRFLOW3 = FIXTURES / "official-1.20.0" / "01-default.yaml"
AIRFLOW3_CONFIG = ROOT / "tests" / "golden" / "official-1.20.0-airflow3" / "config.yaml"
_RANK = {"error": 0, "warning": 1, "info": 2}


def _as_resource_list(render: Path, config: Path | None) -> bytes:
    items = [doc for doc in yaml.safe_load_all(render.read_text()) if doc]
    document: dict[str, object] = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": items,
    }
    if config is not None:
        document["functionConfig"] = yaml.safe_load(config.read_text())
    return yaml.safe_dump(document, sort_keys=False).encode()


def test_findings_come_errors_then_warnings_then_info() -> None:
    # kpt shows a long results list truncated: the warning that the webserver section reaches
    # nothing in an Airflow 3 render must come before the info lines of what was added.
    stream = run_cli("inject", "--config", AIRFLOW3_CONFIG, AIRFLOW3)
    assert stream.returncode == 0, stream.stderr
    said = [line.split(": ", 2)[1] for line in stream.stderr.splitlines()[:-1]]
    assert said[0] == "warning" and "info" in said
    assert said == sorted(said, key=_RANK.__getitem__)
    krm = run_cli("inject", stdin=_as_resource_list(AIRFLOW3, AIRFLOW3_CONFIG))
    assert krm.returncode == 0, krm.stderr
    results = yaml.safe_load(krm.stdout)["results"]
    severities = [result["severity"] for result in results]
    assert severities[0] == "warning" and "info" in severities
    assert severities == sorted(severities, key=_RANK.__getitem__)


def _config_with(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "sidecars.yaml"
    config.write_text(text)
    return config


def test_a_section_at_the_top_of_a_config_is_pointed_under_spec(tmp_path: Path) -> None:
    config = _config_with(
        tmp_path,
        "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\n"
        "metadata:\n  name: flat\nspec:\n  match: {release: airflow}\nscheduler:\n"
        "  extraContainers:\n    - {name: s3-sync, image: 'busybox:1.36'}\n",
    )
    result = run_cli("validate", "--config", config, RENDER)
    assert result.returncode == 1
    (error,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert "unknown field(s) scheduler" in error and "under spec: spec.scheduler" in error


@pytest.mark.parametrize(
    ("head", "said"),
    [
        pytest.param("", "got no kind and no apiVersion", id="neither"),
        pytest.param(
            "kind: AirflowSidecars\n",
            "got kind 'AirflowSidecars' and no apiVersion",
            id="no-apiVersion",
        ),
    ],
)
def test_a_config_without_kind_says_so_in_words(tmp_path: Path, head: str, said: str) -> None:
    config = _config_with(tmp_path, head + "metadata:\n  name: bare\nspec: {}\n")
    result = run_cli("inject", "--config", config, RENDER)
    assert result.returncode == 1
    assert result.stdout == RENDER.read_bytes()
    assert said in result.stderr and "None" not in result.stderr
    if not head:
        assert "error: [config] bare kind:" in result.stderr  # no blank for the missing kind
