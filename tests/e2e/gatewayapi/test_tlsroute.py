# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-TLS core conformance tests of Gateway API v1.6.1 for TLSRoute (Passthrough listeners).

One test per upstream test, named after its ShortName, with the manifests of
conformance/tests/tlsroute-*.yaml adapted to local ports. The base has no TLS backends, so this module
starts two `contour echo` processes serving TLS (`tls-backend` and `tls-backend-2` in
gateway-conformance-infra, certificate from the session CA for abc.example.com, other.example.com and
*.example.com) behind selector-less Services on port 443. Passthrough traffic is checked as upstream's
MakeTLSRequestAndExpectEventuallyConsistentResponse: an HTTPS request with an SNI through the Gateway
must be answered by the named backend, the backend's certificate verified against the CA.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from tests.e2e.gatewayapi.base_manifests import (
    APP,
    GATEWAY_API,
    INFRA,
    Manifest,
    Ports,
    from_namespaces,
    gateway,
    listener,
    reference_grant,
)
from tests.e2e.gatewayapi.roundtrip import Case
from tests.e2e.gatewayapi.suite import Suite, conditions_of
from tests.e2e.run_tls_support import Authority, backend_service, client_context
from tests.echo.process import EchoProcess
from tests.support.contour_run import ContourRun

TLS_BACKENDS = ("tls-backend", "tls-backend-2")
REQUIRED_CONSECUTIVE = 3
MAX_TIME_TO_CONSISTENCY = 30.0


@pytest.fixture(scope="module")
def tls_backends(
    tmp_path_factory: pytest.TempPathFactory, run: ContourRun, ports: Ports, authority: Authority
) -> Iterator[None]:
    """The upstream base's tls-backend and tls-backend-2 (443 -> the echo's TLS port)."""
    work = tmp_path_factory.mktemp("tls-backends")
    issued = authority.server("tls-checks", "abc.example.com", "other.example.com", "*.example.com")
    setup = Suite(run, ports, client_context(authority))
    with (
        EchoProcess(
            *_echo_args(TLS_BACKENDS[0], issued.cert_path, issued.key_path), stderr_path=work / "1"
        ) as first,
        EchoProcess(
            *_echo_args(TLS_BACKENDS[1], issued.cert_path, issued.key_path), stderr_path=work / "2"
        ) as second,
    ):
        for name, echo in zip(TLS_BACKENDS, (first, second), strict=True):
            setup.apply(*backend_service(INFRA, name, {"https": (443, echo.ports["https"])}))
        try:
            yield
        finally:
            setup.cleanup()


def _echo_args(service: str, cert: object, key: object) -> list[str]:
    return [
        "--port", "0", "--tls-port", "0", "--tls-cert", str(cert), "--tls-key", str(key),
        "--pod", f"{service}-0", "--namespace", INFRA, "--service", service,
    ]  # fmt: skip


@pytest.fixture
def tls(suite: Suite, tls_backends: None) -> Suite:
    return suite


# -- manifests ---------------------------------------------------------------------------------------


def passthrough(name: str, port: int, *, hostname: str | None = None, **fields: Any) -> Manifest:
    extra: dict[str, Any] = {"hostname": hostname} if hostname else {}
    fields.setdefault("allowedRoutes", {**from_namespaces("Same"), "kinds": [{"kind": "TLSRoute"}]})
    return listener(name, port, "TLS", tls={"mode": "Passthrough"}, **extra, **fields)


def tls_route(
    name: str, parents: Iterable[Manifest], hostnames: Iterable[str], backends: Iterable[Manifest]
) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "TLSRoute",
        "metadata": {"name": name, "namespace": INFRA},
        "spec": {
            "parentRefs": list(parents),
            "hostnames": list(hostnames),
            "rules": [{"backendRefs": list(backends)}],
        },
    }


def ref(name: str, **fields: Any) -> Manifest:
    return {"name": name, "namespace": INFRA, **fields}


def tls_backend(name: str = "tls-backend", **fields: Any) -> Manifest:
    return {"name": name, "port": 443, **fields}


# -- upstream helpers --------------------------------------------------------------------------------


