"""Build the config schema (schemas/airflow-sidecars.v1alpha1.json) from its one source.

Hand-written here, in config.json: the config's own fields and the Kubernetes shapes, every
repeated shape once under `$defs`. Built from the package's tables: `spec.presets` from the
preset records (airflow_sidecars.presets.schema), the ids `spec.validate.disable` takes from
the rule table (airflow_sidecars.transforms.rules). Run it after changing either; the
checked-in schema is what the package ships, and a test fails when it is not what this builds.

    python schemas/source/build.py          # write the schema
    python schemas/source/build.py --check  # exit 1 when the checked-in schema is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from airflow_sidecars.presets import REGISTRY
from airflow_sidecars.presets.schema import presets_schema, section_defs
from airflow_sidecars.transforms.rules import CAN_DISABLE, RULES

SOURCE = Path(__file__).with_name("config.json")
SCHEMA = Path(__file__).parent.parent / "airflow-sidecars.v1alpha1.json"


def build() -> str:
    schema: dict[str, Any] = json.loads(SOURCE.read_text("utf-8"))
    schema["description"] = schema["description"].format(presets=", ".join(REGISTRY))
    spec = schema["properties"]["spec"]["properties"]
    spec["presets"] = presets_schema(REGISTRY)
    disable = [rule for rule in RULES if rule in CAN_DISABLE]  # in table order
    spec["validate"]["properties"]["disable"]["items"] = {"enum": disable}
    schema["$defs"].update(section_defs(REGISTRY))
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = build()
    if argv[1:] == ["--check"]:
        if SCHEMA.read_text("utf-8") != text:
            print(f"{SCHEMA} is stale: run python {Path(__file__)}", file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
