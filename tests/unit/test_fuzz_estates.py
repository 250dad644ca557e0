"""Fuzzing (hypothesis) folders of renders: estates of environments, `--output-dir` trees,
duplicates.

`api.run_inject(inputs=[(path, bytes), ...])` is given file paths (the command line reads a
folder depth first, in name order: inputfiles.py). The contract:

- the same object (kind, namespace, name) in two files whose paths part into different
  subtrees (`envs/dev/...`, `envs/prod/...`) means two renders: the input is split where the
  paths part, and inject (and remove) on the whole list gives, per file, exactly the bytes it
  gives on that subtree's files alone (test_environments_are_separate_renders);
- a `helm template --output-dir` tree (one release over many folders, no object twice) is one
  render: it gives what the same render as one stream gives, object for object
  (test_a_split_render_stays_one_render);
- the same object twice in one file, one stream (no file name) or one folder is an error:
  exit 1, the output is the input, and the message names both places
  (test_duplicates_are_refused).

Trees are made from the real renders under tests/fixtures: one object per file in a folder per
kind, one file per kind, the chart's template paths (what `--output-dir` writes), or the whole
render in one file; environments are 1-3 renders (different charts and values, the same release
name `airflow`) at different depths, with shared files beside them. The budget and the saved
inputs are tests/support/fuzzing.py's (see its docstring); tests/fuzz_campaign.py runs this
module for a while.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove
from conftest import FIXTURES, ROOT
from support.fuzz_invariants import _pieces
from support.fuzzing import _SAVE, LOADER, SLOW_RUN, _watchdog, fuzz_as_found

pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)
FUZZ_AS_FOUND = fuzz_as_found(rate=3.0, generators=3)  # examples/s here on 2 cores, measured

RENDER_DIRS = ("official-1.15.0", "official-1.20.0", "official-1.22.0", "community-8.9.0")
RENDERS: dict[str, str] = {
    f"{folder}/{path.name}": path.read_text("utf-8")
    for folder in RENDER_DIRS
    for path in sorted((FIXTURES / folder).glob("*.yaml"))
    if not path.name.endswith(".values.yaml")
}
RENDER_NAMES = sorted(RENDERS)
# The chart's renders without the hooks (a hooks file holds other objects of the same release):
# any two of them share objects (the release's ServiceAccounts, its config ConfigMap, ...),
# which is what makes two environments two renders.
MAINS = [name for name in RENDER_NAMES if not name.endswith(".hooks.yaml")]
CONFIGS: dict[str, bytes] = {
    str(p.relative_to(ROOT)): p.read_bytes()
    for p in sorted(
        [
            *(ROOT / "pipelines/examples").glob("*.yaml"),
            *(ROOT / "tests/golden").glob("*/config*.yaml"),
        ]
    )
}
CONFIG_NAMES = sorted(CONFIGS)

Tree = list[tuple[str, bytes]]  # (path, bytes), in the order a folder is read
Identity = tuple[str, str | None, str]  # kind, namespace, name


class Estate:
    """One generated input: files, and which subtree (environment) each belongs to ("" for a
    shared file). Its repr says how it was made."""

    __slots__ = ("config", "envs", "files", "steps")

    def __init__(self, files: Tree, envs: list[str], config: str, steps: list[str]) -> None:
        self.files = files
        self.envs = envs  # per file: its environment's folder, "" when shared
        self.config = config
        self.steps = steps

    def __repr__(self) -> str:
        return f"Estate(config={self.config!r}, steps={self.steps!r})"


# -- splitting a render into files ----------------------------------------------------------------

_SOURCE = re.compile(r"(?m)^# Source: (\S+)")


def documents(render: str) -> list[tuple[Identity, str]]:
    """The objects of a render, each with its text (from its `---` on)."""
    found = []
    for piece in _pieces(render):
        try:
            data = yaml.load(piece, Loader=LOADER)
        except yaml.YAMLError:  # pragma: no cover - the fixtures are valid
            raise
        if not isinstance(data, dict):
            continue
        meta = data.get("metadata") or {}
        identity = (str(data.get("kind")), meta.get("namespace"), str(meta.get("name")))
        text = piece if piece.startswith("---") else "---\n" + piece
        found.append((identity, text))
    return found


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def layout(render: str, how: str) -> list[tuple[str, str]]:
    """A render as files: "object" (one per file, a folder per kind), "kind" (a file per
    kind), "template" (the chart's template paths, as `helm template --output-dir` writes
    them) or "single"; relative paths in the render's object order."""
    files: dict[str, str] = {}
    for (kind, _, name), text in documents(render):
        if how == "object":
            path = f"{kind.lower()}/{_file_name(name)}.yaml"
        elif how == "kind":
            path = f"{kind.lower()}.yaml"
        elif how == "template":
            found = _SOURCE.search(text)
            path = found[1] if found else "unknown.yaml"
        else:
            path = "render.yaml"
        files[path] = files.get(path, "") + text
    return list(files.items())


