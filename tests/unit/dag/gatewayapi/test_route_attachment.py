"""Route attachment and route status parents (reference gateway-api.md 6.4-6.5).

Each case builds a Gateway and routes through the Gateway API processor and checks the route's
`status.parents`, the listener's attachedRoutes and what lands in the Gateway's own DAG.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.gatewayapi_attach import effective_hostnames, intersect_hostname
from contour.dag.model import ObjectRef
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    CONTROLLER,
    NS,
    Obj,
    backend,
    build,
    build_cache,
    cache_of,
    cert_ref,
    gateway,
    gatewayclass,
    httproute,
    https_listener,
    listener,
    namespace,
    parent,
    reference_grant,
    route,
    secret,
    service,
)

GW = ObjectRef(NS, "gw")


def _objects(*extra: Obj, listeners: list[Obj] | None = None) -> list[Obj]:
    gw = gateway("gw", *(listeners or [listener("http", 80, "HTTP")]))
    return [gatewayclass(), secret("tls"), service("svc"), namespace(NS), gw, *extra]


def _accepted(built: Any, name: str = "r", plural: str = "httproutes") -> tuple[str, str]:
    cond = built.route_condition(name, "Accepted", plural)
    return cond["status"], cond["reason"]


def test_attached_route_is_accepted_and_counted() -> None:
    built = build(*_objects(httproute("r", parents=[parent("gw")], generation=5)))
    parents = built.parents("httproutes", "r")
    assert len(parents) == 1
    assert parents[0]["parentRef"] == {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}
    assert parents[0]["controllerName"] == CONTROLLER
    assert [
        (c["type"], c["status"], c["reason"], c["observedGeneration"]) for c in parents[0]["conditions"]
    ] == [
        ("Accepted", "True", "Accepted", 5),
        ("ResolvedRefs", "True", "ResolvedRefs", 5),
    ]
    assert built.listener_status("http")["attachedRoutes"] == 1


def test_parent_ref_is_echoed_as_given() -> None:
    ref = parent("gw", namespace=NS, sectionName="http", port=80)
    built = build(*_objects(httproute("r", parents=[ref])))
    assert built.parents("httproutes", "r")[0]["parentRef"] == {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "namespace": NS,
        "name": "gw",
        "sectionName": "http",
        "port": 80,
    }


@pytest.mark.parametrize(
    ("parent_ref", "expected"),
    [
        pytest.param(parent("gw", sectionName="http"), ("True", "Accepted"), id="sectionName"),
        pytest.param(
            parent("gw", sectionName="nope"),
            ("False", "NoMatchingParent"),
            id="HTTPRouteInvalidParentRefNotMatchingSectionName",
        ),
        pytest.param(parent("gw", port=80), ("True", "Accepted"), id="port"),
        pytest.param(parent("gw", port=81), ("False", "NoMatchingParent"), id="port-not-matching"),
        pytest.param(
            parent("gw", sectionName="http", port=8080),
            ("False", "NoMatchingParent"),
            id="HTTPRouteInvalidParentRefSectionNameNotMatchingPort",
        ),
    ],
)
def test_parent_ref_selects_listeners(parent_ref: Obj, expected: tuple[str, str]) -> None:
    listeners = [listener("http", 80, "HTTP"), listener("other", 8080, "HTTP")]
    built = build(*_objects(httproute("r", parents=[parent_ref]), listeners=listeners))
    assert _accepted(built) == expected


@pytest.mark.parametrize(
    ("allowed", "labels", "expected"),
    [
        pytest.param({"namespaces": {"from": "Same"}}, {}, ("False", "NotAllowedByListeners"), id="Same"),
        pytest.param({"namespaces": {"from": "All"}}, {}, ("True", "Accepted"), id="All"),
        pytest.param(
            {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"}}}},
            {"team": "a"},
            ("True", "Accepted"),
            id="Selector-matchLabels",
        ),
        pytest.param(
            {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"}}}},
            {"team": "b"},
            ("False", "NotAllowedByListeners"),
            id="Selector-not-matching",
        ),
        pytest.param(
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {
                        "matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]
                    },
                }
            },
            {"team": "b"},
            ("True", "Accepted"),
            id="Selector-matchExpressions",
        ),
        pytest.param(
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {"matchLabels": {"kubernetes.io/metadata.name": "apps"}},
                }
            },
            {},
            ("True", "Accepted"),
            id="Selector-namespace-name-label",
        ),
    ],
)
def test_allowed_routes_namespaces(allowed: Obj, labels: dict[str, str], expected: tuple[str, str]) -> None:
    gw_listener = listener("http", 80, "HTTP", allowedRoutes=allowed)
    r = httproute("r", namespace="apps", parents=[parent("gw", namespace=NS)], backends=[backend("svc")])
    built = build(*_objects(namespace("apps", **labels), service("svc", "apps"), r, listeners=[gw_listener]))
    cond = next(c for c in built.statuses[("httproutes", ObjectRef("apps", "r"))]["parents"][0]["conditions"])
    assert (cond["status"], cond["reason"]) == expected


def test_kind_not_allowed_by_listener() -> None:
    r = route("TCPRoute", "t", parents=[parent("gw")])
    built = build(*_objects(r))
    assert _accepted(built, "t", "tcproutes") == ("False", "NotAllowedByListeners")


def test_route_with_no_matching_hostname_is_not_counted() -> None:
    listeners = [listener("http", 80, "HTTP", hostname="a.example.com")]
    built = build(
        *_objects(httproute("r", parents=[parent("gw")], hostnames=["b.example.com"]), listeners=listeners)
    )
    assert _accepted(built) == ("False", "NoMatchingListenerHostname")
    assert built.listener_status("http")["attachedRoutes"] == 0


def test_https_listener_with_a_missing_certificate_still_counts_routes() -> None:
    listeners = [https_listener("https", 443, cert_ref("missing"))]
    built = build(*_objects(httproute("r", parents=[parent("gw")]), listeners=listeners))
    assert built.listener_status("https")["attachedRoutes"] == 1
    assert _accepted(built) == ("True", "Accepted")


def test_route_to_a_gateway_of_another_controller_gets_no_status() -> None:
    other = gateway("other", listener("http", 80, "HTTP"), gateway_class="theirs")
    built = build(*_objects(other, httproute("r", parents=[parent("other")])))
    assert ("httproutes", ObjectRef(NS, "r")) not in built.statuses


def test_other_controllers_parent_entries_are_kept() -> None:
    theirs = {
        "parentRef": {"name": "elsewhere"},
        "controllerName": "example.com/other",
        "conditions": [
            {
                "type": "Accepted",
                "status": "True",
                "reason": "Accepted",
                "message": "",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            }
        ],
    }
    r = httproute("r", parents=[parent("gw")], status={"parents": [theirs]})
    parents = build(*_objects(r)).parents("httproutes", "r")
    assert parents[0] == theirs
    assert parents[1]["controllerName"] == CONTROLLER


def test_our_stale_entry_is_removed_when_the_route_leaves_our_gateway() -> None:
    ours = {"parentRef": {"name": "gw"}, "controllerName": CONTROLLER, "conditions": []}
    r = httproute("r", parents=[parent("elsewhere")], status={"parents": [ours]})
    assert build(*_objects(r)).parents("httproutes", "r") == []


def test_our_stale_entry_is_removed_when_no_gateway_class_of_ours_is_left() -> None:
    ours = {"parentRef": {"name": "gw"}, "controllerName": CONTROLLER, "conditions": []}
    theirs = {"parentRef": {"name": "other"}, "controllerName": "example.com/other", "conditions": []}
    r = httproute("r", parents=[parent("gw")], status={"parents": [ours, theirs]})
    assert build(r).parents("httproutes", "r") == [theirs]


def test_unchanged_condition_keeps_its_transition_time() -> None:
    r = httproute("r", parents=[parent("gw")])
    cache = cache_of(*_objects(r))
    cache.set_gateway_address(GW, "127.0.1.1")
    status = build_cache(cache).statuses[("httproutes", ObjectRef(NS, "r"))]
    assert all("lastTransitionTime" not in c for c in status["parents"][0]["conditions"])
    for cond in status["parents"][0]["conditions"]:
        cond["lastTransitionTime"] = "2024-02-02T00:00:00Z"
    cache.record_gateway_api_status({**r, "status": status})
    again = build_cache(cache).parents("httproutes", "r")[0]["conditions"]
    assert [c["lastTransitionTime"] for c in again] == ["2024-02-02T00:00:00Z"] * 2


def test_unchanged_listener_condition_keeps_its_transition_time() -> None:
    gw = gateway("gw", listener("http", 80, "HTTP"))
    cache = cache_of(gatewayclass(), gw)
    cache.set_gateway_address(GW, "127.0.1.1")
    status = build_cache(cache).statuses[("gateways", GW)]
    status["listeners"][0]["conditions"][0]["lastTransitionTime"] = "2024-02-02T00:00:00Z"
    cache.record_gateway_api_status({**gw, "status": status})
    again = build_cache(cache).listener_status("http")["conditions"]
    assert [c.get("lastTransitionTime") for c in again] == ["2024-02-02T00:00:00Z", None, None, None]


def test_backend_problems_set_resolved_refs_but_keep_the_route_accepted() -> None:
    built = build(*_objects(httproute("r", parents=[parent("gw")], backends=[backend("missing")])))
    assert _accepted(built) == ("True", "Accepted")
    resolved = built.route_condition("r", "ResolvedRefs")
    assert (resolved["status"], resolved["reason"]) == ("False", "BackendNotFound")


# --- L4 routes -----------------------------------------------------------------------------------------

L4_LISTENERS = [
    listener("tcp", 9000, "TCP"),
    listener("udp", 9001, "UDP"),
    listener("tls", 443, "TLS", tls={"mode": "Passthrough"}),
]
CROSS_GRANT = reference_grant(
    "g",
    "backends",
    [{"group": "gateway.networking.k8s.io", "kind": "TCPRoute", "namespace": NS}],
    [{"group": "", "kind": "Service"}],
)


@pytest.mark.parametrize(
    ("backends", "extra", "expected"),
    [
        pytest.param([backend("svc")], [], ("True", "ResolvedRefs"), id="TCPRouteMultipleRoutesAttachment"),
        pytest.param(
            [backend("missing")], [], ("False", "BackendNotFound"), id="TCPRouteInvalidBackendRefNonexistent"
        ),
        pytest.param(
            [backend("svc", namespace="backends")],
            [service("svc", "backends")],
            ("False", "RefNotPermitted"),
            id="TCPRouteInvalidCrossNamespaceBackendRef",
        ),
        pytest.param(
            [backend("svc", namespace="backends")],
            [service("svc", "backends"), CROSS_GRANT],
            ("True", "ResolvedRefs"),
            id="TCPRouteReferenceGrant",
        ),
        pytest.param(
            [backend("svc", kind="Other", group="example.com")],
            [],
            ("False", "InvalidKind"),
            id="unknown-kind",
        ),
    ],
)
def test_tcproute_backends(backends: list[Obj], extra: list[Obj], expected: tuple[str, str]) -> None:
    r = route("TCPRoute", "t", parents=[parent("gw", sectionName="tcp")], backends=backends)
    built = build(*_objects(*extra, r, listeners=L4_LISTENERS))
    assert _accepted(built, "t", "tcproutes") == ("True", "Accepted")
    resolved = built.route_condition("t", "ResolvedRefs", "tcproutes")
    assert (resolved["status"], resolved["reason"]) == expected


def test_tcproute_to_a_non_tcp_listener_is_not_allowed() -> None:
    r = route("TCPRoute", "t", parents=[parent("gw", sectionName="udp")])
    assert _accepted(build(*_objects(r, listeners=L4_LISTENERS)), "t", "tcproutes") == (
        "False",
        "NotAllowedByListeners",
    )


def test_tcproute_without_section_attaches_to_every_tcp_listener() -> None:
    listeners = [listener("a", 9000, "TCP"), listener("b", 9002, "TCP")]
    built = build(*_objects(route("TCPRoute", "t", parents=[parent("gw")]), listeners=listeners))
    gw = built.dag.gateways[GW]
    assert {n: [c.upstream.ref.name for c in x.clusters] for n, x in gw.tcp_listeners.items()} == {
        "tcp-9000": ["svc"],
        "tcp-9002": ["svc"],
    }
    assert [built.listener_status(n)["attachedRoutes"] for n in ("a", "b")] == [1, 1]


def test_udproute_lands_on_the_udp_listener() -> None:
    built = build(*_objects(route("UDPRoute", "u", parents=[parent("gw")]), listeners=L4_LISTENERS))
    assert [c.upstream.ref.name for c in built.dag.gateways[GW].udp_listeners["udp-9001"].clusters] == ["svc"]


def test_tlsroute_passthrough_becomes_an_sni_tcp_proxy_without_certificate() -> None:
    r = route("TLSRoute", "s", parents=[parent("gw")], hostnames=["p.example.com"])
    built = build(*_objects(r, listeners=L4_LISTENERS))
    svh = built.dag.gateways[GW].listeners["https-443"].secure_virtual_hosts["p.example.com"]
    assert svh.secret is None
    assert [c.upstream.ref.name for c in svh.tcp_proxy or []] == ["svc"]


def test_tlsroute_terminate_uses_the_listener_certificate() -> None:
    terminate = https_listener("tls", 443, cert_ref("tls"), protocol="TLS")
    r = route("TLSRoute", "s", parents=[parent("gw")], hostnames=["p.example.com"])
    svh = (
        build(*_objects(r, listeners=[terminate]))
        .dag.gateways[GW]
        .listeners["https-443"]
        .secure_virtual_hosts["p.example.com"]
    )
    assert svh.secret is not None and svh.secret.ref == ObjectRef(NS, "tls")


# --- HTTP routes in the Gateway's DAG --------------------------------------------------------------------


def test_http_routes_land_on_the_listener_hostnames() -> None:
    listeners = [listener("http", 80, "HTTP", hostname="*.example.com")]
    built = build(*_objects(httproute("r", parents=[parent("gw")]), listeners=listeners))
    assert list(built.dag.gateways[GW].listeners["http-80"].virtual_hosts) == ["*.example.com"]


def test_https_routes_get_secure_hosts_with_the_listener_certificate() -> None:
    listeners = [https_listener("https", 443, cert_ref("tls"))]
    built = build(
        *_objects(httproute("r", parents=[parent("gw")], hostnames=["a.example.com"]), listeners=listeners)
    )
    svh = built.dag.gateways[GW].listeners["https-443"].secure_virtual_hosts["a.example.com"]
    assert svh.secret is not None and svh.secret.ref == ObjectRef(NS, "tls")
    assert built.dag.gateways[GW].secrets == {ObjectRef(NS, "tls"): svh.secret}


def test_older_route_keeps_a_match_a_newer_one_repeats() -> None:
    old = httproute("old", parents=[parent("gw")], backends=[backend("svc")], created="2024-01-01T00:00:00Z")
    new = httproute(
        "new", parents=[parent("gw")], backends=[backend("other")], created="2024-01-02T00:00:00Z"
    )
    built = build(*_objects(service("other"), new, old))
    routes = built.dag.gateways[GW].listeners["http-80"].virtual_hosts["*"].routes
    assert [c.upstream.ref.name for r in routes.values() for c in r.clusters] == ["svc"]
    assert built.listener_status("http")["attachedRoutes"] == 2


def test_gateway_dag_lists_the_services_for_eds() -> None:
    built = build(*_objects(httproute("r", parents=[parent("gw")])))
    assert list(built.dag.gateways[GW].services) == [f"{NS}/svc/http"]
    assert built.dag.services == {}


# --- hostname intersection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listener_host", "route_host", "served"),
    [
        ("", "a.example.com", "a.example.com"),
        ("a.example.com", "a.example.com", "a.example.com"),
        ("*.example.com", "a.example.com", "a.example.com"),
        ("*.example.com", "a.b.example.com", "a.b.example.com"),
        ("*.example.com", "example.com", None),
        ("a.example.com", "*.example.com", "a.example.com"),
        ("*.example.com", "*.foo.example.com", "*.foo.example.com"),
        ("*.foo.example.com", "*.example.com", "*.foo.example.com"),
        ("a.example.com", "b.example.com", None),
    ],
)
def test_intersect_hostname(listener_host: str, route_host: str, served: str | None) -> None:
    assert intersect_hostname(listener_host, route_host) == served


def test_effective_hostnames_of_a_route_without_hostnames_is_the_listeners() -> None:
    assert effective_hostnames("a.example.com", []) == ("a.example.com",)
    assert effective_hostnames("", []) == ()


ISOLATION_LISTENERS = [
    listener("empty", 80, "HTTP"),
    listener("wild", 80, "HTTP", hostname="*.example.com"),
    listener("wild-foo", 80, "HTTP", hostname="*.foo.example.com"),
    listener("abc", 80, "HTTP", hostname="abc.foo.example.com"),
]


@pytest.mark.parametrize(
    ("section", "hostnames", "hosts"),
    [
        pytest.param("empty", None, ["*"], id="GatewayHTTPListenerIsolation-empty"),
        pytest.param("wild", None, ["*.example.com"], id="GatewayHTTPListenerIsolation-wildcard"),
        pytest.param("abc", None, ["abc.foo.example.com"], id="GatewayHTTPListenerIsolation-exact"),
        pytest.param("empty", ["bar.example.com"], [], id="host-a-more-specific-listener-takes"),
        pytest.param("empty", ["other.org"], ["other.org"], id="host-no-other-listener-takes"),
        pytest.param("wild", ["x.foo.example.com", "x.example.com"], ["x.example.com"], id="partly-taken"),
    ],
)
def test_listener_isolation(section: str, hostnames: list[str] | None, hosts: list[str]) -> None:
    r = httproute("r", parents=[parent("gw", sectionName=section)], hostnames=hostnames)
    built = build(*_objects(r, listeners=ISOLATION_LISTENERS))
    assert _accepted(built) == ("True", "Accepted")
    assert sorted(built.dag.gateways[GW].listeners["http-80"].virtual_hosts) == hosts
