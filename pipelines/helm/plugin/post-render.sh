#!/bin/sh
# Run by Helm 4 for the postrenderer/v1 plugin: the manifests on stdin, the result on stdout,
# and the --post-renderer-args as arguments (e.g. --config=/path/to/sidecars.yaml).
set -eu
exec airflow-sidecars inject "$@"
