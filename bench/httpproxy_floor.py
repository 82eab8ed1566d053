"""The floor of ``bench/httpproxy.py``: the same Envoy resources built by hand with plain upb code.

``bench/httpproxy.py`` feeds N HTTPProxies (plus their Services and EndpointSlices) through the
controller; this module builds, straight from the proxy index, the Listeners, RouteConfiguration,
Clusters, ClusterLoadAssignments and Runtime layer that pipeline produces for them, with no parsing,
no DAG and no generic translation: the least work that gives the same messages. The benchmark checks
that every floor resource serialises to the same bytes as the product's, so the two do the same work.

The workload's naming scheme lives here too (one place for both sides): proxy ``i`` is
``proxy-i`` in namespace ``ns-(i // NAMESPACE_SIZE)`` for ``host-i.example.com``; its 4 routes split
90/10 between its own Service ``svc-i`` and its neighbour's in the same namespace, so N proxies use N
Services, N clusters and N ClusterLoadAssignments (3 endpoints each), the shape of
``bench/xds_envoy.py``'s configuration.
"""

from __future__ import annotations

from typing import Any

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import (
    address_pb2,
    base_pb2,
    config_source_pb2,
    extension_pb2,
    grpc_service_pb2,
    socket_option_pb2,
)
from envoy.config.core.v3 import protocol_pb2 as core_protocol_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.compression.gzip.compressor.v3 import gzip_pb2
from envoy.extensions.filters.http.compressor.v3 import compressor_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.grpc_stats.v3 import config_pb2 as grpc_stats_pb2
from envoy.extensions.filters.http.grpc_web.v3 import grpc_web_pb2
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.lua.v3 import lua_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm,
)
from envoy.service.runtime.v3 import rtds_pb2
from envoy.type.matcher.v3 import string_pb2
from google.protobuf import any_pb2, duration_pb2, struct_pb2, wrappers_pb2

from contour.xds import typeurls

NAMESPACE_SIZE = 100
SERVICE_PORT = 80
TARGET_PORT = 8080
ENDPOINTS_PER_SERVICE = 3
ROUTE_CONFIG = "ingress_http"
# Contour's cluster-name hash of a cluster with no options (the first 10 hex digits of SHA-1 of "").
PLAIN_CLUSTER_HASH = "da39a3ee5e"
REGEX = "/v[0-9]+/items/.*"
OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
COMPRESSED_TYPES = (
    "text/html",
    "text/plain",
    "text/css",
    "application/javascript",
    "application/x-javascript",
    "text/javascript",
    "text/x-javascript",
    "text/ecmascript",
    "text/js",
    "text/jscript",
    "text/x-js",
    "application/ecmascript",
    "application/x-json",
    "application/xml",
    "application/json",
    "image/svg+xml",
    "text/xml",
    "application/xhtml+xml",
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web+json",
    "application/grpc-web+thrift",
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
    "application/grpc-web-text+thrift",
)


# ---- the workload's names ----------------------------------------------------------------------------


def namespace(i: int) -> str:
    return f"ns-{i // NAMESPACE_SIZE}"


def neighbour(i: int, count: int) -> int:
    """The proxy whose Service takes proxy ``i``'s 10 %: the next one in the same namespace, cyclically."""
    start = i - i % NAMESPACE_SIZE
    size = min(NAMESPACE_SIZE, count - start)
    return start + (i - start + 1) % size


def fqdn(i: int) -> str:
    return f"host-{i}.example.com"


def endpoint_addresses(i: int) -> list[str]:
    return [f"10.{(i >> 8) & 255}.{i & 255}.{e + 1}" for e in range(ENDPOINTS_PER_SERVICE)]


def cluster_name(i: int) -> str:
    return f"{namespace(i)}/svc-{i}/{SERVICE_PORT}/{PLAIN_CLUSTER_HASH}"


# ---- the resources -----------------------------------------------------------------------------------


def _any(message: Any) -> Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


# EDS and RDS come from the xDS server's per-type streams (Contour's config source).
CONTOUR_GRPC_SOURCE = config_source_pb2.ConfigSource(
    api_config_source=config_source_pb2.ApiConfigSource(
        api_type=config_source_pb2.ApiConfigSource.GRPC,
        transport_api_version=config_source_pb2.V3,
        grpc_services=[
            grpc_service_pb2.GrpcService(
                envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name="contour")
            )
        ],
    ),
    resource_api_version=config_source_pb2.V3,
)
# ... or from the one ADS stream (``contour run``'s config source).
ADS_SOURCE = config_source_pb2.ConfigSource(
    ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
)


def _source(ads: bool) -> Any:
    return ADS_SOURCE if ads else CONTOUR_GRPC_SOURCE


