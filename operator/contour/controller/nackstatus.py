"""Envoy's NACKs shown where users look: an `EnvoyAccepted: False` condition on the objects behind them.

Contour logs a rejected update and moves on; the user whose HTTPProxy produced it never learns why
their change does not take effect. Here every current NACK (the xDS server's `NackRegistry`) is
attributed to the objects whose resources Envoy rejected (`contour.envoy.nack_sources.blame`) and
those objects get a condition

    type: EnvoyAccepted, status: "False", reason: Rejected, message: "<node id> rejected <type>: <error>"

at the top level of status.conditions (HTTPProxy, ExtensionService, Gateway) or in the conditions of
our controller's status.parents entries (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute). Ingress
has no conditions: nothing is written there. The condition goes away when the same Envoy ACKs a later
version of that type (or its stream ends).

`NackStatus` sits between the event handler and the `StatusUpdater` (it is the handler's status
sink): it merges the condition into the statuses each build computes, and when the NACKs change it
resubmits the last computed status of each object whose condition changed, so a NACK costs status
writes, never a DAG rebuild, and only the leader writes them (the updater decides).
"""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from contour.controller.eventhandler import STATUS_KINDS, StatusSink
from contour.controller.statusupdater import StatusKey, status_key
from contour.dag.builder import BuildResult
from contour.dag.gatewayapi_names import gateway_of_group
from contour.dag.model import ObjectRef
from contour.envoy.nack_sources import Blame, Source, SourceIndex, blame
from contour.k8s.statuswriter import StatusUpdateLike, now_rfc3339
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.nacks import Nack, NackRegistry
from contour.xds.snapshot import Snapshot, TypeResources

log = logging.getLogger(__name__)

ENVOY_ACCEPTED: Final = "EnvoyAccepted"
REASON_REJECTED: Final = "Rejected"
# Envoy's messages can be long (a whole protobuf text); a condition message stays readable.
MAX_MESSAGE: Final = 1024
# Kinds whose status.parents entries carry the condition instead of status.conditions.
ROUTE_KINDS: Final = frozenset({"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"})
# Kinds with top-level conditions. Ingress (no conditions) and Service (not ours) are left out.
TOP_LEVEL_KINDS: Final = frozenset({"HTTPProxy", "ExtensionService", "Gateway"})
SNAPSHOT_HISTORY: Final = 4


class ObservedNackRegistry(NackRegistry):
    """The server's `NackRegistry`, calling ``on_change`` after every change of its entries."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        super().__init__()
        self.on_change = on_change

    def _notify_if(self, before: int) -> None:
        if self.generation != before:
            self.on_change()

    def record(self, nack: Nack) -> None:
        before = self.generation
        super().record(nack)
        self._notify_if(before)

    def clear(self, node_id: str, node_cluster: str, type_url: str) -> bool:
        before = self.generation
        cleared = super().clear(node_id, node_cluster, type_url)
        self._notify_if(before)
        return cleared

    def drop_stream(self, stream_id: int) -> None:
        before = self.generation
        super().drop_stream(stream_id)
        self._notify_if(before)


def truncate(message: str, limit: int = MAX_MESSAGE) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def condition_message(nacks: Iterable[Nack]) -> str:
    """One message for every NACK blamed on an object: node id, type and Envoy's error each."""
    parts = [f"{n.node_id or '(no node id)'} rejected {n.short_type}: {n.message}" for n in nacks]
    return truncate("; ".join(sorted(parts)))


def rejected_condition(message: str) -> dict[str, Any]:
    return {"type": ENVOY_ACCEPTED, "status": "False", "reason": REASON_REJECTED, "message": message}


