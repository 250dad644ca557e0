"""`kpt fn render` for one package, as a test harness: the orchestrator's side of the KRM
function contract (docs: krm-contract.md).

What it does is what kpt does (read from kptdev/kpt and kyaml, and compared with the real
`kpt` 1.0.0-beta.56 in tests/e2e/test_pipelines_kpt.py wherever that binary is on the PATH):

1. Read the package: every `*.yaml`, `*.yml` and the `Kptfile`, in the order a directory walk
   gives (names sorted, folders where they sort), minus what `.krmignore` lists; split each
   file into its documents and skip the empty ones. Each document becomes an item **by its
   text**, so comments, quoting and key order reach the function as they are in the file.
2. Annotate each item by splicing lines into its `metadata.annotations` (created at the end of
   `metadata` when there is none), in kpt's order and quoting: the legacy `config.kubernetes.io/
   {index,path}`, the internal `{index,package-path,path,seqindent}`, and, for the duration of
   one function call, `annotations-migration-resource-id` (mutators only) and the ids
   `internal.config.kubernetes.io/id` / `config.k8s.io/id`.
3. Run each mutator as a process with a ResourceList on stdin (`functionConfig` = the
   `configPath` item as it is in the list, annotations included), check its output the way kpt
   does (only KRM objects; no two items on one path and index; no path out of the package),
   take the items it returns as the input of the next step, less the per-call annotations.
4. Run each validator on that output, with ids numbered afresh and no migration id, and the
   `configPath` file as read for its functionConfig (beta.56; newer kpt sends the item, as for
   mutators); whatever it returns is thrown away except its results.
5. If every step exited 0, write each item to the file and position its path and index
   annotations name, without the orchestrator's annotations (`annotations:` goes when nothing
   is left in it), and delete files that no item names any more. If a step failed, write
   nothing.
6. Keep per step what kpt's `--results-dir` keeps (`results_yaml` writes kpt's
   FunctionResultList): the image, stderr (as kpt keeps a container's: line by line, joined,
   no last newline), exit code and the function's own results.

Where it differs from kpt (each on purpose; see pipelines/kpt/README.md):
- kpt parses every file and hands the function kyaml's re-emission of it (compact lists);
  this hands over the file's own text. Both are the same data; the real-kpt test compares them.
- kpt writes back by re-emitting every resource, and copies comments from the input onto an
  output that lost them (matching by the id annotation); this writes the function's text as
  it came back, so a function that drops a comment or reformats a line shows in the diff.
- kpt 1.0.0-beta.62 and later also write a `status` (the `Rendered` condition and each step's
  results) into the root Kptfile; beta.56, the kpt that runs here, does not, and neither does
  this.
- Not modelled: subpackages, `selectors`/`exclude`, `configMap:`, `exec:`, `tag:`,
  `kpt.dev/save-on-render-failure`, the legacy/internal annotation reconciliation (a function
  that changes only one of a pair is reported, not repaired).
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

# kyaml kioutil / kpt pkg: the orchestrator's annotations.
LEGACY_INDEX = "config.kubernetes.io/index"
LEGACY_PATH = "config.kubernetes.io/path"
INDEX = "internal.config.kubernetes.io/index"
PACKAGE_PATH = "internal.config.kubernetes.io/package-path"
PATH = "internal.config.kubernetes.io/path"
SEQINDENT = "internal.config.kubernetes.io/seqindent"
MIGRATION_ID = "internal.config.kubernetes.io/annotations-migration-resource-id"
ID = "internal.config.kubernetes.io/id"
LEGACY_ID = "config.k8s.io/id"
LOCAL_CONFIG = "config.kubernetes.io/local-config"

PER_CALL = (MIGRATION_ID, ID, LEGACY_ID)
ORCHESTRATOR = (LEGACY_INDEX, LEGACY_PATH, INDEX, PACKAGE_PATH, PATH, SEQINDENT, *PER_CALL)

KRM_FILE_PATTERNS = ("*.yaml", "*.yml", "Kptfile")
DEFAULT_TIMEOUT = 300  # kpt's default per function: 5 minutes


class RenderError(Exception):
    """What kpt would stop the render with, before or after a function ran."""


@dataclass(frozen=True)
class Step:
    role: str  # "mutator" or "validator"
    image: str
    config_path: str | None


@dataclass(frozen=True)
class StepRun:
    step: Step
    exit_code: int
    stderr: str
    results: list[dict[str, Any]]
    sent: bytes  # the ResourceList on the function's stdin
    received: bytes  # its stdout


@dataclass(frozen=True)
class Render:
    exit_code: int
    runs: list[StepRun]
    read: list[str]  # the items as read from the files, with the reader's annotations
    mutated: list[str]  # the items after the mutators (what validators saw, less their ids)
    written: bool


Argv = Callable[[Step], Sequence[str]]


# --- reading -------------------------------------------------------------------------------


def package_files(root: Path) -> list[str]:
    """The package's resource files, relative, in the order kpt's directory walk reads them."""
    ignore = _krmignore(root)
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda p: p.name.encode()):
            relative = prefix + entry.name
            if any(_ignored(relative, pattern) for pattern in ignore):
                continue
            if entry.is_dir():
                if (entry / "Kptfile").exists():
                    raise RenderError(f"{relative}: subpackages are not modelled")
                walk(entry, relative + "/")
            elif any(fnmatch.fnmatchcase(entry.name, p) for p in KRM_FILE_PATTERNS):
                found.append(relative)

    walk(root, "")
    return found


def _krmignore(root: Path) -> list[str]:
    path = root / ".krmignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#")]


def _ignored(relative: str, pattern: str) -> bool:
    parts = relative.split("/")
    return fnmatch.fnmatchcase(relative, pattern) or any(
        fnmatch.fnmatchcase(part, pattern) for part in parts
    )


def split_documents(text: str) -> list[str]:
    """A file's documents, each ending in a newline; documents with no object are dropped."""
    documents: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == "---" or line.startswith("--- "):
            documents.append("".join(current))
            current = []
        else:
            current.append(line)
    documents.append("".join(current))
    kept = []
    for document in documents:
        if yaml.safe_load(document) is None:
            continue  # empty or comments only: kyaml skips it, and does not write it back
        kept.append(document if document.endswith("\n") else document + "\n")
    return kept


