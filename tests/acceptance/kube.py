"""A small model of the kubelet and a container runtime, to run a rendered pod's containers here.

`Cluster` holds the render's objects (pod specs, Secrets, ConfigMaps, ServiceAccounts, Services).
`PodRun` runs one pod's containers as the kubelet would: env resolved from the pod spec, volumes
materialised under a work dir with the kubelet's modes and ownership, the container's user and
securityContext applied, the image's ENTRYPOINT/CMD/ENV modelled by an `Image`. The process runs
in a private mount namespace chrooted into a per-container root (see sandbox.py), on the host's
network or in a network namespace of the pod's own. Containers are started one by one by the
test (`start`, `run`, `exec`), or the whole pod is run as the kubelet runs it (`run_pod`: init
containers in order, native sidecars and their probes, the main containers, restarts, the
sidecars stopped once the main containers are done, and the pod's phase).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import math
import os
import posixpath
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple

import yaml

from acceptance import sandbox

STANDARD_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
POD_IP = "127.0.0.1"  # pods share the host's network here
# kubelet's validation.IsEnvVarName: envFrom keys that fail it are skipped (with an event)
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
_TOKEN_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
# An exec probe's timeoutSeconds counts from the probe's process start; ours also pays for the
# namespace and mount setup, which a real runtime does not
_PROBE_SETUP_SLACK = 2.0
_EMPTY: Mapping[str, Any] = MappingProxyType({})

Doc = dict[str, Any]


class Image(NamedTuple):
    """What of a container image the runtime needs; the software itself is the host's."""

    bin_dirs: tuple[str, ...]  # put first on PATH, bound read-only at the same path
    extra_binds: tuple[str, ...]  # more host dirs bound read-only at the same path (a venv)
    env: Mapping[str, str]  # the image's ENV
    users: Mapping[int, str]  # uid -> HOME for the users in the image's /etc/passwd
    entrypoint: Callable[[list[str]], list[str]]  # ENTRYPOINT applied to args (or CMD)
    cmd: tuple[str, ...] = ()  # CMD, used when the container has neither command nor args
    default_uid: int = 0  # the image's USER
    workdir: str = "/"  # the image's WORKDIR
    # directories the image has, path -> (uid, gid, mode): e.g. AIRFLOW_HOME owned by its user
    dirs: Mapping[str, tuple[int, int, int]] = MappingProxyType({})
    # files the image has, path -> host file bound read-only there (a binary at `/`, say)
    files: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, eq=False)
class PodRef:
    """One pod spec of the render, and what the kubelet needs to know about its pod."""

    kind: str  # Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod or PodTemplate
    name: str  # the workload's (for PodTemplate: the ConfigMap's) name
    namespace: str
    spec: Doc
    service_account_name: str
    metadata: Doc  # the pod template's metadata: labels and annotations, for fieldRef
    claim_templates: tuple[str, ...] = ()  # a StatefulSet's volumeClaimTemplates names


def _namespace(obj: Mapping[str, Any], default: str) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or default)


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


class Cluster:
    """The render's objects, as the API server would hold them after `kubectl apply -n namespace`.

    `namespace` is where objects without metadata.namespace land (Helm renders leave it off some
    objects and relies on `helm install -n`). `claims_root` holds one dir per PersistentVolumeClaim
    name, shared by every pod of this cluster (a RWX volume such as shared DAGs); a new shared
    claim's root has `claim_mode` (0777: what NFS-style provisioners hand out)."""

    def __init__(
        self,
        documents: Iterable[Mapping[str, Any] | None],
        *,
        namespace: str = "default",
        claims_root: Path | None = None,
        claim_mode: int = 0o777,
    ) -> None:
        self.objects: list[Doc] = [dict(d) for d in documents if d]
        self.namespace = namespace
        self._claims_root = claims_root
        self.claim_mode = claim_mode
        self._secrets: dict[tuple[str, str], dict[str, bytes]] = {}
        self._config_maps: dict[tuple[str, str], dict[str, bytes]] = {}
        for obj in self.objects:
            key = (_namespace(obj, namespace), _name(obj))
            if obj.get("kind") == "Secret":
                data = {k: base64.b64decode(v or "") for k, v in (obj.get("data") or {}).items()}
                data.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
                self._secrets[key] = data
            elif obj.get("kind") == "ConfigMap":
                data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
                binary = obj.get("binaryData") or {}
                data.update({k: base64.b64decode(v) for k, v in binary.items()})
                self._config_maps[key] = data

    # -- objects ---------------------------------------------------------------------------

    def _of_kind(self, kind: str) -> Iterable[Doc]:
        return (obj for obj in self.objects if obj.get("kind") == kind)

    def pod_specs(self) -> list[PodRef]:
        refs = []
        for obj in self.objects:
            kind = str(obj.get("kind"))
            template = None
            if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
                template = _dig(obj, "spec", "template")
            elif kind == "CronJob":
                template = _dig(obj, "spec", "jobTemplate", "spec", "template")
            elif kind == "Pod":
                template = obj
            elif kind == "ConfigMap" and (key := _pod_template_key(obj)) is not None:
                template = _pod_template(obj["data"][key])
                kind = "PodTemplate"
            if not isinstance(template, dict):
                continue
            spec = template.get("spec") or {}
            claims = tuple(_name(t) for t in (_dig(obj, "spec", "volumeClaimTemplates") or []))
            refs.append(
                PodRef(
                    kind=kind,
                    name=_name(obj),
                    namespace=_namespace(obj, self.namespace),
                    spec=spec,
                    service_account_name=str(
                        spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
                    ),
                    metadata=template.get("metadata") or {},
                    claim_templates=claims if kind == "StatefulSet" else (),
                )
            )
        return refs

    def pod(self, kind: str, name: str) -> PodRef:
        refs = self.pod_specs()
        for ref in refs:
            if (ref.kind, ref.name) == (kind, name):
                return ref
        known = ", ".join(f"{r.kind}/{r.name}" for r in refs)
        raise KeyError(f"no pod spec {kind}/{name} in the render; there are: {known}")

    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        return self._secrets.get((namespace, name))

    def config_map(self, namespace: str, name: str) -> dict[str, bytes] | None:
        found = self._config_maps.get((namespace, name))
        if found is None and name == "kube-root-ca.crt":  # published into every namespace
            return {"ca.crt": _FAKE_CA}
        return found

    def set_secret(self, namespace: str, name: str, key: str, value: bytes) -> None:
        """Set (or create) a Secret key: before a PodRun is made, as volumes are written then."""
        self._secrets.setdefault((namespace, name), {})[key] = value

    def delete_secret(self, namespace: str, name: str) -> None:
        self._secrets.pop((namespace, name), None)

    def service_account(self, namespace: str, name: str) -> Doc | None:
        for obj in self._of_kind("ServiceAccount"):
            if (_namespace(obj, self.namespace), _name(obj)) == (namespace, name):
                return obj
        return None

    def services(self) -> list[tuple[str, str, Doc]]:
        """(namespace, name, spec) of every Service."""
        return [
            (_namespace(o, self.namespace), _name(o), o.get("spec") or {})
            for o in self._of_kind("Service")
        ]

    def service_hosts(self, ip: str = "127.0.0.1") -> dict[str, str]:
        hosts = {}
        for namespace, name, _ in self.services():
            for host in (name, f"{name}.{namespace}", f"{name}.{namespace}.svc"):
                hosts[host] = ip
            hosts[f"{name}.{namespace}.svc.cluster.local"] = ip
        return hosts

    # -- storage ---------------------------------------------------------------------------

    @property
    def claims_root(self) -> Path:
        if self._claims_root is None:
            self._claims_root = Path(tempfile.mkdtemp(prefix="claims-"))
        return self._claims_root

    def claim(self, name: str, mode: int | None = None) -> Path:
        """The dir of claim `name`: made on first use, then the same for every pod."""
        path = self.claims_root / name
        if not path.exists():
            path.mkdir(parents=True)
            path.chmod(self.claim_mode if mode is None else mode)
        return path


