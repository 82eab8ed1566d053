"""Validating one Gateway's listeners: protocol, route kinds, TLS certificates and distinctness.

Gateway API v1.6.1 listener semantics (reference gateway-api.md 6.3): each listener gets Accepted,
Programmed, ResolvedRefs and Conflicted conditions with the spec's reasons, and `supportedKinds`.
Listeners that are not distinct from each other (same port with incompatible protocols, or the same
hostname on one port) are all rejected: no winner is picked. HTTPS and TLS listeners share one Envoy
listener per port (SNI tells them apart), so they may sit on the same port with distinct hostnames;
HTTP cannot share a port with them or with TCP. UDP listeners use their own sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from contour.api.gateway import v1 as gwapi
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_httproute import CrossReference, ReferenceCheck
from contour.dag.gatewayapi_names import GROUP
from contour.dag.model import ObjectRef, Secret
from contour.dag.secrets import SecretError, lookup_tls_secret_insecure

HTTP: Final = "HTTP"
HTTPS: Final = "HTTPS"
TLS: Final = "TLS"
TCP: Final = "TCP"
UDP: Final = "UDP"
PROTOCOLS: Final = (HTTP, HTTPS, TLS, TCP, UDP)

# Which Envoy listener a protocol lands on, per port.
PORT_GROUP: Final = {HTTP: "http", HTTPS: "https", TLS: "https", TCP: "tcp", UDP: "udp"}

# Route kinds each protocol accepts (all in the Gateway API group), defaults first.
ROUTE_KINDS: Final = {
    HTTP: ("HTTPRoute", "GRPCRoute"),
    HTTPS: ("HTTPRoute", "GRPCRoute"),
    TLS: ("TLSRoute",),
    TCP: ("TCPRoute",),
    UDP: ("UDPRoute",),
}
TLS_TERMINATE_KINDS: Final = ("TLSRoute",)  # a TLS listener in Terminate mode

# Condition types and reasons (Gateway API v1.6.1 ListenerConditionType / ListenerConditionReason).
ACCEPTED: Final = "Accepted"
PROGRAMMED: Final = "Programmed"
RESOLVED_REFS: Final = "ResolvedRefs"
CONFLICTED: Final = "Conflicted"
REASON_UNSUPPORTED_PROTOCOL: Final = "UnsupportedProtocol"
REASON_UNSUPPORTED_VALUE: Final = "UnsupportedValue"
REASON_INVALID: Final = "Invalid"
REASON_INVALID_CERTIFICATE_REF: Final = "InvalidCertificateRef"
REASON_INVALID_ROUTE_KINDS: Final = "InvalidRouteKinds"
REASON_REF_NOT_PERMITTED: Final = "RefNotPermitted"
REASON_NO_CONFLICTS: Final = "NoConflicts"
REASON_HOSTNAME_CONFLICT: Final = "HostnameConflict"
REASON_PROTOCOL_CONFLICT: Final = "ProtocolConflict"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One condition's outcome: ok (status True, or False for Conflicted), reason, message."""

    ok: bool
    reason: str
    message: str


