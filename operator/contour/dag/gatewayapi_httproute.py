"""HTTPRoute rules -> DAG routes, for one route attached to one Gateway listener (pure).

The Gateway API processor decides where a route attaches and with which hostnames; this module turns
the route's rules into DAG `Route`s for those hostnames and says what the route's status needs:
ResolvedRefs (BackendNotFound, RefNotPermitted, InvalidKind, UnsupportedProtocol), a reason that makes
Accepted False (IncompatibleFilters, UnsupportedValue), and the Services the routes use.

INTERFACE (the Gateway API processor calls this; kept stable):

    httproute_rules(route, hostnames, cache, config, *, priority_base, permitted=None,
                    service_memo=None, listener_port=None) -> HTTPRouteResult

* `hostnames`: the effective hostnames on this listener (route x listener intersection); empty means
  the catch-all host "*".
* `priority_base`: the route's place in Gateway API precedence (oldest first, then namespace/name),
  times PRIORITY_STRIDE: the route's rules use `priority_base .. priority_base + PRIORITY_STRIDE - 1`.
  The sorter (envoy/sorter.py) orders exact > regex > longest prefix > method > more headers > more
  query params > lower priority, which is the spec's precedence (HTTPRouteRule.matches godoc).
* `permitted`: a ReferenceCheck answering whether a ReferenceGrant allows a cross-namespace backendRef
  (`reference_check(grants)` builds one from ReferenceGrant models); None refuses every cross-namespace
  reference.
* `listener_port`: the Gateway listener's port, used for a RequestRedirect without scheme and port
  (the spec's rule: the redirect keeps the listener's port).
* Result lists are in the route's rule order. Two routes with the same `model.route_key` (same match):
  the one with the lower priority must win, so a caller adding routes of several HTTPRoutes to a
  VirtualHost (whose `add_route` keeps the LAST one per key) must skip keys already present when it
  adds routes in priority order. The same Route objects appear under every host: do not mutate them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple, TypeVar

from contour.api.gateway.v1 import (
    BackendRef,
    GRPCRouteBackendRef,
    Header,
    HTTPRoute,
    HTTPRouteBackendRef,
    HTTPRouteMatch,
    HTTPRouteRule,
    ReferenceGrant,
)
from contour.dag.builder import BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.conditions import regex_error
from contour.dag.gatewayapi_httproute_filters import (
    RouteRejectedError,
    RuleFilters,
    cors_policy,
    headers_policy,
    mirror_fraction,
    path_rewrite,
    redirect,
)
from contour.dag.model import (
    Cluster,
    DirectResponse,
    HeaderMatch,
    MirrorPolicy,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    QueryParamMatch,
    Route,
    Service,
    TimeoutPolicy,
)
from contour.dag.services import ServiceLookupError, ServiceMemo, ensure_service
from contour.dag.timeouts import DurationError, parse_go_duration

PRIORITY_STRIDE: Final = 16 * 64  # rules per route (16) x matches per rule (64), the CRD's limits
_MATCHES_PER_RULE: Final = 64
_R = TypeVar("_R")  # a rule of an HTTPRoute or a GRPCRoute
GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
ROUTE_KIND: Final = "HTTPRoute"

# Route condition reasons (Gateway API v1.6.1 RouteConditionReason).
REASON_RESOLVED_REFS: Final = "ResolvedRefs"
REASON_BACKEND_NOT_FOUND: Final = "BackendNotFound"
REASON_REF_NOT_PERMITTED: Final = "RefNotPermitted"
REASON_INVALID_KIND: Final = "InvalidKind"
REASON_UNSUPPORTED_PROTOCOL: Final = "UnsupportedProtocol"
REASON_INCOMPATIBLE_FILTERS: Final = "IncompatibleFilters"
REASON_UNSUPPORTED_VALUE: Final = "UnsupportedValue"

# Service port appProtocols a Gateway backend may use (GEP-1911); anything else is UnsupportedProtocol.
# "https" / "HTTPS" name a TLS backend, which a BackendTLSPolicy then configures.
_APP_PROTOCOLS: Final = frozenset({"", "http", "https", "HTTPS", "kubernetes.io/h2c", "kubernetes.io/ws"})
_WEBSOCKET_APP_PROTOCOL: Final = "kubernetes.io/ws"


class ResolvedRefs(NamedTuple):
    """The route's ResolvedRefs condition for this parent: (status, reason, message)."""

    ok: bool
    reason: str
    message: str


RESOLVED: Final = ResolvedRefs(True, REASON_RESOLVED_REFS, "")


class CrossReference(NamedTuple):
    """A reference from an object in one namespace to an object `to` in another."""

    from_group: str
    from_kind: str
    from_namespace: str
    to_group: str
    to_kind: str
    to: ObjectRef


