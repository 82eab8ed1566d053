"""GRPCRoute rules -> DAG routes, for one route attached to one Gateway listener (pure).

The GRPCRoute counterpart of gatewayapi_httproute, whose backend resolution, ReferenceGrant check,
header filters, mirrors and result type it reuses. What differs for gRPC (Gateway API v1.6.1,
GRPCRouteRule and GRPCMethodMatch godoc):

* a method match becomes a path match on `/<service>/<method>`: Exact service and method -> exact path,
  service only -> string prefix `/<service>/`, method only -> regex `/[^/]+/<method>`, RegularExpression
  -> regex `/(?:<service>)/(?:<method>)` (an empty side matches any name); no method: every request;
* backends speak HTTP/2: cleartext (h2c) unless the Service asks for TLS;
* requests for invalid backends answer UNAVAILABLE (a 503 direct response, which Envoy's local reply
  turns into grpc-status 14); a request no rule matches gets Envoy's 404, i.e. grpc-status 12
  UNIMPLEMENTED, which is what the conformance suite expects;
* precedence (exact method > service prefix > any, then more header matches, then route age and rule
  order through `priority_base`) is the sorter's exact > regex > longest prefix > more headers > lower
  priority. One difference from the godoc: a method-only match (a regex) is tried before a
  service-only one (a prefix), where the godoc ranks service characters first; method-only matching
  is implementation-specific.

`grpcroute_rules` takes `httproute_rules`' arguments (less `listener_port`) and returns its result
type; the Gateway API processor calls `route_rules`, which picks one of the two by the route's kind.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Final

from contour.api.gateway.v1 import GRPCRoute, HTTPRoute, Match, Method, Rule
from contour.dag.builder import BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.conditions import regex_error
from contour.dag.gatewayapi_httproute import (
    REASON_INVALID_KIND,
    REASON_UNSUPPORTED_VALUE,
    HTTPRouteResult,
    ReferenceCheck,
    _backends,
    _Context,
    _mirrors,
    header_matches,
    httproute_rules,
    rules_result,
)
from contour.dag.gatewayapi_httproute_filters import RouteRejectedError, RuleFilters, headers_policy
from contour.dag.goformat import go_quote_meta
from contour.dag.model import Cluster, DirectResponse, ObjectRef, PathMatch, PathMatchKind, Protocol, Route
from contour.dag.services import ServiceMemo

ROUTE_KIND: Final = "GRPCRoute"
_MATCHES_PER_RULE: Final = 64  # the same stride as HTTPRoute rules, so PRIORITY_STRIDE holds for both
_ANY_NAME: Final = "[^/]+"
# The CRD's CEL rules for Exact names (GRPCMethodMatch); the API server enforces them, we re-check.
_EXACT_SERVICE: Final = re.compile(r"\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*", re.IGNORECASE)
_EXACT_METHOD: Final = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_UNAVAILABLE: Final = 503


def grpcroute_rules(
    route: GRPCRoute,
    hostnames: Sequence[str],
    cache: KubernetesCache,
    config: BuilderConfig,
    *,
    priority_base: int,
    permitted: ReferenceCheck | None = None,
    service_memo: ServiceMemo | None = None,
) -> HTTPRouteResult:
    """The DAG routes of `route` for `hostnames` (empty: "*"), and its ResolvedRefs/Accepted findings."""
    meta = route.metadata
    route_ref = ObjectRef(meta.namespace or "" if meta else "", meta.name or "" if meta else "")
    ctx = _Context(route_ref, cache, config, permitted, service_memo, None, route_kind=ROUTE_KIND)
    return rules_result(ctx, route.spec.rules or (), hostnames, priority_base, _rule_routes)


def route_rules(
    route: HTTPRoute | GRPCRoute,
    hostnames: Sequence[str],
    cache: KubernetesCache,
    config: BuilderConfig,
    *,
    priority_base: int,
    permitted: ReferenceCheck | None = None,
    service_memo: ServiceMemo | None = None,
    listener_port: int | None = None,
) -> HTTPRouteResult:
    """`httproute_rules` or `grpcroute_rules`, by the route's kind (`listener_port`: HTTPRoute only)."""
    if isinstance(route, GRPCRoute):
        return grpcroute_rules(
            route,
            hostnames,
            cache,
            config,
            priority_base=priority_base,
            permitted=permitted,
            service_memo=service_memo,
        )
    return httproute_rules(
        route,
        hostnames,
        cache,
        config,
        priority_base=priority_base,
        permitted=permitted,
        service_memo=service_memo,
        listener_port=listener_port,
    )


