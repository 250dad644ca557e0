"""The chart's `tpl` on a values file's `extra*` values, as far as `from-values` can do it.

The official chart renders its `extra*` values as `tpl (toYaml .Values.<section>.<value>) .`
(chart.templated says which values, on which versions), so a values file may say
`secretName: '{{ .Values.dags.gitSync.sshKeySecret }}'`. A config cannot carry that: inject
evaluates only what a render says (renders/templating.py: `.Release.*`, `.Chart.*`, the
fullname) and refuses any other `{{ }}`. So, in each `extra*` value:

- `{{ .Values.a.b }}` (or `$.Values.a.b`) is evaluated from the merged values files: where
  they set `a.b`, that is what the chart sees (a user's value wins over the chart's
  values.yaml). As Helm does it (helm/helm v4 pkg/engine/engine.go `tplFun`, pkg/chart/common
  values.go `ReadValues`, Go's text/template): values are read through JSON, so a number is a
  float64, printed by fmt's %v (`8080`, `1e+06`), and a boolean prints `true` / `false`. A key
  the files do not set is left alone (the chart's values.yaml may set it; Helm prints a
  missing key as nothing), as are null, a mapping or a list, and anything under
  `.Values.workers` (the chart's worker templates read that from the worker set's merged
  values, from 1.20 on).
- `tpl` runs on the YAML text of the list, and what it writes is read as YAML again. The
  result is taken only when every way the chart's YAML writer may write the string (plain,
  single- or double-quoted, a literal block) reads back as the same string: a `'` inside
  single quotes, a ` #` or a trailing space in a plain scalar, a trimming marker (`{{-`) that
  eats the indentation, a result that reads as a number, each leaves the value alone.
- `{{ .Release.Name }}` and the rest of what inject evaluates stay as written: inject
  evaluates them from the render, which says the chart version.
- Anything else (a pipeline, a function, `include` of another template, a key with `{{ }}`,
  an unclosed `{{`, a lone `}}`), and a `.Values` reference in a value that not every official
  chart version evaluates (top-level `volumes`; `apiServer.extraInitContainers` before 1.20;
  the community chart's own values: a values file does not say its chart version), leaves the
  whole value in the values, with a warning naming the field. The community chart never
  evaluates `{{ }}`; in a value both charts have, a `.Values` reference is evaluated as the
  official chart does (under the community chart the braces reach Kubernetes as written).

A value left alone stays out of the config and in the `--strip`ped values, whole, so the
chart still renders it; what goes into the config passes inject's template check.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.charts.chart import OLDEST_SUPPORTED, TESTED_UP_TO, Chart, templated
from airflow_sidecars.charts.valuenames import Reading, has_value, version_text
from airflow_sidecars.renders.templating import normal_form, text_problems
from airflow_sidecars.text.yamlread import Path, UnsupportedYaml, dotted, load_one, what_it_is

# A Go template action, `{{ expr }}`, with a trimming marker (`{{- `, ` -}}`) on either side.
_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.DOTALL)
_REFERENCE = re.compile(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_GO_SPACE = " \t\r\n"  # what a trimming marker takes
# Plain scalars that Go's YAML reader (yaml.v2, in sigs.k8s.io/yaml) reads as something else
# than a string: null, the YAML 1.1 booleans (`y` and `n` too), .inf and .nan, and numbers
# (`1e3` and `0o17` among them, which PyYAML reads as strings).
_GO_SPECIAL = frozenset(
    {
        *(
            spelling
            for word in ("null", "y", "yes", "on", "true", "n", "no", "off", "false")
            for spelling in (word, word.title(), word.upper())
        ),
        *(f"{sign}{inf}" for sign in ("", "+", "-") for inf in (".inf", ".Inf", ".INF")),
        *(".nan", ".NaN", ".NAN", "~", "<<"),
    }
)
_GO_NUMBER = re.compile(
    r"[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+"
    r"|(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9_]+)?)"
)
_RESOLVER = yaml.resolver.Resolver()
_STRINGS = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:value"})
_AFTER = {"z": "end"}  # what follows the string in the chart's text, as the simulation writes it


class Carried(NamedTuple):
    """What `from-values` does with the templates in a values file's `extra*` values."""

    found: list[tuple[Path, Any]]  # the values the config carries, evaluated
    kept: list[Path]  # the values that stay in the values (and in the stripped values)
    said: list[str]  # a note per evaluated field, a warning per value that stays


