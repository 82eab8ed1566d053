# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-TLS extended conformance tests of Gateway API v1.6.1 for TLS listeners in Terminate mode.

One test per upstream test (conformance/tests/tlsroute-*terminat*.go and .yaml). The listener
certificate `tls-terminate-checks-certificate` (tls.example.com) comes from the session CA, as the
upstream suite's Setup makes it. Upstream talks MQTT through the terminating listener to an MQTT
broker; here the terminated backend is `contour echo --mode tcp` (l4.py): the client completes TLS
with the Gateway (certificate verified against the CA, SNI = the route's hostname), then the plain
TCP echo must greet, answer PING, say IS_TLS false (the Gateway terminated TLS) and name its pod.
The passthrough backend of the mixed test is an HTTPS `contour echo` (`tls-backend`, abc.example.com).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.gatewayapi.base_manifests import INFRA, Manifest, Ports, gateway, tls_secret
from tests.e2e.gatewayapi.l4 import (
    L4Pod,
    backend_ref,
    expect_tcp_backend,
    l4_listener,
    l4_route,
    l4_service,
    launch_pods,
    listeners_must_be,
    parent_ref,
    route_condition,
    routes_accepted,
    stop_pods,
)
from tests.e2e.gatewayapi.roundtrip import Case
from tests.e2e.gatewayapi.suite import Suite
from tests.e2e.run_tls_support import Authority, backend_service, client_context
from tests.echo.process import EchoProcess
from tests.support.contour_run import ContourRun, free_port

KIND = "TLSRoute"
TERMINATE_CERT = "tls-terminate-checks-certificate"


@pytest.fixture(scope="module")
def backends(
    tmp_path_factory: pytest.TempPathFactory, run: ContourRun, ports: Ports, authority: Authority
) -> Iterator[dict[str, L4Pod]]:
    """The terminate certificate, the plain TCP echo `l4-backend` and the HTTPS echo `tls-backend`."""
    work = tmp_path_factory.mktemp("tls-terminate")
    terminate = authority.server("tls-terminate", "tls.example.com")
    passthrough = authority.server("tls-passthrough", "abc.example.com")
    setup = Suite(run, ports, client_context(authority))
    pods = launch_pods([(INFRA, "l4-backend")], "tcp", work)
    args = ["--port", "0", "--tls-port", "0", "--tls-cert", str(passthrough.cert_path)]
    args += ["--tls-key", str(passthrough.key_path), "--pod", "tls-backend-0", "--namespace", INFRA]
    try:
        with EchoProcess(*args, "--service", "tls-backend", stderr_path=work / "tls-backend.err") as https:
            setup.apply(
                tls_secret(INFRA, TERMINATE_CERT, terminate.cert_pem, terminate.key_pem),
                *l4_service(pods["l4-backend"], 3000),
                *backend_service(INFRA, "tls-backend", {"https": (443, https.ports["https"])}),
            )
            try:
                yield pods
            finally:
                setup.cleanup()
    finally:
        stop_pods(pods)


@pytest.fixture
def tls(suite: Suite, backends: dict[str, L4Pod]) -> Suite:
    return suite


def terminate(name: str, port: int, hostname: str, kinds: list[str] | None = None) -> Manifest:
    tls = {"mode": "Terminate", "certificateRefs": [{"name": TERMINATE_CERT}]}
    listener = l4_listener(name, port, "TLS", hostname=hostname, tls=tls)
    listener["allowedRoutes"] = {
        "namespaces": {"from": "Same"},
        "kinds": [{"kind": k} for k in kinds or [KIND]],
    }
    return listener


def tls_route(name: str, gw: str, hostname: str, backend: Manifest) -> Manifest:
    route = l4_route(KIND, name, [parent_ref(gw, namespace=INFRA)], [backend])
    route["spec"]["hostnames"] = [hostname]
    return route


def test_TLSRouteListenerTerminateSupportedKinds(tls: Suite) -> None:
    gw = "gateway-tlsroute-terminate-supported"
    tls.apply(
        gateway(gw, terminate("tls-terminate", free_port(), "terminate.example.com", ["TCPRoute", KIND]))
    )
    listeners_must_be(
        tls,
        gw,
        [
            {
                "name": "tls-terminate",
                "kinds": [KIND],
                "attached": 0,
                "conditions": {"Accepted": ("True", "Accepted")},
            }
        ],
    )


def test_TLSRouteTerminateSimpleSameNamespace(tls: Suite) -> None:
    # v1.6.1's Go test names the route gateway-conformance-mqtt-test; its backend here is l4-backend:3000.
    gw, route = "gateway-tlsroute-terminate", "gateway-conformance-mqtt-test"
    port = free_port()
    tls.apply(
        gateway(gw, terminate("tlsterminate", port, "tls.example.com")),
        tls_route(route, gw, "tls.example.com", backend_ref("l4-backend", 3000)),
    )
    address = routes_accepted(tls, KIND, gw, [route])
    hostnames = tls.get("tlsroutes", route)["spec"]["hostnames"]
    assert hostnames == ["tls.example.com"], hostnames
    expect_tcp_backend(address, port, "l4-backend", context=tls.https_context, sni=hostnames[0])


def test_TLSRouteMixedTerminationSameNamespace(tls: Suite) -> None:
    gw = "gateway-tlsroute-mixed"
    passthrough_route, terminate_route = (
        "gateway-conformance-mixed-passthroughroute",
        "gateway-conformance-mixed-terminateroute",
    )
    port = free_port()
    passthrough = l4_listener(
        "tls-passthrough",
        port,
        "TLS",
        hostname="abc.example.com",
        tls={"mode": "Passthrough"},
        allowedRoutes={"namespaces": {"from": "Same"}, "kinds": [{"kind": KIND}]},
    )
    tls.apply(
        gateway(gw, terminate("tls-terminate", port, "tls.example.com"), passthrough),
        tls_route(passthrough_route, gw, "abc.example.com", backend_ref("tls-backend", 443)),
        tls_route(terminate_route, gw, "tls.example.com", backend_ref("l4-backend", 3000)),
    )
    address = routes_accepted(tls, KIND, gw, [passthrough_route])
    accepted = {"Accepted": ("True", "Accepted")}
    listeners_must_be(
        tls,
        gw,
        [
            {"name": "tls-terminate", "kinds": [KIND], "attached": 1, "conditions": accepted},
            {"name": "tls-passthrough", "kinds": [KIND], "attached": 1, "conditions": accepted},
        ],
    )
    routes_accepted(tls, KIND, gw, [terminate_route])
    route_condition(tls, KIND, terminate_route, gw, "ResolvedRefs=True/ResolvedRefs")
    expect_tcp_backend(address, port, "l4-backend", context=tls.https_context, sni="tls.example.com")
    passthrough_case = Case(
        host="abc.example.com", https=True, sni="abc.example.com", backend="tls-backend", namespace=INFRA
    )
    tls.expect(address, [passthrough_case], port=port)
