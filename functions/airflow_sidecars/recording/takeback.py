"""Which recorded items may be taken back: a record is a claim, and the pod is the evidence.

An item goes only when the pod shows that it is still what inject wrote: its content has the
digest the record keeps (as it stands, or without what the API server filled in), or (a
record of 0.1.x, without digests) the config being run declares exactly that content. Anything
else stays where it is and is named: an item changed since (`remove --force` takes it), one no
config vouches for, one another config's record also claims. A record that claims the chart's
own containers, or whose take-back would leave a pod without containers, is refused as a
whole: a hand-edited or badly merged record must never be turned against the chart's render.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow_sidecars.charts.chart import CHART_CONTAINERS
from airflow_sidecars.pods.apidefaults import undefaulted
from airflow_sidecars.recording import records
from airflow_sidecars.recording.records import Item, Record

_CONTAINER_KINDS = {"container": "containers", "initContainer": "initContainers"}
# What each kind of item is to the API server's defaulting (apidefaults.py).
_DEFAULTED_AS = {
    "container": "container",
    "initContainer": "container",
    "volume": "volume",
    "mount": "mount",
    "env": "env",
}


class Claims(NamedTuple):
    """What else speaks about the pod's items besides the record being taken back."""

    declared: dict[Item, str]  # what the config being run declares, with digests
    others: dict[Item, str]  # items other configs' records claim -> that config's name
    main_container: str  # the workload's own Airflow container ("" for none)
    force: bool = False  # `remove --force`: changed and unvouched items go too


class Verdict(NamedTuple):
    take: set[Item]
    changed: set[Item]  # the content is not what was recorded
    guarded: set[Item]  # changed, with the name of a container the chart renders: not forced
    unproven: set[Item]  # no digest, and no config declares this content
    shared: dict[Item, str]  # another config's record claims it too -> that config
    absent: set[Item]  # no longer in the pod: nothing to take back
    refused: str | None  # why none of the record may be believed


def judge(pod: dict[str, Any], record: Record, gone: set[Item], claims: Claims) -> Verdict:
    """Sort the items to take back (`gone`, part of `record`) by what the pod shows."""
    take: set[Item] = set()
    changed: set[Item] = set()
    guarded: set[Item] = set()
    unproven: set[Item] = set()
    shared: dict[Item, str] = {}
    absent: set[Item] = set()
    for item in sorted(gone):
        found = records.entry(pod, item)
        if found is None:
            absent.add(item)
        elif item in claims.others:
            shared[item] = claims.others[item]
        elif _vouched(item, found, record, claims):
            take.add(item)
        elif item in record.digests and _chart_named(item):
            # Not what was recorded, and the chart renders a container of this name: it may be
            # the chart's own, named by a hand-edited record. --force is no proof either.
            guarded.add(item)
        elif item in record.digests:
            (take if claims.force else changed).add(item)
        elif claims.force and not _chart_named(item):
            take.add(item)
        else:
            unproven.add(item)
    refused = _chart_claim(pod, record, claims) or _emptied(pod, record, take)
    return Verdict(take, changed, guarded, unproven, shared, absent, refused)


def _vouched(item: Item, found: Any, record: Record, claims: Claims) -> bool:
    """Whether the item is, as it stands, what inject wrote: the record's digest, or (none
    recorded) the config being run declares this very content."""
    recorded = record.digests.get(item)
    if recorded is None:
        recorded = claims.declared.get(item)
    return recorded is not None and _digest_is(found, item, recorded)


def _digest_is(found: Any, item: Item, wanted: str) -> bool:
    """Whether the entry has the digest, as it stands or as it was written: read back from a
    cluster it also holds what the API server filled in (`imagePullPolicy`, a port's
    `protocol`, `defaultMode: 420`), which the digest of what inject wrote does not."""
    if records.digest(found) == wanted:
        return True
    owner = _DEFAULTED_AS.get(item[0])
    if owner is None:
        return False
    return any(records.digest(form) == wanted for form in undefaulted(found, owner, "template"))


def _chart_claim(pod: dict[str, Any], record: Record, claims: Claims) -> str | None:
    """A record that names the workload's own Airflow container (`webserver` in the
    webserver's pod), where the pod does not show that inject wrote it, is not a record
    inject wrote: the chart renders that container, and no config can add it."""
    for kind in _CONTAINER_KINDS:
        item = (kind, claims.main_container)
        if item not in record.items or not claims.main_container:
            continue
        found = records.entry(pod, item)
        if found is not None and not _vouched(item, found, record, claims):
            return f"it names the chart's own container {claims.main_container!r}"
    return None


def _chart_named(item: Item) -> bool:
    """A container with the name of one the charts render (git-sync, worker-kerberos, ...):
    a config may add one of its own where the chart has none, so only a digest or the config
    may vouch for it; `--force` never takes it on the record's word alone."""
    return item[0] in _CONTAINER_KINDS and item[1] in CHART_CONTAINERS


def _emptied(pod: dict[str, Any], record: Record, take: set[Item]) -> str | None:
    """Taking back every container of a pod leaves one the API server rejects; unless the
    record says inject made the list (the render had none): then that is the render again."""
    if record.lists.get("containers") is not None:
        return None
    names = {
        str(entry.get("name")) for entry in pod.get("containers") or [] if isinstance(entry, dict)
    }
    ours = {item[1] for item in take if item[0] == "container"}
    if names and names <= ours:
        return "taking back what it names would leave the pod without containers"
    return None
