"""HTTPProxy rate limit policies in the DAG: local buckets, global descriptors, the default global
policy of the configuration, the rate limit service on the listeners, and every RateLimitPolicyNotValid
message (VirtualHostError on a host, RouteError on a route) with Contour's text."""

from __future__ import annotations

from typing import Any

import pytest

from contour.api.projectcontour import v1 as api
from contour.dag.builder import BuilderConfig, BuildResult
from contour.dag.model import (
    GlobalRateLimitPolicy,
    HeaderMatch,
    HeaderValue,
    LocalRateLimitPolicy,
    ObjectRef,
    RateLimitDescriptorEntry,
    RateLimitPolicy,
    RateLimitService,
    Route,
    VirtualHost,
)
from contour.dag.ratelimit import RateLimitServiceConfig

from .fixtures import ProxyBuilder, build, k8s_service, proxy, service, tls_secret

ROOT = ObjectRef("default", "root")
KUARD = k8s_service("kuard")
RLS_SVC = k8s_service("ratelimit", ports=[{"name": "grpc", "port": 8081, "protocol": "TCP"}])
CERT = tls_secret("cert")
HOST = "example.com"


def local(requests: int = 10, unit: str = "second", **fields: Any) -> dict[str, Any]:
    return {"local": {"requests": requests, "unit": unit, **fields}}


def descriptors(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"global": {"descriptors": [{"entries": list(entries)}]}}


def extension(name: str = "ratelimit", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1alpha1",
        "kind": "ExtensionService",
        "metadata": {"name": name, "namespace": "default", "generation": 1},
        "spec": {"services": [{"name": "ratelimit", "port": 8081}], **spec},
    }


def rls(default: dict[str, Any] | None = None, **fields: Any) -> BuilderConfig:
    policy = api.Global.model_validate(default) if default is not None else None
    return BuilderConfig(
        rate_limit_service=RateLimitServiceConfig(
            ObjectRef("default", "ratelimit"), default_global_rate_limit_policy=policy, **fields
        )
    )


def root(
    vhost_policy: dict[str, Any] | None = None, route_policy: dict[str, Any] | None = None
) -> ProxyBuilder:
    builder = proxy("root").fqdn(HOST)
    if vhost_policy is not None:
        builder = builder.vhost(rateLimitPolicy=vhost_policy)
    fields: dict[str, Any] = {"rateLimitPolicy": route_policy} if route_policy is not None else {}
    return builder.route("/", service("kuard"), **fields)


def result(*objects: Any, config: BuilderConfig | None = None) -> BuildResult:
    built = [o.build() if isinstance(o, ProxyBuilder) else o for o in objects]
    return build(KUARD, *built, config=config)


def errors(res: BuildResult, ref: ObjectRef = ROOT) -> list[tuple[str, str, str]]:
    [update] = [u for u in res.statuses if u.ref == ref and u.plural == "httpproxies"]
    cond = update.status["conditions"][0]
    return [(e["type"], e["reason"], e["message"]) for e in cond.get("errors", [])]


def plain_host(res: BuildResult) -> VirtualHost:
    return res.dag.listeners["ingress_http"].virtual_hosts[HOST]


def only_route(vhost: VirtualHost) -> Route:
    [route] = vhost.routes.values()
    return route


# --- local ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(local(10, "second"), LocalRateLimitPolicy(10, 10, 1, host=HOST), id="per-second"),
        pytest.param(local(10, "minute"), LocalRateLimitPolicy(10, 10, 60, host=HOST), id="per-minute"),
        pytest.param(local(3, "hour"), LocalRateLimitPolicy(3, 3, 3600, host=HOST), id="per-hour"),
        pytest.param(local(5, burst=7), LocalRateLimitPolicy(12, 5, 1, host=HOST), id="burst-adds-tokens"),
        pytest.param(
            local(1, responseStatusCode=503),
            LocalRateLimitPolicy(1, 1, 1, response_status_code=503, host=HOST),
            id="status-code",
        ),
        pytest.param(
            local(1, responseHeadersToAdd=[{"name": "x-b", "value": "2"}, {"name": "x-a", "value": "50%"}]),
            LocalRateLimitPolicy(
                1,
                1,
                1,
                response_headers_to_add=(HeaderValue("X-A", "50%%"), HeaderValue("X-B", "2")),
                host=HOST,
            ),
            id="headers-canonical-sorted-escaped",
        ),
    ],
)
def test_a_local_policy_becomes_a_token_bucket(
    policy: dict[str, Any], expected: LocalRateLimitPolicy
) -> None:
    res = result(root(route_policy=policy))
    assert only_route(plain_host(res)).rate_limit_policy == RateLimitPolicy(local=expected)


def test_a_virtual_host_policy_is_on_both_hosts_of_a_tls_proxy() -> None:
    res = result(CERT, root(vhost_policy=local(4)).tls("cert"))
    expected = RateLimitPolicy(local=LocalRateLimitPolicy(4, 4, 1, host=HOST))
    secure = res.dag.listeners["ingress_https"].secure_virtual_hosts[HOST].virtual_host
    assert (plain_host(res).rate_limit_policy, secure.rate_limit_policy) == (expected, expected)


