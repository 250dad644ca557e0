"""The chart's `tpl` on extra values, for the expressions a render can answer.

The official chart passes its `extra*` values through `tpl`, so `{{ .Release.Name }}` in a
pasted env value, volume name or mount path becomes the release's name (chart.py says which
values, on which versions). A rendered manifest says the release (the `release` label), its
namespace and the chart (the `chart` label), and the chart's fullname (the names of its
workloads): those expressions are evaluated from the release being edited. Anything else
(`.Values`, functions, pipelines) needs the chart and its values, which a post-renderer does
not have: the config is refused with the expression and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

# `{{ expr }}`; a trimming marker (`{{- `, ` -}}`) takes the whitespace beside it, as in Go
# templates; `$` is the root context too.
_ACTION = re.compile(r"(?:\s*\{\{-\s|\{\{)\s*(.*?)\s*(?:\s-\}\}\s*|\}\})", re.DOTALL)
_FULLNAME = re.compile(r'^(include|template)\s+"airflow\.fullname"\s+[.$]$')

KNOWN = (".Release.Name", ".Release.Namespace", ".Release.Service", ".Chart.Name", ".Chart.Version")
FULLNAME = 'include "airflow.fullname" .'


class Context(NamedTuple):
    """What the render says about one release, for the expressions."""

    release: str | None
    namespace: str | None
    chart_version: str | None
    fullname: str | None

    def value(self, expression: str) -> str | None:
        return {
            ".Release.Name": self.release,
            ".Release.Namespace": self.namespace,
            ".Release.Service": "Helm",
            ".Chart.Name": "airflow",
            ".Chart.Version": self.chart_version,
            FULLNAME: self.fullname,
        }.get(expression)


class TemplateError(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def normal_form(expression: str) -> str | None:
    """The expression as KNOWN spells it, or None when it is not one a render can answer."""
    expression = " ".join(expression.split())
    if expression.startswith("$."):
        expression = expression[1:]
    if expression in KNOWN:
        return expression
    return FULLNAME if _FULLNAME.match(expression) else None


def has_template(value: Any) -> bool:
    return any("{{" in text for _, text in _strings(value, ""))


def template_problems(lists: Mapping[Any, Any]) -> list[tuple[str, str]]:
    """(field path, message) for every `{{ ... }}` in the config that no render can answer."""
    problems = []
    for value_list in lists.values():
        for path, text in _strings(list(value_list.entries), value_list.origin):
            problems += [(path, message) for message in text_problems(text)]
    return problems


def text_problems(text: str) -> Iterator[str]:
    """Why the config check refuses a string's templates (nothing: it takes them)."""
    rest = _ACTION.sub("", text)
    if "{{" in rest or "}}" in rest:
        yield f"{text!r} has an unclosed template action ({{{{ without }}}})"
    for found in _ACTION.finditer(text):
        if normal_form(found.group(1)) is None:
            known = ", ".join((*KNOWN, FULLNAME))
            yield (
                f"{{{{ {found.group(1)} }}}} cannot be evaluated from a rendered manifest; "
                f"these can: {known}"
            )


def render(value: Any, path: str, context: Context) -> Any:
    """`value` with every expression replaced by what the context says; TemplateError when
    the render does not say it (a manifest without namespaces and `.Release.Namespace`)."""
    if isinstance(value, list):
        return [render(entry, f"{path}[{number}]", context) for number, entry in enumerate(value)]
    if isinstance(value, dict):
        return {key: render(entry, f"{path}.{key}", context) for key, entry in value.items()}
    if not isinstance(value, str) or "{{" not in value:
        return value

    def replace(found: re.Match[str]) -> str:
        expression = normal_form(found.group(1))
        answer = context.value(expression) if expression is not None else None
        if answer is None:
            raise TemplateError(
                path, f"{{{{ {found.group(1)} }}}}: the render does not say what this is"
            )
        return answer

    return _ACTION.sub(replace, value)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, list):
        for number, entry in enumerate(value):
            yield from _strings(entry, f"{path}[{number}]")
    elif isinstance(value, dict):
        for key, entry in value.items():
            yield from _strings(entry, f"{path}.{key}")
    elif isinstance(value, str):
        yield path, value
