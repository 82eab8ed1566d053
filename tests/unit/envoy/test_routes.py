"""RouteConfigurations: Contour's constant parts, matches, actions and policies, as JSON."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from contour.dag.conditions import wildcard_authority_match
from contour.dag.model import (
    CORSPolicy,
    DirectResponse,
    HeaderMatch,
    HeadersPolicy,
    HeaderValue,
    LoadBalancerPolicy,
    MirrorPolicy,
    PathMatch,
    PathMatchKind,
    QueryParamMatch,
    Redirect,
    RequestHashPolicy,
    RetryPolicy,
    TimeoutPolicy,
)
from contour.envoy.routes import cors_policy, envoy_route, route_configuration, virtual_host
from contour.envoy.translate import route_configurations
from tests.unit.envoy.builders import http_dag, route, upstream, vhost

KUARD = "default/kuard/80/da39a3ee5e"


def as_json(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def test_every_route_configuration_ignores_the_port_and_stamps_request_start() -> None:
    assert as_json(route_configuration("ingress_http")) == {
        "name": "ingress_http",
        "ignore_port_in_host_matching": True,
        "request_headers_to_add": [
            {
                # APPEND_IF_EXISTS_OR_ADD is the enum's zero value, so JSON leaves it out.
                "header": {"key": "x-request-start", "value": "t=%START_TIME(%s.%3f)%"},
            }
        ],
    }


def test_ingress_http_exists_without_hosts() -> None:
    assert [c.name for c in route_configurations(http_dag())] == ["ingress_http"]


def test_virtual_host_is_named_and_matched_by_host() -> None:
    built = as_json(virtual_host(vhost("www.example.com", route("/", upstream("kuard"))), secure=False))
    assert built == {
        "name": "www.example.com",
        "domains": ["www.example.com"],
        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": KUARD}}],
    }


def test_host_without_routes_is_left_out() -> None:
    assert virtual_host(vhost("empty.example.com"), secure=False) is None


def test_wildcard_host_route_carries_the_dags_single_label_authority_match() -> None:
    dag_route = route("/", upstream("kuard"), header_matches=(wildcard_authority_match("*.example.com"),))
    built = as_json(virtual_host(vhost("*.example.com", dag_route), secure=False))
    assert built["domains"] == ["*.example.com"]
    assert built["routes"][0]["match"]["headers"] == [
        {
            "name": ":authority",
            "string_match": {
                "safe_regex": {"regex": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.example\.com(:[0-9]+)?"}
            },
        }
    ]


AUTHORITY_MATCHES = {
    "the-dags-own": wildcard_authority_match("*.example.com"),
    "another-regex": HeaderMatch(":authority", "regex", "^[a-z]+\\.example\\.com$"),
    "exact": HeaderMatch(":authority", "exact", "a.example.com"),
    "capitalised-name": HeaderMatch(":Authority", "present"),
}


@pytest.mark.parametrize("existing", AUTHORITY_MATCHES.values(), ids=AUTHORITY_MATCHES.keys())
def test_authority_matches_are_translated_as_the_dag_built_them(existing: HeaderMatch) -> None:
    """The DAG owns the wildcard match: the translator adds none to a `*.` host's routes."""
    host = vhost("*.example.com", route("/", upstream("kuard"), header_matches=(existing,)))
    headers = as_json(virtual_host(host, secure=False))["routes"][0]["match"]["headers"]
    assert [h["name"] for h in headers] == [existing.name]


MATCHES = {
    "prefix": (PathMatch(PathMatchKind.PREFIX, "/api"), {"prefix": "/api"}),
    "segment-prefix-trims-slash": (
        PathMatch(PathMatchKind.SEGMENT_PREFIX, "/api/"),
        {"path_separated_prefix": "/api"},
    ),
    "segment-root-is-a-prefix": (PathMatch(PathMatchKind.SEGMENT_PREFIX, "/"), {"prefix": "/"}),
    "exact": (PathMatch(PathMatchKind.EXACT, "/a"), {"path": "/a"}),
    "regex-is-anchored": (PathMatch(PathMatchKind.REGEX, "/v[0-9]+"), {"safe_regex": {"regex": "^/v[0-9]+"}}),
}


@pytest.mark.parametrize(("path", "expected"), MATCHES.values(), ids=MATCHES.keys())
def test_path_match(path: PathMatch, expected: dict[str, Any]) -> None:
    assert as_json(envoy_route(route(path, upstream("kuard")), secure=False))["match"] == expected


