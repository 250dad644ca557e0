"""What config.load accepts and how it reports what it does not.

A valid AirflowSidecars object (or a ConfigMap carrying it in data.config) becomes a Config
whose fields say what to add where; anything else raises one ConfigError that names every
problem at its field path (`spec.scheduler.extraContainers[0].env[0].value`) with a message a
person can act on. kpt's empty `function-input` ConfigMap is recognised as "no config".

Cases marked xfail record bugs found in the package (see each reason); they are strict.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from airflow_sidecars.configuration.config import (
    API_VERSION,
    KIND,
    Config,
    ConfigError,
    Match,
    ValueList,
    is_empty_function_input,
    load,
)
from airflow_sidecars.presets import REGISTRY

SIDECAR: dict[str, Any] = {"name": "log-shipper", "image": "busybox:1.36"}


def container(**fields: Any) -> dict[str, Any]:
    """The base sidecar with `fields` changed."""
    return {**copy.deepcopy(SIDECAR), **fields}


def scheduler(**values: Any) -> dict[str, Any]:
    """A spec whose scheduler has the base sidecar plus `values` (which may replace it)."""
    return {"scheduler": {"extraContainers": [container()], **values}}


def config(spec: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A minimal valid AirflowSidecars object; `spec` and top-level fields replace its own."""
    out: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "sidecars"},
        "spec": scheduler() if spec is None else spec,
    }
    out.update(top)
    return out


def config_map(data: Any, name: str = "airflow-sidecars") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def problems_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as raised:
        load(data)
    return [(problem.path, problem.message) for problem in raised.value.problems]


# -- valid configs ------------------------------------------------------------------------


def test_minimal_config_loads() -> None:
    cfg = load(config())
    assert isinstance(cfg, Config)
    assert cfg.name == "sidecars"
    assert (cfg.ref.api_version, cfg.ref.kind, cfg.ref.name) == (API_VERSION, KIND, "sidecars")
    # the extra values by their path in the chart's values, and where they were written
    assert cfg.values == {
        ("scheduler", "extraContainers"): ValueList((SIDECAR,), "spec.scheduler.extraContainers")
    }
    assert cfg.match == Match()
    assert cfg.on_conflict == "error"
    assert cfg.native_sidecars == frozenset()


