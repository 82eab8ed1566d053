"""ListenerSets: extra listeners that a Gateway lets other objects add to it (Gateway API v1.6.1).

A Gateway admits ListenerSets through `spec.allowedListeners.namespaces` (None by default, Same,
All, or a label Selector on the ListenerSet's Namespace). The listeners of admitted ListenerSets are
merged after the Gateway's own, in precedence order: the Gateway first, then ListenerSets oldest
first, then by `namespace/name`. Unlike listeners within one object (all indistinct ones rejected), a
merged listener that is not distinct from an earlier one loses: only the later one gets
Conflicted=True (HostnameConflict or ProtocolConflict). A ListenerSet with no valid listener left is
not accepted (ListenersNotValid). Routes attach to a ListenerSet's listeners with a parentRef of kind
ListenerSet (sectionName: a listener name in the set); a Gateway parentRef never reaches them.
See https://gateway-api.sigs.k8s.io/geps/gep-1713/ and apis/v1/listenerset_types.go.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from contour.api.gateway import v1 as gwapi
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_attach import namespace_labels, selector_matches
from contour.dag.gatewayapi_httproute import CrossReference, ReferenceCheck
from contour.dag.gatewayapi_listeners import (
    PROTOCOLS,
    REASON_HOSTNAME_CONFLICT,
    REASON_PROTOCOL_CONFLICT,
    ListenerState,
    Verdict,
    condition,
    mark_conflicts,
    validate_listener,
)
from contour.dag.gatewayapi_names import GROUP
from contour.dag.model import ObjectRef

KIND: Final = "ListenerSet"

# ListenerSet condition reasons (apis/v1/listenerset_types.go).
REASON_ACCEPTED: Final = "Accepted"
REASON_PROGRAMMED: Final = "Programmed"
REASON_NOT_ALLOWED: Final = "NotAllowed"
REASON_PARENT_NOT_ACCEPTED: Final = "ParentNotAccepted"
REASON_PARENT_NOT_PROGRAMMED: Final = "ParentNotProgrammed"
REASON_LISTENERS_NOT_VALID: Final = "ListenersNotValid"
ACCEPTED: Final = Verdict(True, REASON_ACCEPTED, "ListenerSet is accepted")


@dataclass(slots=True)
class ListenerSetState:
    """A ListenerSet whose parentRef names one of our Gateways, after validation and merging."""

    ref: ObjectRef
    listenerset: gwapi.ListenerSet
    gateway: ObjectRef
    listeners: list[ListenerState] = field(default_factory=list)
    accepted: Verdict = ACCEPTED

    @property
    def generation(self) -> int:
        generation = getattr(self.listenerset.metadata, "generation", None)
        return generation if isinstance(generation, int) else 0

    def status(self, gateway_programmed: bool) -> dict[str, Any]:
        generation = self.generation
        if not self.accepted.ok:
            programmed = Verdict(False, self.accepted.reason, self.accepted.message)
        elif not gateway_programmed:
            programmed = Verdict(False, REASON_PARENT_NOT_PROGRAMMED, "The parent Gateway is not programmed")
        else:
            programmed = Verdict(True, REASON_PROGRAMMED, "ListenerSet is programmed")
        return {
            "conditions": [
                condition("Accepted", self.accepted, generation),
                condition("Programmed", programmed, generation),
            ],
            "listeners": [_listener_status(state, generation) for state in self.listeners],
        }


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """Where a route parentRef of kind ListenerSet leads: the Gateway and the set's attachable
    listeners (none when the set is not accepted)."""

    gateway: ObjectRef
    listeners: list[ListenerState]


def _listener_status(state: ListenerState, generation: int) -> dict[str, object]:
    entry = state.status(generation)
    if state.conflicted is not None:
        # A listener that lost to an earlier one reports the conflict as its Programmed reason too.
        conditions: list[dict[str, object]] = entry["conditions"]  # type: ignore[assignment]
        for cond in conditions:
            if cond["type"] == "Programmed":
                cond["reason"] = state.conflicted.reason
                cond["message"] = state.conflicted.message
    return entry


def _created(item: tuple[ObjectRef, gwapi.ListenerSet]) -> tuple[str, str, str]:
    ref, listenerset = item
    created = getattr(listenerset.metadata, "creation_timestamp", None) or ""
    return str(created), ref.namespace, ref.name


def _parent_of(ref: ObjectRef, listenerset: gwapi.ListenerSet) -> ObjectRef | None:
    parent = listenerset.spec.parent_ref
    if (parent.group if parent.group is not None else GROUP) != GROUP or (
        parent.kind or "Gateway"
    ) != "Gateway":
        return None
    return ObjectRef(parent.namespace or ref.namespace, parent.name)


def allowed(
    gateway_ref: ObjectRef, gateway: gwapi.Gateway, namespace: str, labels: Mapping[str, str]
) -> bool:
    """Whether the Gateway's `allowedListeners` admits a ListenerSet from `namespace`."""
    allowed_listeners = gateway.spec.allowed_listeners
    namespaces = allowed_listeners.namespaces if allowed_listeners is not None else None
    origin = namespaces.from_ if isinstance(namespaces, gwapi.GatewayNamespaces) else "None"
    if origin == "All":
        return True
    if origin == "Same":
        return namespace == gateway_ref.namespace
    if origin == "Selector":
        assert isinstance(namespaces, gwapi.GatewayNamespaces)
        return selector_matches(namespaces.selector, labels)
    return False


