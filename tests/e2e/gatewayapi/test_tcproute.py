# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-TCP conformance tests of Gateway API v1.6.1: the 8 TCPRoute tests.

One test per upstream test (conformance/tests/tcproute-*.go and .yaml, names and assertions as
upstream). Backends are `contour echo --mode tcp` processes (see l4.py) started once for the module;
each test applies the Services it needs. Listener ports are free unprivileged ports instead of
upstream's 9091/9300-9321 (each Gateway has its own loopback address, so any free port serves).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.gatewayapi.base_manifests import INFRA, WEB, Manifest, gateway, reference_grant
from tests.e2e.gatewayapi.l4 import (
    L4Pod,
    backend_ref,
    expect_tcp_backend,
    l4_listener,
    l4_route,
    l4_service,
    launch_pods,
    listeners_must_be,
    now_utc,
    parent_ref,
    route_condition,
    route_must_have_parents,
    routes_accepted,
    stop_pods,
    tcp_pod_once,
    weighted_distribution,
    zero_routes,
)
from tests.e2e.gatewayapi.suite import Suite
from tests.support.contour_run import free_port

KIND = "TCPRoute"
BACKENDS = [
    (INFRA, "tcp-backend-v1"),
    (INFRA, "tcp-backend-v2"),
    (INFRA, "tcp-backend-v3"),
    (INFRA, "tcp-attach-backend-1"),
    (INFRA, "tcp-attach-backend-2"),
    (INFRA, "tcp-echo-one"),
    (INFRA, "tcp-echo-two"),
    (INFRA, "tcp-echo-three"),
    (INFRA, "tcp-echo-attach-all"),
    (WEB, "tcp-reference-grant-backend"),
    (WEB, "tcp-invalid-xns-backend"),
]


@pytest.fixture(scope="module")
def tcp_pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, L4Pod]]:
    pods = launch_pods(BACKENDS, "tcp", tmp_path_factory.mktemp("tcp-pods"))
    try:
        yield pods
    finally:
        stop_pods(pods)


def services(pods: dict[str, L4Pod], *names: str) -> list[Manifest]:
    """Upstream's Services on port 3000 for these backends."""
    return [m for name in names for m in l4_service(pods[name], 3000)]


def tcp(name: str, port: int) -> Manifest:
    return l4_listener(name, port, "TCP", KIND)


def test_TCPRouteInvalidBackendRefNonexistent(suite: Suite) -> None:
    gw, route = "tcp-gateway-invalid-backend", "tcp-route-invalid-backend-ref-nonexistent"
    suite.apply(
        gateway(gw, tcp("tcp", free_port())),
        l4_route(
            KIND, route, [parent_ref(gw, sectionName="tcp")], [backend_ref("nonexistent-service", 8080)]
        ),
    )
    route_condition(suite, KIND, route, gw, "ResolvedRefs=False/BackendNotFound")


def test_TCPRouteInvalidCrossNamespaceBackendRef(suite: Suite, tcp_pods: dict[str, L4Pod]) -> None:
    gw, route = "tcp-invalid-cross-namespace-backend-ref-gateway", "tcp-invalid-cross-namespace-backend-ref"
    suite.apply(
        *services(tcp_pods, "tcp-invalid-xns-backend"),
        gateway(gw, tcp("tcp", free_port())),
        l4_route(
            KIND,
            route,
            [parent_ref(gw, sectionName="tcp")],
            [backend_ref("tcp-invalid-xns-backend", 3000, namespace=WEB)],
        ),
    )
    routes_accepted(suite, KIND, gw, [route])
    route_condition(suite, KIND, route, gw, "ResolvedRefs=False/RefNotPermitted")


def test_TCPRouteInvalidNonTCPListener(suite: Suite) -> None:
    # v1.6.1's Go test names the route `tcp-route`; its listener admits only HTTPRoutes.
    gw, route = "tcp-mixed-protocol-gateway", "tcp-route"
    suite.apply(
        gateway(gw, l4_listener("only-allow-http-routes", free_port(), "TCP", "HTTPRoute")),
        l4_route(
            KIND,
            route,
            [parent_ref(gw, sectionName="only-allow-http-routes")],
            [backend_ref("tcp-echo-backend", 8080)],
        ),
    )
    route_condition(suite, KIND, route, gw, "Accepted=False/NotAllowedByListeners")
    zero_routes(suite, gw)


def test_TCPRouteMultipleRoutesAttachment(suite: Suite, tcp_pods: dict[str, L4Pod]) -> None:
    gw, older, newer = "tcp-multi-route-attach-gateway", "tcproute-attach-older", "tcproute-attach-newer"
    port = free_port()
    suite.apply(
        *services(tcp_pods, "tcp-attach-backend-1", "tcp-attach-backend-2"),
        gateway(gw, l4_listener("tcp", port, "TCP", KIND, allowedRoutes={"namespaces": {"from": "Same"}})),
        l4_route(
            KIND, older, [parent_ref(gw, sectionName="tcp")], [backend_ref("tcp-attach-backend-1", 3000)]
        ),
    )
    address = routes_accepted(suite, KIND, gw, [older])
    # creationTimestamp has second precision: the newer route must be a second younger (as upstream).
    created = suite.get("tcproutes", older)["metadata"]["creationTimestamp"]
    suite.poll(now_utc, lambda now: now > created, "a second after the older route", 5.0)
    suite.apply(
        l4_route(
            KIND, newer, [parent_ref(gw, sectionName="tcp")], [backend_ref("tcp-attach-backend-2", 3000)]
        )
    )
    for route in (older, newer):
        route_condition(suite, KIND, route, gw, "Accepted=True/Accepted")
    listeners_must_be(
        suite,
        gw,
        [{"name": "tcp", "kinds": [KIND], "attached": 2, "conditions": {"Accepted": ("True", "Accepted")}}],
    )
    expect_tcp_backend(address, port, "tcp-attach-backend-1")
    for attempt in range(100):
        pod = tcp_pod_once(address, port)
        assert pod.startswith("tcp-attach-backend-1-"), f"connection {attempt + 1} reached {pod}"