def seq_indent_style(text: str) -> str:
    """kyaml's DeriveSeqIndentStyle: how the first block sequence under a key is indented."""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        before, dash, _ = line.partition("- ")
        if not dash or before.strip(" "):
            continue
        key_line = _key_line_before(lines, number)
        if not key_line:
            continue
        key = key_line.strip(" ")
        if key.count(":") != 1 or not key.endswith(":"):
            continue  # a wrapped string, not a sequence under a key
        key_indent = len(key_line) - len(key_line.lstrip(" "))
        if len(before) == key_indent:
            return "compact"
        if len(before) - key_indent == 2:
            return "wide"
    return "compact"


def _key_line_before(lines: list[str], number: int) -> str:
    for line in reversed(lines[:number]):
        if line.strip(" ").startswith("#"):
            continue
        return line.partition("#")[0]
    return ""


def read_items(root: Path) -> list[str]:
    """Every resource of the package, as text, with the annotations kpt's reader adds."""
    items = []
    package_path = str(root.resolve())
    for relative in package_files(root):
        text = (root / relative).read_text()
        for index, document in enumerate(split_documents(text)):
            _check_krm(document, relative)
            items.append(
                add_annotations(
                    document,
                    [
                        (LEGACY_INDEX, str(index)),
                        (LEGACY_PATH, relative),
                        (INDEX, str(index)),
                        (PACKAGE_PATH, package_path),
                        (PATH, relative),
                        (SEQINDENT, seq_indent_style(document)),
                    ],
                )
            )
    return items


