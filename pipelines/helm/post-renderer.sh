#!/bin/sh
# Helm 3 post-renderer: Helm writes the rendered manifests to stdin (a plain stream; Helm 3 does
# not post-render hooks, so the chart's create-user and migrate-database Jobs are not in it) and
# installs what comes out on stdout.
#
#   helm upgrade --install airflow apache-airflow/airflow --version 1.15.0 \
#     --post-renderer ./pipelines/helm/post-renderer.sh
#
# AIRFLOW_SIDECARS_CONFIG chooses the config (default: the seed's presets).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec airflow-sidecars inject --config "${AIRFLOW_SIDECARS_CONFIG:-$here/../examples/seed-presets.yaml}"
