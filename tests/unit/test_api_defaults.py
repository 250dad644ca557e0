"""The API server's defaults (apidefaults.py): each rule of the table, its conditions, and
equality of a live entry with its declaration modulo them."""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import pytest
import yaml

from airflow_sidecars.pods.apidefaults import (
    DEFAULTS,
    SERVICE_ACCOUNT_MOUNT,
    Default,
    Place,
    apply_defaults,
    declared_equal,
    pull_policy,
    stored_quantity,
    undefaulted,
)
from airflow_sidecars.pods.podspec import Additions, Wanted, plan


class Sample(NamedTuple):
    """A declaration without the rule's field, the owner it is compared as, where the field is
    in what the API server stores, the default there, and another value."""

    owner: str
    declared: dict[str, Any]
    path: tuple[str | int, ...]
    default: Any
    other: Any
    place: Place = "template"


def _container(**fields: Any) -> dict[str, Any]:
    return {"name": "sidecar", "image": "busybox:1.36", **fields}


def _pod(**fields: Any) -> dict[str, Any]:
    return {"containers": [_container()], **fields}


_EXEC = {"exec": {"command": ["true"]}}
_AS_PRINTED = "each quantity rounded up to a milli, as printed: `0.5` -> `500m`, `1024Mi` -> `1Gi`"
_FIELD_ENV = {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
_FILE_ENV = {
    "name": "KEY",
    "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "env", "key": "KEY"}},
}

# One per rule of the table, by (owner, field, default as shown).
SAMPLES: dict[tuple[str, str, str], Sample] = {
    ("container", "imagePullPolicy", "Always"): Sample(
        "container", _container(image="busybox"), ("imagePullPolicy",), "Always", "IfNotPresent"
    ),
    ("container", "imagePullPolicy", "IfNotPresent"): Sample(
        "container", _container(), ("imagePullPolicy",), "IfNotPresent", "Always"
    ),
    ("container", "terminationMessagePath", "/dev/termination-log"): Sample(
        "container", _container(), ("terminationMessagePath",), "/dev/termination-log", "/tmp/m"
    ),
    ("container", "terminationMessagePolicy", "File"): Sample(
        "container", _container(), ("terminationMessagePolicy",), "File", "FallbackToLogsOnError"
    ),
    ("container", "resources", "{}"): Sample(
        "container", _container(), ("resources",), {}, {"limits": {"cpu": "1"}}
    ),
    ("resources", "requests", "each of limits the requests lack"): Sample(
        "container",
        _container(resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1"}}),
        ("resources", "requests"),
        {"cpu": "1", "memory": "1Gi"},
        {"cpu": "1", "memory": "512Mi"},
        "pod",
    ),
    **{
        ("resources", field, _AS_PRINTED): Sample(
            "container",
            _container(resources={field: {"cpu": 0.5, "memory": "1024Mi"}}),
            ("resources", field, "memory"),
            "1Gi",
            "1025Mi",
        )
        for field in ("limits", "requests")
    },
    ("emptyDir", "sizeLimit", "as printed: `1024Mi` -> `1Gi`"): Sample(
        "volume",
        {"name": "v", "emptyDir": {"sizeLimit": "1024Mi"}},
        ("emptyDir", "sizeLimit"),
        "1Gi",
        "2Gi",
    ),
    **{
        ("probe", field, str(value)): Sample(
            "container", _container(livenessProbe=dict(_EXEC)), ("livenessProbe", field), value, 7
        )
        for field, value in (
            ("timeoutSeconds", 1),
            ("periodSeconds", 10),
            ("successThreshold", 1),
            ("failureThreshold", 3),
        )
    },
    ("httpGet", "path", "/"): Sample(
        "container",
        _container(readinessProbe={"httpGet": {"port": 8080}}),
        ("readinessProbe", "httpGet", "path"),
        "/",
        "/health",
    ),
    ("httpGet", "scheme", "HTTP"): Sample(
        "container",
        _container(lifecycle={"preStop": {"httpGet": {"port": 8080}}}),
        ("lifecycle", "preStop", "httpGet", "scheme"),
        "HTTP",
        "HTTPS",
    ),
    ("grpc", "service", '""'): Sample(
        "container",
        _container(startupProbe={"grpc": {"port": 9090}}),
        ("startupProbe", "grpc", "service"),
        "",
        "liveness",
    ),
    ("port", "protocol", "TCP"): Sample(
        "container",
        _container(ports=[{"containerPort": 8080}]),
        ("ports", 0, "protocol"),
        "TCP",
        "UDP",
    ),
    ("port", "hostPort", "the containerPort"): Sample(
        "podSpec",
        {"hostNetwork": True, "containers": [_container(ports=[{"containerPort": 80}])]},
        ("containers", 0, "ports", 0, "hostPort"),
        80,
        81,
        "pod",
    ),
    ("fieldRef", "apiVersion", "v1"): Sample(
        "container",
        _container(env=[copy.deepcopy(_FIELD_ENV)]),
        ("env", 0, "valueFrom", "fieldRef", "apiVersion"),
        "v1",
        "v2",
    ),
    ("fileKeyRef", "optional", "false"): Sample(
        "env", copy.deepcopy(_FILE_ENV), ("valueFrom", "fileKeyRef", "optional"), False, True
    ),
    ("volume", "emptyDir", "{}"): Sample(
        "volume", {"name": "scratch"}, ("emptyDir",), {}, {"medium": "Memory"}
    ),
    ("configMap", "defaultMode", "420 (0644)"): Sample(
        "volume",
        {"name": "v", "configMap": {"name": "cm"}},
        ("configMap", "defaultMode"),
        420,
        384,
    ),
    ("secret", "defaultMode", "420 (0644)"): Sample(
        "volume",
        {"name": "v", "secret": {"secretName": "s"}},
        ("secret", "defaultMode"),
        420,
        256,
    ),
    ("downwardAPI", "defaultMode", "420 (0644)"): Sample(
        "volume",
        {"name": "v", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "x"}}]}},
        ("downwardAPI", "defaultMode"),
        420,
        292,
    ),
    ("projected", "defaultMode", "420 (0644)"): Sample(
        "volume",
        {"name": "v", "projected": {"sources": [{"configMap": {"name": "cm"}}]}},
        ("projected", "defaultMode"),
        420,
        256,
    ),
    ("serviceAccountToken", "expirationSeconds", "3600"): Sample(
        "volume",
        {"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
        ("projected", "sources", 0, "serviceAccountToken", "expirationSeconds"),
        3600,
        7200,
    ),
    ("hostPath", "type", '""'): Sample(
        "volume",
        {"name": "v", "hostPath": {"path": "/data"}},
        ("hostPath", "type"),
        "",
        "Directory",
    ),
    ("podSpec", "dnsPolicy", "ClusterFirst"): Sample(
        "podSpec", _pod(), ("dnsPolicy",), "ClusterFirst", "Default"
    ),
    ("podSpec", "restartPolicy", "Always"): Sample(
        "podSpec", _pod(), ("restartPolicy",), "Always", "Never"
    ),
    ("podSpec", "schedulerName", "default-scheduler"): Sample(
        "podSpec", _pod(), ("schedulerName",), "default-scheduler", "other"
    ),
    ("podSpec", "securityContext", "{}"): Sample(
        "podSpec", _pod(), ("securityContext",), {}, {"runAsUser": 50000}
    ),
    ("podSpec", "terminationGracePeriodSeconds", "30"): Sample(
        "podSpec", _pod(), ("terminationGracePeriodSeconds",), 30, 600
    ),
    ("podSpec", "enableServiceLinks", "true"): Sample(
        "podSpec", _pod(), ("enableServiceLinks",), True, False, "pod"
    ),
    ("podSpec", "serviceAccountName", "default"): Sample(
        "podSpec", _pod(), ("serviceAccountName",), "default", "airflow-worker", "pod"
    ),
    ("podSpec", "priority", "0"): Sample("podSpec", _pod(), ("priority",), 0, 1000, "pod"),
    ("podSpec", "preemptionPolicy", "PreemptLowerPriority"): Sample(
        "podSpec", _pod(), ("preemptionPolicy",), "PreemptLowerPriority", "Never", "pod"
    ),
    ("podSpec", "tolerations", "not-ready and unreachable, NoExecute, 300 s"): Sample(
        "podSpec",
        _pod(),
        ("tolerations", 0, "tolerationSeconds"),
        300,
        30,
        "pod",
    ),
}
# Rules for what admission adds under a name or at a place no rule can predict: the
# comparison ignores them (tested below), nothing is filled in.
ADMITTED = {("podSpec", "volumes"), ("mount", "mountPath")}


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: tuple[str | int, ...], new: Any) -> None:
    _at(value, path[:-1])[path[-1]] = new


