"""What each chart does with its `extra*` values: the one table of chart knowledge.

Everything inject, validate and the presets know about the two charts is here, read off the
chart templates of each release (official apache/airflow `chart/` 1.15.0-1.22.0, community
airflow-helm/charts 8.8.0-8.9.0) and checked against real renders (tests/fixtures/matrix):

- how a workload is recognised: by the chart's labels, never by names (names change with
  `fullnameOverride`), the chart version by the `chart` label (`airflow-1.22.0`);
- for each kind of workload (a *slot*), where its `extra*` values come from (`Source`: a values
  path, or a chain of them where the chart takes the first that is set: `a | default b` and the
  worker-set merge), which chart containers get the mounts, and where init containers go;
- which values a chart version has, which it passes through `tpl`, and what it calls them.

A values path is the chart's own nesting, which is also the config's (`spec.workers.celery.
extraContainers` is `("workers", "celery", "extraContainers")`); a worker set's values are at
`("workers", "celery", "sets", <set name>, ...)`. The table is keyed by these *config paths*:
the config's words are a contract. Where a chart version calls a value otherwise, one row of
`RENAMES` says so, and every reader asks valuenames.py what the chart calls it.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

Flavour = Literal["official", "community"]
Version = tuple[int, int, int]
ValuePath = tuple[str, ...]

# The newest chart versions the oracle tests ran against; newer ones get a warning.
TESTED_UP_TO: dict[Flavour, Version] = {"official": (1, 22, 0), "community": (8, 9, 0)}
OLDEST_SUPPORTED: dict[Flavour, Version] = {"official": (1, 15, 0), "community": (8, 8, 0)}

# The config's keys of the extra lists (the only place they are spelled out).
EXTRA_CONTAINERS, EXTRA_INIT_CONTAINERS = "extraContainers", "extraInitContainers"
EXTRA_VOLUMES, EXTRA_MOUNTS = "extraVolumes", "extraVolumeMounts"
EXTRA_KEYS = (EXTRA_CONTAINERS, EXTRA_INIT_CONTAINERS, EXTRA_VOLUMES, EXTRA_MOUNTS)
# The official chart's top-level values, for every Airflow pod (the community chart's
# `airflow.extraVolumes` / `-Mounts` play that part; the config's top-level keys mean those there).
TOP_VOLUMES: ValuePath = ("volumes",)
TOP_MOUNTS: ValuePath = ("volumeMounts",)


class Rename(NamedTuple):
    """A chart's own words for a config path: from version `since` on (None: every supported
    version) the `flavour` chart calls `config` `chart`. Either is a whole values path or its
    first steps (a section); a `*` step is any worker set's name, at the same place in both."""

    flavour: Flavour
    config: ValuePath
    chart: ValuePath
    since: Version | None = None


# What the charts call otherwise than the config: valuenames.py reads these rows (both ways).
RENAMES: tuple[Rename, ...] = (Rename("community", ("webserver",), ("web",)),)

# A section that a chart calls otherwise in every version: the config takes the chart's word
# too (`spec.web`), as an alias of its own (the schema has both).
SECTION_ALIASES = {
    row.chart[0]: row.config[0] for row in RENAMES if len(row.config) == 1 and row.since is None
}

_CHART_LABEL = re.compile(r"^airflow-(\d+)\.(\d+)\.(\d+)")


class Chart(NamedTuple):
    """The chart that rendered a workload."""

    flavour: Flavour
    version: Version | None  # None: the render does not say (a `chart` label was removed)

    @property
    def name(self) -> str:
        version = ".".join(map(str, self.version)) if self.version else "(version unknown)"
        return f"{self.flavour} chart {version}"

    def at_least(self, *version: int) -> bool:
        """True for this version and newer; a render that does not say is taken as the newest."""
        return self.version is None or self.version >= version


def chart_version(label: str | None) -> Version | None:
    found = _CHART_LABEL.match(label or "")
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


class Source(NamedTuple):
    """Where a workload takes one list of extra values from: the first path of `chain` whose
    list is set and not empty (the chart's `a | default b`, and its worker-set merge, where an
    empty list keeps the parent's)."""

    chain: tuple[ValuePath, ...]

    @property
    def key(self) -> ValuePath:
        return self.chain[0]


class MountSource(NamedTuple):
    """A mount list and the chart containers (and init containers) it goes into."""

    source: Source
    containers: frozenset[str]
    init_containers: frozenset[str] = frozenset()


