"""Strings in a config reach the output as the same values: never as shell text, never
changed by the way YAML writes them.

A preset value with shell metacharacters, quotes or a line break is refused by the schema (an
error at its field) or lands as an environment value, never in a command. Any string a valid
config holds (NEL, LS/PS, C1 and other control characters, line breaks) is written so that it
reads back the same: inject on its own output changes nothing.

The generator puts special strings (line breaks, NEL, C1, U+2028, spaces, Helm templates, YAML
indicators, long strings) into env values, command args, names, images and paths, on real
renders, in stream or KRM mode. Every input goes through `check`
(tests/support/fuzz_invariants.py), with tests/support/fuzzing.py's budget, and on exit 0 the
sidecar's strings in the output must be the config's.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject
from conftest import FIXTURES
from support.bad_input import KUBERNETES, RENDER, _config, _errors
from support.fuzz_invariants import check
from support.fuzzing import BOM, FUZZ, LOADER, OBJECTS, RENDERS, Case, _dump, _save

# A failing example makes hypothesis's pytest plugin import libcst (to suggest a patch), which
# uses a deprecated mypy_extensions class: under `filterwarnings = error` that warning would
# turn the report of a failure into an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

# -- preset values with shell metacharacters -------------------------------------------------

RENDER_BYTES = (FIXTURES / "official-1.15.0" / "01-default.yaml").read_bytes()


def _config_text(spec: str) -> bytes:
    head = "apiVersion: airflow-sidecars.dev/v1alpha1\nkind: AirflowSidecars\nmetadata: {name: c}\n"
    return (head + "spec:\n" + spec).encode()


@pytest.mark.parametrize(
    "prefix",
    ["dags; touch /tmp/x", "$(id)", "`id`", 'a"b', "a'b", "two\nlines", "${HOME}", "a\\b"],
)
def test_hostile_preset_values_stay_values(prefix: str) -> None:
    spec = "  presets:\n    s3Sync:\n      bucket: dags\n      prefix: " + json.dumps(prefix) + "\n"
    outcome = run_inject([("in.yaml", RENDER_BYTES)], ConfigSource("c.yaml", _config_text(spec)))
    if outcome.exit_code == 1:  # the schema refused it: it names the field
        assert [r.field_path for r in outcome.results] == ["spec.presets.s3Sync.prefix"]
        return
    objects = [d for d in yaml.safe_load_all(outcome.output) if d]
    scheduler = next(
        d
        for d in objects
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "airflow-scheduler"
    )
    sidecar = scheduler["spec"]["template"]["spec"]["containers"][-1]
    assert {"name": "S3_PREFIX", "value": prefix} in sidecar["env"]
    assert all(prefix not in word for word in sidecar["command"] + sidecar["args"])


# -- strings the emitter writes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a\u0085b", "a\u2028c", "a\u0091b", "x\ny\n", "a\u2029\nb\n", "\x07"]
)
@pytest.mark.parametrize("render", [RENDER, KUBERNETES], ids=["workloads", "pod-template"])
def test_any_string_in_a_valid_config_reads_back(value: str, render: str) -> None:
    container = {
        "name": "s",
        "image": "b",
        "env": [{"name": "X", "value": value}],
        "args": [value, value],
    }
    config = _config(
        {
            "scheduler": {"extraContainers": [container]},
            "workers": {
                "extraContainers": [copy.deepcopy(container)],
                "allowPlainSidecars": True,  # a task pod: allowed, so it goes in
            },
        }
    )
    outcome = run_inject([(None, render.encode())], ConfigSource("c.yaml", config))
    assert outcome.exit_code == 0, _errors(outcome)
    again = run_inject([(None, outcome.output)], ConfigSource("c.yaml", config))
    assert again.output == outcome.output


# -- special strings in configs, generated ----------------------------------------------------

SPECIAL_RENDERS = [
    "official-1.15.0/01-default.yaml",
    "official-1.15.0/02-kubernetes-executor.yaml",
    "official-1.15.0/01-default.hooks.yaml",
    "community-8.9.0/01-default.yaml",
    "official-1.22.0/02a-kubernetes-executor.yaml",
]
SPECIAL_STRINGS = [
    "a\nb",
    "line\n- item",
    "\u0085",
    "x\u0085y",
    "\u0091",
    "a\u2028b",
    "\u2029",
    " lead",
    "trail ",
    " ",
    "{{ .Release.Name }}",
    "{{- .Release.Name -}}-x",
    "{{ .Release.Namespace }}",
    "{{ .Values.x }}",
    "x" * 5000,
    "'",
    '"',
    "#",
    "a #b",
    "a: b",
    "- x",
    "[x]",
    "{a: 1}",
    "&a",
    "*a",
    "!x",
    "%x",
    "@x",
    "`x`",
    "|",
    ">",
    "\t",
    "",
    "null",
    "~",
    "true",
    "yes",
    "1e3",
    "0x1F",
    "010",
    "<<",
    "\\",
    "\ufeff",
    "\U0001f600",
    "\x7f",
    "\x1b[31m",
    "\r\n",
    "\r",
    "---",
    "...",
    "a\n---\nb",
    "a\n\n\nb\n",
    "\u00a0",
    "\x00",
]
SPECIAL = st.one_of(
    st.sampled_from(SPECIAL_STRINGS),
    st.lists(st.sampled_from(SPECIAL_STRINGS), min_size=2, max_size=4).map("".join),
    st.text(st.characters(codec="utf-8"), max_size=20),
)


@st.composite
def special_configs(draw: st.DrawFn) -> Case:
    """A config with special strings in env values, command args, names, images and paths, on
    a render, in stream or KRM mode. The steps name every field that got a special string."""
    name = draw(st.sampled_from(SPECIAL_RENDERS))
    specials: list[str] = []

    def pick(field: str, normal: str | None = None) -> str:
        """A special string for `field`; with `normal`, sometimes (and shrinking to) that."""
        strings = SPECIAL if normal is None else st.one_of(st.just(normal), SPECIAL)
        chosen: str = draw(strings)
        if chosen != normal:
            specials.append(f"{field}={chosen[:80]!r}{'...' if len(chosen) > 80 else ''}")
        return chosen

    volume = pick("volume name", "fuzz-data")
    scheduler = {
        "name": pick("scheduler container name", "fuzz-sidecar"),
        "image": pick("scheduler image", "busybox:1.36"),
        "command": [pick("scheduler command[0]", "/bin/sh"), "-c"],
        "args": [pick("scheduler args[0]"), pick("scheduler args[1]", "sleep 3600")],
        "env": [
            {
                "name": pick("scheduler env[0].name", "FUZZ_VALUE"),
                "value": pick("scheduler env[0].value"),
            },
            {"name": "FUZZ_SECOND", "value": pick("scheduler env[1].value")},
        ],
        "volumeMounts": [{"name": volume, "mountPath": pick("mountPath", "/fuzz")}],
    }
    worker = {
        "name": "fuzz-worker-sidecar",
        "image": "busybox:1.36",
        "args": [pick("worker args[0]")],
        "env": [{"name": "FUZZ_WORKER", "value": pick("worker env[0].value")}],
    }
    spec: dict[str, Any] = {
        "scheduler": {
            "extraContainers": [scheduler],
            "extraVolumes": [{"name": volume, "emptyDir": {}}],
        },
        "workers": {"extraContainers": [worker]},
    }
    if draw(st.booleans()):
        spec["presets"] = {"s3Sync": {"bucket": "dags", "prefix": pick("s3Sync prefix", "dags")}}
    config = {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "AirflowSidecars",
        "metadata": {"name": pick("config name", "fuzz-special")},
        "spec": spec,
    }
    if draw(st.booleans()):
        resource_list = {
            "apiVersion": "config.kubernetes.io/v1",
            "kind": "ResourceList",
            "items": OBJECTS[name],
            "functionConfig": config,
        }
        style = draw(st.sampled_from(["yaml", "json", "json-compact"]))
        data = _dump(resource_list, style).encode()
        return Case(name, data, None, "krm", [f"ResourceList as {style}", *specials])
    style = draw(st.sampled_from(["yaml", "json", "json-raw", "yaml-flow"]))
    if style == "json-raw":  # C1 characters raw: a config YAML may refuse to read
        config_text = json.dumps(config, ensure_ascii=False, indent=2)
    else:
        config_text = _dump(config, style)
    steps = [f"config as {style}", *specials]
    return Case(name, RENDERS[name].encode(), config_text.encode(), "stream", steps)


def _containers(obj: Any) -> list[dict[str, Any]]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [c for c in pod.get("containers", []) if isinstance(c, dict)]


def _check_values_survive(case: Case, outcome: Outcome) -> None:
    """On exit 0, the sidecar's strings in the output are the strings of the config (as a
    YAML reader reads the config: that is what it says)."""
    if outcome.exit_code != 0:
        return
    text = outcome.output.decode().removeprefix(BOM)
    if case.mode == "krm":
        output = yaml.load(text, Loader=LOADER)
        objects = output["items"]
        config = yaml.load(case.data.decode().removeprefix(BOM), Loader=LOADER)["functionConfig"]
    else:
        objects = [d for d in yaml.load_all(text, Loader=LOADER) if d]
        config = yaml.load((case.config or b"").decode(), Loader=LOADER)
    wanted = config["spec"]["scheduler"]["extraContainers"][0]
    if "{{" in wanted["name"]:
        return  # a templated name: the official chart templates it, so it is not found as written
    schedulers = [
        obj
        for obj in objects
        if obj.get("kind") in ("Deployment", "StatefulSet")
        and (obj.get("metadata", {}).get("labels") or {}).get("component") == "scheduler"
    ]
    for scheduler in schedulers:
        added = [c for c in _containers(scheduler) if c.get("name") == wanted["name"]]
        assert len(added) == 1, f"sidecar {wanted['name']!r} is not in {scheduler['metadata']}"
        for key in ("args", "command"):
            if not any("{{" in word for word in wanted[key]):
                assert added[0][key] == wanted[key], key
        for env in wanted["env"]:
            if "{{" not in env["value"] + env["name"]:  # both are templated (the chart's tpl)
                assert env in added[0]["env"], env


@given(special_configs())
@FUZZ
def test_special_strings_in_configs(case: Case) -> None:
    inject, _ = check(case)
    try:
        _check_values_survive(case, inject)
    except BaseException:
        _save(case)
        raise
