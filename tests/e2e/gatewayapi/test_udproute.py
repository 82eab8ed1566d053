# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-UDP conformance tests of Gateway API v1.6.1: the 9 UDPRoute tests.

One test per upstream test (conformance/tests/udproute-*.go and .yaml). Upstream's simple UDPRoute
test sends a DNS query to CoreDNS; here every backend is `contour echo --mode udp` (see l4.py), which
answers each datagram with the payload and the pod context, so each traffic check asserts the
answering Service, namespace and pod prefix. Listener ports are free unprivileged ports instead of
upstream's 5300-5312/7777 (each Gateway has its own loopback address).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.gatewayapi.base_manifests import APP, INFRA, Manifest, gateway, reference_grant
from tests.e2e.gatewayapi.l4 import (
    L4Pod,
    backend_ref,
    consistently,
    deployment_of,
    expect_udp_backend,
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
    udp_pod_once,
    udp_send_once,
    weighted_distribution,
    zero_routes,
)
from tests.e2e.gatewayapi.suite import Suite
from tests.support.contour_run import free_port

KIND = "UDPRoute"
BACKENDS = [
    (INFRA, "l4-backend"),
    (INFRA, "udp-backend-v1"),
    (INFRA, "udp-backend-v2"),
    (INFRA, "udp-backend-v3"),
    (INFRA, "udp-attach-backend-1"),
    (INFRA, "udp-attach-backend-2"),
    (INFRA, "udp-echo-by-port"),
    (INFRA, "udp-echo-by-section"),
    (INFRA, "udp-echo-by-section-and-port"),
    (INFRA, "udp-echo-attach-all"),
    (APP, "udp-reference-grant-backend"),
    (APP, "udp-invalid-xns-backend"),
]


@pytest.fixture(scope="module")
def udp_pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, L4Pod]]:
    pods = launch_pods(BACKENDS, "udp", tmp_path_factory.mktemp("udp-pods"))
    try:
        yield pods
    finally:
        stop_pods(pods)


def services(pods: dict[str, L4Pod], *names: str, port: int = 8080) -> list[Manifest]:
    """Upstream's Services (UDP, port 8080 unless told) for these backends."""
    return [m for name in names for m in l4_service(pods[name], port)]


def udp(name: str, port: int) -> Manifest:
    return l4_listener(name, port, "UDP", KIND)


def test_UDPRoute(suite: Suite, udp_pods: dict[str, L4Pod]) -> None:
    gw, route = "udp-gateway", "udp-l4-backend"
    port = free_port()
    suite.apply(
        # Upstream's backend is CoreDNS on port 53 answering a DNS query; here a UDP echo on 53.
        *services(udp_pods, "l4-backend", port=53),
        gateway(gw, udp("l4-echo", port)),
        l4_route(KIND, route, [parent_ref(gw, sectionName="l4-echo")], [backend_ref("l4-backend", 53)]),
    )
    address = routes_accepted(suite, KIND, gw, [route])
    expect_udp_backend(address, port, "l4-backend")


def test_UDPRouteInvalidBackendRefNonexistent(suite: Suite) -> None:
    # The v1.6.1 source is not in the index: modelled on TCPRouteInvalidBackendRefNonexistent.
    gw, route = "udp-gateway-invalid-backend", "udp-route-invalid-backend-ref-nonexistent"
    suite.apply(
        gateway(gw, udp("udp", free_port())),
        l4_route(
            KIND, route, [parent_ref(gw, sectionName="udp")], [backend_ref("nonexistent-service", 8080)]
        ),
    )
    routes_accepted(suite, KIND, gw, [route])
    route_condition(suite, KIND, route, gw, "ResolvedRefs=False/BackendNotFound")


