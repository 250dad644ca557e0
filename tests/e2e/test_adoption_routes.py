"""Adoption end to end, per route, on real renders (tests/fixtures/adoption/README.md).

For each case (an umbrella chart's values: the official chart under its own name and under an
alias, the community chart; real public values files) and each route, `from-values --route R
--render ORIGINAL` must write the stripped values committed beside the case (else they are
stale: re-render with make_adoption.py), and the same without `--render` (where the values
alone tell what reaches a workload); and `inject --strict` with the config it prints, on what
the route hands a post-renderer of the stripped values' render, must exit 0 and give the
original render:

- stream and helm4 (Helm 4 post-renders hooks with the rest): the manifest and the hooks, as
  one stream, give the original manifest and hooks;
- helm3 (Helm 3's post-renderer never sees the hooks): the manifest alone gives the original
  manifest, and the hooks, which no post-renderer touches, must be the original hooks already.

The chart-oracle pairs' `b` values are checked the same way, in-process, against the renders
of their stripped values in tests/fixtures/matrix/routes-*.tar.xz (made by make_adoption.py).

Compared as the chart-oracle matrix compares (tests/unit/test_oracle_matrix.py): object by
object, volumes and mounts as sets, `checksum/*` annotations and inject's records aside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from airflow_sidecars.commands.fromvalues import How, Strip, from_values
from airflow_sidecars.runs.api import ConfigSource, run_inject
from conftest import FIXTURES, matrix_root, run_cli

ADOPTION = FIXTURES / "adoption"
STALE = "the committed stripped values are stale: re-render with make_adoption.py"
# The stripped values and renders each route is checked against: Helm 4 post-renders hooks
# with the rest, as the stream route assumes, so it strips what the stream route strips.
RENDERED_AS = {"stream": "stream", "helm3": "helm3", "helm4": "stream"}
HOOKS_HANDED_OVER = {"stream": True, "helm3": False, "helm4": True}
# Public values with extras the chart does not use (a component the executor does not run, a
# key of the other chart): only the render tells from-values that they reach no workload.
# Without it they go into the config, which inject --strict refuses.
NEEDS_RENDER = {
    "public/davidaschonfeld-data-pipeline": "workers.* with the LocalExecutor: no worker",
    "public/davidaschonfeld-data-pipeline-archive": "mounts of a volume no pod of it has",
    "public/nic-avant-airflow-sandbox": "airflow.extraInitContainers: the community chart's",
    "public/nic-avant-airflow-sandbox-community": "airflow.extraInitContainers: new in 8.9.0",
}
# Public values that warn, rightly: the official chart has no top-level extraVolumes; mounts
# of a volume that only that ignored list defines, which the chart renders dangling (the API
# server refuses those pods), stay in the values, as the chart renders them.
WARNED = {
    "public/davidaschonfeld-data-pipeline-archive": (
        "warning: extraVolumes is not carried over",
        "warning: scheduler.extraVolumeMounts stays in the values, out of the config: it mounts "
        "'host-dags', which StatefulSet airflow-scheduler has no volume of in the render",
        "warning: triggerer.extraVolumeMounts stays in the values, out of the config: it mounts "
        "'host-dags', which StatefulSet airflow-triggerer has no volume of in the render",
    ),
    "public/frozenwolf-crypto-mlops": (
        "warning: extraVolumes is not carried over",
        "warning: extraVolumeMounts is not carried over",
    ),
}


class Case(NamedTuple):
    folder: Path
    files: tuple[str, ...]  # values files, in the order Helm takes them

    @property
    def name(self) -> str:
        return str(self.folder.relative_to(ADOPTION))


def _cases() -> list[Case]:
    found = []
    for values in sorted(ADOPTION.glob("**/values.yaml")):
        others = sorted(
            file.name for file in values.parent.glob("values-*.yaml") if file.name.count(".") == 1
        )
        found.append(Case(values.parent, ("values.yaml", *others)))
    return found


CASES = _cases()
PARAMS = [pytest.param(case, id=case.name) for case in CASES]


def _normalised(node: Any, key: str = "") -> Any:
    if isinstance(node, list):
        items = [_normalised(entry) for entry in node]
        if key == "volumes":
            return sorted(items, key=lambda volume: str(volume.get("name")))
        if key == "volumeMounts":
            return sorted(items, key=lambda mount: (mount.get("mountPath"), mount.get("name")))
        return items
    if not isinstance(node, dict):
        if key in ("pod_template_file.yaml", "pod_template.yaml") and isinstance(node, str):
            return _normalised(yaml.safe_load(node))
        return node
    out = {}
    for name, value in node.items():
        kept = _normalised(_without_ours(value) if name == "annotations" else value, str(name))
        # an annotations mapping that held only a checksum or a record counts as none
        if name in ("annotations", "metadata") and kept in ({}, None):
            continue
        out[name] = kept
    return out


def _without_ours(annotations: Any) -> Any:
    """Annotations without the chart's checksums (it hashes its templates, inject the data)
    and inject's records."""
    if not isinstance(annotations, dict):
        return annotations
    ours = ("checksum/", "airflow-sidecars.dev/")
    return {key: value for key, value in annotations.items() if not key.startswith(ours)}


def _objects(text: str | bytes) -> list[Any]:
    return [_normalised(document) for document in yaml.safe_load_all(text) if document]


def _identity(document: Any) -> tuple[str, str]:
    return document["kind"], document["metadata"]["name"]


