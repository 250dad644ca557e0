"""The `from-values` command line: its arguments, and the call into fromvalues.py (imported
only when the command runs, so that the other commands do not pay for it)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from airflow_sidecars.commands import helptext


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """`from-values` under the command line's subcommands."""
    adopt = commands.add_parser(
        "from-values",
        help="write a config holding the extra* values of chart values files",
        description=(
            "Read chart values files (merged as Helm merges -f files; '-' reads stdin) and print "
            "an AirflowSidecars config holding exactly their extraContainers, "
            "extraInitContainers, extraVolumes and extraVolumeMounts (and the top-level volumes /"
            " volumeMounts) at the chart's own nesting. With --strip (one file), --strip-suffix "
            "or --strip-dir (each file), also write the values without them, comments and layout "
            "kept: `helm template -f STRIPPED | airflow-sidecars inject --config CONFIG` then "
            "gives what the chart gave with the original values. The values of an umbrella chart "
            "that has the Airflow chart as a dependency are read under its key (--subchart)."
        ),
        epilog=helptext.FROM_VALUES_EPILOG,
        formatter_class=helptext.Formatter,
    )
    adopt.add_argument(
        "values", nargs="+", metavar="VALUES", help="chart values files ('-' for stdin)"
    )
    adopt.add_argument(
        "--name",
        help="the config's metadata.name (default: the first values file's name without its "
        "extension; 'sidecars' for values.yaml and stdin)",
    )
    adopt.add_argument(
        "--subchart",
        metavar="KEY",
        help="the key of a parent chart's values that holds the Airflow chart's (its alias in "
        "Chart.yaml; dotted for a nested one; '.' for the top level). Default: the Airflow "
        "dependency of a Chart.yaml beside the first file, else a top-level key holding the "
        "chart's sections when the top level holds none",
    )
    adopt.add_argument(
        "--route",
        choices=("stream", "helm3", "helm4"),
        default="stream",
        help="how the release's render reaches inject: stream (the default: helm template, "
        "kustomize, kpt; the Helm hooks are in the stream), helm3 (helm --post-renderer on Helm "
        "3, which post-renders no hooks: values that reach a hook Job stay in the values), "
        "helm4 (Helm 4's CLI, which post-renders hooks with the rest: as stream)",
    )
    adopt.add_argument(
        "--render",
        metavar="FILE",
        help="a render of these values (helm template, hooks included): values that reach no "
        "workload of it stay out of the config (in the values), and which Jobs are hooks is "
        "read off it. Without it, from the values: a section with enabled: false reaches "
        "nothing",
    )
    stripping = adopt.add_mutually_exclusive_group()
    stripping.add_argument(
        "--strip", metavar="FILE", help="write the values without them to FILE (one values file)"
    )
    stripping.add_argument(
        "--strip-suffix",
        metavar="SUFFIX",
        help="write each values file without them beside it, SUFFIX before its extension "
        "(.stripped: values.yaml to values.stripped.yaml)",
    )
    stripping.add_argument(
        "--strip-dir",
        metavar="DIR",
        help="write each values file without them into DIR, under its own name",
    )


def run(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    from airflow_sidecars.commands.fromvalues import How, Strip, from_values  # noqa: PLC0415

    strip = Strip(args.strip, args.strip_suffix, args.strip_dir)
    how = How(args.subchart, args.route, args.render)
    return from_values(args.values, args.name, strip, say, how)
