"""Valid YAML that is rare in renders and configs, on the real chart renders:

- line ends other than `\\n`: `\\r` alone (old Mac style, a line break in YAML 1.1 and 1.2),
  `\\r\\n` and a mix, in stream mode, KRM mode, the config and the KubernetesExecutor pod
  template. New lines end the way the document's own lines do; nothing else changes; `remove`
  after `inject` gives the input back byte for byte;
- a plain `=`, which PyYAML's resolver tags `!!value` and Kubernetes reads as the string "=";
- strings made of or around line breaks, written by yamlemit into every context, read back the
  same by PyYAML and ruamel.yaml (a property test);
- one problem with an object (a key twice) is one result, though several steps of a run read
  the object.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from airflow_sidecars.runs.api import ConfigSource, Outcome, run_inject, run_remove, run_validate
from airflow_sidecars.runs.outcomes import Inputs
from airflow_sidecars.text import yamlemit
from airflow_sidecars.text.yamlread import load_one
from conftest import FIXTURES, ROOT

# A failing example makes hypothesis's pytest plugin import libcst, whose deprecation warning
# would turn the report into an INTERNALERROR (as in the test_fuzz_*.py modules).
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

DEFAULT = "official-1.15.0/01-default.yaml"
EXECUTOR = "official-1.15.0/02-kubernetes-executor.yaml"
# The README's config; its worker sidecar is a plain one (the pod template has no native ones)
SEED = (
    (ROOT / "pipelines/examples/seed-sidecars.yaml")
    .read_text("utf-8")
    .replace("  workers:\n", "  workers:\n    allowPlainSidecars: true\n", 1)
)
DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
RUAMEL = YAML(typ="safe", pure=True)  # a YAML 1.2 reader of its own, next to PyYAML


def render(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def ended(text: str, style: str) -> str:
    """`text` (which ends its lines with `\\n`) with its lines ended in `style`: "\\r",
    "\\r\\n", or "mixed" (line by line in turn: `\\n`, `\\r`, `\\r\\n`)."""
    if style != "mixed":
        return text.replace("\n", style)
    breaks = ["\n", "\r", "\r\n"]  # a `\r` never before an empty `\n` line (a `\r\n`)
    lines = text.split("\n")
    return "".join(line + breaks[n % 3] for n, line in enumerate(lines[:-1])) + lines[-1]


def config(text: str = SEED) -> ConfigSource:
    return ConfigSource("config.yaml", text.encode())


def inject(text: str, config_text: str = SEED) -> Outcome:
    return run_inject([("render.yaml", text.encode())], config(config_text))


def errors(outcome: Outcome) -> list[str]:
    return [found.line() for found in outcome.results if found.severity == "error"]


def as_resource_list(text: str, config_text: str) -> str:
    """The render's objects and the config as a ResourceList, in block style."""
    wrapper = {
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [doc for doc in yaml.safe_load_all(text) if doc],
        "functionConfig": yaml.safe_load(config_text),
    }
    return yaml.dump(wrapper, Dumper=DUMPER, sort_keys=False, allow_unicode=True)


# -- line ends --------------------------------------------------------------------------------

UNIFORM = ["\r", "\r\n"]


@pytest.mark.parametrize("name", [DEFAULT, EXECUTOR])
@pytest.mark.parametrize("style", UNIFORM, ids=repr)
def test_a_render_with_other_line_ends_gets_the_same_edits_in_its_own_line_ends(
    name: str, style: str
) -> None:
    lf = inject(render(name))
    assert lf.exit_code == 0, errors(lf)
    other = inject(ended(render(name), style))
    assert other.exit_code == 0, errors(other)
    assert other.output.decode() == ended(lf.output.decode(), style)


@pytest.mark.parametrize("name", [DEFAULT, EXECUTOR])
@pytest.mark.parametrize("style", UNIFORM, ids=repr)
def test_a_resource_list_with_other_line_ends_gets_the_same_edits(name: str, style: str) -> None:
    text = as_resource_list(render(name), SEED)
    lf = run_inject([(None, text.encode())], None)
    assert lf.exit_code == 0, errors(lf)
    other = run_inject([(None, ended(text, style).encode())], None)
    assert other.exit_code == 0, errors(other)
    assert other.output.decode() == ended(lf.output.decode(), style)


@pytest.mark.parametrize("style", [*UNIFORM, "mixed"], ids=repr)
def test_a_config_with_other_line_ends_means_the_same(style: str) -> None:
    lf = inject(render(EXECUTOR))
    other = inject(render(EXECUTOR), ended(SEED, style))
    assert other.exit_code == 0, errors(other)
    assert other.output == lf.output


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


