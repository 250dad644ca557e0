"""The command line's help: descriptions and examples, and the formatter that prints them.

`inject --help` and `validate --help` are the functions' documentation: `kpt fn doc --image
IMAGE` runs the image with `--help` and prints what it says. Their text is the kpt catalog
README of each function (functions/inject/README.md, functions/validate/README.md): fndocs.py
holds its Short, Long and Examples sections as a test generates them from the README, as kpt's
mdtogo does for Go, so the README and the help cannot say different things. The other
commands' texts are here.
"""

from __future__ import annotations

import argparse
import re

from airflow_sidecars.commands import fndocs


class Formatter(argparse.HelpFormatter):
    """Descriptions and epilogs by paragraph. A paragraph is filled to the terminal's width; a
    list item (`- `) too, under its own first line; lines that start indented (commands,
    configs) are kept as written, so that they can be copied. The options are argparse's."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap  # noqa: PLC0415 - only for --help, as argparse does

        def fill(words: str, first: str, rest: str) -> str:
            # Never break a word: an option, a path or a URL must stay whole to be copied.
            return textwrap.fill(
                " ".join(words.split()),
                width,
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )

        blocks = []
        for block in re.split(r"\n[ \t]*\n", text.strip("\n")):
            if block.startswith("- "):
                items = re.split(r"\n(?=- )", block)
                blocks.append("\n".join(fill(i[2:], indent + "- ", indent + "  ") for i in items))
                continue
            lines = block.split("\n")
            prose = next((n for n, line in enumerate(lines) if line[:1].isspace()), len(lines))
            parts = [fill("\n".join(lines[:prose]), indent, indent)] if prose else []
            parts += [indent + line for line in lines[prose:]]
            blocks.append("\n".join(parts))
        return "\n\n".join(blocks)


def function_description(name: str) -> str:
    """A function's description: its README's Short and Long sections."""
    return f"{fndocs.SHORT[name]}\n\n{fndocs.LONG[name]}"


def function_epilog(name: str) -> str:
    """A function's examples: its README's Examples section."""
    return f"examples:\n\n{fndocs.EXAMPLES[name]}"


TOP_EPILOG = """\
examples:
  # the sidecars a config declares, added to a chart's render
  helm template airflow apache-airflow/airflow |
    airflow-sidecars inject --config sidecars.yaml > manifests.yaml
  # a CI gate: inject, then check the result with the same config
  helm template airflow apache-airflow/airflow |
    airflow-sidecars inject --config sidecars.yaml |
    airflow-sidecars validate --config sidecars.yaml > manifests.yaml
  # a command's usage, its config and more examples
  airflow-sidecars inject --help

