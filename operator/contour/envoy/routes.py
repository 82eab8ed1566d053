"""RouteConfigurations (RDS) from the DAG, as Contour's `internal/envoy/v3/route.go` and
`internal/xdscache/v3/route.go` build them.

One configuration `ingress_http` (always present, possibly empty) for the plain listener, one
`https/<fqdn>` per secure virtual host, and `ingress_fallbackcert` when a host enables the fallback
certificate. Every configuration ignores the port in Host matching and stamps `x-request-start`.
Virtual hosts are sorted by name and routes by Contour's sorter (`sorter.py`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any, Final

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.type.matcher.v3 import string_pb2
from google.protobuf import wrappers_pb2

from contour.dag.goformat import go_quote_meta
from contour.dag.model import (
    Cluster,
    CORSPolicy,
    DirectResponse,
    HeaderMatch,
    HeadersPolicy,
    HeaderValue,
    PathMatchKind,
    QueryParamMatch,
    Redirect,
    Route,
    VirtualHost,
)
from contour.dag.timeouts import DurationError, parse_go_duration
from contour.envoy.core import header_value_options, pack, safe_regex
from contour.envoy.durations import duration
from contour.envoy.filter_hooks import (
    route_filter_configs,
    virtual_host_filter_configs,
    weighted_cluster_filter_configs,
)
from contour.envoy.gatewayapi_route_actions import (
    apply_route_rewrites,
    invalid_backend_entries,
    mirror_fraction,
    regex_rewrite,
)
from contour.envoy.http_connection_manager import CORS_FILTER
from contour.envoy.internal_redirect import internal_redirect_policy
from contour.envoy.names import cluster_name, virtual_host_name
from contour.envoy.ratelimit import route_rate_limits, virtual_host_rate_limits
from contour.envoy.sorter import sort_routes

SESSION_AFFINITY_COOKIE: Final = "X-Contour-Session-Affinity"
_REDIRECT_CODES: Final = {
    301: rc.RedirectAction.MOVED_PERMANENTLY,
    302: rc.RedirectAction.FOUND,
    303: rc.RedirectAction.SEE_OTHER,
    307: rc.RedirectAction.TEMPORARY_REDIRECT,
    308: rc.RedirectAction.PERMANENT_REDIRECT,
}
_REGEX_META: Final = set("^$()[]{}|\\+?")


def route_configuration(name: str, virtual_hosts: Iterable[Any] = ()) -> Any:
    """A RouteConfiguration with Contour's constant parts; virtual hosts sorted by name."""
    return route_pb2.RouteConfiguration(
        name=name,
        virtual_hosts=sorted(virtual_hosts, key=lambda v: v.name),
        request_headers_to_add=header_value_options(
            [HeaderValue("x-request-start", "t=%START_TIME(%s.%3f)%")], append=True
        ),
        ignore_port_in_host_matching=True,
    )


def virtual_host(vhost: VirtualHost, *, secure: bool) -> Any | None:
    """The Envoy virtual host for `vhost`, or None when it has no routes (Contour skips those)."""
    routes = sort_routes(vhost.routes.values())
    if not routes:
        return None
    result = rc.VirtualHost(
        name=virtual_host_name(vhost.name),
        domains=[vhost.name],
        routes=[envoy_route(route, secure=secure) for route in routes],
        rate_limits=virtual_host_rate_limits(vhost),
    )
    if vhost.cors_policy is not None:
        result.typed_per_filter_config[CORS_FILTER].CopyFrom(pack(cors_policy(vhost.cors_policy)))
    for name, config in sorted(virtual_host_filter_configs(vhost, secure=secure).items()):
        result.typed_per_filter_config[name].CopyFrom(pack(config))
    return result


def envoy_route(route: Route, *, secure: bool) -> Any:
    """One Envoy route: a 301 to https on the plain listener, a direct response, a redirect, or a
    forward to the route's clusters with its policies."""
    result = rc.Route(match=route_match(route))
    if route.https_upgrade and not secure:
        result.redirect.CopyFrom(rc.RedirectAction(https_redirect=True))
        return result
    if route.direct_response is not None:
        result.direct_response.CopyFrom(_direct_response(route.direct_response))
        return result
    if route.redirect is not None:
        result.redirect.CopyFrom(_redirect(route.redirect))
        return result
    if not route.clusters:
        # Nothing to forward to: Envoy needs a cluster, Contour answers 503 for a missing Service.
        result.direct_response.CopyFrom(_direct_response(DirectResponse(503)))
        return result
    result.route.CopyFrom(_route_action(route))
    result.route.rate_limits.extend(route_rate_limits(route))
    _add_headers(result, route.request_headers_policy, route.response_headers_policy)
    if route.cors_policy is not None:
        result.typed_per_filter_config[CORS_FILTER].CopyFrom(pack(cors_policy(route.cors_policy)))
    for name, config in sorted(route_filter_configs(route, secure=secure).items()):
        result.typed_per_filter_config[name].CopyFrom(pack(config))
    return result


