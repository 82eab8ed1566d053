# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP extended conformance tests of Gateway API v1.6.1 for frontend TLS and listener isolation.

Client certificate validation (spec.tls.frontend default and perPort, AllowValidOnly and
AllowInsecureFallback, invalid CA references), HTTP listener isolation, and misdirected-request (421)
detection on HTTPS listeners sharing a port. Manifests are upstream's tests/<name>.yaml; listener
ports other than 80/443 (6443, 7443, 8443) are mapped to free unprivileged ports like the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.gatewayapi.base_manifests import (
    INFRA,
    Manifest,
    backend,
    from_namespaces,
    gateway,
    http_route,
    https_listener,
    listener,
    parent,
)
from tests.e2e.gatewayapi.client_certs import (
    DEFAULT_CA,
    PER_PORT_CA,
    FrontendPKI,
    Sender,
    expect_consistent_tls,
    expect_tls_failure,
    send_h1,
    send_h2,
    tls_client,
)
from tests.e2e.gatewayapi.roundtrip import Case
from tests.e2e.gatewayapi.suite import Suite, conditions_of
from tests.e2e.run_tls_support import Authority
from tests.support.contour_run import free_port

V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"
SAME = from_namespaces("Same")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> FrontendPKI:
    return FrontendPKI.create(tmp_path_factory.mktemp("frontend-pki"))


@pytest.fixture(scope="module")
def extra_ports() -> dict[int, int]:
    """Upstream listener ports these tests add to the base's 80/443 -> the ports used here."""
    return {p: free_port() for p in (6443, 7443, 8443)}


@pytest.fixture
def frontend(suite: Suite, pki: FrontendPKI) -> Iterator[Suite]:
    """The suite with upstream Setup's client CA ConfigMaps applied."""
    suite.apply(*pki.configmaps())
    yield suite


def ca_ref(name: str, kind: str = "ConfigMap", **fields: Any) -> Manifest:
    return {"kind": kind, "group": "", "name": name, **fields}


def validation(*refs: Manifest, mode: str | None = None) -> Manifest:
    found: Manifest = {"caCertificateRefs": list(refs)}
    if mode is not None:
        found["mode"] = mode
    return {"validation": found}


def frontend_tls(default: Manifest, per_port: dict[int, Manifest]) -> Manifest:
    return {
        "frontend": {
            "default": default,
            "perPort": [{"port": port, "tls": tls} for port, tls in per_port.items()],
        }
    }


def https(name: str, port: int, **fields: Any) -> Manifest:
    return https_listener(name, port, allowedRoutes=SAME, **fields)


def simple_route(name: str, gw: str, target: str, **spec: Any) -> Manifest:
    return http_route(
        name,
        parentRefs=[parent(gw, None, **spec.pop("ref", {}))],
        rules=[{"backendRefs": [backend(target)]}],
        **spec,
    )


def listener_conditions(suite: Suite, gw: str, name: str, expected: dict[str, tuple[str, str]]) -> None:
    """`GatewayListenerMustHaveConditions`: each (status, reason) ⊆ the listener's, "" = any reason."""

    def ok(entries: list[Manifest]) -> bool:
        entry = next((e for e in entries if e["name"] == name), None)
        if entry is None:
            return False
        found = conditions_of(entry)
        return all(
            kind in found and found[kind][0] == status and (not reason or found[kind][1] == reason)
            for kind, (status, reason) in expected.items()
        )

    suite.listeners(gw, ok, f"listener {gw}/{name}: {expected}")


ALL_TRUE = {kind: ("True", "") for kind in ("ResolvedRefs", "Accepted", "Programmed")}


# -- client certificate validation ------------------------------------------------------------------


