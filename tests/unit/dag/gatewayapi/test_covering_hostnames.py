"""Within one Gateway listener, a route on `*.com` also serves `example.com` (HTTPRouteMatchingAcrossRoutes).

Envoy consults only the most specific virtual host, so the processor copies the rules of covering
hostnames (wildcards, and the catch-all of routes without hostnames) into the more specific ones;
listeners stay isolated from each other.
"""

from __future__ import annotations

from typing import Any

from tests.unit.dag.gatewayapi.gateway_fixtures import (
    backend,
    build,
    cert_ref,
    gateway,
    gatewayclass,
    httproute,
    https_listener,
    listener,
    parent,
    secret,
    service,
)


def _with_prefix(route: dict[str, Any], prefix: str) -> dict[str, Any]:
    route["spec"]["rules"][0]["matches"] = [{"path": {"type": "PathPrefix", "value": prefix}}]
    return route


def _paths(built: Any, host: str) -> list[str]:
    vhost = built.dag.gateways[next(iter(built.dag.gateways))].listeners["http-8080"].virtual_hosts[host]
    return sorted(r.path_match.value for r in vhost.routes.values())


def test_a_wildcard_routes_rules_reach_a_more_specific_host_of_the_same_listener() -> None:
    built = build(
        gatewayclass(),
        gateway("gw", listener("http", 8080, "HTTP")),
        service("v1"),
        service("v2"),
        service("v3"),
        _with_prefix(
            httproute("part1", parents=[parent("gw")], hostnames=["example.com"], backends=[backend("v1")]),
            "/",
        ),
        _with_prefix(
            httproute("part2", parents=[parent("gw")], hostnames=["*.com"], backends=[backend("v2")]), "/v2"
        ),
        _with_prefix(httproute("any", parents=[parent("gw")], backends=[backend("v3")]), "/any"),
    )
    assert _paths(built, "example.com") == ["/", "/any", "/v2"]
    assert _paths(built, "*.com") == ["/any", "/v2"]
    assert _paths(built, "*") == ["/any"]


def test_a_more_specific_listener_does_not_get_a_broader_listeners_routes() -> None:
    built = build(
        gatewayclass(),
        gateway(
            "gw",
            listener("wild", 8080, "HTTP", hostname="*.example.com"),
            listener("foo", 8080, "HTTP", hostname="foo.example.com"),
        ),
        service("v1"),
        service("v2"),
        _with_prefix(
            httproute("wild", parents=[parent("gw", sectionName="wild")], backends=[backend("v1")]), "/w"
        ),
        _with_prefix(
            httproute("foo", parents=[parent("gw", sectionName="foo")], backends=[backend("v2")]), "/f"
        ),
    )
    assert _paths(built, "foo.example.com") == ["/f"]


def test_an_https_listener_keeps_a_catch_all_host_with_its_certificate() -> None:
    # HTTPRouteHTTPSListener: a name no route serves completes the handshake and gets a 404.
    built = build(
        gatewayclass(),
        gateway("gw", https_listener("https", 8443, cert_ref("tls"))),
        secret("tls"),
        service("v1"),
        httproute("r", parents=[parent("gw")], hostnames=["example.org"], backends=[backend("v1")]),
    )
    hosts = built.dag.gateways[next(iter(built.dag.gateways))].listeners["https-8443"].secure_virtual_hosts
    assert sorted(hosts) == ["*", "example.org"]
    assert hosts["*"].secret is not None
    assert not hosts["*"].virtual_host.routes
