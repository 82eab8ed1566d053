"""LDS listeners from the DAG, as Contour's `internal/xdscache/v3/listener.go` and
`internal/envoy/v3/{listener,stats}.go` build them.

* `ingress_http`: one filter chain, one HCM taking RDS `ingress_http`; only when it has hosts.
* `ingress_https`: the TLS inspector, then one filter chain per secure host matched by SNI
  (`server_names`, or any TLS for `*`), each with its own HCM on RDS `https/<fqdn>` whose first HTTP
  filter answers 421 to a request for another host; TLS from SDS with the host's versions and client
  validation. A passthrough host gets a TCP proxy and no TLS; a fallback-certificate chain goes last.
* `stats-health` (0.0.0.0:8002 by default): /ready, /stats and /stats/prometheus (GET only) proxied to
  the bootstrap's `envoy-admin` cluster, served over LDS like Contour's static listeners.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.listener.proxy_protocol.v3 import proxy_protocol_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2
from envoy.type.matcher.v3 import string_pb2
from google.protobuf import wrappers_pb2

from contour.dag.model import Cluster, DownstreamValidation, Listener, Secret, SecureVirtualHost
from contour.envoy.access_log import AccessLogSettings, file_access_logs
from contour.envoy.bootstrap import ADMIN_CLUSTER_NAME
from contour.envoy.core import TLS_TRANSPORT_SOCKET, pack, socket_address, tls_version
from contour.envoy.durations import duration
from contour.envoy.filter_hooks import plain_listener_filters, secure_host_filters
from contour.envoy.http_connection_manager import (
    HCM_FILTER,
    ConnectionManagerSettings,
    default_http_filters,
    http_connection_manager,
    misdirected_request_filter,
    with_router_last,
)
from contour.envoy.listener_options import ListenerOptions, apply_listener_options, socket_options
from contour.envoy.names import (
    ADMIN_LISTENER,
    FALLBACK_FILTER_CHAIN,
    FALLBACK_ROUTE_CONFIG,
    STATS_LISTENER,
    cluster_name,
    https_route_config_name,
)
from contour.envoy.secrets import sds_secret_config

TCP_PROXY_FILTER: Final = "envoy.filters.network.tcp_proxy"
# Contour's TCP proxy idle timeout (issue projectcontour/contour#1074): 9001 s.
TCP_PROXY_IDLE_SECONDS: Final = 9001
STATS_PATHS: Final = ("/ready", "/stats", "/stats/prometheus")
ADMIN_PATHS: Final = (
    "/certs", "/clusters", "/listeners", "/config_dump", "/memory", "/ready", "/runtime",
    "/server_info", "/stats", "/stats/prometheus", "/stats/recentlookups",
)  # fmt: skip


@dataclass(frozen=True)
class ListenerSettings:
    """Listener-level options from the Contour configuration."""

    connection_manager: ConnectionManagerSettings
    minimum_tls_version: str = "1.2"
    maximum_tls_version: str = "1.3"
    cipher_suites: tuple[str, ...] = ()
    alpn_protocols: tuple[str, ...] = ("h2", "http/1.1")
    http_access_log: str = "/dev/stdout"
    https_access_log: str = "/dev/stdout"
    use_proxy_protocol: bool = False
    options: ListenerOptions = field(default_factory=ListenerOptions)

    @property
    def ads(self) -> bool:
        """Whether config sources name the aggregated stream (one switch, kept on the HCM settings)."""
        return self.connection_manager.ads


def _proxy_protocol(settings: ListenerSettings) -> list[Any]:
    if not settings.use_proxy_protocol:
        return []
    return [
        listener_components_pb2.ListenerFilter(
            name="envoy.filters.listener.proxy_protocol",
            typed_config=pack(proxy_protocol_pb2.ProxyProtocol()),
        )
    ]


def http_listener(listener: Listener, settings: ListenerSettings) -> Any:
    """The plain-HTTP listener: one HCM on RDS named after the listener."""
    manager = http_connection_manager(
        listener.name,
        listener.name,
        settings.connection_manager,
        with_router_last(_defaults(settings) + plain_listener_filters(listener)),
        access_log_path=settings.http_access_log,
    )
    built = listener_pb2.Listener(
        name=listener.name,
        address=socket_address(listener.address, listener.port),
        listener_filters=_proxy_protocol(settings),
        filter_chains=[listener_components_pb2.FilterChain(filters=[manager])],
    )
    return apply_listener_options(built, settings.options)


def _defaults(settings: ListenerSettings) -> list[Any]:
    return default_http_filters(settings.connection_manager.compression)


def serves_tls(host: SecureVirtualHost) -> bool:
    """A secure host Envoy can serve: TLS terminated, or a TCP proxy (passthrough or not).

    A terminated host without routes answers 404 (a Gateway's HTTPS listener keeps one for the names
    no route serves); the HTTPProxy and Ingress builds prune such hosts before translation.
    """
    if host.tcp_proxy:
        return True
    return host.secret is not None


def _max_version(*versions: str) -> int:
    return max(tls_version(v) for v in versions)


def downstream_tls_context(
    secret: Secret,
    *,
    minimum: int,
    maximum: int,
    validation: DownstreamValidation | None,
    settings: ListenerSettings,
    alpn: Sequence[str],
) -> Any:
    """The DownstreamTlsContext: certificate over SDS, client CA and CRL inlined (Contour's choice)."""
    common = tls_pb2.CommonTlsContext(
        tls_params=common_pb2.TlsParameters(
            tls_minimum_protocol_version=minimum,
            tls_maximum_protocol_version=maximum,
            cipher_suites=list(settings.cipher_suites),
        ),
        tls_certificate_sds_secret_configs=[sds_secret_config(secret, ads=settings.ads)],
        alpn_protocols=list(alpn),
    )
    context = tls_pb2.DownstreamTlsContext(common_tls_context=common)
    if validation is not None:
        checks = context.common_tls_context.validation_context
        checks.SetInParent()
        if validation.skip_client_cert_validation:
            checks.trust_chain_verification = common_pb2.CertificateValidationContext.ACCEPT_UNTRUSTED
        if validation.ca is not None and validation.ca.ca:
            checks.trusted_ca.inline_bytes = validation.ca.ca
        if validation.crl is not None and validation.crl.crl:
            checks.crl.inline_bytes = validation.crl.crl
            checks.only_verify_leaf_cert_crl = validation.only_verify_leaf_cert_crl
        context.require_client_certificate.CopyFrom(
            wrappers_pb2.BoolValue(value=not validation.optional_client_certificate)
        )
    return context


def tcp_proxy_filter(
    stat_prefix: str,
    clusters: Sequence[Cluster],
    access_log_path: str,
    access_log: AccessLogSettings | None = None,
) -> Any:
    """Contour's TCPProxy: zero-weight clusters dropped unless all are zero (then evenly weighted)."""
    proxy = tcp_proxy_pb2.TcpProxy(
        stat_prefix=stat_prefix,
        idle_timeout=duration(TCP_PROXY_IDLE_SECONDS),
        access_log=file_access_logs(access_log_path, access_log),
    )
    kept = [c for c in clusters if c.weight > 0] or list(clusters)
    if len(kept) == 1:
        proxy.cluster = cluster_name(kept[0])
    else:
        weighted = [
            tcp_proxy_pb2.TcpProxy.WeightedCluster.ClusterWeight(name=cluster_name(c), weight=c.weight or 1)
            for c in kept
        ]
        weighted.sort(key=lambda w: (w.name, w.weight))
        proxy.weighted_clusters.clusters.extend(weighted)
    return listener_components_pb2.Filter(name=TCP_PROXY_FILTER, typed_config=pack(proxy))


def secure_chain(listener: Listener, host: SecureVirtualHost, settings: ListenerSettings) -> Any:
    """The filter chain of one secure host: its SNI match, TLS context and HCM (or TCP proxy)."""
    validation = host.downstream_validation
    if host.tcp_proxy:
        access_log = settings.connection_manager.access_log
        filters = [tcp_proxy_filter(listener.name, host.tcp_proxy, settings.https_access_log, access_log)]
        alpn: tuple[str, ...] = ()  # the backend offers protocols in its own ServerHello
    else:
        first = [misdirected_request_filter(host.name)]
        filters = [
            http_connection_manager(
                https_route_config_name(host.name),
                listener.name,
                settings.connection_manager,
                with_router_last(first + _defaults(settings) + secure_host_filters(host)),
                access_log_path=settings.https_access_log,
                forward_client_certificate=validation.forward_client_certificate if validation else (),
            )
        ]
        alpn = settings.alpn_protocols
    chain = listener_components_pb2.FilterChain(filters=filters)
    if host.name == "*":
        chain.filter_chain_match.transport_protocol = "tls"
    else:
        chain.filter_chain_match.server_names.append(host.name)
    if host.secret is not None:
        context = downstream_tls_context(
            host.secret,
            minimum=_max_version(settings.minimum_tls_version, host.min_tls_version),
            maximum=tls_version(host.max_tls_version or settings.maximum_tls_version),
            validation=validation,
            settings=settings,
            alpn=alpn,
        )
        chain.transport_socket.name = TLS_TRANSPORT_SOCKET
        chain.transport_socket.typed_config.CopyFrom(pack(context))
    return chain


def _fallback_chain(listener: Listener, host: SecureVirtualHost, settings: ListenerSettings) -> Any:
    assert host.fallback_certificate is not None
    validation = host.downstream_validation
    manager = http_connection_manager(
        FALLBACK_ROUTE_CONFIG,
        listener.name,
        settings.connection_manager,
        _defaults(settings),
        access_log_path=settings.https_access_log,
        forward_client_certificate=validation.forward_client_certificate if validation else (),
    )
    chain = listener_components_pb2.FilterChain(name=FALLBACK_FILTER_CHAIN, filters=[manager])
    chain.filter_chain_match.transport_protocol = "tls"
    context = downstream_tls_context(
        host.fallback_certificate,
        minimum=tls_version(settings.minimum_tls_version),
        maximum=tls_version(settings.maximum_tls_version),
        validation=validation,
        settings=settings,
        alpn=settings.alpn_protocols,
    )
    chain.transport_socket.name = TLS_TRANSPORT_SOCKET
    chain.transport_socket.typed_config.CopyFrom(pack(context))
    return chain


# Builds one secure host's filter chain (`secure_chain`, or a memoised one).
ChainBuilder = Callable[[Listener, SecureVirtualHost, ListenerSettings], Any]


def https_listener(
    listener: Listener, settings: ListenerSettings, chain: ChainBuilder | None = None
) -> Any | None:
    """The TLS listener with one filter chain per servable secure host; None if there is none."""
    chain = chain or secure_chain
    hosts = [listener.secure_virtual_hosts[name] for name in sorted(listener.secure_virtual_hosts)]
    hosts = [h for h in hosts if serves_tls(h)]
    if not hosts:
        return None
    named = [chain(listener, h, settings) for h in hosts if h.name != "*"]
    named.sort(key=lambda c: c.filter_chain_match.server_names[0])
    chains = named + [chain(listener, h, settings) for h in hosts if h.name == "*"]
    fallback = next((h for h in hosts if h.fallback_certificate is not None and not h.tcp_proxy), None)
    if fallback is not None:
        chains.append(_fallback_chain(listener, fallback, settings))
    inspector = listener_components_pb2.ListenerFilter(
        name="envoy.filters.listener.tls_inspector", typed_config=pack(tls_inspector_pb2.TlsInspector())
    )
    built = listener_pb2.Listener(
        name=listener.name,
        address=socket_address(listener.address, listener.port),
        listener_filters=[*_proxy_protocol(settings), inspector],
        filter_chains=chains,
    )
    return apply_listener_options(built, settings.options)


def tcp_keepalive_options() -> list[Any]:
    """Contour's keepalive socket options for its static listeners (idle 45 s, every 5 s, 9 probes)."""
    return socket_options()


def _admin_proxy_listener(name: str, stat_prefix: str, address: str, port: int, paths: Sequence[str]) -> Any:
    routes = [
        rc.Route(
            match=rc.RouteMatch(
                path=path,
                headers=[
                    rc.HeaderMatcher(
                        name=":method", string_match=string_pb2.StringMatcher(exact="GET", ignore_case=True)
                    )
                ],
            ),
            route=rc.RouteAction(cluster=ADMIN_CLUSTER_NAME),
        )
        for path in paths
    ]
    manager = hcm.HttpConnectionManager(
        stat_prefix=stat_prefix,
        route_config=route_pb2.RouteConfiguration(
            virtual_hosts=[rc.VirtualHost(name="backend", domains=["*"], routes=routes)]
        ),
        http_filters=[
            hcm.HttpFilter(name="envoy.filters.http.router", typed_config=pack(router_pb2.Router()))
        ],
        normalize_path=wrappers_pb2.BoolValue(value=True),
    )
    return listener_pb2.Listener(
        name=name,
        address=socket_address(address, port),
        socket_options=tcp_keepalive_options(),
        filter_chains=[
            listener_components_pb2.FilterChain(
                filters=[listener_components_pb2.Filter(name=HCM_FILTER, typed_config=pack(manager))]
            )
        ],
    )


def stats_listener(address: str, port: int) -> Any:
    """`stats-health`: readiness and Prometheus stats from the admin interface, GET only."""
    return _admin_proxy_listener(STATS_LISTENER, "stats", address, port, STATS_PATHS)


def admin_listener(port: int) -> Any:
    """`envoy-admin` on 127.0.0.1: read-only admin pages, for when the admin API is a unix socket."""
    return _admin_proxy_listener(ADMIN_LISTENER, ADMIN_LISTENER, "127.0.0.1", port, ADMIN_PATHS)
