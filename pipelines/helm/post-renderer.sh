#!/bin/sh
# Helm 3 post-renderer: Helm writes the rendered manifests to stdin (a plain stream) and installs
# what comes out on stdout. Helm 3 only: Helm 4 has no executable post-renderer, it runs a plugin
# (pipelines/helm/plugin). Helm 3 does not post-render hooks: the chart's create-user and
# migrate-database Jobs are not in the stream, so a config section for them fails the install
# (strict) and says why; leave their values to the chart (`from-values --route helm3`) or set
# useHelmHooks: false.
#
#   AIRFLOW_SIDECARS_CONFIG=$PWD/sidecars.yaml \
#     helm upgrade --install airflow apache-airflow/airflow --version 1.15.0 \
#     --post-renderer ./pipelines/helm/post-renderer.sh
#
# AIRFLOW_SIDECARS_CONFIG names the config; there is no default (a forgotten variable must not
# deploy an example). Strict: a config that reaches nothing it names fails the install.
set -eu
if [ -z "${AIRFLOW_SIDECARS_CONFIG:-}" ]; then
  echo "airflow-sidecars post-renderer: set AIRFLOW_SIDECARS_CONFIG to your AirflowSidecars config file; nothing was rendered" >&2
  exit 2
fi
exec airflow-sidecars inject --strict --config "$AIRFLOW_SIDECARS_CONFIG"
