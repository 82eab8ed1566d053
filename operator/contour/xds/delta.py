"""Incremental (delta) xDS streams (ADS and per-type), with per-resource versions.

Per type, a stream tracks what the client has: name -> resource version, seeded from
``initial_resource_versions`` on (re)connect, so a reconnecting Envoy is sent only what changed and
``removed_resources`` for the names it holds that no longer exist. Subscriptions follow the spec:

* the first request with no names is a (legacy) wildcard; ``*`` subscribes to every resource
  explicitly and unsubscribing ``*`` ends it; naming resources after a legacy wildcard ends it;
* subscription changes are applied even with a stale nonce; re-subscribing to a resource the client
  already has is answered again; a subscribed name that does not exist is reported once in
  ``removed_resources`` so Envoy does not wait for it;
* ``error_detail`` on a request is a NACK of the response with that nonce: recorded and counted, and
  nothing is re-sent until a resource changes; without it the request ACKs that response (reported to
  the server's ACK hook with the snapshot version the response came from).

``system_version_info`` is the snapshot version (debug only). On ADS, listeners and routes wait for
the clusters they may use (``warming.WarmingGate``), as for SotW.
Spec: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

from contour.xds import typeurls, wire
from contour.xds.nacks import Nack
from contour.xds.snapshot import Snapshot, TypeResources
from contour.xds.streamloop import Send, XdsStream
from contour.xds.warming import WarmingGate

# DeltaDiscoveryResponse fields.
_SYSTEM_VERSION_INFO = 1
_TYPE_URL = 4
_NONCE = 5
_REMOVED_RESOURCES = 6

# Responses kept for matching ACKs/NACKs; Envoy answers each one, so this only bounds a broken client.
_MAX_OUTSTANDING = 32


@dataclass
class _Sent:
    system_version: str
    names: tuple[str, ...]


@dataclass
class _TypeState:
    """One type's subscriptions on a stream and the resource versions the client has."""

    wildcard: bool = False
    legacy_wildcard: bool = False
    explicit: set[str] = field(default_factory=set)
    # name -> version the client has; None: the client was told the resource does not exist.
    known: dict[str, str | None] = field(default_factory=dict)
    outstanding: dict[str, _Sent] = field(default_factory=dict)
    evaluated: TypeResources | None = None
    dirty: bool = True

    def in_scope(self, name: str) -> bool:
        return self.wildcard or name in self.explicit


def encode_delta_response(
    system_version: str, resources: list[bytes], type_url: str, nonce: str, removed: list[str]
) -> bytes:
    """A serialised ``DeltaDiscoveryResponse`` around already encoded ``resources`` elements."""
    return b"".join(
        (
            wire.string_field(_SYSTEM_VERSION_INFO, system_version),
            *resources,
            wire.string_field(_TYPE_URL, type_url),
            wire.string_field(_NONCE, nonce),
            *(wire.string_field(_REMOVED_RESOURCES, name) for name in removed),
        )
    )


class DeltaStream(XdsStream):
    """A ``DeltaAggregatedResources`` (``fixed_type=None``) or per-type ``Delta*`` stream."""

    variant: ClassVar[str] = "delta"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types: dict[str, _TypeState] = {}
        self._nonces = 0
        self._gate = WarmingGate()

    def handle(self, request: Any) -> None:
        type_url = self.type_of(request.type_url)
        if type_url is None:
            return
        state = self.types.get(type_url)
        first = state is None
        if state is None:
            state = self.types[type_url] = _TypeState()
            state.known.update(request.initial_resource_versions)
        subscribe = list(request.resource_names_subscribe)
        if first and not subscribe:
            state.wildcard = state.legacy_wildcard = True
        elif subscribe and state.legacy_wildcard:
            state.wildcard = state.legacy_wildcard = False
        for name in subscribe:
            if name == "*":
                state.wildcard = True
                continue
            state.explicit.add(name)
            if name not in request.initial_resource_versions:
                state.known.pop(name, None)  # a re-subscription must be answered
        for name in request.resource_names_unsubscribe:
            if name == "*":
                state.wildcard = state.legacy_wildcard = False
                continue
            state.explicit.discard(name)
            if not state.wildcard:
                state.known.pop(name, None)
        sent = state.outstanding.pop(request.response_nonce, None) if request.response_nonce else None
        if sent is not None:
            if request.HasField("error_detail"):
                self._record_nack(type_url, request.response_nonce, sent, request.error_detail)
            else:
                self.acknowledged(type_url, sent.system_version)
        state.dirty = True

    def _record_nack(self, type_url: str, nonce: str, sent: _Sent, error: Any) -> None:
        self.state.metrics.nacks.labels(type_url).inc()
        self.state.nacks.record(
            Nack(
                type_url=type_url,
                nonce=nonce,
                rejected_version=sent.system_version,
                code=int(error.code),
                message=str(error.message),
                node_id=self.node_id,
                node_cluster=self.node_cluster,
                resource_names=sent.names,
                stream_id=self.id,
            )
        )

    def _answered(self, type_url: str, nonce: str) -> bool:
        state = self.types.get(type_url)
        return state is None or nonce not in state.outstanding

    def _held(self, type_url: str) -> bool:
        return self.fixed_type is None and self._gate.holds(type_url, self._answered)

    async def respond(self, snapshot: Snapshot, send: Send) -> None:
        for type_url in typeurls.SEND_ORDER:
            state = self.types.get(type_url)
            if state is None or self._held(type_url):
                continue
            resources = snapshot.of_type(type_url)
            if resources is state.evaluated and not state.dirty:
                continue
            state.evaluated, state.dirty = resources, False
            changed, removed = _diff(state, resources)
            if not changed and not removed:
                continue
            self._nonces += 1
            nonce = str(self._nonces)
            payload = encode_delta_response(
                snapshot.version, [resources.delta_encoded(n) for n in changed], type_url, nonce, removed
            )
            for name in changed:
                state.known[name] = resources.resources[name].version
            state.outstanding[nonce] = _Sent(snapshot.version, tuple(changed))
            if len(state.outstanding) > _MAX_OUTSTANDING:
                state.outstanding.pop(next(iter(state.outstanding)))
            self._gate.sent(type_url, nonce)
            await send(type_url, payload)


def _diff(state: _TypeState, resources: TypeResources) -> tuple[list[str], list[str]]:
    """Names to send (new or changed for the client) and names to report removed; updates ``known``."""
    present = resources.resources
    if state.wildcard:
        changed = [n for n, r in present.items() if state.known.get(n) != r.version]
    else:
        wanted = sorted(n for n in state.explicit if n in present)
        changed = [n for n in wanted if state.known.get(n) != present[n].version]
    removed: list[str] = []
    for name in [n for n in state.known if n not in present]:
        if state.known[name] is not None and state.in_scope(name):
            removed.append(name)
        if name in state.explicit:
            state.known[name] = None
        else:
            del state.known[name]
    for name in state.explicit:
        if name not in present and name not in state.known:
            removed.append(name)
            state.known[name] = None
    return changed, sorted(removed)
