"""Misdirected requests on a Gateway's HTTPS port (contour.envoy.gatewayapi_misdirected).

The Gateway of upstream's HTTPRouteHTTPSListenerDetectMisdirectedRequests (four HTTPS listeners on
one port: none, second-example.org, *.wildcard.org, fourth-example.wildcard.org) is built through
the processor and translated; each (SNI, Host) pair is then resolved the way Envoy does (filter chain
by server name: exact, longest wildcard, then the chain without one; virtual host by domain: exact,
longest wildcard suffix, then "*") and must give upstream's answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

from contour.dag.model import ObjectRef
from contour.envoy.gatewayapi_misdirected import owning_listener
from contour.envoy.gatewayapi_translate import translate_gateway
from contour.envoy.translate import LISTENER, ROUTE, TranslatorConfig
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    NS,
    Obj,
    backend,
    build,
    cert_ref,
    gateway,
    gatewayclass,
    httproute,
    https_listener,
    listener,
    parent,
    route,
    secret,
    service,
)

GW = ObjectRef(NS, "gw")
LISTENERS = {
    "https": None,
    "https-with-hostname": "second-example.org",
    "https-with-wildcard-hostname": "*.wildcard.org",
    "https-with-hostname-matching-wildcard": "fourth-example.wildcard.org",
}


def _resources(*listeners: Obj, routes: list[Obj]) -> dict[str, list[Any]]:
    services = [service(name) for name in ("v1", "v2", "v3", "v4")]
    built = build(gatewayclass(), secret("tls"), *services, gateway("gw", *listeners), *routes)
    return translate_gateway(built.dag.gateways[GW], TranslatorConfig())


def _conformance() -> dict[str, list[Any]]:
    listeners = [
        https_listener(name, 443, cert_ref("tls"), **({"hostname": host} if host else {}))
        for name, host in LISTENERS.items()
    ]
    targets = ["v1", "v2", "v3", "v4"]
    routes = [
        httproute(
            f"r{index}",
            parents=[parent("gw", sectionName=section)],
            backends=[backend(target)],
            hostnames=["example.org"] if section == "https" else None,
        )
        for index, (section, target) in enumerate(zip(LISTENERS, targets, strict=True))
    ]
    return _resources(*listeners, routes=routes)


def _takes(pattern: str, name: str) -> bool:
    return pattern.startswith("*.") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1


def _pick(candidates: list[str], name: str) -> str | None:
    """Envoy's choice among server names or domains: exact, then the longest wildcard, then "*"/none."""
    if name in candidates:
        return name
    wildcards = [c for c in candidates if _takes(c, name)]
    if wildcards:
        return max(wildcards, key=len)
    return "*" if "*" in candidates else None


def _answer(resources: dict[str, list[Any]], sni: str, host: str) -> str:
    """What Envoy answers: "421", "404", "no chain", or the Service of the chosen route."""
    (envoy_listener,) = resources[LISTENER]
    chains = {(c.filter_chain_match.server_names or ["*"])[0]: c for c in envoy_listener.filter_chains}
    chosen = _pick(list(chains), sni)
    if chosen is None:
        return "no chain"
    manager = hcm.HttpConnectionManager()
    chains[chosen].filters[0].typed_config.Unpack(manager)
    assert not any("misdirected request" in str(f) for f in manager.http_filters)
    config = next(r for r in resources[ROUTE] if r.name == manager.rds.route_config_name)
    vhosts = {d: v for v in config.virtual_hosts for d in v.domains}
    domain = _pick(list(vhosts), host)
    if domain is None:
        return "404"
    first = vhosts[domain].routes[0]
    if first.HasField("direct_response"):
        return str(first.direct_response.status)
    return str(first.route.cluster.split("/")[1])


