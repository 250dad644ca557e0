#!/usr/bin/env bash
# A CI manifest pipeline: render, inject, validate; one config drives both functions.
#
#   RENDER='helm template airflow apache-airflow/airflow --version 1.15.0 -f values.yaml' \
#     AIRFLOW_SIDECARS_CONFIG=sidecars.yaml pipelines/ci/pipeline.sh > manifests.yaml
#
# The pipe itself is the package's `airflow-sidecars-pipeline` (installed with it, so it is
# there wherever the package is, in a repository without this script too); this script keeps
# the variables and the default render it always had. Exit status 1 when either function finds
# an error (strict: a value or preset that reaches nothing is one) or the render fails; stderr
# has one line per finding. There is no default config: a forgotten AIRFLOW_SIDECARS_CONFIG
# must not deploy an example (exit 2).
set -euo pipefail
# RENDER is a command line, split like a shell's words (quotes work, expansions do not).
exec airflow-sidecars-pipeline --render "${RENDER:-helm template airflow apache-airflow/airflow}" "$@"