def _id(rule: Default) -> str:
    return f"{rule.owner}.{rule.field}={rule.shown}"


@pytest.mark.parametrize("rule", DEFAULTS, ids=_id)
def test_each_rule(rule: Default) -> None:
    if (rule.owner, rule.field) in ADMITTED:
        return  # test_admitted_mount_is_ignored_on_pods_only
    sample = SAMPLES[(rule.owner, rule.field, rule.shown)]
    assert rule.applies(sample.place)
    stored = apply_defaults(sample.declared, sample.owner, sample.place)
    assert _at(stored, sample.path) == sample.default
    # declared without the field, live with the default: equal
    assert declared_equal(sample.declared, stored, sample.owner, sample.place)
    # live with another value: not equal
    changed = copy.deepcopy(stored)
    _set(changed, sample.path, sample.other)
    assert not declared_equal(sample.declared, changed, sample.owner, sample.place)
    # the declaration did not say so, and is left as it was
    assert _find(sample.declared, sample.path) != sample.default


def _find(value: Any, path: tuple[str | int, ...]) -> Any:
    try:
        return _at(value, path)
    except (KeyError, IndexError):
        return None


def test_every_sample_is_a_rule() -> None:
    rules = {(rule.owner, rule.field, rule.shown) for rule in DEFAULTS}
    assert set(SAMPLES) <= rules
    assert len(DEFAULTS) == len(SAMPLES) + len(ADMITTED)


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("busybox:1.36", "IfNotPresent"),
        ("registry:5000/x", "Always"),
        ("registry:5000/x:1", "IfNotPresent"),
        ("x@sha256:" + "a" * 64, "IfNotPresent"),
        ("x:latest@sha256:" + "a" * 64, "Always"),
        ("gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.11.0", "IfNotPresent"),
        ("apache/airflow", "Always"),
        ("Not A Reference", "IfNotPresent"),  # ParseImageName's error is ignored: no tag
    ],
)
def test_pull_policy_follows_the_reference_grammar(image: str, policy: str) -> None:
    assert pull_policy(image) == policy
    live = {**_container(image=image), "imagePullPolicy": policy}
    assert declared_equal(_container(image=image), live, "container", "template")