def _client_validation_gateway(
    suite: Suite, extra_ports: dict[int, int], name: str, routes: tuple[str, str], mode: str | None
) -> str:
    """Upstream's two-listener Gateway (https :443, https-with-hostname :8443) and its two routes."""
    port_443, port_8443 = suite.ports[443], extra_ports[8443]
    suite.apply(
        gateway(
            name,
            https("https", port_443),
            https("https-with-hostname", port_8443, hostname="second-example.org"),
            tls=frontend_tls(
                validation(ca_ref(DEFAULT_CA), mode=mode),
                {port_8443: validation(ca_ref(PER_PORT_CA), mode=mode)},
            ),
        ),
        simple_route(routes[0], name, V1, hostnames=["example.org"]),
        simple_route(routes[1], name, V2, ref={"sectionName": "https-with-hostname"}),
    )
    address = suite.gateway_and_routes_accepted(name, routes)
    for route in routes:
        suite.resolved_refs_true(route, name)
    return address


def test_GatewayFrontendClientCertificateValidation(
    frontend: Suite, pki: FrontendPKI, authority: Authority, extra_ports: dict[int, int]
) -> None:
    suite = frontend
    routes = (
        "client-certificate-validation-https-test",
        "client-certificate-validation-https-test-no-hostname",
    )
    address = _client_validation_gateway(suite, extra_ports, "client-validation-default", routes, None)
    default_client = tls_client(authority, pki.default_client)
    per_port_client = tls_client(authority, pki.per_port_client)

    # Validate default configuration (listener https on 443).
    on_443 = Case(host="example.org", https=True, backend=V1, namespace=INFRA)
    expect_consistent_tls(address, suite.ports[443], on_443, default_client)
    expect_tls_failure(address, suite.ports[443], on_443, per_port_client)
    # Not in the upstream body: no client certificate at all is refused too (AllowValidOnly).
    expect_tls_failure(address, suite.ports[443], on_443, tls_client(authority))

    # Validate per port configuration (listener https-with-hostname on 8443).
    on_8443 = Case(host="second-example.org", https=True, backend=V2, namespace=INFRA)
    expect_consistent_tls(address, extra_ports[8443], on_8443, per_port_client)
    expect_tls_failure(address, extra_ports[8443], on_8443, default_client)
    expect_tls_failure(address, extra_ports[8443], on_8443, tls_client(authority))


def test_GatewayFrontendClientCertificateValidationInsecureFallback(
    frontend: Suite, pki: FrontendPKI, authority: Authority, extra_ports: dict[int, int]
) -> None:
    suite = frontend
    name = "client-validation-insecure-fallback"
    routes = (
        "client-cert-validation-insecure-fallback-test",
        "client-cert-validation-insecure-fallback-test-no-hostname",
    )
    address = _client_validation_gateway(suite, extra_ports, name, routes, "AllowInsecureFallback")
    suite.gateway_condition(name, "InsecureFrontendValidationMode", "True", "ConfigurationChanged")

    clients = {
        "matching": (pki.default_client, pki.per_port_client),
        "non-matching": (pki.per_port_client, pki.default_client),
        "without": (None, None),
    }
    for for_443, for_8443 in clients.values():
        on_443 = Case(host="example.org", https=True, backend=V1, namespace=INFRA)
        expect_consistent_tls(address, suite.ports[443], on_443, tls_client(authority, for_443))
        on_8443 = Case(host="second-example.org", https=True, backend=V2, namespace=INFRA)
        expect_consistent_tls(address, extra_ports[8443], on_8443, tls_client(authority, for_8443))


def test_GatewayFrontendInvalidDefaultClientCertificateValidation(
    frontend: Suite, authority: Authority
) -> None:
    suite = frontend
    name = "invalid-default-client-validation-config"
    suite.apply(
        gateway(
            name,
            https("https", suite.ports[443]),
            listener("http", suite.ports[80], allowedRoutes=SAME),
            tls=frontend_tls(
                validation(ca_ref("does-not-exist")), {suite.ports[80]: validation(ca_ref(PER_PORT_CA))}
            ),
        ),
        simple_route(name, name, V1, hostnames=["example.org"]),
    )
    address = suite.gateway_address(name)

    # Validate tls configuration does not impact HTTP listener.
    listener_conditions(suite, name, "http", ALL_TRUE)
    suite.expect(address, [Case(host="example.org", backend=V1, namespace=INFRA)], port=suite.ports[80])

    # Validate that invalid default configuration is impacting HTTPS listener.
    listener_conditions(
        suite,
        name,
        "https",
        {
            "ResolvedRefs": ("False", "InvalidCACertificateRef"),
            "Accepted": ("False", "NoValidCACertificate"),
            "Programmed": ("False", ""),
        },
    )
    expect_tls_failure(address, suite.ports[443], Case(host="example.org", https=True), tls_client(authority))