# Whether a ReferenceGrant in `to`'s namespace allows the reference.
ReferenceCheck = Callable[[CrossReference], bool]


@dataclass(slots=True)
class HTTPRouteResult:
    """What one HTTPRoute contributes on one listener, and what its status needs."""

    routes_by_host: dict[str, list[Route]] = field(default_factory=dict)
    resolved_refs: ResolvedRefs = RESOLVED
    # (reason, message) making Accepted False; routes_by_host is then empty
    accepted_problem: tuple[str, str] | None = None
    # Services the routes (and their mirrors) use, by eds_name
    services: dict[str, Service] = field(default_factory=dict)
    # message of PartiallyInvalid=True ("Dropped Rule ..."), when some rules were dropped
    partially_invalid: str | None = None


def reference_check(grants: Iterable[ReferenceGrant]) -> ReferenceCheck:
    """A ReferenceCheck over `grants` (each applies to objects in its own namespace)."""
    by_namespace: dict[str, list[ReferenceGrant]] = {}
    for grant in grants:
        namespace = grant.metadata.namespace if grant.metadata is not None else None
        if namespace:
            by_namespace.setdefault(namespace, []).append(grant)

    def check(ref: CrossReference) -> bool:
        for grant in by_namespace.get(ref.to.namespace, ()):
            if not any(
                s.group == ref.from_group and s.kind == ref.from_kind and s.namespace == ref.from_namespace
                for s in grant.spec.from_
            ):
                continue
            if any(
                t.group == ref.to_group and t.kind == ref.to_kind and t.name in (None, ref.to.name)
                for t in grant.spec.to
            ):
                return True
        return False

    return check


@dataclass(slots=True)
class _Context:
    """One call's inputs and what it has found so far."""

    route_ref: ObjectRef
    cache: KubernetesCache
    config: BuilderConfig
    permitted: ReferenceCheck | None
    service_memo: ServiceMemo | None
    listener_port: int | None
    services: dict[str, Service] = field(default_factory=dict)
    unresolved: ResolvedRefs | None = None  # the first unresolved reference
    route_kind: str = ROUTE_KIND  # the kind ReferenceGrants must allow references from

    def refuse(self, reason: str, message: str) -> None:
        if self.unresolved is None:
            self.unresolved = ResolvedRefs(False, reason, message)


def httproute_rules(
    route: HTTPRoute,
    hostnames: Sequence[str],
    cache: KubernetesCache,
    config: BuilderConfig,
    *,
    priority_base: int,
    permitted: ReferenceCheck | None = None,
    service_memo: ServiceMemo | None = None,
    listener_port: int | None = None,
) -> HTTPRouteResult:
    """The DAG routes of `route` for `hostnames`, and its ResolvedRefs/Accepted findings."""
    meta = route.metadata
    route_ref = ObjectRef(meta.namespace or "" if meta else "", meta.name or "" if meta else "")
    ctx = _Context(route_ref, cache, config, permitted, service_memo, listener_port)
    return rules_result(ctx, route.spec.rules or (), hostnames, priority_base, _rule_routes)


def rules_result(
    ctx: _Context,
    rules: Sequence[_R],
    hostnames: Sequence[str],
    priority_base: int,
    rule_routes: Callable[[_Context, _R, int], list[Route]],
) -> HTTPRouteResult:
    """The result of a route's `rules` (HTTPRoute's or GRPCRoute's), each turned into DAG routes by
    `rule_routes`: a rejected rule rejects the whole route."""
    routes: list[Route] = []
    try:
        for index, rule in enumerate(rules):
            routes += rule_routes(ctx, rule, priority_base + index * _MATCHES_PER_RULE)
    except RouteRejectedError as rejected:
        return HTTPRouteResult(
            routes_by_host={},
            resolved_refs=ctx.unresolved or RESOLVED,
            accepted_problem=(rejected.reason, str(rejected)),
        )
    return HTTPRouteResult(
        routes_by_host={host: list(routes) for host in (hostnames or ("*",))},
        resolved_refs=ctx.unresolved or RESOLVED,
        services={name: ctx.services[name] for name in sorted(ctx.services)},
    )


# --- matches --------------------------------------------------------------------------------------


