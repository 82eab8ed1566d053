# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP extended conformance tests of Gateway API v1.6.1 for HTTPRoute features the product has.

Same structure as test_httproute_core.py. RESULTS.md lists the extended tests not written yet.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.gatewayapi.base_manifests import INFRA, Manifest, backend, http_route, parent
from tests.e2e.gatewayapi.roundtrip import Case
from tests.e2e.gatewayapi.suite import Suite

V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"


def rule(target: str, matches: list[Manifest], **fields: Any) -> Manifest:
    return {"matches": matches, "backendRefs": [backend(target)], **fields}


def test_HTTPRouteMethodMatching(suite: Suite) -> None:
    name = "method-matching"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(V1, [{"method": "POST"}]),
                rule(V2, [{"method": "GET"}]),
                rule(V1, [{"path": {"type": "PathPrefix", "value": "/path1"}, "method": "GET"}]),
                rule(V3, [{"headers": [{"name": "version", "value": "three"}], "method": "PUT"}]),
                rule(V2, [{"path": {"type": "PathPrefix", "value": "/path2"}, "method": "DELETE"}]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(method="POST", backend=V1, namespace=INFRA),
            Case(method="GET", backend=V2, namespace=INFRA),
            Case(path="/path1", method="GET", backend=V1, namespace=INFRA),
            Case(method="PUT", headers={"version": "three"}, backend=V3, namespace=INFRA),
            Case(path="/path2", method="DELETE", backend=V2, namespace=INFRA),
            Case(method="HEAD", status=(404,)),
            Case(path="/path3", method="DELETE", status=(404,)),
            Case(method="PUT", status=(404,)),
        ],
    )


def test_HTTPRouteQueryParamMatching(suite: Suite) -> None:
    def query(**values: str) -> Manifest:
        return {"queryParams": [{"name": n, "value": v} for n, v in values.items()]}

    name = "query-param-matching"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(V1, [query(animal="whale")]),
                rule(V2, [query(animal="dolphin")]),
                rule(V3, [query(animal="dolphin", color="blue"), query(ANIMAL="Whale")]),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.resolved_refs_true(name, "same-namespace")
    suite.expect(
        address,
        [
            Case(path="/?animal=whale", backend=V1, namespace=INFRA),
            Case(path="/?animal=dolphin", backend=V2, namespace=INFRA),
            Case(path="/?animal=dolphin&color=blue", backend=V3, namespace=INFRA),
            Case(path="/?ANIMAL=Whale", backend=V3, namespace=INFRA),
            Case(path="/?animal=dog", status=(404,)),
            Case(path="/?color=blue", status=(404,)),
        ],
    )


def test_HTTPRouteResponseHeaderModifier(suite: Suite) -> None:
    def modifier(**fields: Any) -> list[Manifest]:
        return [{"type": "ResponseHeaderModifier", "responseHeaderModifier": fields}]

    name = "response-header-modifier"
    prefix = "PathPrefix"
    suite.apply(
        http_route(
            name,
            parentRefs=[parent("same-namespace")],
            rules=[
                rule(
                    V1,
                    [{"path": {"type": prefix, "value": "/set"}}],
                    filters=modifier(set=[{"name": "X-Header-Set", "value": "set-overwrites-values"}]),
                ),
                rule(
                    V1,
                    [{"path": {"type": prefix, "value": "/add"}}],
                    filters=modifier(add=[{"name": "X-Header-Add", "value": "add-appends-values"}]),
                ),
                rule(
                    V1,
                    [{"path": {"type": prefix, "value": "/remove"}}],
                    filters=modifier(remove=["X-Header-Remove"]),
                ),
            ],
        )
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    suite.expect(
        address,
        [
            Case(
                path="/set",
                headers={"X-Echo-Set-Header": "X-Header-Set:original"},
                response_headers={"X-Header-Set": "set-overwrites-values"},
                backend=V1,
            ),
            Case(
                path="/add",
                headers={"X-Echo-Set-Header": "X-Header-Add:original"},
                response_headers={"X-Header-Add": "original,add-appends-values"},
                backend=V1,
            ),
            Case(
                path="/remove",
                headers={"X-Echo-Set-Header": "X-Header-Remove:val"},
                absent_response_headers=("X-Header-Remove",),
                backend=V1,
            ),
        ],
    )