def test_UDPRouteInvalidCrossNamespaceBackendRef(suite: Suite, udp_pods: dict[str, L4Pod]) -> None:
    gw, route = (
        "udp-gateway-invalid-cross-namespace-backend-ref",
        "udp-route-invalid-cross-namespace-backend-ref",
    )
    suite.apply(
        *services(udp_pods, "udp-invalid-xns-backend"),
        gateway(gw, udp("udp", free_port())),
        l4_route(
            KIND, route, [parent_ref(gw)], [backend_ref("udp-invalid-xns-backend", 8080, namespace=APP)]
        ),
    )
    routes_accepted(suite, KIND, gw, [route])
    route_condition(suite, KIND, route, gw, "ResolvedRefs=False/RefNotPermitted")


def test_UDPRouteMultipleRoutesAttachment(suite: Suite, udp_pods: dict[str, L4Pod]) -> None:
    gw, older, newer = "udp-multi-route-attach-gateway", "udproute-attach-older", "udproute-attach-newer"
    port = free_port()
    suite.apply(
        *services(udp_pods, "udp-attach-backend-1", "udp-attach-backend-2"),
        gateway(gw, udp("udp", port)),
        l4_route(
            KIND, older, [parent_ref(gw, sectionName="udp")], [backend_ref("udp-attach-backend-1", 8080)]
        ),
    )
    address = routes_accepted(suite, KIND, gw, [older])
    # creationTimestamp has second precision: the newer route must be a second younger (as upstream).
    created = suite.get("udproutes", older)["metadata"]["creationTimestamp"]
    suite.poll(now_utc, lambda now: now > created, "a second after the older route", 5.0)
    suite.apply(
        l4_route(
            KIND, newer, [parent_ref(gw, sectionName="udp")], [backend_ref("udp-attach-backend-2", 8080)]
        )
    )
    for route in (older, newer):
        route_condition(suite, KIND, route, gw, "Accepted=True/Accepted")
    listeners_must_be(
        suite,
        gw,
        [{"name": "udp", "kinds": [KIND], "attached": 2, "conditions": {"Accepted": ("True", "Accepted")}}],
    )

    def twenty_from_older() -> str | None:
        for _ in range(20):
            backend = deployment_of(udp_pod_once(address, port))
            if backend != "udp-attach-backend-1":
                raise AssertionError(f"UDP traffic reached {backend}; only udp-attach-backend-1 may answer")
        return None

    consistently(twenty_from_older, "20 datagrams answered by udp-attach-backend-1")


def test_UDPRouteNotAllowedByListeners(suite: Suite) -> None:
    # v1.6.1's Go test: Gateway udproute-tls-only-gateway, so its listener is TLS (upstream skips the
    # test without TLSRoute support; TLSRoute is supported here). Listener rebuilt from the test body.
    gw, route = "udproute-tls-only-gateway", "udproute-not-allowed-by-listeners"
    listener = l4_listener("tls", free_port(), "TLS", tls={"mode": "Passthrough"})
    suite.apply(
        gateway(gw, listener),
        l4_route(KIND, route, [parent_ref(gw, sectionName="tls")], [backend_ref("coredns", 53)]),
    )
    route_condition(suite, KIND, route, gw, "Accepted=False/NotAllowedByListeners")
    zero_routes(suite, gw)


def test_UDPRouteParentRefAttachAllListeners(suite: Suite, udp_pods: dict[str, L4Pod]) -> None:
    gw, route = "udp-attach-all-listeners-gateway", "udp-route-attach-all"
    ports = {name: free_port() for name in ("udp-1", "udp-2", "udp-3")}
    suite.apply(
        *services(udp_pods, "udp-echo-attach-all"),
        gateway(gw, *(udp(name, port) for name, port in ports.items())),
        l4_route(KIND, route, [parent_ref(gw)], [backend_ref("udp-echo-attach-all", 8080)]),
    )
    route_must_have_parents(suite, KIND, route, gw)
    ready = {"Accepted": ("True", ""), "ResolvedRefs": ("True", "")}
    listeners_must_be(
        suite, gw, [{"name": name, "kinds": [KIND], "attached": 1, "conditions": ready} for name in ports]
    )
    address = suite.gateway_address(gw)
    for port in ports.values():
        expect_udp_backend(address, port, "udp-echo-attach-all")