def cluster(i: int, ads: bool = False) -> Any:
    ns = namespace(i)
    built = cluster_pb2.Cluster(
        name=cluster_name(i), type=cluster_pb2.Cluster.EDS, alt_stat_name=f"{ns}_svc-{i}_{SERVICE_PORT}"
    )
    built.eds_cluster_config.eds_config.CopyFrom(_source(ads))
    built.eds_cluster_config.service_name = f"{ns}/svc-{i}"
    built.connect_timeout.seconds = 2
    built.common_lb_config.healthy_panic_threshold.SetInParent()
    return built


def assignment(i: int) -> Any:
    built = endpoint_pb2.ClusterLoadAssignment(cluster_name=f"{namespace(i)}/svc-{i}")
    locality = built.endpoints.add()
    for address in endpoint_addresses(i):
        socket = locality.lb_endpoints.add().endpoint.address.socket_address
        socket.address = address
        socket.port_value = TARGET_PORT
    locality.load_balancing_weight.value = 1
    return built


def _split(action: Any, main: str, other: str) -> None:
    """90/10 between two clusters, listed by name as Contour sorts them."""
    for name, weight in sorted(((main, 90), (other, 10))):
        split = action.weighted_clusters.clusters.add()
        split.name = name
        split.weight.value = weight


def add_virtual_host(config: Any, i: int, count: int) -> None:
    """Proxy ``i``'s host in Contour's route order: exact path, regex, prefix + header, then "/"."""
    main, other = cluster_name(i), cluster_name(neighbour(i, count))
    name = fqdn(i)
    vhost = config.virtual_hosts.add(name=name, domains=[name])
    exact = vhost.routes.add()
    exact.match.path = "/healthz"
    _split(exact.route, main, other)
    regex = vhost.routes.add()
    regex.match.safe_regex.regex = "^" + REGEX
    _split(regex.route, main, other)
    header = regex.request_headers_to_add.add(append_action=OVERWRITE)
    header.header.key = "X-Route"
    header.header.value = "regex"
    api = vhost.routes.add()
    api.match.prefix = "/api"
    tenant = api.match.headers.add(name="x-tenant")
    tenant.string_match.exact = f"t{i}"
    _split(api.route, main, other)
    api.route.timeout.seconds = 5
    api.route.retry_policy.retry_on = "5xx"
    api.route.retry_policy.num_retries.value = 3
    fallback = vhost.routes.add()
    fallback.match.prefix = "/"
    _split(fallback.route, main, other)


def route_configuration(count: int) -> Any:
    """The ``ingress_http`` table: every proxy's host, sorted by name as Contour sorts them."""
    config = route_pb2.RouteConfiguration(name=ROUTE_CONFIG, ignore_port_in_host_matching=True)
    for i in sorted(range(count), key=fqdn):
        add_virtual_host(config, i, count)
    start_time = config.request_headers_to_add.add().header
    start_time.key = "x-request-start"
    start_time.value = "t=%START_TIME(%s.%3f)%"
    return config


def _http_filter(name: str, config: Any) -> Any:
    return hcm.HttpFilter(name=name, typed_config=_any(config))


def _keepalive() -> list[Any]:
    """Contour's TCP keep-alive socket options (SO_KEEPALIVE; TCP_KEEPIDLE 45, KEEPINTVL 5, KEEPCNT 9)."""
    listening = socket_option_pb2.SocketOption.STATE_LISTENING
    return [
        socket_option_pb2.SocketOption(
            description=text, level=level, name=opt, int_value=value, state=listening
        )
        for text, level, opt, value in (
            ("Enable TCP keep-alive", 1, 9, 1),
            ("TCP keep-alive initial idle time", 6, 4, 45),
            ("TCP keep-alive time between probes", 6, 5, 5),
            ("TCP keep-alive probe count", 6, 6, 9),
        )
    ]


def _listener(name: str, port: int, manager: Any) -> Any:
    """A listener with one HTTP connection manager and Contour's TCP keep-alive."""
    return listener_pb2.Listener(
        name=name,
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(address="0.0.0.0", port_value=port)
        ),
        filter_chains=[
            listener_components_pb2.FilterChain(
                filters=[
                    listener_components_pb2.Filter(
                        name="envoy.filters.network.http_connection_manager", typed_config=_any(manager)
                    )
                ]
            )
        ],
        socket_options=_keepalive(),
    )