def carried(
    values: Any,
    found: list[tuple[Path, Any]],
    reading: Callable[[Path], Reading | None],
    base: Path = (),
) -> Carried:
    """`found` (fromvalues.found_values) without the values that stay, the others with their
    `.Values` references evaluated from `values` (the merged values files). A value that no
    chart places (`reading` gives None) is passed on as it is: the caller says it stays.
    Messages name values by their path in the file: under `base`, a parent chart's key."""
    out = Carried([], [], [])
    for path, value in found:
        where = reading(path)
        if where is None:
            out.found.append((path, value))
            continue
        one = _Value(values, path, where, base)
        evaluated = one.evaluated(value, ())
        if one.why is None:
            out.found.append((path, evaluated))
            out.said.extend(one.notes)
        else:
            out.kept.append(path)
            stays = f"{dotted((*base, *path))} is not carried over: it stays in the values"
            out.said.append(f"warning: {one.why}; {stays}")
    return out


class _Value:
    """One `extra*` value, evaluated; `why` (naming the field) when it stays in the values."""

    def __init__(self, values: Any, path: Path, reading: Reading, base: Path) -> None:
        self.values, self.path, self.reading = values, path, reading
        self.shown = (*base, *path)  # as messages name it
        self.why: str | None = None
        self.notes: list[str] = []

    def evaluated(self, value: Any, inner: Path) -> Any:
        if isinstance(value, list):
            return [self.evaluated(entry, (*inner, n)) for n, entry in enumerate(value)]
        if isinstance(value, dict):
            for key in value:
                if "{{" in str(key) or "}}" in str(key):
                    self._stays(inner, f"the key {key!r} has {{{{ }}}}, which no config carries")
            return {key: self.evaluated(entry, (*inner, str(key))) for key, entry in value.items()}
        if isinstance(value, str) and ("{{" in value or "}}" in value):
            return self._string(value, inner)
        return value

    def _stays(self, inner: Path, why: str) -> None:
        if self.why is None:
            self.why = f"{dotted((*self.shown, *inner))}: {why}"

    def _string(self, text: str, inner: Path) -> str:
        keys = []
        for action in _ACTION.finditer(text):
            expression = _expression(action)
            reference = _REFERENCE.fullmatch(expression)
            if reference is not None:
                keys.append((expression, reference.group(1)[1:]))
            elif normal_form(expression) is None:
                self._stays(
                    inner,
                    f"{{{{ {expression} }}}} is neither a `.Values` reference, which from-values "
                    "evaluates, nor one of the expressions inject evaluates",
                )
                return text
        if keys:
            why = _not_evaluated(self.reading)
            if why is not None:
                self._stays(inner, why)
                return text
            printed = {expression: self._printed(key) for expression, key in keys}
            problem = next((p for p in printed.values() if isinstance(p, _Problem)), None)
            if problem is not None:
                self._stays(inner, problem.why)
                return text
            result = _chart_result(text, {k: str(v) for k, v in printed.items()})
            if result is None:
                self._stays(
                    inner,
                    "the chart evaluates it in the YAML text of the list, which would not read "
                    "back as this string with the values in it",
                )
                return text
            names = ", ".join(f"{{{{ {expression} }}}}" for expression in printed)
            sources = ", ".join(dict.fromkeys(key for _, key in keys))
            self.notes.append(
                f"{dotted((*self.shown, *inner))}: {names} is evaluated from these values, as "
                f"the official chart's tpl does (the config keeps the result: it does not follow "
                f"later changes to {sources})"
            )
            text = result
        problem_text = next(text_problems(text), None)
        if problem_text is not None:
            self._stays(inner, problem_text)
        return text

    def _printed(self, key: str) -> str | _Problem:
        """What `{{ .Values.<key> }}` prints, or why that is not certain."""
        reference = f"{{{{ .Values.{key} }}}}"
        if key.split(".", 1)[0] == "workers":
            return _Problem(
                f"{reference}: the chart's worker templates read .Values.workers from the "
                "worker set's merged values (from 1.20 on)"
            )
        node = self.values
        for step in key.split("."):
            if not isinstance(node, dict) or step not in node:
                return _Problem(
                    f"{reference}: these values do not set {key} (the chart's own values.yaml may)"
                )
            node = node[step]
        printed = _go_printed(node)
        if printed is not None and ("{{" in printed or "}}" in printed):
            return _Problem(
                f"{reference}: {key} has {{{{ }}}} of its own, which the chart prints as written "
                "and inject would evaluate"
            )
        if printed is None and isinstance(node, str):
            return _Problem(
                f"{reference}: Helm reads a plain {node} as no string, and the values do not "
                "say whether it was quoted"
            )
        if printed is None:
            return _Problem(
                f"{reference}: {key} is {what_it_is(node)}, which from-values does not print as "
                "the chart would"
            )
        return printed


class _Problem(NamedTuple):
    why: str


