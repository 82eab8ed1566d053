"""Service and port lookups for processors: a route's backend becomes a DAG `Service`.

Follows Contour's `EnsureService`/`LookupService` (internal/dag/accessors.go, cache.go): the port is
matched by number or name and must be TCP; the upstream protocol comes from the
`projectcontour.io/upstream-protocol.{h2,h2c,tls}` annotations (by port name or number) or the port's
`appProtocol`; circuit breakers from the `projectcontour.io/max-*` annotations. ExternalName Services
are refused unless the operator enabled them (GHSA-5ph6-qq5x-7jwc), and never when they point at the
local host. Error messages are Contour's, because they are copied into status.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from contour.dag import annotations as ann
from contour.dag.cache import KubernetesCache
from contour.dag.goformat import go_quote
from contour.dag.model import ObjectRef, Protocol, Service, ServicePort

_LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "local.projectcontour.io"})


class ServiceLookupError(Exception):
    """The Service or port cannot be used; str() is Contour's message."""


def _service_port(raw: Mapping[str, Any]) -> ServicePort | None:
    """A Service port, or None for an entry that is not one (the API server would reject it)."""
    number = raw.get("port")
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    target = raw.get("targetPort", 0)
    return ServicePort(
        name=str(raw.get("name") or ""),
        port=number,
        target_port=target if isinstance(target, int | str) else 0,
        protocol=str(raw.get("protocol") or "TCP"),
        app_protocol=str(raw.get("appProtocol") or ""),
    )


def _raw_ports(svc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = svc.get("spec")
    ports = spec.get("ports") if isinstance(spec, Mapping) else None
    return [p for p in ports if isinstance(p, Mapping)] if isinstance(ports, list) else []


def lookup_service(
    cache: KubernetesCache, ref: ObjectRef, port: int | str, protocols: tuple[str, ...] = ("TCP",)
) -> tuple[Mapping[str, Any], ServicePort]:
    """The Service object and its port matching `port` (number or name) with one of `protocols`,
    the earlier preferred (UDPRoutes prefer UDP: a Service may have a TCP and a UDP port of one
    number), or ServiceLookupError."""
    svc = cache.service(ref)
    if svc is None:
        raise ServiceLookupError(f"service {go_quote(ref)} not found")
    best: ServicePort | None = None
    other = ""
    for raw in _raw_ports(svc):
        sp = _service_port(raw)
        if sp is None:
            continue
        if (isinstance(port, int) and sp.port == port) or (sp.name and str(port) == sp.name):
            protocol = sp.protocol or "TCP"
            if protocol not in protocols:
                other = other or sp.protocol
            elif best is None or protocols.index(protocol) < protocols.index(best.protocol or "TCP"):
                best = sp
    if best is not None:
        return svc, best
    if other:
        raise ServiceLookupError(f"unsupported service protocol {go_quote(other)}")
    raise ServiceLookupError(f"port {go_quote(port)} on service {go_quote(ref)} not matched")


def upstream_protocol(svc: Mapping[str, Any], port: ServicePort) -> Protocol:
    """Contour's upstreamProtocol: the port's appProtocol when set, else the Service's annotations.

    Kubernetes rejects an empty appProtocol, so "" means the field is unset.
    """
    return ann.upstream_protocol(ann.annotations_of(svc), port.name, port.port, port.app_protocol or None)


def external_name(svc: Mapping[str, Any]) -> str:
    spec = svc.get("spec")
    if not isinstance(spec, Mapping) or spec.get("type") != "ExternalName":
        return ""
    return str(spec.get("externalName") or "")


def _points_at_localhost(name: str) -> bool:
    if name.lower().rstrip(".") in _LOCALHOST_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_link_local


def validate_external_name(svc: Mapping[str, Any], ref: ObjectRef, enabled: bool) -> None:
    name = external_name(svc)
    if not name:
        return
    if not enabled:
        raise ServiceLookupError(
            f"{ref.namespace}/{ref.name} is an ExternalName service, these are not currently enabled. "
            "See the config.enableExternalNameService config file setting"
        )
    if _points_at_localhost(name):
        raise ServiceLookupError(
            f"{ref.namespace}/{ref.name} is an ExternalName service that points to localhost, "
            "this is not allowed"
        )


# ensure_service results of one build: a Service or the lookup error's message, by everything the
# result depends on besides the cache (fixed during a build). Types are in the key because `True == 1`.
ServiceMemo = dict[tuple[object, ...], Service | str]


def ensure_service(
    cache: KubernetesCache,
    ref: ObjectRef,
    port: int | str,
    health_port: int | str | None,
    *,
    enable_external_name: bool,
    memo: ServiceMemo | None = None,
    protocols: tuple[str, ...] = ("TCP",),
) -> Service:
    """The DAG Service for a backend reference (Contour's EnsureService), or ServiceLookupError.

    With `memo` (one per build), every reference after the first to the same Service port is a lookup.
    """
    if memo is None:
        return _ensure_service(cache, ref, port, health_port, enable_external_name, protocols=protocols)
    key = (ref, type(port), port, type(health_port), health_port, enable_external_name, protocols)
    found = memo.get(key)
    if found is not None:
        cache.service(ref)  # the result depends on the Service even when memoised
    else:
        try:
            found = _ensure_service(cache, ref, port, health_port, enable_external_name, protocols=protocols)
        except ServiceLookupError as exc:
            found = str(exc)
        memo[key] = found
    if isinstance(found, str):
        raise ServiceLookupError(found)
    return found


def _ensure_service(
    cache: KubernetesCache,
    ref: ObjectRef,
    port: int | str,
    health_port: int | str | None,
    enable_external_name: bool,
    *,
    protocols: tuple[str, ...] = ("TCP",),
) -> Service:
    svc, sp = lookup_service(cache, ref, port, protocols)
    health_sp: ServicePort | None = None
    if health_port not in (None, 0, "") and health_port != port:
        assert health_port is not None
        _, health_sp = lookup_service(cache, ref, health_port)
    validate_external_name(svc, ref, enable_external_name)
    annotations = ann.annotations_of(svc)
    return Service(
        ref=ref,
        port=sp,
        health_port=health_sp,
        external_name=external_name(svc),
        protocol=upstream_protocol(svc, sp),
        max_connections=ann.max_connections(annotations),
        max_pending_requests=ann.max_pending_requests(annotations),
        max_requests=ann.max_requests(annotations),
        max_retries=ann.max_retries(annotations),
        per_host_max_connections=ann.per_host_max_connections(annotations),
    )
