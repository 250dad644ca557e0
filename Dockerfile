# One image, two KRM functions: `inject` (the default, last stage) and `validate`. From a
# checkout, with Docker or podman:
#
#   V=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' functions/airflow_sidecars/__init__.py)
#   docker build --build-arg VERSION=$V -t airflow-sidecars:$V .
#   docker build --build-arg VERSION=$V --target validate -t airflow-sidecars-validate:$V .
#
# VERSION is the package's version, the one in the tag. It goes into the image's labels, and
# the build fails unless the wheel it installs is that version (without VERSION too), so that
# neither the label nor the tag can name another version than the code inside.
#
# The first stage builds the project's wheel from the checkout, and takes the build backend
# and the runtime dependencies from PyPI. Offline, it takes them from the wheels in the
# context's `wheelhouse/` instead, and from nowhere else: `.ci/image.sh` builds so, with
# `--network none`, the wheels it downloaded beforehand, and a context that is a clean copy
# of the sources (.dockerignore keeps a checkout's context to the same files).
#
# kustomize and kpt run a container function as `docker run --rm -i --network none --user
# nobody --security-opt=no-new-privileges ... IMAGE` (docs/krm-contract.md §2.1, §2.5, §2.6):
# the image must work as uid 65534, without network, and here also with a read-only root
# filesystem.

# A public Python on Debian bookworm for users; CI passes a base made from Debian packages
# (localhost/debian-python:bookworm, Python 3.11), since no registry is reachable there. Any
# glibc Python 3.10+ with `venv` will do: the wheels are built or fetched for the base's own
# Python (an offline wheelhouse must match it: CI's holds cp311 manylinux wheels).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS wheels
# Copied, not mounted, so that any change of what the wheel is made of builds it again.
COPY pyproject.toml README.md /src/
COPY functions/ /src/functions/
COPY schemas/ /src/schemas/
COPY wheelhouse/ /wheelhouse/
# The venv gives every base the same pip (Debian's python3 has none of its own). With wheels
# in wheelhouse/, pip may use only them (--no-index): an offline build that cannot quietly
# reach for an index.
RUN python3 -m venv /tmp/pip \
 && if ls /wheelhouse/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheelhouse; fi \
 && /tmp/pip/bin/pip wheel -q --no-cache-dir --disable-pip-version-check --wheel-dir /wheels \
        "$@" /src \
 && rm -rf /tmp/pip /src /wheelhouse

FROM ${BASE_IMAGE} AS build
ARG VERSION
COPY --from=wheels /wheels/ /wheels/
# --no-index: only the wheels of the stage above, nothing from any index. pip and setuptools are
# needed only to install, so they leave the venv; the stage is thrown away with the wheels.
# Then the installed command must run and say VERSION.
RUN python3 -m venv /opt/airflow-sidecars \
 && /opt/airflow-sidecars/bin/pip install --no-index --no-cache-dir --find-links /wheels \
        airflow-sidecars \
 && /opt/airflow-sidecars/bin/pip uninstall -q -y pip setuptools \
 && installed=$(/opt/airflow-sidecars/bin/airflow-sidecars --version) \
 && if [ "$installed" != "airflow-sidecars $VERSION" ]; then \
        echo "the wheel installed says '$installed', but the build was given VERSION='$VERSION'" \
            "(--build-arg VERSION=<__version__ of functions/airflow_sidecars/__init__.py>)" >&2; \
        exit 1; \
    fi

FROM ${BASE_IMAGE} AS function
# Nothing may be written at run time (read-only root filesystem, and nothing to gain from a
# cache in a container that lives for one call), so every module is compiled here, once:
# the venv, and the standard library, whose .pyc files some bases strip (the python images
# do; Debian's are already there, and compileall skips up-to-date files). Without them every
# run would compile what it imports again.
ENV PYTHONDONTWRITEBYTECODE=1
COPY --from=build /opt/airflow-sidecars /opt/airflow-sidecars
RUN python3 -m compileall -q -j 0 /opt/airflow-sidecars \
 && python3 -m compileall -q -j 0 \
        -x '/(test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip)/' \
        "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
# The KRM functions specification asks that a function run as `nobody`; numeric, so that it
# holds whatever the base's /etc/passwd says, and `runAsNonRoot` can check it.
USER 65534:65534
# The OCI annotations that both functions share (each adds its title and description). The
# addresses are the project's own (pyproject.toml [project.urls]): it has no public
# repository yet, so the source is its home page.
ARG VERSION
LABEL org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.url="https://airflow-sidecars.dev" \
      org.opencontainers.image.source="https://airflow-sidecars.dev" \
      org.opencontainers.image.documentation="https://airflow-sidecars.dev/docs/architecture"

# The title is the image's name; the description is its catalog entry's
# (functions/validate/metadata.yaml; tests/e2e/test_image.py keeps them equal).
FROM function AS validate
LABEL org.opencontainers.image.title="airflow-sidecars-validate" \
      org.opencontainers.image.description="Check the Airflow pods of rendered Apache Airflow Helm manifests for what copy-pasted sidecars get wrong, changing nothing."
ENTRYPOINT ["/opt/airflow-sidecars/bin/airflow-sidecars", "validate"]

# Last, so a plain `docker build` (no --target) gives the mutator.
FROM function AS inject
LABEL org.opencontainers.image.title="airflow-sidecars" \
      org.opencontainers.image.description="Add sidecars, init containers, volumes and mounts to the Airflow pods of rendered Apache Airflow Helm manifests."
ENTRYPOINT ["/opt/airflow-sidecars/bin/airflow-sidecars", "inject"]
