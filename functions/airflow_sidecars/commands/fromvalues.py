"""`airflow-sidecars from-values`: the `extra*` values of chart values files, as a config.

`from-values` reads chart values files (merged as Helm merges `-f` files: maps key by key, the
later file's lists and scalars winning; `-` is stdin) and writes an AirflowSidecars config
holding exactly their `extra{Containers,InitContainers,Volumes,VolumeMounts}` (and the
top-level `volumes` / `volumeMounts`) at the chart's own nesting (valuesextras.py). The
Airflow chart's values may sit under a parent chart's key (subchart.py).

Stripping (`--strip FILE` for one values file, `--strip-suffix` / `--strip-dir` for each of
several) writes each values file without them, by splices (valuesstrip.py), so that rendering
with the stripped values and injecting the config gives what the chart gave with the
originals. Each file loses all of its own: where a later file replaces a list an earlier one
set, Helm renders the later one's, which is what the merged config holds, and the earlier
one's is dropped by Helm as by the stripping; what the stripped files merge to has none left.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.charts.chart import EXTRA_KEYS, TOP_MOUNTS, TOP_VOLUMES
from airflow_sidecars.commands.subchart import Ambiguous, Place, airflow_values, place
from airflow_sidecars.commands.valuesextras import (
    NotValues,
    adopted,
    check,
    config_spec,
    config_text,
    merged,
    plain_sidecar_warnings,
    renamed,
    values_of,
)
from airflow_sidecars.commands.valuesroutes import (
    DEFAULT_ROUTE,
    hook_values,
    in_task_pods,
    reaching,
    said,
    staying,
    unsure,
)
from airflow_sidecars.commands.valuesstrip import stripped
from airflow_sidecars.krmio import inputfiles
from airflow_sidecars.krmio.krm import InputError
from airflow_sidecars.krmio.krmread import parse
from airflow_sidecars.renders.airflow import Workload, find_workloads
from airflow_sidecars.text.yamlread import Path, UnsupportedYaml, dotted

WHO = "airflow-sidecars from-values"
# The config's name for stdin's values and for `values.yaml` (every chart's own values file,
# and the name this command gave every config before it named them after their file).
DEFAULT_NAME = "sidecars"
_NOT_IN_NAME = re.compile(r"[^-A-Za-z0-9_.]+")  # what an annotation name cannot hold


class Usage(Exception):
    """A command line that cannot be done (exit 2, nothing read or written); the message says
    why."""


class Strip(NamedTuple):
    """Where the stripped values go: one file, beside each values file with a suffix before
    its extension, or into a folder under each one's own name (at most one of them)."""

    file: str | None = None
    suffix: str | None = None
    folder: str | None = None


class How(NamedTuple):
    """Where the Airflow chart's values are and where the config goes: `subchart`, the key
    of a parent chart's values (subchart.py; None: found); `route`, the way the release's
    render reaches inject, and `render`, the file of a render of these values that says what
    the release runs (valuesroutes.py)."""

    subchart: str | None = None
    route: str = DEFAULT_ROUTE
    render: str | None = None


def from_values(
    files: list[str],
    name: str | None,
    strip: str | Strip | None,
    say: Callable[[str], None],
    how: How = How(),  # noqa: B008 - a NamedTuple, immutable
) -> int:
    """Print the config named `name` (None: after the first file) that `how` asks for; with
    `strip` (a file, or where each file's go), write the values without what it carries.
    Exit 0; 1 for values (or a render) that cannot be read, adopted or written; 2 for a
    command line that cannot be done. A stripped file is written only once every one of them
    is made."""
    labels = [label(file) for file in files]
    strip = strip if isinstance(strip, Strip) else Strip(strip)
    try:
        targets = strip_targets(files, strip)
        texts = [_read(file, say) for file in files]
        where, values = _airflow_values(files, texts, labels, how.subchart)
        workloads = None if how.render is None else rendered_workloads(how.render)
    except (Usage, Ambiguous) as error:
        say(f"{WHO}: {error}\n")
        return 2
    except (
        OSError,
        UnicodeDecodeError,
        UnsupportedYaml,
        yaml.YAMLError,
        NotValues,
        InputError,
    ) as error:
        for line in str(error).splitlines():
            say(f"{WHO}: {line}\n")
        return 1
    if where.warning:
        say(f"from-values: warning: {where.warning}\n")
    if where.why:
        say(f"from-values: {where.why}\n")
    spec, keep = _adopted(values, where.base, how, workloads, say)
    if not spec and not keep:  # else the lines said why the config is empty
        say(f"from-values: {nothing_to_adopt(labels, where.base)}\n")
    written = []
    for target, text, what in zip(targets, texts, labels, strict=True):
        if target is None:
            continue
        try:
            written.append((target, stripped(text, what, where.base, values, keep)))
        except UnsupportedYaml as error:  # a layout the splices cannot take a value out of
            say(f"{WHO}: {what}: cannot strip it: {error}\n")
            return 1
    try:
        if strip.folder is not None:
            os.makedirs(strip.folder, exist_ok=True)
        for target, text in written:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
    except OSError as error:
        say(f"{WHO}: {error}\n")
        return 1
    sys.stdout.write(config_text(spec, default_name(files) if name is None else name))
    return 0