# Upstream's cases; the fourth route's backend is its own Service here (upstream reuses v1).
CASES = [
    ("example.org", "example.org", "v1"),
    ("example.org", "second-example.org", "421"),
    ("example.org", "unknown-example.org", "404"),
    ("second-example.org", "second-example.org", "v2"),
    ("second-example.org", "example.org", "421"),
    ("second-example.org", "unknown-example.org", "421"),
    ("third-example.wildcard.org", "third-example.wildcard.org", "v3"),
    ("third-example.wildcard.org", "fith-example.wildcard.org", "v3"),
    ("third-example.wildcard.org", "fourth-example.wildcard.org", "421"),
    ("third-example.wildcard.org", "second-example.org", "421"),
    ("third-example.wildcard.org", "unknown-example.org", "421"),
    ("fourth-example.wildcard.org", "fourth-example.wildcard.org", "v4"),
    ("fourth-example.wildcard.org", "fith-example.wildcard.org", "421"),
    ("unknown-example.org", "example.org", "v1"),
    ("unknown-example.org", "unknown-example.org", "404"),
]


@pytest.mark.parametrize(("sni", "host", "expected"), CASES, ids=[f"{s}->{h}" for s, h, _ in CASES])
def test_upstream_misdirected_request_cases(sni: str, host: str, expected: str) -> None:
    assert _answer(_conformance(), sni, host) == expected


def test_one_chain_and_one_route_configuration_per_listener() -> None:
    resources = _conformance()
    (envoy_listener,) = resources[LISTENER]
    assert sorted((c.filter_chain_match.server_names or ["*"])[0] for c in envoy_listener.filter_chains) == [
        "*",
        "*.wildcard.org",
        "fourth-example.wildcard.org",
        "second-example.org",
    ]
    assert [r.name for r in resources[ROUTE]] == [
        "https-443/*",
        "https-443/*.wildcard.org",
        "https-443/fourth-example.wildcard.org",
        "https-443/second-example.org",
    ]


def test_hosts_of_one_listener_share_its_connections() -> None:
    """Two route hostnames on one listener: a connection for one may carry requests for the other."""
    resources = _resources(
        https_listener("https", 443, cert_ref("tls")),
        routes=[
            httproute("a", parents=[parent("gw")], hostnames=["a.example.com"], backends=[backend("v1")]),
            httproute("b", parents=[parent("gw")], hostnames=["b.example.com"], backends=[backend("v2")]),
        ],
    )
    assert _answer(resources, "a.example.com", "b.example.com") == "v2"
    assert _answer(resources, "b.example.com", "a.example.com") == "v1"
    assert _answer(resources, "b.example.com", "c.example.com") == "404"


def test_listener_with_hostname_refuses_other_hosts() -> None:
    resources = _resources(
        https_listener("https", 443, cert_ref("tls"), hostname="a.example.com"),
        routes=[httproute("a", parents=[parent("gw")], backends=[backend("v1")])],
    )
    assert _answer(resources, "a.example.com", "a.example.com") == "v1"
    assert _answer(resources, "a.example.com", "b.example.com") == "421"
    assert _answer(resources, "b.example.com", "a.example.com") == "no chain"


def test_tls_passthrough_chain_on_the_same_port_is_kept() -> None:
    resources = _resources(
        https_listener("https", 8443, cert_ref("tls"), hostname="h.example.com"),
        listener("tls", 8443, "TLS", hostname="p.example.com", tls={"mode": "Passthrough"}),
        routes=[
            httproute("h", parents=[parent("gw", sectionName="https")], backends=[backend("v1")]),
            route(
                "TLSRoute",
                "p",
                parents=[parent("gw", sectionName="tls")],
                hostnames=["p.example.com"],
                backends=[backend("v2")],
            ),
        ],
    )
    (envoy_listener,) = resources[LISTENER]
    names = sorted(c.filter_chain_match.server_names[0] for c in envoy_listener.filter_chains)
    assert names == ["h.example.com", "p.example.com"]
    assert _answer(resources, "h.example.com", "h.example.com") == "v1"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("second-example.org", "second-example.org"),
        ("a.wildcard.org", "*.wildcard.org"),
        ("a.b.wildcard.org", "*.wildcard.org"),
        ("fourth-example.wildcard.org", "fourth-example.wildcard.org"),
        ("wildcard.org", "*"),
        ("example.org", "*"),
    ],
)
def test_owning_listener_is_the_most_specific(host: str, expected: str) -> None:
    assert owning_listener(
        host, ["*", "second-example.org", "*.wildcard.org", "fourth-example.wildcard.org"]
    ) == (expected)


def test_owning_listener_without_catch_all() -> None:
    assert owning_listener("other.org", ["a.org", "*.b.org"]) is None