@dataclass(slots=True)
class ListenerState:
    """A Gateway listener after validation, and the routes counted on it."""

    spec: gwapi.Listener
    gateway: ObjectRef
    supported_kinds: tuple[str, ...] = ()
    accepted: Verdict = Verdict(True, ACCEPTED, "Listener accepted")
    resolved_refs: Verdict = Verdict(True, RESOLVED_REFS, "References resolved")
    conflicted: Verdict | None = None  # None: no conflict
    secret: Secret | None = None  # the serving certificate (HTTPS, TLS Terminate)
    attached_routes: int = 0
    # Routes attached, by kind, in precedence order (filled by the processor).
    routes: list[tuple[str, ObjectRef]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def protocol(self) -> str:
        return self.spec.protocol

    @property
    def hostname(self) -> str:
        return self.spec.hostname or ""

    @property
    def tls_mode(self) -> str:
        tls = self.spec.tls
        return (tls.mode or "Terminate") if tls is not None else ""

    @property
    def programmed(self) -> bool:
        """Whether Envoy serves it: accepted, references resolved, no conflict."""
        return self.accepted.ok and self.resolved_refs.ok and self.conflicted is None

    @property
    def port_group(self) -> str:
        return PORT_GROUP.get(self.protocol, "")

    def conditions(self, generation: int) -> list[dict[str, object]]:
        """The listener's conditions, as written to status."""
        if self.programmed:
            programmed = Verdict(True, PROGRAMMED, "Listener programmed")
        else:
            programmed = Verdict(False, REASON_INVALID, "Invalid listener, see other listener conditions")
        conflicted = self.conflicted or Verdict(True, REASON_NO_CONFLICTS, "No conflicts")
        return [
            condition(ACCEPTED, self.accepted, generation),
            condition(PROGRAMMED, programmed, generation),
            condition(RESOLVED_REFS, self.resolved_refs, generation),
            # Conflicted has negative polarity: True means a problem.
            {
                "type": CONFLICTED,
                "status": "False" if self.conflicted is None else "True",
                "reason": conflicted.reason,
                "message": conflicted.message,
                "observedGeneration": generation,
            },
        ]

    def status(self, generation: int) -> dict[str, object]:
        return {
            "name": self.name,
            "supportedKinds": [{"group": GROUP, "kind": k} for k in self.supported_kinds],
            "attachedRoutes": self.attached_routes,
            "conditions": self.conditions(generation),
        }


def condition(type_: str, verdict: Verdict, generation: int) -> dict[str, object]:
    """A positive-polarity condition (True when `verdict.ok`)."""
    return {
        "type": type_,
        "status": "True" if verdict.ok else "False",
        "reason": verdict.reason,
        "message": verdict.message,
        "observedGeneration": generation,
    }


def _supported_kinds(listener: gwapi.Listener) -> tuple[tuple[str, ...], list[str]]:
    """The listener's valid route kinds and the invalid ones it names."""
    protocol = listener.protocol
    valid = ROUTE_KINDS.get(protocol, ())
    if protocol == TLS and listener.tls is not None and (listener.tls.mode or "Terminate") == "Terminate":
        valid = TLS_TERMINATE_KINDS
    allowed = listener.allowed_routes
    kinds = allowed.kinds if isinstance(allowed, gwapi.AllowedRoutes) else None
    if not kinds:
        return valid, []
    supported: list[str] = []
    invalid: list[str] = []
    for kind in kinds:
        group = GROUP if kind.group is None else kind.group
        if group == GROUP and kind.kind in valid:
            if kind.kind not in supported:
                supported.append(kind.kind)
        else:
            invalid.append(f"{group}/{kind.kind}" if group else kind.kind)
    return tuple(supported), invalid


def _certificate(
    state: ListenerState, cache: KubernetesCache, permitted: ReferenceCheck
) -> tuple[Verdict | None, Secret | None]:
    """The listener's serving certificate, or the ResolvedRefs problem that prevents it."""
    tls = state.spec.tls
    refs = tls.certificate_refs if tls is not None else None
    if not refs:
        return Verdict(
            False, REASON_INVALID_CERTIFICATE_REF, "Listener must have at least one certificateRef"
        ), None
    cert = refs[0]
    group = cert.group or ""
    kind = cert.kind or "Secret"
    if group != "" or kind != "Secret":
        message = f'Listener certificateRef has unsupported group/kind "{group}/{kind}"'
        return Verdict(False, REASON_INVALID_CERTIFICATE_REF, message), None
    ref = ObjectRef(cert.namespace or state.gateway.namespace, cert.name)
    if ref.namespace != state.gateway.namespace and not permitted(
        CrossReference(GROUP, "Gateway", state.gateway.namespace, "", "Secret", ref)
    ):
        message = f"Certificate ref to Secret {ref} is not permitted by any ReferenceGrant"
        return Verdict(False, REASON_REF_NOT_PERMITTED, message), None
    try:
        secret = lookup_tls_secret_insecure(cache, ref)
    except SecretError as exc:
        message = f"Invalid certificateRef to Secret {ref}: {exc}"
        return Verdict(False, REASON_INVALID_CERTIFICATE_REF, message), None
    return None, secret


def validate_listener(
    gateway: ObjectRef, spec: gwapi.Listener, cache: KubernetesCache, permitted: ReferenceCheck
) -> ListenerState:
    """Everything about one listener that does not depend on the others."""
    state = ListenerState(spec=spec, gateway=gateway)
    protocol = spec.protocol
    if protocol not in PROTOCOLS:
        state.accepted = Verdict(False, REASON_UNSUPPORTED_PROTOCOL, f"Protocol {protocol} is not supported")
        state.supported_kinds = ()
        return state
    supported, invalid = _supported_kinds(spec)
    state.supported_kinds = supported
    if invalid:
        message = "Invalid route kinds: " + ", ".join(invalid)
        state.resolved_refs = Verdict(False, REASON_INVALID_ROUTE_KINDS, message)
    mode = state.tls_mode
    if protocol == HTTPS and mode != "Terminate":
        message = f"TLS mode {mode} is not supported on an HTTPS listener"
        state.accepted = Verdict(False, REASON_UNSUPPORTED_VALUE, message)
        return state
    if protocol == HTTPS or (protocol == TLS and mode == "Terminate"):
        problem, secret = _certificate(state, cache, permitted)
        if problem is not None:
            if state.resolved_refs.ok:
                state.resolved_refs = problem
        else:
            state.secret = secret
    return state


def mark_conflicts(states: list[ListenerState]) -> None:
    """Mark every listener that is not distinct from another (all of them: no winner is picked)."""
    by_port: dict[int, list[ListenerState]] = {}
    for state in states:
        if state.protocol in PROTOCOLS:
            by_port.setdefault(state.port, []).append(state)
    for port, members in by_port.items():
        stream = [s for s in members if s.port_group != "udp"]
        groups = {s.port_group for s in stream}
        if len(groups) > 1:
            message = f"Listeners on port {port} have incompatible protocols"
            for state in stream:
                state.conflicted = Verdict(False, REASON_PROTOCOL_CONFLICT, message)
            continue
        for group in ("tcp", "udp"):
            same = [s for s in members if s.port_group == group]
            if len(same) > 1:
                message = f"Several {group.upper()} listeners on port {port}"
                for state in same:
                    state.conflicted = Verdict(False, REASON_PROTOCOL_CONFLICT, message)
        seen: dict[str, list[ListenerState]] = {}
        for state in (s for s in members if s.port_group in ("http", "https")):
            seen.setdefault(state.hostname, []).append(state)
        for hostname, same in seen.items():
            if len(same) > 1:
                message = f'Listeners on port {port} share the hostname "{hostname or "*"}"'
                for state in same:
                    state.conflicted = Verdict(False, REASON_HOSTNAME_CONFLICT, message)
    for state in states:
        if state.conflicted is not None and state.accepted.ok:
            state.accepted = Verdict(False, state.conflicted.reason, state.conflicted.message)
