"""`contour run`'s per-Gateway Envoys: the address rule, the xDS group each Envoy joins, and the order
of things on a real EventHandler (an address is published before an Envoy may see the Gateway)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contour.api.gateway.v1 import Address
from contour.controller.eventhandler import EventHandler
from contour.controller.gatewayenvoys import (
    GatewayEnvoy,
    GatewayEnvoys,
    GatewayEnvoysConfig,
    assign_addresses,
    describe,
    group_by_gateway,
    is_pool_address,
    lowest_free_pool_address,
    pool_address,
    requested_loopback,
)
from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.model import ObjectRef
from contour.envoyproc.process import EnvoyProcess
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache

A, B, C = ObjectRef("default", "a"), ObjectRef("default", "b"), ObjectRef("other", "c")


@pytest.mark.parametrize(
    ("n", "address"),
    [
        (1, "127.0.1.1"),
        (2, "127.0.1.2"),
        (254, "127.0.1.254"),
        (255, "127.0.2.1"),
        (509, "127.0.3.1"),
    ],
    ids=str,
)
def test_pool_address_counts_through_host_addresses(n: int, address: str) -> None:
    assert pool_address(n) == address
    assert is_pool_address(address)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.0.1.0", "127.0.1.255", "10.0.1.1", "::1", "not-an-ip"], ids=str
)
def test_not_a_pool_address(address: str) -> None:
    assert not is_pool_address(address)


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        ((), "127.0.1.1"),
        (("127.0.1.1",), "127.0.1.2"),
        (("127.0.1.1", "127.0.1.3"), "127.0.1.2"),
        (("127.0.1.2",), "127.0.1.1"),
        (tuple(pool_address(n) for n in range(1, 255)), "127.0.2.1"),
    ],
    ids=["none-taken", "first-taken", "gap-in-the-middle", "first-free-again", "first-block-full"],
)
def test_lowest_free_pool_address(taken: tuple[str, ...], expected: str) -> None:
    assert lowest_free_pool_address(taken) == expected


@dataclass(frozen=True)
class RequestCase:
    id: str
    addresses: list[Address] | None
    expected: tuple[str, ...]


REQUEST_CASES = [
    RequestCase("none", None, ()),
    RequestCase("empty", [], ()),
    RequestCase("loopback-ip", [Address(type="IPAddress", value="127.0.5.5")], ("127.0.5.5",)),
    RequestCase("type-defaults-to-ip", [Address(value="127.0.0.9")], ("127.0.0.9",)),
    RequestCase("ip-without-value", [Address(type="IPAddress")], ()),
    RequestCase("non-loopback-ip", [Address(type="IPAddress", value="10.1.2.3")], ()),
    RequestCase("ipv6-loopback", [Address(type="IPAddress", value="::1")], ()),
    RequestCase("hostname", [Address(type="Hostname", value="localhost")], ()),
    RequestCase("named", [Address(type="NamedAddress", value="127.0.0.7")], ()),
    RequestCase("not-an-ip", [Address(type="IPAddress", value="127.0.0.300")], ()),
    RequestCase(
        "order-kept-duplicates-dropped",
        [
            Address(value="10.0.0.1"),
            Address(value="127.0.9.2"),
            Address(value="127.0.9.1"),
            Address(value="127.0.9.2"),
        ],
        ("127.0.9.2", "127.0.9.1"),
    ),
]


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[c.id for c in REQUEST_CASES])
def test_requested_loopback(case: RequestCase) -> None:
    assert requested_loopback(case.addresses) == case.expected


@dataclass(frozen=True)
class AssignCase:
    id: str
    current: Mapping[ObjectRef, str]
    requested: Mapping[ObjectRef, Sequence[str]]
    expected: Mapping[ObjectRef, str]


ASSIGN_CASES = [
    AssignCase("first-gateway-gets-127.0.1.1", {}, {A: ()}, {A: "127.0.1.1"}),
    AssignCase(
        "new-gateways-in-name-order",
        {},
        {B: (), A: (), C: ()},
        {A: "127.0.1.1", B: "127.0.1.2", C: "127.0.1.3"},
    ),
    AssignCase("address-sticks", {A: "127.0.1.1"}, {A: ()}, {A: "127.0.1.1"}),
    AssignCase(
        "sticks-though-lower-is-free",
        {B: "127.0.1.2"},
        {B: ()},
        {B: "127.0.1.2"},
    ),
    AssignCase(
        "reuse-after-delete",
        {A: "127.0.1.1", B: "127.0.1.2"},
        {B: (), C: ()},
        {B: "127.0.1.2", C: "127.0.1.1"},
    ),
    AssignCase("deleted-gateway-forgotten", {A: "127.0.1.1"}, {}, {}),
    AssignCase("requested-loopback", {}, {A: ("127.0.0.7",)}, {A: "127.0.0.7"}),
    AssignCase(
        "requested-does-not-use-the-pool",
        {},
        {A: ("127.0.0.7",), B: ()},
        {A: "127.0.0.7", B: "127.0.1.1"},
    ),
    AssignCase(
        "request-added-moves-gateway",
        {A: "127.0.1.1"},
        {A: ("127.0.0.7",)},
        {A: "127.0.0.7"},
    ),
    AssignCase(
        "request-removed-back-to-pool",
        {A: "127.0.0.7"},
        {A: ()},
        {A: "127.0.1.1"},
    ),
    AssignCase(
        "request-held-by-another-falls-back-to-pool",
        {A: "127.0.1.1"},
        {A: (), B: ("127.0.1.1",)},
        {A: "127.0.1.1", B: "127.0.1.2"},
    ),
    AssignCase(
        "second-request-when-first-is-held",
        {A: "127.0.0.7"},
        {A: ("127.0.0.7",), B: ("127.0.0.7", "127.0.0.8")},
        {A: "127.0.0.7", B: "127.0.0.8"},
    ),
    AssignCase(
        "same-request-first-by-name-wins",
        {},
        {B: ("127.0.0.7",), A: ("127.0.0.7",)},
        {A: "127.0.0.7", B: "127.0.1.1"},
    ),
    AssignCase(
        "requested-address-freed-is-taken",
        {A: "127.0.1.1", B: "127.0.1.2"},
        {B: ("127.0.1.1",)},
        {B: "127.0.1.1"},
    ),
]


@pytest.mark.parametrize("case", ASSIGN_CASES, ids=[c.id for c in ASSIGN_CASES])
def test_assign_addresses(case: AssignCase) -> None:
    assert assign_addresses(case.current, case.requested) == case.expected


@dataclass(frozen=True)
class Node:
    cluster: str


@pytest.mark.parametrize(
    ("cluster", "group"),
    [
        ("gateway/default/eg", "gateway/default/eg"),
        ("contour", DEFAULT_GROUP),
        ("projectcontour", DEFAULT_GROUP),
        ("", DEFAULT_GROUP),
        ("gateway/missing-name", DEFAULT_GROUP),
    ],
    ids=["gateway", "contour-run-default", "contour-deployment-namespace", "no-cluster", "malformed"],
)
def test_group_by_gateway(cluster: str, group: str) -> None:
    assert group_by_gateway(Node(cluster)) == group


# -- the supervisor on a real EventHandler, before any Envoy starts --------------------------------

GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY = ObjectRef("apps", "web")


def gateway_class(name: str, controller: str) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "GatewayClass",
        "metadata": {"name": name, "generation": 1},
        "spec": {"controllerName": controller},
    }


def gateway_object(class_name: str, addresses: list[dict[str, str]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "gatewayClassName": class_name,
        "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}],
    }
    if addresses is not None:
        spec["addresses"] = addresses
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": GATEWAY.name, "namespace": GATEWAY.namespace, "generation": 1},
        "spec": spec,
    }


def supervised(tmp_path: Path, *objects: dict[str, Any]) -> tuple[EventHandler, GatewayEnvoys]:
    cache = KubernetesCache()
    cache.insert(gateway_class("ours", "projectcontour.io/gateway-controller"))
    cache.insert(gateway_class("theirs", "example.com/other-controller"))
    for obj in objects:
        cache.insert(obj)
    handler = EventHandler(cache, Builder(BuilderConfig()), SnapshotCache())
    assert handler.rebuild()
    # No xDS server: these tests stop before an Envoy would start.
    return handler, GatewayEnvoys(handler, GatewayEnvoysConfig(tmp_path, xds_port=1), lambda _: None)


async def test_address_is_published_before_the_envoy_starts(tmp_path: Path) -> None:
    handler, envoys = supervised(tmp_path, gateway_object("ours"))

    await envoys.reconcile()

    assert handler.cache.gateway_addresses == {GATEWAY: "127.0.1.1"}
    assert envoys.envoys == {}, "an Envoy started before its Gateway's listeners bound its address"
    assert handler.dag is not None
    assert handler.dag.gateways[GATEWAY].address == "0.0.0.0"


async def test_address_change_asks_for_a_rebuild(tmp_path: Path) -> None:
    handler, envoys = supervised(tmp_path, gateway_object("ours"))

    await envoys.reconcile()

    assert handler._dirty.is_set()


async def test_rebuild_binds_the_gateway_on_its_address(tmp_path: Path) -> None:
    handler, envoys = supervised(tmp_path, gateway_object("ours"))
    await envoys.reconcile()

    assert handler.rebuild()

    assert handler.dag is not None
    assert {listener.address for listener in handler.dag.gateways[GATEWAY].listeners.values()} == {
        "127.0.1.1"
    }


async def test_requested_loopback_address_is_published(tmp_path: Path) -> None:
    handler, envoys = supervised(
        tmp_path, gateway_object("ours", [{"type": "IPAddress", "value": "127.0.4.4"}])
    )

    await envoys.reconcile()

    assert handler.cache.gateway_addresses == {GATEWAY: "127.0.4.4"}


async def test_gateway_of_another_controller_gets_no_address(tmp_path: Path) -> None:
    handler, envoys = supervised(tmp_path, gateway_object("theirs"))

    await envoys.reconcile()

    assert handler.cache.gateway_addresses == {}


async def test_deleted_gateway_gives_its_address_back(tmp_path: Path) -> None:
    gateway = gateway_object("ours")
    handler, envoys = supervised(tmp_path, gateway)
    await envoys.reconcile()
    handler.cache.remove(gateway)
    assert handler.rebuild()

    await envoys.reconcile()

    assert handler.cache.gateway_addresses == {}
    assert envoys.addresses == {}


def test_announcement_names_address_and_ports_in_port_order(tmp_path: Path) -> None:
    envoy = GatewayEnvoy(
        GATEWAY,
        "127.0.1.3",
        EnvoyProcess({}, tmp_path),
        "127.0.0.1:9901",
        (("HTTPS", 8443), ("HTTP", 8080)),
        {},
    )

    assert describe(envoy) == (
        "Gateway apps/web: Envoy ready on 127.0.1.3, ports 8080/HTTP, 8443/HTTPS"
        " (pid None, admin http://127.0.0.1:9901)"
    )
