# One image, two KRM functions: `inject` (the default, last stage) and `validate`.
#
#   podman build --network none --target inject   -t airflow-sidecars:0.1.0          CONTEXT
#   podman build --network none --target validate -t airflow-sidecars-validate:0.1.0 CONTEXT
#
# CONTEXT holds only `wheels/`: the project's wheel and its runtime dependencies, built and
# downloaded outside (`.ci/image.sh` does it), so that the build needs no network and no
# compiler, and the image holds exactly the wheels that were tested.
#
# kustomize and kpt run a container function as `docker run --rm -i --network none --user
# nobody --security-opt=no-new-privileges ... IMAGE` (docs/krm-contract.md §2.1, §2.5, §2.6):
# the image must work as uid 65534, without network, and here also with a read-only root
# filesystem.

# A public Python on Debian bookworm for users; CI passes a base made from Debian packages
# (localhost/debian-python:bookworm, Python 3.11), since no registry is reachable there. The
# wheels are cp311 manylinux: the base must be a glibc Python 3.11 with `venv`.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
COPY wheels/ /wheels/
# --no-index: only the wheels in the context, nothing from any index. pip and setuptools are
# needed only to install, so they leave the venv; the stage is thrown away with the wheels.
RUN python3 -m venv /opt/airflow-sidecars \
 && /opt/airflow-sidecars/bin/pip install --no-index --no-cache-dir --find-links /wheels \
        airflow-sidecars \
 && /opt/airflow-sidecars/bin/pip uninstall -q -y pip setuptools \
 && /opt/airflow-sidecars/bin/airflow-sidecars --version

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

FROM function AS validate
ENTRYPOINT ["/opt/airflow-sidecars/bin/airflow-sidecars", "validate"]

# Last, so a plain `docker build` (no --target) gives the mutator.
FROM function AS inject
ENTRYPOINT ["/opt/airflow-sidecars/bin/airflow-sidecars", "inject"]
