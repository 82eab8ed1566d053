"""Which Service port a TCPRoute or UDPRoute backend uses (dag.services.lookup_service protocols).

A UDPRoute's backend must be able to name a UDP Service port (upstream's UDP tests all do), and when a
Service has a TCP and a UDP port of one number (DNS on 53) the UDPRoute takes the UDP one and the
TCPRoute the TCP one. A TCPRoute to a UDP-only port stays unresolved (BackendNotFound).
"""

from __future__ import annotations

from contour.dag.model import ObjectRef
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
DNS = k8s_service("dns", NS, [port(53, "dns-tcp", "TCP"), port(53, "dns-udp", "UDP")])


def _build(kind: str, svc: Obj, listener_protocol: str) -> tuple[list[str], Obj]:
    built = build(
        gatewayclass(),
        svc,
        gateway("gw", listener("l4", 9001, listener_protocol)),
        route(kind, "r", parents=[parent("gw")], backends=[backend(svc["metadata"]["name"], 53)]),
    )
    gw = built.dag.gateways[GW]
    table = gw.udp_listeners if listener_protocol == "UDP" else gw.tcp_listeners
    l4 = table[f"{listener_protocol.lower()}-9001"]
    resolved = built.route_condition("r", "ResolvedRefs", plural=kind.lower() + "s")
    return [c.upstream.port.name for c in l4.clusters], resolved


def test_udproute_uses_a_udp_service_port() -> None:
    names, resolved = _build("UDPRoute", k8s_service("udp", NS, [port(53, "dns", "UDP")]), "UDP")
    assert names == ["dns"]
    assert resolved["status"] == "True"


def test_udproute_prefers_the_udp_port_of_a_number_with_both() -> None:
    names, _ = _build("UDPRoute", DNS, "UDP")
    assert names == ["dns-udp"]


def test_tcproute_takes_the_tcp_port_of_a_number_with_both() -> None:
    names, _ = _build("TCPRoute", DNS, "TCP")
    assert names == ["dns-tcp"]


def test_tcproute_to_a_udp_only_port_is_not_resolved() -> None:
    names, resolved = _build("TCPRoute", k8s_service("udp", NS, [port(53, "dns", "UDP")]), "TCP")
    assert names == []
    assert (resolved["status"], resolved["reason"]) == ("False", "BackendNotFound")
    assert "unsupported service protocol" in resolved["message"]
