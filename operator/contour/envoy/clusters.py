"""CDS clusters from the DAG's upstreams, as Contour's `internal/envoy/v3/cluster.go` builds them.

A Service port becomes an EDS cluster named `namespace/service/port/hash` whose endpoints come from
EDS under the Service's `eds_name`; an ExternalName Service becomes a STRICT_DNS cluster to the
external name. Protocol h2/h2c selects HTTP/2 upstream, tls/h2 adds an upstream TLS transport socket
(SNI, CA and SAN validation, client certificate over SDS). Contour's defaults: 2 s connect timeout,
healthy panic threshold disabled, round robin. The configuration may add a per-connection buffer
limit, a maximum of requests per upstream connection, and circuit-breaker defaults that apply to
each limit a Service's annotations leave unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as upstream_http
from envoy.type.matcher.v3 import string_pb2
from envoy.type.v3 import http_pb2, percent_pb2, range_pb2
from google.protobuf import wrappers_pb2

from contour.dag.model import Cluster, Protocol, Secret, UpstreamValidation
from contour.envoy.core import (
    DEFAULT_CIPHER_SUITES,
    TLS_TRANSPORT_SOCKET,
    config_source,
    pack,
    socket_address,
    tls_version,
)
from contour.envoy.durations import duration
from contour.envoy.names import (
    HEALTH_CHECK_HEALTHY_THRESHOLD,
    HEALTH_CHECK_HOST,
    HEALTH_CHECK_INTERVAL_SECONDS,
    HEALTH_CHECK_TIMEOUT_SECONDS,
    HEALTH_CHECK_UNHEALTHY_THRESHOLD,
    alt_stat_name,
    cluster_name,
    cluster_protocol,
    secret_name,
)

PROTOCOL_OPTIONS_KEY: Final = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
SLOW_START_RUNTIME_KEY: Final = "contour.slowstart.aggression"
_LB_POLICIES: Final = {
    "WeightedLeastRequest": cluster_pb2.Cluster.LEAST_REQUEST,
    "Random": cluster_pb2.Cluster.RANDOM,
    "Cookie": cluster_pb2.Cluster.RING_HASH,
    "RequestHash": cluster_pb2.Cluster.RING_HASH,
}
_DNS_FAMILIES: Final = {
    "v4": cluster_pb2.Cluster.V4_ONLY,
    "v6": cluster_pb2.Cluster.V6_ONLY,
    "all": cluster_pb2.Cluster.ALL,
}


@dataclass(frozen=True)
class UpstreamTLSSettings:
    """Contour's `envoy.cluster.upstreamTLS` defaults: TLS 1.2 to 1.3 with its cipher suites."""

    minimum_protocol_version: str = "1.2"
    maximum_protocol_version: str = "1.3"
    cipher_suites: tuple[str, ...] = DEFAULT_CIPHER_SUITES


@dataclass(frozen=True)
class ClusterSettings:
    """Cluster-wide options; `ads` puts EDS and the client certificates' SDS on the aggregated stream."""

    connect_timeout_seconds: float = 2.0
    dns_lookup_family: str = "auto"
    upstream_tls: UpstreamTLSSettings = field(default_factory=UpstreamTLSSettings)
    ads: bool = False
    max_requests_per_connection: int | None = None
    per_connection_buffer_limit_bytes: int | None = None
    # Global circuit-breaker defaults by Contour's camelCase name (maxConnections, maxPendingRequests,
    # maxRequests, maxRetries, perHostMaxConnections), only those configured.
    circuit_breakers: Mapping[str, int] = field(default_factory=dict)


