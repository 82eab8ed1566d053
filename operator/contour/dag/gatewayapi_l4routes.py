"""TLSRoute, TCPRoute and UDPRoute backends: weighted Service ports, checked like HTTPRoute's.

These routes have one rule of backendRefs and no matches: each connection (datagram) goes to one
backend by weight. A backend must be a core Service (else InvalidKind), exist with the named port
(else BackendNotFound), and sit in the route's namespace unless a ReferenceGrant allows it (else
RefNotPermitted). Unresolved backends keep their weight as `invalid_weight`, so their share of the
traffic is refused rather than sent to the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from contour.api.gateway import v1 as gwapi
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_httproute import (
    REASON_BACKEND_NOT_FOUND,
    REASON_INVALID_KIND,
    REASON_REF_NOT_PERMITTED,
    RESOLVED,
    CrossReference,
    ReferenceCheck,
    ResolvedRefs,
)
from contour.dag.gatewayapi_names import GROUP
from contour.dag.model import Cluster, ObjectRef
from contour.dag.services import ServiceLookupError, ServiceMemo, ensure_service

L4BackendRef = gwapi.TLSRouteBackendRef | gwapi.TCPRouteBackendRef | gwapi.UDPRouteBackendRef


@dataclass(slots=True)
class L4Backends:
    clusters: list[Cluster] = field(default_factory=list)
    invalid_weight: int = 0
    resolved_refs: ResolvedRefs = RESOLVED


def l4_backends(
    route_kind: str,
    route_ref: ObjectRef,
    backend_refs: Sequence[L4BackendRef],
    cache: KubernetesCache,
    permitted: ReferenceCheck,
    *,
    enable_external_name: bool,
    memo: ServiceMemo | None = None,
) -> L4Backends:
    """The clusters of one L4 route's rule, and its ResolvedRefs (the first problem found)."""
    out = L4Backends()
    for backend in backend_refs:
        weight = 1 if backend.weight is None else backend.weight
        problem = _problem(route_kind, route_ref, backend, permitted)
        if problem is None:
            target = ObjectRef(backend.namespace or route_ref.namespace, backend.name)
            assert backend.port is not None
            try:
                service = ensure_service(
                    cache,
                    target,
                    backend.port,
                    None,
                    enable_external_name=enable_external_name,
                    memo=memo,
                    protocols=("UDP", "TCP") if route_kind == "UDPRoute" else ("TCP",),
                )
            except ServiceLookupError as exc:
                problem = ResolvedRefs(False, REASON_BACKEND_NOT_FOUND, f"Service {target}: {exc}")
            else:
                out.clusters.append(Cluster(upstream=service, weight=weight))
                continue
        out.invalid_weight += weight
        if out.resolved_refs.ok:
            out.resolved_refs = problem
    return out


def _problem(
    route_kind: str, route_ref: ObjectRef, backend: L4BackendRef, permitted: ReferenceCheck
) -> ResolvedRefs | None:
    group = backend.group or ""
    kind = backend.kind or "Service"
    if group != "" or kind != "Service":
        return ResolvedRefs(False, REASON_INVALID_KIND, f'Unsupported backendRef kind "{group}/{kind}"')
    target = ObjectRef(backend.namespace or route_ref.namespace, backend.name)
    if target.namespace != route_ref.namespace and not permitted(
        CrossReference(GROUP, route_kind, route_ref.namespace, "", "Service", target)
    ):
        message = f"Backend ref to Service {target} is not permitted by any ReferenceGrant"
        return ResolvedRefs(False, REASON_REF_NOT_PERMITTED, message)
    if backend.port is None:
        return ResolvedRefs(False, REASON_BACKEND_NOT_FOUND, f"Backend ref to Service {target} has no port")
    return None