def test_full_config_loads() -> None:
    spec = {
        "match": {"release": "airflow", "namespace": ["a", "b"], "labels": {"team": "data"}},
        "onConflict": "replace",
        "scheduler": {
            "extraInitContainers": [container(name="init", restartPolicy="Always")],
            "extraContainers": [container(env=[{"name": "PORT", "value": "8080"}])],
            "extraVolumes": [{"name": "scratch", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
        },
        "workers": {},
        "volumes": [{"name": "keytab", "secret": {"secretName": "k"}}],
        "volumeMounts": [{"name": "keytab", "mountPath": "/etc/krb5", "readOnly": True}],
    }
    cfg = load(config(spec))
    assert cfg.match == Match(("airflow",), ("a", "b"), {"team": "data"})
    assert cfg.on_conflict == "replace"
    values = {path: value_list.entries for path, value_list in cfg.values.items()}
    assert [c["name"] for c in values[("scheduler", "extraInitContainers")]] == ["init"]
    assert values[("scheduler", "extraContainers")][0]["env"] == [{"name": "PORT", "value": "8080"}]
    assert values[("scheduler", "extraVolumes")] == ({"name": "scratch", "emptyDir": {}},)
    assert values[("scheduler", "extraVolumeMounts")] == (
        {"name": "scratch", "mountPath": "/scratch"},
    )
    assert not any(path[0] == "workers" for path in values)  # an empty section holds nothing
    assert values[("volumes",)] == ({"name": "keytab", "secret": {"secretName": "k"}},)
    assert values[("volumeMounts",)][0]["mountPath"] == "/etc/krb5"


def test_nested_values_keep_the_charts_nesting() -> None:
    spec = {
        "workers": {
            "celery": {
                "extraContainers": [container(name="celery-side")],
                "sets": [{"name": "highmem", "extraVolumes": [{"name": "v", "emptyDir": {}}]}],
            },
            "kubernetes": {"extraInitContainers": [container(name="k8s-init")]},
        },
        "airflow": {"kubernetesPodTemplate": {"extraContainers": [container(name="pt")]}},
        "dags": {"gitSync": {"extraVolumeMounts": [{"name": "v", "mountPath": "/v"}]}},
        "web": {"nativeSidecars": True, "extraContainers": [container(name="w")]},
    }
    cfg = load(config(spec))
    assert {path: v.origin for path, v in cfg.values.items()} == {
        ("workers", "celery", "extraContainers"): "spec.workers.celery.extraContainers",
        ("workers", "celery", "sets", "highmem", "extraVolumes"): (
            "spec.workers.celery.sets[0].extraVolumes"
        ),
        ("workers", "kubernetes", "extraInitContainers"): (
            "spec.workers.kubernetes.extraInitContainers"
        ),
        ("airflow", "kubernetesPodTemplate", "extraContainers"): (
            "spec.airflow.kubernetesPodTemplate.extraContainers"
        ),
        ("dags", "gitSync", "extraVolumeMounts"): "spec.dags.gitSync.extraVolumeMounts",
        ("webserver", "extraContainers"): "spec.web.extraContainers",
    }
    assert cfg.native_sidecars == frozenset({"webserver"})


def test_web_is_the_webserver_section() -> None:
    cfg = load(config({"web": {"extraContainers": [container()]}}))
    # the chart's section, and results point at what the user wrote
    assert cfg.values == {
        ("webserver", "extraContainers"): ValueList((SIDECAR,), "spec.web.extraContainers")
    }


def test_config_map_holding_the_full_object() -> None:
    cfg = load(config_map({"config": yaml.safe_dump(config())}))
    assert cfg.name == "sidecars"
    assert cfg.ref.kind == KIND
    assert cfg.values[("scheduler", "extraContainers")].entries == (SIDECAR,)


def test_config_map_holding_only_the_spec() -> None:
    cfg = load(config_map({"config": yaml.safe_dump(scheduler())}, name="from-config-map"))
    assert cfg.name == "from-config-map"
    assert (cfg.ref.api_version, cfg.ref.kind) == (API_VERSION, KIND)
    assert cfg.values[("scheduler", "extraContainers")].entries == (SIDECAR,)


def test_config_map_reads_dates_as_strings_like_the_object_form() -> None:
    text = (
        "scheduler:\n  extraContainers:\n  - name: a\n    image: b\n"
        "    env:\n    - {name: SINCE, value: 2024-01-01}\n"
    )
    cfg = load(config_map({"config": text}))
    entries = cfg.values[("scheduler", "extraContainers")].entries
    assert entries[0]["env"][0]["value"] == "2024-01-01"


# -- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemCase:
    id: str
    config: Any
    problems: list[tuple[str, str]]  # (path, a part of the message)
    bug: str | None = None
    raises: type[Exception] | None = None  # what the bug raises instead of ConfigError


C0 = "spec.scheduler.extraContainers[0]"
MOUNT = {"name": "v", "mountPath": "/v"}
ALIASED = "scheduler:\n  extraContainers:\n  - &c {name: a, image: b}\n  - {<<: *c, name: c}\n"

PROBLEM_CASES = [
    ProblemCase("not-an-object", ["a"], [(".", "the config must be an object")]),
    ProblemCase(
        "wrong-api-version",
        config(apiVersion="airflow-sidecars.dev/v1"),
        [("kind", "got kind 'AirflowSidecars' and apiVersion 'airflow-sidecars.dev/v1'")],
    ),
    ProblemCase("wrong-kind", config(kind="Sidecars"), [("kind", "got kind 'Sidecars'")]),
    ProblemCase(
        "web-and-webserver",
        config({**scheduler(), "web": {}, "webserver": {}}),
        [("spec.web", "web and webserver name the same component")],
    ),
    ProblemCase(
        "unknown-spec-field",
        config({**scheduler(), "sidecars": []}),
        [("spec", "unknown field(s) sidecars; allowed here: _rpcServer, airflow, apiServer,")],
    ),
    ProblemCase(
        "unknown-container-fields",
        config(scheduler(extraContainers=[container(mounts=[], sidecar=True)])),
        [(C0, "unknown field(s) mounts, sidecar; allowed here: args,")],
    ),
    ProblemCase(
        "no-chart-has-pgbouncer-init-containers",
        config({**scheduler(), "pgbouncer": {"extraInitContainers": []}}),
        [("spec.pgbouncer", "unknown field(s) extraInitContainers")],
    ),
    ProblemCase(
        "worker-set-twice",
        config(
            {
                **scheduler(),
                "workers": {"celery": {"sets": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}},
            }
        ),
        [
            (
                "spec.workers.celery.sets[2].name",
                "worker set name 'a' repeats spec.workers.celery.sets[0]",
            )
        ],
    ),
    ProblemCase(
        "extra-containers-not-a-list",
        config(scheduler(extraContainers=container())),
        [("spec.scheduler.extraContainers", "must be of type array, not object")],
    ),
    ProblemCase(
        "section-null",
        config({"scheduler": None}),
        [("spec.scheduler", "must be of type object, not null")],
    ),
    ProblemCase(
        "env-value-int",
        config(scheduler(extraContainers=[container(env=[{"name": "PORT", "value": 8080}])])),
        [(f"{C0}.env[0].value", "must be of type string")],
    ),
    ProblemCase(
        "container-missing-image",
        config(scheduler(extraContainers=[{"name": "a"}])),
        [(C0, "'image' is required")],
    ),
    ProblemCase(
        "container-name-uppercase",
        config(scheduler(extraContainers=[container(name="Log-Shipper")])),
        [(f"{C0}.name", "'Log-Shipper' is not a valid name (lowercase letters, digits, '-')")],
    ),
    ProblemCase(
        "volume-without-source",
        config(scheduler(extraVolumes=[{"name": "v"}])),
        [("spec.scheduler.extraVolumes[0]", "a volume needs a name and exactly one source")],
    ),
    ProblemCase(
        "volume-with-two-sources",
        config(scheduler(extraVolumes=[{"name": "v", "emptyDir": {}, "secret": {}}])),
        [("spec.scheduler.extraVolumes[0]", "a volume needs a name and exactly one source")],
    ),
    ProblemCase(
        "volume-mount-missing-mount-path",
        config(scheduler(extraVolumeMounts=[{"name": "v"}])),
        [("spec.scheduler.extraVolumeMounts[0]", "'mountPath' is required")],
    ),
    ProblemCase(
        "volume-mount-relative-path",
        config({**scheduler(), "volumeMounts": [{"name": "v", "mountPath": "v"}]}),
        [("spec.volumeMounts[0].mountPath", "does not match '^/'")],
    ),
    ProblemCase(
        "on-conflict-unknown",
        config({**scheduler(), "onConflict": "merge"}),
        [("spec.onConflict", "'merge' is not one of ['error', 'replace']")],
    ),
    ProblemCase(
        "duplicate-container-across-init-and-containers",
        config(scheduler(extraInitContainers=[container(image="other")])),
        [
            (
                f"{C0}.name",
                "container name 'log-shipper' is also used at "
                "spec.scheduler.extraInitContainers[0].name",
            )
        ],
    ),
    ProblemCase(
        "duplicate-volume-names",
        config(scheduler(extraVolumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "nfs": {}}])),
        [("spec.scheduler.extraVolumes[1].name", "'v' repeats spec.scheduler.extraVolumes[0]")],
    ),
    ProblemCase(
        "duplicate-top-level-volume-names",
        config({**scheduler(), "volumes": [{"name": "v", "nfs": {}}, {"name": "v", "fc": {}}]}),
        [("spec.volumes[1].name", "volume name 'v' repeats spec.volumes[0]")],
    ),
    ProblemCase(
        "duplicate-mount-paths",
        config(scheduler(extraVolumeMounts=[MOUNT, {**MOUNT, "name": "w"}])),
        [("spec.scheduler.extraVolumeMounts[1].mountPath", "mountPath '/v' repeats")],
    ),
    ProblemCase(
        "several-schema-problems-at-once",
        config(
            {
                "sidecars": [],
                "scheduler": {
                    "extraContainers": [{"name": "a"}, container(env=[{"name": "X", "value": 1}])],
                    "extraVolumes": [{"name": "v"}],
                    "extraVolumeMounts": [{"name": "v"}],
                },
            }
        ),
        [
            ("spec", "unknown field(s) sidecars"),
            (C0, "'image' is required"),
            ("spec.scheduler.extraContainers[1].env[0].value", "must be of type string"),
            ("spec.scheduler.extraVolumes[0]", "exactly one source"),
            ("spec.scheduler.extraVolumeMounts[0]", "'mountPath' is required"),
        ],
    ),
    ProblemCase(
        "several-cross-check-problems-at-once",
        config(
            {
                "web": {"extraContainers": [container(), container()]},
                "webserver": {},
                "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}],
            }
        ),
        [
            ("spec.web", "web and webserver name the same component"),
            ("spec.web.extraContainers[1].name", "container name 'log-shipper' is also used at"),
            ("spec.volumes[1].name", "volume name 'v' repeats"),
        ],
    ),
    # ---- the ConfigMap form
    ProblemCase(
        "config-map-without-data-config",
        config_map({"other": "x"}),
        [("data.config", "a ConfigMap config needs data.config")],
    ),
    ProblemCase(
        "config-map-without-data",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        [("data.config", "a ConfigMap config needs data.config")],
    ),
    ProblemCase(
        "config-map-config-not-yaml",
        config_map({"config": "scheduler: [unclosed\n"}),
        [("data.config", "not valid YAML")],
    ),
    ProblemCase(
        "config-map-config-not-an-object",
        config_map({"config": "- a\n"}),
        [("data.config", "must hold an object")],
    ),
    ProblemCase(
        "config-map-spec-with-a-problem",
        config_map({"config": yaml.safe_dump(scheduler(extraContainers=[{"name": "a"}]))}),
        [(C0, "'image' is required")],
    ),
    ProblemCase(
        "config-map-object-with-wrong-kind",
        config_map({"config": yaml.safe_dump(config(kind="Sidecars"))}),
        [("kind", "got kind 'Sidecars'")],
    ),
    ProblemCase(
        "preset-s3sync-without-bucket",
        config({"presets": {"s3Sync": {"prefix": "dags"}}}),
        [("spec.presets.s3Sync", "'bucket' is required")],
    ),
    ProblemCase(
        "preset-s3sync-bad-bucket",
        config({"presets": {"s3Sync": {"bucket": "Airflow_DAGs"}}}),
        [("spec.presets.s3Sync.bucket", "is not an S3 bucket name")],
    ),
    ProblemCase(
        "preset-s3sync-bad-role",
        config({"presets": {"s3Sync": {"bucket": "dags", "roleArn": "airflow-role"}}}),
        [("spec.presets.s3Sync.roleArn", "is not an IAM role ARN")],
    ),
    ProblemCase(
        "preset-kerberos-two-keytabs",
        config(
            {
                "presets": {
                    "kerberos": {"principal": "a@B.C", "keytabSecret": "s", "keytabClaim": "c"}
                }
            }
        ),
        [("spec.presets.kerberos", "exactly one of keytabSecret and keytabClaim")],
    ),
    ProblemCase(
        "preset-kerberos-no-keytab",
        config({"presets": {"kerberos": {"principal": "a@B.C"}}}),
        [("spec.presets.kerberos", "exactly one of keytabSecret and keytabClaim")],
    ),
    ProblemCase(
        "preset-kerberos-bad-principal",
        config({"presets": {"kerberos": {"principal": "airflow", "keytabSecret": "s"}}}),
        [("spec.presets.kerberos.principal", "is not a Kerberos principal")],
    ),
    ProblemCase(
        "unknown-preset",
        config({"presets": {"gitSync": {}}}),
        [
            (
                "spec.presets",
                f"unknown field(s) gitSync; allowed here: {', '.join(sorted(REGISTRY))}",
            )
        ],
    ),
    ProblemCase(
        "preset-unknown-component",
        config({"presets": {"syncPerm": {"components": ["web"]}}}),
        [("spec.presets.syncPerm.components[0]", "'web' is not one of")],
    ),
    ProblemCase(
        "native-sidecars-not-a-bool",
        config({**scheduler(), "workers": {"nativeSidecars": "yes"}}),
        [("spec.workers.nativeSidecars", "must be of type boolean, not string")],
    ),
    ProblemCase(
        "config-map-data-not-a-mapping",
        config_map("scheduler: {}"),
        [("data.config", "a ConfigMap config needs data.config")],
    ),
    ProblemCase(
        "config-map-config-with-aliases",
        config_map({"config": ALIASED}),
        [("data.config", "merge key")],
    ),
]