def test_a_route_without_a_policy_has_none() -> None:
    res = result(root(vhost_policy=local(4)))
    route = only_route(plain_host(res))
    assert (route.rate_limit_policy, route.ignore_vhost_rate_limits) == (None, False)


# --- global -----------------------------------------------------------------------------------------------


HEADER_MATCH = {"headers": [{"name": "x-tier", "exact": "gold"}], "value": "gold-tier"}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            {"genericKey": {"key": "k", "value": "v"}},
            RateLimitDescriptorEntry("generic_key", key="k", value="v"),
            id="generic-key",
        ),
        pytest.param(
            {"genericKey": {"value": "v"}},
            RateLimitDescriptorEntry("generic_key", value="v"),
            id="generic-key-default-key",
        ),
        pytest.param(
            {"requestHeader": {"headerName": "x-user", "descriptorKey": "user"}},
            RateLimitDescriptorEntry("request_header", key="user", header_name="x-user"),
            id="request-header",
        ),
        pytest.param(
            {"requestHeaderValueMatch": HEADER_MATCH},
            RateLimitDescriptorEntry(
                "header_value_match", value="gold-tier", headers=(HeaderMatch("x-tier", "exact", "gold"),)
            ),
            id="header-value-match",
        ),
        pytest.param(
            {"requestHeaderValueMatch": {**HEADER_MATCH, "expectMatch": False}},
            RateLimitDescriptorEntry(
                "header_value_match",
                value="gold-tier",
                headers=(HeaderMatch("x-tier", "exact", "gold"),),
                expect_match=False,
            ),
            id="header-value-match-expect-no-match",
        ),
        pytest.param({"remoteAddress": {}}, RateLimitDescriptorEntry("remote_address"), id="remote-address"),
    ],
)
def test_a_descriptor_entry_becomes_its_dag_entry(
    entry: dict[str, Any], expected: RateLimitDescriptorEntry
) -> None:
    res = result(root(route_policy=descriptors(entry)))
    policy = only_route(plain_host(res)).rate_limit_policy
    assert policy == RateLimitPolicy(global_policy=GlobalRateLimitPolicy(((expected,),)))


def test_descriptors_keep_their_order_and_entries() -> None:
    policy = {
        "global": {
            "descriptors": [
                {"entries": [{"remoteAddress": {}}, {"genericKey": {"value": "a"}}]},
                {"entries": [{"genericKey": {"value": "b"}}]},
            ]
        }
    }
    res = result(root(vhost_policy=policy))
    assert plain_host(res).rate_limit_policy == RateLimitPolicy(
        global_policy=GlobalRateLimitPolicy(
            (
                (
                    RateLimitDescriptorEntry("remote_address"),
                    RateLimitDescriptorEntry("generic_key", value="a"),
                ),
                (RateLimitDescriptorEntry("generic_key", value="b"),),
            )
        )
    )


def test_a_route_with_global_disabled_ignores_its_hosts_descriptors() -> None:
    res = result(root(route_policy={"global": {"disabled": True}}))
    route = only_route(plain_host(res))
    assert (route.rate_limit_policy, route.ignore_vhost_rate_limits) == (None, True)


# --- the default global policy ---------------------------------------------------------------------------

DEFAULT = {"descriptors": [{"entries": [{"genericKey": {"key": "default", "value": "all"}}]}]}
DEFAULT_POLICY = GlobalRateLimitPolicy(
    ((RateLimitDescriptorEntry("generic_key", key="default", value="all"),),)
)


@pytest.mark.parametrize(
    ("vhost_policy", "expected"),
    [
        pytest.param(None, RateLimitPolicy(global_policy=DEFAULT_POLICY), id="applies-without-a-policy"),
        pytest.param(
            local(2),
            RateLimitPolicy(local=LocalRateLimitPolicy(2, 2, 1, host=HOST), global_policy=DEFAULT_POLICY),
            id="joins-a-local-policy",
        ),
        pytest.param({"global": {"disabled": True}}, None, id="opted-out"),
        pytest.param(
            descriptors({"remoteAddress": {}}),
            RateLimitPolicy(
                global_policy=GlobalRateLimitPolicy(((RateLimitDescriptorEntry("remote_address"),),))
            ),
            id="own-global-wins",
        ),
    ],
)
def test_the_default_global_policy_applies_to_hosts_without_their_own(
    vhost_policy: dict[str, Any] | None, expected: RateLimitPolicy | None
) -> None:
    res = result(root(vhost_policy=vhost_policy), config=rls(DEFAULT))
    assert plain_host(res).rate_limit_policy == expected


def test_a_disabled_default_global_policy_applies_nothing() -> None:
    res = result(root(), config=rls({**DEFAULT, "disabled": True}))
    assert plain_host(res).rate_limit_policy is None


# --- the rate limit service -------------------------------------------------------------------------------