def route_match(route: Route) -> Any:
    match = rc.RouteMatch()
    kind, value = route.path_match.kind, route.path_match.value
    if kind == PathMatchKind.EXACT:
        match.path = value
    elif kind == PathMatchKind.REGEX:
        # Anchored: every path starts with "/", and a literal prefix keeps RE2 programs small.
        match.safe_regex.CopyFrom(safe_regex("^" + value))
    elif kind == PathMatchKind.SEGMENT_PREFIX and value.rstrip("/"):
        match.path_separated_prefix = value.rstrip("/")
    else:
        match.prefix = value or "/"
    match.headers.extend(header_matcher(h) for h in route.header_matches)
    match.query_parameters.extend(query_matcher(q) for q in route.query_param_matches)
    return match


def _case_insensitive(regex: str, ignore_case: bool) -> str:
    return "(?i)" + regex if ignore_case else regex


def header_matcher(header: HeaderMatch) -> Any:
    result = rc.HeaderMatcher(
        name=header.name,
        invert_match=header.invert,
        treat_missing_header_as_empty=header.treat_missing_as_empty,
    )
    if header.kind == "exact":
        result.string_match.CopyFrom(
            string_pb2.StringMatcher(exact=header.value, ignore_case=header.ignore_case)
        )
    elif header.kind == "contains":
        # Envoy matches a regex against the whole value: wrap the quoted substring in ".*".
        regex = _case_insensitive(".*" + go_quote_meta(header.value) + ".*", header.ignore_case)
        result.string_match.CopyFrom(string_pb2.StringMatcher(safe_regex=safe_regex(regex)))
    elif header.kind == "regex":
        regex = _case_insensitive(header.value, header.ignore_case)
        result.string_match.CopyFrom(string_pb2.StringMatcher(safe_regex=safe_regex(regex)))
    else:
        result.present_match = True
    return result


def query_matcher(query: QueryParamMatch) -> Any:
    result = rc.QueryParameterMatcher(name=query.name)
    ignore = query.ignore_case
    if query.kind == "present":
        result.present_match = True
    elif query.kind == "regex":
        regex = _case_insensitive(query.value, ignore)
        result.string_match.CopyFrom(string_pb2.StringMatcher(safe_regex=safe_regex(regex)))
    elif query.kind in ("exact", "prefix", "suffix", "contains"):
        matcher = string_pb2.StringMatcher(ignore_case=ignore)
        setattr(matcher, query.kind, query.value)
        result.string_match.CopyFrom(matcher)
    else:
        result.present_match = True
    return result


def _direct_response(response: DirectResponse) -> Any:
    action = rc.DirectResponseAction(status=response.status_code)
    if response.body:
        action.body.CopyFrom(base_pb2.DataSource(inline_string=response.body))
    return action


def _redirect(redirect: Redirect) -> Any:
    action = rc.RedirectAction()
    if redirect.hostname:
        action.host_redirect = redirect.hostname
    if redirect.scheme:
        action.scheme_redirect = redirect.scheme
    if redirect.port > 0:
        action.port_redirect = redirect.port
    if redirect.path:
        action.path_redirect = redirect.path
    if redirect.prefix:
        action.prefix_rewrite = redirect.prefix
    if redirect.regex_rewrite is not None:
        action.regex_rewrite.CopyFrom(regex_rewrite(redirect.regex_rewrite))
    action.response_code = _REDIRECT_CODES.get(redirect.status_code, rc.RedirectAction.MOVED_PERMANENTLY)
    return action


def _single_simple_cluster(clusters: Sequence[Cluster]) -> bool:
    if len(clusters) != 1:
        return False
    return clusters[0].request_headers_policy is None and clusters[0].response_headers_policy is None


def _route_action(route: Route) -> Any:
    action = rc.RouteAction()
    retry = route.retry_policy
    if retry is not None and retry.retry_on:
        policy = rc.RetryPolicy(
            retry_on=",".join(retry.retry_on), retriable_status_codes=list(retry.retriable_status_codes)
        )
        if retry.num_retries > 0:
            policy.num_retries.value = retry.num_retries
        if retry.per_try_timeout_seconds is not None:
            policy.per_try_timeout.CopyFrom(duration(retry.per_try_timeout_seconds))
        action.retry_policy.CopyFrom(policy)
    if route.timeout_policy.response_seconds is not None:
        action.timeout.CopyFrom(duration(route.timeout_policy.response_seconds))
    if route.timeout_policy.idle_stream_seconds is not None:
        action.idle_timeout.CopyFrom(duration(route.timeout_policy.idle_stream_seconds))
    action.hash_policy.extend(_hash_policies(route.clusters))
    for mirror in route.mirror_policies:
        action.request_mirror_policies.append(
            rc.RouteAction.RequestMirrorPolicy(
                cluster=cluster_name(mirror.cluster),
                runtime_fraction=mirror_fraction(mirror),
            )
        )
    if route.prefix_rewrite:
        action.prefix_rewrite = route.prefix_rewrite
    apply_route_rewrites(action, route)
    if route.request_headers_policy is not None and route.request_headers_policy.host_rewrite:
        action.host_rewrite_literal = route.request_headers_policy.host_rewrite
    if route.websocket:
        action.upgrade_configs.append(rc.RouteAction.UpgradeConfig(upgrade_type="websocket"))
    if route.internal_redirect_policy is not None:
        action.internal_redirect_policy.CopyFrom(internal_redirect_policy(route.internal_redirect_policy))
    if _single_simple_cluster(route.clusters) and not route.invalid_backend_weight:
        action.cluster = cluster_name(route.clusters[0])
    else:
        action.weighted_clusters.CopyFrom(_weighted_clusters(route.clusters, route))
    return action


