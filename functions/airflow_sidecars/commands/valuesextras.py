"""What of a chart values file an AirflowSidecars config carries, and the config it makes.

The config carries exactly a values tree's `extra{Containers,InitContainers,Volumes,
VolumeMounts}` (and the top-level `volumes` / `volumeMounts`) at the chart's own nesting,
worker sets by name. The chart adds extraContainers as plain containers, in Jobs and task pods
too: a section that has some gets `allowPlainSidecars: true`, which keeps that meaning (and
says it out loud). Values the chart table does not know are left out, and named.

A values file does not say its chart version, so a value is taken under the name of any
version (valuenames.readings): `workers.celery.X` under the config's name or under the one a
row of chart.RENAMES gives it, said when it is the latter; both at once is an error, as the
config could carry only one. The config is written in the config's words (keeping the
community chart's `web`, which the config takes too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_sidecars.charts import chart as table
from airflow_sidecars.charts.chart import (
    CHART_VALUES,
    EXTRA_CONTAINERS,
    EXTRA_KEYS,
    SECTION_ALIASES,
)
from airflow_sidecars.charts.valuenames import Reading, generic, readings, renamed_words
from airflow_sidecars.commands.valuetemplates import Carried, carried
from airflow_sidecars.configuration.config import API_VERSION, KIND, schema
from airflow_sidecars.text import yamlemit
from airflow_sidecars.text.yamlread import NotOneDocument, Path, dotted, load_one, what_it_is

_SETS = ("workers", "celery", "sets")
# The config paths a values file may carry (a worker set's as `workers.celery.sets.*.X`).
KNOWN = {path for values in CHART_VALUES.values() for path in values} | {
    (*_SETS, "*", key) for key in EXTRA_KEYS
}


class NotValues(Exception):
    """A values file whose values cannot become a config (the message says why)."""


def values_of(text: str, file: str) -> dict[Any, Any]:
    """A values file's data; an empty file (or one of only comments) is no values, as for
    Helm. Raises NotValues for a file that is not a mapping."""
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
    return data


def check(values: Any, what: str, base: Path = ()) -> None:
    """Raises NotValues naming every value of the Airflow chart's values `values` (at `base`
    in the file `what`) that a config cannot carry (`problems`)."""
    found = problems(values, base)
    if found:
        raise NotValues("\n".join(f"{what}: {problem}" for problem in found))


def _reading(path: Path) -> Reading | None:
    """The config path a values path stands for, in whichever chart's words it is: its first
    reading (valuenames.readings) that is a value some chart places; None for none."""
    words = tuple(str(step) for step in path)
    return next((found for found in readings(words) if generic(found.path) in KNOWN), None)


def _written(path: Path, reading: Reading) -> Path:
    """Where the config carries a value: at its config path, in the values' own section word
    where the config takes that word too (`web`), a worker set by its index in the values."""
    written: list[str | int] = list(reading.path)
    if SECTION_ALIASES.get(str(path[0])) == written[0]:
        written[0] = path[0]
    if path[:3] == _SETS and len(path) == len(written) == 5:
        written[3] = path[3]
    return tuple(written)


def config_path(values: Any, path: Path) -> tuple[str, ...] | None:
    """The config path (in the config's words, as the chart table keys its values) of a
    values path, a worker set by its name (None for a set without one); None for a value no
    chart places."""
    reading = _reading(path)
    if reading is None:
        return None
    if path[:3] != _SETS:
        return tuple(reading.path)
    name = values["workers"]["celery"]["sets"][int(path[3])].get("name")
    return (*_SETS, name, str(reading.path[4])) if isinstance(name, str) else None


def found_values(values: Any) -> list[tuple[Path, Any]]:
    """Every non-empty `extra*` value of a values tree, with its path (a worker set's by its
    index in `workers.celery.sets`)."""
    found: list[tuple[Path, Any]] = []

    def extra(here: Path, value: Any) -> None:
        if value:
            found.append((here, value))

    def sets(here: Path, value: Any) -> None:
        if not isinstance(value, list):
            _visit(value, here, extra, sets)
            return
        for index, entry in enumerate(value):
            found.extend(_set_values(index, entry))

    _visit(values, (), extra, sets)
    return found


def adopted(values: Any, merged: Any = None, base: Path = ()) -> Carried:
    """The `extra*` values of a values tree as the config carries them (`{{ .Values.* }}`
    evaluated from `merged`, the values of every file; default: this tree), the ones that stay,
    and what to say of them (naming values under `base`, a parent chart's key)."""
    found = found_values(values)
    return carried(values if merged is None else merged, found, _reading, base)


def carried_paths(values: Any, merged: Any = None) -> list[Path]:
    """The paths of the `extra*` values of a values tree that the config carries."""
    return [path for path, _ in adopted(values, merged).found if _reading(path) is not None]


def plain_sidecar_warnings(
    found: list[tuple[Path, Any]], base: Path = (), task_pods: frozenset[Path] | None = None
) -> list[str]:
    """One warning for each container the config carries, as the chart adds it, as a plain
    container (`allowPlainSidecars: true`) into a pod that must complete: a Job, or the
    KubernetesExecutor pod template. Such a pod completes only when every container in it has
    exited. The chart's own render hangs the same way, so it is said, not refused: the values
    path (under `base`, a parent chart's key, as the file has it), the container, and the two
    ways out. `found`: the values the config carries (`adopted(...).found`); `task_pods`: those
    a render shows in the KubernetesExecutor pod template (None: no render, which the warning
    says it cannot tell)."""
    reaches = table.must_complete()
    warnings = []
    for path, value in found:
        reading = _reading(path)
        if reading is None or reading.path not in reaches or not isinstance(value, list):
            continue
        section = str(_written(path, reading)[0])
        into_template, only = reaches[reading.path]
        if into_template and task_pods is not None:  # the render says where it goes
            if path not in task_pods:
                continue
            where, main = "the KubernetesExecutor pod template", "the task's"
            hangs = "if it does not exit on its own, the release's task pods never complete"
        elif into_template:  # from-values knows neither the chart nor the executor: it says so
            which = f"with the {only} chart, " if only else ""
            where, main = "the KubernetesExecutor pod template", "the task's"
            hangs = (
                f"{which}if the release runs the KubernetesExecutor and it does not exit on its "
                "own, its task pods never complete"
            )
        else:
            where, main = "a Job", "the Job's"
            hangs = (
                "if it does not exit on its own, the Job never completes (nor a `helm upgrade` "
                "waiting on it)"
            )
        for index, entry in enumerate(value):
            name = entry.get("name") if isinstance(entry, dict) else None
            what = repr(name) if isinstance(name, str) else f"[{index}]"
            warnings.append(
                f"{dotted((*base, *path))}: container {what} is carried over as the chart adds "
                f"it, a plain container in {where} (spec.{section}.allowPlainSidecars: true): "
                f"{hangs}, as with the chart's own render. Set spec.{section}.nativeSidecars: "
                "true in the config to add it as a native sidecar (an init container with "
                f"restartPolicy: Always), or make it exit when {main} own container does"
            )
    return warnings


def _set_values(index: int, entry: Any) -> list[tuple[Path, Any]]:
    """A worker set's non-empty `extra*` values, in any chart's words, in the config's order."""
    if not isinstance(entry, dict):
        return []
    found: list[tuple[int, Path, Any]] = []
    for key, value in entry.items():
        path = (*_SETS, index, str(key))
        reading = _reading(path)
        if reading is not None and value:
            found.append((EXTRA_KEYS.index(reading.path[-1]), path, value))
    return [(path, value) for _, path, value in sorted(found, key=lambda one: one[0])]


def problems(values: Any, base: Path = ()) -> list[str]:
    """What in a values file's tree keeps it from becoming a config: an `extra*` value the
    chart places that is not a list, and worker sets that a config could not name (the
    config carries a set's values by its name). Each as a sentence naming the value (at
    `base`: the key of a parent chart's values that holds the Airflow chart's)."""
    found: list[str] = []

    def extra(here: Path, value: Any) -> None:
        if value is not None and not isinstance(value, list) and _reading(here) is not None:
            found.append(f"{dotted((*base, *here))} is {what_it_is(value)}, not a list")

    _visit(values, (), extra, lambda _, value: found.extend(_set_problems(value, base)))
    return found + _two_names(values, base)


def _two_names(values: Any, base: Path) -> list[str]:
    """Values that the config would carry at one place: one value under the name of one chart
    version and under that of another. Which one the chart reads depends on its version,
    which the values do not say."""
    seen: dict[Path, tuple[Path, Reading]] = {}
    found: list[str] = []
    for path, _ in found_values(values):
        reading = _reading(path)
        if reading is None:
            continue
        first, first_reading = seen.setdefault(_written(path, reading), (path, reading))
        if first != path:
            row = reading.rename or first_reading.rename
            why = f" ({renamed_words(row)})" if row else ""
            found.append(
                f"{dotted((*base, *first))} and {dotted((*base, *path))} are one value{why}: keep "
                "the one your chart version reads"
            )
    return found


def _visit(
    node: Any,
    path: Path,
    extra: Callable[[Path, Any], None],
    sets: Callable[[Path, Any], None],
) -> None:
    """Walk a values tree: `extra` for each `extra*` value (and the top-level `volumes` and
    `volumeMounts`, in any chart's words), `sets` for `workers.celery.sets`; nothing else is
    the config's."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = (*path, str(key))
        if here == _SETS:
            sets(here, value)
        elif key in EXTRA_KEYS or _reading(here) is not None:
            extra(here, value)
        else:
            _visit(value, here, extra, sets)


def _set_problems(sets: Any, base: Path) -> list[str]:
    where = dotted((*base, *_SETS))
    if sets is None:
        return []
    if not isinstance(sets, list):
        return [f"{where} is {what_it_is(sets)}, not a list of worker sets"]
    found: list[str] = []
    named: dict[str, int] = {}
    for index, entry in enumerate(sets):
        here = f"{where}[{index}]"
        if not isinstance(entry, dict):
            found.append(f"{here} is {what_it_is(entry)}, not a worker set (a mapping)")
            continue
        if not _set_values(index, entry):
            continue  # nothing of it goes into the config
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            what = "has no name" if name is None else f"has the name {name!r}, not a string"
            found.append(
                f"{here} {what}: a config carries a worker set's values by its name; name it "
                "as the chart renders it"
            )
        elif name in named:
            found.append(f"{here} has the name {name!r} of {where}[{named[name]}]")
        else:
            named[name] = index
    return found


def config_spec(values: Any, adoption: Carried | None = None) -> tuple[dict[str, Any], list[str]]:
    """The config's spec, and the values left out (dotted paths the chart table lacks);
    `adoption`: `adopted(values)`, when the caller has it already."""
    spec: dict[str, Any] = {}
    left_out: list[str] = []
    for path, value in (adoption or adopted(values)).found:
        reading = _reading(path)
        if reading is None:
            left_out.append(dotted(path))
            continue
        written = _written(path, reading)
        if path[:3] == _SETS:
            index, key = int(path[3]), str(written[4])
            name = values["workers"]["celery"]["sets"][index].get("name")
            target = spec.setdefault("workers", {}).setdefault("celery", {})
            sets = target.setdefault("sets", [])
            entry = next((s for s in sets if s["name"] == name), None)
            if entry is None:
                entry = {"name": name}
                sets.append(entry)
            entry[key] = value
            continue
        target = spec
        for step in written[:-1]:
            target = target.setdefault(str(step), {})
        target[str(written[-1])] = value
    for section in spec.values():
        if isinstance(section, dict) and _holds_containers(section):
            section["allowPlainSidecars"] = True
    return spec, left_out


def renamed(values: Any, base: Path = ()) -> list[str]:
    """The values that the config carries under another name than theirs (a chart version's
    rename, read backwards), each as a sentence: which name was taken as which."""
    notes = []
    for path, _ in found_values(values):
        reading = _reading(path)
        if reading is None or reading.rename is None or _written(path, reading) == path:
            continue
        written = _written(path, reading)
        if path[:3] == _SETS:
            name = values["workers"]["celery"]["sets"][int(path[3])].get("name")
            place = f"the {written[-1]} of worker set {name!r}"
        else:
            place = f"spec.{dotted(written)}"
        words = renamed_words(reading.rename)
        notes.append(f"{dotted((*base, *path))} is carried over as {place} ({words})")
    return notes


def _holds_containers(node: Any) -> bool:
    if isinstance(node, dict):
        return EXTRA_CONTAINERS in node or any(_holds_containers(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_containers(v) for v in node)
    return False


def merged(documents: list[Any]) -> Any:
    """Values files merged as Helm merges them: maps key by key, anything else replaced."""
    result: Any = {}
    for document in documents:
        result = _merge(result, document)
    return result


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(out[key], value) if key in out else value
        return out
    return override


def config_text(spec: dict[str, Any], name: str) -> str:
    """The config, written as block YAML (the same writer as inject's edits: no anchors),
    after the line that points the YAML language server at its schema: the schema's `$id`,
    which is where it is published (a path relative to the config would depend on where the
    config is kept)."""
    document = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}}
    document["spec"] = spec
    lines = [f"# yaml-language-server: $schema={schema()['$id']}"]
    return "\n".join([*lines, *yamlemit.block_lines(document, 0, 2)]) + "\n"
