#!/bin/bash
# What the acceptance suite (tests/acceptance, marker `acceptance`) needs from the machine, and
# its environments built ahead of the tests (the tests would build them too, on first use):
# - PostgreSQL 15 (the metadata database the rendered pods connect to), Debian's python3.11
#   (the interpreter of the environments, visible inside the pods' chroot), util-linux
#   (unshare, nsenter, setpriv, runuser), iproute2 (`ip`, for a pod's own network namespace);
# - MIT Kerberos (krb5-kdc, krb5-admin-server: the suite's own realm, tests/acceptance/kdc.py;
#   krb5-user: kinit, klist, kvno, the Airflow image's Kerberos tools in the pods) and nftables
#   (the realm's NAT gateway, in a network namespace of its own);
# - real Airflow 2.8.4, 2.9.3, 2.10.5, 3.0.6, 3.1.8, 3.2.2, the AWS CLI and moto, from the locks in
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
[[ -x /usr/sbin/krb5kdc && -x /usr/sbin/kdb5_util ]] || missing+=(krb5-kdc)
[[ -x /usr/sbin/kadmin.local ]] || missing+=(krb5-admin-server)
command -v kinit >/dev/null && command -v kvno >/dev/null || missing+=(krb5-user)
command -v nft >/dev/null || missing+=(nftables)
# the apache/airflow image's PID 1, which the community chart names in its containers' command
[[ -x /usr/bin/dumb-init ]] || missing+=(dumb-init)
if ((${#missing[@]})); then
	# Debian's postinst scripts start their services (PostgreSQL's cluster, krb5kdc, kadmind)
	# where they can; the suite runs its own. A policy-rc.d that says "no" keeps them from
	# starting, unless the machine already has one (container images do).
	policy=/usr/sbin/policy-rc.d
	ours=""
	if [[ ! -e $policy ]]; then
		ours=1
		trap 'rm -f "$policy"' EXIT # also if the install fails
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	if [[ -n $ours ]]; then
		rm -f "$policy"
		trap - EXIT
	fi
	# And if one started all the same, nothing of Debian's runs afterwards: the chart's ports
	# must be free for the pods' connections (5432), and the realm is the suite's own.
	pg_ctlcluster 15 main stop 2>/dev/null || true
	for service in krb5-kdc krb5-admin-server; do
		invoke-rc.d "$service" stop 2>/dev/null || service "$service" stop 2>/dev/null || true
	done
fi
# the environments need uv (a test dependency): .ci/run installs the test extras first
python3 tests/acceptance/envs.py
