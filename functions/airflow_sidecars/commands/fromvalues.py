"""`airflow-sidecars from-values`: the `extra*` values of chart values files, as a config.

`from-values` reads chart values files (merged as Helm merges `-f` files: maps key by key, the
later file's lists and scalars winning) and writes an AirflowSidecars config holding exactly
their `extra{Containers,InitContainers,Volumes,VolumeMounts}` (and the top-level `volumes` /
`volumeMounts`) at the chart's own nesting (valuesextras.py). `--strip` writes a values file
without them, by splices (valuesstrip.py), so that rendering with the stripped values and
injecting the config gives what the chart gave with the originals.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import yaml

from airflow_sidecars.commands.valuesextras import (
    NotValues,
    config_spec,
    config_text,
    merged,
    renamed,
    values_of,
)
from airflow_sidecars.commands.valuesstrip import stripped
from airflow_sidecars.text.yamlread import UnsupportedYaml


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
            documents.append(values_of(texts[-1], file))
    except (OSError, UnicodeDecodeError, UnsupportedYaml, yaml.YAMLError, NotValues) as error:
        for line in str(error).splitlines():
            say(f"airflow-sidecars from-values: {line}\n")
        return 1
    values = merged(documents)
    spec, left_out = config_spec(values)
    for note in renamed(values):
        say(f"from-values: {note}\n")
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