def admits_listenersets(gateway: gwapi.Gateway) -> bool:
    allowed_listeners = gateway.spec.allowed_listeners
    namespaces = allowed_listeners.namespaces if allowed_listeners is not None else None
    origin = namespaces.from_ if isinstance(namespaces, gwapi.GatewayNamespaces) else "None"
    return origin not in (None, "None")


def _conflict(earlier: ListenerState, later: ListenerState) -> Verdict | None:
    """Why `later` is not distinct from `earlier` (same port), or None when they can coexist."""
    if earlier.port != later.port:
        return None
    a, b = earlier.port_group, later.port_group
    if "udp" in (a, b):
        if a == b:
            return Verdict(False, REASON_PROTOCOL_CONFLICT, f"Port {later.port} already has a UDP listener")
        return None  # UDP has its own sockets
    if a != b:
        return Verdict(
            False,
            REASON_PROTOCOL_CONFLICT,
            f"Port {later.port} is already used by a {earlier.protocol} listener",
        )
    if a == "tcp":
        return Verdict(False, REASON_PROTOCOL_CONFLICT, f"Port {later.port} already has a TCP listener")
    if earlier.hostname == later.hostname:
        host = later.hostname or "*"
        message = f'Port {later.port} already has a listener for hostname "{host}"'
        return Verdict(False, REASON_HOSTNAME_CONFLICT, message)
    return None


def _from_listenerset(permitted: ReferenceCheck) -> ReferenceCheck:
    """ReferenceGrants for a ListenerSet's certificates name kind ListenerSet (never the Gateway's)."""

    def check(ref: CrossReference) -> bool:
        return permitted(ref._replace(from_kind=KIND))

    return check


