"""validate's checks of database proxies (the Cloud SQL Auth Proxy, v1 and v2), however they
got into the pods: the cloudSqlProxy preset, copy-pasted values, a patch.

- `proxy-twice`: two proxies in one pod (they cannot both listen on the port).
- `plain-proxy`: a proxy as a plain container. In a Job or a KubernetesExecutor task pod the
  pod never completes (an error); elsewhere Airflow may start before the proxy listens (a
  warning). A native sidecar fixes both.
- `proxy-order`: a native proxy after an init container that needs the database (it waits for
  a proxy that has not started).
- `proxy-missing`: in a release where some pod runs a proxy, a pod that opens the database
  connection itself and has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from airflow_sidecars.krmio.results import Result, Severity
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.renders.dbconn import direct_endpoints
from airflow_sidecars.renders.release import Release, ReleaseKey

IMAGES = ("cloud-sql-proxy", "cloudsql-docker/gce-proxy")
CONTAINERS = "containers"  # where a missing proxy would go

# (the pod, the rule, the path in the pod spec, the message, the severity) -> a Result
Finding = Callable[[Any, str, str, str, Severity], Result]


class Proxy(NamedTuple):
    list_name: str
    position: int  # in its list
    name: str
    native: bool


def proxies(spec: dict[str, Any]) -> list[Proxy]:
    found = []
    for list_name in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(list_name) or []):
            if isinstance(container, dict) and is_proxy(container):
                native = (
                    list_name == "initContainers" and container.get("restartPolicy") == "Always"
                )
                found.append(Proxy(list_name, index, str(container.get("name")), native))
    return found


def is_proxy(container: dict[str, Any]) -> bool:
    image = str(container.get("image") or "")
    return any(name in image for name in IMAGES)


def pod_findings(
    pod: Any, spec: dict[str, Any], release: Release | None, finding: Finding
) -> list[Result]:
    """The checks of one pod: `pod` is validate's Pod (its workload says whether it must
    complete), `finding` makes its results."""
    workload: Workload = pod.workload
    found = proxies(spec)
    results = []
    for proxy in found[1:]:
        message = (
            f"container {proxy.name!r} is a second database proxy in this pod (the first is "
            f"{found[0].name!r}); they cannot both listen on one port: keep one"
        )
        where = f"{proxy.list_name}[{proxy.position}]"
        results.append(finding(pod, "proxy-twice", where, message, "error"))
    for proxy in found:
        where = f"{proxy.list_name}[{proxy.position}]"
        if proxy.list_name == "containers":
            severity: Severity = "error" if workload.is_job else "warning"
            message = _plain_message(proxy, workload)
            results.append(finding(pod, "plain-proxy", where, message, severity))
        elif proxy.native:
            late = _needs_database_before(spec, proxy.position, release)
            if late is not None:
                message = (
                    f"init container {late!r} connects to the database before the proxy "
                    f"{proxy.name!r} starts, and waits for it forever: move the proxy first"
                )
                results.append(finding(pod, "proxy-order", where, message, "error"))
    return results


def _plain_message(proxy: Proxy, workload: Workload) -> str:
    if workload.is_job:
        what = "KubernetesExecutor task pods" if workload.is_pod_template else "this Job's pods"
        return (
            f"database proxy {proxy.name!r} is a plain container: {what} never complete while "
            "it runs; make it a native sidecar (an init container with restartPolicy: Always, "
            "first, with a startup probe), as the cloudSqlProxy preset does"
        )
    return (
        f"database proxy {proxy.name!r} is a plain container: Airflow may start before it "
        "listens and fail its first connections; make it a native sidecar (an init container "
        "with restartPolicy: Always, first, with a startup probe), as the cloudSqlProxy "
        "preset does"
    )


def _needs_database_before(spec: dict[str, Any], index: int, release: Release | None) -> str | None:
    """The first init container before `index` that opens the database connection."""
    for container in (spec.get("initContainers") or [])[:index]:
        if isinstance(container, dict) and direct_endpoints({"containers": [container]}, release):
            return str(container.get("name"))
    return None


def missing(
    pods: Iterable[tuple[Any, dict[str, Any]]],
    facts: dict[ReleaseKey, Release],
    finding: Finding,
) -> list[Result]:
    """`proxy-missing`: only in a release that runs a proxy somewhere (a release that never
    does talks to its database some other way)."""
    pods = list(pods)
    with_proxy = {
        (pod.workload.release, pod.workload.item.namespace) for pod, spec in pods if proxies(spec)
    }
    results = []
    for pod, spec in pods:
        key = (pod.workload.release, pod.workload.item.namespace)
        if key not in with_proxy or proxies(spec):
            continue
        if direct_endpoints(spec, facts.get(key)):
            message = (
                "this pod opens the database connection itself and has no proxy, while other "
                "pods of the release reach the database through one"
            )
            results.append(finding(pod, "proxy-missing", CONTAINERS, message, "error"))
    return results