HEADERS = {
    "exact": (HeaderMatch("x", "exact", "v"), {"string_match": {"exact": "v"}}),
    "exact-ignore-case": (
        HeaderMatch("x", "exact", "v", ignore_case=True),
        {"string_match": {"exact": "v", "ignore_case": True}},
    ),
    "not-exact": (
        HeaderMatch("x", "exact", "v", invert=True),
        {"string_match": {"exact": "v"}, "invert_match": True},
    ),
    "contains-quotes-the-value": (
        HeaderMatch("x", "contains", "a.b"),
        {"string_match": {"safe_regex": {"regex": r".*a\.b.*"}}},
    ),
    "present": (HeaderMatch("x", "present"), {"present_match": True}),
    "not-present": (HeaderMatch("x", "present", invert=True), {"present_match": True, "invert_match": True}),
    "regex": (HeaderMatch("x", "regex", "^v$"), {"string_match": {"safe_regex": {"regex": "^v$"}}}),
    "missing-as-empty": (
        HeaderMatch("x", "exact", "", treat_missing_as_empty=True),
        {"string_match": {"exact": ""}, "treat_missing_header_as_empty": True},
    ),
}


@pytest.mark.parametrize(("header", "expected"), HEADERS.values(), ids=HEADERS.keys())
def test_header_match(header: HeaderMatch, expected: dict[str, Any]) -> None:
    built = as_json(envoy_route(route("/", upstream("kuard"), header_matches=(header,)), secure=False))
    assert built["match"]["headers"] == [{"name": "x", **expected}]


QUERIES = {
    "exact": (QueryParamMatch("q", "exact", "v"), {"string_match": {"exact": "v"}}),
    "prefix-ignore-case": (
        QueryParamMatch("q", "prefix", "v", ignore_case=True),
        {"string_match": {"prefix": "v", "ignore_case": True}},
    ),
    "suffix": (QueryParamMatch("q", "suffix", "v"), {"string_match": {"suffix": "v"}}),
    "contains": (QueryParamMatch("q", "contains", "v"), {"string_match": {"contains": "v"}}),
    "regex": (QueryParamMatch("q", "regex", "^v$"), {"string_match": {"safe_regex": {"regex": "^v$"}}}),
    "present": (QueryParamMatch("q", "present"), {"present_match": True}),
}


@pytest.mark.parametrize(("query", "expected"), QUERIES.values(), ids=QUERIES.keys())
def test_query_match(query: QueryParamMatch, expected: dict[str, Any]) -> None:
    built = as_json(envoy_route(route("/", upstream("kuard"), query_param_matches=(query,)), secure=False))
    assert built["match"]["query_parameters"] == [{"name": "q", **expected}]


def test_https_upgrade_redirects_on_the_plain_listener_only() -> None:
    upgraded = route("/", upstream("kuard"), https_upgrade=True)
    assert as_json(envoy_route(upgraded, secure=False))["redirect"] == {"https_redirect": True}
    assert as_json(envoy_route(upgraded, secure=True))["route"] == {"cluster": KUARD}


def test_route_without_upstream_answers_503() -> None:
    assert as_json(envoy_route(route("/"), secure=False))["direct_response"] == {"status": 503}


def test_direct_response_with_body() -> None:
    built = as_json(envoy_route(route("/", direct_response=DirectResponse(418, "tea")), secure=False))
    assert built["direct_response"] == {"status": 418, "body": {"inline_string": "tea"}}


@pytest.mark.parametrize(
    ("redirect", "expected"),
    [
        (
            Redirect(scheme="https", hostname="a.com", port=8443, status_code=301),
            {"scheme_redirect": "https", "host_redirect": "a.com", "port_redirect": 8443},
        ),
        (Redirect(path="/new"), {"path_redirect": "/new", "response_code": "FOUND"}),
        (Redirect(prefix="/p", status_code=302), {"prefix_rewrite": "/p", "response_code": "FOUND"}),
    ],
    ids=["scheme-host-port-301", "path-302-default", "prefix"],
)
def test_redirect(redirect: Redirect, expected: dict[str, Any]) -> None:
    assert as_json(envoy_route(route("/", redirect=redirect), secure=False))["redirect"] == expected


def test_weighted_clusters_sorted_and_all_zero_weights_become_even() -> None:
    built = as_json(envoy_route(route("/", upstream("b"), upstream("a")), secure=False))
    assert built["route"]["weighted_clusters"] == {
        "clusters": [
            {"name": "default/a/80/da39a3ee5e", "weight": 1},
            {"name": "default/b/80/da39a3ee5e", "weight": 1},
        ]
    }


