"""The Helm 4 plugin (pipelines/helm/plugin) run by real Helm 4 code: the Go SDK that
helm-python-sdk embeds (Helm 4.2.3), installing a small chart of this project's own
(tests/fixtures/helm4/chart: the official chart's labels, a scheduler Deployment, a create-user
Job as a hook that runs as a ServiceAccount which is not a hook) in client dry-run mode, with
the plugin installed as `helm plugin install` would (copied into HELM_PLUGINS), once per
post-render strategy.

helm-python-sdk 0.2.2's `Config.install` has no post-renderer parameters; its native
`helm_install` takes them in its options (`post_renderer`, `post_renderer_args`,
`post_render_strategy`), and that is what a small driver program calls. Each install runs in a
process of its own, as a person runs `helm`: under a pseudo terminal (`pty.fork()`, so the
plugin inherits a controlling terminal, as it does Helm's) or in a session without one (CI),
where the report file is the way. Helm keeps the plugin's stderr to itself: what reaches the
person is only what the plugin writes to the terminal or the report.

Helm's dry-run install returns the release manifest without the hooks; an `airflow-sidecars`
first on the PATH records what Helm handed the plugin and what the plugin handed back (the
hooks among it), and then is the real one (the same process: Helm stays the parent).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from conftest import FIXTURES, ROOT, compare_or_update
from support.terminal import run_in_terminal

HELM4 = FIXTURES / "helm4"
CHART = HELM4 / "chart"
CONFIG = HELM4 / "config" / "sidecars.yaml"
SENT = HELM4 / "sent"  # what Helm hands the plugin, per strategy and call (UPDATE_GOLDEN=1)
PLUGIN = ROOT / "pipelines" / "helm" / "plugin"
ANNOTATION = "iam.gke.io/gcp-service-account"
ACCOUNT = "airflow@my-project.iam.gserviceaccount.com"
PLUGIN_FAILED = 'failed to invoke post-renderer plugin "airflow-sidecars"'

# Run in a process of its own: install the chart with the plugin as post-renderer.
DRIVER = """\
import json, sys
import helm_python
from helm_python import _native

chart, config, strategy, values, result = sys.argv[1:]
options = {
    "namespace": "airflow",
    "dry_run": "client",
    "post_renderer": "airflow-sidecars",
    "post_renderer_args": ["--config=" + config],
    "post_render_strategy": strategy,
}
helm = helm_python.Config(namespace="airflow", storage_driver="memory")
none = _native.HANDLE(0)
try:
    payload = _native.call_string(
        "helm_install", helm._raw(), none, none, chart, "airflow", values, json.dumps(options)
    )
    outcome = {"manifest": json.loads(payload)["manifest"]}
except helm_python.HelmError as error:
    outcome = {"error": str(error)}
with open(result, "w") as file:
    json.dump(outcome, file)
"""

# `airflow-sidecars` first on the PATH: keeps what Helm sends and what comes back, then becomes
# the real one by exec (so Helm stays its parent process: the plugin's caller).
RECORDER = """\
import os, sys

folder = os.environ["HELM4_TEST_CALLS"]
number = len([name for name in os.listdir(folder) if name.startswith("sent-")])
sent = sys.stdin.buffer.read()
with open(os.path.join(folder, f"sent-{number}.yaml"), "wb") as file:
    file.write(sent)
feed_read, feed_write = os.pipe()
back_read, back_write = os.pipe()
if os.fork() == 0:  # feeds the real one its input and copies its output to Helm and a file
    os.close(feed_read)
    os.close(back_write)
    view = memoryview(sent)
    while view:
        view = view[os.write(feed_write, view):]
    os.close(feed_write)
    with open(os.path.join(folder, f"back-{number}.yaml"), "wb") as file:
        while chunk := os.read(back_read, 65536):
            file.write(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(1, view):]
    os._exit(0)