def route_condition(
    suite: Suite, route: str, gateway_name: str, kind: str, status: str, *, reason: str = ""
) -> Manifest:
    """`TLSRouteMustHaveCondition` for the parent entry of the Gateway (latest generation)."""

    def ok(entry: Manifest | None) -> bool:
        if entry is None:
            return False
        found = conditions_of(entry).get(kind)
        return found is not None and found[0] == status and (not reason or found[1] == reason)

    entry = suite.poll(
        suite.route_parent(route, gateway_name, kind="TLSRoute"),
        ok,
        f"TLSRoute {route} parent {gateway_name}: {kind}={status} {reason}",
    )
    assert entry is not None
    return entry


def routes_accepted(suite: Suite, gateway_name: str, routes: Iterable[str]) -> tuple[str, list[str]]:
    """`GatewayAndTLSRoutesMustBeAccepted`: the Gateway's address and the routes' hostnames."""
    address = suite.gateway_address(gateway_name)
    hostnames: list[str] = []
    for route in routes:
        entry = route_condition(suite, route, gateway_name, "Accepted", "True", reason="Accepted")
        assert entry["controllerName"] == "projectcontour.io/gateway-controller"
        hostnames += suite.get("tlsroutes", route).get("spec", {}).get("hostnames") or []
    suite.listeners_ready(gateway_name)
    return address, hostnames


def no_accepted_parents(suite: Suite, route: str) -> None:
    def ok(found: Manifest) -> bool:
        parents = (found.get("status") or {}).get("parents") or []
        return not parents or (
            len(parents) == 1 and conditions_of(parents[0]).get("Accepted", ("", ""))[0] == "False"
        )

    suite.poll(lambda: suite.get("tlsroutes", route), ok, f"no accepted parents for TLSRoute {route}")


def zero_routes(suite: Suite, gateway_name: str) -> None:
    suite.listeners(
        gateway_name,
        lambda es: all(e.get("attachedRoutes") == 0 for e in es),
        f"Gateway {gateway_name}: 0 attached routes",
    )


def reaches(suite: Suite, address: str, sni: str, backend: str) -> None:
    """An HTTPS request with this SNI and Host through the Gateway reaches `backend` (3 times in a row)."""
    case = Case(host=sni, https=True, sni=sni, backend=f"{backend}-0", namespace=INFRA)
    suite.expect(address, [case], port=suite.ports[443])


def handshake_refused(suite: Suite, address: str, sni: str) -> None:
    """`MakeTLSRequestAndExpectEventuallyConnectionReset`: the handshake fails 3 times in a row."""
    deadline = time.monotonic() + MAX_TIME_TO_CONSISTENCY
    streak = 0
    while streak < REQUIRED_CONSECUTIVE:
        try:
            with (
                socket.create_connection((address, suite.ports[443]), timeout=5) as raw,
                suite.https_context.wrap_socket(raw, server_hostname=sni),
            ):
                streak = 0
        except (OSError, ssl.SSLError):
            streak += 1
            continue
        assert time.monotonic() < deadline, f"a TLS handshake with SNI {sni} still succeeds"
        time.sleep(0.1)  # upstream's poll interval between attempts


# -- tests ---------------------------------------------------------------------------------------------


def test_TLSRouteSimpleSameNamespace(tls: Suite) -> None:
    port = tls.ports[443]
    tls.apply(
        gateway("gateway-tlsroute", passthrough("https", port, hostname="*.example.com")),
        tls_route(
            "gateway-conformance-infra-test", [ref("gateway-tlsroute")], ["abc.example.com"], [tls_backend()]
        ),
    )
    address, hostnames = routes_accepted(tls, "gateway-tlsroute", ["gateway-conformance-infra-test"])
    assert len(hostnames) == 1
    reaches(tls, address, hostnames[0], "tls-backend")


