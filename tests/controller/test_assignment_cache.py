"""AssignmentCache.for_dag_services: reuse while nothing changed, fresh endpoints as soon as a slice does."""

from __future__ import annotations

from typing import Any

from contour.controller.endpointslices import AssignmentCache, EndpointSliceIndex
from contour.dag.model import ObjectRef, Service, ServicePort
from contour.envoy.endpoints import cluster_load_assignment


def _slice(service: str, *addresses: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{service}-1",
            "namespace": "ns",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
    }


def _service(name: str) -> Service:
    return Service(ref=ObjectRef("ns", name), port=ServicePort(name="http", port=80, target_port=8080))


def _addresses(assignment: Any) -> list[str]:
    return [e.endpoint.address.socket_address.address for lo in assignment.endpoints for e in lo.lb_endpoints]


def test_the_same_services_get_the_same_assignments_until_a_slice_changes() -> None:
    index = EndpointSliceIndex()
    cache = AssignmentCache(index, cluster_load_assignment)
    a, b = _service("a"), _service("b")
    index.upsert(_slice("a", "10.0.0.1"))
    index.upsert(_slice("b", "10.0.0.2"))
    services = {a.eds_name: a, b.eds_name: b}
    first = cache.for_dag_services(services)
    again = cache.for_dag_services(services)
    assert [x is y for x, y in zip(first, again, strict=True)] == [True, True]
    index.upsert(_slice("b", "10.0.0.3"))
    after = cache.for_dag_services(services)
    assert after[0] is first[0]
    assert _addresses(after[1]) == ["10.0.0.3"]


def test_a_service_no_longer_used_is_forgotten_and_an_equal_new_object_reuses_the_assignment() -> None:
    index = EndpointSliceIndex()
    cache = AssignmentCache(index, cluster_load_assignment)
    a, b = _service("a"), _service("b")
    index.upsert(_slice("a", "10.0.0.1"))
    [first, _] = cache.for_dag_services({a.eds_name: a, b.eds_name: b})
    [only] = cache.for_dag_services({a.eds_name: _service("a")})  # an equal Service, another object
    assert only is first
    assert cache.for_dag_services({}) == []