def _problem_params() -> list[Any]:
    params = []
    for case in PROBLEM_CASES:
        marks = []
        if case.bug:
            reason = f"bug: {case.bug}"
            marks.append(pytest.mark.xfail(strict=True, reason=reason, raises=case.raises))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.mark.parametrize("case", _problem_params())
def test_problems(case: ProblemCase) -> None:
    got = problems_of(case.config)
    for path, part in case.problems:
        assert any(p == path and part in m for p, m in got), f"no {path}: ...{part}... in {got}"
    assert len(got) == len(case.problems), got


def test_problems_name_the_config() -> None:
    with pytest.raises(ConfigError) as raised:
        load(config(scheduler(extraContainers=[{"name": "a"}])))
    assert raised.value.ref is not None
    assert (raised.value.ref.kind, raised.value.ref.name) == (KIND, "sidecars")
    assert "spec.scheduler.extraContainers[0]: 'image' is required" in str(raised.value)


# -- kpt's empty function-input ---------------------------------------------------------------

KPT_EMPTY = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "function-input",
        "annotations": {"config.kubernetes.io/local-config": "true"},
    },
}


@pytest.mark.parametrize(
    ("data", "empty"),
    [
        pytest.param(KPT_EMPTY, True, id="kpt-function-input"),
        pytest.param({**KPT_EMPTY, "data": {}}, True, id="empty-data"),
        pytest.param({**KPT_EMPTY, "data": None}, True, id="null-data"),
        pytest.param({"kind": "ConfigMap"}, True, id="no-metadata"),
        pytest.param({**KPT_EMPTY, "data": {"config": "x"}}, False, id="with-data"),
        pytest.param(config_map(None, name="my-config"), False, id="other-name"),
        pytest.param(config(), False, id="airflow-sidecars"),
        pytest.param(None, False, id="null"),
        pytest.param(["ConfigMap"], False, id="list"),
        pytest.param(
            {"kind": "ConfigMap", "metadata": "function-input"},
            False,
            id="metadata-not-a-mapping",
        ),
    ],
)
def test_is_empty_function_input(data: Any, empty: bool) -> None:
    assert is_empty_function_input(data) is empty


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [
        ({"schedular": {}}, "did you mean scheduler?"),
        ({"Workers": {}}, "did you mean workers?"),
        ({"scheduler": {"extraContainer": []}}, "did you mean extraContainers?"),
        ({"sidecars": {}}, None),
    ],
)
def test_an_unknown_field_gets_the_closest_known_one(
    spec: dict[str, Any], suggestion: str | None
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(config(spec))
    (problem,) = raised.value.problems
    assert problem.message.startswith("unknown field(s)")
    if suggestion is None:
        assert "did you mean" not in problem.message
    else:
        assert problem.message.endswith(f"; {suggestion}")