# The KubernetesExecutor pod template's key in its ConfigMap: the official chart's
# (`airflow-config`), the community chart's (`airflow-pod-template`).
_POD_TEMPLATE_KEYS = ("pod_template_file.yaml", "pod_template.yaml")


def _pod_template_key(config_map: Doc) -> str | None:
    data = config_map.get("data") or {}
    return next((key for key in _POD_TEMPLATE_KEYS if key in data), None)


def _pod_template(text: str) -> Doc | None:
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind", "Pod") == "Pod":
            return doc
    return None


# -- $(VAR) expansion --------------------------------------------------------------------------


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion): `$(NAME)` becomes the
    value when `lookup` knows NAME and stays as written otherwise; `$$` is a literal `$`."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1 :]
            if rest[0] == "$":
                out.append("$")
                advance = 1
            elif rest[0] == "(" and ")" in rest:
                name = rest[1 : rest.index(")")]
                value = lookup(name)
                out.append(f"$({name})" if value is None else value)
                advance = rest.index(")") + 1
            else:  # not a reference (or an unclosed one): the `$` and one more character
                out.append("$" + rest[0])
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


# -- quantities, for resourceFieldRef ----------------------------------------------------------

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
}


def quantity(text: str | int | float) -> Fraction:
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text))
    if not match or match[2] not in _SUFFIXES:
        raise NotImplementedError(f"quantity {text!r}")
    return Fraction(match[1]) * _SUFFIXES[match[2]]


# -- volumes -----------------------------------------------------------------------------------


def _apply_fs_group(root: Path, fs_group: int, read_only: bool) -> None:
    """kubelet's SetVolumeOwnership: group fsGroup, g+r (g+rw if writable), dirs g+x and setgid."""
    mask = 0o440 if read_only else 0o660
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, ""]:
            path = Path(dirpath, name) if name else Path(dirpath)
            os.lchown(path, -1, fs_group)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode & 0o7777
            if path.is_dir():
                mode |= mask | 0o110 | 0o2000
            else:
                mode |= mask
            path.chmod(mode)


def _write_atomic(root: Path, files: Sequence[tuple[str, bytes, int]]) -> None:
    """The layout of kubelet's AtomicWriter: files in a timestamped dir, `..data` pointing at it,
    and a top-level symlink per entry through `..data` (what `ls -la` shows in a real pod)."""
    stamp = "..2024_01_01_00_00_00.000000001"
    for rel, data, mode in files:
        path = root / stamp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    (root / stamp).mkdir(exist_ok=True)
    (root / stamp).chmod(0o755)
    (root / "..data").symlink_to(stamp)
    for top in sorted({rel.split("/")[0] for rel, _, _ in files}):
        (root / top).symlink_to(f"..data/{top}")


_API_VOLUMES = ("secret", "configMap", "downwardAPI", "projected")


class _Volume(NamedTuple):
    path: Path
    api: bool  # secret/configMap/projected/downwardAPI: kubelet always mounts these read-only


# -- the pod -----------------------------------------------------------------------------------


def _suffix(seed: str, length: int) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes' generated names draw from
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def pod_name(ref: PodRef) -> str:
    """A name of the shape the controller would give the pod (deterministic)."""
    if ref.kind == "StatefulSet":
        return f"{ref.name}-0"
    if ref.kind == "Pod":
        return ref.name
    if ref.kind == "Deployment":
        return f"{ref.name}-{_suffix(ref.name, 10)}-{_suffix(ref.name + 'p', 5)}"
    if ref.kind == "CronJob":
        return f"{ref.name}-28000000-{_suffix(ref.name, 5)}"
    return f"{ref.name}-{_suffix(ref.name, 5)}"


def repository(image: str) -> str:
    """`registry:5000/org/name:tag@sha256:...` -> `registry:5000/org/name`."""
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


class _Mount(NamedTuple):
    bind: sandbox.Bind
    name: str  # the volume's


