"""`inject --plan`: what inject would add, per release and workload, as a table for a person
(aligned, within 100 columns, the same text on a terminal and in a pipe) or as one JSON
document (`-o json`). Both are made from api.plan_inject: the entries of the edits inject
makes (planning/planned.py), so the plan and inject's output cannot disagree.

The JSON document (keys in this order):

    {"apiVersion": "airflow-sidecars.dev/v1alpha1", "kind": "InjectPlan",
     "applies": true,            # false: errors, inject would write the input as it came
     "workloads": [              # in input order; a ServiceAccount too, for its annotations
       {"release", "namespace", "kind", "name", "component", "file",
        "podTemplate",           # the ConfigMap data key of the KubernetesExecutor pod template
        "additions": [{"action", "what", "name", "container", "role", "field", "value"}]}],
     "findings": [...]}          # inject's results (KRM Result shape), errors first
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from airflow_sidecars.krmio.results import Result, by_severity
from airflow_sidecars.planning.planned import Entry, Target, plain
from airflow_sidecars.recording.records import PREFIX
from airflow_sidecars.renders.airflow import CONFIG_CHECKSUM_ANNOTATION

WIDTH = 100
FORMATS = ("table", "json")

# Info results that only say again what the table shows, entry by entry (outcomes._DONE).
_RESTATED = frozenset({"added", "checksum", "service-account", "taken-back"})

Workloads = list[tuple[Target, list[Entry]]]


def grouped(entries: list[tuple[Target, Entry]]) -> Workloads:
    """The entries by object, each object where its first entry is (input order)."""
    found: dict[Target, list[Entry]] = {}
    for target, entry in entries:
        found.setdefault(target, []).append(entry)
    return list(found.items())


def as_json(entries: list[tuple[Target, Entry]], results: list[Result], applies: bool) -> str:
    document = {
        "apiVersion": "airflow-sidecars.dev/v1alpha1",
        "kind": "InjectPlan",
        "applies": applies,
        "workloads": [_workload(target, said) for target, said in grouped(entries)],
        "findings": [found.as_dict() for found in by_severity(results)],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _workload(target: Target, said: list[Entry]) -> dict[str, Any]:
    return {
        "release": target.release,
        "namespace": target.namespace,
        "kind": target.kind,
        "name": target.name,
        "component": target.component,
        "file": target.file,
        "podTemplate": target.template_key,
        "additions": [
            {
                "action": entry.action,
                "what": entry.what,
                "name": entry.name,
                "container": entry.container,
                "role": entry.role,
                "field": entry.field,
                "value": plain(entry.value),
            }
            for entry in said
        ],
    }


def as_table(
    entries: list[tuple[Target, Entry]], results: list[Result], applies: bool, quiet: bool
) -> str:
    lines: list[str] = []
    workloads = grouped(entries)
    files = {target.file for target, _ in workloads}
    release: tuple[str | None, str | None, str | None] | None = None
    for target, said in workloads:
        here = (target.release, target.namespace, target.file)
        if here != release:
            release = here
            lines += [""] if lines else []
            lines.append(_release_line(target, len(files) > 1))
        lines += ["", f"  {_object_line(target)}", *_rows(said)]
    if not workloads:
        lines.append("nothing to add: inject would leave every object as it is")
    shown = [
        found
        for found in by_severity(results)
        if not (found.severity == "info" and (quiet or found.tags.get("rule") in _RESTATED))
    ]
    if shown:
        lines += ["", "findings (inject's results; errors, then warnings, then info)"]
        lines += [wrapped for found in shown for wrapped in _finding(found)]
    lines += ["", _summary(workloads, results, applies)]
    return "\n".join(lines) + "\n"


def _release_line(target: Target, with_file: bool) -> str:
    release = f"release {target.release}" if target.release else "objects without a release"
    where = f" in namespace {target.namespace}" if target.namespace else ""
    file = f" ({target.file or 'stdin'})" if with_file else ""
    return f"{release}{where}{file}"


def _object_line(target: Target) -> str:
    line = f"{target.kind} {target.name}"
    if target.template_key is not None:
        line += f": pod template {target.template_key} (task pods)"
    if target.component:
        line += f"  [{target.component}]"
    return line


_HEADER = ("WHAT", "NAME", "DETAIL")


def _rows(said: list[Entry]) -> list[str]:
    return table([_HEADER, *(_row(entry) for entry in said)])


def table(rows: list[tuple[str, str, str]]) -> list[str]:
    """Rows of three columns (the first a header), indented under their object; the last
    column wraps in its place."""
    what = max(len(row[0]) for row in rows)
    name = max(len(row[1]) for row in rows)
    indent = 4 + what + 2 + name + 2
    out = []
    for row in rows:
        # A detail too long for the line goes on below, in its column: nothing is cut off.
        detail = textwrap.wrap(row[2], max(WIDTH - indent, 20), break_on_hyphens=False) or [""]
        out.append(f"    {row[0]:<{what}}  {row[1]:<{name}}  {detail[0]}".rstrip())
        out += [" " * indent + more for more in detail[1:]]
    return out


_ROLES = {"sidecar": "plain sidecar", "native-sidecar": "native sidecar", "init": "init container"}


def _row(entry: Entry) -> tuple[str, str, str]:
    """(what, name, detail) of one entry, for a person."""
    value = entry.value if isinstance(entry.value, dict) else {}
    verb = {"add": "", "replace": "replaces the one there: ", "remove": "taken back: "}[
        entry.action
    ]
    if entry.what == "container":
        what = _ROLES.get(entry.role or "", "container")
        return what, entry.name, f"{verb}image {value.get('image', '?')}"
    if entry.what == "volume":
        source = next((key for key in value if key != "name"), "?")
        return "volume", entry.name, f"{verb}{source}"
    if entry.what == "volumeMount":
        path = value.get("mountPath", "?")
        read_only = ", read-only" if value.get("readOnly") else ""
        return "mount", str(path), f"{verb}into {entry.container}, volume {entry.name}{read_only}"
    if entry.what == "env":
        return "env", entry.name, f"{verb}into {entry.container} = {_env_value(value)}"
    if entry.what == "annotation":  # _annotation says how it changes
        return "annotation", entry.name, _annotation(entry)
    return entry.what, entry.name, f"{verb}{entry.field}"


def _env_value(variable: dict[str, Any]) -> str:
    if "value" in variable:
        return json.dumps(plain(variable["value"]), ensure_ascii=False)
    source = variable.get("valueFrom")
    if isinstance(source, dict) and source:
        kind = next(iter(source))
        ref = source[kind]
        named = ref.get("name", "") if isinstance(ref, dict) else ""
        key = ref.get("key", "") if isinstance(ref, dict) else ""
        return f"from {kind} {named}{'/' + key if key else ''}".rstrip()
    return "(no value)"


def _annotation(entry: Entry) -> str:
    if entry.action == "remove":
        return "taken back"
    if entry.name.startswith(PREFIX):
        return "inject's record of what it added"
    if entry.name == CONFIG_CHECKSUM_ANNOTATION:
        return "refreshed: the pod template changed, so the pods roll out"
    return str(plain(entry.value))


def _finding(found: Result) -> list[str]:
    return textwrap.wrap(
        found.line(),
        WIDTH,
        initial_indent="  ",
        subsequent_indent="      ",
        break_on_hyphens=False,
        break_long_words=False,
    )


def _summary(workloads: Workloads, results: list[Result], applies: bool) -> str:
    counts = dict.fromkeys(("error", "warning", "info"), 0)
    for found in results:
        counts[found.severity] += 1
    releases = {(target.release, target.namespace, target.file) for target, _ in workloads}
    said = [entry for _, entries in workloads for entry in entries]
    removed = sum(entry.action == "remove" for entry in said)
    taken = f", {removed} taken back" if removed else ""
    line = (
        f"plan: {len(said) - removed} addition(s){taken} in {len(workloads)} object(s) of "
        f"{len(releases)} release(s); {counts['error']} error(s), {counts['warning']} warning(s)"
    )
    if not applies:
        line += (
            "\nnot applied: with these errors inject writes the input as it came (none of "
            "the above); fix them first"
        )
    return line
