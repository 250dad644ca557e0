"""quantity.py reads a resource quantity as the Kubernetes API server does: apimachinery's
`ParseQuantity` grammar with its quirks, the JSON decoder's reading of YAML values, and what
core validation adds for a container's `resources`.

The rows are written from the grammar and the parser's behaviour (see quantity.py's
docstring), in the spirit of apimachinery's own quantity tests: each valid row with the
value the API server holds, each invalid row with why it is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from airflow_sidecars.pods.quantity import from_manifest, parse, resource_problems

# (text, the value it parses to; None: refused)
GRAMMAR: list[tuple[str, str | None]] = [
    # plain numbers, signs, decimal points
    ("0", "0"),
    ("1", "1"),
    ("+1", "1"),
    ("-1", "-1"),
    ("007", "7"),
    ("0.5", "0.5"),
    (".5", "0.5"),
    ("1.", "1"),  # the parser allows an empty fraction
    ("1.5", "1.5"),
    ("12345678901234567890123", "12345678901234567890123"),  # more than an int64 holds
    # decimal SI suffixes
    ("100n", "0.0000001"),
    ("5u", "0.000005"),
    ("500m", "0.5"),
    ("1k", "1000"),
    ("1M", "1000000"),
    ("1G", "1000000000"),
    ("2T", "2000000000000"),
    ("3P", "3000000000000000"),
    ("1E", "1000000000000000000"),  # E alone is exa, not an exponent
    ("1.5G", "1500000000"),
    # binary SI suffixes
    ("1Ki", "1024"),
    ("128Mi", "134217728"),
    ("1.5Gi", "1610612736"),
    ("1Ti", str(2**40)),
    ("1Pi", str(2**50)),
    ("1Ei", str(2**60)),
    ("8Ei", str(2**63 - 1)),  # a binary value is capped at 2^63-1
    # decimal exponents
    ("1e3", "1000"),
    ("1E3", "1000"),
    ("1e+3", "1000"),
    ("1E-3", "0.001"),
    ("1.5e2", "150"),
    ("1e0000000000000000000000003", "1000"),  # leading zeros do not count against int64
    # rounding away from zero to a multiple of 1n
    ("0.9n", "0.000000001"),
    ("1.5n", "0.000000002"),
    ("-0.1n", "-0.000000001"),
    ("1e-20", "0.000000001"),
    ("1e4294967286", "0.000000001"),  # the exponent is kept as an int32: it wraps to -10
    # the parser's zero: nothing left after the sign and the zeros
    ("-", "0"),
    ("+", "0"),
    (".", "0"),
    ("m", "0"),
    ("Ki", "0"),
    (".Ki", "0"),
    (".Ti", "0"),
    ("0.Ei", "0"),
    (".e-9", "0"),
    # refused: spelling
    ("", None),
    ("lots", None),
    ("true", None),
    ("5 GiB", None),
    ("5GiB", None),
    ("1 ", None),  # ParseQuantity keeps spaces; from_manifest trims them, as the decoder does
    (" 1", None),
    ("1,5", None),
    ("0x10", None),
    ("1_000", None),
    ("1/2", None),
    ("\u0661", None),  # a digit (ARABIC-INDIC ONE), but not an ASCII one
    # refused: suffixes
    ("1K", None),
    ("1ki", None),
    ("1i", None),
    ("1mi", None),
    ("0.1am", None),
    ("1MB", None),
    ("1Gb", None),
    ("1e", None),
    ("1e+", None),
    ("1e-", None),
    ("-3.01e-", None),
    ("1e3.5", None),
    ("1ee3", None),
    ("1Mi3", None),
    ("1e99999999999999999999", None),  # beyond an int64
    # refused: structure
    ("1.1.M", None),
    ("1+1.0M", None),
    ("+-1", None),
    ("--1", None),
    ("1-", None),
    ("-3.01i", None),
    # refused: no digit where the parser reads the number with inf.Dec
    (".Ei", None),
    (".Pi", None),
    ("Ei", None),
    (".e-10", None),
    ("-.e-10", None),
]


def _is(found: Any, expected: str | None) -> None:
    """The quantity read is `expected` (a decimal's text), or nothing was (None)."""
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert found.value == Decimal(expected)


@pytest.mark.parametrize(("text", "expected"), GRAMMAR, ids=[repr(t) for t, _ in GRAMMAR])
def test_the_grammar(text: str, expected: str | None) -> None:
    _is(parse(text), expected)


def test_the_table_is_large_and_balanced() -> None:
    assert len(GRAMMAR) >= 40
    assert sum(1 for _, value in GRAMMAR if value is None) >= 20


# (a YAML value as data, the value the API server holds; None: refused)
MANIFEST_VALUES: list[tuple[Any, str | None]] = [
    (1, "1"),
    (0, "0"),
    (0.5, "0.5"),
    (1e21, "1e21"),
    (-2, "-2"),
    ("250m", "0.25"),
    (" 1 ", "1"),  # UnmarshalJSON trims surrounding white space
    ("\t128Mi\n", "134217728"),
    ("\u00a01", "1"),  # Go's TrimSpace knows the no-break space
    (True, None),
    (False, None),
    (None, None),  # create reads it as 0, a patch as "delete": refused as ambiguous
    ({"value": 1}, None),
    ([1], None),
    (float("inf"), None),
    (float("nan"), None),
    ("\x1c1", None),  # Python's str.strip would take it, Go's TrimSpace does not
]


@pytest.mark.parametrize(
    ("value", "expected"), MANIFEST_VALUES, ids=[repr(v) for v, _ in MANIFEST_VALUES]
)
def test_values_as_the_json_decoder_reads_them(value: Any, expected: str | None) -> None:
    _is(from_manifest(value), expected)


def _problems(resources: Any) -> list[str]:
    return [path for path, _ in resource_problems(resources)]


def test_what_validation_adds_for_a_container() -> None:
    # ValidateResourceRequirements: a request at or below its limit passes, in any spelling
    ok = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}
    assert _problems(ok) == []
    assert _problems({"requests": {"cpu": 0.25}, "limits": {"cpu": "250m"}}) == []
    assert _problems({"limits": {"cpu": "-0"}}) == []  # zero is not negative
    # negative values
    assert _problems({"limits": {"cpu": "-1"}, "requests": {"memory": -5}}) == [
        "resources.limits.cpu",
        "resources.requests.memory",
    ]
    # a request above its limit, compared by value, not by spelling
    assert _problems({"limits": {"memory": "1G"}, "requests": {"memory": "1Gi"}}) == [
        "resources.requests.memory"
    ]
    # rounded to nano first, as the API server holds them: equal
    assert _problems({"limits": {"cpu": "1.1n"}, "requests": {"cpu": "1.9n"}}) == []
    # names: no domain means a standard resource
    assert _problems({"limits": {"gpu": 1, "ephemeral-storage": "1Gi"}}) == ["resources.limits.gpu"]
    assert (
        _problems({"requests": {"hugepages-2Mi": "4Mi"}, "limits": {"hugepages-2Mi": "4Mi"}}) == []
    )
    # huge pages and extended resources cannot be overcommitted: request equals limit
    assert _problems({"requests": {"nvidia.com/gpu": 1}}) == ["resources.requests.nvidia.com/gpu"]
    assert _problems({"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 2}}) == [
        "resources.requests.nvidia.com/gpu"
    ]
    assert _problems({"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1}}) == []
    # ... and count whole units (rounded up to milli-units first, as MilliValue does)
    assert _problems({"limits": {"nvidia.com/gpu": "500m"}}) == ["resources.limits.nvidia.com/gpu"]
    assert _problems({"limits": {"nvidia.com/gpu": "1e3", "example.com/dev": "2000m"}}) == []
    assert _problems({"limits": {"example.com/dev": "1.0001m"}}) == [
        "resources.limits.example.com/dev"
    ]
    assert _problems({"limits": {"example.com/dev": "999999999n"}}) == []  # 999.999999m is 1000m
    # a list where a mapping belongs; claims and unknown keys are not quantities
    assert _problems({"limits": ["cpu"]}) == ["resources.limits"]
    assert _problems({"claims": [{"name": "gpu"}]}) == []
    assert _problems(None) == []


def test_a_bad_limit_is_reported_once() -> None:
    # the request is not compared with a limit that is not a quantity
    found = resource_problems({"limits": {"cpu": "lots"}, "requests": {"cpu": "1"}})
    assert found == [
        (
            "resources.limits.cpu",
            "'lots' is not a Kubernetes quantity such as 500m, 0.5, 2, 128Mi, 1G or 1e3",
        )
    ]