def _path_match(match: HTTPRouteMatch) -> PathMatch:
    path = match.path
    kind = (path.type if path is not None else None) or "PathPrefix"
    value = (path.value if path is not None else None) or "/"
    if kind == "RegularExpression":
        problem = regex_error(value)
        if problem is not None:
            raise RouteRejectedError(
                REASON_UNSUPPORTED_VALUE, f"invalid path regular expression {value!r}: {problem}"
            )
        return PathMatch(PathMatchKind.REGEX, value)
    if not value.startswith("/") or "?" in value or "#" in value:
        raise RouteRejectedError(
            REASON_UNSUPPORTED_VALUE, f"path {value!r} must start with '/' and hold no '?' or '#'"
        )
    if kind == "Exact":
        return PathMatch(PathMatchKind.EXACT, value)
    # A segment prefix ignores a trailing "/": "/foo/" and "/foo" match the same requests.
    return PathMatch(PathMatchKind.SEGMENT_PREFIX, value.rstrip("/") or "/")


def _header_matches(match: HTTPRouteMatch) -> tuple[HeaderMatch, ...]:
    result = list(header_matches(match.headers or ()))
    if match.method:
        result.append(HeaderMatch(":method", "exact", match.method))
    return tuple(result)


def header_matches(headers: Sequence[Header]) -> tuple[HeaderMatch, ...]:
    """Header conditions (HTTPRoute and GRPCRoute share them); the first entry for a name counts."""
    result: list[HeaderMatch] = []
    seen: set[str] = set()
    for header in headers:
        name = header.name.lower()
        if name in seen:  # names are case-insensitive; only the first entry for a name counts
            continue
        seen.add(name)
        if header.type == "RegularExpression":
            problem = regex_error(header.value)
            if problem is not None:
                raise RouteRejectedError(
                    REASON_UNSUPPORTED_VALUE,
                    f"invalid regular expression for header {header.name}: {problem}",
                )
            result.append(HeaderMatch(name, "regex", header.value))
        else:
            result.append(HeaderMatch(name, "exact", header.value))
    return tuple(result)


def _query_matches(match: HTTPRouteMatch) -> tuple[QueryParamMatch, ...]:
    result: list[QueryParamMatch] = []
    seen: set[str] = set()
    for param in match.query_params or ():
        if param.name in seen:  # names are case-sensitive; only the first entry for a name counts
            continue
        seen.add(param.name)
        if param.type == "RegularExpression":
            problem = regex_error(param.value)
            if problem is not None:
                raise RouteRejectedError(
                    REASON_UNSUPPORTED_VALUE,
                    f"invalid regular expression for query parameter {param.name}: {problem}",
                )
            result.append(QueryParamMatch(param.name, "regex", param.value))
        else:
            result.append(QueryParamMatch(param.name, "exact", param.value))
    return tuple(result)


# --- backends -------------------------------------------------------------------------------------


def _backend_service(
    ctx: _Context, ref: HTTPRouteBackendRef | GRPCRouteBackendRef | BackendRef
) -> Service | None:
    """The Service a backendRef names, or None after recording why it cannot be used."""
    group = ref.group or ""
    kind = ref.kind or "Service"
    if group != "" or kind != "Service":
        ctx.refuse(
            REASON_INVALID_KIND, f"backendRef {ref.name}: kind {group or 'core'}/{kind} is not supported"
        )
        return None
    target = ObjectRef(ref.namespace or ctx.route_ref.namespace, ref.name)
    if target.namespace != ctx.route_ref.namespace:
        cross = CrossReference(GATEWAY_GROUP, ctx.route_kind, ctx.route_ref.namespace, "", "Service", target)
        if ctx.permitted is None or not ctx.permitted(cross):
            ctx.refuse(
                REASON_REF_NOT_PERMITTED,
                f"backendRef {target} is in another namespace and no ReferenceGrant allows it",
            )
            return None
    if ref.port is None:
        ctx.refuse(REASON_UNSUPPORTED_VALUE, f"backendRef {target}: a Service backendRef needs a port")
        return None
    try:
        service = ensure_service(
            ctx.cache,
            target,
            ref.port,
            None,
            enable_external_name=ctx.config.enable_external_name_service,
            memo=ctx.service_memo,
        )
    except ServiceLookupError as exc:
        message = str(exc)
        reason = REASON_UNSUPPORTED_PROTOCOL if "protocol" in message else REASON_BACKEND_NOT_FOUND
        ctx.refuse(reason, f"backendRef {target}: {message}")
        return None
    if service.port.app_protocol not in _APP_PROTOCOLS:
        ctx.refuse(
            REASON_UNSUPPORTED_PROTOCOL,
            f"backendRef {target}: appProtocol {service.port.app_protocol!r} is not supported",
        )
        return None
    return service


@dataclass(slots=True)
class _Backends:
    clusters: list[Cluster] = field(default_factory=list)
    invalid_weight: int = 0  # the share answering 500
    websocket: bool = False


