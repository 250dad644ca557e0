"""`airflow-sidecars from-values`: the files in and out around fromvalues.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import yaml

from .fromvalues import config_spec, config_text, merged, problems, stripped, what_it_is
from .yamlread import NotOneDocument, UnsupportedYaml, load_one


class NotValues(Exception):
    """A values file whose values cannot become a config (the message says why)."""


def _values(text: str, file: str) -> Any:
    """A values file's data; an empty file (or one of only comments) is no values, as for
    Helm. Raises NotValues for a file that is not a mapping, or whose `extra*` values or
    worker sets a config cannot carry."""
    try:
        data = load_one(text, file).data
    except NotOneDocument as error:
        if error.count == 0:
            return {}
        raise
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NotValues(
            f"{file}: chart values are a mapping, and this file holds {what_it_is(data)}"
        )
    found = problems(data)
    if found:
        raise NotValues("\n".join(f"{file}: {problem}" for problem in found))
    return data


def from_values(files: list[str], name: str, strip: str | None, say: Callable[[str], None]) -> int:
    """Print the config; with `strip`, write the values without what it carries. Exit 0, 1
    for a values file that cannot be read or written, 2 for --strip with several files."""
    if strip is not None and len(files) != 1:
        say("airflow-sidecars from-values: --strip takes one values file\n")
        return 2
    texts: list[str] = []
    documents = []
    try:
        for file in files:
            with open(file, encoding="utf-8") as handle:
                texts.append(handle.read())
            documents.append(_values(texts[-1], file))
    except (OSError, UnicodeDecodeError, UnsupportedYaml, yaml.YAMLError, NotValues) as error:
        for line in str(error).splitlines():
            say(f"airflow-sidecars from-values: {line}\n")
        return 1
    spec, left_out = config_spec(merged(documents))
    for path in left_out:
        say(
            f"from-values: warning: {path} is not carried over: no chart places it; it stays "
            "in the values\n"
        )
    if strip is not None:
        try:
            without = stripped(texts[0], files[0])
        except UnsupportedYaml as error:  # a layout the splices cannot take a value out of
            say(f"airflow-sidecars from-values: {files[0]}: cannot strip it: {error}\n")
            return 1
        try:
            with open(strip, "w", encoding="utf-8") as handle:
                handle.write(without)
        except OSError as error:
            say(f"airflow-sidecars from-values: {error}\n")
            return 1
    sys.stdout.write(config_text(spec, name))
    return 0