def test_probe_zero_values_are_defaulted() -> None:
    declared = _container(readinessProbe={**_EXEC, "timeoutSeconds": 0, "periodSeconds": 0})
    stored = apply_defaults(declared, "container", "template")
    assert stored["readinessProbe"]["timeoutSeconds"] == 1
    assert stored["readinessProbe"]["periodSeconds"] == 10
    assert declared_equal(declared, stored, "container", "template")
    # initialDelaySeconds has no default: 0 is not printed
    assert "initialDelaySeconds" not in stored["readinessProbe"]


def test_probe_defaults_only_where_a_probe_is() -> None:
    stored = apply_defaults(_container(), "container", "template")
    assert "livenessProbe" not in stored


def test_requests_from_limits_only_on_pods() -> None:
    declared = _container(resources={"limits": {"cpu": "500m", "memory": "256Mi"}})
    live = copy.deepcopy(declared)
    live["resources"]["requests"] = {"cpu": "500m", "memory": "256Mi"}
    assert declared_equal(declared, live, "container", "pod")
    assert not declared_equal(declared, live, "container", "template")
    template = apply_defaults(declared, "container", "template")
    assert "requests" not in template["resources"]


def test_enable_service_links_only_on_pods() -> None:
    assert "enableServiceLinks" not in apply_defaults(_pod(), "podSpec", "template")
    assert apply_defaults(_pod(), "podSpec", "pod")["enableServiceLinks"] is True