class Placement(NamedTuple):
    """What the chart gives one workload, from which values."""

    containers: tuple[Source, ...] = ()  # appended after the chart's containers, in this order
    init_containers: tuple[Source, ...] = ()
    volumes: tuple[Source, ...] = ()
    mounts: tuple[MountSource, ...] = ()
    # chart init containers that the extra init containers go before (the chart renders them
    # after its own `extraInitContainers`); all others come first
    init_before: frozenset[str] = frozenset()


class Slot(NamedTuple):
    """One kind of workload of a chart: how it is recognised, and its Airflow container."""

    section: str  # the config section whose values and presets it takes ("" when none)
    component: str  # the `component` label of the workload
    main_container: str = ""  # the component's own Airflow container ("" when it has none)
    suffix: str = ""  # the object's name is the chart's fullname and this

    def fullname(self, name: str | None, worker_set: str | None = None) -> str | None:
        """The chart's fullname (`{{ include "airflow.fullname" . }}`) from an object name."""
        suffix = self.suffix + (f"-{worker_set}" if worker_set else "")
        if name is None or not suffix or not name.endswith(suffix) or name == suffix:
            return None
        return name[: -len(suffix)]


def _one(path: ValuePath) -> Source:
    return Source((path,))


def _own(section: str, key: str) -> Source:
    return _one((section, key))


# Official chart: the slots, by `component` label (and, for the pod template, by where it is).
OFFICIAL_SLOTS: dict[str, Slot] = {
    slot.component: slot
    for slot in (
        Slot("scheduler", "scheduler", "scheduler", "-scheduler"),
        Slot("webserver", "webserver", "webserver", "-webserver"),
        Slot("apiServer", "api-server", "api-server", "-api-server"),
        Slot("workers", "worker", "worker", "-worker"),
        Slot("triggerer", "triggerer", "triggerer", "-triggerer"),
        Slot("dagProcessor", "dag-processor", "dag-processor", "-dag-processor"),
        Slot("_rpcServer", "rpc-server", "rpc-server", "-rpc-server"),
        Slot("flower", "flower", "flower", "-flower"),
        Slot("pgbouncer", "pgbouncer", "pgbouncer", "-pgbouncer"),
        Slot("createUserJob", "create-user-job", "create-user", "-create-user"),
        Slot(
            "migrateDatabaseJob",
            "run-airflow-migrations",
            "run-airflow-migrations",
            "-run-airflow-migrations",
        ),
        Slot("", "airflow-cleanup-pods", "airflow-cleanup-pods", "-cleanup"),
        Slot("", "database-cleanup", "database-cleanup", "-database-cleanup"),
    )
}
OFFICIAL_POD_TEMPLATE = Slot("workers", "worker", "base", "-config")

COMMUNITY_SLOTS: dict[str, Slot] = {
    slot.component: slot
    for slot in (
        Slot("scheduler", "scheduler", "airflow-scheduler", "-scheduler"),
        Slot("webserver", "web", "airflow-web", "-web"),
        Slot("workers", "worker", "airflow-worker", "-worker"),
        Slot("triggerer", "triggerer", "airflow-triggerer", "-triggerer"),
        Slot("flower", "flower", "airflow-flower", "-flower"),
        # No values of their own; they take only `airflow.extraVolumes` / `-Mounts`.
        Slot("", "db-migrations", "db-migrations", "-db-migrations"),
        Slot("", "sync-users", "sync-airflow-users", "-sync-users"),
        Slot("", "sync-connections", "sync-airflow-connections", "-sync-connections"),
        Slot("", "sync-pools", "sync-airflow-pools", "-sync-pools"),
        Slot("", "sync-variables", "sync-airflow-variables", "-sync-variables"),
        # Takes no extra values at all (community_placement); a workload for the presets that
        # go where the database connection is made (cloudSqlProxy).
        Slot("", "pgbouncer", "pgbouncer", "-pgbouncer"),
    )
}
# The community pod template reads `airflow.kubernetesPodTemplate.*`, never `workers.*`.
COMMUNITY_POD_TEMPLATE = Slot("", "worker", "base", "-pod-template")

