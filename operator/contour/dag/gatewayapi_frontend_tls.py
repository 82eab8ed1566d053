"""Gateway frontend TLS: client certificate validation on a Gateway's HTTPS listeners.

`spec.tls.frontend` (apis/v1/gateway_types.go at v1.6.1) holds a `default` validation and `perPort`
overrides; a port's entry replaces the default for every HTTPS listener on that port (a validation
protects a TCP connection, which HTTP/2 coalescing may reuse across listeners of one port, hence
per port). Each validation names CA bundles (`caCertificateRefs`: core ConfigMaps or Secrets with a
PEM `ca.crt`; another namespace needs a ReferenceGrant from the Gateway) and a mode:

* `AllowValidOnly` (default): the handshake requires a client certificate signed by those CAs;
* `AllowInsecureFallback`: a certificate is asked for but neither required nor verified, and the
  Gateway carries `InsecureFrontendValidationMode=True/ConfigurationChanged` while any is set.

Every targeted listener reports a bad reference as `ResolvedRefs=False` (`InvalidCACertificateKind`,
`RefNotPermitted`, `InvalidCACertificateRef`), and `Accepted=False/NoValidCACertificate` when no
reference is usable. A listener with `ResolvedRefs=False` is not programmed, so a listener whose
validation is broken is never served without it (fail closed). The validation becomes the existing
`DownstreamValidation` of the listener's secure hosts, which the translator turns into the
DownstreamTlsContext's validation context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from contour.api.gateway import v1 as gwapi
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_ca import ca_bundle
from contour.dag.gatewayapi_httproute import CrossReference, ReferenceCheck
from contour.dag.gatewayapi_listeners import HTTPS, ListenerState, Verdict, condition
from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.gatewayapi_names import GROUP, https_listener_name
from contour.dag.model import DownstreamValidation, ObjectRef, Secret

ALLOW_VALID_ONLY: Final = "AllowValidOnly"
ALLOW_INSECURE_FALLBACK: Final = "AllowInsecureFallback"

INSECURE_FRONTEND_VALIDATION_MODE: Final = "InsecureFrontendValidationMode"
REASON_CONFIGURATION_CHANGED: Final = "ConfigurationChanged"
REASON_INVALID_CA_CERTIFICATE_REF: Final = "InvalidCACertificateRef"
REASON_INVALID_CA_CERTIFICATE_KIND: Final = "InvalidCACertificateKind"
REASON_REF_NOT_PERMITTED: Final = "RefNotPermitted"
REASON_NO_VALID_CA_CERTIFICATE: Final = "NoValidCACertificate"

SUPPORTED_KINDS: Final = ("ConfigMap", "Secret")


@dataclass(slots=True)
class FrontendTLS:
    """One Gateway's client validation per HTTPS port and whether any is insecure.

    A port absent from `by_port` has no validation; a port mapped to None has one whose CAs are all
    unusable: no HTTPS host may be served there.
    """

    by_port: dict[int, DownstreamValidation | None] = field(default_factory=dict)
    insecure_fallback: bool = False


@dataclass(frozen=True, slots=True)
class _Resolved:
    """One validation's CA bundle (empty: none usable) and its first reference problem."""

    bundle: bytes
    problem: Verdict | None


def _validation_for(frontend: gwapi.Frontend, port: int) -> gwapi.GatewayValidation | None:
    for entry in frontend.per_port or []:
        if entry.port == port:
            return entry.tls.validation
    return frontend.default.validation


def _ca_bundle(
    gateway: ObjectRef, ref: gwapi.GatewayCACertificateRef, cache: KubernetesCache, permitted: ReferenceCheck
) -> tuple[bytes, Verdict | None]:
    """The PEM bundle one caCertificateRef names, or the ResolvedRefs problem with it."""
    group, kind = ref.group or "", ref.kind
    target = ObjectRef(ref.namespace or gateway.namespace, ref.name)
    if group != "" or kind not in SUPPORTED_KINDS:
        message = (
            f"caCertificateRef {target}: kind {group or 'core'}/{kind} is not supported "
            f"(ConfigMap or Secret in the core group)"
        )
        return b"", Verdict(False, REASON_INVALID_CA_CERTIFICATE_KIND, message)
    if target.namespace != gateway.namespace and not permitted(
        CrossReference(GROUP, "Gateway", gateway.namespace, "", kind, target)
    ):
        message = f"caCertificateRef to {kind} {target} is not permitted by any ReferenceGrant"
        return b"", Verdict(False, REASON_REF_NOT_PERMITTED, message)
    data, problem = ca_bundle(cache, kind, target)
    if problem is not None:
        return b"", Verdict(False, REASON_INVALID_CA_CERTIFICATE_REF, problem)
    return data, None