def walk_order(files: Tree) -> Tree:
    """The order `airflow-sidecars DIR` reads a folder in: depth first, names in order."""
    return sorted(files, key=lambda entry: entry[0].split("/"))


SHARED = [
    (
        "namespace.yaml",
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: airflow\n",
    ),
    (
        "network/deny-all.yaml",
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
        "  name: deny-all\n  namespace: airflow\nspec:\n  podSelector: {}\n"
        "  policyTypes: [Ingress]\n",
    ),
]
ENV_ROOTS = ["envs/dev", "envs/prod", "clusters/eu/prod", "staging", "a/b/c/qa", "envs/dev2"]
LAYOUTS = ["object", "kind", "template", "single"]


@st.composite
def estates(draw: st.DrawFn) -> Estate:
    """1-3 environments, each a real render (and maybe its hooks) laid out as files under its
    own folder (the same release name everywhere), and maybe shared files beside them."""
    count = draw(st.integers(1, 3))
    roots = draw(st.lists(st.sampled_from(ENV_ROOTS), min_size=count, max_size=count, unique=True))
    config = draw(st.sampled_from(CONFIG_NAMES))
    files: list[tuple[str, bytes, str]] = []
    steps = []
    for root in roots:
        render = draw(st.sampled_from(MAINS))
        how = draw(st.sampled_from(LAYOUTS))
        steps.append(f"{root}: {render} by {how}")
        files += [
            (f"{root}/{path}", text.encode(), root) for path, text in layout(RENDERS[render], how)
        ]
        hooks = render.replace(".yaml", ".hooks.yaml")
        if hooks in RENDERS and draw(st.booleans()):  # the same release's hooks, beside it
            steps.append(f"{root}/hooks: {hooks} by {how}")
            files += [
                (f"{root}/hooks/{path}", text.encode(), root)
                for path, text in layout(RENDERS[hooks], how)
            ]
    for path, text in draw(st.lists(st.sampled_from(SHARED), unique=True, max_size=2)):
        where = draw(st.sampled_from(["", "base/", "envs/"]))
        steps.append(f"shared {where}{path}")
        files.append((f"{where}{path}", text.encode(), ""))
    files.sort(key=lambda entry: entry[0].split("/"))
    return Estate([(p, d) for p, d, _ in files], [e for _, _, e in files], config, steps)


# -- running and checking -------------------------------------------------------------------------


def _config(name: str) -> ConfigSource:
    return ConfigSource(name, CONFIGS[name])


def _run(function: str, files: Tree, config: str | None) -> Outcome:
    source = _config(config) if config is not None else None
    with _watchdog(SLOW_RUN * 2):
        if function == "inject":
            assert source is not None
            outcome = run_inject(list(files), source, each_file=True)
        else:
            outcome = run_remove(list(files), source, each_file=True)
    assert outcome.exit_code in (0, 1), outcome.exit_code
    assert outcome.files is not None and len(outcome.files) == len(files)
    if outcome.exit_code == 1:
        assert outcome.files == [data for _, data in files], "exit 1, but files changed"
    return outcome


def _errors(outcome: Outcome) -> list[str]:
    return [r.line() for r in outcome.results if r.severity == "error"][:4]


@contextmanager
def _saving(files: Tree, about: object) -> Iterator[None]:
    """The input tree is saved under AIRFLOW_SIDECARS_FUZZ_SAVE when the check fails."""
    try:
        yield
    except BaseException:
        if _SAVE:
            digest = hashlib.sha256(b"".join(p.encode() + d for p, d in files)).hexdigest()[:12]
            folder = Path(_SAVE) / f"{digest}.tree"
            for path, data in files:
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                (folder / path).write_bytes(data)
            (folder.parent / f"{digest}.txt").write_text(repr(about) + "\n")
        raise


def _per_environment(function: str, estate: Estate, files: Tree, config: str | None) -> None:
    """The whole tree gives, per file, what each environment's files alone give."""
    whole = _run(function, files, config)
    alone: dict[int, bytes] = {}
    failed = []
    for env in dict.fromkeys(e for e in estate.envs if e):
        indices = [i for i, e in enumerate(estate.envs) if e == env]
        outcome = _run(function, [files[i] for i in indices], config)
        if outcome.exit_code == 1:
            failed.append((env, _errors(outcome)))
        assert outcome.files is not None
        alone.update(zip(indices, outcome.files, strict=True))
    why = (function, estate.steps, _errors(whole), failed)
    if failed:
        assert whole.exit_code == 1, (*why, "an environment fails alone, not in the estate")
        return
    assert whole.exit_code == 0, (*why, "the estate fails, but no environment alone does")
    assert whole.files is not None
    for index, (path, data) in enumerate(files):
        expected = alone.get(index, data)  # a shared file holds nothing to edit
        assert whole.files[index] == expected, (
            *why,
            path,
            "a file is not what its environment alone gives",
        )