def _check_krm(text: str, where: str) -> None:
    """kpt's AreKRM: apiVersion, kind and metadata.name, except a bare kustomization.yaml."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise RenderError(f"{where}: not a KRM resource")
    if where.rsplit("/", 1)[-1] in ("kustomization.yaml", "kustomization.yml") and not (
        {"apiVersion", "kind", "metadata"} & data.keys()
    ):
        return
    metadata = data.get("metadata")
    if not (
        data.get("apiVersion")
        and data.get("kind")
        and isinstance(metadata, dict)
        and metadata.get("name")
    ):
        raise RenderError(f"{where}: not a KRM resource (apiVersion, kind, metadata.name)")


# --- annotations, by text ------------------------------------------------------------------


def read_annotations(text: str) -> dict[str, str]:
    data = yaml.safe_load(text)
    found = (data.get("metadata") or {}).get("annotations") or {}
    return {str(k): str(v) for k, v in found.items()}


def add_annotations(text: str, pairs: Sequence[tuple[str, str]]) -> str:
    """Append annotations to the item's text, as kyaml's SetAnnotation places them: after the
    last annotation, or in a new `annotations:` at the end of `metadata`."""
    root = _compose(text)
    metadata = _value(root, "metadata")
    if not isinstance(metadata, yaml.MappingNode) or metadata.flow_style or not metadata.value:
        raise RenderError("only a block-style, non-empty metadata is modelled")
    existing = _entry(metadata, "annotations")
    if existing is None:
        indent = metadata.value[0][0].start_mark.column
        at = _end_line(metadata)
        head = [" " * indent + "annotations:\n"]
        indent += 2
    else:
        node = existing[1]
        if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
            raise RenderError("only block-style, non-empty annotations are modelled")
        indent = node.value[0][0].start_mark.column
        at = _end_line(node)
        head = []
    for _, value in pairs:
        if "'" in value or "\n" in value:
            raise RenderError(f"cannot quote annotation value {value!r}")
    new = head + [f"{' ' * indent}{key}: '{value}'\n" for key, value in pairs]
    lines = _lines(text)
    return "".join(lines[:at] + new + lines[at:])


def remove_annotations(text: str, keys: Collection[str]) -> str:
    """Delete the lines of the given annotations, and `annotations:` itself if that empties it
    (kyaml's ClearAnnotation)."""
    root = _compose(text)
    metadata = _value(root, "metadata")
    entry = _entry(metadata, "annotations") if metadata is not None else None
    if entry is None or not isinstance(entry[1], yaml.MappingNode) or entry[1].flow_style:
        return text
    key_node, mapping = entry
    doomed = [(k, v) for k, v in mapping.value if k.value in keys]
    if not doomed:
        return text
    lines = _lines(text)
    everything = len(doomed) == len(mapping.value)
    for key, value in [(key_node, mapping)] if everything else doomed:
        _own_lines(lines, key, value)
    spans = (
        [(key_node.start_mark.line, _end_line(mapping))]
        if everything
        else [(k.start_mark.line, _end_line(v)) for k, v in doomed]
    )
    for start, end in sorted(spans, reverse=True):
        del lines[start:end]
    return "".join(lines)


def _own_lines(lines: list[str], key: yaml.Node, value: yaml.Node) -> None:
    """Refuse to delete an entry that shares a line with something else."""
    line = lines[key.start_mark.line]
    if line[: key.start_mark.column].strip():
        raise RenderError(f"annotation not on a line of its own: {line!r}")
    if isinstance(value, yaml.ScalarNode) and value.end_mark.line != key.start_mark.line:
        raise RenderError(f"multi-line annotation values are not modelled: {line!r}")


def _compose(text: str) -> yaml.Node:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        raise RenderError("an item must be a mapping")
    return node


def _entry(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _value(mapping: yaml.Node, key: str) -> yaml.Node | None:
    entry = _entry(mapping, key)
    return None if entry is None else entry[1]


def _end_line(node: yaml.Node) -> int:
    """The number of the first line after the node (0-based)."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _end_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _end_line(node.value[-1])
    end = node.end_mark
    return end.line + 1 if end.column > 0 else end.line


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


# --- the ResourceList, by text -------------------------------------------------------------


def resource_list(items: Sequence[str], function_config: str | None) -> bytes:
    """`items` and `functionConfig` indented into a ResourceList, every byte of them kept."""
    parts = ["apiVersion: config.kubernetes.io/v1\n", "kind: ResourceList\n", "items:\n"]
    parts += [_indent(item, "- ") for item in items]
    if function_config is not None:
        parts += ["functionConfig:\n", _indent(function_config, "  ")]
    return "".join(parts).encode()


def _indent(text: str, first: str) -> str:
    out = []
    for number, line in enumerate(_lines(text)):
        if number == 0:
            out.append(first + line)
        else:
            out.append("  " + line if line.strip("\r\n") else line)
    return "".join(out)


def split_resource_list(output: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """The items of a function's answer, each as its own text again, and its results."""
    text = output.decode()
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or data.get("kind") != "ResourceList":
        raise RenderError("the function did not answer with a ResourceList")
    lines = _lines(text)
    try:
        start = lines.index("items:\n") + 1
    except ValueError:
        raise RenderError("no block `items:` in the answer") from None
    items: list[list[str]] = []
    for line in lines[start:]:
        if line.startswith("- "):
            items.append([line[2:]])
        elif line.startswith(("  ", "#")) or not line.strip():
            if not items:
                raise RenderError(f"text before the first item: {line!r}")
            items[-1].append(line[2:] if line.startswith("  ") else line.lstrip(" \t"))
        else:
            break  # the next top-level key
    texts = ["".join(item) for item in items]
    if [yaml.safe_load(t) for t in texts] != (data.get("items") or []):
        raise RenderError("the answer's items could not be told apart by their text")
    results = data.get("results") or []
    return texts, list(results)


# --- the render ----------------------------------------------------------------------------


def pipeline(root: Path) -> list[Step]:
    kptfile = yaml.safe_load((root / "Kptfile").read_text())
    steps = []
    for role, key in (("mutator", "mutators"), ("validator", "validators")):
        for function in (kptfile.get("pipeline") or {}).get(key) or []:
            unknown = set(function) - {"image", "configPath"}
            if unknown:
                raise RenderError(f"pipeline field(s) not modelled: {sorted(unknown)}")
            steps.append(Step(role, function["image"], function.get("configPath")))
    return steps


def render(root: Path, argv: Argv, *, timeout: float = DEFAULT_TIMEOUT) -> Render:
    """`kpt fn render root`: run the pipeline; on success write the items back."""
    items = read_items(root)
    read = list(items)
    runs: list[StepRun] = []
    steps = pipeline(root)
    for step in (s for s in steps if s.role == "mutator"):
        sent = [
            add_annotations(t, [(MIGRATION_ID, str(i)), (ID, str(i + 1)), (LEGACY_ID, str(i + 1))])
            for i, t in enumerate(items)
        ]
        run, returned = _call(step, sent, _config_item(step, sent), argv, timeout)
        runs.append(run)
        if run.exit_code != 0:
            return Render(1, runs, read, items, written=False)
        items = [remove_annotations(t, PER_CALL) for t in returned]
    for step in (s for s in steps if s.role == "validator"):
        sent = [
            add_annotations(t, [(ID, str(i + 1)), (LEGACY_ID, str(i + 1))])
            for i, t in enumerate(items)
        ]
        # beta.56 hands a validator its config file as read (kpt after #4675, Aug 2026: the
        # item, as for mutators); whatever a validator returns is thrown away.
        config = None if step.config_path is None else (root / step.config_path).read_text()
        run, _ = _call(step, sent, config, argv, timeout)
        runs.append(run)
        if run.exit_code != 0:
            return Render(1, runs, read, items, written=False)
    write_items(root, items, previous=read)
    return Render(0, runs, read, items, written=True)


def _config_item(step: Step, items: Sequence[str]) -> str | None:
    """A mutator's functionConfig: its configPath item as it is in the list (kpt re-reads it
    before each step, so an earlier mutator's edit of it counts)."""
    if step.config_path is None:
        return None
    config = next((t for t in items if read_annotations(t).get(PATH) == step.config_path), None)
    if config is None:
        raise RenderError(f"missing function config {step.config_path!r}")
    return config


def _call(
    step: Step, items: list[str], config: str | None, argv: Argv, timeout: float
) -> tuple[StepRun, list[str]]:
    sent = resource_list(items, config)
    # A container gets no host environment and no view of the package: an empty folder.
    with tempfile.TemporaryDirectory() as scratch:
        completed = subprocess.run(
            list(argv(step)),
            input=sent,
            capture_output=True,
            check=False,
            timeout=timeout,
            cwd=scratch,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"},
        )
    returned, results = split_resource_list(completed.stdout)
    for text in returned:
        _check_krm(text, read_annotations(text).get(PATH, "function output"))
    check_paths(returned)
    stderr = container_stderr(completed.stderr.decode())
    run = StepRun(step, completed.returncode, stderr, results, sent, completed.stdout)
    return run, returned


def container_stderr(text: str) -> str:
    """stderr as kpt keeps it from a container function: read line by line (to filter out the
    container engine's pull messages, which a local image does not print) and joined with
    newlines, so without the last one. (An `exec:` function's stderr is kept as it is.)"""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(line.removesuffix("\r") for line in lines)


def check_paths(items: Sequence[str]) -> None:
    """kpt's enforcePathInvariants, and the legacy/internal pairs agreeing."""
    seen: set[tuple[str, str]] = set()
    for text in items:
        found = read_annotations(text)
        for internal, legacy in ((PATH, LEGACY_PATH), (INDEX, LEGACY_INDEX), (ID, LEGACY_ID)):
            if found.get(internal) != found.get(legacy):
                raise RenderError(f"mismatched legacy and internal {internal} annotations")
        path = os.path.normpath(found.get(PATH, ""))
        if path.startswith("../"):
            raise RenderError(f"function must not modify resources outside of package: {path}")
        where = (path, found.get(INDEX, "0"))
        if where in seen:
            raise RenderError(f"resource at path {where[0]!r} and index {where[1]!r} exists")
        seen.add(where)


def write_items(root: Path, items: Sequence[str], *, previous: Sequence[str]) -> None:
    files: dict[str, list[tuple[int, str]]] = {}
    for text in items:
        found = read_annotations(text)
        files.setdefault(found[PATH], []).append(
            (int(found.get(INDEX, "0")), remove_annotations(text, ORCHESTRATOR))
        )
    for path, documents in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("---\n".join(text for _, text in sorted(documents)))
    for gone in {read_annotations(t)[PATH] for t in previous} - files.keys():
        (root / gone).unlink()


# --- what kpt keeps: the FunctionResultList -------------------------------------------------


def results_yaml(outcome: Render) -> str:
    """`--results-dir`'s results.yaml: kpt's FunctionResultList, as go-yaml writes it."""
    document: dict[str, Any] = {
        "apiVersion": "kpt.dev/v1",
        "kind": "FunctionResultList",
        "metadata": {"name": "fnresults"},
        "exitCode": outcome.exit_code,
    }
    items = []
    for run in outcome.runs:
        item: dict[str, Any] = {"image": run.step.image}
        if run.stderr:
            item["stderr"] = run.stderr
        item["exitCode"] = run.exit_code
        if run.results:
            item["results"] = [_result_item(r) for r in run.results]
        items.append(item)
    if items:
        document["items"] = items
    return to_go_yaml(document)


def _result_item(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result as kpt's fnresult.ResultItem keeps it: its fields, in its order, no empties."""
    unknown = set(result) - {"message", "severity", "resourceRef", "field", "file", "tags"}
    if unknown:
        raise RenderError(f"result fields kpt drops: {sorted(unknown)}")
    shapes = {
        "resourceRef": ("apiVersion", "kind", "name", "namespace"),
        "field": ("path", "currentValue", "proposedValue"),
        "file": ("path", "index"),
    }
    item: dict[str, Any] = {}
    for key in ("message", "severity"):
        if result.get(key):
            item[key] = str(result[key])
    for key, fields in shapes.items():
        part = result.get(key) or {}
        kept = {f: part[f] for f in fields if part.get(f) not in (None, "", 0)}
        for name, value in kept.items():
            if name != "index" and not isinstance(value, str):
                raise RenderError(f"{key}.{name} is not a string: kpt cannot read it")
        if kept:
            item[key] = kept
    if result.get("tags"):
        item["tags"] = {str(k): str(v) for k, v in sorted(result["tags"].items())}
    return item


def to_go_yaml(value: Mapping[str, Any]) -> str:
    """Block YAML as go-yaml v3 writes kpt's structs: 2-space indent, `- ` indented under its
    key, strings plain when they read back as strings, else quoted, several lines literal."""
    out: list[str] = []
    _mapping(value, 0, out, first=None)
    return "".join(out)


def _mapping(value: Mapping[str, Any], indent: int, out: list[str], first: str | None) -> None:
    for number, (key, item) in enumerate(value.items()):
        prefix = first if first is not None and number == 0 else " " * indent
        if isinstance(item, Mapping):
            out.append(f"{prefix}{key}:\n")
            _mapping(item, indent + 2, out, first=None)
        elif isinstance(item, list):
            out.append(f"{prefix}{key}:\n")
            for element in item:
                dash = " " * (indent + 2) + "- "
                if isinstance(element, Mapping):
                    _mapping(element, indent + 4, out, first=dash)
                else:
                    out.append(dash + _scalar(element) + "\n")
        elif isinstance(item, str) and "\n" in item and _literal_ok(item):
            body = item.rstrip("\n")
            trailing = len(item) - len(body)
            chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
            out.append(f"{prefix}{key}: |{chomp}\n")
            lines = body.split("\n") + [""] * max(0, trailing - 1)
            out += [(" " * (indent + 2) + line if line else "") + "\n" for line in lines]
        else:
            out.append(f"{prefix}{key}: {_scalar(item)}\n")


# What a plain scalar of this text would read back as (PyYAML's stubs leave it untyped).
_plain_tag = cast(
    "Callable[[type[yaml.Node], str, tuple[bool, bool]], str]",
    yaml.resolver.Resolver().resolve,
)


def _literal_ok(text: str) -> bool:
    lines = text.rstrip("\n").split("\n")
    return not lines[0].startswith(" ") and all(line == line.rstrip(" \t") for line in lines)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if (
        text == ""
        or "\n" in text
        or _plain_tag(yaml.ScalarNode, text, (True, False)) != ("tag:yaml.org,2002:str")
    ):
        return json.dumps(text)  # go-yaml double-quotes what would read back as another type
    dumped = yaml.safe_dump([text], width=2**30, allow_unicode=True)
    return dumped[2:].rstrip("\n")


# --- kpt's e2e harness: a package in a fresh git repository, the diff after the run --------


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    diff: str  # `git diff first HEAD`, trimmed, as pkg/test/runner keeps it
    results: str  # the results file, trimmed


Run = Callable[[Path, Path], int]  # (package copy, results folder) -> exit code


def run_case(
    case: Path, workdir: Path, run: Run, prepare: Callable[[Path], None] | None = None
) -> Outcome:
    """Copy the package into a git repository, commit, run, and diff, as kpt's runner does."""
    package = workdir / case.name
    shutil.copytree(case, package)
    if prepare is not None:
        prepare(package)
    _git(package, workdir, "init", "-q")
    _git(package, workdir, "add", "--all")
    _git(package, workdir, "commit", "-q", "-m", "first")
    first = _git(package, workdir, "rev-parse", "HEAD").strip()
    results_dir = workdir / "results"
    results_dir.mkdir()
    exit_code = run(package, results_dir)
    written = sorted(results_dir.iterdir())
    if len(written) > 1:
        raise RenderError(f"more than one results file: {written}")
    results = written[0].read_text().strip() if written else ""
    _git(package, workdir, "add", "--all")
    _git(package, workdir, "commit", "-q", "-m", "second", "--allow-empty")
    diff = _git(package, workdir, "diff", first, "HEAD").strip()
    return Outcome(exit_code, diff, results)


def simulate(argv: Argv) -> Run:
    """A `Run` for run_case that is this module's render."""

    def run(package: Path, results_dir: Path) -> int:
        outcome = render(package, argv)
        (results_dir / "results.yaml").write_text(results_yaml(outcome))
        return outcome.exit_code

    return run


def _git(cwd: Path, home: Path, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_DIFF_OPTS": "",
        "LC_ALL": "C",
    }
    identity = ["-c", "user.name=none", "-c", "user.email=none", "-c", "init.defaultBranch=main"]
    completed = subprocess.run(
        ["git", *identity, *args], cwd=cwd, env=env, capture_output=True, check=True
    )
    return completed.stdout.decode()
