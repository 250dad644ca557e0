"""`from-values --route`: the config it writes passes `inject --strict` on what the route hands
over, and the stripped values plus inject give the chart's render of the originals.

On every pair of the chart-oracle matrix (`NNb` values, given with their render) and on each
route: the config carries only values that reach a workload the route hands to inject
(`stream` and `helm4`: manifest and hooks; `helm3`: the manifest, Helm 3 post-rendering no
hooks), and the stripped values hold exactly the values that stay. Where the values that stay
reach only what inject does not see (hooks under Helm 3, or nothing), the render of the
stripped values is the pair's `NNa` render on the streams inject edits, so inject there must
give `NNb`. Without a render, the values alone say what is turned off and what is a hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_oracle_matrix import _documents

from airflow_sidecars.charts.chart import JOB_SECTIONS
from airflow_sidecars.commands.fromvalues import How, Strip, from_values
from airflow_sidecars.commands.valuesextras import found_values
from airflow_sidecars.runs.api import ConfigSource, run_inject
from conftest import matrix_root
from support.adoption import PAIRS, without_extras

ROUTES = ("stream", "helm3", "helm4")


def _adopt(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    values: Path,
    route: str,
    render: Path | None,
) -> tuple[int, str, list[str], Path]:
    said: list[str] = []
    tmp_path.mkdir(exist_ok=True)
    stripped = tmp_path / "stripped.yaml"
    how = How(None, route, None if render is None else str(render))
    code = from_values([str(values)], "adopted", Strip(str(stripped)), said.append, how)
    return code, capsys.readouterr().out, said, stripped


def _streams(folder: Path, stem: str, route: str) -> list[Path]:
    """The files of a render that the route hands to inject."""
    files = [folder / f"{stem}.yaml"]
    hooks = folder / f"{stem}.hooks.yaml"
    if route != "helm3" and hooks.exists():
        files.append(hooks)
    return files


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("pair", PAIRS, ids=["/".join(p) for p in PAIRS])
def test_the_routes_config_passes_strict_inject_and_gives_the_charts_render(
    pair: tuple[str, str, str], route: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart, number, name = pair
    folder = matrix_root() / chart
    stem = name.removesuffix(".values.yaml")  # `-celery-default`
    before, after = f"{number}a{stem}", f"{number}b{stem}"
    render = tmp_path / "render.yaml"  # what `helm template` prints: manifest, then hooks
    render.write_bytes(b"".join(file.read_bytes() for file in _streams(folder, after, "stream")))
    values = folder / f"{after}.values.yaml"
    code, config, said, stripped = _adopt(tmp_path, capsys, values, route, render)
    assert code == 0, said

    # The stripped values: the pair's `a` values, and the values that stay.
    original = yaml.safe_load(values.read_text())
    left = yaml.safe_load(stripped.read_text()) or {}
    assert without_extras(left) == without_extras(original)
    carried = {path for path, _ in found_values(original)} - {p for p, _ in found_values(left)}
    for path, value in found_values(left):
        assert _at(original, path) == value  # stays whole, as it was

    # inject --strict on what the route hands over: the render of the stripped values is `a`
    # there when what stays reaches no stream inject edits (hooks under Helm 3, or nothing).
    if route == "helm3" and _stays_in_the_manifest(tmp_path, capsys, values, render, left):
        return  # not `a`: the chart's render of these stripped values is in routes-*.tar.xz
    streams = _streams(folder, before, route)
    source = ConfigSource("config.yaml", config.encode())
    outcome = run_inject(
        [(file.name, file.read_bytes()) for file in streams], source, strict=True, each_file=True
    )
    errors = [r.message for r in outcome.results if r.severity == "error"]
    assert outcome.exit_code == 0 and not errors, errors
    if not carried:
        assert outcome.output == b"".join(file.read_bytes() for file in streams)
    assert outcome.files is not None
    for mine, file in zip(outcome.files, streams, strict=True):
        wanted = folder / file.name.replace(before, after)
        assert _documents(mine) == _documents(wanted.read_bytes()), file.name


def _at(values: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        values = values[step]
    return values


def _stays_in_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], values: Path, render: Path, left: Any
) -> bool:
    """Whether the stripped values keep, for Helm 3's sake, a value that also reaches the
    manifest's workloads (the official top-level volumes, the community `airflow.extra
    Volumes`, which the hook Jobs take too): then their manifest is not `a`'s."""
    *_, stripped = _adopt(tmp_path / "stream", capsys, values, "stream", render)
    on_the_stream = {path for path, _ in found_values(yaml.safe_load(stripped.read_text()))}
    for_hooks = {path for path, _ in found_values(left)} - on_the_stream
    return any(path[0] not in JOB_SECTIONS for path in for_hooks)


def test_the_matrix_gives_each_route_something_to_decide() -> None:
    # the pairs hold hook-Job extras (official), a component left off (flower, pgbouncer),
    # and values the chart version does not read (workers.kubernetes before 1.21.0)
    names = {name for _, _, name in PAIRS}
    assert {"-celery-default.values.yaml", "-flower.values.yaml"} <= names


HOOK_EXTRAS = """\
scheduler:
  extraContainers: [{name: sync, image: amazon/aws-cli:2.17.0}]
createUserJob:
  extraVolumes: [{name: cuj-vol, emptyDir: {}}]
migrateDatabaseJob:
  useHelmHooks: false
  extraVolumes: [{name: mdj-vol, emptyDir: {}}]
volumes: [{name: shared, emptyDir: {}}]
flower:
  enabled: false
  extraContainers: [{name: flower-sidecar, image: busybox:1.36}]
"""


@pytest.mark.parametrize(
    ("route", "carried", "stays"),
    [
        (
            "stream",
            {"scheduler", "createUserJob", "migrateDatabaseJob", "volumes"},
            {"flower"},
        ),
        ("helm4", {"scheduler", "createUserJob", "migrateDatabaseJob", "volumes"}, {"flower"}),
        # the create-user Job is a hook, and so are the top-level volumes that it takes too;
        # the migrations Job with useHelmHooks: false is a plain Job in the manifest
        ("helm3", {"scheduler", "migrateDatabaseJob"}, {"createUserJob", "volumes", "flower"}),
    ],
)
def test_without_a_render_the_values_say_what_is_off_and_what_is_a_hook(
    route: str,
    carried: set[str],
    stays: set[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(HOOK_EXTRAS)
    code, config, said, stripped = _adopt(tmp_path, capsys, values, route, None)
    assert code == 0
    assert set(yaml.safe_load(config)["spec"]) == carried
    left = yaml.safe_load(stripped.read_text())
    assert {str(path[0]) for path, _ in found_values(left)} == stays
    assert any("flower.extraContainers stays in the values" in line for line in said)
    assert any("flower.enabled is false" in line for line in said)
    hook_lines = [line for line in said if "hook" in line]
    if route == "helm3":
        assert any(
            "createUserJob.extraVolumes, volumes stay in the values" in line
            and "the hook Job create-user," in line
            for line in hook_lines
        )
    elif route == "stream":  # said once, with the way out
        assert len(hook_lines) == 1 and "--route helm3" in hook_lines[0]
    else:
        assert hook_lines == []


def test_the_community_charts_hook_jobs_come_from_its_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "airflow:\n"
        "  dbMigrations: {runAsJob: true}\n"
        "  extraVolumes: [{name: certs, secret: {secretName: certs}}]\n"
        "scheduler:\n"
        "  extraContainers: [{name: sync, image: amazon/aws-cli:2.17.0}]\n"
    )
    code, config, said, _ = _adopt(tmp_path, capsys, values, "helm3", None)
    assert code == 0
    assert yaml.safe_load(config)["spec"] == {
        "scheduler": {
            "extraContainers": [{"name": "sync", "image": "amazon/aws-cli:2.17.0"}],
            "allowPlainSidecars": True,
        }
    }
    assert any("airflow.extraVolumes stays" in line and "db-migrations" in line for line in said)


def test_a_render_with_no_airflow_workload_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values, render = tmp_path / "values.yaml", tmp_path / "render.yaml"
    values.write_text(HOOK_EXTRAS)
    render.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n")
    code, config, said, stripped = _adopt(tmp_path, capsys, values, "stream", render)
    assert (code, config, stripped.exists()) == (1, "", False)
    assert "render.yaml holds no workload of the Airflow chart" in said[0]
    render.write_text("kind: [\n")
    code, config, said, _ = _adopt(tmp_path, capsys, values, "stream", render)
    assert (code, config) == (1, "") and said and "Traceback" not in "".join(said)
    code, *_ = _adopt(tmp_path, capsys, values, "stream", tmp_path / "missing.yaml")
    assert code == 1


def test_a_render_without_its_hooks_is_named_as_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = matrix_root() / "official-1.22.0"
    values = folder / "01b-celery-default.values.yaml"
    render = folder / "01b-celery-default.yaml"  # the manifest alone, as `helm get manifest`
    code, config, said, _ = _adopt(tmp_path, capsys, values, "stream", render)
    assert code == 0
    assert "createUserJob" not in yaml.safe_load(config)["spec"]
    (line,) = [line for line in said if "createUserJob.extraContainers" in line]
    assert "the render holds no Helm hook: `helm template` prints them" in line


def test_without_a_render_the_airflow_version_the_values_name_decides_the_ui(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "airflowVersion: 3.1.8\n"
        "webserver: {extraContainers: [{name: w, image: busybox:1.36}]}\n"
        "apiServer: {extraContainers: [{name: a, image: busybox:1.36}]}\n"
        "flower: {extraVolumes: [{name: f, emptyDir: {}}]}\n"
    )
    code, config, said, stripped = _adopt(tmp_path, capsys, values, "stream", None)
    assert code == 0
    assert set(yaml.safe_load(config)["spec"]) == {"apiServer", "flower"}
    assert "webserver" in yaml.safe_load(stripped.read_text())
    (line,) = [line for line in said if "webserver.extraContainers stays" in line]
    assert "airflowVersion is Airflow 3, whose UI is the api-server" in line
    # flower is off by the official chart's default, on by the community chart's: said once
    (doubt,) = [line for line in said if "do not say whether" in line]
    assert "runs flower (" in doubt and "--render" in doubt
    # with a render there is no doubt to speak of
    folder = matrix_root() / "official-1.22.0"
    render = folder / "01b-celery-default.yaml"
    *_, said, _ = _adopt(
        tmp_path, capsys, folder / "01b-celery-default.values.yaml", "stream", render
    )
    assert not [line for line in said if "do not say whether" in line]


@pytest.mark.parametrize(
    ("pair", "in_task_pods"),
    [("01b-celery-default", False), ("02b-kubernetes-executor", True)],
)
def test_a_render_says_whether_a_plain_sidecar_goes_into_task_pods(
    pair: str, in_task_pods: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = matrix_root() / "official-1.22.0"
    values, render = folder / f"{pair}.values.yaml", tmp_path / "render.yaml"
    render.write_bytes(b"".join(f.read_bytes() for f in _streams(folder, pair, "stream")))
    *_, unsure, _ = _adopt(tmp_path, capsys, values, "stream", None)
    *_, said, _ = _adopt(tmp_path, capsys, values, "stream", render)

    def template_lines(lines: list[str]) -> list[str]:
        return [line for line in lines if "plain container in the KubernetesExecutor" in line]

    # without the render it cannot tell, and says so
    (line,) = template_lines(unsure)
    assert "if the release runs the KubernetesExecutor" in line
    if not in_task_pods:  # a Celery release has no task pods for it to hold up
        assert template_lines(said) == []
        return
    (line,) = template_lines(said)
    assert "workers.extraContainers: container 'wrk-sidecar'" in line
    assert "if it does not exit on its own, the release's task pods never complete" in line
