"""The validator: what copy-pasted sidecars get wrong, found before it reaches a cluster.

It never changes an item (the output is the input, byte for byte, plus results in KRM mode).
Built-in checks run on every Airflow pod spec (airflow.py finds them: workloads, and the
KubernetesExecutor pod template inside its ConfigMap). With an AirflowSidecars config it also
checks that everything the config declares is present: that is exactly what `inject` would
still have to add, so the same planning answers it, and one config drives both functions.

Every finding carries a stable rule id in `tags.rule`; `spec.validate.disable` turns rules off.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from airflow_sidecars.charts.chart import (
    CHART_CONTAINERS,
    CHART_KEYTAB_CONTAINERS,
    CHART_KEYTAB_VOLUME,
    EXTRA_CONTAINERS,
    KERBEROS_CONTAINERS,
)
from airflow_sidecars.configuration.config import Config
from airflow_sidecars.krmio import krm
from airflow_sidecars.krmio.results import Result, Severity
from airflow_sidecars.pods.podshape import shape_problems
from airflow_sidecars.pods.podspec import ListName, containers
from airflow_sidecars.pods.quantity import resource_problems
from airflow_sidecars.renders.airflow import Workload, find_workloads, volume_claim_names
from airflow_sidecars.renders.release import releases
from airflow_sidecars.text.yamlread import UnsupportedYaml, dotted, load_one, node_at, to_data
from airflow_sidecars.transforms import proxycheck
from airflow_sidecars.transforms.rules import ALWAYS_ON, plain_sidecar_message, severity

# Chart containers that run the Airflow image: a container of the same name with another
# image is the user's (the seed's own Kerberos sidecar is called `worker-kerberos`).
_AIRFLOW_IMAGE_CONTAINERS = KERBEROS_CONTAINERS

# Names that hold secrets by convention. Airflow's `_CMD` and `_SECRET` option suffixes name a
# command or a secrets-backend key, not a secret, and are left alone.
_SECRET_NAME = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY|FERNET_KEY|CREDENTIALS?)",
    re.IGNORECASE,
)
_AIRFLOW_INDIRECT = re.compile(r"^AIRFLOW__\w+__\w+_(CMD|SECRET)$")
_URI_WITH_PASSWORD = re.compile(r"^[a-zA-Z][\w+.-]*://[^:/@\s]+:[^@\s]+@")


class Pod(NamedTuple):
    """One pod spec to check, as data, with where its fields are for results."""

    workload: Workload
    spec: dict[str, Any]
    field: str  # the field results point at: the pod spec, or the ConfigMap data key
    inner: str  # prefix for paths inside the pod spec, in messages
    # containers that the config says may run plain here (its section's allowPlainSidecars)
    plain_allowed: frozenset[str] = frozenset()


def validate_phases(
    inp: krm.Input, config: Config | None, declared: list[list[Result]]
) -> list[list[Result]]:
    """validate's results by phase (edits.Run.mark): the checks of each pod, the proxies of
    each pod, those missing in each release, then each phase of `declared`."""
    disabled = set(config.disabled_rules) if config is not None else set()
    findings: list[Result] = []
    allowed = _plain_allowed(config)
    pods = []
    for found in _pods(inp.items, findings):
        pod = found._replace(plain_allowed=allowed.get(_switches(found.workload), frozenset()))
        pods.append(pod)
        for check in CHECKS:
            findings += check(pod)
    proxies, missing = _proxy_findings(inp.items, pods)
    return [
        [f for f in phase if f.tags.get("rule") not in disabled or f.tags["rule"] in ALWAYS_ON]
        for phase in [findings, proxies, missing, *declared]
    ]


def nothing_checked(inp: krm.Input, strict: bool) -> list[Result]:
    """Objects, but no Airflow workload among them: without a config nothing else would say
    so, and "0 workloads checked" passing in CI hides a render of the wrong chart, a wrong
    file or a filter that dropped the chart's labels. (No objects at all is `no-objects`.)"""
    if not inp.items or find_workloads(inp.items):
        return []
    # (no count of the objects: the summary line has it, and a part of a large stream
    # would say its own)
    message = (
        "nothing was checked: the input holds objects but no Airflow workload. validate "
        "looks for the Deployments, StatefulSets, Jobs and CronJobs of the Apache Airflow chart "
        "(label `tier: airflow`, or `app: airflow` for the community chart, with a `component` "
        "label such as `scheduler` or `worker`) and the ConfigMap that holds the "
        "KubernetesExecutor pod template; give it the chart's rendered manifests"
    )
    tags = {"function": "validate", "rule": "no-workloads"}
    return [Result(message, "error" if strict else "warning", tags=tags)]


