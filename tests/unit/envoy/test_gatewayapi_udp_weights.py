"""A UDPRoute's weighted backends (contour.envoy.gatewayapi_udp).

Envoy's UDP proxy routes to one cluster, so several weighted backends become one aggregate EDS
cluster `udp-<port>/weighted` with locality-weighted load balancing, whose assignment has one
locality per backend weighted like it; a backend of weight 0 is left out, and a single backend keeps
its own cluster.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3 import address_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import route_pb2 as udp_route_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import udp_proxy_pb2

from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.model import ObjectRef
from contour.envoy.gatewayapi_translate import translate_gateway
from contour.envoy.gatewayapi_udp import udp_weighted_assignment, udp_weighted_backends
from contour.envoy.translate import CLUSTER, LISTENER, TranslatorConfig
from tests.unit.dag.fixtures import k8s_service, port
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    NS,
    Obj,
    backend,
    build,
    gateway,
    gatewayclass,
    listener,
    parent,
    route,
)

GW = ObjectRef(NS, "gw")


def _gateway(*backends: Obj) -> GatewayDAG:
    services = [k8s_service(name, NS, [port(8080, "udp", "UDP")]) for name in ("v1", "v2", "v3")]
    built = build(
        gatewayclass(),
        *services,
        gateway("gw", listener("udp", 5300, "UDP")),
        route("UDPRoute", "r", parents=[parent("gw")], backends=list(backends)),
    )
    return built.dag.gateways[GW]


def _route_target(resources: dict[str, list[Any]]) -> str:
    (built,) = resources[LISTENER]
    proxy = udp_proxy_pb2.UdpProxyConfig()
    built.listener_filters[0].typed_config.Unpack(proxy)
    action = udp_route_pb2.Route()
    proxy.matcher.on_no_match.action.typed_config.Unpack(action)
    return str(action.cluster)


def _assignment(*ports: int) -> Any:
    endpoints = [
        endpoint_components_pb2.LbEndpoint(
            endpoint=endpoint_components_pb2.Endpoint(
                address=address_pb2.Address(
                    socket_address=address_pb2.SocketAddress(address="127.0.0.1", port_value=p)
                )
            )
        )
        for p in ports
    ]
    locality = endpoint_components_pb2.LocalityLbEndpoints(lb_endpoints=endpoints)
    return endpoint_pb2.ClusterLoadAssignment(cluster_name="x", endpoints=[locality] if ports else [])


def test_weighted_backends_route_to_one_locality_weighted_cluster() -> None:
    gw = _gateway(
        backend("v1", 8080, weight=70), backend("v2", 8080, weight=30), backend("v3", 8080, weight=0)
    )
    resources = translate_gateway(gw, TranslatorConfig())
    assert _route_target(resources) == "udp-5300/weighted"
    (aggregate,) = resources[CLUSTER]
    assert aggregate.name == "udp-5300/weighted"
    assert aggregate.eds_cluster_config.service_name == "udp-5300/weighted"
    assert aggregate.common_lb_config.HasField("locality_weighted_lb_config")


def test_weighted_members_leave_out_weight_zero() -> None:
    gw = _gateway(
        backend("v1", 8080, weight=70), backend("v2", 8080, weight=30), backend("v3", 8080, weight=0)
    )
    members = udp_weighted_backends(gw)["udp-5300/weighted"]
    assert [(s.ref.name, w) for s, w in members] == [("v1", 70), ("v2", 30)]


def test_all_zero_weights_share_evenly() -> None:
    gw = _gateway(backend("v1", 8080, weight=0), backend("v2", 8080, weight=0))
    members = udp_weighted_backends(gw)["udp-5300/weighted"]
    assert [(s.ref.name, w) for s, w in members] == [("v1", 1), ("v2", 1)]


def test_a_single_backend_keeps_its_own_cluster() -> None:
    gw = _gateway(backend("v1", 8080, weight=70), backend("v3", 8080, weight=0))
    resources = translate_gateway(gw, TranslatorConfig())
    assert udp_weighted_backends(gw) == {}
    (only,) = resources[CLUSTER]
    assert _route_target(resources) == only.name
    assert only.name.startswith(f"{NS}/v1/8080/")


def test_merged_assignment_has_one_weighted_locality_per_backend() -> None:
    merged = udp_weighted_assignment(
        "udp-5300/weighted", [(_assignment(1, 2), 70), (_assignment(), 20), (_assignment(3), 30)]
    )
    assert merged.cluster_name == "udp-5300/weighted"
    got = [
        (
            loc.locality.sub_zone,
            loc.load_balancing_weight.value,
            [e.endpoint.address.socket_address.port_value for e in loc.lb_endpoints],
        )
        for loc in merged.endpoints
    ]
    assert got == [("backend-0", 70, [1, 2]), ("backend-2", 30, [3])]
