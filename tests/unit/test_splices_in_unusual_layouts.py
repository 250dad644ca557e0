"""Where the text around an edit is unusual, the edit lands where it belongs and the text
around it keeps its value: a replaced block scalar with a key after it, a block scalar
annotation replaced (`onConflict: replace`), two additions to an empty flow mapping, an append
after a tagged or anchored sequence, text added after a block scalar that ends a file or the
last item of a ResourceList without a final newline (its header gets `-`, so that its value
stays), and a byte order mark (kept at the start).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from airflow_sidecars.runs.api import ConfigSource, run_inject, run_validate
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import compose_all
from airflow_sidecars.text.yamltext import detect_seq_indent
from support.bad_input import RENDER, SIDECARS, _config, _errors, _in_scheduler

# -- splices ----------------------------------------------------------------------------------


def _edit(text: str, *ops: tuple[str, tuple[str | int, ...], Any]) -> str:
    root = compose_all(text)[0]
    assert root is not None
    editor = Editor(text, seq_indent=detect_seq_indent(root, text))
    for action, path, value in ops:
        getattr(editor, action)(root, path, value)
    return editor.apply()


def test_a_replaced_block_scalar_keeps_the_next_key_on_its_line() -> None:
    text = "metadata:\n  annotations:\n    role: |-\n      old\n    other: 1\n"
    out = _edit(text, ("replace", ("metadata", "annotations", "role"), "arn"))
    assert yaml.safe_load(out) == {"metadata": {"annotations": {"role": "arn", "other": 1}}}


def test_onconflict_replace_over_a_block_scalar_annotation() -> None:
    render = RENDER.replace(
        "metadata:\n  name: airflow-scheduler\n",
        "metadata:\n  annotations:\n    eks.amazonaws.com/role-arn: |-\n      old\n"
        "  name: airflow-scheduler\n",
        1,
    )
    config = _config(
        {
            "onConflict": "replace",
            "presets": {
                "s3Sync": {"bucket": "dags", "roleArn": "arn:aws:iam::123456789012:role/x"}
            },
        }
    )
    outcome = run_inject([(None, render.encode())], ConfigSource("c.yaml", config))
    assert outcome.exit_code == 0, _errors(outcome)
    accounts = [
        d for d in yaml.safe_load_all(outcome.output) if d and d["kind"] == "ServiceAccount"
    ]
    scheduler = next(d for d in accounts if d["metadata"]["name"] == "airflow-scheduler")
    assert scheduler["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/x"
    }


def test_two_additions_to_an_empty_spec() -> None:
    out = _edit(
        "spec: {}\n",
        ("append", ("spec", "containers"), [{"name": "a"}]),
        ("append", ("spec", "volumes"), [{"name": "v"}]),
    )
    assert yaml.safe_load(out) == {
        "spec": {"containers": [{"name": "a"}], "volumes": [{"name": "v"}]}
    }


@pytest.mark.parametrize("decoration", ["!!seq", "&c"])
def test_an_append_after_a_decorated_sequence_lands_in_it(decoration: str) -> None:
    render = _in_scheduler("      containers:\n", f"      containers: {decoration}\n")
    outcome = run_inject([(None, render.encode())], ConfigSource("c.yaml", SIDECARS))
    assert outcome.exit_code == 0, _errors(outcome)
    scheduler = next(
        d
        for d in yaml.safe_load_all(outcome.output)
        if d and d["metadata"]["name"] == "airflow-scheduler" and d["kind"] == "Deployment"
    )
    assert [c["name"] for c in scheduler["spec"]["template"]["spec"]["containers"]][-1] == "side"


# -- data the run did not edit stays as it was ------------------------------------------------

_CLIP_AT_END = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: script}\ndata:\n  run: |\n    echo hi"
)


@pytest.mark.parametrize("function", [run_inject, run_validate])
def test_a_file_ending_in_a_block_scalar_keeps_its_value(function: Any) -> None:
    inputs: list[tuple[str | None, bytes]] = [
        ("a.yaml", _CLIP_AT_END.encode()),
        ("b.yaml", RENDER.encode()),
    ]
    outcome = function(inputs, ConfigSource("c.yaml", SIDECARS))
    first = next(d for d in yaml.safe_load_all(outcome.output) if d)
    assert first["data"]["run"] == "echo hi"


def test_a_last_item_ending_in_a_block_scalar_keeps_its_value_when_results_follow() -> None:
    text = (
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n"
        + "".join("  " + line + "\n" for line in SIDECARS.decode().splitlines())
        + "items:\n"
        + "".join(
            "  " + ("- " if n == 0 else "  ") + line + "\n"
            for n, line in enumerate(_CLIP_AT_END.splitlines())
        )
    ).rstrip("\n")
    outcome = run_inject([(None, text.encode())], None)
    resource_list = yaml.safe_load(outcome.output)
    assert resource_list["items"][0]["data"]["run"] == "echo hi"
    assert resource_list["results"]


@pytest.mark.parametrize("function", [run_inject, run_validate])
def test_a_byte_order_mark_stays(function: Any) -> None:
    outcome = function(
        [(None, b"\xef\xbb\xbf" + RENDER.encode())], ConfigSource("c.yaml", SIDECARS)
    )
    assert outcome.output.startswith(b"\xef\xbb\xbf")