def cluster(upstream: Cluster, settings: ClusterSettings) -> Any:
    """The Envoy cluster for one DAG cluster."""
    service = upstream.upstream
    result = cluster_pb2.Cluster(
        name=cluster_name(upstream),
        alt_stat_name=alt_stat_name(service),
        connect_timeout=duration(
            upstream.timeout_policy_connect_seconds
            if upstream.timeout_policy_connect_seconds
            else settings.connect_timeout_seconds
        ),
        lb_policy=_LB_POLICIES.get(upstream.load_balancer_policy.strategy, cluster_pb2.Cluster.ROUND_ROBIN),
        dns_lookup_family=_DNS_FAMILIES.get(
            upstream.dns_lookup_family or settings.dns_lookup_family, cluster_pb2.Cluster.AUTO
        ),
    )
    # A zero healthy-panic threshold: never send traffic to endpoints health checks marked bad.
    result.common_lb_config.healthy_panic_threshold.CopyFrom(percent_pb2.Percent(value=0))
    if service.external_name:
        result.type = cluster_pb2.Cluster.STRICT_DNS
        result.load_assignment.CopyFrom(
            endpoint_pb2.ClusterLoadAssignment(
                cluster_name=service.eds_name,
                endpoints=[
                    endpoint_components_pb2.LocalityLbEndpoints(
                        lb_endpoints=[
                            endpoint_components_pb2.LbEndpoint(
                                endpoint=endpoint_components_pb2.Endpoint(
                                    address=socket_address(service.external_name, service.port.port)
                                )
                            )
                        ]
                    )
                ],
            )
        )
    else:
        result.type = cluster_pb2.Cluster.EDS
        result.eds_cluster_config.CopyFrom(
            cluster_pb2.Cluster.EdsClusterConfig(
                eds_config=config_source(ads=settings.ads), service_name=service.eds_name
            )
        )
    if upstream.health_check_policy is not None:
        result.health_checks.append(_health_check(upstream))
        # Drop a removed endpoint at once instead of waiting for it to fail its checks.
        result.ignore_health_on_host_removal = True
    _circuit_breakers(result, upstream, settings.circuit_breakers)
    if settings.per_connection_buffer_limit_bytes is not None:
        result.per_connection_buffer_limit_bytes.value = settings.per_connection_buffer_limit_bytes
    protocol = cluster_protocol(upstream)
    if protocol in (Protocol.TLS, Protocol.H2):
        alpn = ("h2",) if protocol == Protocol.H2 else ()
        context = upstream_tls_context(
            upstream.upstream_validation,
            upstream.sni,
            upstream.client_certificate,
            settings.upstream_tls,
            alpn,
            ads=settings.ads,
        )
        result.transport_socket.name = TLS_TRANSPORT_SOCKET
        result.transport_socket.typed_config.CopyFrom(pack(context))
    _protocol_options(
        result, protocol, upstream.idle_connection_timeout_seconds, settings.max_requests_per_connection
    )
    if upstream.slow_start is not None:
        _slow_start(result, upstream)
    return result


def _health_check(upstream: Cluster) -> Any:
    policy = upstream.health_check_policy
    assert policy is not None
    check = health_check_pb2.HealthCheck(
        timeout=duration(policy.timeout_seconds or HEALTH_CHECK_TIMEOUT_SECONDS),
        interval=duration(policy.interval_seconds or HEALTH_CHECK_INTERVAL_SECONDS),
        unhealthy_threshold=wrappers_pb2.UInt32Value(
            value=policy.unhealthy_threshold or HEALTH_CHECK_UNHEALTHY_THRESHOLD
        ),
        healthy_threshold=wrappers_pb2.UInt32Value(
            value=policy.healthy_threshold or HEALTH_CHECK_HEALTHY_THRESHOLD
        ),
    )
    if not policy.path:
        check.tcp_health_check.SetInParent()
        return check
    http = check.http_health_check
    http.path = policy.path
    http.host = policy.host or HEALTH_CHECK_HOST
    if cluster_protocol(upstream) in (Protocol.H2, Protocol.H2C):
        http.codec_client_type = http_pb2.HTTP2
    else:
        http.codec_client_type = http_pb2.HTTP1
    http.expected_statuses.extend(range_pb2.Int64Range(start=s, end=e) for s, e in policy.expected_statuses)
    return check


def _circuit_breakers(result: Any, upstream: Cluster, defaults: Mapping[str, int]) -> None:
    service = upstream.upstream
    limits = {
        "max_connections": service.max_connections or defaults.get("maxConnections", 0),
        "max_pending_requests": service.max_pending_requests or defaults.get("maxPendingRequests", 0),
        "max_requests": service.max_requests or defaults.get("maxRequests", 0),
        "max_retries": service.max_retries or defaults.get("maxRetries", 0),
    }
    per_host = service.per_host_max_connections or defaults.get("perHostMaxConnections", 0)
    if not any(v > 0 for v in limits.values()) and per_host <= 0:
        return
    thresholds = circuit_breaker_pb2.CircuitBreakers.Thresholds()
    for name, value in limits.items():
        if value > 0:
            getattr(thresholds, name).value = value
    result.circuit_breakers.thresholds.append(thresholds)
    if per_host > 0:
        host_thresholds = circuit_breaker_pb2.CircuitBreakers.Thresholds()
        host_thresholds.max_connections.value = per_host
        result.circuit_breakers.per_host_thresholds.append(host_thresholds)


