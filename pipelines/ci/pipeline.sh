#!/usr/bin/env bash
# A CI manifest pipeline: render, inject, validate; one config drives both functions.
#
#   RENDER='helm template airflow apache-airflow/airflow --version 1.15.0 -f values.yaml' \
#     AIRFLOW_SIDECARS_CONFIG=sidecars.yaml pipelines/ci/pipeline.sh > manifests.yaml
#
# Exit status 1 when either function finds an error (strict: a value or preset that reaches
# nothing is one); stderr has one line per finding. There is no default config: a forgotten
# AIRFLOW_SIDECARS_CONFIG must not deploy an example.
set -euo pipefail
if [[ -z "${AIRFLOW_SIDECARS_CONFIG:-}" ]]; then
  echo "pipeline.sh: set AIRFLOW_SIDECARS_CONFIG to your AirflowSidecars config file" >&2
  exit 2
fi
config=$AIRFLOW_SIDECARS_CONFIG
render=${RENDER:-helm template airflow apache-airflow/airflow}
# RENDER is a command line, split on spaces on purpose.
# shellcheck disable=SC2086
$render \
  | airflow-sidecars inject --strict --config "$config" \
  | airflow-sidecars validate --strict --config "$config"