def test_GatewayInvalidFrontendClientCertificateValidation(
    frontend: Suite, extra_ports: dict[int, int]
) -> None:
    suite = frontend
    name = "gateway-with-invalid-client-cert-validation"
    p6443, p7443, p8443 = extra_ports[6443], extra_ports[7443], extra_ports[8443]
    suite.apply(
        gateway(
            name,
            https("https", suite.ports[443]),
            https("https-unresolved", p7443, hostname="first-example.org"),
            https("https-invalid-kind", p8443, hostname="second-example.org"),
            https("https-grant-missing", p6443, hostname="fourth-example.org"),
            tls=frontend_tls(
                validation(ca_ref(DEFAULT_CA)),
                {
                    p7443: validation(ca_ref("non-exisitng-cm")),
                    p8443: validation(ca_ref("infra-backend-v2", kind="Service")),
                    # Upstream's ref has name and namespace swapped: a namespace without any ReferenceGrant.
                    p6443: validation(ca_ref("gateway-conformance-web-backend", namespace="web-backend-cm")),
                },
            ),
        ),
        # Upstream's route names a parent that does not exist (client-validation-invalid); kept as is.
        simple_route(
            "misconfigured-client-certificate-validation-https-test",
            "client-validation-invalid",
            V1,
            hostnames=["example.org"],
        ),
    )

    def refused(resolved_refs: str) -> dict[str, tuple[str, str]]:
        return {
            "ResolvedRefs": ("False", resolved_refs),
            "Accepted": ("False", "NoValidCACertificate"),
            "Programmed": ("False", ""),
        }

    cases = {
        "https": ALL_TRUE,
        "https-unresolved": refused("InvalidCACertificateRef"),
        "https-invalid-kind": refused("InvalidCACertificateKind"),
        "https-grant-missing": refused("RefNotPermitted"),
    }
    for listener_name, expected in cases.items():
        listener_conditions(suite, name, listener_name, expected)


# -- listener isolation --------------------------------------------------------------------------------

ISOLATION_LISTENERS = {
    "empty-hostname": None,
    "wildcard-example-com": "*.example.com",
    "wildcard-foo-example-com": "*.foo.example.com",
    "abc-foo-example-com": "abc.foo.example.com",
}


def _isolation_cases() -> list[Case]:
    served = {
        "bar.com": "/empty-hostname",
        "bar.example.com": "/wildcard-example-com",
        "bar.foo.example.com": "/wildcard-foo-example-com",
        "abc.foo.example.com": "/abc-foo-example-com",
    }
    return [
        Case(host=host, path=f"/{path}", backend=V1, namespace=INFRA)
        if served[host] == f"/{path}"
        else Case(host=host, path=f"/{path}", status=(404,))
        for host in served
        for path in ISOLATION_LISTENERS
    ]


