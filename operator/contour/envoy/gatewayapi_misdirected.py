"""A Gateway's HTTPS port served per Gateway listener, answering 421 to misdirected requests.

Gateway API (GatewayHTTPSListenerDetectMisdirectedRequests, GEP-1486 connection coalescing): on a
port shared by several HTTPS listeners, the TLS server name selects a listener (the most specific
hostname that matches it: exact, then the longer wildcard, then the listener without hostname) and
the request's Host selects one the same way. When they differ the request was misdirected (an HTTP/2
client reusing a connection for another name its certificate covers) and gets 421
(https://www.rfc-editor.org/rfc/rfc9110#status.421); when they agree, the Host is routed among the
routes of that one listener, so a name the listener has no route for gets 404, not 421.

The shared translators give each secure host (a route hostname) its own filter chain, a Lua filter
answering 421 unless Host equals that host, and a RouteConfiguration `https-<port>/<host>`. For a
Gateway's HTTPS port this regroups them by listener: one filter chain per listener (its hostname as
server name, none for the listener without hostname), without the Lua filter, whose
RouteConfiguration `https-<port>/<listener hostname or *>` holds the virtual hosts of every host
that listener serves, plus a direct 421 for the other listeners' hostnames (and for any other name,
when the listener has a hostname). Envoy picks a virtual host exact domain first, then the longest
wildcard suffix, then "*": the same order as listener selection, so Host picks the 421 exactly when
it belongs to another listener. Hosts proxied as TCP (TLS listeners on the port) keep their chains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from contour.dag.gatewayapi_attach import wildcard_matches
from contour.dag.gatewayapi_names import https_route_config_name
from contour.envoy.http_connection_manager import misdirected_request_filter

CATCH_ALL: Final = "*"
MISDIRECTED_STATUS: Final = 421
MISDIRECTED_VHOST_PREFIX: Final = "misdirected/"


def owning_listener(host: str, listener_hosts: Sequence[str]) -> str | None:
    """The listener hostname ("*": none) a request for `host` (or a route hostname) goes to."""
    if host in listener_hosts:
        return host
    wildcards = [h for h in listener_hosts if h != CATCH_ALL and wildcard_matches(h, host)]
    if wildcards:
        return max(wildcards, key=len)
    return CATCH_ALL if CATCH_ALL in listener_hosts else None


def _chain_host(chain: Any) -> str:
    names = chain.filter_chain_match.server_names
    return str(names[0]) if names else CATCH_ALL


def _connection_manager(chain: Any) -> tuple[Any, Any] | None:
    for network_filter in chain.filters:
        if network_filter.typed_config.Is(hcm.HttpConnectionManager.DESCRIPTOR):
            manager = hcm.HttpConnectionManager()
            network_filter.typed_config.Unpack(manager)
            return network_filter, manager
    return None


def _misdirected_vhost(host: str) -> Any:
    return rc.VirtualHost(
        name=MISDIRECTED_VHOST_PREFIX + host,
        domains=[host],
        routes=[
            rc.Route(
                match=rc.RouteMatch(prefix="/"),
                direct_response=rc.DirectResponseAction(status=MISDIRECTED_STATUS),
            )
        ],
    )


def group_by_listener(
    port: int, listener_hosts: Sequence[str], routes: list[Any], built: list[Any]
) -> tuple[list[Any], list[Any]]:
    """`routes` and the Envoy listener(s) `built` for HTTPS port `port`, regrouped per Gateway listener.

    `listener_hosts` are the hostnames of the port's HTTPS listeners ("*" for none). The messages are
    changed in place; the RouteConfigurations of hosts merged into their listener's are left out.
    """
    if not listener_hosts:
        return routes, built
    by_name = {r.name: r for r in routes}
    merged: set[str] = set()
    for envoy_listener in built:
        chains = [
            (chain, _chain_host(chain), _connection_manager(chain)) for chain in envoy_listener.filter_chains
        ]
        # Only listeners whose own chain exists take their hosts over (a listener whose hosts were all
        # dropped, e.g. by an unusable frontend validation, has none).
        served = {host for _, host, found in chains if found is not None and host in listener_hosts}
        kept = []
        owned: dict[str, list[str]] = {}  # listener hostname -> the other hosts it serves
        for chain, host, found in chains:
            owner = owning_listener(host, listener_hosts)
            if found is None or owner not in served:
                kept.append(chain)
            elif host == owner:
                _drop_lua_check(host, *found)
                kept.append(chain)
            else:
                owned.setdefault(owner, []).append(host)
        for owner in sorted(served):
            target = by_name[https_route_config_name(port, owner)]
            for host in owned.get(owner, []):
                name = https_route_config_name(port, host)
                target.virtual_hosts.extend(by_name[name].virtual_hosts)
                merged.add(name)
            others = [h for h in listener_hosts if h not in (owner, CATCH_ALL)]
            if owner != CATCH_ALL:
                others.append(CATCH_ALL)
            target.virtual_hosts.extend(_misdirected_vhost(h) for h in sorted(set(others)))
        if len(kept) != len(envoy_listener.filter_chains):
            del envoy_listener.filter_chains[:]
            envoy_listener.filter_chains.extend(kept)
    return [r for r in routes if r.name not in merged], built


def _drop_lua_check(host: str, network_filter: Any, manager: Any) -> None:
    """Remove the per-host Lua 421 check: the RouteConfiguration decides per listener instead."""
    check = misdirected_request_filter(host)
    filters = [f for f in manager.http_filters if f != check]
    if len(filters) == len(manager.http_filters):
        return
    del manager.http_filters[:]
    manager.http_filters.extend(filters)
    network_filter.typed_config.Pack(manager)
