#!/bin/sh
# kustomize's exec KRM function (validate.yaml): every item back unchanged, the findings in
# `results` and on stderr, exit 1 on an error (which stops the build).
exec airflow-sidecars validate
