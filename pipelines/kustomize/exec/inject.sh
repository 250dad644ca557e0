#!/bin/sh
# kustomize's exec KRM function (sidecars.yaml): a ResourceList on stdin whose functionConfig
# is the config, the ResourceList with the sidecars added on stdout. kustomize runs it from the
# kustomization's folder, with its own environment: `airflow-sidecars` must be on PATH.
exec airflow-sidecars inject
