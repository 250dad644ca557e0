"""The pod-spec planner (`podspec.plan`) and the data side of its edits (`podspec.apply_ops`).

Each row of CASES is one pod spec and what a config adds to it, with the exact ops (paths
relative to the pod spec), the findings (severity, rule, path; messages by a key fragment),
and what the plan reports as added and as already there. APPLIED checks the pod that
applying a row's ops gives; every row without findings must change nothing on a second run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_sidecars.pods.podspec import Additions, Op, Plan, Wanted, apply_ops, plan

PathT = tuple[str | int, ...]
Data = dict[str, Any]
Targeted = tuple[Wanted, frozenset[str], frozenset[str]]
POD_PATH = "spec.template.spec"  # where the pod spec sits in a Deployment
PREFIX: PathT = ("spec", "template", "spec")
ORIGIN = "spec.scheduler.extraContainers[0]"
CONFLICT, MISSING = "name-conflict", "missing-volume"


def c(name: str, image: str = "busybox:1.36", **fields: Any) -> Data:
    """A container."""
    return {"name": name, "image": image, **fields}


def w(value: Data, origin: str = ORIGIN) -> Wanted:
    return Wanted(value, origin)


def into(value: Data, containers: tuple[str, ...] = (), init: tuple[str, ...] = ()) -> Targeted:
    """A mount or env var for the named containers and init containers of the pod."""
    return w(value, "spec.scheduler.extraVolumeMounts[0]"), frozenset(containers), frozenset(init)


AIRFLOW = "apache/airflow:2.9.3"
SCHEDULER = c("scheduler", AIRFLOW)
WAIT = c("wait-for-airflow-migrations", AIRFLOW)
KERBEROS_INIT = c("kerberos-init", AIRFLOW)
CONFIG_VOLUME = {"name": "config", "configMap": {"name": "airflow-config"}}
SIDECAR = c("sidecar", command=["sleep", "infinity"])
OLD_SIDECAR = c("sidecar", "busybox:1.35")
INIT1, INIT2 = c("init-one"), c("init-two")
DATA = {"name": "data", "emptyDir": {}}
DATA_PVC = {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
MOUNT = {"name": "data", "mountPath": "/data"}
OTHER_AT_DATA = {"name": "other", "mountPath": "/data"}
KEYTAB = {"name": "keytab", "mountPath": "/etc/keytab"}
S3_SYNC = c("s3-sync", volumeMounts=[{"name": "dags", "mountPath": "/dags"}])
READER = c("reader", volumeMounts=[{"name": "config", "mountPath": "/c"}])
A1, A2, B2 = {"name": "A", "value": "1"}, {"name": "A", "value": "2"}, {"name": "B", "value": "2"}


def pod(
    containers: tuple[Data, ...] = (SCHEDULER,),
    init: tuple[Data, ...] = (WAIT,),
    volumes: tuple[Data, ...] = (CONFIG_VOLUME,),
) -> Data:
    """A scheduler-like pod spec (a fresh copy each time)."""
    return copy.deepcopy(
        {"initContainers": list(init), "containers": list(containers), "volumes": list(volumes)}
    )


@dataclass
class Case:
    pod: Data
    additions: Additions
    ops: list[Op] = field(default_factory=list)
    findings: list[tuple[str, str, PathT, str]] = field(default_factory=list)  # ..., fragment
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replace: bool = False
    extra_volume_names: frozenset[str] = frozenset()
    init_before: frozenset[str] = frozenset()

    def run(self, target: Data | None = None, additions: Additions | None = None) -> Plan:
        return plan(
            self.pod if target is None else target,
            self.additions if additions is None else additions,
            replace=self.replace,
            pod_path=POD_PATH,
            extra_volume_names=self.extra_volume_names,
            init_before=self.init_before,
        )


KERBEROS_POD = pod(containers=(c("base", AIRFLOW),), init=(WAIT, KERBEROS_INIT), volumes=())
WITH_ENV = pod(containers=(c("scheduler", AIRFLOW, env=[A1]),))
SCHEDULER_MOUNTED = c("scheduler", AIRFLOW, volumeMounts=[MOUNT])
FIRST_MOUNT = ("containers", 0, "volumeMounts", 0)

CASES: dict[str, Case] = {
    "append-a-sidecar": Case(
        pod(),
        Additions(containers=[w(SIDECAR)]),
        ops=[Op("append", ("containers",), [SIDECAR])],
        added=["container sidecar"],
    ),
    "second-run-equal-sidecar-unchanged": Case(
        pod(containers=(SCHEDULER, SIDECAR)),
        Additions(containers=[w(SIDECAR)]),
        unchanged=["container sidecar"],
    ),
    "same-name-differs-conflict": Case(
        pod(containers=(SCHEDULER, OLD_SIDECAR)),
        Additions(containers=[w(SIDECAR)]),
        findings=[("error", CONFLICT, ("containers", 1), f"{POD_PATH}.containers[1]")],
    ),
    "same-name-differs-replace": Case(
        pod(containers=(SCHEDULER, OLD_SIDECAR)),
        Additions(containers=[w(SIDECAR)]),
        ops=[Op("replace", ("containers", 1), SIDECAR)],
        added=["container sidecar (replaced)"],
        replace=True,
    ),
    "sidecar-named-like-an-init-container": Case(
        pod(),
        Additions(containers=[w(WAIT)]),  # equal to it, and still not the same thing
        findings=[("error", CONFLICT, ("initContainers", 0), "(an init container)")],
        replace=True,  # replace never turns an init container into a container
    ),
    "two-additions-one-name": Case(
        pod(),
        Additions(containers=[w(SIDECAR), w(c("sidecar", "busybox:1.37"), "spec.x[1]")]),
        ops=[Op("append", ("containers",), [SIDECAR])],
        findings=[("error", CONFLICT, ("containers",), f"also added by {ORIGIN}")],
        added=["container sidecar"],
    ),
    "init-container-and-container-one-name": Case(
        pod(),
        Additions(init_containers=[w(INIT1)], containers=[w(c("init-one"), "spec.x[0]")]),
        ops=[Op("append", ("initContainers",), [INIT1])],
        findings=[("error", CONFLICT, ("containers",), f"also added by {ORIGIN}")],
        added=["init container init-one"],
    ),
    "volume-new": Case(
        pod(),
        Additions(volumes=[w(DATA)]),
        ops=[Op("append", ("volumes",), [DATA])],
        added=["volume data"],
    ),
    "volume-equal": Case(
        pod(volumes=(CONFIG_VOLUME, DATA)),
        Additions(volumes=[w(DATA)]),
        unchanged=["volume data"],
    ),
    "volume-conflict": Case(
        pod(volumes=(CONFIG_VOLUME, DATA_PVC)),
        Additions(volumes=[w(DATA)]),
        findings=[("error", CONFLICT, ("volumes", 1), f"{POD_PATH}.volumes[1]")],
    ),
    "volume-conflict-replace": Case(
        pod(volumes=(CONFIG_VOLUME, DATA_PVC)),
        Additions(volumes=[w(DATA)]),
        ops=[Op("replace", ("volumes", 1), DATA)],
        added=["volume data (replaced)"],
        replace=True,
    ),
    "same-volume-from-two-origins-once": Case(
        pod(),
        Additions(volumes=[w(DATA, "spec.volumes[0]"), w(DATA, "spec.x.extraVolumes[0]")]),
        ops=[Op("append", ("volumes",), [DATA])],
        added=["volume data"],
    ),
    "same-volume-name-from-two-origins-differently": Case(
        pod(),
        Additions(volumes=[w(DATA, "spec.volumes[0]"), w(DATA_PVC, "spec.x.extraVolumes[0]")]),
        ops=[Op("append", ("volumes",), [DATA])],
        findings=[("error", CONFLICT, ("volumes",), "differently, by spec.volumes[0]")],
        added=["volume data"],
    ),
    "mounts-into-named-containers-only": Case(
        pod(containers=(SCHEDULER, c("scheduler-log-groomer", AIRFLOW))),
        Additions(
            volumes=[w(DATA)],
            mounts=[into(MOUNT, ("scheduler",), ("wait-for-airflow-migrations",))],
        ),
        ops=[
            Op("append", ("volumes",), [DATA]),
            Op("append", ("containers", 0, "volumeMounts"), [MOUNT]),
            Op("append", ("initContainers", 0, "volumeMounts"), [MOUNT]),
        ],
        added=[
            "volume data",
            "mount /data into scheduler",
            "mount /data into wait-for-airflow-migrations",
        ],
    ),
    "mounts-not-into-the-container-the-config-adds": Case(
        pod(),
        Additions(
            containers=[w(SIDECAR)],
            volumes=[w(DATA)],
            mounts=[into(MOUNT, ("scheduler", "sidecar"))],
        ),
        ops=[
            Op("append", ("containers",), [SIDECAR]),
            Op("append", ("volumes",), [DATA]),
            Op("append", ("containers", 0, "volumeMounts"), [MOUNT]),
        ],
        added=["container sidecar", "volume data", "mount /data into scheduler"],
    ),
    "no-mounts-into-a-container-being-replaced": Case(
        pod(containers=(SCHEDULER, OLD_SIDECAR), volumes=(DATA,)),
        Additions(containers=[w(SIDECAR)], mounts=[into(MOUNT, ("scheduler", "sidecar"))]),
        ops=[
            Op("replace", ("containers", 1), SIDECAR),
            Op("append", ("containers", 0, "volumeMounts"), [MOUNT]),
        ],
        added=["container sidecar (replaced)", "mount /data into scheduler"],
        replace=True,
    ),
    "mount-already-there": Case(
        pod(containers=(SCHEDULER_MOUNTED,), volumes=(DATA,)),
        Additions(volumes=[w(DATA)], mounts=[into(MOUNT, ("scheduler",))]),
        unchanged=["volume data", "mount /data in scheduler"],
    ),
    "mount-path-taken-by-another-volume": Case(
        pod(containers=(c("scheduler", AIRFLOW, volumeMounts=[OTHER_AT_DATA]),), volumes=(DATA,)),
        Additions(mounts=[into(MOUNT, ("scheduler",))]),
        findings=[("error", CONFLICT, FIRST_MOUNT, f"{POD_PATH}.containers[0].volumeMounts[0]")],
    ),
    "env-merged-by-name": Case(
        WITH_ENV,
        Additions(env=[into(A1, ("scheduler",)), into(B2, ("scheduler",))]),
        ops=[Op("append", ("containers", 0, "env"), [B2])],
        added=["env var B into scheduler"],
        unchanged=["env var A in scheduler"],
    ),
    "env-var-differs-conflict": Case(
        WITH_ENV,
        Additions(env=[into(A2, ("scheduler",))]),
        findings=[("error", CONFLICT, ("containers", 0, "env", 0), "env var 'A'")],
    ),
    "env-var-differs-replace": Case(
        WITH_ENV,
        Additions(env=[into(A2, ("scheduler",))]),
        ops=[Op("replace", ("containers", 0, "env", 0), A2)],
        added=["env var A (replaced) into scheduler"],
        replace=True,
    ),
    "sidecar-mounts-undefined-volume": Case(
        pod(),
        Additions(containers=[w(S3_SYNC)]),
        ops=[Op("append", ("containers",), [S3_SYNC])],
        findings=[("error", MISSING, ("volumes",), "mounts volume 'dags'")],
        added=["container s3-sync"],
    ),
    "sidecar-mounts-claim-template-volume": Case(
        pod(),
        Additions(containers=[w(S3_SYNC)]),
        ops=[Op("append", ("containers",), [S3_SYNC])],
        added=["container s3-sync"],
        extra_volume_names=frozenset({"dags"}),  # a StatefulSet's volumeClaimTemplate
    ),
    "sidecar-mounts-a-volume-the-pod-has": Case(
        pod(),
        Additions(containers=[w(READER)]),
        ops=[Op("append", ("containers",), [READER])],
        added=["container reader"],
    ),
    "targeted-mount-of-undefined-volume": Case(
        pod(),
        Additions(mounts=[into(KEYTAB, ("scheduler",))]),
        ops=[Op("append", ("containers", 0, "volumeMounts"), [KEYTAB])],
        findings=[("error", MISSING, ("volumes",), "mounts volume 'keytab'")],
        added=["mount /etc/keytab into scheduler"],
    ),
    "init-containers-before-kerberos-init": Case(
        KERBEROS_POD,
        Additions(init_containers=[w(INIT1), w(INIT2)]),
        ops=[Op("insert", ("initContainers", 1), [INIT1, INIT2])],
        added=["init container init-one", "init container init-two"],
        init_before=frozenset({"kerberos-init"}),
    ),
    "init-before-absent-append": Case(
        pod(),
        Additions(init_containers=[w(INIT1)]),
        ops=[Op("append", ("initContainers",), [INIT1])],
        added=["init container init-one"],
        init_before=frozenset({"kerberos-init"}),
    ),
    "insert-after-edits-at-input-indices": Case(
        KERBEROS_POD,
        Additions(
            init_containers=[w(INIT1)],
            containers=[w(SIDECAR)],
            volumes=[w(DATA)],
            mounts=[into(MOUNT, (), ("kerberos-init",))],
        ),
        ops=[  # the insert comes last: the other paths are the input's indices
            Op("append", ("containers",), [SIDECAR]),
            Op("append", ("volumes",), [DATA]),
            Op("append", ("initContainers", 1, "volumeMounts"), [MOUNT]),
            Op("insert", ("initContainers", 1), [INIT1]),
        ],
        added=[
            "init container init-one",
            "container sidecar",
            "volume data",
            "mount /data into kerberos-init",
        ],
        init_before=frozenset({"kerberos-init"}),
    ),
    "pod-without-containers-list": Case(
        {},
        Additions(containers=[w(SIDECAR)]),
        ops=[Op("append", ("containers",), [SIDECAR])],
        added=["container sidecar"],
    ),
    "null-lists": Case(
        {"containers": None, "initContainers": None, "volumes": None},
        Additions(init_containers=[w(INIT1)], containers=[w(SIDECAR)], volumes=[w(DATA)]),
        ops=[
            Op("append", ("containers",), [SIDECAR]),
            Op("append", ("initContainers",), [INIT1]),
            Op("append", ("volumes",), [DATA]),
        ],
        added=["init container init-one", "container sidecar", "volume data"],
        init_before=frozenset({"kerberos-init"}),
    ),
    "nothing-to-add": Case(pod(), Additions()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_plan(name: str) -> None:
    case = CASES[name]
    before = copy.deepcopy(case.pod)
    result = case.run()
    assert result.ops == case.ops
    found = [(f.severity, f.rule, f.path) for f in result.findings]
    assert found == [(severity, rule, path) for severity, rule, path, _ in case.findings]
    for finding, (*_, fragment) in zip(result.findings, case.findings, strict=True):
        assert fragment in finding.message
    assert result.added == case.added
    assert result.unchanged == case.unchanged
    assert case.pod == before, "planning must not edit the pod"
    # what the ops carry are copies: editing them later cannot edit the config's values
    given = {id(x.value) for x in (*case.additions.containers, *case.additions.volumes)}
    given |= {id(x.value) for x in case.additions.init_containers}
    given |= {id(x[0].value) for x in (*case.additions.mounts, *case.additions.env)}
    for op in result.ops:
        assert not {id(v) for v in (op.value if op.action != "replace" else [op.value])} & given


def _without_own(additions: Additions) -> Additions:
    """The additions as a caller gives them: mounts and env never target the containers the
    config itself adds (on a second run those are in the pod, but they are the user's)."""
    own = {wanted.value["name"] for wanted in (*additions.containers, *additions.init_containers)}
    return Additions(
        additions.containers,
        additions.init_containers,
        additions.volumes,
        [(wanted, names - own, init - own) for wanted, names, init in additions.mounts],
        [(wanted, names - own, init - own) for wanted, names, init in additions.env],
    )


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if not case.findings])
def test_a_second_run_changes_nothing(name: str) -> None:
    """Applied, the plan's pod plans to nothing: all that was added is now `unchanged`."""
    case = CASES[name]
    data: Data = {"spec": {"template": {"spec": copy.deepcopy(case.pod)}}}
    first = case.run()
    apply_ops(data, PREFIX, first.ops)
    second = case.run(data["spec"]["template"]["spec"], _without_own(case.additions))
    assert (second.ops, second.findings, second.added) == ([], [], [])
    now_there = {
        entry.replace(" (replaced)", "").replace(" into ", " in ") for entry in first.added
    }
    # a set: the same volume from two origins is added once but found unchanged once per origin
    assert set(second.unchanged) == now_there | set(first.unchanged)


