#!/bin/sh
# Run by Helm 4 for the postrenderer/v1 plugin: the manifests on stdin, the result on stdout,
# and the --post-renderer-args as arguments (e.g. --config=/path/to/sidecars.yaml).
# There is no default config: without --config, inject stops (exit 2) and Helm installs nothing.
# Strict: a config that reaches nothing it names fails the install.
#
# Helm 4 keeps a plugin's stderr in a buffer that it never prints (a failure says only that the
# plugin "exited with error"), so inject also writes what it says to the terminal Helm runs in
# (--terminal) and to a report file, for CI, which has no terminal: by default
# ${XDG_STATE_HOME:-$HOME/.local/state}/airflow-sidecars/helm-post-render.txt, or
# $AIRFLOW_SIDECARS_REPORT. With the post-render strategy `separate` (Helm's SDK), Helm calls
# this twice in one run, the hooks first: --helm-plugin lets the second call finish what the
# hooks need (their ServiceAccounts' annotations), and both calls' lines go into one report.
set -eu
report="${AIRFLOW_SIDECARS_REPORT:-${XDG_STATE_HOME:-${HOME:-.}/.local/state}/airflow-sidecars/helm-post-render.txt}"
# Misuse stops here (exit 2), said where inject would say it: stderr, the terminal, the report.
stop() {
  message="airflow-sidecars post-renderer: $1; nothing was rendered"
  echo "$message" >&2
  { echo "$message" >/dev/tty; } 2>/dev/null || true
  { mkdir -p "$(dirname "$report")" && echo "$message" >"$report"; } 2>/dev/null || true
  exit 2
}
case " $* " in
  *" inject "*) stop "the plugin runs inject --strict itself: give only --post-renderer-args --config=FILE (the Helm 3 command's --post-renderer-args inject --strict are not for the plugin)" ;;
  *" --config"*) ;;
  *) stop "give --post-renderer-args --config=FILE" ;;
esac
exec airflow-sidecars inject --strict --helm-plugin --terminal --report "$report" "$@"
