"""What the API server fills in when it stores a pod spec, and equality modulo that.

A container the tool wrote comes back from the cluster with fields nobody declared:
`imagePullPolicy`, `terminationMessagePath`, a port's `protocol`, a probe's `periodSeconds`, a
ConfigMap volume's `defaultMode: 420`. Compared as data with its declaration it differs, and
inject would call a sidecar that is there a name-conflict. So the rules are kept here, in one
table (`DEFAULTS`), each with its source, and two functions use them:

- `apply_defaults(value, owner, place)`: what the API server would store for a declared
  container, volume, mount, env entry or pod spec;
- `declared_equal(declared, live, owner, place)`: whether a live entry is its declaration:
  every declared field equal (quantities by value, numbers as numbers), every other live field
  the default for it.

Two places are told apart. Every pod template (Deployment, StatefulSet, Job, CronJob) gets the
template defaulting (`SetObjectDefaults_*` -> `SetDefaults_PodSpec`, `SetDefaults_Container`,
...). A Pod object (a running task pod) gets that and more: `SetDefaults_Pod` copies limits into
requests ("we only want this defaulting semantic to take place on a v1.Pod and not a
v1.PodTemplate"), and admission adds the ServiceAccount token volume and its mounts,
tolerations and priority. The KubernetesExecutor pod template is a string in a ConfigMap: the
API server defaults nothing in it, and it is compared as written.

The rules are Kubernetes' own (no OpenAPI `default` is applied to built-in types; the server
runs compiled defaulters), read from kubernetes/kubernetes pkg/apis/core/v1/defaults.go and
cross-checked against the published types of k8s.io/api at tag kubernetes-1.36.3; see
docs/api-defaults.md.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from airflow_sidecars.pods.quantity import from_manifest

Place = Literal["template", "pod"]
PLACES: tuple[Place, ...] = ("template", "pod")

CHECKED = "2026-12-07"
# Function bodies: the file index's copy (1.34 or newer), not a release tag; values checked
# against the types at the tag below.
DEFAULTS_GO = "kubernetes/kubernetes pkg/apis/core/v1/defaults.go @023f88a3"
TYPES_GO = "k8s.io/api@kubernetes-1.36.3 core/v1/types.go"

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
_UNSET: Any = object()  # a rule that does not apply to this value


@dataclass(frozen=True)
class Context:
    place: Place
    host_network: bool = False  # the pod's, for the Pod-only hostPort rule


@dataclass(frozen=True)
class Default:
    """One rule: in an `owner` (container, probe, volume, ...), `field` gets `shown` when
    `condition` holds. `fill` computes it from the owner (or returns _UNSET where the rule
    does not apply); `merge` rules change a present field instead of filling an absent one."""

    owner: str
    field: str
    shown: str  # the default as a reader sees it
    condition: str
    source: str  # the defaulting function or marker
    crosscheck: str  # where the published types say so
    places: tuple[Place, ...]
    fill: Callable[[dict[str, Any], Context], Any]
    merge: bool = False

    @property
    def pod_only(self) -> bool:
        return self.places == ("pod",)

    def applies(self, place: Place) -> bool:
        return place in self.places


def _constant(value: Any) -> Callable[[dict[str, Any], Context], Any]:
    return lambda owner, context: copy.deepcopy(value)


# -- the image reference grammar (distribution/reference), as ParseImageName reads it ----------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)


def image_tag(image: Any) -> str:
    """The tag ParseImageName gives: `latest` for a name without tag or digest
    (`registry:5000/img` has no tag: the port belongs to the registry), "" for a digest alone
    and for a reference it cannot parse (SetDefaults_Container ignores the error)."""
    if not isinstance(image, str):
        return ""
    found = _REFERENCE.fullmatch(image)
    if found is None:
        return ""
    tag, digest = found.group("tag") or "", found.group("digest")
    return "latest" if not tag and not digest else tag


def pull_policy(image: Any) -> str:
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _pull_policy(container: dict[str, Any], context: Context) -> Any:
    return pull_policy(container.get("image"))


def _admitted(owner: dict[str, Any], context: Context) -> Any:
    """Added by admission with a name or place no rule can predict: the comparison ignores it
    instead (declared_equal)."""
    return _UNSET


def _requests_from_limits(resources: dict[str, Any], context: Context) -> Any:
    limits = resources.get("limits")
    if not isinstance(limits, dict) or not limits:
        return _UNSET
    requests = resources.get("requests")
    requests = requests if isinstance(requests, dict) else {}
    return {**{key: value for key, value in limits.items() if key not in requests}, **requests}


def _host_port(port: dict[str, Any], context: Context) -> Any:
    return port.get("containerPort") if context.host_network else _UNSET


def _empty_dir(volume: dict[str, Any], context: Context) -> Any:
    sources = [key for key in volume if key != "name"]
    return {} if not sources else _UNSET


# -- quantities as the API server prints them (apimachinery quantity.go, CanonicalizeBytes) ---

_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P"}
_DECIMAL_SUFFIXES[18] = "E"
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_BINARY_WRITTEN = re.compile(r".*[KMGTPE]i\s*")
_EXPONENT_WRITTEN = re.compile(r".*[eE][+-]?[0-9]+\s*")


def stored_quantity(value: Any, *, to_milli: bool = False) -> Any:
    """A quantity as the API server stores and prints it: the same family of suffix as
    written (binary, exponent, or decimal SI; a number is decimal SI), the largest suffix
    that keeps it whole (`1024Mi` is `1Gi`, `0.5` is `500m`, `1000M` is `1G`), a binary value
    under 1024 or with a fraction in decimal SI (`0.5Ki` is `512`). `to_milli`: rounded up to
    a milli first, as SetDefaults_ResourceList does to a container's resources. What is not
    a quantity is left as it is (validate reports it)."""
    parsed = from_manifest(value)
    if parsed is None:
        return value
    amount = _millis(parsed.value) / 1000 if to_milli else parsed.value
    written = value if isinstance(value, str) else ""
    if _BINARY_WRITTEN.fullmatch(written):
        binary = _binary(amount)
        if binary is not None:
            return binary
    if amount == 0:
        return "0"
    sign, digits, exponent = amount.normalize().as_tuple()
    assert isinstance(exponent, int)  # a finite quantity
    mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
    lower = exponent % 3  # down to a multiple of 3
    mantissa, exponent = mantissa * 10**lower, exponent - lower
    if _EXPONENT_WRITTEN.fullmatch(written) or exponent not in _DECIMAL_SUFFIXES:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    return f"{mantissa}{_DECIMAL_SUFFIXES[exponent]}"


def _binary(amount: Decimal) -> str | None:
    if -1024 < amount < 1024 or amount != amount.to_integral_value():
        return None
    whole, power = int(amount), 0
    while whole % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
        whole, power = whole // 1024, power + 1
    return f"{whole}{_BINARY_SUFFIXES[power]}"


def _stored_list(field: str) -> Callable[[dict[str, Any], Context], Any]:
    def fill(resources: dict[str, Any], context: Context) -> Any:
        found = resources.get(field)
        if not isinstance(found, dict):
            return _UNSET
        return {name: stored_quantity(value, to_milli=True) for name, value in found.items()}

    return fill


def _stored_size(empty_dir: dict[str, Any], context: Context) -> Any:
    found = empty_dir.get("sizeLimit")
    return _UNSET if found is None else stored_quantity(found)


_BOTH: tuple[Place, ...] = PLACES
_POD: tuple[Place, ...] = ("pod",)
_CONTAINER = f"{DEFAULTS_GO} SetDefaults_Container"
_PROBE = f"{DEFAULTS_GO} SetDefaults_Probe"
_HTTP_GET = f"{DEFAULTS_GO} SetDefaults_HTTPGetAction"
_POD_SPEC = f"{DEFAULTS_GO} SetDefaults_PodSpec"
_POD_DEFAULTS = f"{DEFAULTS_GO} SetDefaults_Pod"
_FIELD_REF = f"{DEFAULTS_GO} SetDefaults_ObjectFieldSelector"
_MODE = "420 (0644)"
_CANONICAL = "k8s.io/apimachinery@kubernetes-1.36.3 pkg/api/resource/quantity.go:60-90, 418-460"
_SERVICE_ACCOUNT = "plugin/pkg/admission/serviceaccount"
_PRIORITY = "plugin/pkg/admission/priority"
_NOT_READY = "node.kubernetes.io/not-ready"
_UNREACHABLE = "node.kubernetes.io/unreachable"


def _default_tolerations(spec: dict[str, Any], context: Context) -> Any:
    """DefaultTolerationSeconds: 300 s on not-ready and unreachable nodes, each unless the pod
    tolerates that taint already."""
    present = spec.get("tolerations")
    present = list(present) if isinstance(present, list) else []
    keys = {t.get("key") for t in present if isinstance(t, dict)}
    for key in (_NOT_READY, _UNREACHABLE):
        if key not in keys:
            present.append(
                {
                    "effect": "NoExecute",
                    "key": key,
                    "operator": "Exists",
                    "tolerationSeconds": 300,
                }
            )
    return present


DEFAULTS: tuple[Default, ...] = (
    # containers, init containers (native sidecars too), ephemeral containers
    Default(
        "container",
        "imagePullPolicy",
        "Always",
        "the image's tag is `latest`, or it has neither tag nor digest",
        _CONTAINER,
        f"{TYPES_GO}:3086",
        _BOTH,
        _pull_policy,
    ),
    Default(
        "container",
        "imagePullPolicy",
        "IfNotPresent",
        "any other tag; a digest without a tag; a reference that does not parse",
        _CONTAINER,
        f"{TYPES_GO}:3086",
        _BOTH,
        _pull_policy,
    ),
    Default(
        "container",
        "terminationMessagePath",
        "/dev/termination-log",
        "unset",
        _CONTAINER,
        f"{TYPES_GO}:3070, :2905",
        _BOTH,
        _constant("/dev/termination-log"),
    ),
    Default(
        "container",
        "terminationMessagePolicy",
        "File",
        "unset",
        _CONTAINER,
        f"{TYPES_GO}:3079, :2818",
        _BOTH,
        _constant("File"),
    ),
    Default(
        "container",
        "resources",
        "{}",
        "unset (a struct, not a pointer: always printed)",
        "serialisation of ResourceRequirements",
        f"{TYPES_GO} Container.Resources",
        _BOTH,
        _constant({}),
    ),
    # resources
    Default(
        "resources",
        "requests",
        "each of limits the requests lack",
        "a Pod: containers and init containers, not templates",
        _POD_DEFAULTS,
        f"{TYPES_GO} ResourceRequirements",
        _POD,
        _requests_from_limits,
        merge=True,
    ),
    *(
        Default(
            "resources",
            field,
            "each quantity rounded up to a milli, as printed: `0.5` -> `500m`, `1024Mi` -> `1Gi`",
            "given",
            f"{DEFAULTS_GO} SetDefaults_ResourceList; {_CANONICAL}",
            f"{TYPES_GO} ResourceList",
            _BOTH,
            _stored_list(field),
            merge=True,
        )
        for field in ("limits", "requests")
    ),
    # probes (liveness, readiness, startup) and handlers
    *(
        Default(
            "probe",
            field,
            str(value),
            "unset or 0",
            _PROBE,
            f"{TYPES_GO}:{line}",
            _BOTH,
            _constant(value),
        )
        for field, value, line in (
            ("timeoutSeconds", 1, 2733),
            ("periodSeconds", 10, 2737),
            ("successThreshold", 1, 2741),
            ("failureThreshold", 3, 2745),
        )
    ),
    Default(
        "httpGet",
        "path",
        "/",
        "unset (probes and lifecycle handlers)",
        _HTTP_GET,
        f"{TYPES_GO}:2640",
        _BOTH,
        _constant("/"),
    ),
    Default(
        "httpGet",
        "scheme",
        "HTTP",
        "unset (probes and lifecycle handlers)",
        _HTTP_GET,
        f"{TYPES_GO}:2659, :2672",
        _BOTH,
        _constant("HTTP"),
    ),
    Default(
        "grpc",
        "service",
        '""',
        "unset (a pointer: printed)",
        'marker +default=""',
        f"{TYPES_GO}:2699",
        _BOTH,
        _constant(""),
    ),
    # ports and env
    Default(
        "port",
        "protocol",
        "TCP",
        "unset",
        'marker +default="TCP" (ContainerPort)',
        f"{TYPES_GO}:2371",
        _BOTH,
        _constant("TCP"),
    ),
    Default(
        "port",
        "hostPort",
        "the containerPort",
        "a Pod with hostNetwork: true",
        f"{_POD_DEFAULTS} (defaultHostNetworkPorts)",
        f"{TYPES_GO} ContainerPort.HostPort",
        _POD,
        _host_port,
    ),
    Default(
        "fieldRef",
        "apiVersion",
        "v1",
        "unset (env, downwardAPI and projected downwardAPI items)",
        _FIELD_REF,
        f"{TYPES_GO}:2552",
        _BOTH,
        _constant("v1"),
    ),
    Default(
        "fileKeyRef",
        "optional",
        "false",
        "unset",
        "marker +default=false (FileKeySelector)",
        f"{TYPES_GO}:2544",
        _BOTH,
        _constant(False),
    ),
    # volumes
    Default(
        "volume",
        "emptyDir",
        "{}",
        "a volume without any source",
        f"{DEFAULTS_GO} SetDefaults_Volume",
        f"{TYPES_GO} VolumeSource",
        _BOTH,
        _empty_dir,
    ),
    Default(
        "configMap",
        "defaultMode",
        _MODE,
        "unset",
        f"{DEFAULTS_GO} SetDefaults_ConfigMapVolumeSource",
        f"{TYPES_GO}:1899, :1906",
        _BOTH,
        _constant(420),
    ),
    Default(
        "secret",
        "defaultMode",
        _MODE,
        "unset",
        f"{DEFAULTS_GO} SetDefaults_SecretVolumeSource",
        f"{TYPES_GO}:1453, :1460",
        _BOTH,
        _constant(420),
    ),
    Default(
        "downwardAPI",
        "defaultMode",
        _MODE,
        "unset",
        f"{DEFAULTS_GO} SetDefaults_DownwardAPIVolumeSource",
        f"{TYPES_GO}:8207, :8211",
        _BOTH,
        _constant(420),
    ),
    Default(
        "projected",
        "defaultMode",
        _MODE,
        "unset",
        f"{DEFAULTS_GO} SetDefaults_ProjectedVolumeSource",
        f"{TYPES_GO}:2171",
        _BOTH,
        _constant(420),
    ),
    Default(
        "serviceAccountToken",
        "expirationSeconds",
        "3600",
        "unset (projected sources)",
        f"{DEFAULTS_GO} SetDefaults_ServiceAccountTokenProjection",
        f"{TYPES_GO}:1951",
        _BOTH,
        _constant(3600),
    ),
    Default(
        "emptyDir",
        "sizeLimit",
        "as printed: `1024Mi` -> `1Gi`",
        "given",
        _CANONICAL,
        f"{TYPES_GO}:964",
        _BOTH,
        _stored_size,
        merge=True,
    ),
    Default(
        "hostPath",
        "type",
        '""',
        "unset (a pointer: printed)",
        f"{DEFAULTS_GO} SetDefaults_HostPathVolumeSource",
        f"{TYPES_GO}:945, :915",
        _BOTH,
        _constant(""),
    ),
    # the pod spec
    *(
        Default(
            "podSpec",
            field,
            shown,
            "unset",
            _POD_SPEC,
            f"{TYPES_GO}:{line}",
            _BOTH,
            _constant(value),
        )
        for field, value, shown, line in (
            ("dnsPolicy", "ClusterFirst", "ClusterFirst", "4211, :3753"),
            ("restartPolicy", "Always", "Always", "4188, :3673"),
            ("schedulerName", "default-scheduler", "default-scheduler", "8405"),
            ("securityContext", {}, "{}", "4268"),
            ("terminationGracePeriodSeconds", 30, "30", "4198, :3768"),
        )
    ),
    Default(
        "podSpec",
        "enableServiceLinks",
        "true",
        "a Pod (templates never get it)",
        _POD_DEFAULTS,
        f"{TYPES_GO}:4792",
        _POD,
        _constant(True),
    ),
    # admission, on Pods only
    Default(
        "podSpec",
        "serviceAccountName",
        "default",
        "a Pod without one",
        _SERVICE_ACCOUNT,
        f"{TYPES_GO} PodSpec.ServiceAccountName",
        _POD,
        _constant("default"),
    ),
    Default(
        "podSpec",
        "priority",
        "0",
        "a Pod without a priority class",
        _PRIORITY,
        f"{TYPES_GO} PodSpec.Priority",
        _POD,
        _constant(0),
    ),
    Default(
        "podSpec",
        "preemptionPolicy",
        "PreemptLowerPriority",
        "a Pod without a priority class",
        _PRIORITY,
        f"{TYPES_GO} PodSpec.PreemptionPolicy",
        _POD,
        _constant("PreemptLowerPriority"),
    ),
    Default(
        "podSpec",
        "tolerations",
        "not-ready and unreachable, NoExecute, 300 s",
        "a Pod without them",
        "plugin/pkg/admission/defaulttolerationseconds",
        f"{TYPES_GO} Toleration",
        _POD,
        _default_tolerations,
        merge=True,
    ),
    Default(
        "podSpec",
        "volumes",
        "one more: kube-api-access-(random), projected token, CA and namespace",
        "a Pod whose ServiceAccount token is mounted; its name is random, and a volume is "
        "compared with the one of its own name only",
        _SERVICE_ACCOUNT,
        f"{TYPES_GO} PodSpec.Volumes",
        _POD,
        _admitted,
    ),
    Default(
        "mount",
        "mountPath",
        SERVICE_ACCOUNT_MOUNT,
        "a Pod: every container gets this "
        "read-only mount of the token volume; declared_equal ignores it",
        _SERVICE_ACCOUNT,
        f"{TYPES_GO} VolumeMount",
        _POD,
        _admitted,
    ),
)

# Where each owner's nested owners are: a step "x[]" is each entry of the list at x.
_CHILDREN: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "podSpec": (
        (("containers[]",), "container"),
        (("initContainers[]",), "container"),
        (("ephemeralContainers[]",), "container"),
        (("volumes[]",), "volume"),
    ),
    "container": (
        (("resources",), "resources"),
        (("livenessProbe",), "probe"),
        (("readinessProbe",), "probe"),
        (("startupProbe",), "probe"),
        (("lifecycle", "postStart", "httpGet"), "httpGet"),
        (("lifecycle", "preStop", "httpGet"), "httpGet"),
        (("ports[]",), "port"),
        (("env[]",), "env"),
    ),
    "probe": ((("httpGet",), "httpGet"), (("grpc",), "grpc")),
    "env": (
        (("valueFrom", "fieldRef"), "fieldRef"),
        (("valueFrom", "fileKeyRef"), "fileKeyRef"),
    ),
    "volume": (
        (("emptyDir",), "emptyDir"),
        (("configMap",), "configMap"),
        (("secret",), "secret"),
        (("downwardAPI",), "downwardAPI"),
        (("projected",), "projected"),
        (("hostPath",), "hostPath"),
    ),
    "downwardAPI": ((("items[]", "fieldRef"), "fieldRef"),),
    "projected": (
        (("sources[]", "serviceAccountToken"), "serviceAccountToken"),
        (("sources[]", "downwardAPI", "items[]", "fieldRef"), "fieldRef"),
    ),
}
# What each owner is called in the pod spec, for the table a reader sees.
OWNER_PATHS: dict[str, str] = {
    "podSpec": "spec",
    "container": "containers[], initContainers[], ephemeralContainers[]",
    "resources": "containers[].resources",
    "probe": "containers[].{liveness,readiness,startup}Probe",
    "httpGet": "probes' and lifecycle handlers' httpGet",
    "grpc": "containers[].*Probe.grpc",
    "port": "containers[].ports[]",
    "env": "containers[].env[]",
    "fieldRef": "env[].valueFrom.fieldRef, downwardAPI items[].fieldRef",
    "fileKeyRef": "env[].valueFrom.fileKeyRef",
    "volume": "volumes[]",
    "configMap": "volumes[].configMap",
    "secret": "volumes[].secret",
    "downwardAPI": "volumes[].downwardAPI",
    "projected": "volumes[].projected",
    "serviceAccountToken": "volumes[].projected.sources[].serviceAccountToken",
    "hostPath": "volumes[].hostPath",
    "emptyDir": "volumes[].emptyDir",
    "mount": "containers[].volumeMounts[]",
}

# What a planner compares, by the word its messages use.
OWNERS_BY_WHAT = {"volume": "volume", "mount": "mount", "env var": "env"}


def apply_defaults(value: Any, owner: str, place: Place, *, host_network: bool = False) -> Any:
    """`value` (a declared container, volume, mount, env entry or pod spec) as the API server
    would store it in `place`; a copy: the declaration is left as it is."""
    if owner == "podSpec" and isinstance(value, dict):
        host_network = value.get("hostNetwork") is True
    result = copy.deepcopy(value)
    _default(result, owner, Context(place, host_network))
    return result


def _default(value: Any, owner: str, context: Context) -> None:
    if not isinstance(value, dict):
        return
    for rule in DEFAULTS:
        if rule.owner != owner or not rule.applies(context.place):
            continue
        if rule.merge or _unset(value.get(rule.field)):
            filled = rule.fill(value, context)
            if filled is not _UNSET:
                value[rule.field] = filled
    for steps, child in _CHILDREN.get(owner, ()):
        for nested in _walk(value, steps):
            _default(nested, child, context)


def _unset(value: Any) -> bool:
    """What a defaulter treats as not given: absent, empty, or a zero number (a probe's
    `periodSeconds: 0` is defaulted); `false` is a value."""
    return value is None or value == "" or (type(value) is int and value == 0)


def _walk(value: Any, steps: tuple[str, ...]) -> Iterator[Any]:
    if not steps:
        yield value
        return
    if not isinstance(value, dict):
        return
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        found = value.get(step[:-2])
        for entry in found if isinstance(found, list) else []:
            yield from _walk(entry, rest)
    else:
        yield from _walk(value.get(step), rest)


def undefaulted(value: Any, owner: str, place: Place, limit: int = 4096) -> Iterator[Any]:
    """The forms `value` (as stored) may have been written in: with each set of the fields
    that hold what the API server would have filled in taken out, the fewest first (at most
    `limit` of them). A digest of what was written matches one of them."""
    # (a field two rules fill, such as imagePullPolicy, once)
    spots = list(dict.fromkeys(_defaulted_spots(value, owner, Context(place), ())))
    made = 0
    for size in range(1, len(spots) + 1):
        for chosen in itertools.combinations(spots, size):
            made += 1
            if made > limit:
                return
            form = copy.deepcopy(value)
            for path in chosen:
                *parents, field = path
                holder = form
                for step in parents:
                    holder = holder[step]
                del holder[field]
            yield form


def _defaulted_spots(
    value: Any, owner: str, context: Context, path: tuple[Any, ...]
) -> Iterator[tuple[Any, ...]]:
    """The paths of the fields of `value` that hold the default their rule would fill in."""
    if not isinstance(value, dict):
        return
    for rule in DEFAULTS:
        if rule.owner != owner or rule.merge or not rule.applies(context.place):
            continue
        if rule.field not in value:
            continue
        without = {key: entry for key, entry in value.items() if key != rule.field}
        filled = rule.fill(without, context)
        present = value[rule.field]
        if filled is not _UNSET and type(filled) is type(present) and filled == present:
            yield (*path, rule.field)
    for steps, child in _CHILDREN.get(owner, ()):
        for where, nested in _walk_paths(value, steps, path):
            yield from _defaulted_spots(nested, child, context, where)


def _walk_paths(
    value: Any, steps: tuple[str, ...], path: tuple[Any, ...]
) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if not steps:
        yield path, value
        return
    if not isinstance(value, dict):
        return
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        found = value.get(step[:-2])
        for index, entry in enumerate(found if isinstance(found, list) else []):
            yield from _walk_paths(entry, rest, (*path, step[:-2], index))
    elif step in value:
        yield from _walk_paths(value[step], rest, (*path, step))


# -- equality modulo defaults ------------------------------------------------------------------

# Lists the API server merges by a key (listType=map): order is not what makes them differ.
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "imagePullSecrets": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "ports": ("containerPort", "protocol"),
}
_QUANTITY_LISTS = frozenset({"limits", "requests"})
_QUANTITY_FIELDS = frozenset({"sizeLimit"})


def declared_equal(declared: Any, live: Any, owner: str, place: Place) -> bool:
    """Whether `live` (as the cluster or a dump shows it) is `declared` as stored: each
    declared field equal, quantities by value and numbers as numbers, and each field only the
    live one has the Kubernetes default for it in `place`. Both sides are defaulted: a live
    entry without a default (the KubernetesExecutor pod template, which nothing defaults, or
    one written by hand) would get the same one."""
    if declared == live:
        return True
    if place == "pod":
        live = _without_admitted(live, owner)
    return _same(apply_defaults(declared, owner, place), apply_defaults(live, owner, place), "")


def _without_admitted(live: Any, owner: str) -> Any:
    """A Pod's container as if admission had not mounted the ServiceAccount token into it
    (the ServiceAccount plugin mounts it into every container; its volume's name is random)."""
    if owner != "container" or not isinstance(live, dict):
        return live
    mounts = live.get("volumeMounts")
    if not isinstance(mounts, list):
        return live
    kept = [
        m
        for m in mounts
        if not (isinstance(m, dict) and m.get("mountPath") == SERVICE_ACCOUNT_MOUNT)
    ]
    return {**live, "volumeMounts": kept} if len(kept) != len(mounts) else live


def _same(expected: Any, live: Any, field: str, in_quantities: bool = False) -> bool:
    if in_quantities or field in _QUANTITY_FIELDS:
        return _same_quantity(expected, live)
    if isinstance(expected, dict) and isinstance(live, dict):
        return all(
            _same(expected[key], live[key], str(key), field in _QUANTITY_LISTS)
            if key in expected and key in live
            else _zero(expected.get(key, live.get(key)))
            for key in expected.keys() | live.keys()
        )
    if isinstance(expected, list) and isinstance(live, list):
        return _same_list(expected, live, field)
    if _zero(expected) and _zero(live):
        return True  # omitempty: absent, null, "" and [] print the same
    return type(expected) is type(live) and expected == live


def _same_list(expected: list[Any], live: list[Any], field: str) -> bool:
    if len(expected) != len(live):
        return False
    keys = _MERGE_KEYS.get(field)
    if keys is not None:
        by_key = _keyed(expected, keys)
        live_by_key = _keyed(live, keys)
        if by_key is not None and live_by_key is not None:
            return by_key.keys() == live_by_key.keys() and all(
                _same(entry, live_by_key[key], "") for key, entry in by_key.items()
            )
    return all(_same(a, b, "") for a, b in zip(expected, live, strict=True))


def _keyed(entries: list[Any], keys: tuple[str, ...]) -> dict[tuple[Any, ...], Any] | None:
    """The entries by their merge key; None where one has no key or two share it (then the
    order decides)."""
    found: dict[tuple[Any, ...], Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or keys[0] not in entry:
            return None
        key = tuple(_hashable(entry.get(k)) for k in keys)
        if key in found:
            return None
        found[key] = entry
    return found


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _same_quantity(expected: Any, live: Any) -> bool:
    """Quantities by value, each rounded up to a milli as SetDefaults_ResourceList stores it:
    `0.5` is `500m`, `1Gi` is `1073741824`, `1G` is not `1Gi`."""
    ours, theirs = from_manifest(expected), from_manifest(live)
    if ours is None or theirs is None:
        return type(expected) is type(live) and bool(expected == live)
    return _millis(ours.value) == _millis(theirs.value)


def _millis(value: Decimal) -> Decimal:
    return (value * 1000).to_integral_value(rounding=ROUND_CEILING)


def _zero(value: Any) -> bool:
    """A value the API server does not print (omitempty): it equals an absent one."""
    return value is None or value in ("", 0, False) or value in ([], {})


def table_rows() -> list[tuple[str, str, str, str, str, str]]:
    """The table as a reader sees it (docs/api-defaults.md is checked against this): field,
    default, condition, where, source, cross-check; the doc names the files and commits."""
    return [
        (
            f"{OWNER_PATHS[rule.owner]}: `{rule.field}`",
            rule.shown,
            rule.condition,
            "Pod only" if rule.pod_only else "every template and Pod",
            rule.source.replace(f"{DEFAULTS_GO} ", ""),  # the doc names the file and commit
            rule.crosscheck.replace(f"{TYPES_GO}", "types.go"),
        )
        for rule in DEFAULTS
    ]