def test_TLSRouteInvalidReferenceGrant(tls: Suite) -> None:
    port = tls.ports[443]
    kw: dict[str, Any] = {"from_ns": INFRA, "from_kind": "TLSRoute", "to_name": "tls-backend"}
    tls.apply(
        *backend_service(APP, "tls-backend", {"https": (443, 1)}),
        reference_grant("reference-grant-wrong-namespace", INFRA, **kw),
        reference_grant("reference-grant-wrong-from-group", APP, **{**kw, "from_group": "not-the-group"}),
        reference_grant("reference-grant-wrong-from-kind", APP, **{**kw, "from_kind": "Gateway"}),
        reference_grant("reference-grant-wrong-from-namespace", APP, **{**kw, "from_ns": "not-the-ns"}),
        reference_grant("reference-grant-wrong-to-kind", APP, **{**kw, "to_kind": "Secret"}),
        reference_grant("reference-grant-wrong-to-name", APP, **{**kw, "to_name": "not-the-service"}),
        gateway("gateway-tlsroute-referencegrant", passthrough("https", port, hostname="*.example.com")),
        tls_route(
            "gateway-conformance-infra-test",
            [ref("gateway-tlsroute-referencegrant")],
            ["abc.example.com"],
            [tls_backend(namespace=APP)],
        ),
    )
    routes_accepted(tls, "gateway-tlsroute-referencegrant", ["gateway-conformance-infra-test"])
    route_condition(
        tls, "gateway-conformance-infra-test", "gateway-tlsroute-referencegrant", "ResolvedRefs", "False",
        reason="RefNotPermitted",
    )  # fmt: skip


def test_TLSRouteInvalidBackendRefNonexistent(tls: Suite) -> None:
    gw, route = "gateway-tlsroute-invalid-backend-ref-nonexistent", "invalid-backend-ref-nonexistent"
    tls.apply(
        gateway(gw, passthrough("https", tls.ports[443], hostname="*.example.com")),
        tls_route(route, [ref(gw)], ["abc.example.com"], [tls_backend("nonexistent-backend")]),
    )
    address, hostnames = routes_accepted(tls, gw, [route])
    route_condition(tls, route, gw, "ResolvedRefs", "False", reason="BackendNotFound")
    handshake_refused(tls, address, hostnames[0])


def test_TLSRouteInvalidBackendRefUnknownKind(tls: Suite) -> None:
    gw, route = "gateway-tlsroute-invalid-backend-ref-unknown-kind", "invalid-backend-ref-unknown-kind"
    unknown = tls_backend("tls-backend", group="unknown.group", kind="UnknownKind")
    tls.apply(
        gateway(gw, passthrough("https", tls.ports[443], hostname="*.example.com")),
        tls_route(route, [ref(gw)], ["abc.example.com"], [unknown]),
    )
    address, hostnames = routes_accepted(tls, gw, [route])
    route_condition(tls, route, gw, "ResolvedRefs", "False", reason="InvalidKind")
    handshake_refused(tls, address, hostnames[0])


def test_TLSRouteListenerPassthroughSupportedKinds(tls: Suite) -> None:
    gw = "gateway-tls-passthrough-supported-kinds"
    tls.apply(
        gateway(gw, passthrough("tls-passthrough", tls.ports[443], allowedRoutes=from_namespaces("Same")))
    )
    tls.gateway_condition(gw, "Accepted", "True")
    entries = tls.listeners(
        gw,
        lambda es: conditions_of(es[0]).get("Accepted", ("", ""))[0] == "True",
        f"listener of {gw} Accepted",
    )
    assert "TLSRoute" in [k["kind"] for k in entries[0].get("supportedKinds") or []], entries[0]


def test_TLSRouteInvalidNoMatchingListener(tls: Suite) -> None:
    port = tls.ports[443]
    https = {
        "mode": "Terminate",
        "certificateRefs": [{"group": "", "kind": "Secret", "name": "tls-validity-checks-certificate"}],
    }
    tls.apply(
        gateway("gateway-http-only", listener("http", tls.ports[80], allowedRoutes=from_namespaces("Same"))),
        gateway(
            "gateway-tls-httproute-only",
            passthrough(
                "tls", port, allowedRoutes={**from_namespaces("Same"), "kinds": [{"kind": "HTTPRoute"}]}
            ),
        ),
        gateway("gateway-https-only", listener("https", port, "HTTPS", tls=https)),
        gateway("gateway-tlsroute-tls-passthrough-only", passthrough("tls", port)),
        tls_route(
            "tlsroute-no-matching-listener", [ref("gateway-http-only")], ["abc.example.com"], [tls_backend()]
        ),
        tls_route(
            "tlsroute-not-allowed-kind",
            [ref("gateway-tls-httproute-only")],
            ["abc.example.com"],
            [tls_backend()],
        ),
        tls_route(
            "tlsroute-wrong-protocol", [ref("gateway-https-only")], ["abc.example.com"], [tls_backend()]
        ),
        tls_route(
            "tlsroute-no-matching-section-name",
            [ref("gateway-tlsroute-tls-passthrough-only", sectionName="not-a-listener")],
            ["abc.example.com"],
            [tls_backend()],
        ),
    )
    expected = {
        "tlsroute-no-matching-listener": ("gateway-http-only", "NotAllowedByListeners"),
        "tlsroute-not-allowed-kind": ("gateway-tls-httproute-only", "NotAllowedByListeners"),
        "tlsroute-wrong-protocol": ("gateway-https-only", "NotAllowedByListeners"),
        "tlsroute-no-matching-section-name": ("gateway-tlsroute-tls-passthrough-only", "NoMatchingParent"),
    }
    for route, (gw, reason) in expected.items():
        route_condition(tls, route, gw, "Accepted", "False", reason=reason)
    for route in expected:
        no_accepted_parents(tls, route)
    for gw in ("gateway-http-only", "gateway-tls-httproute-only", "gateway-https-only"):
        zero_routes(tls, gw)