os.close(feed_write)
os.close(back_read)
os.dup2(feed_read, 0)
os.dup2(back_write, 1)
os.close(feed_read)
os.close(back_write)
os.execv(REAL, [REAL, *sys.argv[1:]])
"""


class Installed(NamedTuple):
    manifest: str | None  # the release manifest Helm returns, or None when it failed
    error: str | None  # Helm's error
    terminal: str | None  # what reached the terminal (None: run without one)
    report: str | None  # the report file the plugin wrote (None: none)
    sent: list[str]  # what Helm handed the plugin, call by call
    back: list[str]  # what the plugin handed back


@pytest.fixture
def helm_env(tmp_path: Path) -> dict[str, str]:
    """The plugin installed as `helm plugin install` would, `airflow-sidecars` on the PATH
    (through the recorder), and every folder Helm or the plugin writes to under tmp_path."""
    plugins = tmp_path / "plugins"
    shutil.copytree(PLUGIN, plugins / "airflow-sidecars")
    scripts = sysconfig.get_path("scripts")
    real = shutil.which("airflow-sidecars", path=scripts)
    assert real, "pip install -e '.[test]' installs airflow-sidecars"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder = bin_dir / "airflow-sidecars"
    recorder.write_text(f"#!{sys.executable}\nREAL = {real!r}\n{RECORDER}")
    recorder.chmod(0o755)
    calls = tmp_path / "calls"
    calls.mkdir()
    for folder in ("home", "state", "run"):
        (tmp_path / folder).mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("HELM_")}
    env.pop("KUBECONFIG", None)  # never a cluster: the install is client side
    env.pop("AIRFLOW_SIDECARS_REPORT", None)
    return {
        **env,
        "HOME": str(tmp_path / "home"),
        "HELM_PLUGINS": str(plugins),
        "PATH": os.pathsep.join([str(bin_dir), scripts, env.get("PATH", "/usr/bin:/bin")]),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "HELM4_TEST_CALLS": str(calls),
    }


def install(
    helm_env: dict[str, str],
    tmp_path: Path,
    strategy: str,
    *,
    terminal: bool = True,
    values: dict[str, Any] | None = None,
) -> Installed:
    driver = tmp_path / "install.py"
    driver.write_text(DRIVER)
    result = tmp_path / f"result-{strategy}.json"
    argv = [
        sys.executable,
        str(driver),
        str(CHART),
        str(CONFIG),
        strategy,
        json.dumps(values or {}),
        str(result),
    ]
    if terminal:
        ran = run_in_terminal(argv, helm_env, tmp_path)
        assert ran.status == 0, ran.stderr
        seen: str | None = ran.terminal
    else:
        done = subprocess.run(
            argv,
            env=helm_env,
            capture_output=True,
            start_new_session=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        seen = None
    outcome = json.loads(result.read_text())
    report = Path(helm_env["XDG_STATE_HOME"]) / "airflow-sidecars" / "helm-post-render.txt"
    calls = Path(helm_env["HELM4_TEST_CALLS"])
    count = len(list(calls.glob("sent-*.yaml")))
    return Installed(
        outcome.get("manifest"),
        outcome.get("error"),
        seen,
        report.read_text() if report.exists() else None,
        [(calls / f"sent-{n}.yaml").read_text() for n in range(count)],
        [(calls / f"back-{n}.yaml").read_text() for n in range(count)],
    )


def objects(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for doc in yaml.safe_load_all(text)
        if isinstance(doc, dict)
    }


def pod_containers(obj: dict[str, Any]) -> list[str]:
    spec = obj["spec"]["template"]["spec"]
    return [c["name"] for c in [*spec.get("initContainers", []), *spec["containers"]]]


def assert_sidecars_everywhere(installed: Installed) -> None:
    """The release's Deployment and the hook Job got the config's containers, and both pods'
    ServiceAccounts the Workload Identity annotation."""
    assert installed.error is None and installed.manifest is not None, installed.report
    manifest = objects(installed.manifest)
    # Helm kept the hook apart from the manifest after post-rendering: still a hook.
    assert ("Job", "airflow-create-user") not in manifest
    scheduler = pod_containers(manifest[("Deployment", "airflow-scheduler")])
    assert scheduler == ["cloud-sql-proxy", "scheduler", "log-shipper"]
    for account in ("airflow-scheduler", "airflow-create-user-job"):
        annotations = manifest[("ServiceAccount", account)]["metadata"]["annotations"]
        assert annotations[ANNOTATION] == ACCOUNT, account
        assert "airflow-sidecars.dev/helm4" in annotations  # the record remove reads
    handed_back = {key: obj for back in installed.back for key, obj in objects(back).items()}
    job = handed_back[("Job", "airflow-create-user")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    assert pod_containers(job) == ["user-audit", "cloud-sql-proxy", "create-user"]


def test_combined_carries_the_sidecars_into_the_hook_job_and_the_release(
    helm_env: dict[str, str], tmp_path: Path
) -> None:
    installed = install(helm_env, tmp_path, "combined")
    assert len(installed.sent) == 1  # one call: hooks and manifests together
    assert "helm.sh/hook" in installed.sent[0]
    assert "postrenderer.helm.sh/postrender-filename" in installed.sent[0]
    compare_or_update(SENT / "combined.yaml", installed.sent[0].encode())
    assert_sidecars_everywhere(installed)
    assert installed.terminal is not None
    assert "2 workloads changed, 0 unchanged; 0 errors, 0 warnings" in installed.terminal


def test_separate_finishes_the_hooks_service_account_in_the_second_call(
    helm_env: dict[str, str], tmp_path: Path
) -> None:
    installed = install(helm_env, tmp_path, "separate")
    assert len(installed.sent) == 2  # the hooks first, then the rest
    assert set(objects(installed.sent[0])) == {("Job", "airflow-create-user")}
    assert ("ServiceAccount", "airflow-create-user-job") in objects(installed.sent[1])
    compare_or_update(SENT / "separate-hooks.yaml", installed.sent[0].encode())
    compare_or_update(SENT / "separate-manifests.yaml", installed.sent[1].encode())
    assert_sidecars_everywhere(installed)
    # One report for the Helm run: both calls' lines under one header.
    assert installed.report is not None
    assert installed.report.count("# airflow-sidecars:") == 1
    assert installed.report.count("\ninject: ") >= 2
    assert "handed on to the call with the rest of this Helm run" in installed.report
    assert not list(Path(helm_env["XDG_RUNTIME_DIR"]).iterdir())  # the record was taken


NOHOOKS_WHY = "the post-render strategy `nohooks` does not post-render hooks"


def test_nohooks_fails_and_says_why_on_the_terminal(
    helm_env: dict[str, str], tmp_path: Path
) -> None:
    installed = install(helm_env, tmp_path, "nohooks")
    assert installed.manifest is None and installed.error is not None
    compare_or_update(SENT / "nohooks.yaml", installed.sent[0].encode())
    # All that Helm says: nothing of the plugin's stderr.
    assert PLUGIN_FAILED in installed.error and "createUserJob" not in installed.error
    assert installed.terminal is not None
    said = " ".join(installed.terminal.split())  # a terminal may wrap the long line
    assert "error: [no-match] AirflowSidecars helm4 spec.createUserJob" in said
    assert NOHOOKS_WHY in said
    assert "from-values --route helm3" in said and "createUserJob.useHelmHooks: false" in said
    assert installed.report is not None and NOHOOKS_WHY in installed.report


def test_without_a_terminal_the_report_file_says_why(
    helm_env: dict[str, str], tmp_path: Path
) -> None:
    installed = install(helm_env, tmp_path, "nohooks", terminal=False)
    assert installed.error is not None and PLUGIN_FAILED in installed.error
    assert installed.report is not None
    lines = installed.report.splitlines()
    assert lines[0].startswith("# airflow-sidecars: what the runs of one caller said")
    assert NOHOOKS_WHY in lines[1] and lines[1].startswith("inject: error: [no-match]")
    assert lines[-1].startswith("inject: ") and "1 error" in lines[-1]


def test_a_successful_install_shows_its_warnings_on_the_terminal(
    helm_env: dict[str, str], tmp_path: Path
) -> None:
    # The database is not where the proxy listens: inject warns, and Helm installs.
    installed = install(helm_env, tmp_path, "combined", values={"databaseHost": "db.example"})
    assert installed.error is None and installed.manifest is not None
    assert installed.terminal is not None
    warnings = [
        line for line in installed.terminal.splitlines() if line.startswith("inject: warning:")
    ]
    assert len(warnings) == 1, installed.terminal  # said once for the release
    assert "goes to db.example:5432, not to the proxy at 127.0.0.1:5432" in warnings[0]
    assert "0 errors, 1 warning" in installed.terminal
