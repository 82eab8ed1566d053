"""Global header policies (ContourConfiguration `policy`, config file `policy.*`) merged into services.

Contour applies the configured request/response header policies to every upstream of every HTTPProxy
route, and to Ingress routes when `applyToIngress` is set (`internal/dag/policy.go`,
headersPolicyService). The object's own service-level policy wins: a global `set` only fills names the
service does not set, a global `Host` only becomes a host rewrite when the service has none, and global
`remove` names are appended unless already removed. Values go through the same escaping as the
object's own, with `%CONTOUR_NAMESPACE%`, `%CONTOUR_SERVICE_NAME%`, `%CONTOUR_SERVICE_PORT%` filled in.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from contour.dag.goformat import go_quote
from contour.dag.model import HeadersPolicy, HeaderValue, ObjectRef, Route
from contour.dag.policy import PolicyError, canonical_header_key, escape_header_value

if TYPE_CHECKING:
    from contour.dag.builder import BuilderConfig

log = logging.getLogger(__name__)

# k8s.io/apimachinery IsHTTPHeaderName, as in contour.dag.policy.
_HEADER_NAME = re.compile(r"^[-A-Za-z0-9]+$")
_HEADER_NAME_MSG = (
    "[a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', "
    "regex used for validation is '[-A-Za-z0-9]+')]"
)


def header_name_error(key: str) -> str | None:
    """Kubernetes' message for a header name it rejects, or None."""
    return None if _HEADER_NAME.match(key) else _HEADER_NAME_MSG


@dataclass(frozen=True, slots=True)
class GlobalHeaders:
    """One configured global policy: `set` as (name, value) pairs in configuration order, `remove`."""

    set: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()

    @classmethod
    def of(cls, set_: Mapping[str, str] | None, remove: tuple[str, ...] | list[str] | None) -> GlobalHeaders:
        return cls(set=tuple((set_ or {}).items()), remove=tuple(remove or ()))

    def __bool__(self) -> bool:
        return bool(self.set or self.remove)


def with_global_headers(
    own: HeadersPolicy | None,
    default: GlobalHeaders | None,
    allow_host_rewrite: bool,
    dynamic: Mapping[str, str],
) -> HeadersPolicy | None:
    """`own` (a service's policy) with the global `default` merged in; PolicyError as Contour's.

    Without a configured global policy `own` is returned unchanged (the same object), so builds
    without one are byte-for-byte what they were.
    """
    if not default:
        return own
    sets = {h.name: h.value for h in own.set} if own is not None else {}
    host_rewrite = own.host_rewrite if own is not None else ""
    for name, value in default.set:
        key = canonical_header_key(name)
        if key == "Host":
            if not allow_host_rewrite:
                raise PolicyError(f"rewriting {go_quote(key)} header is not supported")
            host_rewrite = host_rewrite or value
            continue
        if msg := header_name_error(key):
            raise PolicyError(f"invalid set header {go_quote(key)}: {msg}")
        if key not in sets:
            sets[key] = escape_header_value(value, dynamic)
    removes = list(own.remove) if own is not None else []
    for name in default.remove:
        key = canonical_header_key(name)
        if msg := header_name_error(key):
            raise PolicyError(f"invalid set header {go_quote(key)}: {msg}")
        if key not in removes:
            removes.append(key)
    return HeadersPolicy(
        set=tuple(HeaderValue(k, v) for k, v in sorted(sets.items())),
        add=own.add if own is not None else (),
        remove=tuple(removes),
        host_rewrite=host_rewrite,
    )


def ingress_service_headers(
    request: GlobalHeaders | None,
    response: GlobalHeaders | None,
    namespace: str,
    service_name: str,
    service_port: int,
) -> tuple[HeadersPolicy | None, HeadersPolicy | None]:
    """The request and response policies of an Ingress backend: only the global ones (Contour's
    IngressProcessor.route); PolicyError makes Contour skip that path."""
    dynamic = {
        "CONTOUR_NAMESPACE": namespace,
        "CONTOUR_SERVICE_NAME": service_name,
        "CONTOUR_SERVICE_PORT": str(service_port),
    }
    return (
        with_global_headers(None, request, True, dynamic),
        with_global_headers(None, response, False, dynamic),
    )


def ingress_route_headers(route: Route, config: BuilderConfig, ingress: ObjectRef) -> Route | None:
    """`route` (one Ingress path) with the global policies on its clusters when `apply_to_ingress`;
    None, logged, when they cannot apply (Contour skips that path)."""
    if not config.apply_to_ingress or not (config.global_request_headers or config.global_response_headers):
        return route
    clusters = []
    for cluster in route.clusters:
        try:
            request, response = ingress_service_headers(
                config.global_request_headers,
                config.global_response_headers,
                ingress.namespace,
                cluster.upstream.ref.name,
                cluster.upstream.port.port,
            )
        except PolicyError as exc:
            log.warning("ingress %s: global header policy not applicable, path skipped: %s", ingress, exc)
            return None
        clusters.append(
            dataclasses.replace(cluster, request_headers_policy=request, response_headers_policy=response)
        )
    route.clusters = clusters
    return route
