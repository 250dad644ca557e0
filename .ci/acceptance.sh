#!/bin/bash
# What the acceptance suite (tests/acceptance, marker `acceptance`) needs from the machine, and
# its environments built ahead of the tests (the tests would build them too, on first use):
# - PostgreSQL 15 (the metadata database the rendered pods connect to), Debian's python3.11
#   (the interpreter of the environments, visible inside the pods' chroot), util-linux
#   (unshare, nsenter, setpriv, runuser), iproute2 (`ip`, for a pod's own network namespace);
# - real Airflow 2.8.4, 2.9.3, 3.1.8, 3.2.2, the AWS CLI and moto, from the locks in
#   tests/acceptance/requirements, cached in ${AIRFLOW_SIDECARS_CACHE:-~/.cache/airflow-sidecars-ci}.
# Runs as root (the pods run in mount namespaces, as the pods' uids).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || missing+=(postgresql)
[[ -x /usr/bin/python3.11 ]] || missing+=(python3.11)
command -v unshare >/dev/null && command -v nsenter >/dev/null && command -v setpriv >/dev/null ||
	missing+=(util-linux)
command -v ip >/dev/null || missing+=(iproute2)
if ((${#missing[@]})); then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	# Debian starts a cluster on 5432 where it can; the suite runs its own and needs the
	# chart's ports free for the pods' connections.
	pg_ctlcluster 15 main stop 2>/dev/null || true
fi
# the environments need uv (a test dependency): .ci/run installs the test extras first
python3 tests/acceptance/envs.py
