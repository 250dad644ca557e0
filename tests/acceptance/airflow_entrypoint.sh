#!/bin/bash
# The apache/airflow image's /entrypoint as the acceptance suite models it, both for a container
# without `command` (the image's ENTRYPOINT, deploy.py) and for one that names it (the community
# chart's `dumb-init -- /entrypoint`): `bash ...` and `python ...` run as given, `airflow ...`
# as it is, anything else is an `airflow` subcommand.
# What the image's own script also does first (waiting for the database, creating a user) is
# left out: the charts turn it off (CONNECTION_CHECK_MAX_COUNT=0) or run it as Jobs.
case "${1:-}" in
bash) shift; exec /bin/bash "$@" ;;
python) shift; exec python "$@" ;;
airflow) exec "$@" ;;
*) exec airflow "$@" ;;
esac
