"""Envoy messages for the route parts HTTPRoutes add: the 500 share of invalid backends, regex path
rewrites (forwarded and redirected), mirror fractions and per-route CORS; and the real Envoy accepts
them (`envoy --mode validate` on a static bootstrap whose route configuration, like one sent over RDS,
is not validated against the clusters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.type.v3 import percent_pb2
from google.protobuf import json_format

from contour.dag.model import (
    Cluster,
    CORSPolicy,
    MirrorPolicy,
    ObjectRef,
    PathMatch,
    PathMatchKind,
    Redirect,
    Route,
    Service,
    ServicePort,
)
from contour.envoy.gatewayapi_route_actions import INVALID_BACKEND_CLUSTER
from contour.envoy.http_connection_manager import CORS_FILTER
from contour.envoy.names import cluster_name
from contour.envoy.routes import envoy_route
from tests.unit.envoy.envoy_validate import assert_envoy_accepts

PREFIX = PathMatch(PathMatchKind.SEGMENT_PREFIX, "/")


def _cluster(name: str, weight: int = 1) -> Cluster:
    return Cluster(upstream=Service(ObjectRef("infra", name), ServicePort("http", 8080)), weight=weight)


def test_invalid_backend_share_is_a_weighted_entry_answering_500() -> None:
    route = Route(path_match=PREFIX, clusters=[_cluster("v1", 3)], invalid_backend_weight=1)
    action = envoy_route(route, secure=False).route
    entries = {(c.name, c.weight.value) for c in action.weighted_clusters.clusters}
    assert entries == {(cluster_name(route.clusters[0]), 3), (INVALID_BACKEND_CLUSTER, 1)}
    assert action.cluster_not_found_response_code == rc.RouteAction.INTERNAL_SERVER_ERROR


def test_all_valid_backends_keep_the_plain_cluster_action() -> None:
    route = Route(path_match=PREFIX, clusters=[_cluster("v1")])
    action = envoy_route(route, secure=False).route
    assert action.cluster == cluster_name(route.clusters[0])
    assert action.cluster_not_found_response_code == rc.RouteAction.SERVICE_UNAVAILABLE


def test_regex_rewrite_on_a_forwarded_route() -> None:
    route = Route(path_match=PREFIX, clusters=[_cluster("v1")], regex_rewrite=("^/strip/*", "/"))
    rewrite = envoy_route(route, secure=False).route.regex_rewrite
    assert (rewrite.pattern.regex, rewrite.substitution) == ("^/strip/*", "/")


def test_regex_rewrite_on_a_redirect() -> None:
    route = Route(path_match=PREFIX, redirect=Redirect(status_code=301, regex_rewrite=("^/.*$", "/new")))
    redirect = envoy_route(route, secure=False).redirect
    assert (redirect.regex_rewrite.pattern.regex, redirect.regex_rewrite.substitution) == ("^/.*$", "/new")
    assert redirect.response_code == rc.RedirectAction.MOVED_PERMANENTLY


@pytest.mark.parametrize(
    ("weight", "denominator", "numerator", "envoy_denominator"),
    [
        pytest.param(20, 100, 20, percent_pb2.FractionalPercent.HUNDRED, id="percent"),
        pytest.param(5, 10_000, 5, percent_pb2.FractionalPercent.TEN_THOUSAND, id="ten-thousandths"),
        pytest.param(1, 3, 333_333, percent_pb2.FractionalPercent.MILLION, id="thirds-per-million"),
    ],
)
def test_mirror_fraction(weight: int, denominator: int, numerator: int, envoy_denominator: int) -> None:
    mirror = MirrorPolicy(cluster=_cluster("v2"), weight=weight, denominator=denominator)
    route = Route(path_match=PREFIX, clusters=[_cluster("v1")], mirror_policies=[mirror])
    (policy,) = envoy_route(route, secure=False).route.request_mirror_policies
    assert policy.runtime_fraction.default_value.numerator == numerator
    assert policy.runtime_fraction.default_value.denominator == envoy_denominator


def test_route_cors_policy_is_per_filter_config() -> None:
    cors = CORSPolicy(
        allow_origin=("https://a.example.com", "https://[^/]*\\.b\\.com"), allow_methods=("GET",)
    )
    result = envoy_route(Route(path_match=PREFIX, clusters=[_cluster("v1")], cors_policy=cors), secure=False)
    config = cors_pb2.CorsPolicy()
    result.typed_per_filter_config[CORS_FILTER].Unpack(config)
    origins = [(m.exact, m.safe_regex.regex) for m in config.allow_origin_string_match]
    assert origins == [("https://a.example.com", ""), ("", "https://[^/]*\\.b\\.com")]
    assert config.allow_methods == "GET"


def _bootstrap(routes: list[Any]) -> dict[str, Any]:
    virtual_host = rc.VirtualHost(name="h", domains=["*"], routes=routes)
    route_config = {
        "name": "r",
        "validate_clusters": False,
        "virtual_hosts": [json_format.MessageToDict(virtual_host, preserving_proto_field_name=True)],
    }
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
        ".HttpConnectionManager",
        "stat_prefix": "t",
        "route_config": route_config,
        "http_filters": [
            {
                "name": CORS_FILTER,
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"},
            },
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            },
        ],
    }
    clusters = sorted(
        {c.name for r in routes if r.HasField("route") for c in r.route.weighted_clusters.clusters}
    )
    clusters += [r.route.cluster for r in routes if r.HasField("route") and r.route.cluster]
    clusters += [m.cluster for r in routes if r.HasField("route") for m in r.route.request_mirror_policies]
    return {
        "static_resources": {
            "listeners": [
                {
                    "name": "l",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                    "filter_chains": [{"filters": [{"name": "hcm", "typed_config": manager}]}],
                }
            ],
            "clusters": [
                {"name": name, "type": "STATIC", "load_assignment": {"cluster_name": name}}
                for name in sorted(set(clusters))
                if name != INVALID_BACKEND_CLUSTER
            ],
        }
    }


def test_envoy_accepts_httproute_route_parts(tmp_path: Path) -> None:
    routes = [
        Route(
            path_match=PathMatch(PathMatchKind.SEGMENT_PREFIX, "/a"),
            clusters=[_cluster("v1", 3)],
            invalid_backend_weight=1,
            regex_rewrite=("^/a/*", "/"),
            mirror_policies=[MirrorPolicy(cluster=_cluster("v2"), weight=1, denominator=3)],
            cors_policy=CORSPolicy(allow_origin=("https://[^/]*\\.b\\.com",), max_age="5s"),
        ),
        Route(
            path_match=PathMatch(PathMatchKind.EXACT, "/b"),
            redirect=Redirect(scheme="https", port=443, status_code=308, regex_rewrite=("^/.*$", "/c")),
        ),
    ]
    assert_envoy_accepts(_bootstrap([envoy_route(r, secure=False) for r in routes]), tmp_path)
