#!/bin/bash
# The function image, built on the CI machine: no registry, no Docker daemon. podman with runc
# (crun fails on hosts with hybrid cgroups); a base image made from Debian packages with
# mmdebstrap (no registry to pull one from); the build backend and the dependencies
# downloaded here, into the context's wheelhouse/, from which the Dockerfile builds the wheel
# and installs, offline.
#
#   source .ci/image.sh    # what .ci/run does: builds, then exports the variables below
#   bash .ci/image.sh      # builds only
#
# Exports AIRFLOW_SIDECARS_IMAGE and AIRFLOW_SIDECARS_VALIDATE_IMAGE (the tests use them),
# CONTAINERS_CONF and CONTAINERS_STORAGE_CONF (podman's config and image store, in the work
# folder), and PATH with a `docker` that is podman first (kustomize runs `docker`).
#
# Idempotent, and fast the second time: everything lives in the work folder
# ${AIRFLOW_SIDECARS_CI_WORK:-$HOME/.cache/airflow-sidecars-ci} - the Debian root filesystem,
# the downloaded wheels, podman's images - and the images are rebuilt only when what goes into
# them (the sources, the Dockerfile, the dependencies) changed.

# --- the environment: cheap, set every time --------------------------------------------------
_as_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# the package's one version: __version__ in its __init__.py (pyproject.toml reads it from there)
_as_version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' \
	"$_as_root/functions/airflow_sidecars/__init__.py")
export AIRFLOW_SIDECARS_CI_WORK=${AIRFLOW_SIDECARS_CI_WORK:-$HOME/.cache/airflow-sidecars-ci}
export AIRFLOW_SIDECARS_IMAGE=localhost/airflow-sidecars:$_as_version
export AIRFLOW_SIDECARS_VALIDATE_IMAGE=localhost/airflow-sidecars-validate:$_as_version
export CONTAINERS_CONF=$AIRFLOW_SIDECARS_CI_WORK/containers.conf
export CONTAINERS_STORAGE_CONF=$AIRFLOW_SIDECARS_CI_WORK/storage.conf
case ":$PATH:" in
*":$AIRFLOW_SIDECARS_CI_WORK/bin:"*) ;;
*) export PATH="$AIRFLOW_SIDECARS_CI_WORK/bin:$PATH" ;;
esac

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
	# Sourced: build in a child bash, where `set -e` holds. (In the caller it may not: bash
	# ignores -e inside a function or subshell that runs as the left side of `||` or `if`.)
	_as_script="$_as_root/.ci/image.sh"
	unset _as_root _as_version
	if ! bash "$_as_script"; then
		unset _as_script
		echo "image.sh: the function image could not be built" >&2
		return 1
	fi
	unset _as_script
	return 0
fi

# --- the build: run as a script ---------------------------------------------------------------
set -euo pipefail
ROOT=$_as_root
# The version: the images' tag, and the Dockerfile's VERSION (their labels; the build checks
# it against the wheel's).
VERSION=$_as_version
if [[ -z $VERSION ]]; then
	echo "image.sh: no __version__ in functions/airflow_sidecars/__init__.py" >&2
	exit 1
fi
WORK=$AIRFLOW_SIDECARS_CI_WORK
BASE=localhost/debian-python:bookworm
mkdir -p "$WORK/bin" "$WORK/tmp" "$WORK/deps"
# podman and buildah stage layers in TMPDIR (default /var/tmp): keep them with the store.
export TMPDIR="$WORK/tmp" DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

since() { # seconds since an $EPOCHREALTIME, one decimal
	local us=$((${EPOCHREALTIME/./} - ${1/./}))
	printf '%4d.%d s' $((us / 1000000)) $((us / 100000 % 10))
}
step() { # step LABEL COMMAND...: run it, say how long it took
	local label=$1 start=$EPOCHREALTIME
	shift
	"$@"
	echo "image.sh: $(since "$start")  $label" >&2
}
started=$EPOCHREALTIME

# 1. Tools. runc, not crun: crun refuses this host's hybrid cgroups.
if ! command -v podman >/dev/null || ! command -v runc >/dev/null ||
	! command -v mmdebstrap >/dev/null; then
	step "apt-get update" apt-get update -qq
	step "apt-get install podman runc mmdebstrap" \
		apt-get install -y -qq --no-install-recommends podman runc mmdebstrap >/dev/null
fi

# 2. podman's config. The host does not let a container raise its limits (no CAP_SYS_RESOURCE),
# so podman's default rlimits (1048576 files) must come down; cgroupfs and a file event log
# need no systemd.
cat >"$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
cat >"$WORK/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
CONF
# kustomize hard-codes `docker`. The wrapper names the config itself, so it works from a
# process whose environment lost the variables.
cat >"$WORK/bin/docker" <<WRAPPER
#!/bin/sh
export CONTAINERS_CONF="\${CONTAINERS_CONF:-$WORK/containers.conf}"
export CONTAINERS_STORAGE_CONF="\${CONTAINERS_STORAGE_CONF:-$WORK/storage.conf}"
exec podman "\$@"
WRAPPER
chmod +x "$WORK/bin/docker"

