"""`internalRedirectPolicy` as RouteAction.internal_redirect_policy, as Contour's internalRedirectPolicy
builds it: cross-scheme Always/SafeOnly allow the scheme change (SafeOnly with the safe_cross_scheme
predicate), denyRepeatedRouteRedirect adds the previous_routes predicate, unset values stay Envoy's."""

from __future__ import annotations

import pytest

from contour.dag.model import InternalRedirectPolicy
from contour.envoy.routes import envoy_route
from tests.unit.envoy.builders import route, upstream

SAFE = "envoy.internal_redirect_predicates.safe_cross_scheme"
PREVIOUS = "envoy.internal_redirect_predicates.previous_routes"


@pytest.mark.parametrize(
    ("policy", "cross_scheme", "predicates"),
    [
        (InternalRedirectPolicy(), False, []),
        (InternalRedirectPolicy(allow_cross_scheme_redirect="Always"), True, []),
        (InternalRedirectPolicy(allow_cross_scheme_redirect="SafeOnly"), True, [SAFE]),
        (InternalRedirectPolicy(deny_repeated_route_redirect=True), False, [PREVIOUS]),
        (
            InternalRedirectPolicy(allow_cross_scheme_redirect="SafeOnly", deny_repeated_route_redirect=True),
            True,
            [SAFE, PREVIOUS],
        ),
    ],
    ids=["never", "always", "safe-only", "deny-repeated", "safe-only-and-deny-repeated"],
)
def test_cross_scheme_and_predicates(
    policy: InternalRedirectPolicy, cross_scheme: bool, predicates: list[str]
) -> None:
    action = envoy_route(route("/", upstream("kuard"), internal_redirect_policy=policy), secure=False).route
    assert action.internal_redirect_policy.allow_cross_scheme_redirect is cross_scheme
    assert [p.name for p in action.internal_redirect_policy.predicates] == predicates
    assert all(p.typed_config.type_url for p in action.internal_redirect_policy.predicates)


def test_maximum_and_codes_are_set_when_given() -> None:
    policy = InternalRedirectPolicy(max_internal_redirects=4, redirect_response_codes=(301, 307))
    action = envoy_route(route("/", upstream("kuard"), internal_redirect_policy=policy), secure=False).route
    assert action.internal_redirect_policy.max_internal_redirects.value == 4
    assert list(action.internal_redirect_policy.redirect_response_codes) == [301, 307]


def test_unset_maximum_and_codes_stay_envoys_defaults() -> None:
    policy = InternalRedirectPolicy()
    action = envoy_route(route("/", upstream("kuard"), internal_redirect_policy=policy), secure=False).route
    assert action.HasField("internal_redirect_policy")
    assert not action.internal_redirect_policy.HasField("max_internal_redirects")
    assert list(action.internal_redirect_policy.redirect_response_codes) == []


def test_no_policy_no_internal_redirects() -> None:
    action = envoy_route(route("/", upstream("kuard")), secure=False).route
    assert not action.HasField("internal_redirect_policy")