def merge_condition(
    update: StatusUpdateLike, kind: str, message: str, *, controller_name: str, since: str
) -> StatusUpdateLike:
    """``update`` with the EnvoyAccepted condition added (a copy; ``update`` is not changed).

    Top-level kinds get it in status.conditions with the update's observedGeneration (the status
    writer stamps top-level transition times); route kinds in each status.parents entry of
    ``controller_name``, stamped ``since`` (nested conditions are not stamped by the writer). An
    update of another kind is returned as it is.
    """
    status = copy.deepcopy(dict(update.status))
    condition = {**rejected_condition(message), "observedGeneration": update.generation}
    if kind in TOP_LEVEL_KINDS:
        conditions = [c for c in status.get("conditions") or [] if _type_of(c) != ENVOY_ACCEPTED]
        status["conditions"] = [*conditions, condition]
    elif kind in ROUTE_KINDS:
        ours = [p for p in status.get("parents") or [] if _controller_of(p) == controller_name]
        if not ours:
            return update
        for parent in ours:
            kept = [c for c in parent.get("conditions") or [] if _type_of(c) != ENVOY_ACCEPTED]
            parent["conditions"] = [*kept, {**condition, "lastTransitionTime": since}]
    else:
        return update
    return replace(update, status=status)  # type: ignore[type-var]


def _type_of(condition: Any) -> Any:
    return condition.get("type") if isinstance(condition, Mapping) else None


def _controller_of(parent: Any) -> Any:
    return parent.get("controllerName") if isinstance(parent, Mapping) else None


_KEY_KINDS: Final = {(group, plural): kind for kind, (group, plural) in STATUS_KINDS.items()}


def _status_key_of(source: Source) -> StatusKey | None:
    if source.kind not in TOP_LEVEL_KINDS | ROUTE_KINDS:
        return None
    group, plural = STATUS_KINDS[source.kind]
    return (group, plural, source.ref)