def http_listener(port: int, ads: bool = False) -> Any:
    """``ingress_http`` with Contour's default filter chain (compressor ... router) and access log."""
    manager = hcm.HttpConnectionManager(
        stat_prefix=ROUTE_CONFIG,
        rds=hcm.Rds(config_source=_source(ads), route_config_name=ROUTE_CONFIG),
        http_filters=[
            _http_filter(
                "envoy.filters.http.compressor",
                compressor_pb2.Compressor(
                    compressor_library=_typed_extension("gzip", gzip_pb2.Gzip()),
                    response_direction_config=compressor_pb2.Compressor.ResponseDirectionConfig(
                        common_config=compressor_pb2.Compressor.CommonDirectionConfig(
                            content_type=COMPRESSED_TYPES
                        )
                    ),
                ),
            ),
            _http_filter("envoy.filters.http.grpc_web", grpc_web_pb2.GrpcWeb()),
            _http_filter(
                "envoy.filters.http.grpc_stats",
                grpc_stats_pb2.FilterConfig(emit_filter_state=True, enable_upstream_stats=True),
            ),
            _http_filter("envoy.filters.http.cors", cors_pb2.Cors()),
            _http_filter(
                "envoy.filters.http.local_ratelimit", local_rate_limit_pb2.LocalRateLimit(stat_prefix="http")
            ),
            _http_filter(
                "envoy.filters.http.lua",
                lua_pb2.Lua(
                    default_source_code=base_pb2.DataSource(
                        inline_string="-- Placeholder for per-Route or per-Cluster overrides."
                    )
                ),
            ),
            _http_filter("envoy.filters.http.rbac", rbac_pb2.RBAC()),
            _http_filter("router", router_pb2.Router()),
        ],
        http_protocol_options=core_protocol_pb2.Http1ProtocolOptions(
            accept_http_10=True, allow_chunked_length=True
        ),
        access_log=[_access_log()],
        use_remote_address=wrappers_pb2.BoolValue(value=True),
        normalize_path=wrappers_pb2.BoolValue(value=True),
        preserve_external_request_id=True,
        merge_slashes=True,
        common_http_protocol_options=core_protocol_pb2.HttpProtocolOptions(
            idle_timeout=duration_pb2.Duration(seconds=60)
        ),
    )
    return _listener(ROUTE_CONFIG, port, manager)


def _typed_extension(name: str, config: Any) -> Any:
    return extension_pb2.TypedExtensionConfig(name=name, typed_config=_any(config))


def _access_log() -> Any:
    return accesslog_pb2.AccessLog(
        name="envoy.access_loggers.file", typed_config=_any(file_pb2.FileAccessLog(path="/dev/stdout"))
    )


def stats_listener(port: int) -> Any:
    """``stats-health``: /ready, /stats and /stats/prometheus (GET) to the admin cluster."""
    get = route_components_pb2.HeaderMatcher(name=":method", string_match=_exact_ignore_case("GET"))
    manager = hcm.HttpConnectionManager(
        stat_prefix="stats",
        route_config=route_pb2.RouteConfiguration(
            virtual_hosts=[
                route_components_pb2.VirtualHost(
                    name="backend",
                    domains=["*"],
                    routes=[
                        route_components_pb2.Route(
                            match=route_components_pb2.RouteMatch(path=path, headers=[get]),
                            route=route_components_pb2.RouteAction(cluster="envoy-admin"),
                        )
                        for path in ("/ready", "/stats", "/stats/prometheus")
                    ],
                )
            ]
        ),
        http_filters=[_http_filter("envoy.filters.http.router", router_pb2.Router())],
        normalize_path=wrappers_pb2.BoolValue(value=True),
    )
    return _listener("stats-health", port, manager)


def _exact_ignore_case(value: str) -> Any:
    return string_pb2.StringMatcher(exact=value, ignore_case=True)


def runtime() -> Any:
    return rtds_pb2.Runtime(
        name="dynamic",
        layer=struct_pb2.Struct(
            fields={
                "re2.max_program_size.warn_level": struct_pb2.Value(number_value=1000),
                "re2.max_program_size.error_level": struct_pb2.Value(number_value=1048576),
            }
        ),
    )


def resources(count: int, http_port: int, stats_port: int, ads: bool = False) -> dict[str, list[Any]]:
    """Every resource of the snapshot, by type URL, in the order the product sorts them (by name)."""
    by_cluster_name = sorted(range(count), key=cluster_name)
    return {
        typeurls.CLUSTER: [cluster(i, ads) for i in by_cluster_name],
        typeurls.ENDPOINT: [
            assignment(i) for i in sorted(range(count), key=lambda i: f"{namespace(i)}/svc-{i}")
        ],
        typeurls.LISTENER: [http_listener(http_port, ads), stats_listener(stats_port)],
        typeurls.ROUTE: [route_configuration(count)],
        typeurls.RUNTIME: [runtime()],
    }


def serialise(by_type: dict[str, list[Any]]) -> int:
    """Plain ``SerializeToString`` of every message; returns the total bytes (so nothing is optimised out)."""
    return sum(len(message.SerializeToString()) for messages in by_type.values() for message in messages)
