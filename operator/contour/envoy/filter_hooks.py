"""Where the policy features plug their Envoy configuration in, in Contour's filter order.

Contour's HTTPS filter chain is: the misdirected-request Lua filter, then `default_http_filters()`
(compressor, grpc_web, grpc_stats, cors, local_ratelimit, Lua, rbac), then jwt_authn when the host
has JWT providers, ext_authz when it has an authorization server (its own or the global one), and
ratelimit when a rate limit service is configured, and the router last. The plain HTTP listener adds
only the global ext_authz and ratelimit filters after the defaults. Filters configured per virtual
host or per route (cors, local_ratelimit, Lua, rbac, jwt_authn, ext_authz, ratelimit) also take a
`typed_per_filter_config` entry keyed by the filter's name.

Each feature module adds its own call below; this module only fixes the order, so that several
features never edit the same listener or route code.
"""

from __future__ import annotations

from typing import Any

from contour.dag.model import Cluster, Listener, Route, SecureVirtualHost, VirtualHost
from contour.envoy.cookie_rewrite import route_cookie_rewrite, weighted_cluster_cookie_rewrite
from contour.envoy.ext_authz import (
    EXT_AUTHZ_FILTER,
    plain_listener_ext_authz,
    route_ext_authz,
    secure_host_ext_authz,
)
from contour.envoy.http_connection_manager import LUA_FILTER
from contour.envoy.jwt_authn import JWT_AUTHN_FILTER, jwt_authn_filter, route_jwt_requirement
from contour.envoy.ratelimit import (
    LOCAL_RATELIMIT_FILTER,
    RATELIMIT_FILTER,
    plain_listener_rate_limit,
    route_local_rate_limit,
    route_rate_limit_per_route,
    secure_host_rate_limit,
    virtual_host_local_rate_limit,
)
from contour.envoy.rbac import RBAC_FILTER, route_ip_filter, virtual_host_ip_filter


def secure_host_filters(host: SecureVirtualHost) -> list[Any]:
    """HTTP filters a secure host's chain adds after the defaults (jwt_authn, ext_authz, ratelimit)."""
    filters: list[Any] = []
    filters.extend(f for f in [jwt_authn_filter(host)] if f is not None)
    filters.extend(secure_host_ext_authz(host))
    filters.extend(secure_host_rate_limit(host))
    return filters


def plain_listener_filters(listener: Listener | None = None) -> list[Any]:
    """HTTP filters the plain listener adds after the defaults (global ext_authz, ratelimit)."""
    filters: list[Any] = []
    filters.extend(plain_listener_ext_authz(listener))
    filters.extend(plain_listener_rate_limit(listener))
    return filters


def virtual_host_filter_configs(vhost: VirtualHost, *, secure: bool) -> dict[str, Any]:
    """`typed_per_filter_config` entries of a virtual host, by filter name (messages, not packed)."""
    configs: dict[str, Any] = {}
    _put(configs, RBAC_FILTER, virtual_host_ip_filter(vhost))
    _put(configs, LOCAL_RATELIMIT_FILTER, virtual_host_local_rate_limit(vhost))
    return configs


def route_filter_configs(route: Route, *, secure: bool) -> dict[str, Any]:
    """`typed_per_filter_config` entries of a route, by filter name (messages, not packed)."""
    configs: dict[str, Any] = {}
    _put(configs, RBAC_FILTER, route_ip_filter(route))
    _put(configs, JWT_AUTHN_FILTER, route_jwt_requirement(route, secure=secure))
    _put(configs, LUA_FILTER, route_cookie_rewrite(route))
    _put(configs, EXT_AUTHZ_FILTER, route_ext_authz(route, secure=secure))
    _put(configs, LOCAL_RATELIMIT_FILTER, route_local_rate_limit(route))
    _put(configs, RATELIMIT_FILTER, route_rate_limit_per_route(route))
    return configs


def weighted_cluster_filter_configs(route: Route, cluster: Cluster) -> dict[str, Any]:
    """`typed_per_filter_config` entries of one weighted cluster of a route (override the route's)."""
    configs: dict[str, Any] = {}
    _put(configs, LUA_FILTER, weighted_cluster_cookie_rewrite(route, cluster))
    return configs


def _put(configs: dict[str, Any], name: str, config: Any | None) -> None:
    if config is not None:
        configs[name] = config