def test_the_service_is_on_the_plain_listener_and_every_secure_host() -> None:
    config = rls(domain="contour", fail_open=True, enable_x_rate_limit_headers=True)
    res = result(CERT, RLS_SVC, extension(), root().tls("cert"), config=config)
    expected = RateLimitService(
        "extension/default/ratelimit", domain="contour", fail_open=True, enable_x_rate_limit_headers=True
    )
    secure = res.dag.listeners["ingress_https"].secure_virtual_hosts[HOST]
    assert (res.dag.listeners["ingress_http"].rate_limit_service, secure.rate_limit_service) == (
        expected,
        expected,
    )


def test_the_service_takes_its_extension_services_timeout() -> None:
    res = result(RLS_SVC, extension(timeoutPolicy={"response": "250ms"}), root(), config=rls())
    service_ = res.dag.listeners["ingress_http"].rate_limit_service
    assert service_ is not None and service_.timeout_seconds == 0.25


def test_a_missing_extension_service_still_names_its_cluster() -> None:
    res = result(root(), config=rls(enable_resource_exhausted_code=True))
    assert res.dag.listeners["ingress_http"].rate_limit_service == RateLimitService(
        "extension/default/ratelimit", enable_resource_exhausted_code=True
    )


def test_without_a_configured_service_no_listener_has_one() -> None:
    res = result(CERT, root().tls("cert"))
    secure = res.dag.listeners["ingress_https"].secure_virtual_hosts[HOST]
    assert (res.dag.listeners["ingress_http"].rate_limit_service, secure.rate_limit_service) == (None, None)


# --- RateLimitPolicyNotValid --------------------------------------------------------------------------------

VHOST_PREFIX = "Spec.VirtualHost.RateLimitPolicy is invalid: "
ROUTE_PREFIX = "route.rateLimitPolicy is invalid: "
TWO_FIELDS = "rate limit descriptor entry must have exactly one field set"
BAD_HEADER = (
    "invalid header name \"x-b@d\": [a valid HTTP header must consist of alphanumeric characters or '-' "
    "(e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')]"
)
INVALID = [
    pytest.param(
        local(1, responseHeadersToAdd=[{"name": "X-Foo", "value": "1"}, {"name": "x-foo", "value": "2"}]),
        'duplicate header addition: "X-Foo"',
        id="duplicate-response-header",
    ),
    pytest.param(
        local(1, responseHeadersToAdd=[{"name": "x-b@d", "value": "1"}]), BAD_HEADER, id="bad-header"
    ),
    pytest.param(
        local(1, responseStatusCode=420),
        "invalid response status code 420 in local rate limit policy",
        id="status-code-envoy-does-not-know",
    ),
    pytest.param(
        descriptors({"genericKey": {"value": "v"}, "remoteAddress": {}}),
        TWO_FIELDS,
        id="entry-with-two-fields",
    ),
    pytest.param(descriptors({}), TWO_FIELDS, id="entry-with-no-field"),
    pytest.param(
        descriptors(
            {"requestHeaderValueMatch": {"headers": [{"name": "x", "regex": "a(?=b)"}], "value": "v"}}
        ),
        "invalid regular expression specified for 'regex' condition",
        id="header-value-match-bad-regex",
    ),
]


@pytest.mark.parametrize(("policy", "message"), INVALID)
def test_an_invalid_virtual_host_policy_is_a_virtual_host_error(policy: dict[str, Any], message: str) -> None:
    res = result(root(vhost_policy=policy))
    assert errors(res) == [("VirtualHostError", "RateLimitPolicyNotValid", VHOST_PREFIX + message)]
    assert HOST not in res.dag.listeners["ingress_http"].virtual_hosts


@pytest.mark.parametrize(("policy", "message"), INVALID)
def test_an_invalid_route_policy_is_a_route_error(policy: dict[str, Any], message: str) -> None:
    res = result(root(route_policy=policy))
    assert errors(res) == [("RouteError", "RateLimitPolicyNotValid", ROUTE_PREFIX + message)]
    assert HOST not in res.dag.listeners["ingress_http"].virtual_hosts


def test_an_invalid_default_global_policy_is_reported_on_each_host_it_applies_to() -> None:
    config = rls({"descriptors": [{"entries": [{"genericKey": {"value": "v"}, "remoteAddress": {}}]}]})
    res = result(root(), config=config)
    assert errors(res) == [
        (
            "VirtualHostError",
            "RateLimitPolicyNotValid",
            f"Default Global RateLimit Policy is invalid: {TWO_FIELDS}",
        )
    ]


def test_an_invalid_default_global_policy_spares_a_host_that_opted_out() -> None:
    config = rls({"descriptors": [{"entries": [{}]}]})
    res = result(root(vhost_policy={"global": {"disabled": True}}), config=config)
    assert errors(res) == []


def test_an_invalid_policy_leaves_other_hosts_serving() -> None:
    other = proxy("other").fqdn("other.example.com").route("/", service("kuard")).build()
    res = result(root(vhost_policy=descriptors({})), other)
    assert "other.example.com" in res.dag.listeners["ingress_http"].virtual_hosts
