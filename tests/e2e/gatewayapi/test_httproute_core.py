# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP core conformance tests of Gateway API v1.6.1 for HTTPRoute, one test per upstream test.

Each test is named after the upstream ShortName and reproduces its manifests (tests/<name>.yaml,
adapted to the local ports) and its assertions: route and Gateway conditions read through the API, and
request cases that must each pass 3 times in a row within 30 s (roundtrip.expect_consistent).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.e2e.gatewayapi.base_manifests import (
    APP,
    INFRA,
    WEB,
    Manifest,
    backend,
    from_namespaces,
    gateway,
    http_route,
    listener,
    parent,
    reference_grant,
    service,
)
from tests.e2e.gatewayapi.echo_pods import EchoPod
from tests.e2e.gatewayapi.roundtrip import Case, send
from tests.e2e.gatewayapi.suite import Suite

V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"


def rule(*backends: Manifest, matches: list[Manifest] | None = None, **fields: Any) -> Manifest:
    built: Manifest = {"backendRefs": list(backends), **fields}
    if matches is not None:
        built["matches"] = matches
    return built


def path(value: str, kind: str = "PathPrefix") -> Manifest:
    return {"path": {"type": kind, "value": value}}


def headers(**values: str) -> Manifest:
    return {"headers": [{"name": name, "value": value} for name, value in values.items()]}


def to(name: str, backend_name: str, host: str = "", ns: str = INFRA, **fields: Any) -> Case:
    return Case(host=host, backend=backend_name, namespace=ns, **fields)


