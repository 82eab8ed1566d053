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

from contour.dag.cache import KubernetesCache
from contour.dag.model import ObjectRef, Protocol, Service, ServicePort

ANNOTATION_UPSTREAM_PROTOCOL = "projectcontour.io/upstream-protocol."
_LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "local.projectcontour.io"})
_APP_PROTOCOLS = {"kubernetes.io/h2c": Protocol.H2C, "https": Protocol.TLS}


class ServiceLookupError(Exception):
    """The Service or port cannot be used; str() is Contour's message."""


def _go_quote(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _service_port(raw: Mapping[str, Any]) -> ServicePort:
    target = raw.get("targetPort", 0)
    return ServicePort(
        name=str(raw.get("name") or ""),
        port=int(raw.get("port") or 0),
        target_port=target if isinstance(target, int | str) else 0,
        protocol=str(raw.get("protocol") or "TCP"),
        app_protocol=str(raw.get("appProtocol") or ""),
    )


def lookup_service(
    cache: KubernetesCache, ref: ObjectRef, port: int | str
) -> tuple[Mapping[str, Any], ServicePort]:
    """The Service object and its port matching `port` (number or name), or ServiceLookupError."""
    svc = cache.services.get(ref)
    if svc is None:
        raise ServiceLookupError(f"service {_go_quote(ref)} not found")
    for raw in (svc.get("spec") or {}).get("ports") or []:
        sp = _service_port(raw)
        if (isinstance(port, int) and sp.port == port) or (sp.name and str(port) == sp.name):
            if sp.protocol not in ("", "TCP"):
                raise ServiceLookupError(f"unsupported service protocol {_go_quote(sp.protocol)}")
            return svc, sp
    raise ServiceLookupError(f"port {_go_quote(port)} on service {_go_quote(ref)} not matched")


def upstream_protocols(annotations: Mapping[str, str]) -> dict[str, str]:
    """Contour's ParseUpstreamProtocols: port name or number -> "h2" / "h2c" / "tls"."""
    out: dict[str, str] = {}
    for proto in ("h2", "h2c", "tls"):
        value = annotations.get(ANNOTATION_UPSTREAM_PROTOCOL + proto, "")
        for item in value.split(","):
            if item.strip():
                out[item.strip()] = proto
    return out


def upstream_protocol(svc: Mapping[str, Any], port: ServicePort) -> Protocol:
    annotations = (svc.get("metadata") or {}).get("annotations") or {}
    protocols = upstream_protocols(annotations)
    proto = protocols.get(port.name, "") if port.name else ""
    if not proto:
        proto = protocols.get(str(port.port), "")
    if proto:
        return Protocol(proto)
    return _APP_PROTOCOLS.get(port.app_protocol, Protocol.HTTP1)


def _uint32_annotation(annotations: Mapping[str, str], name: str) -> int:
    value = annotations.get("projectcontour.io/" + name, "")
    try:
        parsed = int(value)
    except ValueError:
        return 0
    return parsed if 0 <= parsed <= 0xFFFFFFFF else 0


def external_name(svc: Mapping[str, Any]) -> str:
    spec = svc.get("spec") or {}
    if spec.get("type") != "ExternalName":
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


def ensure_service(
    cache: KubernetesCache,
    ref: ObjectRef,
    port: int | str,
    health_port: int | str | None,
    *,
    enable_external_name: bool,
) -> Service:
    """The DAG Service for a backend reference (Contour's EnsureService), or ServiceLookupError."""
    svc, sp = lookup_service(cache, ref, port)
    health_sp: ServicePort | None = None
    if health_port not in (None, 0, "") and health_port != port:
        assert health_port is not None
        _, health_sp = lookup_service(cache, ref, health_port)
    validate_external_name(svc, ref, enable_external_name)
    annotations = (svc.get("metadata") or {}).get("annotations") or {}
    return Service(
        ref=ref,
        port=sp,
        health_port=health_sp,
        external_name=external_name(svc),
        protocol=upstream_protocol(svc, sp),
        max_connections=_uint32_annotation(annotations, "max-connections"),
        max_pending_requests=_uint32_annotation(annotations, "max-pending-requests"),
        max_requests=_uint32_annotation(annotations, "max-requests"),
        max_retries=_uint32_annotation(annotations, "max-retries"),
        per_host_max_connections=_uint32_annotation(annotations, "per-host-max-connections"),
    )