def test_UDPRouteParentRefPortAndSectionName(suite: Suite, udp_pods: dict[str, L4Pod]) -> None:
    # The v1.6.1 YAML is not in the index: Gateway, listeners and routes rebuilt from the Go test.
    gw = "udp-multi-listener-gateway"
    ports = {name: free_port() for name in ("by-port", "by-section", "by-section-and-port")}
    suite.apply(
        *services(udp_pods, "udp-echo-by-port", "udp-echo-by-section", "udp-echo-by-section-and-port"),
        gateway(gw, *(udp(name, port) for name, port in ports.items())),
        l4_route(
            KIND,
            "udp-route-by-port",
            [parent_ref(gw, port=ports["by-port"])],
            [backend_ref("udp-echo-by-port", 8080)],
        ),
        l4_route(
            KIND,
            "udp-route-by-section",
            [parent_ref(gw, sectionName="by-section")],
            [backend_ref("udp-echo-by-section", 8080)],
        ),
        l4_route(
            KIND,
            "udp-route-by-section-and-port",
            [parent_ref(gw, sectionName="by-section-and-port", port=ports["by-section-and-port"])],
            [backend_ref("udp-echo-by-section-and-port", 8080)],
        ),
    )
    address = suite.gateway_address(gw)
    for listener, port in ports.items():
        route_must_have_parents(suite, KIND, f"udp-route-{listener}", gw)
        expect_udp_backend(address, port, f"udp-echo-{listener}")


def test_UDPRouteReferenceGrant(suite: Suite, udp_pods: dict[str, L4Pod]) -> None:
    gw, route, grant = "udp-gateway-reference-grant", "udp-route-reference-grant", "udp-reference-grant"
    port = free_port()
    suite.apply(
        *services(udp_pods, "udp-reference-grant-backend"),
        reference_grant(grant, APP, from_ns=INFRA, from_kind=KIND, to_name="udp-reference-grant-backend"),
        gateway(gw, udp("udp", port)),
        l4_route(
            KIND, route, [parent_ref(gw)], [backend_ref("udp-reference-grant-backend", 8080, namespace=APP)]
        ),
    )
    address = routes_accepted(suite, KIND, gw, [route])
    route_condition(suite, KIND, route, gw, "ResolvedRefs=True/ResolvedRefs")
    expect_udp_backend(address, port, "udp-reference-grant-backend", APP)
    suite.delete("referencegrants.gateway.networking.k8s.io", grant, APP)
    route_condition(suite, KIND, route, gw, "ResolvedRefs=False/RefNotPermitted")


def test_UDPRouteWeightedRouting(suite: Suite, udp_pods: dict[str, L4Pod]) -> None:
    gw, route = "udp-weighted-gateway", "udp-weighted-route"
    port = free_port()
    suite.apply(
        *services(udp_pods, "udp-backend-v1", "udp-backend-v2", "udp-backend-v3"),
        gateway(gw, udp("udp", port)),
        l4_route(
            KIND,
            route,
            [parent_ref(gw, sectionName="udp")],
            [
                backend_ref("udp-backend-v1", 8080, weight=70),
                backend_ref("udp-backend-v2", 8080, weight=30),
                backend_ref("udp-backend-v3", 8080, weight=0),
            ],
        ),
    )
    address = routes_accepted(suite, KIND, gw, [route])
    consistently(
        lambda: None if udp_send_once(address, port) else "no answer", f"UDP {address}:{port} answers"
    )
    weighted_distribution(
        lambda: udp_pod_once(address, port),
        {"udp-backend-v1": 0.7, "udp-backend-v2": 0.3, "udp-backend-v3": 0.0},
    )
