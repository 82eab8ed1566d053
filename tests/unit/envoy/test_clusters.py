"""CDS clusters: EDS and STRICT_DNS shapes, upstream protocols and TLS, health checks, limits."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from google.protobuf import json_format

from contour.dag.model import Cluster as DagCluster
from contour.dag.model import (
    HealthCheckPolicy,
    LoadBalancerPolicy,
    ObjectRef,
    Protocol,
    Secret,
    Service,
    ServicePort,
    SlowStartConfig,
    UpstreamValidation,
)
from contour.envoy.clusters import ClusterSettings, cluster
from tests.unit.envoy.builders import upstream

CONTOUR_SOURCE = {
    "api_config_source": {
        "api_type": "GRPC",
        "transport_api_version": "V3",
        "grpc_services": [{"envoy_grpc": {"cluster_name": "contour"}}],
    },
    "resource_api_version": "V3",
}
UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def built(upstream_cluster: DagCluster) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(
        cluster(upstream_cluster, ClusterSettings()), preserving_proto_field_name=True
    )
    return result


def test_eds_cluster_with_contour_defaults() -> None:
    assert built(upstream("kuard")) == {
        "name": "default/kuard/80/da39a3ee5e",
        "alt_stat_name": "default_kuard_80",
        "type": "EDS",
        "eds_cluster_config": {"eds_config": CONTOUR_SOURCE, "service_name": "default/kuard/http"},
        "connect_timeout": "2s",
        "common_lb_config": {"healthy_panic_threshold": {}},
    }


def test_unnamed_port_cluster_reads_endpoints_of_the_service() -> None:
    """Contour's ClusterLoadAssignmentName drops an empty port name; the cluster name keeps the number."""
    service = Service(ref=ObjectRef("default", "kuard"), port=ServicePort("", 8080))
    result = built(DagCluster(upstream=service))
    assert (result["name"], result["eds_cluster_config"]["service_name"]) == (
        "default/kuard/8080/da39a3ee5e",
        "default/kuard",
    )


def test_external_name_is_a_strict_dns_cluster() -> None:
    service = Service(
        ref=ObjectRef("default", "ext"), port=ServicePort("https", 443), external_name="example.org"
    )
    result = built(DagCluster(upstream=service))
    assert result["type"] == "STRICT_DNS"
    assert result["load_assignment"] == {
        "cluster_name": "default/ext/https",
        "endpoints": [
            {
                "lb_endpoints": [
                    {
                        "endpoint": {
                            "address": {"socket_address": {"address": "example.org", "port_value": 443}}
                        }
                    }
                ]
            }
        ],
    }


@pytest.mark.parametrize(
    ("strategy", "policy"),
    [
        ("Random", "RANDOM"),
        ("WeightedLeastRequest", "LEAST_REQUEST"),
        ("Cookie", "RING_HASH"),
        ("RequestHash", "RING_HASH"),
    ],
)
def test_load_balancer_policy(strategy: str, policy: str) -> None:
    assert built(upstream("kuard", load_balancer_policy=LoadBalancerPolicy(strategy)))["lb_policy"] == policy


@pytest.mark.parametrize("protocol", [Protocol.H2, Protocol.H2C], ids=["h2", "h2c"])
def test_http2_upstreams(protocol: Protocol) -> None:
    options = built(upstream("grpc", protocol=protocol))["typed_extension_protocol_options"]
    assert options == {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": HTTP_OPTIONS,
            "explicit_http_config": {"http2_protocol_options": {}},
        }
    }


