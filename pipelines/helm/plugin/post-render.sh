#!/bin/sh
# Run by Helm 4 for the postrenderer/v1 plugin: the manifests on stdin, the result on stdout,
# and the --post-renderer-args as arguments (e.g. --config=/path/to/sidecars.yaml).
# There is no default config: without --config, inject stops (exit 2) and Helm installs nothing.
# Strict: a config that reaches nothing it names fails the install.
set -eu
case " $* " in
  *" --config"*) ;;
  *) echo "airflow-sidecars post-renderer: give --post-renderer-args --config=FILE; nothing was rendered" >&2; exit 2 ;;
esac
exec airflow-sidecars inject --strict "$@"
