"""Route and cluster translation cases the main tables did not reach.

Slow start under WeightedLeastRequest (and its absence under strategies Envoy has no slow start for),
service-level response headers on a weighted cluster, a mirror's default share, retriable status codes
without an explicit retry count, and an `infinity` stream idle timeout.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from contour.dag.model import (
    HeadersPolicy,
    HeaderValue,
    LoadBalancerPolicy,
    MirrorPolicy,
    RetryPolicy,
    SlowStartConfig,
    TimeoutPolicy,
)
from contour.envoy.clusters import ClusterSettings, cluster
from contour.envoy.routes import envoy_route
from tests.unit.envoy.builders import route, upstream

SLOW = SlowStartConfig(window_seconds=30, aggression=2.0, min_weight_percent=25)


def as_json(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def test_slow_start_on_weighted_least_request_goes_into_the_least_request_config() -> None:
    built = as_json(
        cluster(
            upstream(
                "kuard", slow_start=SLOW, load_balancer_policy=LoadBalancerPolicy("WeightedLeastRequest")
            ),
            ClusterSettings(),
        )
    )
    assert built["lb_policy"] == "LEAST_REQUEST"
    assert built["least_request_lb_config"] == {
        "slow_start_config": {
            "slow_start_window": "30s",
            "aggression": {"default_value": 2.0, "runtime_key": "contour.slowstart.aggression"},
            "min_weight_percent": {"value": 25.0},
        }
    }
    assert "round_robin_lb_config" not in built


@pytest.mark.parametrize("strategy", ["Random", "Cookie", "RequestHash"])
def test_no_slow_start_config_for_strategies_without_slow_start(strategy: str) -> None:
    built = as_json(
        cluster(
            upstream("kuard", slow_start=SLOW, load_balancer_policy=LoadBalancerPolicy(strategy)),
            ClusterSettings(),
        )
    )
    assert not {"round_robin_lb_config", "least_request_lb_config"} & built.keys()


def test_service_response_headers_go_on_their_weighted_cluster() -> None:
    a = upstream("a", weight=50, response_headers_policy=HeadersPolicy(set=(HeaderValue("X-From", "a"),)))
    b = upstream("b", weight=50, response_headers_policy=HeadersPolicy(remove=("X-Drop",)))
    built = as_json(envoy_route(route("/", b, a), secure=False))
    assert built["route"]["weighted_clusters"]["clusters"] == [
        {
            "name": "default/a/80/da39a3ee5e",
            "weight": 50,
            "response_headers_to_add": [
                {"header": {"key": "X-From", "value": "a"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            ],
        },
        {"name": "default/b/80/da39a3ee5e", "weight": 50, "response_headers_to_remove": ["X-Drop"]},
    ]
    assert "response_headers_to_add" not in built


def test_a_service_with_a_header_policy_is_a_weighted_cluster_even_alone() -> None:
    alone = upstream("a", request_headers_policy=HeadersPolicy(set=(HeaderValue("X-A", "1"),)))
    built = as_json(envoy_route(route("/", alone), secure=False))
    assert "cluster" not in built["route"]
    assert [c["name"] for c in built["route"]["weighted_clusters"]["clusters"]] == ["default/a/80/da39a3ee5e"]


def test_a_mirror_without_a_weight_mirrors_everything() -> None:
    built = as_json(
        envoy_route(
            route("/", upstream("kuard"), mirror_policies=[MirrorPolicy(upstream("m"))]), secure=False
        )
    )
    assert built["route"]["request_mirror_policies"] == [
        {"cluster": "default/m/80/da39a3ee5e", "runtime_fraction": {"default_value": {"numerator": 100}}}
    ]


def test_retriable_status_codes_with_no_retries_leave_the_count_to_envoy() -> None:
    policy = RetryPolicy(("retriable-status-codes",), 0, None, (418, 503))
    built = as_json(envoy_route(route("/", upstream("kuard"), retry_policy=policy), secure=False))
    assert built["route"]["retry_policy"] == {
        "retry_on": "retriable-status-codes",
        "retriable_status_codes": [418, 503],
    }


def test_an_infinite_stream_idle_timeout_is_zero() -> None:
    built = as_json(
        envoy_route(
            route("/", upstream("kuard"), timeout_policy=TimeoutPolicy(idle_stream_seconds=0)), secure=False
        )
    )
    assert built["route"]["idle_timeout"] == "0s"
    assert "timeout" not in built["route"]


def test_the_https_redirect_route_carries_no_policies() -> None:
    built = as_json(
        envoy_route(
            route(
                "/",
                upstream("kuard"),
                https_upgrade=True,
                timeout_policy=TimeoutPolicy(idle_stream_seconds=5),
                retry_policy=RetryPolicy(),
                mirror_policies=[MirrorPolicy(upstream("m"), 10)],
            ),
            secure=False,
        )
    )
    assert built == {"match": {"prefix": "/"}, "redirect": {"https_redirect": True}}