# --- matches --------------------------------------------------------------------------------------


def _name(value: str | None) -> str:
    return value or ""


def _regex_side(pattern: str, what: str) -> str:
    if not pattern:
        return _ANY_NAME
    problem = regex_error(pattern)
    if problem is not None:
        raise RouteRejectedError(
            REASON_UNSUPPORTED_VALUE, f"invalid {what} regular expression {pattern!r}: {problem}"
        )
    # A group keeps an alternation inside its side of the "/".
    return f"(?:{pattern})"


def method_path(method: Method | None) -> PathMatch:
    """The path match for a GRPCMethodMatch (gRPC requests are POSTs to `/<service>/<method>`)."""
    service = _name(method.service if method is not None else None)
    name = _name(method.method if method is not None else None)
    if method is None or not (service or name):
        return PathMatch(PathMatchKind.PREFIX, "/")
    if method.type == "RegularExpression":
        return PathMatch(
            PathMatchKind.REGEX, f"/{_regex_side(service, 'service')}/{_regex_side(name, 'method')}"
        )
    if service and not _EXACT_SERVICE.fullmatch(service):
        raise RouteRejectedError(
            REASON_UNSUPPORTED_VALUE, f"service {service!r} is not a valid gRPC service name"
        )
    if name and not _EXACT_METHOD.fullmatch(name):
        raise RouteRejectedError(REASON_UNSUPPORTED_VALUE, f"method {name!r} is not a valid gRPC method name")
    if service and name:
        return PathMatch(PathMatchKind.EXACT, f"/{service}/{name}")
    if service:
        return PathMatch(PathMatchKind.PREFIX, f"/{service}/")
    return PathMatch(PathMatchKind.REGEX, f"/{_ANY_NAME}/{go_quote_meta(name)}")


# --- backends and rules ---------------------------------------------------------------------------


def _grpc_cluster(cluster: Cluster) -> Cluster:
    """The cluster speaking HTTP/2 to its Service: h2c, or h2 when the Service asks for TLS."""
    tls = cluster.upstream.protocol in (Protocol.TLS, Protocol.H2)
    return dataclasses.replace(cluster, protocol=Protocol.H2 if tls else Protocol.H2C)


def _rule_routes(ctx: _Context, rule: Rule, priority: int) -> list[Route]:
    filters = RuleFilters.of(rule.filters or (), backend=False)
    backends = _backends(ctx, rule.backend_refs or ())
    clusters = [_grpc_cluster(c) for c in backends.clusters]
    mirrors = [dataclasses.replace(m, cluster=_grpc_cluster(m.cluster)) for m in _mirrors(ctx, filters)]
    for ext in filters.extension_refs:
        ctx.refuse(
            REASON_INVALID_KIND,
            f"filter extensionRef {ext.group or 'core'}/{ext.kind} {ext.name} is not supported",
        )
    request_headers = headers_policy(filters.request_headers, host_rewrite=True)
    response_headers = headers_policy(filters.response_headers)
    result = []
    for index, match in enumerate(rule.matches or [Match()]):
        route = Route(
            path_match=method_path(match.method),
            header_matches=header_matches(match.headers or ()),
            priority=priority + index,
            kind=ROUTE_KIND,
            owner=ctx.route_ref,
            request_headers_policy=request_headers,
            response_headers_policy=response_headers,
        )
        if filters.extension_refs:
            # An unresolved filter must not be skipped: the requests it would process get an error.
            route.direct_response = DirectResponse(500)
        elif not clusters:
            # No valid backend with weight: every request would go to an invalid one (or none at all).
            route.direct_response = DirectResponse(_UNAVAILABLE)
        else:
            route.clusters = list(clusters)
            route.invalid_backend_weight = backends.invalid_weight
            route.mirror_policies = list(mirrors)
        result.append(route)
    return result
