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

from contour.dag.model import Route, SecureVirtualHost, VirtualHost


def secure_host_filters(host: SecureVirtualHost) -> list[Any]:
    """HTTP filters a secure host's chain adds after the defaults (jwt_authn, ext_authz, ratelimit)."""
    filters: list[Any] = []
    return filters


def plain_listener_filters() -> list[Any]:
    """HTTP filters the plain listener adds after the defaults (global ext_authz, ratelimit)."""
    filters: list[Any] = []
    return filters


def virtual_host_filter_configs(vhost: VirtualHost, *, secure: bool) -> dict[str, Any]:
    """`typed_per_filter_config` entries of a virtual host, by filter name (messages, not packed)."""
    configs: dict[str, Any] = {}
    return configs


def route_filter_configs(route: Route, *, secure: bool) -> dict[str, Any]:
    """`typed_per_filter_config` entries of a route, by filter name (messages, not packed)."""
    configs: dict[str, Any] = {}
    return configs