def _proxy_findings(items: list[krm.Item], pods: list[Pod]) -> tuple[list[Result], list[Result]]:
    """Database proxies: per pod, and across each release's pods (proxycheck.py)."""
    if not any(proxycheck.proxies(pod.spec) for pod in pods):
        return [], []  # the common case: no release here uses a proxy
    facts = releases(items, [pod.workload for pod in pods])
    found = []
    for pod in pods:
        release = facts.get((pod.workload.release, pod.workload.item.namespace))
        found += proxycheck.pod_findings(pod, pod.spec, release, _finding)
    return found, proxycheck.missing([(pod, pod.spec) for pod in pods], facts, _finding)


def _plain_allowed(config: Config | None) -> dict[str, frozenset[str]]:
    """Section -> the containers its config says may run plain in pods that must complete
    (`allowPlainSidecars: true`): the names in that section's extraContainers."""
    if config is None:
        return {}
    allowed: dict[str, set[str]] = {}
    for path, value_list in config.values.items():
        if path[0] in config.plain_sidecars_allowed and path[-1] == EXTRA_CONTAINERS:
            names = allowed.setdefault(path[0], set())
            names.update(str(entry.get("name")) for entry in value_list.entries)
    return {section: frozenset(names) for section, names in allowed.items()}


def _switches(workload: Workload) -> str:
    """The config section whose nativeSidecars / allowPlainSidecars apply to the pod: its own,
    or, for the community chart's pod template (a section of none), `airflow`."""
    return workload.section or "airflow"


def _pods(items: list[krm.Item], findings: list[Result]) -> Iterator[Pod]:
    for workload in find_workloads(items):
        item = workload.item
        try:
            data = to_data(item.node, f"{item.kind} {item.name}")
        except UnsupportedYaml as error:
            findings.append(_result(workload, "error", "unsupported-yaml", "", str(error)))
            continue
        if workload.template_key is None:
            spec = _data_at(data, workload.pod_path)
            path = dotted(workload.pod_path)
            if isinstance(spec, dict) and _well_formed(workload, spec, path, path, findings):
                yield Pod(workload, spec, path, path)
            continue
        field = f"data.{workload.template_key}"
        text = str(getattr(node_at(item.node, ("data", workload.template_key)), "value", ""))
        try:
            template = load_one(text, f"the pod template in {item.kind} {item.name}").data
        except UnsupportedYaml:
            template = None
        spec = template.get("spec") if isinstance(template, dict) else None
        if isinstance(spec, dict):
            if _well_formed(workload, spec, field, f"{field}#spec", findings):
                yield Pod(workload, spec, field, f"{field}#spec")
        else:
            message = f"{field} does not hold one Pod document; its pod spec was not checked"
            findings.append(_result(workload, "warning", "pod-template", field, message))


def _data_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if not isinstance(data, dict) or step not in data:
            return None
        data = data[step]
    return data


def _well_formed(
    workload: Workload, spec: Any, field: str, inner: str, findings: list[Result]
) -> bool:
    problems = shape_problems(spec)
    for path, what in problems:
        message = f"{inner}{'.' + dotted(path) if path else ''} {what}; the pod was not checked"
        findings.append(_result(workload, "error", "malformed-pod", field, message))
    return not problems


def _result(workload: Workload, severity: Severity, rule: str, field: str, message: str) -> Result:
    item = workload.item
    return Result(
        message, severity, item.ref(), field, item.file(), {"function": "validate", "rule": rule}
    )


def _finding(
    pod: Pod, rule: str, inner_path: str, message: str, verdict: Severity | None = None
) -> Result:
    """A finding at a field inside the pod spec; a pod template's results point at its data
    key (the field a ConfigMap has) and name the inner path in the message. `verdict`: for a
    rule whose verdict varies, the finding's."""
    verdict = verdict or severity(rule, "validate")
    if pod.workload.is_pod_template:
        return _result(pod.workload, verdict, rule, pod.field, f"{inner_path}: {message}")
    return _result(pod.workload, verdict, rule, f"{pod.field}.{inner_path}", message)


