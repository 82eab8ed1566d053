"""CDS clusters for ExtensionServices (`extension/NAMESPACE/NAME`), as Contour's ExtensionCluster().

An extension cluster is an EDS cluster over its Service's endpoints. Protocol h2 is HTTP/2 over TLS
(an upstream TLS transport socket with ALPN h2, validated when the ExtensionService has a CA and
subject names), h2c cleartext HTTP/2, http/1.1 plain HTTP/1.1. Load balancing, the idle-connection
timeout and the circuit breakers come from the ExtensionService; the Service's circuit-breaker
annotations do not apply. The cluster is built with `clusters.cluster` and then renamed, so it gets
the same defaults as every other cluster.

`translate` calls `with_extension_clusters` and `with_extension_secrets` on both of its paths, so both
emit the same resources.

As Contour's ExtensionCluster and EndpointSliceCache.Recalculate, the cluster's EDS name is the
cluster's own name, and its ClusterLoadAssignment (`extension_load_assignment`, published by the
controller beside the Services' own) merges every Service of the ExtensionService: one locality per
Service with endpoints, weighted by the Service's weight (all 1 when no weight is set; a weight of 0
leaves the locality unweighted). Like Contour's, the cluster has no locality-weighted load balancing
configured, so Envoy spreads requests over all the endpoints and the locality weights are advisory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2

from contour.dag.model import DAG, Cluster, ExtensionCluster, LoadBalancerPolicy, Protocol
from contour.envoy.clusters import ClusterSettings, cluster
from contour.envoy.names import secret_name
from contour.envoy.secrets import tls_secret

_PROTOCOLS: Final = {"h2": Protocol.H2, "h2c": Protocol.H2C, "http/1.1": Protocol.HTTP1}


def _dag_cluster(ext: ExtensionCluster) -> Cluster | None:
    if not ext.services:
        return None
    service, _ = ext.services[0]
    protocol = _PROTOCOLS.get(ext.protocol, Protocol.H2)
    upstream = dataclasses.replace(
        service,
        protocol=protocol,
        max_connections=0,
        max_pending_requests=0,
        max_requests=0,
        max_retries=0,
        per_host_max_connections=0,
    )
    return Cluster(
        upstream=upstream,
        protocol=protocol,
        load_balancer_policy=LoadBalancerPolicy(strategy=ext.load_balancer_strategy or "RoundRobin"),
        upstream_validation=ext.upstream_validation,
        sni=ext.sni,
        idle_connection_timeout_seconds=ext.idle_connection_timeout_seconds,
        client_certificate=ext.client_certificate if protocol == Protocol.H2 else None,
    )


def extension_cluster(ext: ExtensionCluster, settings: ClusterSettings) -> Any | None:
    """The Envoy cluster of one ExtensionService, None when it has no usable Service."""
    upstream = _dag_cluster(ext)
    if upstream is None:
        return None
    result = cluster(upstream, settings)
    result.name = ext.name
    result.eds_cluster_config.service_name = ext.name
    result.ClearField("alt_stat_name")
    breakers = ext.circuit_breakers
    if breakers is not None:
        limits = {
            "max_connections": breakers.max_connections,
            "max_pending_requests": breakers.max_pending_requests,
            "max_requests": breakers.max_requests,
            "max_retries": breakers.max_retries,
        }
        if any(v > 0 for v in limits.values()):
            thresholds = result.circuit_breakers.thresholds.add()
            for name, value in limits.items():
                if value > 0:
                    getattr(thresholds, name).value = value
        if breakers.per_host_max_connections > 0:
            per_host = result.circuit_breakers.per_host_thresholds.add()
            per_host.max_connections.value = breakers.per_host_max_connections
    return result


def extension_load_assignment(name: str, parts: Sequence[tuple[Any, int]]) -> Any:
    """The ClusterLoadAssignment `name` of an extension cluster from (its Services' assignments, their
    weights), in the ExtensionService's order: one locality per Service that has endpoints."""
    rebalance = not any(weight for _, weight in parts)
    result = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    for assignment, weight in parts:
        lb_endpoints = [e for locality in assignment.endpoints for e in locality.lb_endpoints]
        if not lb_endpoints:
            continue
        locality = endpoint_components_pb2.LocalityLbEndpoints(lb_endpoints=lb_endpoints)
        if weight or rebalance:
            locality.load_balancing_weight.value = 1 if rebalance else weight
        result.endpoints.append(locality)
    return result


def extension_clusters(dag: DAG, settings: ClusterSettings) -> list[Any]:
    """Every valid ExtensionService's cluster, sorted by name."""
    built = (
        extension_cluster(dag.extension_clusters[name], settings) for name in sorted(dag.extension_clusters)
    )
    return [c for c in built if c is not None]


def with_extension_clusters(clusters: Sequence[Any], dag: DAG, settings: ClusterSettings) -> list[Any]:
    """`clusters` (sorted by name) with the extension clusters merged in, still sorted by name."""
    extra = extension_clusters(dag, settings)
    if not extra:
        return list(clusters)
    return sorted([*clusters, *extra], key=lambda c: str(c.name))


def with_extension_secrets(secrets: Sequence[Any], dag: DAG) -> list[Any]:
    """`secrets` (sorted by name) plus the client certificates h2 extension clusters present."""
    names = {str(s.name) for s in secrets}
    extra: dict[str, Any] = {}
    for ext in dag.extension_clusters.values():
        upstream = _dag_cluster(ext)
        certificate = upstream.client_certificate if upstream is not None else None
        if certificate is None or not (certificate.cert and certificate.key):
            continue
        name = secret_name(certificate)
        if name not in names:
            extra[name] = tls_secret(certificate)
    if not extra:
        return list(secrets)
    return sorted([*secrets, *extra.values()], key=lambda s: str(s.name))