def _resolve(
    gateway: ObjectRef, validation: gwapi.GatewayValidation, cache: KubernetesCache, permitted: ReferenceCheck
) -> _Resolved:
    bundle = b""
    first: Verdict | None = None
    for ref in validation.ca_certificate_refs:
        data, problem = _ca_bundle(gateway, ref, cache, permitted)
        bundle += data
        if first is None:
            first = problem
    return _Resolved(bundle, first)


def frontend_tls(
    gateway_ref: ObjectRef,
    gateway: gwapi.Gateway,
    states: Sequence[ListenerState],
    cache: KubernetesCache,
    permitted: ReferenceCheck,
) -> FrontendTLS:
    """Resolve the Gateway's frontend validations and mark the HTTPS listeners they break.

    Runs after the listeners' own validation and conflict marking: an earlier ResolvedRefs or
    Accepted problem of a listener is kept (the first problem found is the one reported).
    """
    result = FrontendTLS()
    tls = gateway.spec.tls
    frontend = tls.frontend if tls is not None else None
    if frontend is None:
        return result
    validations = [frontend.default.validation, *(p.tls.validation for p in frontend.per_port or [])]
    result.insecure_fallback = any(v is not None and v.mode == ALLOW_INSECURE_FALLBACK for v in validations)
    resolved: dict[int, _Resolved | None] = {}
    for state in states:
        if state.protocol != HTTPS:
            continue
        port = state.port
        if port not in resolved:
            resolved[port] = _port_validation(
                gateway_ref, frontend, port, cache=cache, permitted=permitted, result=result
            )
        outcome = resolved[port]
        if outcome is None:
            continue
        if outcome.problem is not None and state.resolved_refs.ok:
            state.resolved_refs = outcome.problem
        if not outcome.bundle and state.accepted.ok:
            message = f"No caCertificateRef of the frontend validation for port {port} is valid"
            state.accepted = Verdict(False, REASON_NO_VALID_CA_CERTIFICATE, message)
    return result


def _port_validation(
    gateway_ref: ObjectRef,
    frontend: gwapi.Frontend,
    port: int,
    *,
    cache: KubernetesCache,
    permitted: ReferenceCheck,
    result: FrontendTLS,
) -> _Resolved | None:
    """Resolve the validation that applies to `port` (None: none) and record it in `result`."""
    validation = _validation_for(frontend, port)
    if validation is None:
        return None
    outcome = _resolve(gateway_ref, validation, cache, permitted)
    result.by_port[port] = _downstream(gateway_ref, validation, outcome.bundle) if outcome.bundle else None
    return outcome


def _downstream(
    gateway: ObjectRef, validation: gwapi.GatewayValidation, bundle: bytes
) -> DownstreamValidation:
    first = validation.ca_certificate_refs[0]
    ca = Secret(ref=ObjectRef(first.namespace or gateway.namespace, first.name), ca=bundle)
    if validation.mode == ALLOW_INSECURE_FALLBACK:
        # Envoy asks for a certificate, accepts none, and accepts one that fails verification.
        return DownstreamValidation(ca=ca, skip_client_cert_validation=True, optional_client_certificate=True)
    return DownstreamValidation(ca=ca)


def apply_frontend_tls(dag: GatewayDAG, frontend: FrontendTLS | None) -> None:
    """Give the HTTPS hosts of each validated port their client validation.

    Hosts with a TCP proxy come from TLS listeners sharing the port: frontend validation is for
    HTTPS listeners only, so they are left alone. On a port whose validation has no usable CA, HTTPS
    hosts that still reached the DAG (from listeners validated elsewhere, e.g. ListenerSets) are
    dropped rather than served without the validation the Gateway asks for (fail closed).
    """
    if frontend is None:
        return
    for port, validation in frontend.by_port.items():
        listener = dag.listeners.get(https_listener_name(port))
        if listener is None:
            continue
        hosts = listener.secure_virtual_hosts
        for name in [n for n, h in hosts.items() if h.tcp_proxy is None]:
            if validation is None:
                del hosts[name]
            else:
                hosts[name].downstream_validation = validation


def frontend_conditions(frontend: FrontendTLS | None, generation: int) -> list[dict[str, object]]:
    """The Gateway conditions frontend TLS adds: InsecureFrontendValidationMode while it applies."""
    if frontend is None or not frontend.insecure_fallback:
        return []
    message = "Frontend client certificate validation mode AllowInsecureFallback is in use"
    verdict = Verdict(True, REASON_CONFIGURATION_CHANGED, message)
    return [condition(INSECURE_FRONTEND_VALIDATION_MODE, verdict, generation)]