def test_host_port_only_under_host_network() -> None:
    declared = {"containers": [_container(ports=[{"containerPort": 80}])]}
    stored = apply_defaults(declared, "podSpec", "pod")
    assert "hostPort" not in stored["containers"][0]["ports"][0]


def test_admitted_mount_is_ignored_on_pods_only() -> None:
    declared = _container(volumeMounts=[{"name": "dags", "mountPath": "/opt/airflow/dags"}])
    live = apply_defaults(declared, "container", "pod")
    live["volumeMounts"].append(
        {"name": "kube-api-access-x7k2p", "mountPath": SERVICE_ACCOUNT_MOUNT, "readOnly": True}
    )
    assert declared_equal(declared, live, "container", "pod")
    assert not declared_equal(declared, live, "container", "template")


@pytest.mark.parametrize(
    ("declared", "live", "equal"),
    [
        (0.5, "500m", True),
        ("0.5", "500m", True),
        (1, "1", True),
        ("1000m", "1", True),
        ("1024Mi", "1Gi", True),
        ("1.5Gi", "1536Mi", True),
        ("1Gi", "1073741824", True),
        ("1e3", "1k", True),
        ("0.0001", "1m", True),  # rounded up to a milli when stored
        ("1G", "1Gi", False),
        ("500m", "501m", False),
    ],
)
def test_quantities_compare_by_value(declared: Any, live: Any, equal: bool) -> None:
    ours = _container(resources={"limits": {"cpu": declared}})
    theirs = {**ours, "resources": {"limits": {"cpu": live}}}
    assert declared_equal(ours, theirs, "container", "template") is equal


def test_octal_modes_are_numbers() -> None:
    # PyYAML, as inject reads a config, reads 0644 as the octal number 420; the API server
    # prints it in decimal.
    declared = yaml.safe_load("name: v\nconfigMap: {name: cm, defaultMode: 0644}")
    live = {"name": "v", "configMap": {"name": "cm", "defaultMode": 420}}
    assert declared_equal(declared, live, "volume", "template")
    # a YAML 1.2 reader's 0644 is the decimal 644: another mode
    misread = {"name": "v", "configMap": {"name": "cm", "defaultMode": 644}}
    assert not declared_equal(declared, misread, "volume", "template")


def test_a_live_entry_without_defaults_equals_its_declaration() -> None:
    # The KubernetesExecutor pod template in its ConfigMap is not defaulted: whatever of the
    # defaults it spells or leaves out, it means the same pod.
    declared = _container(imagePullPolicy="IfNotPresent")
    live = _container(terminationMessagePolicy="File")
    assert declared_equal(declared, live, "container", "template")


def test_map_lists_match_by_key_not_position() -> None:
    declared = _container(
        env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        ports=[{"containerPort": 8080}, {"containerPort": 9090, "protocol": "UDP"}],
    )
    live = apply_defaults(declared, "container", "template")
    live["env"].reverse()
    live["ports"].reverse()
    assert declared_equal(declared, live, "container", "template")
    live["ports"][0]["protocol"] = "TCP"  # (9090, TCP) is another port
    assert not declared_equal(declared, live, "container", "template")


def test_args_keep_their_order() -> None:
    declared = _container(args=["a", "b"])
    live = {**apply_defaults(declared, "container", "template"), "args": ["b", "a"]}
    assert not declared_equal(declared, live, "container", "template")


def test_empty_values_equal_absent_ones() -> None:
    declared = _container(args=[], env=[{"name": "A", "value": ""}])
    live = apply_defaults(_container(env=[{"name": "A"}]), "container", "template")
    assert declared_equal(declared, live, "container", "template")


def test_an_undeclared_field_that_is_not_a_default_differs() -> None:
    live = {**apply_defaults(_container(), "container", "template"), "command": ["sh"]}
    assert not declared_equal(_container(), live, "container", "template")


