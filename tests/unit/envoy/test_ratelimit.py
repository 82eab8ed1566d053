"""Rate limiting as Envoy configuration: LocalRateLimit per virtual host and route, global descriptors as
`rate_limits` actions, RateLimitPerRoute for `global.disabled`, and the ratelimit filter in Contour's
filter order on the secure chains and the plain listener."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from google.protobuf import json_format

from contour.dag.model import (
    GlobalRateLimitPolicy,
    HeaderMatch,
    HeaderValue,
    LocalRateLimitPolicy,
    RateLimitDescriptorEntry,
    RateLimitPolicy,
    RateLimitService,
    Route,
    SecureVirtualHost,
)
from contour.envoy.ratelimit import (
    LOCAL_RATELIMIT_FILTER,
    RATELIMIT_FILTER,
    global_rate_limits,
    local_rate_limit_config,
    rate_limit_config,
)
from contour.envoy.routes import envoy_route, virtual_host
from contour.envoy.translate import LISTENER, TranslatorConfig, translate
from contour.envoy.translation_memo import TranslationMemo

from .builders import add_secure, http_dag, make_pki, route, tls_secret, upstream, vhost

HOST = "example.com"
SERVICE = RateLimitService("extension/projectcontour/ratelimit", domain="contour")


def as_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def unpacked(any_message: Any, message_class: Any) -> dict[str, Any]:
    message = message_class()
    assert any_message.Unpack(message)
    return as_dict(message)


ALL = {"default_value": {"numerator": 100}}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(
            LocalRateLimitPolicy(15, 10, 60),
            {
                "stat_prefix": "vhost.example.com",
                "token_bucket": {"max_tokens": 15, "tokens_per_fill": 10, "fill_interval": "60s"},
                "filter_enabled": ALL,
                "filter_enforced": ALL,
            },
            id="bucket-always-enabled-and-enforced",
        ),
        pytest.param(
            LocalRateLimitPolicy(
                1, 1, 1, response_status_code=503, response_headers_to_add=(HeaderValue("X-A", "1"),)
            ),
            {
                "stat_prefix": "vhost.example.com",
                "token_bucket": {"max_tokens": 1, "tokens_per_fill": 1, "fill_interval": "1s"},
                "filter_enabled": ALL,
                "filter_enforced": ALL,
                "status": {"code": "ServiceUnavailable"},
                "response_headers_to_add": [
                    {"header": {"key": "X-A", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
                ],
            },
            id="status-and-headers",
        ),
    ],
)
def test_local_rate_limit_config(policy: LocalRateLimitPolicy, expected: dict[str, Any]) -> None:
    assert as_dict(local_rate_limit_config(policy, "vhost.example.com")) == expected


def test_a_virtual_host_gets_its_local_limit_per_filter() -> None:
    host = vhost(HOST, route("/", upstream("kuard")))
    host.rate_limit_policy = RateLimitPolicy(local=LocalRateLimitPolicy(5, 5, 1, host=HOST))
    built = virtual_host(host, secure=False)
    assert built is not None
    config = unpacked(
        built.typed_per_filter_config[LOCAL_RATELIMIT_FILTER], local_rate_limit_pb2.LocalRateLimit
    )
    assert (config["stat_prefix"], config["token_bucket"]["max_tokens"]) == ("vhost.example.com", 5)


def limited_route(**options: Any) -> Route:
    return route("/", upstream("kuard"), **options)


def test_a_route_gets_its_local_limit_counted_under_its_hosts_prefix() -> None:
    r = limited_route(rate_limit_policy=RateLimitPolicy(local=LocalRateLimitPolicy(2, 2, 3600, host=HOST)))
    built = envoy_route(r, secure=True)
    config = unpacked(
        built.typed_per_filter_config[LOCAL_RATELIMIT_FILTER], local_rate_limit_pb2.LocalRateLimit
    )
    assert (config["stat_prefix"], config["token_bucket"]["fill_interval"]) == ("vhost.example.com", "3600s")


def test_the_https_redirect_copy_of_a_route_has_no_limits() -> None:
    policy = RateLimitPolicy(
        local=LocalRateLimitPolicy(2, 2, 1, host=HOST),
        global_policy=GlobalRateLimitPolicy(((RateLimitDescriptorEntry("remote_address"),),)),
    )
    built = envoy_route(limited_route(rate_limit_policy=policy, https_upgrade=True), secure=False)
    assert (dict(built.typed_per_filter_config), list(built.route.rate_limits)) == ({}, [])


@pytest.mark.parametrize(
    ("entry", "action"),
    [
        pytest.param(
            RateLimitDescriptorEntry("generic_key", key="k", value="v"),
            {"generic_key": {"descriptor_key": "k", "descriptor_value": "v"}},
            id="generic-key",
        ),
        pytest.param(
            RateLimitDescriptorEntry("request_header", key="user", header_name="x-user"),
            {"request_headers": {"header_name": "x-user", "descriptor_key": "user"}},
            id="request-header",
        ),
        pytest.param(
            RateLimitDescriptorEntry(
                "header_value_match",
                value="gold",
                headers=(HeaderMatch("x-tier", "exact", "gold"),),
                expect_match=False,
            ),
            {
                "header_value_match": {
                    "descriptor_value": "gold",
                    "expect_match": False,
                    "headers": [{"name": "x-tier", "string_match": {"exact": "gold"}}],
                }
            },
            id="header-value-match",
        ),
        pytest.param(RateLimitDescriptorEntry("remote_address"), {"remote_address": {}}, id="remote-address"),
    ],
)
def test_a_descriptor_entry_becomes_one_action(
    entry: RateLimitDescriptorEntry, action: dict[str, Any]
) -> None:
    [limit] = global_rate_limits(GlobalRateLimitPolicy(((entry,),)))
    assert as_dict(limit) == {"actions": [action]}


def test_each_descriptor_is_one_rate_limit() -> None:
    policy = GlobalRateLimitPolicy(
        (
            (RateLimitDescriptorEntry("remote_address"), RateLimitDescriptorEntry("generic_key", value="a")),
            (RateLimitDescriptorEntry("generic_key", value="b"),),
        )
    )
    assert [len(limit.actions) for limit in global_rate_limits(policy)] == [2, 1]


def test_host_descriptors_go_on_the_virtual_host_and_route_descriptors_on_the_route_action() -> None:
    own = GlobalRateLimitPolicy(((RateLimitDescriptorEntry("generic_key", value="route"),),))
    host = vhost(HOST, limited_route(rate_limit_policy=RateLimitPolicy(global_policy=own)))
    host.rate_limit_policy = RateLimitPolicy(
        global_policy=GlobalRateLimitPolicy(((RateLimitDescriptorEntry("remote_address"),),))
    )
    built = virtual_host(host, secure=False)
    assert built is not None
    assert [as_dict(r) for r in built.rate_limits] == [{"actions": [{"remote_address": {}}]}]
    [r] = built.routes
    assert [as_dict(x) for x in r.route.rate_limits] == [
        {"actions": [{"generic_key": {"descriptor_value": "route"}}]}
    ]


def test_a_route_with_global_disabled_ignores_its_hosts_descriptors() -> None:
    built = envoy_route(limited_route(ignore_vhost_rate_limits=True), secure=False)
    config = unpacked(built.typed_per_filter_config[RATELIMIT_FILTER], rate_limit_pb2.RateLimitPerRoute)
    assert config == {"vh_rate_limits": "IGNORE"}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        pytest.param(
            SERVICE,
            {
                "domain": "contour",
                "failure_mode_deny": True,
                "rate_limit_service": {
                    "grpc_service": {
                        "envoy_grpc": {
                            "cluster_name": "extension/projectcontour/ratelimit",
                            "authority": "extension.projectcontour.ratelimit",
                        }
                    },
                    "transport_api_version": "V3",
                },
            },
            id="defaults",
        ),
        pytest.param(
            RateLimitService(
                "extension/projectcontour/ratelimit",
                domain="contour",
                fail_open=True,
                enable_x_rate_limit_headers=True,
                enable_resource_exhausted_code=True,
                sni="rls.example.com",
                timeout_seconds=0.5,
            ),
            {
                "domain": "contour",
                "timeout": "0.500s",
                "rate_limit_service": {
                    "grpc_service": {
                        "envoy_grpc": {
                            "cluster_name": "extension/projectcontour/ratelimit",
                            "authority": "rls.example.com",
                        }
                    },
                    "transport_api_version": "V3",
                },
                "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
                "rate_limited_as_resource_exhausted": True,
            },
            id="fail-open-headers-resource-exhausted-sni-timeout",
        ),
    ],
)
def test_rate_limit_filter_config(service: RateLimitService, expected: dict[str, Any]) -> None:
    assert as_dict(rate_limit_config(service)) == expected


def filter_names(listener: Any) -> list[list[str]]:
    names = []
    for chain in listener.filter_chains:
        manager = hcm.HttpConnectionManager()
        chain.filters[0].typed_config.Unpack(manager)
        names.append([f.name for f in manager.http_filters])
    return names


def listeners(service: RateLimitService | None) -> dict[str, Any]:
    dag = http_dag(vhost(HOST, route("/", upstream("kuard"))))
    dag.listeners["ingress_http"].rate_limit_service = service
    pki = make_pki(HOST)
    secure = SecureVirtualHost(vhost(HOST, route("/", upstream("kuard"))), secret=tls_secret(pki))
    secure.rate_limit_service = service
    add_secure(dag, secure)
    found: list[Any] = translate(dag, TranslatorConfig())[LISTENER]
    return {listener.name: listener for listener in found if isinstance(listener, listener_pb2.Listener)}


@pytest.mark.parametrize("name", ["ingress_http", "ingress_https"])
def test_the_ratelimit_filter_comes_last_before_the_router(name: str) -> None:
    [chain] = filter_names(listeners(SERVICE)[name])
    assert chain[-2:] == [RATELIMIT_FILTER, "router"]


@pytest.mark.parametrize("name", ["ingress_http", "ingress_https"])
def test_no_ratelimit_filter_without_a_service(name: str) -> None:
    [chain] = filter_names(listeners(None)[name])
    assert RATELIMIT_FILTER not in chain


def test_the_memo_path_emits_the_same_route_bytes() -> None:
    host = vhost(
        HOST, limited_route(rate_limit_policy=RateLimitPolicy(local=LocalRateLimitPolicy(1, 1, 1, host=HOST)))
    )
    host.rate_limit_policy = RateLimitPolicy(
        global_policy=GlobalRateLimitPolicy(((RateLimitDescriptorEntry("remote_address"),),))
    )
    dag = http_dag(host)
    plain = translate(dag, TranslatorConfig())
    memo = translate(dag, TranslatorConfig(), TranslationMemo())
    route_url = next(url for url in plain if url.endswith("RouteConfiguration"))
    [message] = plain[route_url]
    [serialized] = memo[route_url]
    assert serialized.data == message.SerializeToString(deterministic=True)
