"""Fuzzing resource quantities (hypothesis): quantities valid by construction, and near misses
made from them (a space, a wrong-case or unknown suffix, a second point, a lost exponent, ...).

The oracle is the grammar written out as one regular expression (apimachinery's comment on
`Quantity`), independent of quantity.py's scanner: for every string whose number starts
with a digit (the parser's zero-from-nothing corner, `-`, `.`, `Ki`, is the table's business,
in test_quantity_grammar.py), quantity.py accepts exactly what the oracle accepts. Then the
same strings go through both functions, on the scheduler of a real render: in the config,
inject and validate exit 0 for a good non-negative quantity and refuse anything else with a
`config` error at the field, applying nothing; in a chart container, validate reports
`bad-quantity` exactly then. Neither ever raises.

Examples are derandomised, as in tests/support/fuzzing.py, and take the same knobs:
AIRFLOW_SIDECARS_FUZZ_EXAMPLES=N (default 100) and AIRFLOW_SIDECARS_FUZZ_SECONDS=S.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_sidecars.pods.quantity import from_manifest, parse
from airflow_sidecars.runs.api import ConfigSource, run_inject, run_validate
from conftest import FIXTURES, config_yaml

pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

_EXAMPLES = int(os.environ.get("AIRFLOW_SIDECARS_FUZZ_EXAMPLES") or 100)
_SECONDS = float(os.environ.get("AIRFLOW_SIDECARS_FUZZ_SECONDS") or 0)
_RATE = 10.0  # examples per second of the end-to-end generators, about


def _settings(factor: int) -> settings:
    examples = _EXAMPLES * factor
    if _SECONDS > 0:
        examples = max(examples, int(_SECONDS * _RATE * factor))
    return settings(
        max_examples=examples,
        derandomize=_SECONDS <= 0,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# -- the oracle -------------------------------------------------------------------------------

_ORACLE = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+|[0-9]+\.[0-9]*|\.[0-9]+)"
    r"(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE](?P<exponent>[+-]?[0-9]+))?"
)
_NUMBER_STARTS_WITH_A_DIGIT = re.compile(r"[+-]?\.?[0-9]")


def oracle(text: str) -> bool:
    found = _ORACLE.fullmatch(text)
    if found is None:
        return False
    exponent = found.group("exponent")
    return exponent is None or -(2**63) <= int(exponent) < 2**63


def negative(text: str) -> bool:
    found = _ORACLE.fullmatch(text)
    assert found is not None
    return found.group("sign") == "-" and Decimal(found.group("number").rstrip(".") or 0) != 0


# -- the generators ---------------------------------------------------------------------------

_DIGITS = st.text("0123456789", min_size=1, max_size=8)
_SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]


@st.composite
def valid_quantities(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    whole, fraction = draw(_DIGITS), draw(_DIGITS)
    number = draw(st.sampled_from([whole, f"{whole}.{fraction}", f"{whole}.", f".{fraction}"]))
    exponent = draw(st.integers(-30, 30))
    suffix = draw(
        st.one_of(
            st.sampled_from(_SUFFIXES),
            st.builds(
                lambda e, s: f"{e}{s}{abs(exponent)}",
                st.sampled_from("eE"),
                st.sampled_from(["", "+"] if exponent >= 0 else ["-"]),
            ),
        )
    )
    return f"{sign}{number}{suffix}"


_NEAR_MISSES = [
    lambda q: f"{q} ",
    lambda q: f" {q}",
    lambda q: re.sub(r"(\d)(\D*)$", r"\1 \2", q, count=1),  # a space before the suffix
    lambda q: q + "i",
    lambda q: q + "B",
    lambda q: q + "e",
    lambda q: q + "e+",
    lambda q: q + ".5",
    lambda q: q.replace("i", "I"),
    lambda q: q.replace("k", "K"),
    lambda q: q.replace("Ki", "ki").replace("Mi", "mi").replace("Gi", "gi"),
    lambda q: q.replace("M", "MB").replace("G", "Gb"),
    lambda q: "--" + q,
    lambda q: q + "-",
    lambda q: q.replace(".", ","),
    lambda q: q.replace("e", "ee").replace("E", "EE"),
    lambda q: q + "e99999999999999999999",
    lambda q: "lots",
    lambda q: q + "\u00a0x",
]


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    mutate = draw(st.sampled_from(_NEAR_MISSES))
    result: str = mutate(draw(valid_quantities()))
    return result


QUANTITY_TEXTS = st.one_of(valid_quantities(), near_misses())


# -- the grammar --------------------------------------------------------------------------------


@_settings(10)
@given(QUANTITY_TEXTS)
def test_the_parser_accepts_exactly_the_grammar(text: str) -> None:
    if not _NUMBER_STARTS_WITH_A_DIGIT.match(text):
        parse(text)  # the zero-from-nothing corner: only that it answers
        return
    assert (parse(text) is not None) == oracle(text), text


@_settings(10)
@given(valid_quantities())
def test_valid_by_construction_is_valid(text: str) -> None:
    assert oracle(text)
    found = parse(text)
    assert found is not None
    assert (found.value < 0) == negative(text)


# -- through inject and validate ----------------------------------------------------------------

RENDER = FIXTURES / "official-1.15.0" / "01-default.yaml"
# The render's scheduler alone: a real chart container, without the cost of the whole render.
SCHEDULER = next(
    doc
    for doc in yaml.safe_load_all(RENDER.read_text())
    if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"] == "airflow-scheduler"
)
SCHEDULER_TEXT = yaml.safe_dump(SCHEDULER, sort_keys=False).encode()
FIELD = "spec.scheduler.extraContainers[0].resources.requests.cpu"

VALUES = st.one_of(
    QUANTITY_TEXTS,
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([True, False, None, [], {}, ["1"], {"cpu": 1}]),
)


def _accepted(value: Any) -> bool:
    """What the API server takes for a request: a quantity (the JSON decoder's reading of the
    value), 0 or more."""
    if isinstance(value, str) and _NUMBER_STARTS_WITH_A_DIGIT.match(value.strip(" ")):
        text = value.strip(" ")
        return oracle(text) and not negative(text)
    found = from_manifest(value)
    return found is not None and found.value >= 0


def _is_checkable(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_NUMBER_STARTS_WITH_A_DIGIT.match(value.strip(" "))) and "\u00a0" not in value
    return True


@_settings(1)
@given(VALUES)
def test_inject_and_validate_refuse_exactly_the_bad_quantities(value: Any) -> None:
    spec = {
        "scheduler": {
            "extraContainers": [
                {"name": "q", "image": "busybox:1.36", "resources": {"requests": {"cpu": value}}}
            ]
        }
    }
    config = ConfigSource("config.yaml", config_yaml(spec, "fuzz"))
    injected = run_inject([("render.yaml", SCHEDULER_TEXT)], config)
    validated = run_validate([("render.yaml", SCHEDULER_TEXT)], config)
    for outcome in (injected, validated):
        assert outcome.exit_code in (0, 1)
        for result in outcome.results:
            result.line()
    refused = [r for r in injected.results if r.tags.get("rule") == "config"]
    if not _is_checkable(value):
        return
    if _accepted(value):
        assert injected.exit_code == 0, [r.line() for r in injected.results]
        assert not refused
    else:
        assert injected.exit_code == 1
        assert injected.output == SCHEDULER_TEXT  # nothing applied
        assert [r.field_path for r in refused] == [FIELD]
        assert [r.field_path for r in validated.results if r.tags.get("rule") == "config"] == [
            FIELD
        ]


@_settings(1)
@given(VALUES)
def test_validate_reports_a_bad_quantity_in_a_chart_container(value: Any) -> None:
    scheduler: dict[str, Any] = yaml.safe_load(SCHEDULER_TEXT)
    pod = scheduler["spec"]["template"]["spec"]
    pod["containers"][0]["resources"] = {"limits": {"memory": value}}
    render = yaml.safe_dump(scheduler, sort_keys=False).encode()
    outcome = run_validate([("render.yaml", render)], None)
    assert outcome.exit_code in (0, 1)
    assert outcome.output == render
    found = [r.field_path for r in outcome.results if r.tags.get("rule") == "bad-quantity"]
    if not _is_checkable(value):
        return
    expected = (
        [] if _accepted(value) else ["spec.template.spec.containers[0].resources.limits.memory"]
    )
    assert found == expected
