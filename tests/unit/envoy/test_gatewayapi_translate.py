"""One Gateway's DAG -> its Envoy's xDS resources (contour.envoy.gatewayapi_translate).

Built through the Gateway API processor from manifests, so the names checked are the ones a
Gateway's Envoy really receives: `http-<port>`, `https-<port>` with RouteConfigurations
`https-<port>/<host>`, `tcp-<port>`, `udp-<port>`; the snapshot must refer to nothing it lacks.
"""

from __future__ import annotations

from typing import Any

from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import route_pb2 as udp_route_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import udp_proxy_pb2

from contour.dag.model import ObjectRef
from contour.envoy.gatewayapi_translate import translate_gateway
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, RUNTIME, SECRET, TranslatorConfig
from contour.xds import typeurls
from contour.xds.snapshot import Snapshot
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    NS,
    Obj,
    build,
    cert_ref,
    gateway,
    gatewayclass,
    httproute,
    https_listener,
    listener,
    parent,
    route,
    secret,
    service,
)

GW = ObjectRef(NS, "gw")


def _translate(*listeners: Obj, routes: list[Obj]) -> dict[str, list[Any]]:
    built = build(gatewayclass(), secret("tls"), service("svc"), gateway("gw", *listeners), *routes)
    return translate_gateway(built.dag.gateways[GW], TranslatorConfig())


def _names(resources: dict[str, list[Any]], type_url: str) -> list[str]:
    return [m.name for m in resources[type_url]]


def _rds_names(listener: Any) -> list[str]:
    names = []
    for chain in listener.filter_chains:
        for network_filter in chain.filters:
            if network_filter.typed_config.Is(hcm.HttpConnectionManager.DESCRIPTOR):
                manager = hcm.HttpConnectionManager()
                network_filter.typed_config.Unpack(manager)
                names.append(manager.rds.route_config_name)
    return names


def test_http_listener_is_named_by_port_and_bound_on_the_gateway_address() -> None:
    resources = _translate(listener("http", 8080, "HTTP"), routes=[httproute("r", parents=[parent("gw")])])
    (built,) = resources[LISTENER]
    assert built.name == "http-8080"
    assert (built.address.socket_address.address, built.address.socket_address.port_value) == (
        "127.0.1.1",
        8080,
    )
    assert _rds_names(built) == ["http-8080"]
    assert _names(resources, ROUTE) == ["http-8080"]
    assert _names(resources, CLUSTER) == [f"{NS}/svc/80/da39a3ee5e"]


def test_no_stats_or_admin_listener_is_added() -> None:
    resources = _translate(listener("http", 8080, "HTTP"), routes=[httproute("r", parents=[parent("gw")])])
    assert _names(resources, LISTENER) == ["http-8080"]


def test_https_route_configurations_are_named_per_port_and_host() -> None:
    resources = _translate(
        https_listener("a", 8443, cert_ref("tls")),
        https_listener("b", 9443, cert_ref("tls")),
        routes=[httproute("r", parents=[parent("gw")], hostnames=["a.example.com"])],
    )
    # One chain per Gateway listener (here the catch-all one, no hostname), whose configuration holds
    # the hosts of every route on it (gatewayapi_misdirected.py).
    assert _names(resources, ROUTE) == ["https-8443/*", "https-9443/*"]
    listeners = {m.name: m for m in resources[LISTENER]}
    assert sorted(_rds_names(listeners["https-8443"])) == ["https-8443/*"]
    assert sorted(_rds_names(listeners["https-9443"])) == ["https-9443/*"]
    [catch_all] = [r for r in resources[ROUTE] if r.name == "https-8443/*"]
    assert [v.domains[0] for v in catch_all.virtual_hosts] == ["a.example.com"]
    assert len(resources[SECRET]) == 1


def test_tcp_listener_proxies_to_its_cluster() -> None:
    resources = _translate(
        listener("tcp", 9000, "TCP"), routes=[route("TCPRoute", "t", parents=[parent("gw")])]
    )
    (built,) = resources[LISTENER]
    assert built.name == "tcp-9000"
    proxy = tcp_proxy_pb2.TcpProxy()
    built.filter_chains[0].filters[0].typed_config.Unpack(proxy)
    assert proxy.cluster == f"{NS}/svc/80/da39a3ee5e"


def test_tcp_listener_without_routes_is_left_out() -> None:
    resources = _translate(listener("tcp", 9000, "TCP"), routes=[])
    assert resources[LISTENER] == []


def test_udp_listener_uses_the_udp_proxy() -> None:
    resources = _translate(
        listener("udp", 5353, "UDP"), routes=[route("UDPRoute", "u", parents=[parent("gw")])]
    )
    (built,) = resources[LISTENER]
    assert built.name == "udp-5353"
    assert built.address.socket_address.protocol == built.address.socket_address.UDP
    assert built.HasField("udp_listener_config")
    proxy = udp_proxy_pb2.UdpProxyConfig()
    built.listener_filters[0].typed_config.Unpack(proxy)
    action = udp_route_pb2.Route()
    proxy.matcher.on_no_match.action.typed_config.Unpack(action)
    assert action.cluster == f"{NS}/svc/80/da39a3ee5e"


def test_tls_passthrough_listener_matches_sni_without_terminating() -> None:
    resources = _translate(
        listener("tls", 8443, "TLS", tls={"mode": "Passthrough"}),
        routes=[route("TLSRoute", "s", parents=[parent("gw")], hostnames=["p.example.com"])],
    )
    (built,) = resources[LISTENER]
    assert built.name == "https-8443"
    (chain,) = built.filter_chains
    assert list(chain.filter_chain_match.server_names) == ["p.example.com"]
    assert not chain.HasField("transport_socket")


def test_runtime_layer_is_present() -> None:
    resources = _translate(listener("http", 8080, "HTTP"), routes=[httproute("r", parents=[parent("gw")])])
    assert _names(resources, RUNTIME) == ["dynamic"]


def test_snapshot_of_a_gateway_refers_to_nothing_it_lacks() -> None:
    built = build(
        gatewayclass(),
        secret("tls"),
        service("svc"),
        gateway(
            "gw",
            listener("http", 8080, "HTTP"),
            https_listener("https", 8443, cert_ref("tls")),
            listener("tcp", 9000, "TCP"),
        ),
        httproute("r", parents=[parent("gw")], hostnames=["a.example.com"]),
        route("TCPRoute", "t", parents=[parent("gw")]),
    )
    gateway_dag = built.dag.gateways[GW]
    resources: dict[str, list[Any]] = dict(translate_gateway(gateway_dag, TranslatorConfig()))
    resources[typeurls.ENDPOINT] = [
        endpoint_pb2.ClusterLoadAssignment(cluster_name=name) for name in gateway_dag.services
    ]
    snapshot = Snapshot.build("1", resources)
    assert snapshot.missing_references() == []
    assert _names(resources, LISTENER) == ["http-8080", "https-8443", "tcp-9000"]
