"""Gateway `spec.tls.backend.clientCertificateRef`: the certificate a Gateway presents to TLS backends.

The reference (apis/v1/gateway_types.go at v1.6.1, feature GatewayBackendClientCertificate) names a
core Secret of type kubernetes.io/tls, in the Gateway's namespace or, with a ReferenceGrant from the
Gateway, in another. It is reported on the Gateway's `ResolvedRefs` condition: True/ResolvedRefs,
False/InvalidClientCertificateRef (wrong group or kind, missing or malformed Secret) or
False/RefNotPermitted (another namespace without a grant). A bad reference does not change Accepted
or Programmed; the Gateway then connects to its TLS backends without a client certificate.

A usable certificate is given to every cluster of the Gateway's HTTP routes that originates TLS
(those a BackendTLSPolicy turned into TLS clusters, or whose Service port's appProtocol is https).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from contour.api.gateway import v1 as gwapi
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_httproute import CrossReference, ReferenceCheck
from contour.dag.gatewayapi_listeners import Verdict, condition
from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.gatewayapi_names import GROUP
from contour.dag.model import Cluster, ObjectRef, Protocol, Route, Secret
from contour.dag.secrets import SecretError, lookup_tls_secret_insecure

RESOLVED_REFS: Final = "ResolvedRefs"
REASON_INVALID_CLIENT_CERTIFICATE_REF: Final = "InvalidClientCertificateRef"
REASON_REF_NOT_PERMITTED: Final = "RefNotPermitted"

_TLS_PROTOCOLS: Final = (Protocol.TLS, Protocol.H2)


@dataclass(frozen=True, slots=True)
class BackendClientCertificate:
    """The Gateway's backend client certificate (None when unusable) and its ResolvedRefs verdict."""

    secret: Secret | None
    resolved_refs: Verdict


def backend_client_certificate(
    gateway_ref: ObjectRef, gateway: gwapi.Gateway, cache: KubernetesCache, permitted: ReferenceCheck
) -> BackendClientCertificate | None:
    """Resolve the Gateway's clientCertificateRef; None when the Gateway sets none."""
    tls = gateway.spec.tls
    backend = tls.backend if tls is not None else None
    ref = backend.client_certificate_ref if backend is not None else None
    if ref is None:
        return None
    group, kind = ref.group or "", ref.kind or "Secret"
    target = ObjectRef(ref.namespace or gateway_ref.namespace, ref.name)
    if group != "" or kind != "Secret":
        message = (
            f"clientCertificateRef {target}: kind {group or 'core'}/{kind} is not supported (core Secret)"
        )
        return BackendClientCertificate(None, Verdict(False, REASON_INVALID_CLIENT_CERTIFICATE_REF, message))
    if target.namespace != gateway_ref.namespace and not permitted(
        CrossReference(GROUP, "Gateway", gateway_ref.namespace, "", "Secret", target)
    ):
        message = f"clientCertificateRef to Secret {target} is not permitted by any ReferenceGrant"
        return BackendClientCertificate(None, Verdict(False, REASON_REF_NOT_PERMITTED, message))
    try:
        secret = lookup_tls_secret_insecure(cache, target)
    except SecretError as exc:
        message = f"Invalid clientCertificateRef to Secret {target}: {exc}"
        return BackendClientCertificate(None, Verdict(False, REASON_INVALID_CLIENT_CERTIFICATE_REF, message))
    return BackendClientCertificate(secret, Verdict(True, RESOLVED_REFS, "References resolved"))


def backend_client_certificate_conditions(
    found: BackendClientCertificate | None, generation: int
) -> list[dict[str, object]]:
    """The Gateway's ResolvedRefs condition, when it sets a backend client certificate."""
    if found is None:
        return []
    return [condition(RESOLVED_REFS, found.resolved_refs, generation)]


def _with_certificate(cluster: Cluster, secret: Secret) -> Cluster:
    if cluster.protocol not in _TLS_PROTOCOLS or cluster.client_certificate is not None:
        return cluster
    return replace(cluster, client_certificate=secret)


def _route(route: Route, secret: Secret) -> None:
    route.clusters = [_with_certificate(c, secret) for c in route.clusters]
    route.mirror_policies = [
        replace(m, cluster=_with_certificate(m.cluster, secret)) for m in route.mirror_policies
    ]


def apply_backend_client_certificate(dag: GatewayDAG, found: BackendClientCertificate | None) -> None:
    """Give the TLS clusters of `dag`'s HTTP routes the Gateway's client certificate (after the
    BackendTLSPolicies made them TLS clusters, before the Secrets used are collected)."""
    if found is None or found.secret is None:
        return
    for listener in dag.listeners.values():
        hosts = [
            *listener.virtual_hosts.values(),
            *(s.virtual_host for s in listener.secure_virtual_hosts.values()),
        ]
        for vhost in hosts:
            for route in vhost.routes.values():
                _route(route, found.secret)