def test_TLSRouteInvalidNoMatchingListenerHostname(tls: Suite) -> None:
    port = tls.ports[443]
    tls.apply(
        gateway("gateway-tls-exact-hostname", passthrough("tls", port, hostname="abc.example.com")),
        gateway("gateway-tls-wildcard-hostname", passthrough("tls", port, hostname="*.example.com")),
        tls_route(
            "tlsroute-hostname-mismatch-1",
            [ref("gateway-tls-exact-hostname")],
            ["xyz.example.com"],
            [tls_backend()],
        ),
        tls_route(
            "tlsroute-hostname-mismatch-2",
            [ref("gateway-tls-wildcard-hostname")],
            ["abc.example.net"],
            [tls_backend()],
        ),
    )
    for route, gw in (
        ("tlsroute-hostname-mismatch-1", "gateway-tls-exact-hostname"),
        ("tlsroute-hostname-mismatch-2", "gateway-tls-wildcard-hostname"),
    ):
        route_condition(tls, route, gw, "Accepted", "False", reason="NoMatchingListenerHostname")
        no_accepted_parents(tls, route)
        zero_routes(tls, gw)


# The four Gateways of tlsroute-hostname-intersection: (gateway, listener hostname, routes with theirs).
INTERSECTIONS: list[tuple[str, str | None, list[tuple[str, str, str]]]] = [
    ("gw-tlsroute-exact-hostname-x-1", "abc.example.com", [
        ("tlsroute-more-specific-wc-hostname-x-1", "*.example.com", "tls-backend"),
    ]),
    ("gw-tlsroute-more-specific-wc-hostname-x-2", "*.example.com", [
        ("tlsroute-exact-hostname-x-2", "abc.example.com", "tls-backend"),
        ("tlsroute-less-specific-wc-hostname-x-2", "*.com", "tls-backend-2"),
    ]),
    ("gw-tlsroute-less-specific-wc-hostname-x-3", "*.com", [
        ("tlsroute-exact-hostname-x-3", "abc.example.com", "tls-backend"),
        ("tlsroute-more-specific-wc-hostname-x-3", "*.example.com", "tls-backend-2"),
    ]),
    ("gw-tlsroute-empty-hostname-x-4", None, [
        ("tlsroute-exact-hostname-x-4", "abc.example.com", "tls-backend"),
        ("tlsroute-less-specific-wc-hostname-x-4", "*.com", "tls-backend-2"),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("gw", "listener_hostname", "routes"),
    INTERSECTIONS,
    ids=[
        "exact-listener",
        "more-specific-wildcard-listener",
        "less-specific-wildcard-listener",
        "no-listener-hostname",
    ],
)
def test_TLSRouteHostnameIntersection(
    tls: Suite, gw: str, listener_hostname: str | None, routes: list[tuple[str, str, str]]
) -> None:
    tls.apply(
        gateway(gw, passthrough("tls", tls.ports[443], hostname=listener_hostname)),
        *(tls_route(name, [ref(gw)], [host], [tls_backend(backend)]) for name, host, backend in routes),
    )
    address, _ = routes_accepted(tls, gw, [name for name, _, _ in routes])
    for name, _, _ in routes:
        route_condition(tls, name, gw, "ResolvedRefs", "True", reason="ResolvedRefs")
    reaches(tls, address, "abc.example.com", "tls-backend")
    if len(routes) == 2:
        reaches(tls, address, "other.example.com", "tls-backend-2")
    handshake_refused(tls, address, "non.matching.org" if listener_hostname is None else "non.matching.com")
