"""One Gateway's DAG in, the xDS resources of its own Envoy out.

A Gateway's HTTP and HTTPS/TLS listeners use the DAG types Contour's listeners use, so they go
through the same translators (`translate.listeners`, `route_configurations`, `clusters`, `secrets`),
one Envoy listener at a time: the secure hosts of two HTTPS ports may share a host name, and
Contour's gateway mode names their RouteConfigurations per port (`https-<port>/<host>`), so the
`https/<host>` names the shared translators give are renamed here, in the RouteConfiguration and in
the HTTP connection manager that asks for it. TCP listeners get a TCP proxy to their weighted
clusters, UDP listeners Envoy's UDP proxy (gatewayapi_udp.py). The result is per type URL, sorted by
name, and carries no stats or admin listener: those belong to the bootstrap of the Gateway's Envoy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Final

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from contour.dag.gatewayapi_model import GatewayDAG, L4Listener
from contour.dag.gatewayapi_names import https_route_config_name as gateway_https_route_config_name
from contour.dag.model import DAG, Listener
from contour.envoy.clusters import cluster
from contour.envoy.core import socket_address
from contour.envoy.gatewayapi_misdirected import group_by_listener
from contour.envoy.gatewayapi_udp import udp_listener
from contour.envoy.listeners import tcp_proxy_filter
from contour.envoy.runtime import runtime_layer
from contour.envoy.translate import (
    CLUSTER,
    LISTENER,
    ROUTE,
    RUNTIME,
    SECRET,
    Message,
    TranslatorConfig,
    clusters,
    listeners,
    route_configurations,
    secrets,
)

_SHARED_HTTPS_PREFIX: Final = "https/"


def translate_gateway(gateway: GatewayDAG, config: TranslatorConfig) -> dict[str, list[Message]]:
    """Every xDS resource but endpoints for one Gateway's Envoy, by type URL, sorted by name."""
    config = dataclasses.replace(config, stats_port=0, admin_port=0)
    found: dict[str, dict[str, Message]] = {CLUSTER: {}, LISTENER: {}, ROUTE: {}, SECRET: {}}
    for name in sorted(gateway.listeners):
        listener = gateway.listeners[name]
        single = DAG(listeners={name: listener})
        routes = route_configurations(single)
        built = listeners(single, config)
        if listener.protocol == "https":
            routes, built = _per_port_route_names(listener, routes, built)
            hosts = gateway.https_listener_hosts.get(name, ())
            routes, built = group_by_listener(listener.port, hosts, routes, built)
        _merge(found[ROUTE], routes)
        _merge(found[LISTENER], built)
        _merge(found[CLUSTER], clusters(single, config))
        _merge(found[SECRET], secrets(single))
    settings = config.cluster_settings()
    for l4 in [*gateway.tcp_listeners.values(), *gateway.udp_listeners.values()]:
        if not l4.clusters:
            continue  # nothing attached: no listener, so connections are refused
        if l4.name in gateway.udp_listeners:
            udp, udp_clusters = udp_listener(l4, settings)
            _merge(found[LISTENER], [udp])
            _merge(found[CLUSTER], udp_clusters)
            continue
        _merge(found[LISTENER], [_tcp_listener(l4, config)])
        _merge(found[CLUSTER], [cluster(c, settings) for c in l4.clusters])
    names = [*gateway.listeners, *(n for n, l4 in gateway.tcp_listeners.items() if l4.clusters)]
    names += [n for n, l4 in gateway.udp_listeners.items() if l4.clusters]
    result = {type_url: [table[k] for k in sorted(table)] for type_url, table in found.items()}
    result[RUNTIME] = [runtime_layer(config.runtime(sorted(names)))]
    return result


def _merge(table: dict[str, Message], messages: Iterable[Message]) -> None:
    for message in messages:
        table.setdefault(message.name, message)


def _per_port_route_names(
    listener: Listener, routes: list[Message], built: list[Message]
) -> tuple[list[Message], list[Message]]:
    """Rename `https/<host>` RouteConfigurations to `https-<port>/<host>`, and the HCMs asking for them."""

    def renamed(name: str) -> str:
        if name.startswith(_SHARED_HTTPS_PREFIX):
            return gateway_https_route_config_name(listener.port, name[len(_SHARED_HTTPS_PREFIX) :])
        return name

    for route in routes:
        route.name = renamed(route.name)
    for message in built:
        for chain in message.filter_chains:
            for network_filter in chain.filters:
                if not network_filter.typed_config.Is(hcm.HttpConnectionManager.DESCRIPTOR):
                    continue
                manager = hcm.HttpConnectionManager()
                network_filter.typed_config.Unpack(manager)
                if manager.HasField("rds"):
                    manager.rds.route_config_name = renamed(manager.rds.route_config_name)
                    network_filter.typed_config.Pack(manager)
    return routes, built


def _tcp_listener(l4: L4Listener, config: TranslatorConfig) -> Message:
    settings = config.listener_settings()
    proxy = tcp_proxy_filter(
        l4.name, l4.clusters, settings.https_access_log, settings.connection_manager.access_log
    )
    return listener_pb2.Listener(
        name=l4.name,
        address=socket_address(l4.address, l4.port),
        filter_chains=[listener_components_pb2.FilterChain(filters=[proxy])],
    )