def test_HTTPRouteSimpleSameNamespace(suite: Suite) -> None:
    suite.apply(
        http_route(
            "gateway-conformance-infra-test", parentRefs=[parent("same-namespace")], rules=[rule(backend(V1))]
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", ["gateway-conformance-infra-test"])
    suite.resolved_refs_true("gateway-conformance-infra-test", "same-namespace")
    suite.expect(address, [Case(path="/", backend=V1, namespace=INFRA)])


def test_HTTPRouteExactPathMatching(suite: Suite) -> None:
    suite.apply(
        http_route(
            "exact-matching",
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(backend(V1), matches=[path("/one", "Exact")]),
                rule(backend(V2), matches=[path("/two", "Exact")]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", ["exact-matching"])
    suite.resolved_refs_true("exact-matching", "same-namespace")
    suite.expect(
        address,
        [
            Case(path="/one", backend=V1, namespace=INFRA),
            Case(path="/two", backend=V2, namespace=INFRA),
            Case(path="/", status=(404,)),
            Case(path="/one/example", status=(404,)),
            Case(path="/two/", status=(404,)),
        ],
    )


def test_HTTPRouteHeaderMatching(suite: Suite) -> None:
    suite.apply(
        http_route(
            "header-matching",
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(backend(V1), matches=[headers(version="one")]),
                rule(backend(V2), matches=[headers(version="two")]),
                rule(backend(V1), matches=[headers(version="two", color="orange")]),
                rule(backend(V1), matches=[headers(color="blue"), headers(color="green")]),
                rule(backend(V2), matches=[headers(color="red"), headers(color="yellow")]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", ["header-matching"])
    suite.resolved_refs_true("header-matching", "same-namespace")
    expected: list[tuple[dict[str, str], str | None]] = [
        ({"Version": "one"}, V1),
        ({"Version": "two"}, V2),
        ({"Version": "two", "Color": "orange"}, V1),
        ({"Version": "two", "Color": "blue"}, V2),
        ({"Color": "orange"}, None),
        ({"Some-Other-Header": "one"}, None),
        ({"Color": "blue"}, V1),
        ({"Color": "green"}, V1),
        ({"Color": "red"}, V2),
        ({"Color": "yellow"}, V2),
        ({"Color": "purple"}, None),
    ]
    suite.expect(
        address,
        [
            Case(headers=h, backend=b, namespace=INFRA) if b else Case(headers=h, status=(404,))
            for h, b in expected
        ],
    )


def test_HTTPRouteMatching(suite: Suite) -> None:
    suite.apply(
        http_route(
            "matching",
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(backend(V1), matches=[path("/"), headers(version="one")]),
                rule(backend(V2), matches=[path("/v2"), headers(version="two")]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", ["matching"])
    suite.expect(
        address,
        [
            Case(path="/", backend=V1, namespace=INFRA),
            Case(path="/example", backend=V1, namespace=INFRA),
            Case(path="/", headers={"Version": "one"}, backend=V1, namespace=INFRA),
            Case(path="/v2", backend=V2, namespace=INFRA),
            Case(path="/v2/example", backend=V2, namespace=INFRA),
            Case(path="/", headers={"Version": "two"}, backend=V2, namespace=INFRA),
        ],
    )


def test_HTTPRouteMatchingAcrossRoutes(suite: Suite) -> None:
    suite.apply(
        http_route(
            "matching-part1",
            parentRefs=[parent("same-namespace")],
            hostnames=["example.com", "example.net"],
            rules=[rule(backend(V1), matches=[path("/"), headers(version="one")])],
        ),
        http_route(
            "matching-part2",
            parentRefs=[parent("same-namespace")],
            hostnames=["*.com"],
            rules=[rule(backend(V2), matches=[path("/v2"), headers(version="two")])],
        ),
    )
    address = suite.gateway_and_routes_accepted("same-namespace", ["matching-part1", "matching-part2"])
    cases = [
        ("example.com", "/", {}, V1),
        ("example.com", "/example", {}, V1),
        ("example.net", "/example", {}, V1),
        ("example.com", "/example", {"Version": "one"}, V1),
        ("example.com", "/v2", {}, V2),
        ("example.net", "/v2", {}, V1),
        ("example.com", "/v2/example", {}, V2),
        ("example.com", "/", {"Version": "two"}, V2),
    ]
    suite.expect(
        address, [Case(host=h, path=p, headers=hd, backend=b, namespace=INFRA) for h, p, hd, b in cases]
    )


def test_HTTPRoutePathMatchOrder(suite: Suite) -> None:
    exact, prefix = "Exact", "PathPrefix"
    suite.apply(
        http_route(
            "path-matching-order",
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(backend(V1), matches=[path("/match", exact)]),
                rule(backend(V2), matches=[path("/match/exact", exact)]),
                rule(backend(V3), matches=[path("/match/exact/one", exact)]),
                rule(backend(V3), matches=[path("/match/", prefix)]),
                rule(backend(V1), matches=[path("/match/prefix/", prefix)]),
                rule(backend(V2), matches=[path("/match/prefix/one", prefix)]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", ["path-matching-order"])
    suite.resolved_refs_true("path-matching-order", "same-namespace")
    cases = [
        ("/match/exact/one", V3),
        ("/match/exact", V2),
        ("/match", V1),
        ("/match/prefix/one/any", V2),
        ("/match/prefix/any", V1),
        ("/match/any", V3),
    ]
    suite.expect(address, [Case(path=p, backend=b, namespace=INFRA) for p, b in cases])


def test_HTTPRouteHostnameIntersection(suite: Suite) -> None:
    port = suite.ports[80]
    gw = "httproute-hostname-intersection"
    suite.apply(
        gateway(
            gw,
            listener("listener-1", port, hostname="very.specific.com", allowedRoutes=from_namespaces("Same")),
            listener("listener-2", port, hostname="*.wildcard.io", allowedRoutes=from_namespaces("Same")),
            listener(
                "listener-3", port, hostname="*.anotherwildcard.io", allowedRoutes=from_namespaces("Same")
            ),
        ),
        gateway(
            "httproute-hostname-intersection-all",
            listener("listener-1", port, allowedRoutes=from_namespaces("Same")),
        ),
    )
    routes = {
        "specific-host-matches-listener-specific-host": (
            ["non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"],
            "/s1",
            V1,
        ),
        "specific-host-matches-listener-wildcard-host": (
            ["non.matching.com", "wildcard.io", "foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io"],
            "/s2",
            V2,
        ),
        "wildcard-host-matches-listener-specific-host": (["non.matching.com", "*.specific.com"], "/s3", V3),
        "wildcard-host-matches-listener-wildcard-host": (["*.anotherwildcard.io"], "/s4", V1),
        "no-intersecting-hosts": (["specific.but.wrong.com", "wildcard.io"], "/s5", V1),
    }
    for name, (hosts, prefix, target) in routes.items():
        suite.apply(
            http_route(
                name,
                parentRefs=[parent(gw)],
                hostnames=hosts,
                rules=[rule(backend(target), matches=[path(prefix)])],
            )
        )
    suite.apply(
        http_route(
            "httproute-hostname-intersection-all",
            parentRefs=[parent("httproute-hostname-intersection-all")],
            hostnames=["first.com", "*.first.com", "second.com", "*.second.com"],
            rules=[rule(backend(V2))],
        )
    )
    address = suite.gateway_and_routes_accepted(gw, [n for n in routes if n != "no-intersecting-hosts"])
    for name in routes:
        if name != "no-intersecting-hosts":
            suite.resolved_refs_true(name, gw)
    suite.expect(
        address,
        [
            Case(host="very.specific.com", path="/s1", backend=V1, namespace=INFRA),
            Case(host="very.specific.com:1234", path="/s1", backend=V1, namespace=INFRA),
            Case(host="non.matching.com", path="/s1", status=(404,)),
            Case(host="foo.nonmatchingwildcard.io", path="/s1", status=(404,)),
            Case(host="foo.wildcard.io", path="/s1", status=(404,)),
            Case(host="very.specific.com", path="/non-matching-prefix", status=(404,)),
            Case(host="foo.wildcard.io", path="/s2", backend=V2, namespace=INFRA),
            Case(host="bar.wildcard.io", path="/s2", backend=V2, namespace=INFRA),
            Case(host="foo.bar.wildcard.io", path="/s2", backend=V2, namespace=INFRA),
            Case(host="non.matching.com", path="/s2", status=(404,)),
            Case(host="wildcard.io", path="/s2", status=(404,)),
            Case(host="very.specific.com", path="/s2", status=(404,)),
            Case(host="foo.wildcard.io", path="/non-matching-prefix", status=(404,)),
            Case(host="very.specific.com", path="/s3", backend=V3, namespace=INFRA),
            Case(host="non.matching.com", path="/s3", status=(404,)),
            Case(host="foo.specific.com", path="/s3", status=(404,)),
            Case(host="foo.wildcard.io", path="/s3", status=(404,)),
            Case(host="foo.anotherwildcard.io", path="/s4", backend=V1, namespace=INFRA),
            Case(host="bar.anotherwildcard.io", path="/s4", backend=V1, namespace=INFRA),
            Case(host="foo.bar.anotherwildcard.io", path="/s4", backend=V1, namespace=INFRA),
            Case(host="anotherwildcard.io", path="/s4", status=(404,)),
            Case(host="foo.wildcard.io", path="/s4", status=(404,)),
            Case(host="very.specific.com", path="/s4", status=(404,)),
        ],
    )
    entry = suite.route_condition(
        "no-intersecting-hosts", gw, "Accepted", "False", "NoMatchingListenerHostname"
    )
    assert entry["controllerName"] == "projectcontour.io/gateway-controller"
    suite.expect(
        address,
        [
            Case(host="specific.but.wrong.com", path="/s5", status=(404,)),
            Case(host="wildcard.io", path="/s5", status=(404,)),
        ],
    )
    attached = {"listener-1": 2, "listener-2": 1, "listener-3": 1}
    suite.listeners(
        gw,
        lambda entries: {e["name"]: e["attachedRoutes"] for e in entries} == attached,
        f"attachedRoutes {attached}",
    )
    all_address = suite.gateway_and_routes_accepted(
        "httproute-hostname-intersection-all", ["httproute-hostname-intersection-all"]
    )
    suite.expect(
        all_address,
        [
            *(
                Case(host=h, backend=V2, namespace=INFRA)
                for h in ("first.com", "sub.first.com", "second.com", "sub.second.com")
            ),
            Case(host="third.com", status=(404,)),
            Case(host="sub.third.com", status=(404,)),
        ],
    )


def test_HTTPRouteListenerHostnameMatching(suite: Suite) -> None:
    port = suite.ports[80]
    gw = "httproute-listener-hostname-matching"
    suite.apply(
        gateway(
            gw,
            listener("listener-1", port, hostname="bar.com"),
            listener("listener-2", port, hostname="foo.bar.com"),
            listener("listener-3", port, hostname="*.bar.com"),
            listener("listener-4", port, hostname="*.foo.com"),
        ),
        http_route(
            "backend-v1", parentRefs=[parent(gw, sectionName="listener-1")], rules=[rule(backend(V1))]
        ),
        http_route(
            "backend-v2", parentRefs=[parent(gw, sectionName="listener-2")], rules=[rule(backend(V2))]
        ),
        http_route(
            "backend-v3",
            parentRefs=[parent(gw, sectionName="listener-3"), parent(gw, sectionName="listener-4")],
            rules=[rule(backend(V3))],
        ),
    )
    address = suite.gateway_and_routes_accepted(gw, ["backend-v1", "backend-v2", "backend-v3"])
    suite.expect(
        address,
        [
            Case(host="bar.com", backend=V1, namespace=INFRA),
            Case(host="foo.bar.com", backend=V2, namespace=INFRA),
            Case(host="baz.bar.com", backend=V3, namespace=INFRA),
            Case(host="boo.bar.com", backend=V3, namespace=INFRA),
            Case(host="multiple.prefixes.bar.com", backend=V3, namespace=INFRA),
            Case(host="multiple.prefixes.foo.com", backend=V3, namespace=INFRA),
            Case(host="foo.com", status=(404,)),
            Case(host="no.matching.host", status=(404,)),
        ],
    )


def test_HTTPRouteCrossNamespace(suite: Suite) -> None:
    suite.apply(
        http_route(
            "cross-namespace",
            ns=WEB,
            parentRefs=[parent("backend-namespaces")],
            rules=[rule(backend("web-backend"))],
        )
    )
    address = suite.gateway_and_routes_accepted("backend-namespaces", [(WEB, "cross-namespace")])
    suite.resolved_refs_true("cross-namespace", "backend-namespaces", ns=WEB)
    suite.expect(address, [Case(path="/", backend="web-backend", namespace=WEB)])


def test_HTTPRouteInvalidCrossNamespaceParentRef(suite: Suite) -> None:
    suite.apply(
        http_route(
            "invalid-cross-namespace-parent-ref",
            ns=WEB,
            parentRefs=[parent("same-namespace")],
            rules=[rule(backend("web-backend"))],
        )
    )
    suite.route_condition(
        "invalid-cross-namespace-parent-ref",
        "same-namespace",
        "Accepted",
        "False",
        "NotAllowedByListeners",
        ns=WEB,
    )
    suite.listeners(
        "same-namespace",
        lambda entries: len(entries) == 1 and entries[0]["attachedRoutes"] == 0,
        "same-namespace with zero attached routes",
    )


def test_HTTPRouteInvalidParentRefNotMatchingSectionName(suite: Suite) -> None:
    suite.apply(
        http_route(
            "httproute-listener-not-matching-section-name",
            parentRefs=[parent("same-namespace", sectionName="unknown-section-name")],
            rules=[rule(backend(V1))],
        )
    )
    suite.route_condition(
        "httproute-listener-not-matching-section-name",
        "same-namespace",
        "Accepted",
        "False",
        "NoMatchingParent",
    )
    suite.no_accepted_parents("httproute-listener-not-matching-section-name")


def _invalid_backend_test(suite: Suite, name: str, ref: Manifest, reason: str, *extra: Manifest) -> None:
    suite.apply(*extra, http_route(name, parentRefs=[parent("same-namespace")], rules=[rule(ref)]))
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.route_condition(name, "same-namespace", "ResolvedRefs", "False", reason)
    suite.expect(address, [Case(path="/", status=(500,))])


def test_HTTPRouteInvalidBackendRefUnknownKind(suite: Suite) -> None:
    _invalid_backend_test(
        suite,
        "invalid-backend-ref-unknown-kind",
        backend(V1, group="unknownkind.example.com", kind="UnknownKind"),
        "InvalidKind",
    )


def test_HTTPRouteInvalidNonExistentBackendRef(suite: Suite) -> None:
    _invalid_backend_test(suite, "invalid-nonexistent-backend-ref", backend("nonexistent"), "BackendNotFound")


def test_HTTPRouteInvalidCrossNamespaceBackendRef(suite: Suite) -> None:
    _invalid_backend_test(
        suite, "invalid-cross-namespace-backend-ref", backend("web-backend", namespace=WEB), "RefNotPermitted"
    )


def test_HTTPRouteInvalidReferenceGrant(suite: Suite) -> None:
    _invalid_backend_test(
        suite,
        "invalid-reference-grant",
        backend("web-backend", namespace=WEB),
        "RefNotPermitted",
        reference_grant("reference-grant-wrong-service", WEB, from_ns=INFRA, to_name="not-web-backend"),
    )


def test_HTTPRoutePartiallyInvalidViaInvalidReferenceGrant(suite: Suite) -> None:
    name = "invalid-reference-grant"
    suite.apply(
        reference_grant("reference-grant-wrong-service", APP, from_ns=INFRA, to_name="not-app-backend-v1"),
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(backend("app-backend-v1", namespace=APP), matches=[path("/v2")]),
                rule(backend(V1), matches=[path("/")]),
            ],
        ),
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.route_condition(name, "same-namespace", "ResolvedRefs", "False", "RefNotPermitted")
    suite.expect(address, [Case(path="/v2", status=(500,)), Case(path="/", backend=V1, namespace=INFRA)])


def test_HTTPRouteReferenceGrant(suite: Suite) -> None:
    name = "reference-grant"
    suite.apply(
        reference_grant("reference-grant", APP, from_ns=INFRA, to_name="app-backend-v1"),
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[rule(backend("app-backend-v1", namespace=APP))],
        ),
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(address, [Case(path="/", backend="app-backend-v1", namespace=APP)])
    suite.run.kubectl("delete", "referencegrants", "reference-grant", "-n", APP)
    suite.route_condition(name, "same-namespace", "ResolvedRefs", "False", "RefNotPermitted")
    suite.expect(address, [Case(path="/", status=(500,))])


def test_HTTPRouteNoBackendRefs(suite: Suite) -> None:
    name = "no-backendrefs"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                {"matches": [path("/omitted", "Exact")]},
                {"matches": [path("/empty", "Exact")], "backendRefs": []},
                rule(backend(V1), matches=[path("/")]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(path="/omitted", status=(500,)),
            Case(path="/empty", status=(500,)),
            Case(path="/", backend=V1),
        ],
    )


def test_HTTPRouteObservedGenerationBump(suite: Suite) -> None:
    name = "observed-generation-bump"
    suite.apply(http_route(name, parentRefs=[parent("same-namespace")], rules=[rule(backend(V1))]))
    suite.route_condition(name, "same-namespace", "Accepted", "True", "Accepted")
    before = suite.get("httproutes", name)["metadata"]["generation"]
    suite.patch("httproutes", name, {"spec": {"rules": [rule(backend(V1), matches=[path("/bump")])]}})
    after = suite.get("httproutes", name)["metadata"]["generation"]
    assert after > before
    entry = suite.route_condition(name, "same-namespace", "Accepted", "True", "Accepted")
    assert {c["observedGeneration"] for c in entry["conditions"]} == {after}
    suite.route_condition(name, "same-namespace", "ResolvedRefs", "True", "ResolvedRefs")


def test_HTTPRouteMultipleGateways(suite: Suite) -> None:
    suite.apply(
        http_route(
            "multiple-gateways-route",
            parentRefs=[parent("same-namespace"), parent("all-namespaces")],
            hostnames=["shared.example.com"],
            rules=[rule(backend(V1))],
        ),
        http_route(
            "only-same-namespace",
            parentRefs=[parent("same-namespace")],
            hostnames=["dedicated.example.com"],
            rules=[rule(backend(V2))],
        ),
    )
    same = suite.gateway_and_routes_accepted(
        "same-namespace", ["multiple-gateways-route", "only-same-namespace"]
    )
    everyone = suite.gateway_and_routes_accepted("all-namespaces", ["multiple-gateways-route"])
    suite.expect(same, [to("s", V1, "shared.example.com"), to("d", V2, "dedicated.example.com")])
    suite.expect(
        everyone, [to("s", V1, "shared.example.com"), Case(host="dedicated.example.com", status=(404,))]
    )


def test_HTTPRouteRedirectHostAndStatus(suite: Suite) -> None:
    def redirect(**fields: Any) -> Manifest:
        return {"type": "RequestRedirect", "requestRedirect": fields}

    name = "redirect-host-and-status"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                {"matches": [path("/hostname-redirect")], "filters": [redirect(hostname="example.org")]},
                {
                    "matches": [path("/host-and-status")],
                    "filters": [redirect(hostname="example.org", statusCode=301)],
                },
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    # No port in the filter and no scheme: the Location keeps the listener's port (upstream's is 80,
    # which is left out; ours is not 80, so it must be there).
    port = suite.ports[80]
    suite.expect(
        address,
        [
            Case(
                path="/hostname-redirect",
                status=(302,),
                redirect={"host": "example.org", "port": str(port), "path": "/hostname-redirect"},
            ),
            Case(
                path="/host-and-status",
                status=(301,),
                redirect={"host": "example.org", "port": str(port), "path": "/host-and-status"},
            ),
        ],
    )


def test_HTTPRouteRequestHeaderModifier(suite: Suite) -> None:
    def modifier(**fields: Any) -> Manifest:
        return {"type": "RequestHeaderModifier", "requestHeaderModifier": fields}

    def pairs(**values: str) -> list[Manifest]:
        return [{"name": n.replace("_", "-"), "value": v} for n, v in values.items()]

    name = "request-header-modifier"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(
                    backend(V1),
                    matches=[path("/set")],
                    filters=[modifier(set=pairs(X_Header_Set="set-overwrites-values"))],
                ),
                rule(
                    backend(V1),
                    matches=[path("/add")],
                    filters=[modifier(add=pairs(X_Header_Add="add-appends-values"))],
                ),
                rule(backend(V1), matches=[path("/remove")], filters=[modifier(remove=["X-Header-Remove"])]),
                rule(
                    backend(V1),
                    matches=[path("/multiple")],
                    filters=[
                        modifier(
                            set=pairs(X_Header_Set_1="header-set-1", X_Header_Set_2="header-set-2"),
                            add=pairs(X_Header_Add_1="header-add-1", X_Header_Add_2="header-add-2"),
                            remove=["X-Header-Remove-1", "X-Header-Remove-2"],
                        )
                    ],
                ),
                rule(
                    backend(V1),
                    matches=[path("/case-insensitivity")],
                    filters=[
                        modifier(
                            set=pairs(X_Header_Set="header-set"),
                            add=pairs(x_lowercase_add="lowercase-add", X_Header_Add="header-add"),
                            remove=["X-Header-Remove"],
                        )
                    ],
                ),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(
                path="/set",
                headers={"Some-Other-Header": "val"},
                seen_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"},
                backend=V1,
            ),
            Case(
                path="/set",
                headers={"Some-Other-Header": "val", "X-Header-Set": "some-other-value"},
                seen_headers={"Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"},
                backend=V1,
            ),
            Case(
                path="/add",
                headers={"Some-Other-Header": "val"},
                seen_headers={"Some-Other-Header": "val", "X-Header-Add": "add-appends-values"},
                backend=V1,
            ),
            Case(
                path="/add",
                headers={"Some-Other-Header": "val", "X-Header-Add": "some-other-value"},
                seen_headers={
                    "Some-Other-Header": "val",
                    "X-Header-Add": "some-other-value,add-appends-values",
                },
                backend=V1,
            ),
            Case(
                path="/remove",
                headers={"X-Header-Remove": "val"},
                absent_headers=("X-Header-Remove",),
                backend=V1,
            ),
            Case(
                path="/multiple",
                headers={
                    "X-Header-Set-2": "set-val-2",
                    "X-Header-Add-2": "add-val-2",
                    "X-Header-Remove-2": "remove-val-2",
                    "Another-Header": "another-header-val",
                },
                seen_headers={
                    "X-Header-Set-1": "header-set-1",
                    "X-Header-Set-2": "header-set-2",
                    "X-Header-Add-1": "header-add-1",
                    "X-Header-Add-2": "add-val-2,header-add-2",
                    "Another-Header": "another-header-val",
                },
                absent_headers=("X-Header-Remove-1", "X-Header-Remove-2"),
                backend=V1,
            ),
            Case(
                path="/case-insensitivity",
                headers={
                    "x-header-set": "original-val-set",
                    "x-header-add": "original-val-add",
                    "x-header-remove": "original-val-remove",
                    "Another-Header": "another-header-val",
                },
                seen_headers={
                    "X-Header-Set": "header-set",
                    "X-Header-Add": "original-val-add,header-add",
                    "X-Lowercase-Add": "lowercase-add",
                    "Another-Header": "another-header-val",
                },
                absent_headers=("x-header-remove",),
                backend=V1,
            ),
        ],
    )


def test_HTTPRouteWeight(suite: Suite) -> None:
    name = "weighted-backends"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[rule(backend(V1, weight=70), backend(V2, weight=30), backend(V3, weight=0))],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.expect(address, [Case(path="/", namespace=INFRA)])
    # As upstream's weight.TestWeightedDistribution: 500 requests, each backend's share within 0.05 of
    # its weight's, retried a few times (a 70/30 split of 500 strays past 0.05 in about 1.5% of runs).
    errors = []
    for _ in range(WEIGHT_ATTEMPTS):
        error = _weight_error(address, suite.ports[80])
        if error is None:
            return
        errors.append(error)
    raise AssertionError(f"weighted distribution failed {WEIGHT_ATTEMPTS} times: {errors}")


WEIGHT_ATTEMPTS = 5


def _weight_error(address: str, port: int, total: int = 500) -> str | None:
    seen: Counter[str] = Counter()
    for _ in range(total):
        reply = send(address, port, Case(path="/"))
        assert reply.status == 200 and reply.body is not None, reply
        seen[str(reply.body["pod"]).rsplit("-", 1)[0]] += 1
    if seen[V3]:
        return f"a weight-0 backend got traffic: {seen}"
    for name, share in ((V1, 0.7), (V2, 0.3)):
        if abs(seen[name] / total - share) > 0.05:
            return f"{name}: {seen[name] / total} not within {share} +/- 0.05 ({seen})"
    return None


def test_HTTPRouteServiceTypes(suite: Suite, pods: list[EchoPod]) -> None:
    v1_pods = [p for p in pods if p.service == V1]
    suite.apply(
        *service(INFRA, "manual-endpointslices", v1_pods),
        *service(INFRA, "headless-manual-endpointslices", v1_pods, headless=True),
        *service(INFRA, "headless", v1_pods, headless=True),
        http_route(
            "service-types",
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(backend("headless"), matches=[path("/headless", "Exact")]),
                rule(backend("manual-endpointslices"), matches=[path("/manual", "Exact")]),
                rule(backend("headless-manual-endpointslices"), matches=[path("/headless-manual", "Exact")]),
            ],
        ),
    )
    address = suite.gateway_and_routes_accepted("same-namespace", ["service-types"])
    suite.resolved_refs_true("service-types", "same-namespace")
    suite.expect(
        address,
        [Case(path=p, backend=V1, namespace=INFRA) for p in ("/headless", "/manual", "/headless-manual")],
    )


def test_HTTPRouteHTTPSListener(suite: Suite) -> None:
    gw = "same-namespace-with-https-listener"
    suite.apply(
        http_route(
            "https-example-org", parentRefs=[parent(gw)], hostnames=["example.org"], rules=[rule(backend(V1))]
        ),
        http_route(
            "https-second-example-org",
            parentRefs=[parent(gw)],
            hostnames=["second-example.org"],
            rules=[rule(backend(V2))],
        ),
    )
    address = suite.gateway_and_routes_accepted(gw, ["https-example-org", "https-second-example-org"])
    suite.expect(
        address,
        [
            Case(host="example.org", https=True, backend=V1, namespace=INFRA),
            Case(host="second-example.org", https=True, backend=V2, namespace=INFRA),
            Case(host="unknown-example.org", https=True, status=(404,)),
        ],
    )