# The pod each of these rows' ops give (pod(containers, init containers, volumes)).
APPLIED: dict[str, Data] = {
    "insert-after-edits-at-input-indices": pod(
        (c("base", AIRFLOW), SIDECAR),
        (WAIT, INIT1, {**KERBEROS_INIT, "volumeMounts": [MOUNT]}),
        (DATA,),
    ),
    "null-lists": pod((SIDECAR,), (INIT1,), (DATA,)),
    "pod-without-containers-list": {"containers": [SIDECAR]},
    "same-name-differs-replace": pod((SCHEDULER, SIDECAR)),
    "env-var-differs-replace": pod((c("scheduler", AIRFLOW, env=[A2]),)),
    "env-merged-by-name": pod((c("scheduler", AIRFLOW, env=[A1, B2]),)),
    "mounts-not-into-the-container-the-config-adds": pod(
        (SCHEDULER_MOUNTED, SIDECAR), volumes=(CONFIG_VOLUME, DATA)
    ),
}


@pytest.mark.parametrize("name", list(APPLIED))
def test_apply_ops_gives_the_pod(name: str) -> None:
    case, expected = CASES[name], APPLIED[name]
    data: Data = {"spec": {"template": {"spec": copy.deepcopy(case.pod)}}}
    ops = case.run().ops
    apply_ops(data, PREFIX, ops)
    assert data == {"spec": {"template": {"spec": expected}}}
    # what was applied is a copy: editing the output leaves the config's values alone
    spec = data["spec"]["template"]["spec"]
    for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
        container["image"] = "edited"
    assert (SIDECAR["image"], INIT1["image"]) == ("busybox:1.36", "busybox:1.36")
    assert ops == case.ops


def test_apply_ops_makes_missing_parents() -> None:
    """A pod spec that is null in the workload (`spec.template.spec: null`) gets one."""
    data: Data = {"spec": {"template": {"spec": None}}}
    apply_ops(data, PREFIX, [Op("append", ("containers",), [SIDECAR])])
    assert data == {"spec": {"template": {"spec": {"containers": [SIDECAR]}}}}
