"""DAG in, xDS resources out: the one entry point the controller calls after every rebuild.

`translate(dag, config)` returns, per type URL (cluster, listener, route, secret, runtime), the list of
protobuf messages sorted by resource name. It is pure and deterministic (identical input gives
identical messages, hence identical bytes with deterministic serialisation) and never raises on DAG
content: anything Envoy could not accept is left out or replaced the way Contour does (a route with
no upstream answers 503, a secure host with nothing to serve gets no filter chain). Endpoints are not
here: EDS comes from EndpointSlices through `endpoints.cluster_load_assignment`, without a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.runtime.v3 import rtds_pb2

from contour.dag.model import DAG, Cluster, Listener, Protocol, Secret, SecureVirtualHost, VirtualHost
from contour.envoy.access_log import AccessLogSettings
from contour.envoy.clusters import ClusterSettings, UpstreamTLSSettings, cluster
from contour.envoy.core import DEFAULT_CIPHER_SUITES, type_url
from contour.envoy.extension_clusters import with_extension_clusters, with_extension_secrets
from contour.envoy.http_connection_manager import ConnectionManagerSettings
from contour.envoy.jwt_authn import with_jwks_clusters
from contour.envoy.listener_options import ListenerOptions, listener_runtime_settings
from contour.envoy.listeners import (
    ChainBuilder,
    ListenerSettings,
    admin_listener,
    http_listener,
    https_listener,
    secure_chain,
    serves_tls,
    stats_listener,
)
from contour.envoy.names import FALLBACK_ROUTE_CONFIG, cluster_name, https_route_config_name, secret_name
from contour.envoy.routes import route_configuration, virtual_host
from contour.envoy.runtime import runtime_layer
from contour.envoy.secrets import tls_secret
from contour.envoy.translation_memo import HostTranslation, TranslationMemo, serialized_route_configuration

CLUSTER: Final = type_url(cluster_pb2.Cluster)
LISTENER: Final = type_url(listener_pb2.Listener)
ROUTE: Final = type_url(route_pb2.RouteConfiguration)
SECRET: Final = type_url(secret_pb2.Secret)
RUNTIME: Final = type_url(rtds_pb2.Runtime)

Message = Any


@dataclass(frozen=True)
class TranslatorConfig:
    """The Contour configuration the translation depends on; defaults are `contour serve`'s.

    Timeouts are seconds: None keeps Envoy's default, 0 disables ("infinity"). Listener addresses
    and ports come from the DAG's Listeners. `stats_port` 0 leaves the stats/health listener out;
    `admin_port` > 0 adds Contour's read-only `envoy-admin` listener on 127.0.0.1 (only useful when
    Envoy's admin API is on a unix socket, otherwise the ports collide). `ads` makes every emitted
    ConfigSource (EDS, RDS, SDS) the aggregated stream, for a bootstrap written with
    `BootstrapConfig.ads`; False names a per-type gRPC stream on the `contour` cluster, as Contour does.
    """

    xff_num_trusted_hops: int = 0
    server_header_transformation: str = "overwrite"  # overwrite, append_if_absent, pass_through
    merge_slashes: bool = True
    allow_chunked_length: bool = True
    request_timeout_seconds: float | None = None
    connection_idle_timeout_seconds: float | None = 60.0
    stream_idle_timeout_seconds: float | None = None
    max_connection_duration_seconds: float | None = None
    delayed_close_timeout_seconds: float | None = None
    connection_shutdown_grace_period_seconds: float | None = None
    connect_timeout_seconds: float = 2.0
    default_http_versions: tuple[str, ...] = ("HTTP/1.1", "HTTP/2")
    minimum_tls_version: str = "1.2"
    maximum_tls_version: str = "1.3"
    cipher_suites: tuple[str, ...] = DEFAULT_CIPHER_SUITES
    upstream_tls: UpstreamTLSSettings = field(default_factory=UpstreamTLSSettings)
    dns_lookup_family: str = "auto"
    http_access_log: str = "/dev/stdout"
    https_access_log: str = "/dev/stdout"
    use_proxy_protocol: bool = False
    stats_address: str = "0.0.0.0"
    stats_port: int = 8002
    admin_port: int = 0
    runtime_settings: Mapping[str, float | str | bool] = field(default_factory=dict)
    ads: bool = False
    # Listener, connection manager and cluster options (listener_options.py, access_log.py).
    access_log: AccessLogSettings = field(default_factory=AccessLogSettings)
    compression: str = "gzip"  # gzip, brotli, zstd, disabled
    listener_options: ListenerOptions = field(default_factory=ListenerOptions)
    max_requests_per_connection: int | None = None
    http2_max_concurrent_streams: int | None = None
    max_requests_per_io_cycle: int | None = None
    max_connections_per_listener: int | None = None
    strip_trailing_host_dot: bool = False
    cluster_max_requests_per_connection: int | None = None
    cluster_per_connection_buffer_limit_bytes: int | None = None
    circuit_breakers: Mapping[str, int] = field(default_factory=dict)  # camelCase name -> limit

    def listener_settings(self) -> ListenerSettings:
        versions = set(self.default_http_versions)
        codec = "auto"
        if versions == {"HTTP/1.1"}:
            codec = "http1"
        elif versions == {"HTTP/2"}:
            codec = "http2"
        alpn = tuple(p for v, p in (("HTTP/2", "h2"), ("HTTP/1.1", "http/1.1")) if v in versions)
        manager = ConnectionManagerSettings(
            xff_num_trusted_hops=self.xff_num_trusted_hops,
            server_header_transformation=self.server_header_transformation,
            merge_slashes=self.merge_slashes,
            allow_chunked_length=self.allow_chunked_length,
            request_timeout_seconds=self.request_timeout_seconds,
            connection_idle_timeout_seconds=self.connection_idle_timeout_seconds,
            stream_idle_timeout_seconds=self.stream_idle_timeout_seconds,
            max_connection_duration_seconds=self.max_connection_duration_seconds,
            delayed_close_timeout_seconds=self.delayed_close_timeout_seconds,
            connection_shutdown_grace_period_seconds=self.connection_shutdown_grace_period_seconds,
            codec=codec,
            ads=self.ads,
            access_log=self.access_log,
            compression=self.compression,
            max_requests_per_connection=self.max_requests_per_connection,
            http2_max_concurrent_streams=self.http2_max_concurrent_streams,
            strip_trailing_host_dot=self.strip_trailing_host_dot,
        )
        return ListenerSettings(
            connection_manager=manager,
            minimum_tls_version=self.minimum_tls_version,
            maximum_tls_version=self.maximum_tls_version,
            cipher_suites=self.cipher_suites,
            alpn_protocols=alpn or ("h2", "http/1.1"),
            http_access_log=self.http_access_log,
            https_access_log=self.https_access_log,
            use_proxy_protocol=self.use_proxy_protocol,
            options=self.listener_options,
        )

    def cluster_settings(self) -> ClusterSettings:
        return ClusterSettings(
            connect_timeout_seconds=self.connect_timeout_seconds,
            dns_lookup_family=self.dns_lookup_family,
            upstream_tls=self.upstream_tls,
            ads=self.ads,
            max_requests_per_connection=self.cluster_max_requests_per_connection,
            per_connection_buffer_limit_bytes=self.cluster_per_connection_buffer_limit_bytes,
            circuit_breakers=self.circuit_breakers,
        )

    def runtime(self, listener_names: Iterable[str]) -> Mapping[str, float | str | bool]:
        """The runtime settings: the configured ones, then the listener keys Contour manages."""
        managed = listener_runtime_settings(
            listener_names,
            max_requests_per_io_cycle=self.max_requests_per_io_cycle,
            max_connections_per_listener=self.max_connections_per_listener,
        )
        return {**self.runtime_settings, **managed}


def translate(
    dag: DAG, config: TranslatorConfig, memo: TranslationMemo | None = None
) -> dict[str, list[Message]]:
    """Every xDS resource but endpoints for `dag`, by type URL, each list sorted by name.

    With a `memo` (one per controller, see `translation_memo`), what an earlier DAG already had is
    not translated again, and route configurations come as `Serialized` bytes instead of messages.
    """
    if memo is None:
        return {
            CLUSTER: with_extension_clusters(
                with_jwks_clusters(clusters(dag, config), dag, config.cluster_settings()),
                dag,
                config.cluster_settings(),
            ),
            LISTENER: listeners(dag, config),
            ROUTE: route_configurations(dag),
            SECRET: with_extension_secrets(secrets(dag), dag),
            RUNTIME: [runtime_layer(config.runtime(dag.listeners))],
        }
    memo.begin(config)
    hosts = _memo_hosts(dag, memo)
    others = _other_clusters(dag)
    certified = [c for _, _, h in hosts for c in h.with_client_certificate]
    result = {
        CLUSTER: with_extension_clusters(
            with_jwks_clusters(_memo_clusters(config, hosts, others, memo), dag, config.cluster_settings()),
            dag,
            config.cluster_settings(),
        ),
        LISTENER: listeners(dag, config, memo),
        ROUTE: _memo_route_configurations(dag, hosts),
        SECRET: with_extension_secrets(secrets(dag, certified + others), dag),
        RUNTIME: [runtime_layer(config.runtime(dag.listeners))],
    }
    memo.end()
    return result


def listeners(dag: DAG, config: TranslatorConfig, memo: TranslationMemo | None = None) -> list[Message]:
    settings = config.listener_settings()
    chain: ChainBuilder = secure_chain
    if memo is not None:
        # A secure host's filter chain comes from the memo while the host is the same object.
        def chain(listener: Listener, host: SecureVirtualHost, settings: ListenerSettings) -> Message:
            return memo.chain(listener.name, host, lambda: secure_chain(listener, host, settings))

    result = []
    for listener in dag.listeners.values():
        if listener.protocol == "https" or listener.secure_virtual_hosts:
            secure = https_listener(listener, settings, chain)
            if secure is not None:
                result.append(secure)
        elif listener.virtual_hosts:
            result.append(http_listener(listener, settings))
    if config.stats_port:
        result.append(stats_listener(config.stats_address, config.stats_port))
    if config.admin_port:
        result.append(admin_listener(config.admin_port))
    return sorted(result, key=lambda m: m.name)


def route_configurations(dag: DAG) -> list[Message]:
    configs: dict[str, list[Any]] = {}
    for listener in dag.listeners.values():
        if listener.protocol == "http":
            hosts = configs.setdefault(listener.name, [])
            for vhost in listener.virtual_hosts.values():
                built = virtual_host(vhost, secure=False)
                if built is not None:
                    hosts.append(built)
        for host in listener.secure_virtual_hosts.values():
            if host.tcp_proxy or not serves_tls(host):
                continue
            built = virtual_host(host.virtual_host, secure=True)
            # A secure host without routes still has a filter chain asking for its configuration: an
            # empty one (Envoy answers 404). The HTTPProxy processor prunes such hosts; a Gateway's
            # HTTPS listener keeps one for the names no route serves.
            configs[https_route_config_name(host.name)] = [built] if built is not None else []
            if host.fallback_certificate is not None and built is not None:
                configs.setdefault(FALLBACK_ROUTE_CONFIG, []).append(built)
    return [route_configuration(name, hosts) for name, hosts in sorted(configs.items())]


def _dag_clusters(dag: DAG) -> Iterator[Cluster]:
    for listener in dag.listeners.values():
        secure = [h.virtual_host for h in listener.secure_virtual_hosts.values()]
        for vhost in [*listener.virtual_hosts.values(), *secure]:
            for route in vhost.routes.values():
                yield from route.clusters
                yield from (mirror.cluster for mirror in route.mirror_policies)
        for host in listener.secure_virtual_hosts.values():
            yield from host.tcp_proxy or ()


def clusters(dag: DAG, config: TranslatorConfig) -> list[Message]:
    settings = config.cluster_settings()
    unique: dict[str, Cluster] = {}
    for upstream in _dag_clusters(dag):
        unique.setdefault(cluster_name(upstream), upstream)
    return [cluster(unique[name], settings) for name in sorted(unique)]


def _dag_certificates(dag: DAG, upstreams: Iterable[Cluster] | None = None) -> Iterator[Secret]:
    for listener in dag.listeners.values():
        for host in listener.secure_virtual_hosts.values():
            if not serves_tls(host):
                continue
            if host.secret is not None:
                yield host.secret
            if host.fallback_certificate is not None:
                yield host.fallback_certificate
    for upstream in _dag_clusters(dag) if upstreams is None else upstreams:
        protocol = upstream.protocol or upstream.upstream.protocol
        if upstream.client_certificate is not None and protocol in (Protocol.TLS, Protocol.H2):
            yield upstream.client_certificate


def secrets(dag: DAG, upstreams: Iterable[Cluster] | None = None) -> list[Message]:
    """TLS certificates (SDS); `upstreams`, when given, are the DAG clusters that may have a client
    certificate (by default every cluster is looked at)."""
    unique = {secret_name(s): s for s in _dag_certificates(dag, upstreams) if s.cert and s.key}
    return [tls_secret(unique[name]) for name in sorted(unique)]


# --- with a TranslationMemo ---------------------------------------------------------------------------

# (listener name, secure host or None, translation) for every host a route configuration may carry.
_Hosts = list[tuple[str, SecureVirtualHost | None, HostTranslation]]


def _memo_hosts(dag: DAG, memo: TranslationMemo) -> _Hosts:
    hosts: _Hosts = []
    for listener in dag.listeners.values():
        if listener.protocol == "http":
            hosts.extend(
                (listener.name, None, memo.host(v, secure=False)) for v in listener.virtual_hosts.values()
            )
        for svh in listener.secure_virtual_hosts.values():
            hosts.append((listener.name, svh, memo.host(svh.virtual_host, secure=True)))
    return hosts


def _other_clusters(dag: DAG) -> list[Cluster]:
    """The DAG clusters `_memo_hosts` does not cover: TCP proxies, and hosts of non-HTTP listeners."""
    found: list[Cluster] = []
    for listener in dag.listeners.values():
        found.extend(c for svh in listener.secure_virtual_hosts.values() for c in svh.tcp_proxy or ())
        if listener.protocol != "http":
            found.extend(c for v in listener.virtual_hosts.values() for c in _vhost_clusters(v))
    return found


def _vhost_clusters(vhost: VirtualHost) -> Iterator[Cluster]:
    for route in vhost.routes.values():
        yield from route.clusters
        yield from (mirror.cluster for mirror in route.mirror_policies)


def _memo_clusters(
    config: TranslatorConfig, hosts: _Hosts, others: list[Cluster], memo: TranslationMemo
) -> list[Message]:
    settings = config.cluster_settings()
    unique: dict[str, Cluster] = {}
    setdefault = unique.setdefault
    for _, _, host in hosts:
        for name, upstream in host.clusters:
            setdefault(name, upstream)
    for upstream in others:
        setdefault(cluster_name(upstream), upstream)

    def build(upstream: Cluster) -> Message:
        return cluster(upstream, settings)

    return [memo.cluster(name, unique[name], build) for name in sorted(unique)]


def _memo_route_configurations(dag: DAG, hosts: _Hosts) -> list[Message]:
    configs: dict[str, list[HostTranslation]] = {}
    for listener in dag.listeners.values():
        if listener.protocol == "http":
            configs.setdefault(listener.name, [])
    for listener_name, svh, host in hosts:
        if svh is None:
            configs[listener_name].append(host)
            continue
        if svh.tcp_proxy or not serves_tls(svh):
            continue
        configs[https_route_config_name(svh.name)] = [host]  # an empty one for a host without routes
        if svh.fallback_certificate is not None and host.entry:
            configs.setdefault(FALLBACK_ROUTE_CONFIG, []).append(host)
    return [serialized_route_configuration(name, members) for name, members in sorted(configs.items())]