def test_TCPRouteParentRefAttachAll(suite: Suite, tcp_pods: dict[str, L4Pod]) -> None:
    gw, route = "tcp-attach-all-gateway", "tcp-route-attach-all"
    ports = {name: free_port() for name in ("one", "two", "three", "four")}
    suite.apply(
        *services(tcp_pods, "tcp-echo-attach-all"),
        gateway(gw, *(tcp(name, port) for name, port in ports.items())),
        l4_route(KIND, route, [parent_ref(gw)], [backend_ref("tcp-echo-attach-all", 3000)]),
    )
    route_must_have_parents(suite, KIND, route, gw)
    address = suite.gateway_address(gw)
    for port in ports.values():
        expect_tcp_backend(address, port, "tcp-echo-attach-all")


def test_TCPRouteParentRefPortAndSectionName(suite: Suite, tcp_pods: dict[str, L4Pod]) -> None:
    gw = "tcp-multi-listener-gateway"
    ports = {name: free_port() for name in ("one", "two", "three")}
    suite.apply(
        *services(tcp_pods, "tcp-echo-one", "tcp-echo-two", "tcp-echo-three"),
        gateway(gw, *(tcp(name, port) for name, port in ports.items())),
        # parentRef ports are the mapped listener ports (upstream: 9300 and 9302).
        l4_route(
            KIND,
            "tcp-route-by-port",
            [parent_ref(gw, port=ports["one"])],
            [backend_ref("tcp-echo-one", 3000)],
        ),
        l4_route(
            KIND,
            "tcp-route-by-section",
            [parent_ref(gw, sectionName="two")],
            [backend_ref("tcp-echo-two", 3000)],
        ),
        l4_route(
            KIND,
            "tcp-route-by-section-and-port",
            [parent_ref(gw, sectionName="three", port=ports["three"])],
            [backend_ref("tcp-echo-three", 3000)],
        ),
    )
    address = suite.gateway_address(gw)
    for route, listener, backend in (
        ("tcp-route-by-port", "one", "tcp-echo-one"),
        ("tcp-route-by-section", "two", "tcp-echo-two"),
        ("tcp-route-by-section-and-port", "three", "tcp-echo-three"),
    ):
        route_must_have_parents(suite, KIND, route, gw)
        expect_tcp_backend(address, ports[listener], backend)


def test_TCPRouteReferenceGrant(suite: Suite, tcp_pods: dict[str, L4Pod]) -> None:
    gw, route, grant = "tcp-reference-grant-gateway", "tcp-reference-grant", "tcp-reference-grant"
    port = free_port()
    suite.apply(
        *services(tcp_pods, "tcp-reference-grant-backend"),
        reference_grant(grant, WEB, from_ns=INFRA, from_kind=KIND, to_name="tcp-reference-grant-backend"),
        gateway(gw, tcp("tcp", port)),
        l4_route(
            KIND,
            route,
            [parent_ref(gw, sectionName="tcp")],
            [backend_ref("tcp-reference-grant-backend", 3000, namespace=WEB)],
        ),
    )
    address = routes_accepted(suite, KIND, gw, [route])
    expect_tcp_backend(address, port, "tcp-reference-grant-backend", WEB)
    suite.delete("referencegrants.gateway.networking.k8s.io", grant, WEB)
    route_condition(suite, KIND, route, gw, "ResolvedRefs=False/RefNotPermitted")


def test_TCPRouteWeightedRouting(suite: Suite, tcp_pods: dict[str, L4Pod]) -> None:
    gw, route = "tcp-weighted-gateway", "tcp-weighted-route"
    port = free_port()
    suite.apply(
        *services(tcp_pods, "tcp-backend-v1", "tcp-backend-v2", "tcp-backend-v3"),
        gateway(gw, tcp("tcp", port)),
        l4_route(
            KIND,
            route,
            [parent_ref(gw, sectionName="tcp")],
            [
                backend_ref("tcp-backend-v1", 3000, weight=70),
                backend_ref("tcp-backend-v2", 3000, weight=30),
                backend_ref("tcp-backend-v3", 3000, weight=0),
            ],
        ),
    )
    address = routes_accepted(suite, KIND, gw, [route])
    expect_tcp_backend(address, port, "tcp-backend")  # tcp.ExpectAddressBeAvailable, and more
    weighted_distribution(
        lambda: tcp_pod_once(address, port),
        {"tcp-backend-v1": 0.7, "tcp-backend-v2": 0.3, "tcp-backend-v3": 0.0},
    )
