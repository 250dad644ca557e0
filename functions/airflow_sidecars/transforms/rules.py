"""Every rule id a result can carry (`tags.rule`), with its verdict in each function.

The ids are a contract: configs turn validate's rules off by name (`spec.validate.disable`),
and pipelines filter results by them. With a config, validate also reports what inject would
find (its errors and warnings, with the same verdict), so those rules have both columns.
"varies" means the finding decides (the `meaning` says how); None, that the function never
reports the rule.
The README's rule table is this table (a test keeps them the same).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from airflow_sidecars.krmio.results import Severity
from airflow_sidecars.renders.airflow import Workload

Verdict = Literal["error", "warning", "info", "varies"] | None


class Rule(NamedTuple):
    inject: Verdict
    validate: Verdict
    meaning: str
    # validate's checks: `spec.validate.disable` may turn them off
    can_disable: bool = False


_ERROR: Verdict = "error"
_WARNING: Verdict = "warning"
_INFO: Verdict = "info"
_VARIES: Verdict = "varies"

RULES: dict[str, Rule] = {
    # -- reading the input and the config --------------------------------------------------
    "input": Rule(_ERROR, _ERROR, "the input cannot be read, or its ResourceList is malformed"),
    "config": Rule(_ERROR, _ERROR, "the config is invalid; every problem is named"),
    "no-objects": Rule(
        _VARIES,
        _VARIES,
        "the input holds no objects: an error for a stream (empty, or only comments), info for "
        "an empty ResourceList (kpt on an empty package); said once, instead of every no-match",
    ),
    "unsupported-yaml": Rule(
        _ERROR,
        _ERROR,
        "an object that cannot be read as plain data (aliases, merge keys, a key twice, tags "
        "such as `!!python/object`); always on",
    ),
    "malformed-pod": Rule(
        _ERROR,
        _ERROR,
        "a pod spec field of a shape no Kubernetes object has (`initContainers: 5`); always on",
    ),
    "not-a-pod": Rule(_ERROR, _ERROR, "a workload whose pod spec is not a mapping"),
    "pod-template": Rule(
        _VARIES,
        _VARIES,
        "the KubernetesExecutor pod template is not YAML (error), not one Pod (warning), or "
        "the user's own (podTemplate: left alone, warning)",
    ),
    "duplicate-object": Rule(
        _ERROR,
        _ERROR,
        "one object twice in one file, one stream or one folder: no path says which render "
        "each belongs to",
    ),
    "render": Rule(
        _INFO,
        _INFO,
        "an estate: one of the renders its paths part into (the same object in `envs/dev` "
        "and `envs/prod`), with its own summary",
    ),
    "not-applied": Rule(
        _INFO, None, "a run with errors: nothing was applied, the output is the input as it came"
    ),
    "internal": Rule(_ERROR, None, "the edited output is not what was planned: nothing is changed"),
    # -- what inject did -------------------------------------------------------------------
    "added": Rule(_INFO, None, "what was added to a pod"),
    "unchanged": Rule(_INFO, None, "a pod that already has everything the config declares"),
    "checksum": Rule(_INFO, None, "checksum/airflow-config refreshed after a pod template edit"),
    "record": Rule(
        _VARIES,
        _ERROR,
        "a record annotation this tool did not write, refused as a whole (error); a recorded "
        "item changed since, claimed by two configs, or recorded by 0.1 with nothing to vouch "
        "for it: left in place (warning)",
    ),
    "taken-back": Rule(
        _INFO,
        None,
        "what a config's record says it added and it no longer declares, taken back (`remove`: "
        "everything recorded)",
    ),
    "name-conflict": Rule(
        _ERROR, _ERROR, "a container, volume or mount of the same name that differs"
    ),
    "template": Rule(
        _VARIES,
        _VARIES,
        "`{{ }}` in a value the chart does not template (warning) or an expression it cannot "
        "evaluate (error)",
    ),
    "service-account": Rule(
        _VARIES,
        _VARIES,
        "a ServiceAccount annotation a preset sets (info), cannot set (error), or that reaches "
        "other pods too (warning)",
    ),
    "preset": Rule(
        _VARIES,
        _VARIES,
        "what a preset says about a pod: why it left the pod alone, or a setting of the release "
        "it kept or changed",
    ),
    "no-match": Rule(
        _VARIES,
        _VARIES,
        "a config section, value or preset that reached no workload (a warning); an error with "
        "`--strict` or `spec.strict`, and when the config reaches no workload of a render that "
        "has Airflow workloads",
    ),
    "no-workloads": Rule(
        None,
        _VARIES,
        "validate without a config read objects but no Airflow workload, so it checked nothing: "
        "a warning, an error with `--strict`; the message says what it looks for",
    ),
    "chart-version": Rule(_WARNING, _WARNING, "a chart version outside the range tested"),
    # -- the checks ------------------------------------------------------------------------
    "missing-volume": Rule(
        _ERROR,
        _ERROR,
        "a `volumeMount` of a volume the pod does not define (the seed's s3-sync)",
        can_disable=True,
    ),
    "duplicate-container": Rule(
        None,
        _ERROR,
        "two containers of a pod (init containers included) with one name",
        can_disable=True,
    ),
    "plain-sidecar": Rule(
        _ERROR,
        _VARIES,
        "a plain sidecar in the pod template or a Job: the pod never completes (error); where "
        "its section says `allowPlainSidecars: true` (its containers exit on their own), inject "
        "adds it and validate reports it all the same, as a warning that notes the allowance",
        can_disable=True,
    ),
    "base-not-first": Rule(
        None,
        _ERROR,
        "a container before `base` in the pod template (Airflow merges task settings into the "
        "first)",
        can_disable=True,
    ),
    "keytab-exposed": Rule(
        None,
        _WARNING,
        "the Kerberos keytab mounted into a container that is not the ticket renewer (not the "
        "official chart's own keytab where the chart mounts it: `kerberos.enabled`)",
        can_disable=True,
    ),
    "literal-secret": Rule(
        None,
        _ERROR,
        "a literal secret in `env`: the variable is named, the value is never repeated",
        can_disable=True,
    ),
    "unpinned-image": Rule(
        None, _WARNING, "a sidecar image with no tag, or `:latest`", can_disable=True
    ),
    "proxy-connection": Rule(
        _VARIES,
        _VARIES,
        "(cloudSqlProxy) the database connection the render shows does not go to the proxy at "
        "127.0.0.1 (a warning, naming the chart value to set), or the render does not say "
        "where it goes (info)",
    ),
    "proxy-twice": Rule(None, _ERROR, "two database proxies in one pod", can_disable=True),
    "plain-proxy": Rule(
        None,
        _VARIES,
        "a database proxy as a plain container: in a Job or task pod the pod never completes "
        "(error); elsewhere Airflow may start before it listens (warning)",
        can_disable=True,
    ),
    "proxy-order": Rule(
        None,
        _ERROR,
        "a native database proxy after an init container that needs the database",
        can_disable=True,
    ),
    "proxy-missing": Rule(
        None,
        _ERROR,
        "a pod that opens the database connection itself without a proxy, in a release whose "
        "other pods use one",
        can_disable=True,
    ),
    "no-requests": Rule(None, _INFO, "a sidecar without resource requests", can_disable=True),
    "bad-quantity": Rule(
        None,
        _ERROR,
        "a container's `resources` the API server refuses: a value that is not a quantity "
        "(`cpu: true`, `5 GiB`), a negative one, a request above its limit, a resource no "
        "container can request (in the config: a `config` error)",
        can_disable=True,
    ),
    "declared-missing": Rule(
        None,
        _ERROR,
        "(with a config) a declared sidecar, volume, mount or annotation that is not there",
        can_disable=True,
    ),
    "no-longer-declared": Rule(
        None,
        _ERROR,
        "(with a config) what its record says it added and it no longer declares: inject takes "
        "it back",
        can_disable=True,
    ),
}

# validate's rules that `spec.validate.disable` cannot turn off: nothing else is checked in
# such a pod.
ALWAYS_ON = frozenset({"unsupported-yaml", "malformed-pod"})
# The rules `spec.validate.disable` names (the schema's enum, built from this): validate's
# checks, and what the config declares.
CAN_DISABLE = frozenset(rule for rule, entry in RULES.items() if entry.can_disable)


def severity(rule: str, function: Literal["inject", "validate"]) -> Severity:
    """The verdict of a rule that has one in `function`."""
    verdict = getattr(RULES[rule], function)
    if verdict not in ("error", "warning", "info"):
        raise KeyError(f"rule {rule!r} has no single verdict in {function}")
    found: Severity = verdict
    return found


def plain_sidecar_message(
    container: str, workload: Workload, section: str, allowed: bool = False
) -> str:
    """The plain-sidecar finding, said the same way by inject and validate; `section` is the
    config section whose `nativeSidecars` switch would make the container native, `allowed`
    that its `allowPlainSidecars` says the container exits on its own (validate's warning)."""
    where = "KubernetesExecutor task pods" if workload.is_pod_template else "this Job's pods"
    native = (
        f"set spec.{section}.nativeSidecars: true to add it as a native sidecar (an init "
        "container with restartPolicy: Always)"
    )
    if allowed:
        return (
            f"container {container!r} is a plain sidecar: {where} will not complete while it "
            f"runs; allowed by spec.{section}.allowPlainSidecars: the config says it exits on "
            f"its own. If it does not, {native}"
        )
    return (
        f"container {container!r} is a plain sidecar: {where} will not complete while it runs; "
        f"{native}; if it exits when the main container does, "
        f"set spec.{section}.allowPlainSidecars: true"
    )