# The order findings come in: init containers first, as the kubelet starts them.
_IN_ORDER: tuple[ListName, ...] = ("initContainers", "containers")


def _containers(spec: dict[str, Any]) -> Iterator[tuple[ListName, int, dict[str, Any]]]:
    return containers(spec, _IN_ORDER)


# -- the checks -------------------------------------------------------------------------------


def _missing_volumes(pod: Pod) -> list[Result]:
    defined = {v.get("name") for v in pod.spec.get("volumes") or [] if isinstance(v, dict)}
    defined |= volume_claim_names(pod.workload.item)
    found = []
    for list_name, index, container in _containers(pod.spec):
        for number, mount in enumerate(container.get("volumeMounts") or []):
            name = mount.get("name") if isinstance(mount, dict) else None
            if name not in defined:
                message = (
                    f"container {container.get('name')!r} mounts volume {name!r}, which this pod "
                    "does not define; the API server rejects the pod"
                )
                path = f"{list_name}[{index}].volumeMounts[{number}].name"
                found.append(_finding(pod, "missing-volume", path, message))
    return found


def _duplicate_containers(pod: Pod) -> list[Result]:
    seen: dict[str, str] = {}
    found = []
    for list_name, index, container in _containers(pod.spec):
        name, here = container.get("name"), f"{list_name}[{index}]"
        if not isinstance(name, str):
            continue
        if name in seen:
            message = f"container name {name!r} is used twice in this pod (also {seen[name]})"
            found.append(_finding(pod, "duplicate-container", f"{here}.name", message))
        else:
            seen[name] = here
    return found


def _plain_sidecars(pod: Pod) -> list[Result]:
    """Every plain container beside the main one in a pod that must complete. One the config
    allows (`allowPlainSidecars`) is reported all the same, as a warning that says so: with
    the config or without it, validate finds the same containers (the config is the user's
    word that they exit, which no render shows)."""
    workload = pod.workload
    if not workload.is_job:
        return []
    containers = pod.spec.get("containers") or []
    names = [c.get("name") for c in containers if isinstance(c, dict)]
    # The chart's main container; in a pod whose own is unknown, the first one.
    main = workload.main_container
    if main not in names:
        main = str(names[0]) if names else ""
    found = []
    for index, container in enumerate(containers):
        name = container.get("name") if isinstance(container, dict) else None
        if name == main:
            continue
        if isinstance(container, dict) and proxycheck.is_proxy(container):
            continue  # plain-proxy says it, and what a proxy needs besides
        allowed = name in pod.plain_allowed
        message = plain_sidecar_message(str(name), workload, _switches(workload), allowed)
        verdict: Severity = "warning" if allowed else "error"
        found.append(_finding(pod, "plain-sidecar", f"containers[{index}]", message, verdict))
    return found


def _base_first(pod: Pod) -> list[Result]:
    if not pod.workload.is_pod_template:
        return []
    containers = pod.spec.get("containers") or []
    first = containers[0].get("name") if containers and isinstance(containers[0], dict) else None
    if first == "base":
        return []
    message = (
        f"the first container is {first!r}, not 'base': Airflow merges each task's settings "
        "into the first container of the pod template, by position"
    )
    return [_finding(pod, "base-not-first", "containers[0]", message)]


def _exposed_keytabs(pod: Pod) -> list[Result]:
    volumes = [v for v in pod.spec.get("volumes") or [] if isinstance(v, dict)]
    keytabs = {
        v.get("name")
        for v in volumes
        if "keytab" in f"{v.get('name')} {v.get('secret', {})}".lower()
    }
    chart_keytab = _has_chart_keytab(pod, volumes)
    found = []
    for list_name, index, container in _containers(pod.spec):
        if _is_kerberos_renewer(container):
            continue
        for number, mount in enumerate(container.get("volumeMounts") or []):
            if not isinstance(mount, dict) or mount.get("name") not in keytabs:
                continue
            if chart_keytab and _is_charts_keytab_mount(container, mount):
                continue  # the chart's own Kerberos layout, not something a config added
            message = (
                f"container {container.get('name')!r} sees the Kerberos keytab "
                f"({mount.get('name')!r}); only the ticket renewer needs it - share the "
                "credential cache instead"
            )
            path = f"{list_name}[{index}].volumeMounts[{number}]"
            found.append(_finding(pod, "keytab-exposed", path, message))
    return found