def _airflow_values(
    files: list[str], texts: list[str], labels: list[str], subchart: str | None
) -> tuple[Place, Any]:
    """Where the Airflow chart's values are in the files, and their merge (as Helm merges
    them). Raises NotValues for values a config cannot carry, Ambiguous for an open key."""
    documents = [values_of(text, what) for text, what in zip(texts, labels, strict=True)]
    first = None if files[0] == inputfiles.STDIN else files[0]
    where = place(subchart, first, merged(documents))
    parts = [
        airflow_values(document, where.base, what)
        for document, what in zip(documents, labels, strict=True)
    ]
    for part, what in zip(parts, labels, strict=True):
        check(part, what, where.base)
    values = merged(parts)
    if len(parts) > 1:  # one value under two names, each in a file of its own
        check(values, "the merged values", where.base)
    return where, values


def _adopted(
    values: Any,
    base: Path,
    how: How,
    workloads: list[Workload] | None,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], frozenset[Path]]:
    """The config's spec for the route, and the values that stay (each said, with why; "" when
    there is nothing, which is the caller's to say)."""
    adoption = adopted(values, base=base)
    reach = reaching(adoption.found, values, workloads)
    stays = staying(reach, how.route)
    keep = frozenset(stay.path for stay in stays)
    adoption = adoption._replace(
        found=[(path, value) for path, value in adoption.found if path not in keep],
        kept=[*adoption.kept, *keep],
    )
    spec, left_out = config_spec(values, adoption)
    for note in renamed(values, base):
        say(f"from-values: {note}\n")
    for path in left_out:
        shown = f"{dotted(base)}.{path}" if base else path
        say(
            f"from-values: warning: {shown} is not carried over: no chart places it; it stays "
            "in the values\n"
        )
    for line in [*adoption.said, *said(stays, how.route, base, how.render)]:
        say(f"from-values: {line}\n")  # `{{ }}` evaluated or left; values that stay, and why
    doubt = unsure(adoption.found, values, base) if workloads is None else None
    if doubt:
        say(f"from-values: {doubt}\n")
    hooks = hook_values(reach, keep) if how.route == "stream" else ""
    if hooks:
        say(
            f"from-values: {hooks} reach Helm hooks, which the stream route carries; with "
            "`helm --post-renderer` on Helm 3, which post-renders no hooks, adopt with --route "
            "helm3\n"
        )
    task_pods = None if workloads is None else in_task_pods(reach, keep)
    for warning in plain_sidecar_warnings(adoption.found, base, task_pods):
        say(f"from-values: warning: {warning}\n")
    return spec, frozenset([*keep, *adoption.kept])


def rendered_workloads(render: str) -> list[Workload]:
    """The Airflow workloads of a render of the values (a file). Raises
    NotValues for a render that holds none: it cannot say what the release runs."""
    with open(render, "rb") as handle:
        text = handle.read().decode("utf-8")
    workloads = find_workloads(parse([(render, text)]).items)
    if not workloads:
        raise NotValues(
            f"{render} holds no workload of the Airflow chart: give a render of these values "
            "(`helm template RELEASE CHART -f VALUES...`, hooks included)"
        )
    return workloads


def label(file: str) -> str:
    """A values file as messages name it."""
    return "stdin" if file == inputfiles.STDIN else file