def _hash_policies(clusters: Sequence[Cluster]) -> list[Any]:
    if not clusters:
        return []
    policy = clusters[0].load_balancer_policy
    if policy.strategy == "Cookie":
        cookie = rc.RouteAction.HashPolicy.Cookie(name=SESSION_AFFINITY_COOKIE, ttl=duration(0), path="/")
        return [rc.RouteAction.HashPolicy(cookie=cookie)]
    if policy.strategy != "RequestHash":
        return []
    result = []
    for hashed in policy.request_hash_policies:
        entry = rc.RouteAction.HashPolicy(terminal=hashed.terminal)
        if hashed.header_name:
            entry.header.header_name = hashed.header_name
        if hashed.query_parameter:
            entry.query_parameter.name = hashed.query_parameter
        if hashed.hash_source_ip:
            entry.connection_properties.source_ip = True
        result.append(entry)
    return result


def _weighted_clusters(clusters: Sequence[Cluster], route: Route) -> Any:
    even = sum(c.weight for c in clusters) == 0
    entries = []
    for cluster in clusters:
        entry = rc.WeightedCluster.ClusterWeight(
            name=cluster_name(cluster), weight=wrappers_pb2.UInt32Value(value=1 if even else cluster.weight)
        )
        request, response = cluster.request_headers_policy, cluster.response_headers_policy
        _add_headers(entry, request, response)
        if request is not None and request.host_rewrite:
            entry.host_rewrite_literal = request.host_rewrite
        for name, config in sorted(weighted_cluster_filter_configs(route, cluster).items()):
            entry.typed_per_filter_config[name].CopyFrom(pack(config))
        entries.append(entry)
    entries.extend(invalid_backend_entries(route))
    entries.sort(key=lambda e: (e.name, e.weight.value))
    return rc.WeightedCluster(clusters=entries)


def _add_headers(target: Any, request: HeadersPolicy | None, response: HeadersPolicy | None) -> None:
    if request is not None:
        target.request_headers_to_add.extend(header_value_options(request.set, append=False))
        target.request_headers_to_add.extend(header_value_options(request.add, append=True))
        target.request_headers_to_remove.extend(request.remove)
    if response is not None:
        target.response_headers_to_add.extend(header_value_options(response.set, append=False))
        target.response_headers_to_add.extend(header_value_options(response.add, append=True))
        target.response_headers_to_remove.extend(response.remove)


def _origin_is_literal(origin: str) -> bool:
    if origin == "*":
        return True
    if _REGEX_META & set(origin) or "*" in origin:
        return False  # a pattern; urlsplit raises on a "[" without "]" (an IPv6 literal to it)
    parsed = urllib.parse.urlsplit(origin)
    return bool(parsed.scheme and parsed.netloc)


def cors_policy(policy: CORSPolicy) -> Any:
    """The per-virtual-host CORS configuration: exact (case-insensitive) origins or RE2 patterns."""
    result = cors_pb2.CorsPolicy(
        allow_credentials=wrappers_pb2.BoolValue(value=policy.allow_credentials),
        allow_headers=",".join(policy.allow_headers),
        allow_methods=",".join(policy.allow_methods),
        expose_headers=",".join(policy.expose_headers),
        allow_private_network_access=wrappers_pb2.BoolValue(value=policy.allow_private_network),
    )
    if policy.max_age:
        # The DAG accepted only valid, non-negative durations; Contour's ParseMaxAge: 0 disables caching.
        try:
            seconds = parse_go_duration(policy.max_age)
        except DurationError:
            seconds = None
        if seconds is not None and seconds >= 0:
            result.max_age = f"{seconds:.0f}"
    for origin in policy.allow_origin:
        if _origin_is_literal(origin):
            result.allow_origin_string_match.append(string_pb2.StringMatcher(exact=origin, ignore_case=True))
        else:
            result.allow_origin_string_match.append(string_pb2.StringMatcher(safe_regex=safe_regex(origin)))
    return result