Each function is also an image (localhost/airflow-sidecars, localhost/airflow-sidecars-validate)
for kpt and kustomize; `kpt fn doc --image IMAGE` prints its help."""

REMOVE_EPILOG = """\
examples:
  # take back what every config added: the chart's render again
  airflow-sidecars remove manifests.yaml > render.yaml
  # only the part of the config in sidecars.yaml (by its metadata.name)
  airflow-sidecars remove --config sidecars.yaml manifests.yaml -o render.yaml
  # what it takes back, as a diff per object
  airflow-sidecars remove --diff manifests.yaml"""

AUDIT_DESCRIPTION = (
    "Hold the objects as they run (what `kubectl get -o yaml|json` prints: a List, one object, "
    "or a stream, from FILEs or stdin) against the config, with inject's own planning, and say "
    "of each container, volume, mount and env var the config declares, in each workload it "
    "matches: in-sync (there, and equal to its declaration modulo the fields the API server "
    "fills in), missing (declared, absent: the post-renderer did not run), drifted (there under "
    "its name, but changed: each field as declared -> live), unrecorded (there and equal, but "
    "the config's record does not name it) or orphaned (the config's record names it, the config "
    "no longer declares it). The KubernetesExecutor pod template in its ConfigMap is audited "
    "too, and so are the annotations presets set on ServiceAccounts and the running task pods "
    "(label kubernetes_executor=True): older-template when a task pod was made from an older "
    "template. Nothing is changed. Exit 0 when all is in sync, 1 for missing or drifted items "
    "(with --strict also unrecorded, orphaned or older-template), 2 for misuse."
)

AUDIT_EPILOG = """\
examples:
  # a cron job or CI step: is what runs what the config declares?
  kubectl get deploy,sts,cm,sa -n airflow -o yaml |
    airflow-sidecars audit --config sidecars.yaml
  # the running KubernetesExecutor task pods too
  kubectl get pods -l kubernetes_executor=True -n airflow -o yaml \\
    > task-pods.yaml
  airflow-sidecars audit --config sidecars.yaml workloads.yaml task-pods.yaml
  # for a machine: one JSON object per finding
  kubectl get deploy,sts -n airflow -o json |
    airflow-sidecars audit --config sidecars.yaml -o json
  # fail also for what no record names, what the config no longer declares, and
  # task pods made from an older template
  airflow-sidecars audit --config sidecars.yaml --strict live.yaml"""

FROM_VALUES_EPILOG = """\
examples:
  # a config from the values, and the values without those parts
  airflow-sidecars from-values values.yaml --strip stripped.yaml > sidecars.yaml
  # several files merge as `helm -f values.yaml -f prod.yaml` merges them; each
  # is stripped beside itself (values.stripped.yaml, prod.stripped.yaml)
  airflow-sidecars from-values values.yaml prod.yaml --strip-suffix .stripped \\
    > sidecars.yaml
  # the same, into a folder: stripped/values.yaml, stripped/prod.yaml
  airflow-sidecars from-values values.yaml prod.yaml --strip-dir stripped/ \\
    > sidecars.yaml
  # an umbrella chart's values, with the Airflow chart's under `airflow:` (found
  # by Chart.yaml beside values.yaml, or by its keys, without --subchart)
  airflow-sidecars from-values values.yaml --subchart airflow \\
    --strip stripped.yaml > sidecars.yaml
  # the config is named after the first file (prod.yaml: prod; values.yaml and
  # stdin: sidecars), or --name
  helm get values airflow -o yaml |
    airflow-sidecars from-values - --name prod > sidecars.yaml
  # for `helm upgrade --post-renderer` on Helm 3 (no hooks post-rendered): the
  # values that reach hook Jobs stay; with today's render, the values that
  # reach nothing (a component left off) stay out of the config
  helm template airflow apache-airflow/airflow -f values.yaml > today.yaml
  airflow-sidecars from-values values.yaml --route helm3 --render today.yaml \\
    --strip stripped.yaml > sidecars.yaml
  # then the chart with the stripped values and inject give what the chart
  # gave with the original values
  helm template airflow apache-airflow/airflow -f stripped.yaml |
    airflow-sidecars inject --strict --config sidecars.yaml"""

SCHEMA_DESCRIPTION = (
    "Print the JSON Schema (draft 2020-12) that inject and validate check an AirflowSidecars "
    "config against, as shipped in the package."
)

SCHEMA_EPILOG = """\
examples:
  # the schema as a file, for an editor's YAML support or a check of your own
  airflow-sidecars schema > airflow-sidecars.v1alpha1.json
  # the presets and their parameters
  airflow-sidecars schema | jq '.properties.spec.properties.presets'"""

INSTALL_EPILOG = """\
examples:
  # install where kustomize looks, then build a kustomization that names the
  # config as a transformer
  airflow-sidecars install-kustomize-plugin
  kubectl kustomize --enable-alpha-plugins \\
    --load-restrictor LoadRestrictionsNone pipelines/kustomize-plugin
  # a plugin home of your own
  airflow-sidecars install-kustomize-plugin --plugin-home ~/plugins
  KUSTOMIZE_PLUGIN_HOME=~/plugins kubectl kustomize --enable-alpha-plugins DIR"""