def test_h2_upstream_uses_tls_with_alpn_sni_validation_and_client_certificate() -> None:
    ca = Secret(ObjectRef("default", "ca"), ca=b"CA PEM")
    client = Secret(ObjectRef("projectcontour", "client"), cert=b"CERT", key=b"KEY")
    result = built(
        upstream(
            "grpc",
            protocol=Protocol.H2,
            sni="grpc.internal",
            upstream_validation=UpstreamValidation(ca, ("grpc.internal", "alt.internal")),
            client_certificate=client,
        )
    )
    context = result["transport_socket"]["typed_config"]
    assert result["transport_socket"]["name"] == "envoy.transport_sockets.tls"
    assert context["@type"] == UPSTREAM_TLS
    assert context["sni"] == "grpc.internal"
    common = context["common_tls_context"]
    assert common["alpn_protocols"] == ["h2"]
    assert common["tls_params"]["tls_minimum_protocol_version"] == "TLSv1_2"
    assert common["tls_params"]["tls_maximum_protocol_version"] == "TLSv1_3"
    assert common["validation_context"] == {
        "trusted_ca": {"inline_bytes": "Q0EgUEVN"},
        "match_typed_subject_alt_names": [
            {"san_type": "DNS", "matcher": {"exact": "grpc.internal"}},
            {"san_type": "DNS", "matcher": {"exact": "alt.internal"}},
        ],
    }
    assert [c["name"] for c in common["tls_certificate_sds_secret_configs"]] == [
        "projectcontour/client/" + hashlib.sha1(b"CERT", usedforsecurity=False).hexdigest()[:10]
    ]


def test_tls_upstream_has_no_alpn_and_no_http2() -> None:
    result = built(upstream("secure", protocol=Protocol.TLS))
    assert "alpn_protocols" not in result["transport_socket"]["typed_config"]["common_tls_context"]
    assert "typed_extension_protocol_options" not in result


def test_http_health_check() -> None:
    check = HealthCheckPolicy(path="/healthz", host="", interval_seconds=5, expected_statuses=((200, 300),))
    result = built(upstream("kuard", health_check_policy=check))
    assert result["ignore_health_on_host_removal"] is True
    assert result["health_checks"] == [
        {
            "timeout": "2s",
            "interval": "5s",
            "unhealthy_threshold": 3,
            "healthy_threshold": 2,
            "http_health_check": {
                "host": "contour-envoy-healthcheck",
                "path": "/healthz",
                "expected_statuses": [{"start": "200", "end": "300"}],
            },
        }
    ]


def test_tcp_health_check() -> None:
    result = built(upstream("db", 5432, health_check_policy=HealthCheckPolicy()))
    assert result["health_checks"][0]["tcp_health_check"] == {}


def test_circuit_breakers_from_service_annotations() -> None:
    service = Service(
        ref=ObjectRef("default", "kuard"),
        port=ServicePort("http", 80),
        max_connections=9,
        max_retries=2,
        per_host_max_connections=1,
    )
    assert built(DagCluster(upstream=service))["circuit_breakers"] == {
        "thresholds": [{"max_connections": 9, "max_retries": 2}],
        "per_host_thresholds": [{"max_connections": 1}],
    }


def test_slow_start_on_round_robin() -> None:
    result = built(
        upstream("kuard", slow_start=SlowStartConfig(window_seconds=5, aggression=1.5, min_weight_percent=20))
    )
    assert result["round_robin_lb_config"] == {
        "slow_start_config": {
            "slow_start_window": "5s",
            "aggression": {"default_value": 1.5, "runtime_key": "contour.slowstart.aggression"},
            "min_weight_percent": {"value": 20.0},
        }
    }


def test_idle_connection_timeout_sets_protocol_options() -> None:
    options = built(upstream("kuard", idle_connection_timeout_seconds=90))["typed_extension_protocol_options"]
    assert options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"] == {
        "@type": HTTP_OPTIONS,
        "explicit_http_config": {"http_protocol_options": {}},
        "common_http_protocol_options": {"idle_timeout": "90s"},
    }


def test_connect_timeout_from_the_route_wins() -> None:
    assert built(upstream("kuard", timeout_policy_connect_seconds=0.5))["connect_timeout"] == "0.500s"