def _read(file: str, say: Callable[[str], None]) -> str:
    """A values file's text, or stdin's, with its line breaks read as Python reads a text
    file (CR LF and CR as LF)."""
    if file != inputfiles.STDIN:
        with open(file, encoding="utf-8") as handle:
            return handle.read()

    def waiting() -> None:
        say(
            "from-values: waiting for values on stdin (a terminal): paste them and press "
            "Ctrl-D, or give the values files: airflow-sidecars from-values VALUES.yaml\n"
        )

    text = inputfiles.read(file, waiting).decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def strip_targets(files: list[str], strip: Strip) -> list[str | None]:
    """The file each values file's stripped values go to (None: not stripped). Raises Usage
    for a command line that cannot be done: stdin twice, several values files into one
    stripped file, a stripped file that is a values file, two stripped files in one."""
    if sum(option is not None for option in strip) > 1:
        raise Usage("--strip, --strip-suffix and --strip-dir: give one of them")
    if files.count(inputfiles.STDIN) > 1:
        raise Usage("stdin ('-') can be read once")
    if strip.file is not None:
        if len(files) > 1:
            raise Usage(
                "--strip writes one file: for several values files write one stripped file "
                "each, beside it (--strip-suffix SUFFIX) or in a folder (--strip-dir DIR)"
            )
        if strip.file == inputfiles.STDIN:
            raise Usage("--strip -: stdout carries the config; name a file")
        targets: list[str | None] = [strip.file]
    elif strip.suffix is None and strip.folder is None:
        return [None] * len(files)
    elif inputfiles.STDIN in files:
        raise Usage(
            "the values on stdin have no file name to strip them beside or into a folder under: "
            "give them as a file, or alone with --strip FILE"
        )
    elif strip.suffix is not None:
        targets = [
            os.path.splitext(file)[0] + strip.suffix + os.path.splitext(file)[1] for file in files
        ]
    else:
        targets = [os.path.join(str(strip.folder), os.path.basename(file)) for file in files]
    _check_targets(files, targets)
    return targets


def _check_targets(files: list[str], targets: list[str | None]) -> None:
    inputs = [(file, _identity(file)) for file in files if file != inputfiles.STDIN]
    seen: dict[tuple[object, ...], str] = {}
    for file, target in zip(files, targets, strict=True):
        if target is None:
            continue
        real = _identity(target)
        same = next((given for given, path in inputs if path == real), None)
        if same is not None:
            raise Usage(
                f"the stripped values would be written over the values file {same}: write them "
                "to another file (nothing was written)"
            )
        if real in seen:
            raise Usage(
                f"{target} would hold the stripped values of both {label(seen[real])} and "
                f"{label(file)}: write them to files of their own (nothing was written)"
            )
        seen[real] = file


def _identity(path: str) -> tuple[object, ...]:
    """The file a path names: a file that is there by its device and inode (a symbolic or
    hard link is the file it links to), one that is not yet by its path, links resolved."""
    try:
        status = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    return ("file", status.st_dev, status.st_ino)


def default_name(files: list[str]) -> str:
    """The config's name when --name gives none: the first values file's name without its
    extension, as an annotation name may be (`prod.yaml`: prod); `sidecars` for stdin and
    for `values.yaml`."""
    if files[0] == inputfiles.STDIN:
        return DEFAULT_NAME
    stem = os.path.splitext(os.path.basename(files[0]))[0]
    name = _NOT_IN_NAME.sub("-", stem).strip("-_.")[:63].rstrip("-_.")
    return name if name and name.lower() != "values" else DEFAULT_NAME


def nothing_to_adopt(labels: list[str], base: Path) -> str:
    """The line that says the values hold nothing a config carries, and what was looked for."""
    where = ", ".join(labels) + (" (merged)" if len(labels) > 1 else "")
    under = f" under {dotted(base)}" if base else ""
    keys = ", ".join(EXTRA_KEYS[:-1]) + f" or {EXTRA_KEYS[-1]}"
    tops = f"{TOP_VOLUMES[0]} or {TOP_MOUNTS[0]}"
    return (
        f"nothing to carry over: no {keys} that a chart places (nor a top-level {tops}) in "
        f"{where}{under}; the config's spec is empty"
    )
