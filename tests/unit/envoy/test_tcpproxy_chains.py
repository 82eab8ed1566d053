"""The HTTPS listener's filter chains for TCP proxy hosts, and their clusters.

Passthrough: an SNI-matched chain with only the tcp_proxy filter and no transport socket (Envoy never
terminates TLS; the TLS inspector on the listener reads the SNI). Terminated: the same filter behind
the host's certificate, with no ALPN offered (the backend speaks its own protocol). Weighted services
become weighted clusters, zero weights dropped unless all are zero; TCP health checks and the load
balancer strategy land on the clusters (Contour's internal/envoy/v3/{listener,cluster,healthcheck}.go).
"""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from contour.dag.model import Cluster, HealthCheckPolicy, LoadBalancerPolicy, SecureVirtualHost
from contour.envoy.names import cluster_name
from contour.envoy.translate import TranslatorConfig, clusters, listeners
from tests.unit.envoy.builders import add_secure, http_dag, make_pki, tls_secret, upstream, vhost

PKI = make_pki("tcp.example.com")
HOST = "tcp.example.com"


def https(*hosts: SecureVirtualHost) -> Any:
    found = {item.name: item for item in listeners(add_secure(http_dag(), *hosts), TranslatorConfig())}
    return found["ingress_https"]


def tcp_host(*backends: Cluster, secret: bool = False) -> SecureVirtualHost:
    return SecureVirtualHost(
        virtual_host=vhost(HOST), secret=tls_secret(PKI) if secret else None, tcp_proxy=list(backends)
    )


def tcp_proxy(chain: Any) -> Any:
    result = tcp_proxy_pb2.TcpProxy()
    assert chain.filters[0].name == "envoy.filters.network.tcp_proxy"
    chain.filters[0].typed_config.Unpack(result)
    return result


def test_passthrough_chain_matches_the_sni_and_does_not_terminate() -> None:
    listener = https(tcp_host(upstream("backend", 443)))
    [chain] = listener.filter_chains
    assert list(chain.filter_chain_match.server_names) == [HOST]
    assert not chain.HasField("transport_socket")
    assert [f.name for f in chain.filters] == ["envoy.filters.network.tcp_proxy"]
    assert [f.name for f in listener.listener_filters] == ["envoy.filters.listener.tls_inspector"]


def test_terminated_chain_has_the_certificate_and_no_alpn() -> None:
    [chain] = https(tcp_host(upstream("backend", 443), secret=True)).filter_chains
    context = tls_pb2.DownstreamTlsContext()
    chain.transport_socket.typed_config.Unpack(context)
    assert list(context.common_tls_context.alpn_protocols) == []
    assert len(context.common_tls_context.tls_certificate_sds_secret_configs) == 1
    assert tcp_proxy(chain).cluster == cluster_name(upstream("backend", 443))


def test_a_single_service_is_the_cluster_with_contours_idle_timeout() -> None:
    proxy = tcp_proxy(https(tcp_host(upstream("backend", 443))).filter_chains[0])
    assert proxy.cluster == cluster_name(upstream("backend", 443))
    assert proxy.stat_prefix == "ingress_https"
    assert proxy.idle_timeout.seconds == 9001


@pytest.mark.parametrize(
    ("weights", "expected"),
    [((80, 20), [("a", 80), ("b", 20)]), ((0, 0), [("a", 1), ("b", 1)]), ((0, 5), None)],
    ids=["weighted", "all-zero-even", "zero-dropped"],
)
def test_weights(weights: tuple[int, int], expected: list[tuple[str, int]] | None) -> None:
    a, b = upstream("a", 443, weight=weights[0]), upstream("b", 443, weight=weights[1])
    proxy = tcp_proxy(https(tcp_host(a, b)).filter_chains[0])
    if expected is None:
        assert proxy.cluster == cluster_name(b)
        return
    names = {cluster_name(a): "a", cluster_name(b): "b"}
    assert [(names[c.name], c.weight) for c in proxy.weighted_clusters.clusters] == expected


def _cluster(backend: Cluster) -> Any:
    dag = add_secure(http_dag(), tcp_host(backend))
    [found] = [c for c in clusters(dag, TranslatorConfig()) if c.name == cluster_name(backend)]
    return found


def test_tcp_health_check_on_the_cluster() -> None:
    policy = HealthCheckPolicy(path="", interval_seconds=5, timeout_seconds=1, unhealthy_threshold=4)
    built = _cluster(upstream("backend", 443, health_check_policy=policy))
    [check] = built.health_checks
    assert check.HasField("tcp_health_check") and not check.HasField("http_health_check")
    assert (check.interval.seconds, check.timeout.seconds) == (5, 1)
    assert (check.unhealthy_threshold.value, check.healthy_threshold.value) == (4, 2)
    assert built.ignore_health_on_host_removal


@pytest.mark.parametrize(
    ("strategy", "lb_policy"),
    [
        ("RoundRobin", cluster_pb2.Cluster.ROUND_ROBIN),
        ("Random", cluster_pb2.Cluster.RANDOM),
        ("WeightedLeastRequest", cluster_pb2.Cluster.LEAST_REQUEST),
    ],
    ids=["round-robin", "random", "least-request"],
)
def test_load_balancer_strategy_on_the_cluster(strategy: str, lb_policy: int) -> None:
    built = _cluster(upstream("backend", 443, load_balancer_policy=LoadBalancerPolicy(strategy=strategy)))
    assert built.lb_policy == lb_policy
