"""The address statuses report: the Envoy Service's load balancer (or a fixed address) in HTTPProxy and
Ingress `status.loadBalancer` and Gateway `status.addresses`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from contour.controller.statusaddress import (
    GATEWAY_BIND_ADDRESS,
    StatusAddresses,
    gateway_addresses,
    service_load_balancer,
    sync_gateway_addresses,
)
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.model import DAG, ObjectRef


@dataclass(frozen=True)
class Update:
    group: str
    plural: str
    status: dict[str, Any] = field(default_factory=dict)
    version: str = "v1"
    ref: ObjectRef = field(default_factory=lambda: ObjectRef("ns", "name"))
    generation: int = 1


def lb_service(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Service", "status": {"loadBalancer": {"ingress": list(entries)}}}


PROXY = Update("projectcontour.io", "httpproxies", {"currentStatus": "valid"})
INGRESS = Update("networking.k8s.io", "ingresses")
GATEWAY = Update(
    "gateway.networking.k8s.io", "gateways", {"addresses": [{"type": "IPAddress", "value": "0.0.0.0"}]}
)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (None, None),
        ({"kind": "Service"}, None),
        (lb_service(), None),
        (lb_service({"ip": "203.0.113.1", "ports": []}), {"ingress": [{"ip": "203.0.113.1"}]}),
        (lb_service({"hostname": "lb.example.net"}), {"ingress": [{"hostname": "lb.example.net"}]}),
        (lb_service({"ipMode": "VIP"}), None),
    ],
    ids=["no-service", "no-status", "no-ingress", "ip", "hostname", "entry-without-address"],
)
def test_service_load_balancer(service: dict[str, Any] | None, expected: dict[str, Any] | None) -> None:
    assert service_load_balancer(service) == expected


def test_gateway_addresses_type_ips_and_hostnames() -> None:
    balancer = {"ingress": [{"ip": "203.0.113.1"}, {"hostname": "lb.example.net"}]}
    assert gateway_addresses(balancer) == [
        {"type": "IPAddress", "value": "203.0.113.1"},
        {"type": "Hostname", "value": "lb.example.net"},
    ]


@pytest.mark.parametrize(
    ("update", "key"), [(PROXY, "loadBalancer"), (INGRESS, "loadBalancer")], ids=["proxy", "ingress"]
)
def test_the_service_address_goes_into_load_balancer(update: Update, key: str) -> None:
    addresses = StatusAddresses()
    assert addresses.set_service(lb_service({"ip": "203.0.113.1"})) is True
    assert addresses.apply(update).status[key] == {"ingress": [{"ip": "203.0.113.1"}]}


def test_gateways_get_the_service_addresses_instead_of_their_bind_address() -> None:
    addresses = StatusAddresses()
    addresses.set_service(lb_service({"hostname": "lb.example.net"}))
    assert addresses.apply(GATEWAY).status["addresses"] == [{"type": "Hostname", "value": "lb.example.net"}]


def test_without_an_address_no_address_is_reported() -> None:
    addresses = StatusAddresses()
    assert (
        "loadBalancer" in addresses.apply(PROXY).status,
        "addresses" in addresses.apply(GATEWAY).status,
    ) == (False, False)


def test_an_unchanged_service_status_is_no_change() -> None:
    addresses = StatusAddresses()
    addresses.set_service(lb_service({"ip": "203.0.113.1"}))
    assert addresses.set_service(lb_service({"ip": "203.0.113.1"})) is False


def test_a_fixed_address_ignores_the_service() -> None:
    addresses = StatusAddresses("lb.example.net")
    changed = addresses.set_service(lb_service({"ip": "203.0.113.1"}))
    assert (changed, addresses.apply(PROXY).status["loadBalancer"]) == (
        False,
        {"ingress": [{"hostname": "lb.example.net"}]},
    )


def test_other_kinds_pass_unchanged() -> None:
    update = Update("projectcontour.io", "tlscertificatedelegations", {"conditions": []})
    addresses = StatusAddresses("192.0.2.1")
    assert addresses.apply(update) is update


def dag_with_gateways(*refs: ObjectRef) -> DAG:
    dag = DAG()
    for ref in refs:
        dag.gateways[ref] = GatewayDAG(ref=ref, address="0.0.0.0")
    return dag


def test_gateways_get_the_bind_address_while_there_is_an_address_to_report() -> None:
    cache, ref = KubernetesCache(), ObjectRef("infra", "gw")
    changed = sync_gateway_addresses(cache, dag_with_gateways(ref), has_address=True)
    again = sync_gateway_addresses(cache, dag_with_gateways(ref), has_address=True)
    assert (changed, again, cache.gateway_addresses) == (True, False, {ref: GATEWAY_BIND_ADDRESS})


def test_gateways_lose_their_address_when_the_service_has_none() -> None:
    cache, ref = KubernetesCache(), ObjectRef("infra", "gw")
    sync_gateway_addresses(cache, dag_with_gateways(ref), has_address=True)
    changed = sync_gateway_addresses(cache, dag_with_gateways(ref), has_address=False)
    assert (changed, cache.gateway_addresses) == (True, {})


def test_a_gateway_gone_from_the_dag_loses_its_address() -> None:
    cache, kept, gone = KubernetesCache(), ObjectRef("infra", "kept"), ObjectRef("infra", "gone")
    sync_gateway_addresses(cache, dag_with_gateways(kept, gone), has_address=True)
    sync_gateway_addresses(cache, dag_with_gateways(kept), has_address=True)
    assert cache.gateway_addresses == {kept: GATEWAY_BIND_ADDRESS}