@given(estates())
@FUZZ_AS_FOUND
def test_environments_are_separate_renders(estate: Estate) -> None:
    with _saving(estate.files, estate):
        _per_environment("inject", estate, estate.files, estate.config)
        injected = _run("inject", estate.files, estate.config)
        if injected.exit_code != 0:
            return
        assert injected.files is not None
        after = [(path, data) for (path, _), data in zip(estate.files, injected.files, strict=True)]
        _per_environment("remove", estate, after, None)
        removed = _run("remove", after, None)
        assert removed.files == [data for _, data in estate.files], (
            estate.steps,
            _errors(removed),
            "remove(inject(estate)) is not the estate",
        )


def _objects(outputs: list[bytes]) -> dict[Identity, Any]:
    found: dict[Identity, Any] = {}
    for data in outputs:
        for (kind, namespace, name), text in documents(data.decode()):
            found[(kind, namespace, name)] = yaml.load(text, Loader=LOADER)
    return found


@given(
    st.sampled_from(RENDER_NAMES),
    st.sampled_from(["object", "kind", "template"]),
    st.sampled_from(["", "out/", "charts/airflow/rendered/"]),
    st.sampled_from(CONFIG_NAMES),
)
@FUZZ_AS_FOUND
def test_a_split_render_stays_one_render(render: str, how: str, root: str, config: str) -> None:
    files = walk_order(
        [(root + path, text.encode()) for path, text in layout(RENDERS[render], how)]
    )
    about = (render, how, root, config)
    with _saving(files, about):
        tree = _run("inject", files, config)
        stream = _run("inject", [("render.yaml", RENDERS[render].encode())], config)
        why = (about, _errors(tree), _errors(stream))
        assert tree.exit_code == stream.exit_code, (*why, "the tree is not read as one render")
        assert tree.files is not None
        if tree.exit_code != 0:
            return
        assert _objects(tree.files) == _objects([stream.output]), (*why, "other edits")
        after = [(path, data) for (path, _), data in zip(files, tree.files, strict=True)]
        removed = _run("remove", after, None)
        assert removed.files == [data for _, data in files], (*why, "remove(inject(tree))")


class Duplicated:
    """A tree with one object twice, and the places the error must name (its repr is short:
    the tree is tens of kilobytes)."""

    __slots__ = ("files", "places", "steps")

    def __init__(self, files: Tree, places: list[str], steps: list[str]) -> None:
        self.files = files
        self.places = places
        self.steps = steps

    def __repr__(self) -> str:
        return f"Duplicated(steps={self.steps!r})"


@st.composite
def duplicates(draw: st.DrawFn) -> Duplicated:
    """A render as files with one object twice: in one file, in two files of one folder, or
    in one stream with no file name. The tree, the places the message must name, steps."""
    render = draw(st.sampled_from(RENDER_NAMES))
    where = draw(st.sampled_from(["file", "folder", "stream"]))
    how = "single" if where == "stream" else draw(st.sampled_from(["object", "kind", "template"]))
    root = draw(st.sampled_from(["", "envs/prod/"]))
    files = [(root + path, text) for path, text in layout(RENDERS[render], how)]
    index = draw(st.integers(0, len(files) - 1))
    path, text = files[index]
    docs = documents(text)
    identity, doc = docs[draw(st.integers(0, len(docs) - 1))]
    steps = [f"{render} by {how} under {root!r}", f"{identity} twice in one {where}"]
    if where == "folder":
        folder, _, name = path.rpartition("/")
        twin = f"{folder}/copy-of-{name}" if folder else f"copy-of-{name}"
        files.append((twin, doc))
        places = [path, twin]
    else:
        files[index] = (path, text + doc if draw(st.booleans()) else doc + text)
        places = [path] if where == "file" else []
    tree = walk_order([(p, t.encode()) for p, t in files])
    if where == "stream":
        return Duplicated([(None, data) for _, data in tree], places, steps)  # type: ignore[misc]
    return Duplicated(tree, places, steps)


@given(duplicates(), st.sampled_from(CONFIG_NAMES))
@FUZZ_AS_FOUND
def test_duplicates_are_refused(found: Duplicated, config: str) -> None:
    files, places, steps = found.files, found.places, found.steps
    with _saving([(p or "stdin.yaml", d) for p, d in files], steps):
        for function, config_name in (("inject", config), ("remove", None)):
            outcome = _run(function, files, config_name)
            why = (function, steps, _errors(outcome))
            assert outcome.exit_code == 1, (*why, "the same object twice was not refused")
            text = json.dumps([r.as_dict() for r in outcome.results if r.severity == "error"])
            for place in places:
                assert place in text, (*why, place, "the error does not name both places")