SLOTS: dict[Flavour, dict[str, Slot]] = {"official": OFFICIAL_SLOTS, "community": COMMUNITY_SLOTS}
# Config sections whose `nativeSidecars: true` makes their extraContainers native sidecars:
# every section with containers of its own, and the community chart's all-pods `airflow`.
NATIVE_SIDECAR_SECTIONS = (
    *sorted({slot.section for slots in SLOTS.values() for slot in slots.values() if slot.section}),
    *SECTION_ALIASES,
    "airflow",
)
# Config sections whose workloads are Jobs (the official chart's Helm hooks, or plain Jobs with
# `useHelmHooks: false`): pods that must complete. The charts' other Jobs and CronJobs (the
# cleanups, the community chart's db-migrations and sync-*) take no extraContainers.
JOB_SECTIONS = frozenset({"createUserJob", "migrateDatabaseJob"})
POD_TEMPLATE_SLOTS: dict[Flavour, Slot] = {
    "official": OFFICIAL_POD_TEMPLATE,
    "community": COMMUNITY_POD_TEMPLATE,
}
# The ConfigMap key of the KubernetesExecutor pod template, and the `metadata.name` the chart's
# own template has: any other name is a template the user supplied (official `podTemplate`,
# community `airflow.kubernetesPodTemplate.stringOverride`), which the chart adds nothing to.
POD_TEMPLATE_KEYS: dict[Flavour, str] = {
    "official": "pod_template_file.yaml",
    "community": "pod_template.yaml",
}
CHART_POD_TEMPLATE_NAMES: dict[Flavour, str] = {
    "official": "placeholder-name",
    "community": "dummy-name",
}

_WAIT = frozenset({"wait-for-airflow-migrations"})
_CHECKS = frozenset({"check-db", "wait-for-db-migrations"})
_GIT_SYNC_MOUNTS = MountSource(
    _one(("dags", "gitSync", EXTRA_MOUNTS)), frozenset({"git-sync"}), frozenset({"git-sync-init"})
)

# Official chart: the Airflow containers a component's extraVolumeMounts go into, and the
# top-level volumeMounts with them - the main one, its log groomer, the kerberos sidecar and
# kerberos-init, and wait-for-airflow-migrations; never git-sync, volume-permissions or
# pgbouncer's metrics exporter. Sections absent here take no extra values (the CronJobs).
_OFFICIAL_MOUNTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "scheduler": (frozenset({"scheduler", "scheduler-log-groomer"}), _WAIT),
    "webserver": (frozenset({"webserver"}), _WAIT),
    "apiServer": (frozenset({"api-server"}), _WAIT),
    "workers": (
        frozenset({"worker", "worker-log-groomer", "worker-kerberos"}),
        _WAIT | {"kerberos-init"},
    ),
    "triggerer": (frozenset({"triggerer", "triggerer-log-groomer"}), _WAIT),
    "dagProcessor": (frozenset({"dag-processor", "dag-processor-log-groomer"}), _WAIT),
    "_rpcServer": (frozenset({"rpc-server"}), _WAIT),
    "flower": (frozenset({"flower"}), frozenset()),
    "pgbouncer": (frozenset({"pgbouncer"}), frozenset()),
    "createUserJob": (frozenset({"create-user"}), frozenset()),
    "migrateDatabaseJob": (frozenset({"run-airflow-migrations"}), frozenset()),
}
# Sections whose chart templates have no extraInitContainers.
_OFFICIAL_NO_INIT = frozenset({"flower", "pgbouncer"})


# Workloads that take the top-level `volumes` / `volumeMounts` only from a version on (others:
# in every version; docs/charts.md has the table): 1.15.0's cleanup CronJob has none of them.
TOP_LEVEL_SINCE: dict[str, Version] = {"airflow-cleanup-pods": (1, 16, 0)}


def official_placement(
    chart: Chart, slot: Slot, worker_set: str | None, template: bool
) -> Placement:
    """The official chart's placement for one workload (`template`: the pod template)."""
    if not slot.section:  # the cleanup CronJobs: the top-level values only, from a version on
        since = TOP_LEVEL_SINCE.get(slot.component)
        if since is not None and not chart.at_least(*since):
            return Placement()
        main = frozenset({slot.main_container})
        return Placement(
            volumes=(_one(TOP_VOLUMES),), mounts=(MountSource(_one(TOP_MOUNTS), main),)
        )
    section = slot.section
    containers, init = _OFFICIAL_MOUNTS[section]
    chains: dict[str, Source] = {key: _own(section, key) for key in EXTRA_KEYS}
    if template:
        containers, init = frozenset({"base", "worker-kerberos"}), frozenset({"kerberos-init"})
        if chart.at_least(1, 21, 0):  # `workers.kubernetes.X | default workers.X`
            chains = {k: Source((("workers", "kubernetes", k), ("workers", k))) for k in EXTRA_KEYS}
    elif section == "workers" and chart.at_least(1, 20, 0):
        # workers <- workers.celery <- the set's own values, a non-empty list replacing
        inherited: tuple[ValuePath, ...] = (("workers", "celery"), ("workers",))
        if worker_set:
            inherited = (("workers", "celery", "sets", worker_set), *inherited)
        chains = {key: Source(tuple((*base, key) for base in inherited)) for key in EXTRA_KEYS}
    mounts = [
        MountSource(_one(TOP_MOUNTS), containers, init),
        MountSource(chains[EXTRA_MOUNTS], containers, init),
        _GIT_SYNC_MOUNTS,
    ]
    if section == "pgbouncer":
        exporter = _one(("pgbouncer", "metricsExporterSidecar", EXTRA_MOUNTS))
        mounts.append(MountSource(exporter, frozenset({"metrics-exporter"})))
    return Placement(
        containers=(chains[EXTRA_CONTAINERS],),
        init_containers=() if section in _OFFICIAL_NO_INIT else (chains[EXTRA_INIT_CONTAINERS],),
        volumes=(_one(TOP_VOLUMES), chains[EXTRA_VOLUMES]),
        mounts=tuple(mounts),
        init_before=frozenset({"kerberos-init"}) if template else frozenset(),
    )