def _has_chart_keytab(pod: Pod, volumes: list[dict[str, Any]]) -> bool:
    """Whether the pod has the official chart's own keytab volume (chart.py says its shape)."""
    if pod.workload.chart.flavour != "official":
        return False
    for volume in volumes:
        secret = volume.get("secret")
        secret_name = secret.get("secretName") if isinstance(secret, dict) else None
        if volume.get("name") == CHART_KEYTAB_VOLUME and str(secret_name).endswith(
            CHART_KEYTAB_VOLUME
        ):
            return True
    return False


def _is_charts_keytab_mount(container: dict[str, Any], mount: dict[str, Any]) -> bool:
    """The chart's mount of its keytab into a container of its own that it gives it to (a
    config cannot add a container of those names: it would be a name-conflict)."""
    return (
        mount.get("name") == CHART_KEYTAB_VOLUME
        and container.get("name") in CHART_KEYTAB_CONTAINERS
    )


def _is_kerberos_renewer(container: dict[str, Any]) -> bool:
    words = [str(container.get("name")), *map(str, container.get("command") or [])]
    words += map(str, container.get("args") or [])
    return any("kerberos" in word or "kinit" in word for word in words)


def _literal_secrets(pod: Pod) -> list[Result]:
    found = []
    for list_name, index, container in _containers(pod.spec):
        for number, entry in enumerate(container.get("env") or []):
            if not isinstance(entry, dict):
                continue
            name, value = str(entry.get("name")), entry.get("value")
            if not isinstance(value, str) or not value:
                continue
            by_name = _SECRET_NAME.search(name) and not _AIRFLOW_INDIRECT.match(name)
            if by_name or _URI_WITH_PASSWORD.match(value):
                # Never repeat the value: results end up in CI logs.
                message = (
                    f"env var {name} of container {container.get('name')!r} holds a literal "
                    "secret; take it from a Secret (valueFrom.secretKeyRef)"
                )
                path = f"{list_name}[{index}].env[{number}].value"
                found.append(_finding(pod, "literal-secret", path, message))
    return found


def _sidecars(pod: Pod) -> Iterator[tuple[str, int, dict[str, Any]]]:
    main = pod.workload.main_container
    main_image = next(
        (c.get("image") for _, _, c in _containers(pod.spec) if c.get("name") == main), None
    )
    for list_name, index, container in _containers(pod.spec):
        name = container.get("name")
        chart_made = name in CHART_CONTAINERS and (
            name not in _AIRFLOW_IMAGE_CONTAINERS or container.get("image") == main_image
        )
        native = list_name == "initContainers" and container.get("restartPolicy") == "Always"
        if not chart_made and (list_name == "containers" or native):
            yield list_name, index, container


def _unpinned_images(pod: Pod) -> list[Result]:
    found = []
    for list_name, index, container in _sidecars(pod):
        image = str(container.get("image") or "")
        if "@" in image:
            continue
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if tag in ("", "latest"):
            message = (
                f"sidecar {container.get('name')!r} runs {image or 'no image'!r}: "
                "pin a tag (or a digest) so that every render deploys the same thing"
            )
            found.append(_finding(pod, "unpinned-image", f"{list_name}[{index}].image", message))
    return found


def _missing_requests(pod: Pod) -> list[Result]:
    found = []
    for list_name, index, container in _sidecars(pod):
        resources = container.get("resources")
        if not (isinstance(resources, dict) and resources.get("requests")):
            message = (
                f"sidecar {container.get('name')!r} has no resource requests; the scheduler "
                "places the pod as if it needed nothing"
            )
            found.append(_finding(pod, "no-requests", f"{list_name}[{index}]", message))
    return found


def _bad_quantities(pod: Pod) -> list[Result]:
    """Resources the API server refuses (quantity.py), in every container, the chart's too."""
    found = []
    for list_name, index, container in _containers(pod.spec):
        for path, problem in resource_problems(container.get("resources")):
            message = (
                f"container {container.get('name')!r}: {problem}; the API server rejects the pod"
            )
            found.append(_finding(pod, "bad-quantity", f"{list_name}[{index}].{path}", message))
    return found


CHECKS = (
    _missing_volumes,
    _duplicate_containers,
    _plain_sidecars,
    _base_first,
    _exposed_keytabs,
    _literal_secrets,
    _unpinned_images,
    _missing_requests,
    _bad_quantities,
)