def _protocol_options(
    result: Any, protocol: Protocol, idle_seconds: float | None, max_requests: int | None
) -> None:
    http2 = protocol in (Protocol.H2, Protocol.H2C)
    # Contour leaves Envoy's defaults alone (no options at all) unless something differs.
    if not http2 and idle_seconds is None and max_requests is None:
        return
    options = upstream_http.HttpProtocolOptions()
    if http2:
        options.explicit_http_config.http2_protocol_options.SetInParent()
    else:
        options.explicit_http_config.http_protocol_options.SetInParent()
    if idle_seconds is not None:
        options.common_http_protocol_options.idle_timeout.CopyFrom(duration(idle_seconds))
    if max_requests is not None:
        options.common_http_protocol_options.max_requests_per_connection.value = max_requests
    result.typed_extension_protocol_options[PROTOCOL_OPTIONS_KEY].CopyFrom(pack(options))


def _slow_start(result: Any, upstream: Cluster) -> None:
    start = upstream.slow_start
    assert start is not None
    config = cluster_pb2.Cluster.SlowStartConfig(
        slow_start_window=duration(start.window_seconds),
        aggression=base_pb2.RuntimeDouble(default_value=start.aggression, runtime_key=SLOW_START_RUNTIME_KEY),
        min_weight_percent=percent_pb2.Percent(value=float(start.min_weight_percent)),
    )
    if result.lb_policy == cluster_pb2.Cluster.LEAST_REQUEST:
        result.least_request_lb_config.slow_start_config.CopyFrom(config)
    elif result.lb_policy == cluster_pb2.Cluster.ROUND_ROBIN:
        result.round_robin_lb_config.slow_start_config.CopyFrom(config)


def _validation_context(
    ca: bytes, subject_names: tuple[str, ...] = (), uri_names: tuple[str, ...] = (), ca_file: str = ""
) -> Any:
    context = common_pb2.CertificateValidationContext()
    if ca:
        context.trusted_ca.inline_bytes = ca
    elif ca_file:
        context.trusted_ca.filename = ca_file
    names = [(common_pb2.SubjectAltNameMatcher.DNS, n) for n in subject_names]
    names += [(common_pb2.SubjectAltNameMatcher.URI, n) for n in uri_names]
    for san_type, name in names:
        context.match_typed_subject_alt_names.append(
            common_pb2.SubjectAltNameMatcher(san_type=san_type, matcher=string_pb2.StringMatcher(exact=name))
        )
    return context


def upstream_tls_context(
    validation: UpstreamValidation | None,
    sni: str,
    client_certificate: Secret | None,
    settings: UpstreamTLSSettings,
    alpn: tuple[str, ...] = (),
    *,
    ads: bool = False,
) -> Any:
    """The UpstreamTlsContext: the CA and SANs are inlined (as Contour does); the client cert is SDS."""
    common = tls_pb2.CommonTlsContext(
        alpn_protocols=list(alpn),
        tls_params=common_pb2.TlsParameters(
            tls_minimum_protocol_version=tls_version(settings.minimum_protocol_version),
            tls_maximum_protocol_version=tls_version(settings.maximum_protocol_version),
            cipher_suites=list(settings.cipher_suites),
        ),
    )
    if client_certificate is not None:
        common.tls_certificate_sds_secret_configs.append(
            secret_pb2.SdsSecretConfig(
                name=secret_name(client_certificate), sds_config=config_source(ads=ads)
            )
        )
    if (
        validation is not None
        and (validation.ca_secret.ca or validation.ca_file)
        and (validation.subject_names or validation.uri_subject_names)
    ):
        common.validation_context.CopyFrom(
            _validation_context(
                validation.ca_secret.ca,
                validation.subject_names,
                validation.uri_subject_names,
                validation.ca_file,
            )
        )
    return tls_pb2.UpstreamTlsContext(common_tls_context=common, sni=sni)
