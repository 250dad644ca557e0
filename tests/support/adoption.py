"""What the `from-values` tests share: the chart-oracle pairs (values without and with the
extras) and an independent reading of what stripping leaves.
"""

from __future__ import annotations

from typing import Any

from conftest import matrix_root

PAIRS = sorted(
    (after.parent.name, after.name[:2], after.name[3:])
    for after in matrix_root().glob("*/[0-9][0-9]b-*.values.yaml")
    if (after.parent / f"{after.name[:2]}a{after.name[3:]}").exists()
)


EXTRAS = ("extraContainers", "extraInitContainers", "extraVolumes", "extraVolumeMounts")


def without_extras(values: Any, top: bool = True) -> Any:
    """The values with every non-empty extra* (and top-level volumes / volumeMounts) removed,
    and mappings left empty by that removed too, on plain data."""
    if isinstance(values, list):
        return [without_extras(entry, False) for entry in values]
    if not isinstance(values, dict):
        return values
    out = {}
    for key, value in values.items():
        if value and (key in EXTRAS or (top and key in ("volumes", "volumeMounts"))):
            continue
        kept = without_extras(value, False)
        if isinstance(value, dict) and value and kept == {}:
            continue
        out[key] = kept
    return out
