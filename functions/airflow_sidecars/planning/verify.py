"""The last step of inject: the output is parsed again, and each edited object (and edited pod
template) must be exactly the data planned for it. Splices are text; this is what makes sure
the text means what was planned before it reaches a cluster."""

from __future__ import annotations

import yaml

from airflow_sidecars.krmio import krm, krmread
from airflow_sidecars.planning.edits import Run
from airflow_sidecars.text.yamlread import UnsupportedYaml, load_one, to_data


def verify(run: Run, output: str, item_count: int) -> str | None:
    """The first difference between the output and the plan, described; None when all is as
    planned."""
    if not run.expected:
        return None
    try:
        again = krmread.parse([(None, output)], only=run.expected.keys())
    except (krm.InputError, yaml.YAMLError) as error:
        return f"the edited output does not parse: {error}"
    if len(again.items) != item_count:
        return f"the output has {len(again.items)} objects where the input had {item_count}"
    for position, expected in run.expected.items():
        item = again.items[position]
        actual = to_data(item.node)
        if actual != expected:
            return f"object {position} ({item.ref()}) is not as planned"
        if position in run.expected_templates:
            key, expected_pod = run.expected_templates[position]
            try:
                template = load_one(actual["data"][key], "the pod template").data
            except UnsupportedYaml:
                template = None
            if template != expected_pod:
                return f"the pod template in {item.ref()} is not as planned"
    return None