# 3. The base: Debian's python3 (3.11) from packages, as no registry is reachable. mmdebstrap is
# the slow step (25-30 s here), so its tar is kept, also for when the image store is wiped.
# Only bookworm itself, no security suite: this base is for the tests, users get BASE_IMAGE's
# default.
if ! podman image exists "$BASE"; then
	if [[ ! -f "$WORK/rootfs.tar" ]]; then
		# the Debian mirror that apt on this machine already uses
		mirror=$(grep -rhE '^[[:space:]]*(URIs:|deb )' /etc/apt/sources.list \
			/etc/apt/sources.list.d/ 2>/dev/null |
			grep -oE 'https?://[^ ]*/debian( |$)' | head -n 1 | tr -d ' ' || true)
		step "mmdebstrap bookworm (python3, python3-venv)" \
			mmdebstrap --quiet --variant=essential --include=python3,python3-venv \
			--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
			--dpkgopt='path-exclude=/usr/share/locale/*' \
			bookworm "$WORK/rootfs.part.tar" ${mirror:+"$mirror"}
		mv "$WORK/rootfs.part.tar" "$WORK/rootfs.tar"
	fi
	step "podman import $BASE" \
		podman import -q --change 'CMD ["/bin/bash"]' "$WORK/rootfs.tar" "$BASE" >/dev/null
fi

# 4. What goes into the image: a clean copy of the sources (a wheel built in the work tree
# would pick up whatever a stale build/ folder holds), the build context as a checkout's
# `docker build .` sees it. Its hash, with the Dockerfile and the base image's id, decides
# whether to rebuild.
rm -rf "$WORK/src"
mkdir -p "$WORK/src"
tar -C "$ROOT" --exclude=__pycache__ -cf - pyproject.toml README.md functions schemas \
	wheelhouse/README.md .dockerignore | tar -C "$WORK/src" -xf -
cp "$ROOT/Dockerfile" "$WORK/src/Dockerfile"
podman image inspect --format '{{.Id}}' "$BASE" >"$WORK/src/base-image-id"
source_hash=$(cd "$WORK/src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
	sha256sum | cut -c1-16)
label=dev.airflow-sidecars.source
built() { # the image exists and was built from these sources
	[[ $(podman image inspect --format "{{index .Labels \"$label\"}}" "$1" 2>/dev/null) == \
		"$source_hash" ]]
}
if built "$AIRFLOW_SIDECARS_IMAGE" && built "$AIRFLOW_SIDECARS_VALIDATE_IMAGE"; then
	printf 'image.sh: %s and %s are up to date (sources %s)\n' "$AIRFLOW_SIDECARS_IMAGE" \
		"$AIRFLOW_SIDECARS_VALIDATE_IMAGE" "$source_hash" >&2
else
	# The context: the sources, and in wheelhouse/ what the Dockerfile's first stage would
	# take from PyPI (the build backend, the runtime dependencies), so that it builds the
	# project's wheel itself with --network none.
	rm -rf "$WORK/ctx"
	cp -r "$WORK/src" "$WORK/ctx"
	rm "$WORK/ctx/Dockerfile" "$WORK/ctx/base-image-id"
	# The build backend and the runtime dependencies as pyproject.toml declares them, as
	# cp311 manylinux wheels (the image's Python is Debian's 3.11, whatever runs this script).
	# Downloaded again only when the declared requirements change.
	requirements=$(python3 - "$WORK/src/pyproject.toml" <<'PY'
import sys
try:
    import tomllib
except ImportError:  # Python 3.10: pip's own copy of it
    from pip._vendor import tomli as tomllib
with open(sys.argv[1], "rb") as file:
    project = tomllib.load(file)
print("\n".join([*project["build-system"]["requires"], *project["project"]["dependencies"]]))
PY
	)
	if [[ ! -f "$WORK/deps/requirements.txt" ]] ||
		[[ $(cat "$WORK/deps/requirements.txt") != "$requirements" ]]; then
		rm -rf "$WORK/deps" && mkdir -p "$WORK/deps"
		mapfile -t reqs <<<"$requirements"
		step "pip download the build backend and runtime dependencies (cp311 manylinux)" \
			python3 -m pip download -q --only-binary=:all: --python-version 3.11 \
			--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
			-d "$WORK/deps" "${reqs[@]}"
		printf '%s\n' "$requirements" >"$WORK/deps/requirements.txt"
	fi
	cp "$WORK"/deps/*.whl "$WORK/ctx/wheelhouse/"
	for target in inject validate; do
		image=$AIRFLOW_SIDECARS_IMAGE
		[[ $target == validate ]] && image=$AIRFLOW_SIDECARS_VALIDATE_IMAGE
		step "podman build --target $target -t $image" \
			podman build -q --network none --build-arg BASE_IMAGE="$BASE" \
			--build-arg VERSION="$VERSION" --label "$label=$source_hash" \
			--target "$target" -t "$image" \
			-f "$WORK/src/Dockerfile" "$WORK/ctx" >/dev/null
	done
	# Old builds leave dangling layers behind; they are only disk space.
	podman image prune -f >/dev/null
fi
echo "image.sh: $(since "$started")  in all" >&2