# Community chart: one mount list for the main container and both init containers (never
# log-cleanup or git-sync); `airflow.extra*` first, then the component's own.
_COMMUNITY_ALL_PODS = ("airflow",)
_COMMUNITY_WITH_CONTAINERS = frozenset({"scheduler", "webserver", "workers", "triggerer", "flower"})


def community_placement(chart: Chart, slot: Slot, template: bool) -> Placement:
    if slot.component == "pgbouncer":  # the chart gives pgbouncer none of its extra values
        return Placement()
    main = frozenset({slot.main_container})
    if template:
        own: ValuePath = ("airflow", "kubernetesPodTemplate")
        return Placement(
            containers=(_one((*own, EXTRA_CONTAINERS)),),
            init_containers=(_one((*own, EXTRA_INIT_CONTAINERS)),),
            volumes=(
                _one(TOP_VOLUMES),
                _one(("airflow", EXTRA_VOLUMES)),
                _one((*own, EXTRA_VOLUMES)),
            ),
            mounts=(
                MountSource(_one(TOP_MOUNTS), main),
                MountSource(_one(("airflow", EXTRA_MOUNTS)), main),
                MountSource(_one((*own, EXTRA_MOUNTS)), main),
            ),
        )
    init = _CHECKS if slot.component != "db-migrations" else frozenset({"check-db"})
    sections = (*_COMMUNITY_ALL_PODS, slot.section) if slot.section else _COMMUNITY_ALL_PODS
    with_containers = slot.section in _COMMUNITY_WITH_CONTAINERS
    # 8.8.0: no airflow.extraInitContainers, and of the components' own only
    # scheduler.extraInitContainers and the volumes; 8.9.0 has all four everywhere.
    has_all = chart.at_least(8, 9, 0)
    containers = tuple(
        _one((section, EXTRA_CONTAINERS))
        for section in sections
        if with_containers and (has_all or section == "airflow")
    )
    init_containers = tuple(
        _one((section, EXTRA_INIT_CONTAINERS))
        for section in sections
        if with_containers and (has_all or section == "scheduler")
    )
    return Placement(
        containers=containers,
        init_containers=init_containers,
        volumes=(_one(TOP_VOLUMES), *(_one((section, EXTRA_VOLUMES)) for section in sections)),
        mounts=(
            MountSource(_one(TOP_MOUNTS), main, init),
            *(MountSource(_one((section, EXTRA_MOUNTS)), main, init) for section in sections),
        ),
    )


def placement(chart: Chart, slot: Slot, worker_set: str | None, template: bool) -> Placement:
    if chart.flavour == "official":
        return official_placement(chart, slot, worker_set, template)
    return community_placement(chart, slot, template)


def templated(chart: Chart, path: ValuePath) -> bool:
    """Whether the chart passes this value through `tpl`: the official chart does for its
    `extra*` values (not for the top-level `volumes` / `volumeMounts`, and, before 1.20, not
    for `apiServer.extraInitContainers` and `_rpcServer.extraInitContainers`); the community
    chart never does."""
    if chart.flavour == "community" or path in (TOP_VOLUMES, TOP_MOUNTS):
        return False
    untemplated = {("apiServer", EXTRA_INIT_CONTAINERS), ("_rpcServer", EXTRA_INIT_CONTAINERS)}
    return chart.at_least(1, 20, 0) or path not in untemplated