def _backends(ctx: _Context, refs: Sequence[HTTPRouteBackendRef | BackendRef]) -> _Backends:
    result = _Backends()
    for ref in refs:
        weight = 1 if ref.weight is None else ref.weight
        service = _backend_service(ctx, ref)
        filters = RuleFilters.of(ref.filters or (), backend=True)
        if service is None:
            result.invalid_weight += weight
            continue
        if weight == 0:
            continue
        ctx.services.setdefault(service.eds_name, service)
        result.websocket |= service.port.app_protocol == _WEBSOCKET_APP_PROTOCOL
        result.clusters.append(
            Cluster(
                upstream=service,
                weight=weight,
                protocol=service.protocol,
                request_headers_policy=headers_policy(filters.request_headers, host_rewrite=True),
                response_headers_policy=headers_policy(filters.response_headers),
            )
        )
    return result


def _mirrors(ctx: _Context, filters: RuleFilters) -> list[MirrorPolicy]:
    result = []
    for mirror in filters.mirrors:
        service = _backend_service(ctx, mirror.backend_ref)
        fraction = mirror_fraction(mirror)
        if service is None or fraction[0] == 0:
            continue
        ctx.services.setdefault(service.eds_name, service)
        cluster = Cluster(upstream=service, protocol=service.protocol)
        result.append(MirrorPolicy(cluster=cluster, weight=fraction[0], denominator=fraction[1]))
    return result


# --- rules ----------------------------------------------------------------------------------------


def _timeout(text: str | None) -> float | None:
    """Seconds, 0 for "0s" (disabled), None when unset."""
    if text is None:
        return None
    try:
        return parse_go_duration(text)
    except DurationError as exc:
        raise RouteRejectedError(REASON_UNSUPPORTED_VALUE, f"invalid timeout {text!r}: {exc}") from None


def _timeout_policy(rule: HTTPRouteRule) -> TimeoutPolicy:
    """The route timeout: `request` bounds the whole exchange, `backendRequest` the one attempt made
    (no retries are configured, so the shorter of the two non-zero values bounds the request)."""
    timeouts = rule.timeouts
    if timeouts is None:
        return TimeoutPolicy()
    request, backend = _timeout(timeouts.request), _timeout(timeouts.backend_request)
    if request is not None and backend is not None and request > 0 and backend > request:
        raise RouteRejectedError(
            REASON_UNSUPPORTED_VALUE,
            f"backendRequest timeout {timeouts.backend_request} is longer than "
            f"request timeout {timeouts.request}",
        )
    limits = [t for t in (request, backend) if t is not None]
    if not limits:
        return TimeoutPolicy()
    positive = [t for t in limits if t > 0]
    return TimeoutPolicy(response_seconds=min(positive) if positive else 0.0)


def _rule_routes(ctx: _Context, rule: HTTPRouteRule, priority: int) -> list[Route]:
    filters = RuleFilters.of(rule.filters or (), backend=False)
    timeout_policy = _timeout_policy(rule)
    backends = _backends(ctx, rule.backend_refs or ()) if filters.redirect is None else _Backends()
    mirrors = _mirrors(ctx, filters)
    for ext in filters.extension_refs:
        ctx.refuse(
            REASON_INVALID_KIND,
            f"filter extensionRef {ext.group or 'core'}/{ext.kind} {ext.name} is not supported",
        )
    request_headers = headers_policy(
        filters.request_headers,
        host_rewrite=True,
        hostname=filters.url_rewrite.hostname if filters.url_rewrite is not None else None,
    )
    response_headers = headers_policy(filters.response_headers)
    cors = cors_policy(filters.cors) if filters.cors is not None else None
    result = []
    for index, match in enumerate(rule.matches or [HTTPRouteMatch()]):
        path = _path_match(match)
        route = Route(
            path_match=path,
            header_matches=_header_matches(match),
            query_param_matches=_query_matches(match),
            priority=priority + index,
            kind=ROUTE_KIND,
            owner=ctx.route_ref,
            timeout_policy=timeout_policy,
            request_headers_policy=request_headers,
            response_headers_policy=response_headers,
            cors_policy=cors,
        )
        if filters.redirect is not None:
            route.redirect = redirect(filters.redirect, path, ctx.listener_port)
        elif filters.extension_refs:
            route.direct_response = DirectResponse(500)
        elif not backends.clusters:
            # No valid backend with weight: every request would go to an invalid one (or none at all).
            route.direct_response = DirectResponse(500)
        else:
            route.clusters = list(backends.clusters)
            route.invalid_backend_weight = backends.invalid_weight
            route.mirror_policies = list(mirrors)
            route.websocket = backends.websocket
            if filters.url_rewrite is not None and filters.url_rewrite.path is not None:
                route.prefix_rewrite, route.regex_rewrite = path_rewrite(filters.url_rewrite.path, path)
        result.append(route)
    return result