def _not_evaluated(reading: Reading) -> str | None:
    """None when every official chart version that has this value passes it through `tpl`;
    else why a `.Values` reference in it is left alone."""
    if reading.rename is not None and reading.rename.flavour == "community":
        return "these are the community chart's words, and that chart never evaluates {{ }}"
    oldest, newest = OLDEST_SUPPORTED["official"], TESTED_UP_TO["official"]
    versions = [(oldest[0], minor, 0) for minor in range(oldest[1], newest[1] + 1)]
    charts = [Chart("official", version) for version in (*versions, None)]
    having = [chart for chart in charts if has_value(chart, reading.path) is None]
    evaluating = [chart for chart in having if templated(chart, reading.path)]
    if not evaluating:
        which = "the official chart" if having else "the community chart, the only one with it,"
        return f"{which} does not evaluate {{{{ }}}} in this value"
    if len(evaluating) < len(having):
        since = min(chart.version or newest for chart in evaluating)
        return (
            f"the official chart evaluates {{{{ }}}} in this value from {version_text(since)} "
            "on, and a values file does not say its chart version"
        )
    return None


def _chart_result(text: str, printed: dict[str, str]) -> str | None:
    """What the chart's `tpl` makes of `text` in its YAML text, read back, with the references
    replaced (inject's expressions left as written), when every way of writing the string
    agrees; None when one does not."""
    results = set()
    count = sum(1 for action in _ACTION.finditer(text) if _expression(action) in printed)
    for written, plain in _written(text):
        rendered = _rendered(written, printed, count)
        if rendered is None:
            return None
        try:
            data = load_one(rendered, "the chart's text").data
        except UnsupportedYaml:
            return None
        if not isinstance(data, dict) or data.keys() != {"k", *_AFTER} or data["z"] != "end":
            return None
        result = data["k"]
        if not isinstance(result, str) or "<no value>" in result:  # Helm takes that out
            return None
        if plain and _go_reads_otherwise(result):
            return None
        results.add(result)
    return results.pop() if len(results) == 1 else None


def _expression(action: re.Match[str]) -> str:
    return " ".join(action.group(2).split())


def _written(text: str) -> Iterator[tuple[str, bool]]:
    """The YAML texts that may carry `text`, and whether it is plain there: plain where it
    reads back, single- and double-quoted, and a literal block for several lines."""
    plain = f"k: {text}\nz: end\n"
    try:
        if load_one(plain, "a value").data == {"k": text, **_AFTER}:
            yield plain, True
    except UnsupportedYaml:
        pass
    for style in (None, "'", '"', *(("|",) if "\n" in text else ())):
        document = {"k": text, **_AFTER}
        written = yaml.safe_dump(document, default_style=style, width=1 << 20, allow_unicode=True)
        yield written, False


def _rendered(written: str, printed: dict[str, str], count: int) -> str | None:
    """`written` with each reference's action replaced by what it prints, the text beside a
    trimming marker trimmed as Go trims it; None when it does not hold the string's `count`
    references."""
    pieces: list[str] = []
    start, trim, found = 0, False, 0
    for action in _ACTION.finditer(written):
        expression = _expression(action)
        if expression not in printed:
            continue
        before = written[start : action.start()]
        before = before.lstrip(_GO_SPACE) if trim else before
        pieces += [before.rstrip(_GO_SPACE) if action.group(1) else before, printed[expression]]
        start, trim, found = action.end(), action.group(3) is not None, found + 1
    rest = written[start:]
    pieces.append(rest.lstrip(_GO_SPACE) if trim else rest)
    return "".join(pieces) if found == count else None


def _go_reads_otherwise(text: str) -> bool:
    """Whether Go's YAML reader takes this plain scalar for something else than a string."""
    return text in _GO_SPECIAL or _GO_NUMBER.fullmatch(text) is not None


def _go_printed(value: Any) -> str | None:
    """What Go's text/template prints for a value Helm read from a values file: a string as
    it is, a boolean as true / false, a number as fmt's %v of a float64; None for anything
    else, and for a string that Go's YAML reader would have read otherwise had it been plain
    (the values do not say whether it was quoted)."""
    if isinstance(value, str):
        as_plain = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        return None if as_plain in _STRINGS and _go_reads_otherwise(value) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            return None
        return go_float(number) if math.isfinite(number) else None
    return None


def go_float(number: float) -> str:
    """Go's fmt %v of a float64 (strconv's shortest 'g'): an exponent below 1e-4 and from 1e6
    on (`1e+06`, `1.5e-05`, `1.234567e+06`), else the digits (`8080`, `0.25`)."""
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(number)).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # the number is 0.<digits> times 10 ** point
    digits = digits.rstrip("0")
    power = point - 1
    if power < -4 or power >= 6:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        text = f"{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    elif point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = f"{digits[:point]}.{digits[point:]}"
    return ("-" if sign else "") + text
