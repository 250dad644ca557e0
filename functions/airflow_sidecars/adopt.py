"""`airflow-sidecars from-values`: the files in and out around fromvalues.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import yaml

from .fromvalues import config_spec, config_text, merged, stripped
from .yamlread import NotOneDocument, UnsupportedYaml, load_one


def _values(text: str, file: str) -> Any:
    """A values file's data; an empty file is no values, as for Helm."""
    try:
        return load_one(text, file).data or {}
    except NotOneDocument as error:
        if error.count == 0:
            return {}
        raise


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
    except (OSError, UnicodeDecodeError, UnsupportedYaml, yaml.YAMLError) as error:
        say(f"airflow-sidecars from-values: {error}\n")
        return 1
    spec, left_out = config_spec(merged(documents))
    for path in left_out:
        say(
            f"from-values: warning: {path} is not carried over: no chart places it; it stays "
            "in the values\n"
        )
    if strip is not None:
        try:
            with open(strip, "w", encoding="utf-8") as handle:
                handle.write(stripped(texts[0], files[0]))
        except OSError as error:
            say(f"airflow-sidecars from-values: {error}\n")
            return 1
    sys.stdout.write(config_text(spec, name))
    return 0