@pytest.mark.parametrize("name", [DEFAULT, EXECUTOR])
def test_new_lines_in_mixed_line_ends_end_like_the_line_they_go_into(name: str) -> None:
    text = ended(render(name), "mixed")
    outcome = inject(text)
    assert outcome.exit_code == 0, errors(outcome)
    output = outcome.output.decode()
    assert output.replace("\r\n", "\n").replace("\r", "\n") == inject(render(name)).output.decode()
    # Each stretch of new lines is one splice: its lines all end one way (the way the line
    # it went into ended), and not always `\n`.
    lines = output.splitlines(keepends=True)
    old = set(text.splitlines(keepends=True))
    runs: list[list[str]] = [[]]
    for line in lines:
        if line not in old:
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    runs = [run for run in runs if run]
    assert len(runs) > 1
    for run in runs:
        assert len({_ending(line) for line in run}) == 1, run
    assert {_ending(run[0]) for run in runs} == {"\n", "\r", "\r\n"}


@pytest.mark.parametrize("name", [DEFAULT, EXECUTOR])
@pytest.mark.parametrize("style", [*UNIFORM, "mixed"], ids=repr)
@pytest.mark.parametrize("final_break", [True, False])
def test_remove_after_inject_gives_the_input_back(name: str, style: str, final_break: bool) -> None:
    text = ended(render(name), style)
    if not final_break:
        text = text.rstrip("\r\n")
    injected = inject(text)
    assert injected.exit_code == 0, errors(injected)
    assert injected.output != text.encode()
    removed = run_remove([("render.yaml", injected.output)], None)
    assert removed.exit_code == 0, errors(removed)
    assert removed.output == text.encode()


@pytest.mark.parametrize("style", ["\n", *UNIFORM], ids=repr)
def test_an_entry_added_at_the_very_end_goes_with_its_line_break(style: str) -> None:
    # Found by the fuzzing campaign: the community render's last object ends with the worker's
    # volumes, which inject extends; without a final line break, remove cut the entry and
    # the LF before it, and left the CR of a CR LF.
    text = ended(render("community-8.9.0/01-default.yaml"), style).rstrip("\r\n")
    seed = (ROOT / "tests" / "golden" / "community-8.9.0-seed" / "config.yaml").read_text()
    injected = inject(text, seed)
    assert injected.exit_code == 0, errors(injected)
    assert injected.output.endswith(b"claimName: airflow-keytab")  # the very end, no break
    removed = run_remove([("render.yaml", injected.output)], None)
    assert removed.output == text.encode()


@pytest.mark.parametrize("style", [*UNIFORM, "mixed"], ids=repr)
def test_what_is_not_edited_keeps_its_line_ends(style: str) -> None:
    """validate edits nothing, and inject with an error applies nothing: both give the bytes
    back as they came."""
    data = ended(render(DEFAULT), style).encode()
    validated = run_validate([("render.yaml", data)], None)
    assert validated.output == data
    refused = run_inject([("render.yaml", _twice(data.decode()).encode())], config())
    assert refused.exit_code == 1
    assert refused.output == _twice(data.decode()).encode()


@pytest.mark.parametrize("style", UNIFORM, ids=repr)
def test_files_joined_into_one_stream_keep_their_line_ends(style: str) -> None:
    """Two files on one command line (two renders, so in folders of their own), the first
    without a final line break, the second without `---`: the line break and the `---` put
    between them when they are joined end like their lines."""
    first = ended(render(DEFAULT).rstrip("\n") + "\n", style)
    second = ended(render(EXECUTOR), style)
    assert second.startswith("---" + style)
    inputs: Inputs = [
        ("dev/a.yaml", first.removesuffix(style).encode()),
        ("prod/b.yaml", second.removeprefix("---" + style).encode()),
    ]
    outcome = run_validate(inputs, None)
    assert outcome.exit_code == 0, errors(outcome)
    assert outcome.output.decode() == first + second


def test_line_ends_inside_the_pod_template_are_kept() -> None:
    """The pod template is a literal block of the ConfigMap: its lines end like the others."""
    text = ended(render(EXECUTOR), "\r")
    outcome = inject(text)
    assert outcome.exit_code == 0, errors(outcome)
    output = outcome.output.decode()
    assert "\n" not in output
    assert "pod_template_file.yaml: |" in output
    template = next(
        doc["data"]["pod_template_file.yaml"]
        for doc in yaml.safe_load_all(output)
        if doc and doc.get("kind") == "ConfigMap" and "pod_template_file.yaml" in doc["data"]
    )
    assert "worker-kerberos" in template


# -- a plain `=` ------------------------------------------------------------------------------

# the s3-sync sidecar's args (its loop, a block list: the first in the config) as `[--sep, =]`
EQUALS_CONFIG = re.sub(
    r"^        args:\n(?:          .*\n)+", "        args: [--sep, =]\n", SEED, count=1, flags=re.M
)


def _container(output: bytes, kind: str, container: str) -> dict[str, Any]:
    # Every scalar a string (BaseLoader), as Go's yaml reads a plain `=`: PyYAML's SafeLoader
    # and ruamel.yaml tag it !!value and construct nothing.
    for doc in yaml.load_all(output.decode(), Loader=yaml.BaseLoader):
        if doc and doc.get("kind") == kind and doc["metadata"]["name"] == "airflow-scheduler":
            pod = doc["spec"]["template"]["spec"]
            found: dict[str, Any] = next(c for c in pod["containers"] if c["name"] == container)
            return found
    raise AssertionError(f"no {kind} airflow-scheduler")


