"""State-of-the-world xDS streams (ADS and per-type), following the xDS protocol's ACK/NACK rules.

Per type, a stream remembers the latest nonce it sent and what that response held:

* a request whose ``response_nonce`` is not the latest nonce of its type is stale and ignored;
* a request with the latest nonce is an ACK (reported to the server's ACK hook with the version of
  the response it acknowledges), or a NACK when it has ``error_detail``; a NACK is
  recorded in the ``NackRegistry`` and counted, and the rejected content is not sent again: the next
  response goes out only when the snapshot changes what the subscription selects;
* CDS/LDS subscriptions are wildcard (no names, or ``*``): every resource, the complete set; named
  subscriptions (EDS/RDS/SDS) get the requested resources that exist, and a new name set is answered;
* on ADS, types go out in ``typeurls.SEND_ORDER`` and listeners and routes wait for the answer to a
  cluster response and to the endpoint response after it (``warming.WarmingGate``), so Envoy has
  warmed the clusters a new route refers to before the route (make before break).

Spec: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
"""

from dataclasses import dataclass
from typing import Any, ClassVar

from contour.xds import typeurls, wire
from contour.xds.nacks import Nack
from contour.xds.snapshot import Snapshot, TypeResources
from contour.xds.streamloop import Send, XdsStream
from contour.xds.warming import WarmingGate

# DiscoveryResponse fields.
_VERSION_INFO = 1
_TYPE_URL = 4
_NONCE = 5


@dataclass
class _TypeState:
    """One type's subscription on a stream and what was last sent for it."""

    names: frozenset[str] | None = None  # None: wildcard
    nonce: str = ""
    outstanding: bool = False
    sent: bool = False
    sent_fingerprint: str = ""
    sent_names: frozenset[str] | None = None
    sent_version: str = ""
    sent_resources: tuple[str, ...] = ()
    evaluated: TypeResources | None = None
    dirty: bool = True


def encode_response(version_info: str, body: bytes, type_url: str, nonce: str) -> bytes:
    """A serialised ``DiscoveryResponse`` around already encoded ``resources`` elements."""
    return b"".join(
        (
            wire.string_field(_VERSION_INFO, version_info),
            body,
            wire.string_field(_TYPE_URL, type_url),
            wire.string_field(_NONCE, nonce),
        )
    )


class SotwStream(XdsStream):
    """A ``StreamAggregatedResources`` (``fixed_type=None``) or per-type ``Stream*`` stream."""

    variant: ClassVar[str] = "sotw"

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
        elif state.nonce and request.response_nonce != state.nonce:
            return  # stale: superseded by a response the client has not seen yet
        if state.outstanding and request.response_nonce == state.nonce:
            state.outstanding = False
            if request.HasField("error_detail"):
                self._record_nack(type_url, state, request.error_detail)
            else:
                self.acknowledged(type_url, state.sent_version)
        names = frozenset(request.resource_names)
        previous = state.names
        if "*" in names or (
            not names and (typeurls.is_wildcard_type(type_url) or first or state.names is None)
        ):
            state.names = None
        else:
            state.names = names
        if not first and state.names != previous:
            # A changed subscription gets an answer even when our last response had the same content:
            # a client drops the resources it unsubscribes from, so after an unsubscribe and a
            # resubscribe it no longer has what we last sent (a cluster re-added would stay warming).
            # https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#how-the-client-specifies-what-resources-to-return
            state.sent = False
        if first and state.names is None and request.version_info:
            # Reconnect: versions are content hashes, so an equal version means the client has it all.
            state.sent, state.sent_fingerprint, state.sent_names = True, request.version_info, None
        state.dirty = True

    def _record_nack(self, type_url: str, state: _TypeState, error: Any) -> None:
        self.state.metrics.nacks.labels(type_url).inc()
        self.state.nacks.record(
            Nack(
                type_url=type_url,
                nonce=state.nonce,
                rejected_version=state.sent_version,
                code=int(error.code),
                message=str(error.message),
                node_id=self.node_id,
                node_cluster=self.node_cluster,
                resource_names=state.sent_resources,
                stream_id=self.id,
            )
        )

    def _answered(self, type_url: str, nonce: str) -> bool:
        state = self.types.get(type_url)
        return state is None or not state.outstanding or state.nonce != nonce

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
            selection = resources.select(state.names)
            if state.names is not None and not selection.names:
                continue  # nothing to say about named resources that do not exist
            unchanged = (selection.fingerprint, state.names) == (state.sent_fingerprint, state.sent_names)
            if state.sent and unchanged:
                continue
            self._nonces += 1
            nonce = str(self._nonces)
            payload = encode_response(resources.version, selection.body, type_url, nonce)
            state.nonce, state.outstanding, state.sent = nonce, True, True
            state.sent_fingerprint, state.sent_names = selection.fingerprint, state.names
            state.sent_version, state.sent_resources = resources.version, selection.names
            self._gate.sent(type_url, nonce)
            await send(type_url, payload)
