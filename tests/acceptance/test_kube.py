"""The pod runtime model itself (kube.py, sandbox.py), on a small hand-written render."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from acceptance.kube import Cluster, Image, PodRun

pytestmark = [
    pytest.mark.acceptance,
    pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces and chroot need root"),
]

RENDER = f"""
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: ns1}}
data: {{token: {base64.b64encode(b"tok").decode()}}}
stringData: {{password: hunter2}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: ns1}}
data:
  REGION: eu-west-1
  bad key: skipped by the kubelet
  conf.ini: "[section]\\nkey = value\\n"
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: ns1}}
spec: {{ports: [{{name: http, port: 8080}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: ns1}}
spec:
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      securityContext: {{runAsUser: 50000, fsGroup: 0}}
      volumes:
        - {{name: shared, emptyDir: {{}}}}
        - {{name: creds, secret: {{secretName: creds, defaultMode: 0400}}}}
        - {{name: settings, configMap: {{name: settings}}}}
      initContainers:
        - name: default-cmd
          image: example/tool:1.0
        - name: with-args
          image: example/tool:1.0
          args: [one, $(GREETING)]
          env: [{{name: GREETING, value: hi}}]
      containers:
        - name: writer
          image: example/tool:1.0
          command: [sh, -c, 'echo hello > $(FILE); touch /tmp/ready; exec sleep 1000']
          envFrom: [{{configMapRef: {{name: settings}}, prefix: CFG_}}]
          env:
            - {{name: BASE, value: /shared}}
            - {{name: FILE, value: $(BASE)/greeting}}
            - {{name: LITERAL, value: $$(BASE)}}
            - {{name: UNKNOWN, value: $(NOPE)}}
            - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
            - {{name: POD, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
          volumeMounts:
            - {{name: shared, mountPath: /shared}}
            - {{name: creds, mountPath: /etc/creds, readOnly: true}}
            - {{name: settings, mountPath: /opt/app/conf.ini, subPath: conf.ini}}
          startupProbe: {{exec: {{command: [test, -e, /tmp/ready]}}}}
        - name: reader
          image: example/tool:1.0
          command: [sh, -c, 'echo $$$$ > /shared/pid; while true; do sleep 1000; done']
          env: [{{name: HOME, value: /shared/home}}]
          volumeMounts: [{{name: shared, mountPath: /shared}}]
          securityContext: {{readOnlyRootFilesystem: true}}
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(yaml.safe_load_all(RENDER), claims_root=tmp_path / "claims")


@pytest.fixture
def image(tmp_path: Path) -> Image:
    bin_dir = tmp_path / "image" / "bin"  # under pytest's 0700 tmp dir: the binds must cope
    bin_dir.mkdir(parents=True)
    tool = bin_dir / "tool"
    tool.write_text('#!/bin/sh\necho "tool $*"\n')
    tool.chmod(0o755)
    return Image(
        bin_dirs=(str(bin_dir),),
        extra_binds=(),
        env={"TOOL_HOME": "/opt/tool"},
        users={0: "/root"},
        entrypoint=lambda args: ["tool", *args],
        cmd=("default",),
    )


@pytest.fixture
def pod(cluster: Cluster, image: Image, tmp_path: Path) -> Iterator[PodRun]:
    ref = cluster.pod("Deployment", "app")
    hosts = cluster.service_hosts()
    injected = {"AWS_ROLE_ARN": "arn:aws:iam::1:role/r", "BASE": "from the webhook"}
    images = {"example/tool": image}
    with PodRun(cluster, ref, tmp_path / "pod", images, hosts=hosts, injected_env=injected) as run:
        yield run


def wait_for(pod: PodRun, container: str) -> None:
    deadline = time.monotonic() + 10
    while not pod.probe(container):
        assert time.monotonic() < deadline, pod.log(container)
        time.sleep(0.1)


def test_env_is_resolved_as_the_kubelet_does(pod: PodRun, image: Image) -> None:
    env = pod.env("writer")
    assert env["FILE"] == "/shared/greeting"
    assert env["BASE"] == "/shared"  # a webhook's env does not replace the container's
    assert env["AWS_ROLE_ARN"] == "arn:aws:iam::1:role/r"
    assert env["LITERAL"] == "$(BASE)"
    assert env["UNKNOWN"] == "$(NOPE)"
    assert env["CFG_REGION"] == "eu-west-1"
    assert not any(" " in name for name in env)
    assert env["PASSWORD"] == "hunter2"
    assert env["POD"] == pod.name == env["HOSTNAME"]
    assert env["WEB_SERVICE_PORT"] == "8080"
    assert env["TOOL_HOME"] == "/opt/tool"
    assert env["HOME"] == "/"  # uid 50000 is not in the image's passwd
    assert env["PATH"].startswith(image.bin_dirs[0] + ":")
    assert env["CFG_conf.ini"] == "[section]\nkey = value\n"  # dots pass IsEnvVarName
    seen = pod.exec("writer", ["env", "-0"]).stdout.split("\0")[:-1]
    assert dict(entry.split("=", 1) for entry in seen) == env


def test_entrypoint_cmd_and_args(pod: PodRun) -> None:
    assert pod.run("default-cmd").stdout == "tool default\n"
    assert pod.run("with-args").stdout == "tool one hi\n"
    assert "tool default" in pod.log("default-cmd")


def test_containers_share_an_empty_dir(pod: PodRun) -> None:
    assert not pod.probe("writer")
    pod.start("writer")
    wait_for(pod, "writer")
    assert pod.exec("reader", ["cat", "/shared/greeting"]).stdout == "hello\n"
    assert pod.host_path("reader", "/shared/greeting").read_text() == "hello\n"
    with pytest.raises(ValueError, match="not on a volume"):
        pod.host_path("writer", "/tmp/ready")
    assert pod.host_path("writer", "/tmp/ready", layer_ok=True).exists()


def test_secret_and_config_map_files(pod: PodRun) -> None:
    # defaultMode 0400, and fsGroup 0 makes it group-owned and group-readable
    stat = pod.exec("writer", ["stat", "-L", "-c", "%a %u %g", "/etc/creds/password"])
    assert stat.stdout == "440 0 0\n"
    assert pod.exec("writer", ["cat", "/etc/creds/token"]).stdout == "tok"
    assert pod.exec("writer", ["touch", "/etc/creds/x"]).returncode != 0
    conf = pod.exec("writer", ["sh", "-c", "test -f /opt/app/conf.ini && cat /opt/app/conf.ini"])
    assert conf.stdout == "[section]\nkey = value\n"
    token = pod.exec("writer", ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"])
    assert token.stdout.count(".") == 2


def test_home_is_root_for_an_unknown_uid(pod: PodRun) -> None:
    denied = pod.exec("writer", ["sh", "-c", 'mkdir "$HOME/.x"'])
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    made = pod.exec("reader", ["sh", "-c", 'mkdir -p "$HOME/.x" && echo "$HOME"'])
    assert made.stdout == "/shared/home\n", made.stderr


def test_service_names_resolve(pod: PodRun) -> None:
    result = pod.exec("writer", ["getent", "hosts", "web.ns1.svc.cluster.local"])
    assert result.stdout.split() == ["127.0.0.1", "web.ns1.svc.cluster.local"]


def test_read_only_root_filesystem(pod: PodRun) -> None:
    assert pod.exec("writer", ["touch", "/tmp/x"]).returncode == 0
    assert pod.exec("reader", ["touch", "/tmp/x"]).returncode != 0
    assert pod.exec("reader", ["touch", "/shared/x"]).returncode == 0


def test_stop_kills_the_whole_tree(pod: PodRun) -> None:
    proc = pod.start("reader")
    pid_file = pod.host_path("reader", "/shared/pid")
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, pod.log("reader")
        time.sleep(0.05)
    shell = int(pid_file.read_text())
    assert Path(f"/proc/{shell}").exists()
    pod.stop()
    assert proc.poll() is not None
    assert not Path(f"/proc/{shell}").exists()


def test_pod_errors(cluster: Cluster, image: Image, tmp_path: Path) -> None:
    ref = cluster.pod("Deployment", "app")
    images = {"example/tool": image}
    cluster.delete_secret("ns1", "creds")
    with pytest.raises(LookupError, match="creds"):
        PodRun(cluster, ref, tmp_path / "no-secret", images)
    cluster.set_secret("ns1", "creds", "token", b"t")
    no_key = PodRun(cluster, ref, tmp_path / "no-key", images)
    with no_key, pytest.raises(LookupError, match=r"container 'writer', env PASSWORD"):
        no_key.start("writer")
    with pytest.raises(KeyError, match=r"no pod spec Deployment/nope.*Deployment/app"):
        cluster.pod("Deployment", "nope")
    no_image = PodRun(cluster, ref, tmp_path / "no-image", {})
    with no_image, pytest.raises(KeyError, match="example/tool"):
        no_image.start("writer")


def test_rejected_volumes(cluster: Cluster, image: Image, tmp_path: Path) -> None:
    ref = cluster.pod("Deployment", "app")
    images = {"example/tool": image}
    ref.spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    with pytest.raises(PermissionError, match="hostPath"):
        PodRun(cluster, ref, tmp_path / "host", images)
    ref.spec["volumes"][-1] = {"name": "disk", "gcePersistentDisk": {"pdName": "x"}}
    with pytest.raises(NotImplementedError, match="gcePersistentDisk"):
        PodRun(cluster, ref, tmp_path / "gce", images)
    ref.spec["volumes"].pop()
    ref.spec["containers"][0]["volumeMounts"].append({"name": "nope", "mountPath": "/x"})
    with pytest.raises(KeyError, match="'writer': volumeMount '/x' names volume 'nope'"):
        PodRun(cluster, ref, tmp_path / "mount", images)


# -- the pod's lifecycle (run_pod) and its network ---------------------------------------------

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: job, namespace: ns1}
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 5
      volumes: [{name: shared, emptyDir: {}}]
      initContainers:
        - name: sidecar
          image: example/tool:1.0
          restartPolicy: Always
          # ready only after a second; exits 0 on SIGTERM
          command:
            - sh
            - -c
            - trap 'echo bye; exit 0' TERM; sleep 1; touch /shared/ready; while sleep .1; do :; done
          volumeMounts: [{name: shared, mountPath: /shared}]
          startupProbe:
            exec: {command: [test, -e, /shared/ready]}
            periodSeconds: 1
            failureThreshold: 20
        - name: needs-sidecar
          image: example/tool:1.0
          command: [test, -e, /shared/ready]
          volumeMounts: [{name: shared, mountPath: /shared}]
      containers:
        - name: main
          image: example/tool:1.0
          command: [sh, -c, 'exit $(CODE)']
          env: [{name: CODE, value: "0"}]
"""


@pytest.mark.parametrize("code", [0, 3])
def test_a_native_sidecar_starts_first_and_stops_after_the_main_container(
    image: Image, tmp_path: Path, code: int
) -> None:
    cluster = Cluster(yaml.safe_load_all(JOB))
    ref = cluster.pod("Job", "job")
    ref.spec["containers"][0]["env"][0]["value"] = str(code)
    with PodRun(cluster, ref, tmp_path / "pod", {"example/tool": image}) as pod:
        status = pod.run_pod(timeout=60)
    # the next init container waited for the sidecar's startup probe, which failed first
    assert status.first("sidecar", "startup probe failed") < status.first(
        "sidecar", "startup probe succeeded"
    )
    assert status.first("sidecar", "startup probe succeeded") <= status.first(
        "needs-sidecar", "started"
    )
    assert status.first("main", f"exited {code}") <= status.first("sidecar", "SIGTERM")
    assert status.exit_codes == {"needs-sidecar": [0], "main": [code], "sidecar": [0]}, status
    # the sidecar's exit code does not count; the main container's does
    assert status.phase == ("Succeeded" if code == 0 else "Failed"), status
    assert "bye" in pod.log("sidecar")


def test_a_sidecar_as_a_plain_container_keeps_the_pod_running(image: Image, tmp_path: Path) -> None:
    cluster = Cluster(yaml.safe_load_all(JOB))
    ref = cluster.pod("Job", "job")
    sidecar = ref.spec["initContainers"].pop(0)
    del sidecar["restartPolicy"]
    ref.spec["containers"].append(sidecar)
    ref.spec["initContainers"][0]["command"] = ["true"]
    with PodRun(cluster, ref, tmp_path / "pod", {"example/tool": image}) as pod:
        status = pod.run_pod(timeout=5)
        assert status.exit_codes == {"needs-sidecar": [0], "main": [0]}, status
        assert status.phase == "Running"
        assert pod.running("sidecar")


def test_a_failed_startup_probe_restarts_the_sidecar_after_a_back_off(
    image: Image, tmp_path: Path
) -> None:
    cluster = Cluster(yaml.safe_load_all(JOB))
    ref = cluster.pod("Job", "job")
    ref.spec["initContainers"][0]["startupProbe"]["failureThreshold"] = 2
    ref.spec["initContainers"][0]["startupProbe"]["exec"]["command"] = ["false"]
    with PodRun(cluster, ref, tmp_path / "pod", {"example/tool": image}) as pod:
        status = pod.run_pod(timeout=14)
    # killed on its second failure (exit 0: its trap), started again 10 s later; nothing else
    assert [e.what for e in status.events if e.container == "sidecar"][:5] == [
        "started",
        "startup probe failed",
        "startup probe failed",
        "SIGTERM (startup probe failed 2 times)",
        "exited 0",
    ], status
    restarted = [e.at for e in status.events if e.what == "started"]
    assert len(restarted) == 2
    assert restarted[1] - status.first("sidecar", "exited 0") >= 10
    assert not status.happened("needs-sidecar", "started")


def test_the_pods_own_network(cluster: Cluster, image: Image, tmp_path: Path) -> None:
    ref = cluster.pod("Deployment", "app")
    server = ["/usr/bin/python3.11", "-m", "http.server", "--bind", "127.0.0.1", "8123"]
    ref.spec["containers"][1]["command"] = server
    ref.spec["containers"][1]["startupProbe"] = {"httpGet": {"path": "/", "port": 8123}}
    connect = "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2)"
    with socket.create_server(("127.0.0.1", 0)) as on_the_host:
        host_port = on_the_host.getsockname()[1]
        images = {"example/tool": image}
        with PodRun(cluster, ref, tmp_path / "pod", images, network="pod") as pod:
            pod.start("reader")
            wait_for(pod, "reader")  # the kubelet's probe reaches the pod's 127.0.0.1
            # the pod's containers share 127.0.0.1 ...
            reached = pod.exec("writer", ["/usr/bin/python3.11", "-c", connect, "8123"])
            assert reached.returncode == 0, reached.stderr
            # ... which is not the host's
            host = pod.exec("writer", ["/usr/bin/python3.11", "-c", connect, str(host_port)])
            assert host.returncode != 0
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", 8123), timeout=2).close()
        with PodRun(cluster, ref, tmp_path / "host", images) as on_host:
            host = on_host.exec("writer", ["/usr/bin/python3.11", "-c", connect, str(host_port)])
            assert host.returncode == 0, host.stderr