# Values paths (sets aside) that each chart has, from its values.yaml, with the version that
# added them; `None`: every supported version.
def _official_values() -> dict[ValuePath, Version | None]:
    found: dict[ValuePath, Version | None] = {TOP_VOLUMES: None, TOP_MOUNTS: None}
    for section in _OFFICIAL_MOUNTS:
        for key in EXTRA_KEYS:
            if key == EXTRA_INIT_CONTAINERS and section in _OFFICIAL_NO_INIT:
                continue
            found[(section, key)] = None
    for key in EXTRA_KEYS:
        found[("workers", "celery", key)] = (1, 20, 0)  # merged into the Celery workers
        found[("workers", "kubernetes", key)] = (1, 21, 0)
    found[("dags", "gitSync", EXTRA_MOUNTS)] = None
    found[("pgbouncer", "metricsExporterSidecar", EXTRA_MOUNTS)] = None
    return found


def _community_values() -> dict[ValuePath, Version | None]:
    found: dict[ValuePath, Version | None] = {}
    for section in ("airflow", "scheduler", "webserver", "workers", "triggerer", "flower"):
        for key in EXTRA_KEYS:
            old = key in (EXTRA_VOLUMES, EXTRA_MOUNTS) or (section, key) in (
                ("airflow", EXTRA_CONTAINERS),
                ("scheduler", EXTRA_INIT_CONTAINERS),
            )
            found[(section, key)] = None if old else (8, 9, 0)
    for key in EXTRA_KEYS:
        found[("airflow", "kubernetesPodTemplate", key)] = None
    return found


CHART_VALUES: dict[Flavour, dict[ValuePath, Version | None]] = {
    "official": _official_values(),
    "community": _community_values(),
}


def must_complete() -> dict[ValuePath, tuple[bool, str]]:
    """The values whose containers a chart puts into pods that must complete, in its oldest or
    newest version (a plain container that runs on keeps such a pod from completing): whether
    into the KubernetesExecutor pod template (else a Job of JOB_SECTIONS), and the chart that
    does where another has the value and does not ("" where each that has it does)."""
    found: dict[ValuePath, tuple[bool, set[Flavour]]] = {}
    for flavour, slots in SLOTS.items():
        pods = [(POD_TEMPLATE_SLOTS[flavour], True)]
        pods += [(slot, False) for slot in slots.values() if slot.section in JOB_SECTIONS]
        for chart in (Chart(flavour, OLDEST_SUPPORTED[flavour]), Chart(flavour, None)):
            for slot, template in pods:
                for source in placement(chart, slot, None, template).containers:
                    for path in source.chain:
                        found.setdefault(path, (template, set()))[1].add(flavour)
    said: dict[ValuePath, tuple[bool, str]] = {}
    for path, (template, charts) in found.items():
        others = {flavour for flavour in CHART_VALUES if path in CHART_VALUES[flavour]} - charts
        said[path] = (template, " and ".join(sorted(charts)) if others else "")
    return said


# Removed in a version: _rpcServer (the Airflow 2 internal API) is gone from 1.16 on.
REMOVED_IN: dict[ValuePath, Version] = {("_rpcServer", key): (1, 16, 0) for key in EXTRA_KEYS}


# The charts' git-sync containers (official: sidecar and init; community: sync and clone).
GIT_SYNC_CONTAINERS = frozenset({"git-sync", "git-sync-init", "dags-git-sync", "dags-git-clone"})
# Chart containers that run the Airflow image for Kerberos (official `workers.kerberos*`).
KERBEROS_CONTAINERS = frozenset({"kerberos-init", "worker-kerberos"})
# The official chart's own keytab (`kerberos.enabled`): the volume `kerberos-keytab`, a Secret
# whose name ends so (`<release>-kerberos-keytab`), mounted at `kerberos.keytabPath` into the
# Celery worker's and the pod template's Airflow container and into kerberos-init and
# worker-kerberos (1.15.0 to 1.22.0 render it so). The chart's layout, not a user's choice.
CHART_KEYTAB_VOLUME = "kerberos-keytab"
CHART_KEYTAB_CONTAINERS = frozenset({"worker", "base", *KERBEROS_CONTAINERS})

# The charts' own containers (not sidecars a user added): each slot's Airflow container, the
# ones that take extra mounts, and the helpers that take none.
CHART_CONTAINERS = frozenset(
    {
        *GIT_SYNC_CONTAINERS,
        *KERBEROS_CONTAINERS,
        *(slot.main_container for slots in SLOTS.values() for slot in slots.values()),
        "base",
        *(name for pair in _OFFICIAL_MOUNTS.values() for names in pair for name in names),
        *_CHECKS,
        "volume-permissions",
        "metrics-exporter",
        "log-cleanup",
    }
)
