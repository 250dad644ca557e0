"""Kubernetes resource quantities (`500m`, `0.5`, `128Mi`, `1e3`): what the API server reads
as one, and what its validation of a container's `resources` adds.

The grammar is apimachinery's `resource.ParseQuantity` (pkg/api/resource/quantity.go), with
its quirks, since the API server is what refuses a pod:

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | "+" <number> | "-" <number>
    <number>          ::= <digits> | <digits> "." <digits> | <digits> "." | "." <digits> | ""
    <suffix>          ::= <binarySI> | <decimalSI> | <decimalExponent>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= ("e" | "E") <a signed int64, as Go's strconv.ParseInt reads it>

The empty number is the parser's: it strips leading zeros and counts nothing left as 0, so
`-`, `.`, `m` and `Ki` are quantities (zero), while the empty string is not. Where the parser
leaves its exact int64 path (more than 18 digits, a scale below nano, a fraction of a binary
suffix, a large binary suffix: `Ei`, `Pi`), it reads the number with inf.Dec, which needs a
digit: `.Ei` and `.e-10` are refused although `.Ki` and `.e-9` are not. The exponent is then
kept as an int32 (it wraps), and the value is rounded away from zero to a multiple of 1n
(`0.1n` is `1n`); a binary-suffixed value is capped at 2^63-1.

In a manifest, the JSON decoder (`Quantity.UnmarshalJSON`) reads a string after trimming
surrounding white space (Go's `strings.TrimSpace`), and a number by its JSON text; a boolean,
a mapping or a list is refused. It reads `null` as zero, but a patch reads `null` as "delete
this key", so a null quantity means two things and is refused here as not a quantity.
"""

from __future__ import annotations

import math
import re
from decimal import MAX_EMAX, MIN_EMIN, ROUND_CEILING, ROUND_UP, Context, Decimal
from typing import Any, NamedTuple

# The scanner's shape (parseQuantityString): sign, digits, fraction, then the suffix letters,
# a sign and digits; which suffixes exist is decided after.
_SHAPE = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?([eEinumkKMGTP]*[+-]?\d*)", re.ASCII)
# Suffix -> (base, exponent).
_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
# Go's strconv.ParseInt(s, 10, 64): an optional sign, then decimal digits.
_GO_INT = re.compile(r"([+-]?)([0-9]+)", re.ASCII)
_INT64 = 2**63
_NANO = Decimal("1e-9")
_MAX_BINARY = Decimal(_INT64 - 1)
# The exact int64 path holds at most 18 digits (maxInt64Factors).
_INT64_DIGITS = 18
# What Go's strings.TrimSpace removes: unicode.IsSpace.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
# Values beyond 10^this are compared as if they were 10^this: no container asks for that much,
# and an exponent of two billion would not fit in memory.
_LARGEST_EXPONENT = 4000

EXAMPLES = "500m, 0.5, 2, 128Mi, 1G or 1e3"


class Quantity(NamedTuple):
    """A quantity as the API server holds it after parsing."""

    value: Decimal
    text: str  # as written, for messages


def parse(text: str) -> Quantity | None:
    """`text` as ParseQuantity reads it, or None where it returns an error."""
    value = _parse_value(text)
    return None if value is None else Quantity(value, text)


def _parse_value(text: str) -> Decimal | None:
    if text == "":
        return None
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        return None
    sign, whole, fraction, suffix = shape.groups()
    fraction = fraction or ""
    digits = whole.lstrip("0") or "0"  # the parser strips leading zeros, 0 if none is left
    scale = _suffix(suffix)
    if scale is None:
        return None
    base, exponent = scale
    if not (whole or fraction) and not _exact_path(base, exponent, digits, fraction):
        return None  # inf.Dec finds no digit in the number
    return _amount(sign == "-", digits + fraction, len(fraction), base, exponent)


def _suffix(suffix: str) -> tuple[int, int] | None:
    """(base, exponent) of a suffix, as the suffixer interprets it; None for one it refuses."""
    if suffix in _DECIMAL_SI:
        return 10, _DECIMAL_SI[suffix]
    if suffix in _BINARY_SI:
        return 2, _BINARY_SI[suffix]
    written = _GO_INT.fullmatch(suffix[1:]) if len(suffix) > 1 and suffix[0] in "eE" else None
    if written is None:
        return None
    sign, digits = written.groups()
    digits = digits.lstrip("0") or "0"
    if len(digits) > 19:
        return None  # beyond an int64 (and int() refuses very long digit strings)
    exponent = int(sign + digits)
    if not -_INT64 <= exponent < _INT64:
        return None
    return 10, (exponent + 2**31) % 2**32 - 2**31  # kept as an int32: it wraps


def _exact_path(base: int, exponent: int, digits: str, fraction: str) -> bool:
    """Whether ParseQuantity computes the value in an int64, without reading the number again
    (it does not need a digit then)."""
    if base == 10:
        room = _INT64_DIGITS - (len(digits) + len(fraction))
        return room >= 0 and exponent - len(fraction) >= -9
    if fraction:
        return False
    room = 15 - len(digits) - exponent * 3 // 10 - 1  # its rough decimal precision of 2^exponent
    return room >= 0 and int(digits) << exponent < _INT64


