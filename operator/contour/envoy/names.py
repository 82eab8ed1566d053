"""Names of the xDS resources, computed exactly as Contour computes them.

Envoy ties resources together by name (a route names a cluster, a TLS context names an SDS secret,
an HCM names its route configuration), and operators' dashboards key on them, so every name here
matches Contour 1.33: `internal/envoy/cluster.go` (Clustername, AltStatName, Hashname) and
`internal/envoy/secret.go` (Secretname). Hashes are content hashes: the same input always gives the
same name.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Final

from contour.dag.model import Cluster, LoadBalancerPolicy, Protocol, Secret, Service
from contour.envoy.durations import go_duration_string

HTTP_LISTENER: Final = "ingress_http"
HTTPS_LISTENER: Final = "ingress_https"
STATS_LISTENER: Final = "stats-health"
ADMIN_LISTENER: Final = "envoy-admin"
FALLBACK_ROUTE_CONFIG: Final = "ingress_fallbackcert"
FALLBACK_FILTER_CHAIN: Final = "fallback-certificate"
XDS_CLUSTER: Final = "contour"

# Contour's defaults for an HTTP health check (internal/envoy/healthcheck.go HCHost etc.).
HEALTH_CHECK_HOST: Final = "contour-envoy-healthcheck"
HEALTH_CHECK_TIMEOUT_SECONDS: Final = 2
HEALTH_CHECK_INTERVAL_SECONDS: Final = 10
HEALTH_CHECK_UNHEALTHY_THRESHOLD: Final = 3
HEALTH_CHECK_HEALTHY_THRESHOLD: Final = 2

_SHORT_HASH = 6


def hashname(limit: int, *parts: str) -> str:
    """`parts` joined by "/", shortened below `limit` characters the way Contour's Hashname does.

    Elements are truncated from the last one backwards, each to `limit // len(parts)` characters
    ending in "-" and the first 6 hex digits of the SHA-256 of the whole joined name; if that is not
    enough the name becomes the hash itself.
    """
    elements = list(parts)
    joined = "/".join(elements)
    if limit > len(joined):
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()
    for index in range(len(elements) - 1, -1, -1):
        elements[index] = _truncate(limit // len(elements), elements[index], digest[:_SHORT_HASH])
        joined = "/".join(elements)
        if limit > len(joined):
            return joined
    return digest[:limit]


def _truncate(limit: int, text: str, suffix: str) -> str:
    if limit >= len(text):
        return text
    if limit <= len(suffix):
        return suffix[:limit]
    return text[: limit - len(suffix) - 1] + "-" + suffix


def _sha1_prefix(data: bytes) -> str:
    # Not a security hash: Contour uses the first 5 bytes of SHA-1 to keep names unique and stable.
    return hashlib.sha1(data, usedforsecurity=False).digest()[:5].hex()


def lb_strategy(policy: LoadBalancerPolicy) -> str:
    """The DAG's strategy as Contour stores it: RoundRobin (the default) is the empty string."""
    return "" if policy.strategy in ("", "RoundRobin") else policy.strategy


def cluster_protocol(cluster: Cluster) -> Protocol:
    """The upstream protocol: the route's choice, else the Service's annotation / appProtocol."""
    return cluster.protocol or cluster.upstream.protocol


def _cluster_hash_input(cluster: Cluster) -> str:
    text = lb_strategy(cluster.load_balancer_policy)
    check = cluster.health_check_policy
    if check is not None and check.path:
        # Contour hashes only what the user set; the DAG fills defaults in, so a value equal to
        # Contour's default is treated as unset here.
        if check.timeout_seconds and check.timeout_seconds != HEALTH_CHECK_TIMEOUT_SECONDS:
            text += go_duration_string(check.timeout_seconds)
        if check.interval_seconds and check.interval_seconds != HEALTH_CHECK_INTERVAL_SECONDS:
            text += go_duration_string(check.interval_seconds)
        if check.unhealthy_threshold and check.unhealthy_threshold != HEALTH_CHECK_UNHEALTHY_THRESHOLD:
            text += str(check.unhealthy_threshold)
        if check.healthy_threshold and check.healthy_threshold != HEALTH_CHECK_HEALTHY_THRESHOLD:
            text += str(check.healthy_threshold)
        text += check.path
    validation = cluster.upstream_validation
    if validation is not None:
        text += validation.ca_secret.ref.name
        if validation.subject_names:
            text += validation.subject_names[0]
    text += cluster_protocol(cluster).value + cluster.sni
    if cluster.idle_connection_timeout_seconds is not None:
        text += go_duration_string(cluster.idle_connection_timeout_seconds)
    if cluster.slow_start is not None:
        start = cluster.slow_start
        text += f"{go_duration_string(start.window_seconds)}{start.aggression:f}{start.min_weight_percent}"
    return text


# A translate asks for the name of every cluster reference (routes, weighted clusters, CDS): equal
# Clusters have equal names, and hashing the frozen Cluster costs less than half of naming it. Sized
# above the distinct Clusters of the largest DAG measured (10,000 HTTPProxies) so it does not thrash.
@functools.lru_cache(maxsize=1 << 16)
def cluster_name(cluster: Cluster) -> str:
    """`namespace/service/port/<5 bytes of the SHA-1 of its options>`, e.g. `default/kuard/80/da39a3ee5e`."""
    service = cluster.upstream
    suffix = _sha1_prefix(_cluster_hash_input(cluster).encode())
    return hashname(120, service.ref.namespace, service.ref.name, str(service.port.port), suffix)


def alt_stat_name(service: Service) -> str:
    """`namespace_service_port`, the readable stat name Contour gives a cluster."""
    return f"{service.ref.namespace}_{service.ref.name}_{service.port.port}"


def secret_name(secret: Secret) -> str:
    """`namespace/name/<sha1 of the certificate, 5 bytes hex>`: a new certificate is a new SDS name."""
    return hashname(120, secret.ref.namespace, secret.ref.name, _sha1_prefix(secret.cert))


def virtual_host_name(host: str) -> str:
    return hashname(60, host)


def https_route_config_name(host: str) -> str:
    return f"https/{host}"
