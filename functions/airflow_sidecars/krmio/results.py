"""Structured results: what a function says about what it did.

The shape is the KRM Functions Specification's `Result` (docs/krm-contract.md §1.2): message,
severity, resourceRef, field.path, file.{path,index}, tags. Only the spec shape is emitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning", "info"]

# Records in this package are NamedTuples and state is plain classes with __slots__, never
# dataclasses: importing `dataclasses` and building its classes cost a fifth of the start-up
# of a command that is started afresh on every render.


class ResourceRef(NamedTuple):
    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}".lstrip()  # an object without a kind


class FileRef(NamedTuple):
    path: str
    # The spec's name; it shadows tuple.index, which nothing calls on a FileRef.
    index: int = 0  # type: ignore[assignment]


class Result(NamedTuple):
    message: str
    severity: Severity = "info"
    resource: ResourceRef | None = None
    field_path: str | None = None
    file: FileRef | None = None
    tags: Mapping[str, str] = MappingProxyType({})  # read-only: the default is shared

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "severity": self.severity}
        if self.resource is not None:
            out["resourceRef"] = self.resource.as_dict()
            if self.field_path:  # the spec allows `field` only together with `resourceRef`
                out["field"] = {"path": self.field_path}
        if self.file is not None:
            out["file"] = {"path": self.file.path, "index": self.file.index}
        if self.tags:
            out["tags"] = dict(self.tags)
        return out

    def line(self) -> str:
        """One line for a person reading stderr: severity, rule, resource, field, message."""
        parts = [f"{self.severity}:"]
        if "rule" in self.tags:
            parts.append(f"[{self.tags['rule']}]")
        if self.resource is not None:
            parts.append(str(self.resource))
        if self.field_path:
            parts.append(self.field_path)
        if self.file is not None and self.resource is None:
            parts.append(f"({self.file.path})")
        return " ".join(parts) + ": " + self.message


_RANK = {"error": 0, "warning": 1, "info": 2}


def by_severity(results: list[Result]) -> list[Result]:
    """Errors, then warnings, then info; in the order found within each. kpt shows the first
    few results of a long list and truncates the rest: what needs acting on must come first."""
    return sorted(results, key=lambda found: _RANK.get(found.severity, len(_RANK)))


def exit_code(results: list[Result]) -> int:
    """1 when any result is an error (warnings allowed), else 0 (docs/krm-contract.md,
    exit codes)."""
    return 1 if any(r.severity == "error" for r in results) else 0