def _amount(negative: bool, digits: str, places: int, base: int, exponent: int) -> Decimal:
    if base == 10:
        power = max(min(exponent - places, _LARGEST_EXPONENT), -len(digits) - 12)
        value = Decimal(f"{digits}E{power}")
    else:
        context = _context(len(digits) + 40)
        value = context.multiply(Decimal(f"{digits}E-{places}"), Decimal(2**exponent))
    if value and value.as_tuple().exponent < -9:  # type: ignore[operator]
        context = _context(max(value.adjusted(), 0) + 12)
        value = value.quantize(_NANO, rounding=ROUND_UP, context=context)
    if base == 2:
        value = min(value, _MAX_BINARY)
    return value.copy_negate() if negative else value  # exact: `-value` would round


def _context(digits: int) -> Context:
    """Arithmetic exact to `digits` digits, at any exponent."""
    return Context(prec=digits, Emax=MAX_EMAX, Emin=MIN_EMIN)


def from_manifest(value: Any) -> Quantity | None:
    """A quantity in a manifest or config, as data: a string or a number, as the JSON decoder
    reads it; None for anything else and for what it refuses."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Quantity(Decimal(value), str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return None  # no JSON number is
        return Quantity(Decimal(repr(value)), repr(value))
    if isinstance(value, str):
        found = parse(value.strip(_GO_SPACE))
        return None if found is None else found._replace(text=value)
    return None


# -- a container's resources (core validation, ValidateResourceRequirements) ----------------

# validateContainerResourceName: a name without a domain must be one of these, or hugepages-*.
_STANDARD_NAMES = frozenset({"cpu", "memory", "ephemeral-storage"})
_HUGE_PAGES = "hugepages-"


def resource_problems(resources: Any) -> list[tuple[str, str]]:
    """(path below the container, message) for what the API server refuses in a container's
    `resources`: a value that is not a quantity, a name no container can request, a negative
    request or limit, a fraction of an extended resource, a request above its limit. `claims`
    is not a quantity and is left alone."""
    if not isinstance(resources, dict):
        return []  # no resources, or a shape podshape.py (or the config schema) reports
    problems: list[tuple[str, str]] = []
    read: dict[str, dict[str, Quantity]] = {}
    for kind in ("limits", "requests"):
        entries = resources.get(kind)
        read[kind] = {}
        if entries is None:
            continue
        if not isinstance(entries, dict):
            what = "a list" if isinstance(entries, list) else repr(_spelling(entries))
            message = f"is {what}, not a mapping of resource names to quantities"
            problems.append((f"resources.{kind}", message))
            continue
        for name, value in entries.items():
            path = f"resources.{kind}.{name}"
            problems += [(path, message) for message in _name_problems(str(name))]
            quantity = from_manifest(value)
            if quantity is None:
                problems.append((path, not_a_quantity(value)))
            elif quantity.value < 0:
                # ValidateNonnegativeQuantity, through ValidateResourceQuantityValue
                message = f"{quantity.text!r} is negative: a request or a limit must be 0 or more"
                problems.append((path, message))
            elif _extended(str(name)) and not _whole_in_millis(quantity.value):
                # ValidateResourceQuantityValue: an extended resource counts whole devices
                message = f"{quantity.text!r} is not a whole number: {name} counts whole units"
                problems.append((path, message))
            else:
                read[kind][str(name)] = quantity
    problems += _against_limits(read["requests"], read["limits"], resources.get("limits"))
    return problems


def not_a_quantity(value: Any) -> str:
    return f"{_spelling(value)!r} is not a Kubernetes quantity such as {EXAMPLES}"


def _spelling(value: Any) -> str:
    """How the value reads in YAML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _name_problems(name: str) -> list[str]:
    if "/" in name or name in _STANDARD_NAMES or name.startswith(_HUGE_PAGES):
        return []  # a domain-prefixed name is an extended resource (its form is not checked)
    return [
        f"{name!r} is not a resource a container can request: cpu, memory, "
        "ephemeral-storage, hugepages-<size>, or an extended resource such as nvidia.com/gpu"
    ]


def _extended(name: str) -> bool:
    """An extended resource (helper.IsExtendedResourceName): a domain other than kubernetes.io."""
    return "/" in name and "kubernetes.io/" not in name


def _whole_in_millis(value: Decimal) -> bool:
    """MilliValue() % 1000 == 0: the value rounded up to a milli-unit is a whole number."""
    if value.adjusted() > _LARGEST_EXPONENT:
        return True
    millis = (value * 1000).to_integral_value(rounding=ROUND_CEILING)
    return millis % 1000 == 0


def _overcommit_allowed(name: str) -> bool:
    """helper.IsOvercommitAllowed: a native resource (no domain, or kubernetes.io) that is not
    huge pages may be requested below its limit; the others must request exactly it."""
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith(_HUGE_PAGES)


def _against_limits(
    requests: dict[str, Quantity], limits: dict[str, Quantity], written_limits: Any
) -> list[tuple[str, str]]:
    problems = []
    for name, request in requests.items():
        path = f"resources.requests.{name}"
        limit = limits.get(name)
        if limit is None:
            has_limit = isinstance(written_limits, dict) and name in written_limits
            if not has_limit and not _overcommit_allowed(name):
                message = f"{name} cannot be overcommitted: set a limit equal to the request"
                problems.append((path, message))
            continue  # a limit that is not a quantity is reported where it is
        if not _overcommit_allowed(name) and request.value != limit.value:
            message = (
                f"request {request.text!r} is not the limit {limit.text!r}: {name} cannot be "
                "overcommitted, its request must equal its limit"
            )
            problems.append((path, message))
        elif request.value > limit.value:
            message = (
                f"request {request.text!r} is more than the limit {limit.text!r}: a request "
                "must be less than or equal to its limit"
            )
            problems.append((path, message))
    return problems
