"""Bytes in, bytes out: the whole function without any I/O (style.md A1.2).

`run_inject` is what the command line runs and what scripts can call. It never raises for bad
input: every problem becomes an error result, and the output is always complete - the input
with the edits that could be made (KRM mode: plus the results), or, when the input could not
be read, the input as it came (KRM mode: a ResourceList that carries the error).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import yaml

from . import config as config_module
from . import krm
from .inject import inject, verify
from .results import FileRef, Result, exit_code
from .yamledit import YamlEditError, check_plain_tree, compose_all, to_data


class Outcome(NamedTuple):
    output: bytes
    results: list[Result]
    mode: str  # "resourcelist" or "stream"

    @property
    def exit_code(self) -> int:
        return exit_code(self.results)


class ConfigSource(NamedTuple):
    """A config file given on the command line (`--config FILE`)."""

    name: str
    data: bytes


def run_inject(inputs: list[tuple[str | None, bytes]], config_file: ConfigSource | None) -> Outcome:
    with _no_cycle_collection():
        return _run_inject(inputs, config_file)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector for one run.

    A render becomes hundreds of thousands of node objects, and every few hundred allocations
    the collector walks all that are alive: at 100 releases that was four fifths of the run
    (9.4 s of 11, issue #3), and it grows faster than the input. It finds nothing: node trees,
    data and edits hold no reference cycles, so reference counting frees them anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run_inject(
    inputs: list[tuple[str | None, bytes]], config_file: ConfigSource | None
) -> Outcome:
    parsed = _parse(inputs, "inject")
    if isinstance(parsed, Outcome):
        return parsed
    inp, texts = parsed
    del parsed  # `inp` must be the only reference to the node trees (see below)
    try:
        cfg = _load_config(inp, config_file, required=True)
    except config_module.ConfigError as error:
        wrapper = _wrapper_results(inp, "inject")
        return _finish(inp, [*wrapper, *_config_results(error, config_file, "inject")])
    assert cfg is not None

    run = inject(inp, cfg)
    results = [*_wrapper_results(inp, "inject"), *run.results]
    output = krm.render(inp, results)
    mode, item_count = inp.mode, len(inp.items)
    # The input's node trees go before the output is parsed again: holding both would double
    # the peak memory, which at 100 releases was as high as kustomize's (issue #3).
    del inp
    problem = verify(run, output, item_count)
    if problem is not None:
        # Never hand on text we cannot vouch for: the input goes back unchanged.
        failure = Result(
            f"internal error, nothing was changed: {problem}; please report this with the input",
            "error",
            tags={"function": "inject", "rule": "internal"},
        )
        return _finish(krm.parse(texts), [*results, failure])
    return Outcome(output.encode("utf-8"), results, mode)


def run_validate(
    inputs: list[tuple[str | None, bytes]], config_file: ConfigSource | None
) -> Outcome:
    """Check the input; every item comes back as it came (KRM mode: with the results)."""
    with _no_cycle_collection():
        return _run_validate(inputs, config_file)


def _run_validate(
    inputs: list[tuple[str | None, bytes]], config_file: ConfigSource | None
) -> Outcome:
    parsed = _parse(inputs, "validate")
    if isinstance(parsed, Outcome):
        return parsed
    inp, _ = parsed
    try:
        cfg = _load_config(inp, config_file, required=False)
    except config_module.ConfigError as error:
        wrapper = _wrapper_results(inp, "validate")
        return _finish(inp, [*wrapper, *_config_results(error, config_file, "validate")])
    declared: list[Result] = []
    if cfg is not None:
        # What the config declares and the input lacks is what inject would still add: plan
        # it the same way, keep what it found, and drop the planned edits.
        run = inject(inp, cfg)
        for source in inp.sources:
            source.editor.discard()
        declared = [_as_validate(r) for r in [*run.missing, *run.results] if _carries_over(r)]
    from .validate import validate  # noqa: PLC0415 - inject's start-up does not pay for it

    return _finish(inp, [*_wrapper_results(inp, "validate"), *validate(inp, cfg, declared)])


def _wrapper_results(inp: krm.Input, function: str) -> list[Result]:
    tags = {"function": function, "rule": "input"}
    return [Result(problem, "error", tags=tags) for problem in krm.wrapper_problems(inp)]


def _carries_over(result: Result) -> bool:
    """inject's findings that say something about the input: conflicts, dangling mounts,
    sections that reach nothing. Its plain-sidecar warning is about what it would add."""
    rule = result.tags.get("rule")
    if rule == "declared-missing":
        return True
    return result.severity in ("error", "warning") and rule != "plain-sidecar"


def _as_validate(result: Result) -> Result:
    return result._replace(tags={**result.tags, "function": "validate"})


def _parse(
    inputs: list[tuple[str | None, bytes]], function: str
) -> tuple[krm.Input, list[tuple[str | None, str]]] | Outcome:
    try:
        texts = [(name, krm.decode(data, name)) for name, data in inputs]
        return krm.parse(texts), texts
    except krm.InputError as error:
        raw = b"".join(data for _, data in inputs)
        return _unreadable(raw, str(error), error.source, function)


def _config_results(
    error: config_module.ConfigError, config_file: ConfigSource | None, function: str
) -> list[Result]:
    file = FileRef(config_file.name) if config_file is not None else None
    return [
        Result(
            p.message,
            "error",
            error.ref,
            p.path if error.ref else None,
            file,
            {"function": function, "rule": "config"},
        )
        for p in error.problems
    ]


def _finish(inp: krm.Input, results: list[Result]) -> Outcome:
    return Outcome(krm.render(inp, results).encode("utf-8"), results, inp.mode)


def _unreadable(raw: bytes, message: str, source: str | None, function: str) -> Outcome:
    result = Result(
        message,
        "error",
        file=FileRef(source) if source else None,
        tags={"function": function, "rule": "input"},
    )
    text = raw.decode("utf-8", errors="replace")
    if krm.looks_like_resource_list(text):
        version = krm.resource_list_version(text)
        output = krm.error_resource_list(message, version).encode("utf-8")
        return Outcome(output, [result], "resourcelist")
    return Outcome(raw, [result], "stream")


NO_CONFIG = (
    "no config: give --config FILE, or (KRM mode) a functionConfig of kind AirflowSidecars, "
    "apiVersion airflow-sidecars.dev/v1alpha1"
)


def _load_config(
    inp: krm.Input, config_file: ConfigSource | None, *, required: bool
) -> config_module.Config | None:
    """The config from --config or the functionConfig; None when there is none and none is
    required (validate runs its built-in checks alone)."""
    if config_file is not None:
        data = _config_file_data(config_file)
    elif inp.mode == "resourcelist" and inp.function_config is not None:
        node = inp.function_config
        try:
            check_plain_tree(node, "the functionConfig")
        except YamlEditError as error:
            raise config_module.ConfigError(
                [config_module.Problem("functionConfig", str(error))]
            ) from None
        data = to_data(node)
    elif required:
        raise config_module.ConfigError([config_module.Problem(".", NO_CONFIG)])
    else:
        return None
    if config_module.is_empty_function_input(data):
        if not required:
            return None
        raise config_module.ConfigError([config_module.Problem(".", NO_CONFIG)])
    return config_module.load(data)


def _config_file_data(config_file: ConfigSource) -> Any:
    def fail(message: str) -> config_module.ConfigError:
        return config_module.ConfigError([config_module.Problem(config_file.name, message)])

    try:
        text = krm.decode(config_file.data, config_file.name).removeprefix(krm.BOM)
        documents = [doc for doc in compose_all(text) if doc is not None]
    except krm.InputError as error:
        raise fail(str(error)) from None
    except yaml.YAMLError as error:
        raise fail(f"not valid YAML: {error}") from None
    if len(documents) != 1:
        raise fail(f"a config file holds one object, this one holds {len(documents)}")
    try:
        check_plain_tree(documents[0], "the config")
    except YamlEditError as error:
        raise fail(str(error)) from None
    return to_data(documents[0])
