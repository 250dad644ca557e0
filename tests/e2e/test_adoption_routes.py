"""Adoption end to end, per route, on real renders (tests/fixtures/adoption/README.md).

For each case (an umbrella chart's values: the official chart under its own name and under an
alias, the community chart; real public values files) and each route, `from-values --route R`
must write the stripped values committed beside the case (else they are stale: re-render with
make_adoption.py), and `inject --strict` with the config it prints, on what the route hands a
post-renderer of the stripped values' render, must exit 0 and give the original render:

- stream and helm4 (Helm 4 post-renders hooks with the rest): the manifest and the hooks, as
  one stream, give the original manifest and hooks;
- helm3 (Helm 3's post-renderer never sees the hooks): the manifest alone gives the original
  manifest, and the hooks, which no post-renderer touches, must be the original hooks already.

Compared as the chart-oracle matrix compares (tests/unit/test_oracle_matrix.py): object by
object, volumes and mounts as sets, `checksum/*` annotations and inject's records aside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from conftest import FIXTURES, run_cli

ADOPTION = FIXTURES / "adoption"
STALE = "the committed stripped values are stale: re-render with make_adoption.py"
# The stripped values and renders each route is checked against: Helm 4 post-renders hooks
# with the rest, as the stream route assumes, so it strips what the stream route strips.
RENDERED_AS = {"stream": "stream", "helm3": "helm3", "helm4": "stream"}
HOOKS_HANDED_OVER = {"stream": True, "helm3": False, "helm4": True}


class Case(NamedTuple):
    folder: Path
    files: tuple[str, ...]  # values files, in the order Helm takes them


def _cases() -> list[Case]:
    found = []
    for values in sorted(ADOPTION.glob("**/values.yaml")):
        others = sorted(
            file.name for file in values.parent.glob("values-*.yaml") if file.name.count(".") == 1
        )
        found.append(Case(values.parent, ("values.yaml", *others)))
    return found


CASES = _cases()


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


@pytest.mark.parametrize("route", list(RENDERED_AS))
@pytest.mark.parametrize("case", CASES, ids=[str(c.folder.relative_to(ADOPTION)) for c in CASES])
def test_the_route_gives_the_original_render_back(case: Case, route: str, tmp_path: Path) -> None:
    as_route = RENDERED_AS[route]
    stripped = tmp_path / "stripped"
    files = [case.folder / name for name in case.files]
    adopted = run_cli("from-values", "--route", route, *files, "--strip-dir", stripped)
    assert adopted.returncode == 0, adopted.stderr
    for name in case.files:
        committed = case.folder / name.replace(".yaml", f".{as_route}.yaml")
        assert (stripped / name).read_text() == committed.read_text(), f"{committed}: {STALE}"
    config = tmp_path / "config.yaml"
    config.write_bytes(adopted.stdout)

    original = _text(case.folder / "render.yaml")
    original_hooks = _text(case.folder / "render.hooks.yaml")
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
    injected = run_cli("inject", "--strict", "--config", config, handed)
    assert injected.returncode == 0, injected.stderr
    assert_same_objects(injected.stdout, wanted)