def test_weighted_cluster_headers_and_host_rewrite() -> None:
    policy = HeadersPolicy(
        set=(HeaderValue("x-b", "2"), HeaderValue("x-a", "1")), remove=("x-r",), host_rewrite="h"
    )
    built = as_json(envoy_route(route("/", upstream("kuard", request_headers_policy=policy)), secure=False))
    assert built["route"]["weighted_clusters"]["clusters"] == [
        {
            "name": KUARD,
            "weight": 1,
            "request_headers_to_add": [
                {"header": {"key": "x-a", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                {"header": {"key": "x-b", "value": "2"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
            ],
            "request_headers_to_remove": ["x-r"],
            "host_rewrite_literal": "h",
        }
    ]


def test_route_policies() -> None:
    built = as_json(
        envoy_route(
            route(
                "/",
                upstream("kuard"),
                timeout_policy=TimeoutPolicy(response_seconds=0, idle_stream_seconds=30),
                retry_policy=RetryPolicy(("5xx", "reset"), 3, 0.5, (503,)),
                mirror_policies=[MirrorPolicy(upstream("mirror"), 25)],
                websocket=True,
                prefix_rewrite="/v2",
                request_headers_policy=HeadersPolicy(
                    add=(HeaderValue("x-ns", "default"),), host_rewrite="up"
                ),
                response_headers_policy=HeadersPolicy(remove=("server",)),
            ),
            secure=False,
        )
    )
    assert built == {
        "match": {"prefix": "/"},
        "route": {
            "cluster": KUARD,
            "timeout": "0s",
            "idle_timeout": "30s",
            "retry_policy": {
                "retry_on": "5xx,reset",
                "num_retries": 3,
                "per_try_timeout": "0.500s",
                "retriable_status_codes": [503],
            },
            "request_mirror_policies": [
                {
                    "cluster": "default/mirror/80/da39a3ee5e",
                    "runtime_fraction": {"default_value": {"numerator": 25}},
                }
            ],
            "upgrade_configs": [{"upgrade_type": "websocket"}],
            "prefix_rewrite": "/v2",
            "host_rewrite_literal": "up",
        },
        "request_headers_to_add": [{"header": {"key": "x-ns", "value": "default"}}],
        "response_headers_to_remove": ["server"],
    }


def test_no_timeout_keeps_envoys_15_second_default() -> None:
    assert "timeout" not in as_json(envoy_route(route("/", upstream("kuard")), secure=False))["route"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            LoadBalancerPolicy("Cookie"),
            [{"cookie": {"name": "X-Contour-Session-Affinity", "ttl": "0s", "path": "/"}}],
        ),
        (
            LoadBalancerPolicy(
                "RequestHash",
                (
                    RequestHashPolicy(header_name="x-u", terminal=True),
                    RequestHashPolicy(query_parameter="id"),
                    RequestHashPolicy(hash_source_ip=True),
                ),
            ),
            [
                {"header": {"header_name": "x-u"}, "terminal": True},
                {"query_parameter": {"name": "id"}},
                {"connection_properties": {"source_ip": True}},
            ],
        ),
    ],
    ids=["cookie", "request-hash"],
)
def test_hash_policies(policy: LoadBalancerPolicy, expected: list[dict[str, Any]]) -> None:
    built = as_json(envoy_route(route("/", upstream("kuard", load_balancer_policy=policy)), secure=False))
    assert built["route"]["hash_policy"] == expected


def test_cors_policy() -> None:
    policy = CORSPolicy(
        allow_origin=("*", "https://a.example.com", r"https://.*\.b\.com"),
        allow_credentials=True,
        allow_methods=("GET", "POST"),
        allow_headers=("x-a", "x-b"),
        expose_headers=("x-c",),
        max_age="10m",
    )
    assert as_json(cors_policy(policy)) == {
        "allow_origin_string_match": [
            {"exact": "*", "ignore_case": True},
            {"exact": "https://a.example.com", "ignore_case": True},
            {"safe_regex": {"regex": r"https://.*\.b\.com"}},
        ],
        "allow_methods": "GET,POST",
        "allow_headers": "x-a,x-b",
        "expose_headers": "x-c",
        "max_age": "600",
        "allow_credentials": True,
        "allow_private_network_access": False,
    }


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [
        pytest.param("0s", "0", id="zero-disables-caching"),
        pytest.param("1h30m", "5400", id="hours-and-minutes"),
        pytest.param("+90s", "90", id="go-accepts-a-plus-sign"),
        pytest.param("1.5s", "2", id="rounded-like-go-percent-0f"),
        pytest.param(" 10m", None, id="go-rejects-a-space"),
    ],
)
def test_cors_max_age_is_parsed_as_go_does(max_age: str, expected: str | None) -> None:
    built = as_json(cors_policy(CORSPolicy(allow_origin=("*",), allow_methods=("GET",), max_age=max_age)))
    assert built.get("max_age") == expected


def test_routes_in_a_virtual_host_are_sorted() -> None:
    host = vhost(
        "a.com",
        route("/", upstream("kuard")),
        route("/api", upstream("kuard")),
        route(PathMatch(PathMatchKind.EXACT, "/x"), upstream("kuard")),
    )
    built = as_json(virtual_host(host, secure=False))
    assert [r["match"] for r in built["routes"]] == [{"path": "/x"}, {"prefix": "/api"}, {"prefix": "/"}]