@pytest.mark.parametrize(
    "intersection", [False, True], ids=["hostnames-only-in-listeners", "with-hostname-intersection"]
)
def test_GatewayHTTPListenerIsolation(suite: Suite, intersection: bool) -> None:
    suffix = "-with-hostname-intersection" if intersection else ""
    name = f"http-listener-isolation{suffix}"
    route_hosts = ["bar.com", "*.example.com", "*.foo.example.com", "abc.foo.example.com"]
    listeners = [
        listener(
            section, suite.ports[80], allowedRoutes=from_namespaces("All"), **({"hostname": h} if h else {})
        )
        for section, h in ISOLATION_LISTENERS.items()
    ]
    hostnames: Manifest = {"hostnames": route_hosts} if intersection else {}
    routes = [
        http_route(
            f"attaches-to-{section}{suffix}",
            parentRefs=[parent(name, sectionName=section)],
            rules=[
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": f"/{section}"}}],
                    "backendRefs": [backend(V1)],
                }
            ],
            **hostnames,
        )
        for section in ISOLATION_LISTENERS
    ]
    suite.apply(gateway(name, *listeners), *routes)
    names = [r["metadata"]["name"] for r in routes]
    address = suite.gateway_and_routes_accepted(name, names)
    for route in names:
        suite.resolved_refs_true(route, name)
    suite.expect(address, _isolation_cases())


# -- misdirected requests --------------------------------------------------------------------------------

# Upstream's base listener names -> this suite's base (same hostnames, see base_manifests.py).
BASE_HTTPS_LISTENERS = {
    "https": "https",
    "https-with-hostname": "second-example",
    "https-with-wildcard-hostname": "wildcard-example",
    "https-with-hostname-matching-wildcard": "fourth-example",
}

MISDIRECTED = [
    # (SNI, Host, status, backend)
    ("example.org", "example.org", 200, V1),
    ("example.org", "second-example.org", 421, None),
    ("example.org", "unknown-example.org", 404, None),
    ("second-example.org", "second-example.org", 200, V2),
    ("second-example.org", "example.org", 421, None),
    ("second-example.org", "unknown-example.org", 421, None),
    ("third-example.wildcard.org", "third-example.wildcard.org", 200, V3),
    ("third-example.wildcard.org", "fith-example.wildcard.org", 200, V3),
    ("third-example.wildcard.org", "fourth-example.wildcard.org", 421, None),
    ("third-example.wildcard.org", "second-example.org", 421, None),
    ("third-example.wildcard.org", "unknown-example.org", 421, None),
    ("fourth-example.wildcard.org", "fourth-example.wildcard.org", 200, V1),
    ("fourth-example.wildcard.org", "fith-example.wildcard.org", 421, None),
    ("unknown-example.org", "example.org", 200, V1),
    ("unknown-example.org", "unknown-example.org", 404, None),
]


@pytest.mark.parametrize("sender", [send_h2, send_h1], ids=["HTTP/2", "HTTP/1.1"])
def test_HTTPRouteHTTPSListenerDetectMisdirectedRequests(suite: Suite, sender: Sender) -> None:
    gw = "same-namespace-with-https-listener"
    # The routes of the upstream YAML whose cases these are (test-1 on listener https with hostname
    # example.org, the others on one listener each without hostnames).
    targets: list[tuple[str, str, list[str] | None]] = [
        ("https", V1, ["example.org"]),
        ("https-with-hostname", V2, None),
        ("https-with-wildcard-hostname", V3, None),
        ("https-with-hostname-matching-wildcard", V1, None),
    ]
    names: list[str] = []
    for index, (section, target, hosts) in enumerate(targets, start=1):
        names.append(f"https-listener-detect-misdirected-requests-test-{index}")
        extra: Manifest = {"hostnames": hosts} if hosts else {}
        suite.apply(
            http_route(
                names[-1],
                parentRefs=[parent(gw, None, sectionName=BASE_HTTPS_LISTENERS[section])],
                rules=[
                    {
                        "matches": [
                            {"path": {"type": "PathPrefix", "value": "/detect-misdirected-requests"}}
                        ],
                        "backendRefs": [backend(target)],
                    }
                ],
                **extra,
            )
        )
    address = suite.gateway_and_routes_accepted(gw, names)
    for route in names:
        suite.resolved_refs_true(route, gw)
    for sni, host, status, answered_by in MISDIRECTED:
        case = Case(
            host=host,
            sni=sni,
            path="/detect-misdirected-requests",
            https=True,
            status=(status,),
            backend=answered_by,
            namespace=INFRA if answered_by else None,
        )
        expect_consistent_tls(address, suite.ports[443], case, suite.https_context, sender)
