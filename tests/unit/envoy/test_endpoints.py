"""ClusterLoadAssignments from EndpointSlice dicts, with Contour's readiness and port rules."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from contour.dag.model import ServicePort
from contour.envoy.endpoints import cluster_load_assignment

HTTP = ServicePort("http", 80)


def endpoint_slice(
    name: str, *endpoints: dict[str, Any], ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "addressType": "IPv4",
        "endpoints": list(endpoints),
        "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def addresses(assignment: Any) -> list[str]:
    return [
        f"{e.endpoint.address.socket_address.address}:{e.endpoint.address.socket_address.port_value}"
        for group in assignment.endpoints
        for e in group.lb_endpoints
    ]


def test_ready_endpoints_sorted_and_deduplicated_across_slices() -> None:
    slices = [
        endpoint_slice(
            "b", {"addresses": ["10.0.0.2"]}, {"addresses": ["10.0.0.1"], "conditions": {"ready": True}}
        ),
        endpoint_slice("a", {"addresses": ["10.0.0.1"]}),
    ]
    assert addresses(cluster_load_assignment("default/kuard/http", slices, HTTP)) == [
        "10.0.0.1:8080",
        "10.0.0.2:8080",
    ]


def test_not_ready_endpoints_are_left_out() -> None:
    slices = [
        endpoint_slice(
            "a", {"addresses": ["10.0.0.1"], "conditions": {"ready": False}}, {"addresses": ["10.0.0.2"]}
        )
    ]
    assert addresses(cluster_load_assignment("x", slices, HTTP)) == ["10.0.0.2:8080"]


def test_ports_match_by_name() -> None:
    ports: list[dict[str, Any]] = [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]
    slices = [endpoint_slice("a", {"addresses": ["10.0.0.1"]}, ports=ports)]
    assert addresses(cluster_load_assignment("x", slices, HTTP)) == ["10.0.0.1:8080"]


def test_unnamed_service_port_uses_every_tcp_port() -> None:
    ports: list[dict[str, Any]] = [{"port": 8080}, {"name": "udp", "port": 53, "protocol": "UDP"}]
    slices = [endpoint_slice("a", {"addresses": ["10.0.0.1"]}, ports=ports)]
    assert addresses(cluster_load_assignment("x", slices, ServicePort("", 80))) == ["10.0.0.1:8080"]


def test_no_endpoints_gives_an_empty_assignment() -> None:
    assert json_format.MessageToDict(cluster_load_assignment("default/kuard/http", [], HTTP)) == {
        "clusterName": "default/kuard/http"
    }


def test_one_weighted_locality() -> None:
    assignment = cluster_load_assignment("x", [endpoint_slice("a", {"addresses": ["10.0.0.1"]})], HTTP)
    assert [group.load_balancing_weight.value for group in assignment.endpoints] == [1]


def test_health_port_sets_the_health_check_port() -> None:
    ports: list[dict[str, Any]] = [{"name": "http", "port": 8080}, {"name": "health", "port": 8081}]
    slices = [endpoint_slice("a", {"addresses": ["10.0.0.1"]}, ports=ports)]
    assignment = cluster_load_assignment("x", slices, HTTP, ServicePort("health", 81))
    assert [e.endpoint.health_check_config.port_value for e in assignment.endpoints[0].lb_endpoints] == [8081]


def test_malformed_slices_do_not_raise() -> None:
    slices: list[dict[str, Any]] = [
        {"endpoints": [{"addresses": []}, "junk"], "ports": [{"name": "http", "port": "x"}]},
        {},
    ]
    assert addresses(cluster_load_assignment("x", slices, HTTP)) == []
