"""`cookieRewritePolicies` on routes and services, and `internalRedirectPolicy` on routes, in the DAG.

Valid policies are carried to the DAG route or cluster as given (None for an attribute left alone);
invalid ones (a cookie named twice, a rule that rewrites nothing) make the proxy invalid with Contour's
RouteError/CookieRewritePoliciesInvalid and its message.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuildResult
from contour.dag.model import CookieRewritePolicy, InternalRedirectPolicy, ObjectRef, Route

from .fixtures import build, k8s_service, proxy, service

ROOT = ObjectRef("default", "root")
KUARD = k8s_service("kuard")


def only_route(result: BuildResult) -> Route:
    [route] = result.dag.listeners["ingress_http"].virtual_hosts["example.com"].routes.values()
    return route


def errors(result: BuildResult) -> list[tuple[str, str, str]]:
    status = next(u.status for u in result.statuses if u.ref == ROOT)
    return [(e["type"], e["reason"], e["message"]) for e in status["conditions"][0].get("errors", [])]


FULL = {"name": "session", "pathRewrite": {"value": "/app"}, "domainRewrite": {"value": "example.com"},
        "secure": True, "sameSite": "Strict"}  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (FULL, CookieRewritePolicy("session", "/app", "example.com", True, "Strict")),
        ({"name": "a", "secure": False}, CookieRewritePolicy("a", secure=False)),
        ({"name": "a", "sameSite": "None"}, CookieRewritePolicy("a", same_site="None")),
        ({"name": "a", "pathRewrite": {"value": "/"}}, CookieRewritePolicy("a", path="/")),
    ],
    ids=["every-attribute", "secure-off", "same-site-only", "path-only"],
)
def test_route_policies_reach_the_route(policy: dict[str, Any], expected: CookieRewritePolicy) -> None:
    obj = proxy("root").fqdn("example.com").route("/", service("kuard"), cookieRewritePolicies=[policy])
    route = only_route(build(obj.build(), KUARD))
    assert route.cookie_rewrite_policies == (expected,)
    assert route.clusters[0].cookie_rewrite_policies == ()


def test_service_policies_reach_the_cluster() -> None:
    svc = service("kuard", cookieRewritePolicies=[{"name": "a", "domainRewrite": {"value": "b.example"}}])
    route = only_route(build(proxy("root").fqdn("example.com").route("/", svc).build(), KUARD))
    assert route.clusters[0].cookie_rewrite_policies == (CookieRewritePolicy("a", domain="b.example"),)
    assert route.cookie_rewrite_policies == ()


DUPLICATE = [{"name": "a", "secure": True}, {"name": "a", "secure": False}]
EMPTY = [{"name": "a"}]


@pytest.mark.parametrize(
    ("where", "policies", "message"),
    [
        ("route", DUPLICATE, 'duplicate cookie rewrite rule for cookie "a" on route cookie rewrite rules'),
        ("route", EMPTY, 'no attributes rewritten for cookie "a" on route cookie rewrite rules'),
        (
            "service",
            DUPLICATE,
            'duplicate cookie rewrite rule for cookie "a" on service cookie rewrite rules',
        ),
        ("service", EMPTY, 'no attributes rewritten for cookie "a" on service cookie rewrite rules'),
    ],
    ids=["route-duplicate", "route-nothing-rewritten", "service-duplicate", "service-nothing-rewritten"],
)
def test_invalid_policies_invalidate_the_proxy(where: str, policies: list[Any], message: str) -> None:
    if where == "route":
        obj = proxy("root").fqdn("example.com").route("/", service("kuard"), cookieRewritePolicies=policies)
    else:
        obj = proxy("root").fqdn("example.com").route("/", service("kuard", cookieRewritePolicies=policies))
    result = build(obj.build(), KUARD)
    assert errors(result) == [("RouteError", "CookieRewritePoliciesInvalid", message)]
    assert "example.com" not in result.dag.listeners["ingress_http"].virtual_hosts


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({}, InternalRedirectPolicy()),
        (
            {
                "maxInternalRedirects": 3,
                "redirectResponseCodes": [301, 307],
                "allowCrossSchemeRedirect": "SafeOnly",
                "denyRepeatedRouteRedirect": True,
            },
            InternalRedirectPolicy(3, (301, 307), "SafeOnly", True),
        ),
        (
            {"allowCrossSchemeRedirect": "Always"},
            InternalRedirectPolicy(allow_cross_scheme_redirect="Always"),
        ),
    ],
    ids=["defaults", "everything", "always"],
)
def test_internal_redirect_policy_reaches_the_route(
    policy: dict[str, Any], expected: InternalRedirectPolicy
) -> None:
    obj = proxy("root").fqdn("example.com").route("/", service("kuard"), internalRedirectPolicy=policy)
    assert only_route(build(obj.build(), KUARD)).internal_redirect_policy == expected


def test_no_internal_redirect_policy_by_default() -> None:
    obj = proxy("root").fqdn("example.com").route("/", service("kuard"))
    assert only_route(build(obj.build(), KUARD)).internal_redirect_policy is None
