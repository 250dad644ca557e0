"""The legacy kustomize exec plugin (docs/krm-contract.md §2.3): an executable that kustomize finds
by the config's apiVersion and kind, runs with the config file as its only argument and the
resources on stdin (a plain stream: inject's stream mode), and whose stdout replaces them.

`kubectl kustomize` runs these without a container engine, which is why they are worth having
beside the container function; it has no `--enable-exec` for exec KRM functions.
"""

from __future__ import annotations

import os
import shlex
import sys

from airflow_sidecars.commands.cli import REPORT_VARIABLE
from airflow_sidecars.configuration.config import GROUP, KIND, VERSION

# The report file the plugin writes unless $AIRFLOW_SIDECARS_REPORT names another (the README's
# kustomize section names it): where the findings are when kustomize showed none.
KUSTOMIZE_REPORT = (
    "${XDG_STATE_HOME:-${HOME:-.}/.local/state}/airflow-sidecars/kustomize-plugin.txt"
)


def plugin_home(explicit: str | None = None) -> str:
    """Where kustomize looks, in its own order."""
    if explicit:
        return explicit
    if os.environ.get("KUSTOMIZE_PLUGIN_HOME"):
        return os.environ["KUSTOMIZE_PLUGIN_HOME"]
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    return os.path.join(config_home, "kustomize", "plugin")


def plugin_script() -> str:
    """The plugin: this installation's interpreter when it is still there (kustomize's PATH
    need not hold a venv that is not activated), else `airflow-sidecars` on the PATH, else a
    message that says how to install it again. Checked by files, not by starting Python."""
    python = shlex.quote(sys.executable)
    package = shlex.quote(os.path.join(os.path.dirname(os.path.abspath(__file__)), "__init__.py"))
    inject = 'inject --terminal --report "$report" --config "$1"'
    return (
        "#!/bin/sh\n"
        "# kustomize legacy exec plugin for kind AirflowSidecars, written by\n"
        "# `airflow-sidecars install-kustomize-plugin`: $1 is the config file, stdin the\n"
        "# resources, stdout what replaces them.\n"
        "# kustomize shows the plugin's stderr only in its error, and drops it on success: what\n"
        "# inject says also goes to the terminal and to the report file below.\n"
        f'report="${{{REPORT_VARIABLE}:-{KUSTOMIZE_REPORT}}}"\n'
        f"python={python}\n"
        f"package={package}\n"
        'if [ -x "$python" ] && [ -f "$package" ]; then\n'
        f'  exec "$python" -m airflow_sidecars {inject}\n'
        "fi\n"
        "if command -v airflow-sidecars >/dev/null 2>&1; then\n"
        f"  exec airflow-sidecars {inject}\n"
        "fi\n"
        'echo "airflow-sidecars kustomize plugin: the installation that wrote it ($python) is '
        "gone, and airflow-sidecars is not on the PATH: install airflow-sidecars and run "
        '\\`airflow-sidecars install-kustomize-plugin\\` again" >&2\n'
        "exit 1\n"
    )


def install_kustomize_plugin(home: str | None = None) -> str:
    folder = os.path.join(plugin_home(home), GROUP, VERSION, KIND.lower())
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, KIND)
    # Write beside it and rename: kustomize never runs a half-written plugin.
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as file:
        file.write(plugin_script())
    os.chmod(partial, 0o755)
    os.replace(partial, path)
    return path