class NackStatus:
    """The event handler's status sink: statuses with the NACK conditions merged in, to ``sink``."""

    def __init__(
        self,
        sink: StatusSink,
        snapshots: SnapshotCache,
        last_build: Callable[[], BuildResult | None],
        *,
        controller_name: str = "projectcontour.io/gateway-controller",
        clock: Callable[[], str] = now_rfc3339,
    ) -> None:
        self.sink = sink
        self.snapshots = snapshots
        self.last_build = last_build
        self.controller_name = controller_name
        self.clock = clock
        self.nacks = ObservedNackRegistry(self._nacks_changed)
        self._base: dict[StatusKey, StatusUpdateLike] = {}
        self._messages: dict[StatusKey, str] = {}  # the condition message of each blamed object
        self._since: dict[tuple[StatusKey, str], str] = {}
        self._blames: dict[Nack, Blame] = {}
        self._acked: dict[tuple[str, str], str] = {}  # (node id, type URL) -> version
        self._history: dict[str, collections.deque[Snapshot]] = {}
        # The index of the last build and group asked about (a weak reference: a newer build frees it).
        self._index: tuple[weakref.ref[BuildResult], str, SourceIndex] | None = None
        self._refresh_scheduled = False

    # -- the status sink -----------------------------------------------------------------------------

    def submit(self, updates: Iterable[StatusUpdateLike]) -> None:
        self._remember_snapshots()
        batch = list(updates)
        base = self._base
        for update in batch:  # every rebuild submits every status: kept lean
            base[(update.group, update.plural, update.ref)] = update
        if self._messages:
            blamed = self._messages
            batch = [self._merged(key, u) if (key := status_key(u)) in blamed else u for u in batch]
        self.sink.submit(batch)

    def forget(self, group: str, plural: str, ref: ObjectRef) -> None:
        self._base.pop((group, plural, ref), None)
        self.sink.forget(group, plural, ref)

    # -- the xDS server's hooks ----------------------------------------------------------------------

    def acknowledged(self, type_url: str, node_id: str, version: str) -> None:
        """``start_server(on_ack=...)``: the version each Envoy last ACKed, to tell what a NACK changed."""
        self._acked[(node_id, type_url)] = version

    def _nacks_changed(self) -> None:
        if self._refresh_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.refresh()
            return
        self._refresh_scheduled = True
        loop.call_soon(self.refresh)

    def refresh(self) -> None:
        """Attribute the current NACKs and resubmit the statuses whose condition changed."""
        self._refresh_scheduled = False
        current = self.nacks.current()
        self._blames = {n: self._blames.get(n) or self._safe_blame(n) for n in current}
        by_key: dict[StatusKey, list[Nack]] = {}
        for nack, found in self._blames.items():
            for source in sorted(found.sources):
                key = _status_key_of(source)
                if key is not None:
                    by_key.setdefault(key, []).append(nack)
        messages = {key: condition_message(nacks) for key, nacks in by_key.items()}
        changed = {
            k for k in messages.keys() | self._messages.keys() if messages.get(k) != self._messages.get(k)
        }
        self._messages = messages
        self._since = {k: v for k, v in self._since.items() if messages.get(k[0]) == k[1]}
        resubmit = [self._merged(key, self._base[key]) for key in sorted(changed) if key in self._base]
        if resubmit:
            self.sink.submit(resubmit)

    def blamed(self) -> dict[StatusKey, str]:
        """The condition message of every object a current NACK is attributed to (tests, debugging)."""
        return dict(self._messages)

    # -- attribution ---------------------------------------------------------------------------------

    def _merged(self, key: StatusKey, update: StatusUpdateLike) -> StatusUpdateLike:
        message = self._messages.get(key)
        kind = _KEY_KINDS.get((key[0], key[1]))
        if message is None or kind is None:
            return update
        since = self._since.setdefault((key, message), self.clock())
        return merge_condition(update, kind, message, controller_name=self.controller_name, since=since)

    def _safe_blame(self, nack: Nack) -> Blame:
        try:
            return self._blame(nack)
        except Exception:  # a bug here must not stop the other NACKs' conditions, nor the loop
            log.exception("attributing the NACK of %s (%s) failed", nack.node_id, nack.short_type)
            return Blame(frozenset(), (), "failed")

    def _blame(self, nack: Nack) -> Blame:
        gateway = gateway_of_group(nack.node_cluster)
        group = nack.node_cluster if gateway is not None else DEFAULT_GROUP
        index = self._index_of(group, gateway)
        if index is None:
            return Blame(frozenset(), (), "no build")
        rejected = self._find(group, nack.type_url, nack.rejected_version)
        acked_version = self._acked.get((nack.node_id, nack.type_url))
        acked = self._find(group, nack.type_url, acked_version) if acked_version else None
        found = blame(
            nack.type_url,
            nack.message,
            nack.resource_names,
            index,
            rejected=_contents(rejected, nack.resource_names) if rejected is not None else None,
            acked=_contents(acked, nack.resource_names) if acked is not None else None,
        )
        log.warning(
            "xDS NACK from %s (%s) attributed to %s (%s)",
            nack.node_id,
            nack.short_type,
            ", ".join(f"{s.kind} {s.ref.namespace}/{s.ref.name}" for s in sorted(found.sources)) or "nothing",
            found.how,
        )
        return found

    def _index_of(self, group: str, gateway: ObjectRef | None) -> SourceIndex | None:
        build = self.last_build()
        if build is None:
            return None
        if self._index is not None and self._index[0]() is build and self._index[1] == group:
            return self._index[2]
        if gateway is not None:
            gateway_dag = build.dag.gateways.get(gateway)
            if gateway_dag is None:
                return None
            index = SourceIndex.from_gateway(gateway_dag)
        else:
            roots = {ps.vhost: ref for ref, ps in build.collector.proxies.items() if ps.vhost}
            index = SourceIndex.from_dag(build.dag, roots)
        self._index = (weakref.ref(build), group, index)
        return index

    def _remember_snapshots(self) -> None:
        groups = set(self.snapshots.groups())
        for group in list(self._history):
            if group not in groups:
                del self._history[group]
        for group in groups:
            snapshot = self.snapshots.snapshot(group)
            history = self._history.setdefault(group, collections.deque(maxlen=SNAPSHOT_HISTORY))
            if snapshot is not None and (not history or history[-1] is not snapshot):
                history.append(snapshot)

    def _find(self, group: str, type_url: str, version: str) -> TypeResources | None:
        """The resources of ``type_url`` sent as ``version`` (a SotW type version or, on delta
        streams, a snapshot version) among the group's recent snapshots."""
        current = self.snapshots.snapshot(group)
        candidates = [*([current] if current is not None else []), *reversed(self._history.get(group, ()))]
        for snapshot in candidates:
            if snapshot.version == version or snapshot.type_version(type_url) == version:
                return snapshot.of_type(type_url)
        return None


def _contents(resources: TypeResources, names: Iterable[str]) -> dict[str, bytes]:
    return {n: bytes(resources.resources[n].any_bytes()) for n in names if n in resources.resources}