class ListenerSets:
    """The ListenerSets of one build: merged into their Gateways, targets of routes, and statuses."""

    def __init__(self, cache: KubernetesCache, permitted: ReferenceCheck) -> None:
        self.cache = cache
        self.permitted = _from_listenerset(permitted)
        self.states: dict[ObjectRef, ListenerSetState] = {}
        self._admitting: set[ObjectRef] = set()
        self._by_gateway: dict[ObjectRef, list[tuple[ObjectRef, gwapi.ListenerSet]]] = {}
        for item in sorted(cache.listenersets.items(), key=_created):
            parent = _parent_of(*item)
            if parent is not None:
                self._by_gateway.setdefault(parent, []).append(item)

    def merge(
        self, gateway_ref: ObjectRef, gateway: gwapi.Gateway, own: Sequence[ListenerState], *, accepted: bool
    ) -> list[ListenerState]:
        """Validate the ListenerSets naming the Gateway; the listeners of the accepted ones, in order."""
        if admits_listenersets(gateway):
            self._admitting.add(gateway_ref)
        taken = [s for s in own if s.protocol in PROTOCOLS and s.accepted.ok]
        merged: list[ListenerState] = []
        for ref, listenerset in self._by_gateway.get(gateway_ref, []):
            state = ListenerSetState(ref=ref, listenerset=listenerset, gateway=gateway_ref)
            self.states[ref] = state
            state.listeners = [
                validate_listener(ref, spec, self.cache, self.permitted)
                for spec in listenerset.spec.listeners
            ]
            labels = namespace_labels(self.cache.namespaces.get(ObjectRef("", ref.namespace)))
            if not accepted:
                state.accepted = Verdict(
                    False, REASON_PARENT_NOT_ACCEPTED, "The parent Gateway is not accepted"
                )
            elif not allowed(gateway_ref, gateway, ref.namespace, labels):
                message = f"Gateway {gateway_ref} does not allow ListenerSets from namespace {ref.namespace}"
                state.accepted = Verdict(False, REASON_NOT_ALLOWED, message)
            if not state.accepted.ok:
                continue
            # Listeners that lose to an earlier object go first; only the rest can clash among
            # themselves (ListenerSetProtocolConflict: a set's TCP listener losing to the Gateway's
            # HTTP listeners on its port leaves the set's HTTP listeners on that port valid).
            for listener in state.listeners:
                if listener.protocol not in PROTOCOLS or not listener.accepted.ok:
                    continue
                conflict = next((c for c in (_conflict(t, listener) for t in taken) if c is not None), None)
                if conflict is not None:
                    listener.conflicted = conflict
                    listener.accepted = conflict
            mark_conflicts([s for s in state.listeners if s.conflicted is None])
            valid = [s for s in state.listeners if s.programmed]
            if not valid:
                message = "No listener of the ListenerSet is valid"
                state.accepted = Verdict(False, REASON_LISTENERS_NOT_VALID, message)
                continue
            if len(valid) < len(state.listeners):
                state.accepted = Verdict(True, REASON_LISTENERS_NOT_VALID, "Some listeners are not valid")
            taken.extend(s for s in state.listeners if s.accepted.ok)
            merged.extend(state.listeners)
        return merged

    def target(self, ref: ObjectRef) -> RouteTarget | None:
        """Where a route's parentRef to ListenerSet `ref` leads; None when it is not one of ours."""
        state = self.states.get(ref)
        if state is None:
            return None
        return RouteTarget(state.gateway, state.listeners if state.accepted.ok else [])

    def attached_count(self, gateway_ref: ObjectRef) -> int | None:
        """Gateway status.attachedListenerSets; None (left out) when it admits none and none attached."""
        count = sum(1 for s in self.states.values() if s.gateway == gateway_ref and s.accepted.ok)
        if count == 0 and gateway_ref not in self._admitting:
            return None
        return count

    def statuses(
        self, programmed: Mapping[ObjectRef, bool]
    ) -> Iterator[tuple[ObjectRef, int, dict[str, Any]]]:
        """(ref, generation, status) of every ListenerSet attached to one of our Gateways."""
        for ref in sorted(self.states):
            state = self.states[ref]
            status = state.status(programmed.get(state.gateway, False))
            _keep_times(status["listeners"], self.cache.route_parents.get((KIND, ref), []))
            yield ref, state.generation, status


def _keep_times(listeners: list[dict[str, Any]], previous: Sequence[Any]) -> None:
    """Give each listener condition the lastTransitionTime it already has when it did not change.

    `previous` is the ListenerSet's current `status.listeners`, which the cache keeps (like routes'
    parents) under ("ListenerSet", ref) in `route_parents` when it records it.
    """
    before: dict[tuple[str, str], Mapping[str, Any]] = {}
    for entry in previous:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("conditions"), list):
            continue
        for cond in entry["conditions"]:
            if isinstance(cond, Mapping) and isinstance(cond.get("type"), str):
                before[str(entry.get("name")), cond["type"]] = cond
    for entry in listeners:
        for cond in entry["conditions"]:
            old = before.get((entry["name"], cond["type"]))
            if (
                old is not None
                and isinstance(old.get("lastTransitionTime"), str)
                and all(old.get(k) == cond[k] for k in ("status", "reason", "message"))
            ):
                cond["lastTransitionTime"] = old["lastTransitionTime"]