def test_a_number_is_not_a_string_or_a_boolean() -> None:
    declared = _container(readinessProbe={"tcpSocket": {"port": 8080}})
    live = apply_defaults(declared, "container", "template")
    live["readinessProbe"]["tcpSocket"]["port"] = "8080"
    assert not declared_equal(declared, live, "container", "template")
    live["readinessProbe"]["tcpSocket"]["port"] = 8080
    live["readinessProbe"]["successThreshold"] = True
    assert not declared_equal(declared, live, "container", "template")


def test_planner_sees_a_defaulted_sidecar_as_unchanged() -> None:
    """The planner inject and validate share: a sidecar, a volume, a mount and an env var the
    API server has defaulted are unchanged, not a name-conflict and not a second copy."""
    sidecar = _container(
        ports=[{"containerPort": 5432}],
        readinessProbe={"tcpSocket": {"port": 5432}},
        resources={"requests": {"cpu": 0.1, "memory": "64Mi"}},
    )
    volume = {"name": "cfg", "configMap": {"name": "cm"}}
    mount = {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}
    env = {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    main = {"name": "base", "image": "apache/airflow:2.9.3", "volumeMounts": [mount], "env": [env]}
    pod = apply_defaults(
        {"containers": [main, sidecar], "volumes": [volume]}, "podSpec", "template"
    )
    pod["containers"][1]["resources"]["requests"]["cpu"] = "100m"  # as the server prints it
    additions = Additions(
        containers=[Wanted(sidecar, "spec.scheduler.extraContainers[0]")],
        volumes=[Wanted(volume, "spec.scheduler.extraVolumes[0]")],
        mounts=[(Wanted(mount, "m"), frozenset({"base"}), frozenset())],
        env=[(Wanted(env, "e"), frozenset({"base"}), frozenset())],
    )
    result = plan(pod, additions, replace=False, pod_path="spec.template.spec")
    assert result.findings == []
    assert result.ops == []
    assert sorted(result.unchanged) == [
        "container sidecar",
        "env var POD in base",
        "mount /etc/cfg in base",
        "volume cfg",
    ]
    # and a real change still is one
    pod["containers"][1]["image"] = "busybox:1.37"
    changed = plan(pod, additions, replace=False, pod_path="spec.template.spec")
    assert [f.rule for f in changed.findings] == ["name-conflict"]


def test_the_written_form_is_among_the_undefaulted_ones() -> None:
    # explicit defaults in the declaration (imagePullPolicy, protocol) stay in what was written
    written = _container(
        imagePullPolicy="IfNotPresent",
        ports=[{"containerPort": 5432, "protocol": "TCP"}],
        livenessProbe={"httpGet": {"port": 5432}, "periodSeconds": 10},
    )
    stored = apply_defaults(written, "container", "template")
    assert written != stored
    assert written in list(undefaulted(stored, "container", "template"))
    changed = {**stored, "image": "busybox:1.37"}
    assert written not in list(undefaulted(changed, "container", "template"))


@pytest.mark.parametrize(
    ("written", "printed"),
    [
        ("0.5", "500m"),
        (0.5, "500m"),
        (1, "1"),
        ("1.5", "1500m"),
        ("1000m", "1"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("2048Ki", "2Mi"),
        ("512Mi", "512Mi"),
        ("0.5Ki", "512"),  # a binary value under 1024 is printed in decimal SI
        ("1e3", "1e3"),  # the exponent form stays
        ("1000M", "1G"),
        ("0.1m", "1m"),  # rounded up to a milli (resources)
        ("0", "0"),
        ("5 GiB", "5 GiB"),  # not a quantity: left for validate's bad-quantity
    ],
)
def test_quantities_are_stored_as_the_api_server_prints_them(written: Any, printed: str) -> None:
    assert stored_quantity(written, to_milli=True) == printed
    stored = apply_defaults(_container(resources={"limits": {"cpu": written}}), "container", "pod")
    assert stored["resources"]["limits"]["cpu"] == printed
    assert stored["resources"]["requests"]["cpu"] == printed