class PodRun:
    """One pod: its volumes (made at construction), and its containers' processes.

    Each `start`/`run` is a container (re)start: a fresh writable root layer; `exec`/`probe` run in
    the current one. Use as a context manager, or call `stop()`, so no process outlives the test.

    `network`: "host", the host's network (every pod shares 127.0.0.1 with the host and the
    other pods: the suite's services are there); "pod", a network namespace of the pod's own,
    shared by its containers, with a loopback interface and nothing else (the pod's 127.0.0.1
    is its own, and nothing outside the pod is reachable over the network: what a container
    reaches outside, it reaches through a Unix socket its image or a volume binds in)."""

    def __init__(  # noqa: PLR0913 - the pod and where it runs, then four optional settings
        self,
        cluster: Cluster,
        ref: PodRef,
        workdir: Path,
        images: Mapping[str, Image],
        hosts: Mapping[str, str] = _EMPTY,
        injected_env: Mapping[str, str] = _EMPTY,
        name: str | None = None,
        network: str = "host",
    ) -> None:
        if network not in ("host", "pod"):
            raise ValueError(f"network {network!r}: 'host' or 'pod'")
        self.cluster = cluster
        self.ref = ref
        self.workdir = workdir
        self.images = images
        self.hosts = dict(hosts)
        self.injected_env = dict(injected_env)
        self.name = name or pod_name(ref)
        self.hostname = str(ref.spec.get("hostname") or self.name)
        self.network = network
        self._procs: list[subprocess.Popen[bytes]] = []
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._netns_holder: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "logs").mkdir(exist_ok=True)
        self._volumes = self._make_volumes()
        for container in self._all_containers():
            self._mounts(container, check_only=True)

    def __enter__(self) -> PodRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- spec lookups -----------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.ref.namespace

    def _all_containers(self) -> list[Doc]:
        spec = self.ref.spec
        return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]

    def container(self, name: str) -> Doc:
        for container in self._all_containers():
            if container.get("name") == name:
                return container
        known = ", ".join(str(c.get("name")) for c in self._all_containers())
        raise KeyError(f"{self.ref.kind}/{self.ref.name} has no container {name!r}: {known}")

    def image(self, container: Doc) -> Image:
        repo = repository(str(container.get("image") or ""))
        if repo not in self.images:
            raise KeyError(
                f"container {container.get('name')!r}: no Image for {repo!r} "
                f"(image {container.get('image')!r}); known: {', '.join(self.images)}"
            )
        return self.images[repo]

    # -- env ----------------------------------------------------------------------------------

    def _field(self, path: str) -> str:
        meta = self.ref.metadata
        fields = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": "00000000-0000-4000-8000-" + _suffix(self.name, 12).replace("z", "0"),
            "spec.nodeName": "node-1",
            "spec.serviceAccountName": self.ref.service_account_name,
            "status.podIP": POD_IP,
            "status.podIPs": POD_IP,
            "status.hostIP": POD_IP,
            "status.hostIPs": POD_IP,
        }
        if path in fields:
            return fields[path]
        match = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
        if match:
            return str((meta.get(match[1]) or {}).get(match[2], ""))
        if path in ("metadata.labels", "metadata.annotations"):  # downwardAPI volume files
            items = (meta.get(path.split(".")[1]) or {}).items()
            return "\n".join(f"{k}={json.dumps(str(v))}" for k, v in sorted(items))
        raise NotImplementedError(f"fieldRef {path}")

    def _resource(self, ref: Doc, container: Doc | None) -> str:
        if ref.get("containerName"):
            container = self.container(str(ref["containerName"]))
        resources = (container or {}).get("resources") or {}
        kind, _, resource = str(ref["resource"]).partition(".")
        limit = (resources.get("limits") or {}).get(resource)
        # unset: limits are the node's allocatable, requests default to the limit (or 0)
        node = {"cpu": os.cpu_count() or 1, "memory": 8 * 2**30, "ephemeral-storage": 20 * 2**30}
        if kind == "limits":
            value = quantity(limit) if limit is not None else Fraction(node[resource])
        else:
            request = (resources.get("requests") or {}).get(resource, limit)
            value = quantity(request) if request is not None else Fraction(0)
        divisor = quantity(ref.get("divisor") or "1")
        return str(math.ceil(value / divisor))

    def _lookup(self, kind: str, name: str) -> dict[str, bytes] | None:
        if kind == "secret":
            return self.cluster.secret(self.namespace, name)
        return self.cluster.config_map(self.namespace, name)

    def _key_ref(self, container: Doc, var: str, kind: str, ref: Doc) -> str | None:
        """A secretKeyRef/configMapKeyRef; None if optional and missing. A missing required one
        is the pod's CreateContainerConfigError."""
        data = self._lookup(kind, str(ref.get("name")))
        if data is not None and ref.get("key") in data:
            return data[str(ref["key"])].decode()
        if ref.get("optional"):
            return None
        what = f"{kind} {self.namespace}/{ref.get('name')}"
        missing = what if data is None else f"key {ref.get('key')!r} of {what}"
        raise LookupError(
            f"CreateContainerConfigError: container {container.get('name')!r}, env {var}: "
            f"{missing} not found"
        )

    def _service_env(self) -> dict[str, str]:
        """The service link variables (FOO_SERVICE_HOST, ...): every Service of the namespace
        (enableServiceLinks, default true) and always the API server's."""
        services: list[tuple[str, Doc]] = [
            ("kubernetes", {"ports": [{"name": "https", "port": 443}]})
        ]
        if self.ref.spec.get("enableServiceLinks", True):
            services += [(n, s) for ns, n, s in self.cluster.services() if ns == self.namespace]
        env: dict[str, str] = {}
        for name, spec in services:
            ports = spec.get("ports") or []
            if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName" or not ports:
                continue
            prefix = name.upper().replace("-", "_")
            ip = str(spec.get("clusterIP") or POD_IP)
            env[f"{prefix}_SERVICE_HOST"] = ip
            env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
            for i, port in enumerate(ports):
                if port.get("name"):
                    env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(
                        port["port"]
                    )
                proto = str(port.get("protocol") or "TCP")
                url = f"{proto.lower()}://{ip}:{port['port']}"
                if i == 0:
                    env[f"{prefix}_PORT"] = url
                link = f"{prefix}_PORT_{port['port']}_{proto.upper()}"
                env.update({link: url, f"{link}_PROTO": proto.lower()})
                env.update({f"{link}_PORT": str(port["port"]), f"{link}_ADDR": ip})
        return env

    def container_env(self, name: str) -> dict[str, str]:
        """The container's env as the kubelet resolves it (before the runtime adds the image's)."""
        container = self.container(name)
        defined: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            kind = "secret" if "secretRef" in source else "configMap"
            ref = source.get("secretRef") or source.get("configMapRef") or {}
            data = self._lookup(kind, str(ref.get("name")))
            if data is None:
                if ref.get("optional"):
                    continue
                raise LookupError(
                    f"CreateContainerConfigError: container {name!r}, envFrom: "
                    f"{kind} {self.namespace}/{ref.get('name')} not found"
                )
            for key, raw in data.items():
                var = str(source.get("prefix") or "") + key
                if _ENV_NAME.match(var):  # kubelet skips invalid names
                    defined[var] = raw.decode()
        service_env = self._service_env()

        def lookup(var: str) -> str | None:
            return defined.get(var, service_env.get(var))

        for entry in container.get("env") or []:
            var = str(entry["name"])
            source = entry.get("valueFrom")
            value: str | None
            if entry.get("value") not in (None, "") or not source:
                value = expand(str(entry.get("value") or ""), lookup)
            elif "secretKeyRef" in source:
                value = self._key_ref(container, var, "secret", source["secretKeyRef"])
            elif "configMapKeyRef" in source:
                value = self._key_ref(container, var, "configMap", source["configMapKeyRef"])
            elif "fieldRef" in source:
                value = self._field(str(source["fieldRef"]["fieldPath"]))
            elif "resourceFieldRef" in source:
                value = self._resource(source["resourceFieldRef"], container)
            else:
                raise NotImplementedError(f"container {name!r}, env {var}: valueFrom {source}")
            if value is not None:
                defined[var] = value
        return {**defined, **{k: v for k, v in service_env.items() if k not in defined}}

    def _user(self, container: Doc) -> tuple[int, int, tuple[int, ...]]:
        pod_sc = self.ref.spec.get("securityContext") or {}
        sc = container.get("securityContext") or {}
        uid = sc.get("runAsUser", pod_sc.get("runAsUser", self.image(container).default_uid))
        gid = sc.get("runAsGroup", pod_sc.get("runAsGroup", 0))
        groups = [pod_sc["fsGroup"]] if pod_sc.get("fsGroup") is not None else []
        groups += pod_sc.get("supplementalGroups") or []
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) and int(uid) == 0:
            raise PermissionError(
                f"CreateContainerConfigError: container {container.get('name')!r} has "
                "runAsNonRoot and would run as root"
            )
        return int(uid), int(gid), tuple(dict.fromkeys(int(g) for g in groups))

    def env(self, name: str) -> dict[str, str]:
        """The process's whole environment: image ENV, HOSTNAME, injected (a webhook's: only
        names the container does not set), the container's, and HOME if none of them set it."""
        container = self.container(name)
        image = self.image(container)
        own = self.container_env(name)
        env = {"PATH": ":".join([*image.bin_dirs, *STANDARD_PATH]), **image.env}
        env["HOSTNAME"] = self.hostname
        env.update({k: v for k, v in self.injected_env.items() if k not in own})
        env.update(own)
        if "HOME" not in env:  # Docker/containerd: the passwd entry's home, else /
            env["HOME"] = image.users.get(self._user(container)[0], "/")
        return env

    def argv(self, name: str) -> list[str]:
        """`command` replaces ENTRYPOINT, `args` replaces CMD; both get $(VAR) expansion."""
        container = self.container(name)
        image = self.image(container)
        env = self.container_env(name)
        command = [expand(str(a), env.get) for a in container.get("command") or []]
        args = [expand(str(a), env.get) for a in container.get("args") or []]
        if command:
            return [*command, *args]
        return image.entrypoint(args if args else list(image.cmd))  # args: [] is unset

    # -- volumes ------------------------------------------------------------------------------

    def _fs_group(self) -> int | None:
        group = (self.ref.spec.get("securityContext") or {}).get("fsGroup")
        return None if group is None else int(group)

    def _automount(self) -> bool:
        if "automountServiceAccountToken" in self.ref.spec:
            return bool(self.ref.spec["automountServiceAccountToken"])
        account = self.cluster.service_account(self.namespace, self.ref.service_account_name)
        return bool((account or {}).get("automountServiceAccountToken", True))

    def _volume_specs(self) -> list[Doc]:
        volumes = list(self.ref.spec.get("volumes") or [])
        if self._automount():  # what the ServiceAccount admission plugin adds to every pod
            volumes.append(
                {
                    "name": "kube-api-access-" + _suffix(self.name, 5),
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt"}},
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {"fieldPath": "metadata.namespace"},
                                        }
                                    ]
                                }
                            },
                        ],
                    },
                }
            )
        return volumes

    def _make_volumes(self) -> dict[str, _Volume]:
        volumes: dict[str, _Volume] = {}
        root = self.workdir / "volumes"
        root.mkdir(exist_ok=True)
        fs_group = self._fs_group()
        for spec in self._volume_specs():
            name = str(spec["name"])
            path = root / name
            if "emptyDir" in spec:
                path.mkdir()
                path.chmod(0o777)
                if fs_group is not None:
                    _apply_fs_group(path, fs_group, read_only=False)
                volumes[name] = _Volume(path, api=False)
            elif "persistentVolumeClaim" in spec:
                claim = str(spec["persistentVolumeClaim"]["claimName"])
                volumes[name] = _Volume(self.cluster.claim(claim), api=False)
            elif "hostPath" in spec:
                raise PermissionError(f"volume {name!r}: hostPath volumes are refused here")
            elif any(kind in spec for kind in _API_VOLUMES):
                files = self._api_files(spec)
                path.mkdir()
                path.chmod(0o1777)  # the tmpfs kubelet mounts for the volume
                _write_atomic(path, files)
                if fs_group is not None:
                    _apply_fs_group(path, fs_group, read_only=True)
                volumes[name] = _Volume(path, api=True)
            else:
                kinds = [k for k in spec if k != "name"]
                raise NotImplementedError(f"volume {name!r}: {', '.join(kinds)} volumes")
        for template in self.ref.claim_templates:  # a StatefulSet pod's own claim: RWO, fresh fs
            own = self.cluster.claim(f"{template}-{self.name}", mode=0o755)
            if fs_group is not None:
                _apply_fs_group(own, fs_group, read_only=False)
            volumes.setdefault(template, _Volume(own, api=False))
        return volumes

    def _api_files(self, spec: Doc) -> list[tuple[str, bytes, int]]:
        """The files of a secret/configMap/projected/downwardAPI volume: (path, bytes, mode).
        None of them (an optional Secret that is missing) still makes an (empty) volume."""
        kind = next(k for k in _API_VOLUMES if k in spec)
        source = spec[kind] or {}
        mode = int(source.get("defaultMode", 0o644))
        sources = (source.get("sources") or []) if kind == "projected" else [{kind: source}]
        files: list[tuple[str, bytes, int]] = []
        for item in sources:
            files += self._source_files(str(spec["name"]), item, mode)
        return files

    def _source_files(self, volume: str, source: Doc, mode: int) -> list[tuple[str, bytes, int]]:
        if "secret" in source or "configMap" in source:
            kind = "secret" if "secret" in source else "configMap"
            ref = source[kind]
            ref_name = str(ref.get("secretName") or ref.get("name"))
            data = self._lookup(kind, ref_name)
            if data is None:
                if ref.get("optional"):
                    return []
                raise LookupError(
                    f"volume {volume!r}: {kind} {self.namespace}/{ref_name} not found"
                )
            items = ref.get("items")
            if not items:
                return [(k, v, mode) for k, v in data.items()]
            files = []
            for item in items:
                if item["key"] not in data:
                    if ref.get("optional"):
                        continue
                    raise LookupError(
                        f"volume {volume!r}: no key {item['key']!r} in {kind} {ref_name}"
                    )
                files.append((str(item["path"]), data[item["key"]], int(item.get("mode", mode))))
            return files
        if "serviceAccountToken" in source:
            token = source["serviceAccountToken"]
            return [(str(token["path"]), self._token(token.get("audience")), mode)]
        if "downwardAPI" in source:
            files = []
            for item in source["downwardAPI"].get("items") or []:
                if "fieldRef" in item:
                    value = self._field(str(item["fieldRef"]["fieldPath"]))
                else:
                    value = self._resource(item["resourceFieldRef"], None)
                files.append((str(item["path"]), value.encode(), int(item.get("mode", mode))))
            return files
        raise NotImplementedError(f"volume {volume!r}: projected source {', '.join(source)}")

    def _token(self, audience: str | None) -> bytes:
        """A JWT-shaped token (unsigned): what a projected serviceAccountToken file holds."""

        def part(obj: Doc) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        claims = {
            "aud": [audience or "https://kubernetes.default.svc.cluster.local"],
            "iss": "https://kubernetes.default.svc.cluster.local",
            "sub": f"system:serviceaccount:{self.namespace}:{self.ref.service_account_name}",
            "kubernetes.io": {"namespace": self.namespace, "pod": {"name": self.name}},
            "exp": 4102444800,
        }
        body = part({"alg": "RS256", "kid": "acceptance"}) + "." + part(claims)
        signature = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=")
        return body.encode() + b"." + signature

    # -- mounts -------------------------------------------------------------------------------

    def _mounts(self, container: Doc, check_only: bool = False) -> list[_Mount]:
        """The container's volume mounts as binds, parents first (containerd sorts by depth)."""
        mounts = list(container.get("volumeMounts") or [])
        token = [n for n in self._volumes if n.startswith("kube-api-access-")]
        if token and all(m.get("mountPath") != _TOKEN_MOUNT for m in mounts):
            mounts.append({"name": token[0], "mountPath": _TOKEN_MOUNT, "readOnly": True})
        result = []
        for mount in mounts:
            volume = self._volumes.get(str(mount.get("name")))
            if volume is None:  # the API server rejects such a pod
                raise KeyError(
                    f"container {container.get('name')!r}: volumeMount {mount.get('mountPath')!r} "
                    f"names volume {mount.get('name')!r}, which the pod does not have"
                )
            if check_only:
                continue
            source = volume.path
            sub = mount.get("subPath") or ""
            if mount.get("subPathExpr"):
                env = self.container_env(str(container["name"]))
                sub = expand(str(mount["subPathExpr"]), env.get)
            if sub:
                source = volume.path / sub
                if not source.exists() and not source.is_symlink():
                    # kubelet makes a missing subPath as a dir, with the volume root's mode
                    source.mkdir(parents=True)
                    source.chmod(volume.path.stat().st_mode & 0o7777)
            target = posixpath.normpath(str(mount["mountPath"]))
            read_only = bool(mount.get("readOnly")) or volume.api
            result.append(_Mount(sandbox.Bind(source, target, read_only), str(mount["name"])))
        return sorted(result, key=lambda m: m.bind.target.rstrip("/").count("/"))

    def _host_dirs(self, image: Image) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*image.extra_binds, *image.bin_dirs]))

    def host_path(self, container: str, path: str, *, layer_ok: bool = False) -> Path:
        """Where `path`, as `container` sees it, lives on the host: through its volume mounts
        (the deepest containing mount wins). Paths not on a volume raise ValueError, unless
        `layer_ok` and they are on the container's own writable layer (e.g. /tmp)."""
        spec = self.container(container)
        path = posixpath.normpath(path)
        for mount in reversed(self._mounts(spec)):
            target = mount.bind.target
            if path == target or path.startswith(target.rstrip("/") + "/"):
                return mount.bind.source / posixpath.relpath(path, target)
        if layer_ok:
            host = ("/usr", "/proc", "/dev", *self._host_dirs(self.image(spec)))
            if not any(path == h or path.startswith(h.rstrip("/") + "/") for h in host):
                return self._layer(container) / path.lstrip("/")
        raise ValueError(f"{path} is not on a volume of container {container!r}")

    # -- processes ----------------------------------------------------------------------------

    def _layer(self, container: str) -> Path:
        return self.workdir / "containers" / container / "rootfs"

    def _hosts_file(self) -> str:
        lines = [
            "# Kubernetes-managed hosts file.",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            f"{POD_IP}\t{self.hostname}",
        ]
        for alias in self.ref.spec.get("hostAliases") or []:
            lines.append(f"{alias['ip']}\t" + "\t".join(alias.get("hostnames") or []))
        lines += [f"{ip}\t{host}" for host, ip in self.hosts.items()]
        return "\n".join(lines) + "\n"

    def _launch(self, name: str, argv: Sequence[str], fresh: bool) -> sandbox.Launch:
        container = self.container(name)
        image = self.image(container)
        env = self.env(name)  # first: a CreateContainerConfigError starts nothing
        uid, gid, groups = self._user(container)
        sc = container.get("securityContext") or {}
        layer = self._layer(name)
        if fresh or not layer.exists():
            sandbox.new_layer(layer, self._hosts_file(), self.hostname, image.dirs, image.users)
        caps = set(sandbox.DEFAULT_CAPABILITIES)
        dropped = {str(c).upper() for c in _dig(sc, "capabilities", "drop") or []}
        caps = set() if "ALL" in dropped else caps - dropped
        caps |= {str(c).upper() for c in _dig(sc, "capabilities", "add") or []}
        if sc.get("privileged"):
            caps = {"ALL"}
        files = tuple(sandbox.Bind(Path(src), dst, True) for dst, src in image.files.items())
        return sandbox.Launch(
            layer=layer,
            hostname=self.hostname,
            host_dirs=self._host_dirs(image),
            # the image's files first: a volume mounted over one of them hides it, as in a pod
            binds=files + tuple(m.bind for m in self._mounts(container)),
            uid=uid,
            gid=gid,
            groups=groups,
            capabilities=frozenset(caps),
            no_new_privs=sc.get("allowPrivilegeEscalation") is False,
            read_only_root=bool(sc.get("readOnlyRootFilesystem")),
            workdir=str(container.get("workingDir") or image.workdir),
            env=env,
            argv=list(argv),
            netns=self._netns(),
        )

    def _netns(self) -> str | None:
        """The pod's network namespace (network "pod"), made on first use, as the runtime makes
        the pod sandbox before any container: a holder process (the pause container) keeps it,
        with its loopback interface up. None on the host's network."""
        if self.network == "host":
            return None
        holder = self._netns_holder
        if holder is None or holder.poll() is not None:
            holder = subprocess.Popen(
                [
                    "unshare",
                    "--net",
                    "sh",
                    "-c",
                    "ip link set lo up && echo up && exec sleep infinity",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
            assert holder.stdout is not None
            with holder.stdout:
                if holder.stdout.readline() != b"up\n":
                    holder.wait()
                    raise RuntimeError("could not make the pod's network namespace")
            self._netns_holder = holder
        return f"/proc/{holder.pid}/ns/net"

    def _log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start the container's process in the background (a container (re)start)."""
        running = self._running.get(name)
        if running is not None and running.poll() is None:
            raise RuntimeError(f"container {name!r} is already running")
        launch = self._launch(name, self.argv(name), fresh=True)
        with self._log_path(name).open("ab") as log:
            proc = subprocess.Popen(
                sandbox.command(launch),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills the whole tree
            )
        self._procs.append(proc)
        self._running[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self._log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def _complete(
        self, launch: sandbox.Launch, timeout: float | None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = sandbox.command(launch)
        with subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(stdin.encode() if stdin is not None else None, timeout)
            except subprocess.TimeoutExpired:
                sandbox.kill_session(proc.pid)
                proc.communicate()
                raise
            finally:
                sandbox.kill_session(proc.pid)  # whatever it left in the background
        return subprocess.CompletedProcess(
            list(launch.argv),
            proc.returncode,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
        )

    def run(self, name: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the container to completion (an init container, a Job): fresh layer, output
        captured and also appended to its log."""
        launch = self._launch(name, self.argv(name), fresh=True)
        result = self._complete(launch, timeout)
        with self._log_path(name).open("a") as log:
            log.write(result.stdout + result.stderr)
        return result

    def exec(
        self, name: str, argv: Sequence[str], timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Like `kubectl exec`: the container's user, env, mounts, working dir and root layer."""
        return self._complete(self._launch(name, argv, fresh=False), timeout, stdin)

    def probe(self, name: str, probe: str = "startupProbe", timeout: float | None = None) -> bool:
        """Run the container's probe once, as the kubelet does; True if it succeeds."""
        container = self.container(name)
        spec = container.get(probe)
        if not spec:
            raise KeyError(f"container {name!r} has no {probe}")
        seconds = float(spec.get("timeoutSeconds", 1)) if timeout is None else timeout
        if "exec" in spec:
            # the kubelet expands only the container's literal env values in a probe command
            static = {
                e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e
            }
            argv = [expand(str(a), static.get) for a in spec["exec"]["command"]]
            try:
                result = self.exec(name, argv, timeout=seconds + _PROBE_SETUP_SLACK)
            except subprocess.TimeoutExpired:
                return False
            return result.returncode == 0
        port = self._port(
            container, (spec.get("httpGet") or spec.get("tcpSocket") or {}).get("port")
        )
        if "httpGet" in spec:
            get = spec["httpGet"]
            scheme = str(get.get("scheme", "HTTP")).lower()
            url = f"{scheme}://{get.get('host') or POD_IP}:{port}{get.get('path', '/')}"
            headers = {str(h["name"]): str(h["value"]) for h in get.get("httpHeaders") or []}
            return self._reach("http", url, headers, seconds)
        if "tcpSocket" in spec:
            return self._reach("tcp", str(port), {}, seconds)
        raise NotImplementedError(f"container {name!r} {probe}: {', '.join(spec)}")

    def _reach(self, kind: str, target: str, headers: Mapping[str, str], seconds: float) -> bool:
        """A network probe's request (kind "http": a GET of the URL `target`; "tcp": a connection
        to the port `target`), made where the kubelet's arrives: in the pod's network."""
        netns = self._netns()
        if netns is None:
            return _reach(kind, target, headers, seconds)
        argv = [sys.executable, "-c", _REACH_SCRIPT, kind, target, json.dumps(headers)]
        try:
            done = subprocess.run(
                ["nsenter", f"--net={netns}", "--", *argv, str(seconds)],
                capture_output=True,
                timeout=seconds + _PROBE_SETUP_SLACK,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def _port(self, container: Doc, port: Any) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                return int(declared["containerPort"])
        raise KeyError(f"container {container.get('name')!r} has no port named {port!r}")

    def running(self, name: str) -> bool:
        """Whether the container's process (started with `start`) is running."""
        proc = self._running.get(name)
        return proc is not None and proc.poll() is None

    def exit_code(self, name: str) -> int | None:
        """The exit code of the container's last start, as the runtime reports it (128 + the
        signal for a process a signal ended); None while it runs or if it never started."""
        proc = self._running.get(name)
        if proc is None or proc.poll() is None:
            return None
        return _exit_code(proc.returncode)

    def terminate(self, name: str, grace: float) -> int:
        """Stop the container as the kubelet does: SIGTERM, then SIGKILL after `grace` seconds;
        its exit code."""
        proc = self._running.get(name)
        if proc is None:
            raise RuntimeError(f"container {name!r} was never started")
        sandbox.kill_session(proc.pid, grace)
        return _exit_code(proc.wait())

    def run_pod(
        self,
        timeout: float,
        *,
        initialize_only: bool = False,
        until: Callable[[PodStatus], bool] | None = None,
    ) -> PodStatus:
        """Run the pod as the kubelet runs it (see `_PodSync`), until it has Succeeded or
        Failed, `until` says so, `timeout` seconds have passed, or (`initialize_only`) its init
        containers are done: then the sidecars keep running, for `exec` into the pod's other
        containers, and nothing supervises them any more. What still runs when it returns runs
        on, until `stop()`."""
        return _PodSync(self).run(timeout, initialize_only, until)

    def stop(self, grace: float = 0.0) -> None:
        """Kill every process this pod started (SIGTERM, then SIGKILL after `grace` seconds),
        and its network namespace."""
        for proc in self._procs:
            sandbox.kill_session(proc.pid, grace)
            proc.wait()
        self._procs.clear()
        self._running.clear()
        if self._netns_holder is not None:
            self._netns_holder.kill()
            self._netns_holder.wait()
            self._netns_holder = None


def _exit_code(returncode: int) -> int:
    """A container's exit code from the runtime's process: 128 + N when signal N ended it."""
    return 128 - returncode if returncode < 0 else returncode


# -- the pod's lifecycle, as the kubelet runs it ------------------------------------------------

_BACKOFF_FIRST, _BACKOFF_MAX = 10.0, 300.0  # the kubelet's crash-loop back-off
_TICK = 0.1


class Event(NamedTuple):
    at: float  # seconds since the pod started
    container: str  # "" for the pod
    what: str  # "started", "startup probe succeeded", "exited 0", "SIGTERM", ...


@dataclass
class PodStatus:
    """What `run_pod` saw: the phase when it returned, and each thing that happened, in order."""

    phase: str = "Pending"
    initialized: bool = False  # the init containers are done (the pod's Initialized condition)
    events: list[Event] = field(default_factory=list)
    exit_codes: dict[str, list[int]] = field(default_factory=dict)  # per container, each exit

    def first(self, container: str, what: str) -> float:
        """When `what` first happened to `container`; AssertionError if it never did."""
        for event in self.events:
            if (event.container, event.what) == (container, what):
                return event.at
        raise AssertionError(f"{container}: never {what!r}\n{self}")

    def happened(self, container: str, what: str) -> bool:
        return any((e.container, e.what) == (container, what) for e in self.events)

    def __str__(self) -> str:
        lines = [f"phase {self.phase}, initialized {self.initialized}"]
        lines += [f"{e.at:7.2f} {e.container or '(pod)'}: {e.what}" for e in self.events]
        return "\n".join(lines)


@dataclass(eq=False)
class _Container:
    spec: Doc
    role: str  # "init" (runs to completion), "sidecar" (an init container that restarts: Always)
    # or "main"
    started: bool = False  # its startup probe has succeeded (or it has none) since its start
    done: bool = False  # exited and will not start again
    since: float = 0.0  # when it (last) started
    next_probe: float = 0.0
    failures: int = 0  # consecutive failures of the probe in force
    restarts: int = 0
    start_at: float | None = 0.0  # when it may (re)start; None while it runs

    @property
    def name(self) -> str:
        return str(self.spec["name"])


class _PodSync:
    """The kubelet's handling of one pod (Kubernetes 1.29 and later, native sidecars on):

    - init containers one by one, in order. One with `restartPolicy: Always` (a native sidecar)
      starts and keeps running: the next one starts once it has started, which is once its
      startupProbe has succeeded if it has one. Any other must exit 0 before the next starts;
    - then the main containers, all of them;
    - startup probes (initialDelaySeconds, periodSeconds, timeoutSeconds, failureThreshold)
      and, once started, liveness probes, of every running container but a plain init
      container: the failureThreshold-th failure in a row kills the container;
    - an exited or killed container restarts after the crash-loop back-off (10 s, doubling, at
      most 300 s) when its policy says so: a sidecar always; a plain init container on failure
      unless the pod's restartPolicy is Never (then the pod has Failed); a main container by
      the pod's restartPolicy (Always; OnFailure: after a non-zero exit; Never: not);
    - once every main container has exited for good, the sidecars get SIGTERM, the last one
      first, each with what is left of terminationGracePeriodSeconds before SIGKILL; the phase
      is Succeeded if every main container's last exit was 0, Failed otherwise (the sidecars'
      exit codes do not count).

    Not modelled: readiness (no Service routes to these pods), postStart/preStop hooks,
    successThreshold above 1, the 10-minute back-off reset, the image pull."""

    def __init__(self, pod: PodRun) -> None:
        self.pod = pod
        spec = pod.ref.spec
        self.policy = str(spec.get("restartPolicy") or "Always")
        self.grace = float(spec.get("terminationGracePeriodSeconds", 30))
        self.init = [
            _Container(c, "sidecar" if c.get("restartPolicy") == "Always" else "init")
            for c in spec.get("initContainers") or []
        ]
        self.main = [_Container(c, "main") for c in spec.get("containers") or []]
        self.status = PodStatus()
        self.t0 = time.monotonic()
        self.next_init = 0

    def _event(self, container: str, what: str) -> None:
        self.status.events.append(Event(round(time.monotonic() - self.t0, 2), container, what))

    def run(
        self, timeout: float, initialize_only: bool, until: Callable[[PodStatus], bool] | None
    ) -> PodStatus:
        deadline = self.t0 + timeout
        while time.monotonic() < deadline:
            for container in [*self.init[: self.next_init + 1], *self.main]:
                self._supervise(container)
            if self.status.phase == "Failed":
                self._stop_sidecars()
                return self.status
            if not self.status.initialized:
                self._initialize()
                if self.status.initialized and initialize_only:
                    return self.status
            elif self.main and all(c.done for c in self.main):
                self._stop_sidecars()
                codes = [self.status.exit_codes[c.name][-1] for c in self.main]
                self.status.phase = "Succeeded" if not any(codes) else "Failed"
                self._event("", self.status.phase)
                return self.status
            if until is not None and until(self.status):
                return self.status
            time.sleep(_TICK)
        return self.status

    def _initialize(self) -> None:
        """Start the next init container when it is its turn; the main ones after the last."""
        while self.next_init < len(self.init):
            current = self.init[self.next_init]
            if current.start_at is not None and not current.done:
                self._supervise(current)  # starts it, if its back-off allows
            if (current.role == "sidecar" and current.started) or current.done:
                self.next_init += 1
                continue
            return
        self.status.initialized = True
        self._event("", "initialized")
        self.status.phase = "Running"
        for container in self.main:
            self._supervise(container)

    def _supervise(self, c: _Container) -> None:
        """Start (or restart) `c` when due, notice its exit, run its probes when due."""
        now = time.monotonic()
        if c.done or (c.role == "main" and not self.status.initialized):
            return
        if c.start_at is not None:
            if now >= c.start_at:
                self.pod.start(c.name)
                self._event(c.name, "started")
                c.since = now
                c.start_at = None
                c.started = False
                c.failures = 0
                c.next_probe = now + float(
                    (c.spec.get("startupProbe") or {}).get("initialDelaySeconds", 0)
                )
            return
        code = self.pod.exit_code(c.name)
        if code is not None:
            self._exited(c, code)
            return
        if c.role == "init":
            return  # plain init containers have no probes
        probe = "livenessProbe" if c.started else "startupProbe"
        spec = c.spec.get(probe)
        if not spec:
            if not c.started:
                c.started = True
                c.failures = 0
                c.next_probe = now + float(
                    (c.spec.get("livenessProbe") or {}).get("initialDelaySeconds", 0)
                )
            return
        if now < c.next_probe:
            return
        ok = self.pod.probe(c.name, probe)
        c.next_probe = time.monotonic() + float(spec.get("periodSeconds", 10))
        label = probe.removesuffix("Probe")
        if ok:
            c.failures = 0
            if not c.started:
                c.started = True
                self._event(c.name, f"{label} probe succeeded")
                c.next_probe = time.monotonic() + float(
                    (c.spec.get("livenessProbe") or {}).get("initialDelaySeconds", 0)
                )
            return
        c.failures += 1
        self._event(c.name, f"{label} probe failed")
        if c.failures >= int(spec.get("failureThreshold", 3)):
            self._event(c.name, f"SIGTERM ({label} probe failed {c.failures} times)")
            self._exited(c, self.pod.terminate(c.name, self.grace))

    def _exited(self, c: _Container, code: int) -> None:
        self._event(c.name, f"exited {code}")
        self.status.exit_codes.setdefault(c.name, []).append(code)
        if c.role == "sidecar":
            again = True
        elif c.role == "init":
            again = code != 0
            if again and self.policy == "Never":
                self.status.phase = "Failed"
                self._event("", "Failed")
                again = False
        else:
            again = self.policy == "Always" or (self.policy == "OnFailure" and code != 0)
        if not again:
            c.done = True
            return
        c.start_at = time.monotonic() + min(_BACKOFF_FIRST * 2**c.restarts, _BACKOFF_MAX)
        c.restarts += 1

    def _stop_sidecars(self) -> None:
        """SIGTERM to the running sidecars, last first, within the pod's grace period."""
        deadline = time.monotonic() + self.grace
        for c in reversed(self.init):
            c.done = True
            if c.role != "sidecar" or not self.pod.running(c.name):
                continue
            self._event(c.name, "SIGTERM")
            code = self.pod.terminate(c.name, max(0.0, deadline - time.monotonic()))
            self._event(c.name, f"exited {code}")
            self.status.exit_codes.setdefault(c.name, []).append(code)


def _reach(kind: str, target: str, headers: Mapping[str, str], seconds: float) -> bool:
    """The kubelet's httpGet (success: a status from 200 to 399, redirects followed) or
    tcpSocket probe (success: the connection opens)."""
    try:
        if kind == "http":
            request = urllib.request.Request(target, headers=dict(headers))
            with urllib.request.urlopen(request, timeout=seconds) as response:
                return 200 <= int(response.status) < 400
        with socket.create_connection((POD_IP, int(target)), timeout=seconds):
            return True
    except (urllib.error.URLError, OSError):
        return False


# `_reach`, run in the pod's network namespace (nsenter; this process stays in the host's):
# argv kind, target, headers as JSON, timeout; exit status 0 when the probe succeeds.
_REACH_SCRIPT = f"""
import json, socket, sys, urllib.error, urllib.request
from collections.abc import Mapping
POD_IP = {POD_IP!r}
{inspect.getsource(_reach)}
kind, target, headers, seconds = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
sys.exit(0 if _reach(kind, target, headers, float(seconds)) else 1)
"""

_FAKE_CA = (
    b"-----BEGIN CERTIFICATE-----\n"
    b"MIIBfakefakefakefakefakefakefakefakefakefakefakefakefakefakefake=\n"
    b"-----END CERTIFICATE-----\n"
)
