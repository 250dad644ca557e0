"""What a run keeps per document: documents that nothing edits keep no node tree (krmlight.Light),
and the tree composed again from their span is the tree of the stream, marks included."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from airflow_sidecars.krmio import krm, krmread
from airflow_sidecars.runs.api import ConfigSource, run_inject, run_remove, run_validate
from airflow_sidecars.text.yamlread import node_at
from conftest import FIXTURES, ROOT

RENDER = (FIXTURES / "official-1.15.0" / "05a-sidecars-before.yaml").read_text()
CONFIG = (ROOT / "pipelines" / "examples" / "seed-sidecars.yaml").read_bytes()
RENDERS = sorted(
    path
    for path in FIXTURES.glob("*/*.yaml")
    if not path.name.endswith(".values.yaml") and path.parent.name != "matrix"
)


def _small_documents(count: int) -> str:
    """Small objects no Airflow release owns, around the real render (as users' streams are)."""
    kinds = ("ConfigMap", "Service", "Secret")
    bodies = {"ConfigMap": "data:\n  k: v\n", "Service": "spec:\n  ports: []\n"}
    documents = [
        f"---\napiVersion: v1\nkind: {kinds[n % 3]}\nmetadata:\n  name: o-{n:06d}\n"
        + bodies.get(kinds[n % 3], "type: Opaque\n")
        for n in range(count)
    ]
    half = count // 2
    return "".join([*documents[:half], RENDER, *documents[half:]])


def _peak(run: object) -> int:
    tracemalloc.start()
    try:
        assert callable(run)
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("function", ["inject", "validate", "remove"])
def test_many_small_documents_peak_under_ten_times_the_input(function: str) -> None:
    # A node tree takes some seventeen times its text: kept for every document, a stream of
    # small objects peaked at over fifty times its size (540 MiB for 7.4 MB).
    stream = _small_documents(10_000).encode()
    if function == "remove":  # take back what inject added: the records are there
        stream = run_inject([("in.yaml", stream)], ConfigSource("c.yaml", CONFIG)).output
    runs = {
        "inject": lambda: run_inject([("in.yaml", stream)], ConfigSource("c.yaml", CONFIG)),
        "validate": lambda: run_validate([("in.yaml", stream)], ConfigSource("c.yaml", CONFIG)),
        "remove": lambda: run_remove([("in.yaml", stream)], None),
    }
    peak = _peak(runs[function])
    assert peak <= 10 * len(stream), f"{function}: peak {peak / len(stream):.1f}x the input"


def test_small_documents_keep_no_tree_and_the_render_keeps_its_workloads() -> None:
    inp = krmread.parse([(None, _small_documents(300))])
    light = [item for item in inp.items if not item.tree_kept]
    kept = {(item.kind, item.name) for item in inp.items if item.tree_kept}
    assert len(light) >= 299  # the first document keeps its tree: it may be a ResourceList
    assert ("Deployment", "airflow-scheduler") in kept
    assert ("StatefulSet", "airflow-worker") in kept
    assert ("ServiceAccount", "airflow-worker") in kept
    assert ("ConfigMap", "airflow-config") in kept
    assert ("Secret", "airflow-metadata") not in kept  # never edited: read from its span


def _nodes(node: yaml.Node) -> Iterator[yaml.Node]:
    yield node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _nodes(key)
            yield from _nodes(value)
    elif isinstance(node, yaml.SequenceNode):
        for entry in node.value:
            yield from _nodes(entry)


def _shape(node: yaml.Node) -> list[tuple[object, ...]]:
    def mark(m: yaml.Mark) -> tuple[int, int, int]:
        return (m.index, m.line, m.column)

    return [
        (
            type(n).__name__,
            n.tag,
            n.value if isinstance(n, yaml.ScalarNode) else None,
            getattr(n, "style", None),
            getattr(n, "flow_style", None),
            mark(n.start_mark),
            mark(n.end_mark),
        )
        for n in _nodes(node)
    ]


@pytest.mark.parametrize("render", RENDERS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_light_documents_tree_is_the_tree_it_had_in_the_stream(render: Path) -> None:
    text = render.read_text()
    stream = [doc for doc in yaml.compose_all(text, Loader=yaml.CSafeLoader) if doc is not None]
    stream = [doc for doc in stream if not isinstance(doc, yaml.ScalarNode)]
    inp = krmread.parse([(None, text)])
    assert len(inp.items) == len(stream)
    for item, whole in zip(inp.items, stream, strict=True):
        assert _shape(item.node) == _shape(whole), f"{item.kind} {item.name}"
        assert item.span() == (whole.start_mark.index, whole.end_mark.index)
        tree = krm.Item(whole, item.source, 0, 0)
        for read in ("kind", "api_version", "name", "namespace"):
            assert getattr(item, read) == getattr(tree, read)
        for where, read_one in (("labels", krm.Item.label), ("annotations", krm.Item.annotation)):
            found = node_at(whole, ("metadata", where))
            for key, _ in found.value if isinstance(found, yaml.MappingNode) else []:
                assert read_one(item, key.value) == read_one(tree, key.value)
    assert any(not item.tree_kept for item in inp.items) or len(inp.items) < 2
