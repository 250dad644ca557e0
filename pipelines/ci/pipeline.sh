#!/usr/bin/env bash
# A CI manifest pipeline: render, inject, validate; one config drives both functions.
#
#   RENDER='helm template airflow apache-airflow/airflow --version 1.15.0 -f values.yaml' \
#     AIRFLOW_SIDECARS_CONFIG=sidecars.yaml pipelines/ci/pipeline.sh > manifests.yaml
#
# Exit status 1 when either function finds an error; stderr has one line per finding.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
config=${AIRFLOW_SIDECARS_CONFIG:-$here/../examples/seed-presets.yaml}
render=${RENDER:-helm template airflow apache-airflow/airflow}
# RENDER is a command line, split on spaces on purpose.
# shellcheck disable=SC2086
$render \
  | airflow-sidecars inject --config "$config" \
  | airflow-sidecars validate --config "$config"