def assert_same_objects(ours: str | bytes, charts: str | bytes) -> None:
    mine, theirs = _objects(ours), _objects(charts)
    assert [_identity(d) for d in mine] == [_identity(d) for d in theirs]
    different = [_identity(a) for a, b in zip(mine, theirs, strict=True) if a != b]
    assert not different, f"differs from the chart's render: {different}"


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _from_values(
    case: Case, route: str, into: Path, render: Path | None
) -> tuple[bytes, dict[str, str], str]:
    """(config, stripped values by file name, stderr) of from-values on the case's files."""
    given: list[str | Path] = ["--render", render] if render else []
    files = [case.folder / name for name in case.files]
    adopted = run_cli("from-values", "--route", route, *given, *files, "--strip-dir", into)
    assert adopted.returncode == 0, adopted.stderr
    stripped = {name: (into / name).read_text() for name in case.files}
    return adopted.stdout, stripped, adopted.stderr


@pytest.mark.parametrize("route", list(RENDERED_AS))
@pytest.mark.parametrize("case", PARAMS)
def test_the_route_gives_the_original_render_back(case: Case, route: str, tmp_path: Path) -> None:
    as_route = RENDERED_AS[route]
    original = _text(case.folder / "render.yaml")
    original_hooks = _text(case.folder / "render.hooks.yaml")
    helm_template = tmp_path / "original.yaml"
    helm_template.write_text(original + original_hooks)

    config, stripped, said = _from_values(case, route, tmp_path / "stripped", helm_template)
    for name, text in stripped.items():
        committed = case.folder / name.replace(".yaml", f".{as_route}.yaml")
        assert text == committed.read_text(), f"{committed}: {STALE}"
    if case.name.startswith("public/"):  # real values adopt without a warning, or the known ones
        expected = WARNED.get(case.name, ())
        warned = [line for line in said.splitlines() if "warning" in line]
        assert all(any(known in line for known in expected) for line in warned), said
        assert all(any(known in line for line in warned) for known in expected), said
    if case.name not in NEEDS_RENDER:  # the values alone tell the same
        assert _from_values(case, route, tmp_path / "unrendered", None)[:2] == (config, stripped)
    config_file = tmp_path / "config.yaml"
    config_file.write_bytes(config)

    render = _text(case.folder / f"render.{as_route}.yaml")
    hooks = _text(case.folder / f"render.{as_route}.hooks.yaml")
    handed = tmp_path / "stream.yaml"
    if HOOKS_HANDED_OVER[route]:
        handed.write_text(render + hooks)
        wanted = original + original_hooks
    else:
        assert hooks == original_hooks, "the stripped values changed a hook no post-renderer sees"
        handed.write_text(render)
        wanted = original
    injected = run_cli("inject", "--strict", "--config", config_file, handed)
    assert injected.returncode == 0, injected.stderr
    assert_same_objects(injected.stdout, wanted)


def _matrix_pairs() -> list[tuple[str, str]]:
    """(flavour, `NNb-name`) for every pair of the routes archives."""
    return sorted(
        (folder.name.removeprefix("routes-"), values.name.removesuffix(".values.yaml"))
        for folder in matrix_root().glob("routes-*")
        for values in (folder / "stream").glob("[0-9][0-9]b-*.values.yaml")
    )


MATRIX_PAIRS = _matrix_pairs()


def test_every_chart_oracle_pair_has_its_routes_render() -> None:
    pairs = {
        (folder.name, values.name.removesuffix(".values.yaml"))
        for folder in matrix_root().iterdir()
        if folder.is_dir() and not folder.name.startswith("routes-")
        for values in folder.glob("[0-9][0-9]b-*.values.yaml")
    }
    assert len(pairs) == 136
    assert set(MATRIX_PAIRS) == pairs


@pytest.mark.parametrize("route", list(RENDERED_AS))
@pytest.mark.parametrize(("flavour", "stem"), MATRIX_PAIRS, ids=["/".join(p) for p in MATRIX_PAIRS])
def test_the_route_gives_the_matrix_pairs_render_back(
    flavour: str, stem: str, route: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same on the chart-oracle pairs' `b` values (in-process: 136 pairs), with the real
    render of the stripped values (tests/fixtures/matrix/routes-*.tar.xz)."""
    folder, routed = (
        matrix_root() / flavour,
        matrix_root() / f"routes-{flavour}" / RENDERED_AS[route],
    )
    original = _text(folder / f"{stem}.yaml")
    original_hooks = _text(folder / f"{stem}.hooks.yaml")
    helm_template = tmp_path / "original.yaml"
    helm_template.write_text(original + original_hooks)
    stripped = tmp_path / "stripped.yaml"
    said: list[str] = []
    how = How(None, route, str(helm_template))
    values = [str(folder / f"{stem}.values.yaml")]
    assert from_values(values, "adopted", Strip(str(stripped)), said.append, how) == 0, said
    committed = routed / f"{stem}.values.yaml"
    assert stripped.read_text() == committed.read_text(), f"{committed}: {STALE}"
    config = capsys.readouterr().out.encode()

    render = _text(routed / f"{stem}.yaml")
    hooks = _text(routed / f"{stem}.hooks.yaml")
    if HOOKS_HANDED_OVER[route]:
        handed, wanted = render + hooks, original + original_hooks
    else:
        assert hooks == original_hooks, "the stripped values changed a hook no post-renderer sees"
        handed, wanted = render, original
    result = run_inject([(None, handed.encode())], ConfigSource("adopted", config), strict=True)
    assert result.exit_code == 0, [r.message for r in result.results]
    assert_same_objects(result.output, wanted)