def test_a_plain_equals_sign_in_a_config_is_the_string() -> None:
    assert "args: [--sep, =]" in EQUALS_CONFIG
    outcome = inject(render(DEFAULT), EQUALS_CONFIG)
    assert outcome.exit_code == 0, errors(outcome)
    assert _container(outcome.output, "Deployment", "s3-sync")["args"] == ["--sep", "="]
    # Written quoted: PyYAML (YAML 1.1) reads it as the string too.
    assert "- '='" in outcome.output.decode()


def _with_plain_equals(text: str) -> str:
    line = "            - exec airflow scheduler\n"
    assert line in text
    return text.replace(line, line + "            - =\n", 1)


def test_a_plain_equals_sign_in_a_workload_is_the_string() -> None:
    text = _with_plain_equals(render(DEFAULT))
    injected = inject(text)
    assert injected.exit_code == 0, errors(injected)
    args = _container(injected.output, "Deployment", "scheduler")["args"]
    assert args[-1] == "="
    validated = run_validate([("render.yaml", injected.output)], config())
    assert validated.exit_code == 0, errors(validated)
    removed = run_remove([("render.yaml", injected.output)], None)
    assert removed.exit_code == 0, errors(removed)
    assert removed.output == text.encode()


# -- strings made of line breaks --------------------------------------------------------------

BREAKS = [
    "\n",
    "\n\n",
    "\na",
    "a\n",
    "a\n\n",
    "\n\na\n\n",
    "\r",
    "\r\n",
    "a\rb",
    "\x85",
    "a\u2028b",
    "\u2029",
    "a \nb",
    "a\n \n",
    " a\nb",
    "\n a",
    "\n\ta",
    "\ta\nb",
]


@pytest.mark.parametrize("arg", BREAKS, ids=repr)
def test_an_arg_of_line_breaks_is_added_as_it_is(arg: str) -> None:
    quoted = yaml.dump(arg, Dumper=DUMPER, default_style='"', width=2**30).strip()
    text = EQUALS_CONFIG.replace("args: [--sep, =]", f"args: [{quoted}]")
    outcome = inject(render(DEFAULT), text)
    assert outcome.exit_code == 0, errors(outcome)
    assert _container(outcome.output, "Deployment", "s3-sync")["args"] == [arg]


PIECES = ["a", " ", "\t", "\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "=", "#", ": ", "- "]
STRINGS = st.one_of(st.lists(st.sampled_from(PIECES), max_size=8).map("".join), st.text())


def _written(value: str) -> list[tuple[Any, str]]:
    """`value` written by yamlemit into each context: a block mapping value followed by
    another key, a block list entry followed by another, nested, a key, flow and inline."""
    written: list[tuple[Any, str]] = []
    for seq_indent in (0, 2):
        for shape in (
            {"outer": {"k": value, "after": "x"}},
            {"outer": [value, "x"]},
            {"outer": [[value], "x"]},
            {"outer": [{"k": value}, "x"]},
            {"outer": {value: "x", "after": "x"}},
        ):
            written.append((shape, "\n".join(yamlemit.block_lines(shape, 0, seq_indent)) + "\n"))
    written.append(({"outer": [value]}, "outer: " + yamlemit.flow([value]) + "\n"))
    written.append(({"outer": {"k": value}}, "outer: " + yamlemit.flow({"k": value}) + "\n"))
    written.append(({"k": value}, "k: " + yamlemit.inline(value) + "\n"))
    return written


@given(STRINGS)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_string_yamlemit_writes_reads_back_the_same(value: str) -> None:
    for shape, text in _written(value):
        assert load_one(text, "the text").data == shape, text
        assert RUAMEL.load(io.StringIO(text)) == shape, text


# -- one problem, one result ------------------------------------------------------------------


def _twice(text: str) -> str:
    """`text` with the scheduler Deployment's name given twice (in the text's line ends)."""
    found = re.search(
        r"kind: Deployment\r?\n?metadata:\r?\n?(  name: airflow-scheduler\r?\n?)", text
    )
    assert found is not None
    return text[: found.start(1)] + found.group(1) + text[found.start(1) :]


@pytest.mark.parametrize("function", ["inject", "validate", "validate-with-config", "remove"])
def test_a_key_twice_is_one_error(function: str) -> None:
    data = _twice(inject(render(DEFAULT)).output.decode()).encode()
    inputs: list[tuple[str | None, bytes]] = [("render.yaml", data)]
    if function == "inject":
        outcome = run_inject(inputs, config())
    elif function == "validate":
        outcome = run_validate(inputs, None)
    elif function == "validate-with-config":
        outcome = run_validate(inputs, config())
    else:
        outcome = run_remove(inputs, None)
    twice = [line for line in errors(outcome) if "twice" in line]
    assert len(twice) == 1, errors(outcome)
