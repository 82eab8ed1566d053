"""Envoy's HTTP connection manager as Contour configures it, and the HTTP filters in Contour's order.

Defaults (Contour `internal/envoy/v3/listener.go` httpConnectionManagerBuilder): RDS from the `contour`
cluster, codec AUTO, HTTP/1.0 with a Host accepted, `use_remote_address`, `normalize_path`,
`preserve_external_request_id`, `merge_slashes` unless disabled, the server header transformation,
and the listener-wide timeouts, the optional request limits (max requests per connection, HTTP/2
max concurrent streams) and `strip_trailing_host_dot`. The default filter chain is compressor
(gzip, brotli or zstd; none when compression is disabled), grpc_web, grpc_stats, cors,
local_ratelimit (no bucket: off unless a route enables it), a placeholder Lua filter, rbac, router;
the router always ends the chain, since Envoy only accepts a terminal filter last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from envoy.config.core.v3 import base_pb2, extension_pb2, protocol_pb2
from envoy.config.listener.v3 import listener_components_pb2
from envoy.extensions.compression.brotli.compressor.v3 import brotli_pb2
from envoy.extensions.compression.gzip.compressor.v3 import gzip_pb2
from envoy.extensions.compression.zstd.compressor.v3 import zstd_pb2
from envoy.extensions.filters.http.compressor.v3 import compressor_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.grpc_stats.v3 import config_pb2 as grpc_stats_pb2
from envoy.extensions.filters.http.grpc_web.v3 import grpc_web_pb2
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.lua.v3 import lua_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from google.protobuf import wrappers_pb2

from contour.envoy.access_log import AccessLogSettings, file_access_logs
from contour.envoy.core import config_source, pack, type_url
from contour.envoy.durations import duration

HCM_FILTER: Final = "envoy.filters.network.http_connection_manager"
LUA_FILTER: Final = "envoy.filters.http.lua"
CORS_FILTER: Final = "envoy.filters.http.cors"
LOCAL_RATELIMIT_FILTER: Final = "envoy.filters.http.local_ratelimit"
ROUTER_TYPE_URL: Final = type_url(router_pb2.Router)

# The compressor's content types: Envoy's defaults plus the gRPC-Web ones, as Contour lists them.
COMPRESSIBLE_CONTENT_TYPES: Final = (
    "text/html", "text/plain", "text/css", "application/javascript", "application/x-javascript",
    "text/javascript", "text/x-javascript", "text/ecmascript", "text/js", "text/jscript", "text/x-js",
    "application/ecmascript", "application/x-json", "application/xml", "application/json",
    "image/svg+xml", "text/xml", "application/xhtml+xml", "application/grpc-web",
    "application/grpc-web+proto", "application/grpc-web+json", "application/grpc-web+thrift",
    "application/grpc-web-text", "application/grpc-web-text+proto", "application/grpc-web-text+thrift",
)  # fmt: skip

# compression algorithm -> the compressor library; "disabled" leaves the compressor filter out.
COMPRESSORS: Final[dict[str, Any]] = {
    "gzip": gzip_pb2.Gzip,
    "brotli": brotli_pb2.Brotli,
    "zstd": zstd_pb2.Zstd,
}

SERVER_HEADER_TRANSFORMATIONS: Final = {
    "overwrite": hcm.HttpConnectionManager.OVERWRITE,
    "append_if_absent": hcm.HttpConnectionManager.APPEND_IF_ABSENT,
    "pass_through": hcm.HttpConnectionManager.PASS_THROUGH,
}

# Answers 421 when the request's host (port dropped, lower-cased) is not the TLS server name
# (https://www.rfc-editor.org/rfc/rfc9110#status.421): HTTP/2 clients reuse a connection for every
# host its certificate covers, which would otherwise bypass the per-SNI filter chain.
_MISDIRECTED_LUA = """
function envoy_on_request(request_handle)
\tlocal authority = string.lower(request_handle:headers():get(":authority"))
\tlocal expected = {target}

\tlocal colon = string.find(authority, ":", 1, true)
\tif colon ~= nil then
\t\tauthority = string.sub(authority, 1, colon - 1)
\tend

\tif authority ~= expected then
\t\trequest_handle:respond(
\t\t\t{{[":status"] = "421"}},
\t\t\tstring.format("misdirected request to %q", authority)
\t\t)
\tend
end
"""


@dataclass(frozen=True)
class ConnectionManagerSettings:
    """Listener-wide HCM settings from the Contour configuration; seconds, None = Envoy's default,
    0 = disabled (Contour's "infinity"). `ads` takes RDS from the aggregated stream."""

    xff_num_trusted_hops: int = 0
    server_header_transformation: str = "overwrite"
    merge_slashes: bool = True
    allow_chunked_length: bool = True
    request_timeout_seconds: float | None = None
    connection_idle_timeout_seconds: float | None = 60.0
    stream_idle_timeout_seconds: float | None = None
    max_connection_duration_seconds: float | None = None
    delayed_close_timeout_seconds: float | None = None
    connection_shutdown_grace_period_seconds: float | None = None
    codec: str = "auto"  # auto, http1, http2
    ads: bool = False
    access_log: AccessLogSettings = field(default_factory=AccessLogSettings)
    compression: str = "gzip"  # gzip, brotli, zstd, disabled
    max_requests_per_connection: int | None = None
    http2_max_concurrent_streams: int | None = None
    strip_trailing_host_dot: bool = False


def http_filter(name: str, config: Any) -> Any:
    return hcm.HttpFilter(name=name, typed_config=pack(config))


def compressor_filters(compression: str = "gzip") -> list[Any]:
    """The compressor filter with the configured library (unknown names: gzip); none when disabled."""
    if compression == "disabled":
        return []
    name = compression if compression in COMPRESSORS else "gzip"
    compressor = compressor_pb2.Compressor(
        compressor_library=extension_pb2.TypedExtensionConfig(
            name=name, typed_config=pack(COMPRESSORS[name]())
        ),
        response_direction_config=compressor_pb2.Compressor.ResponseDirectionConfig(
            common_config=compressor_pb2.Compressor.CommonDirectionConfig(
                content_type=list(COMPRESSIBLE_CONTENT_TYPES)
            )
        ),
    )
    return [http_filter("envoy.filters.http.compressor", compressor)]


def default_http_filters(compression: str = "gzip") -> list[Any]:
    """Contour's DefaultFilters(), router included (last)."""
    placeholder = lua_pb2.Lua(
        default_source_code=base_pb2.DataSource(
            inline_string="-- Placeholder for per-Route or per-Cluster overrides."
        )
    )
    return [
        # Canonical names, as Contour 1.33 gives them: Envoy finds a route's or virtual host's
        # typed_per_filter_config (CORS, local rate limit) by the filter's name, not its type.
        *compressor_filters(compression),
        http_filter("envoy.filters.http.grpc_web", grpc_web_pb2.GrpcWeb()),
        http_filter(
            "envoy.filters.http.grpc_stats",
            grpc_stats_pb2.FilterConfig(emit_filter_state=True, enable_upstream_stats=True),
        ),
        http_filter(CORS_FILTER, cors_pb2.Cors()),
        http_filter(LOCAL_RATELIMIT_FILTER, local_rate_limit_pb2.LocalRateLimit(stat_prefix="http")),
        http_filter(LUA_FILTER, placeholder),
        http_filter("envoy.filters.http.rbac", rbac_pb2.RBAC()),
        http_filter("router", router_pb2.Router()),
    ]


def misdirected_request_filter(fqdn: str) -> Any:
    """The Lua filter answering 421 when :authority does not match the SNI of this filter chain.

    For a wildcard host the chain matched some name under it, so the SNI Envoy saw is the target
    (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/lua_filter#requestedservername).
    """
    if fqdn.startswith("*"):
        target = "request_handle:streamInfo():requestedServerName()"
    else:
        target = '"' + fqdn.lower() + '"'
    code = _MISDIRECTED_LUA.format(target=target)
    return http_filter(LUA_FILTER, lua_pb2.Lua(default_source_code=base_pb2.DataSource(inline_string=code)))


def with_router_last(filters: Sequence[Any]) -> list[Any]:
    """`filters` with the router moved to the end (Contour's AddFilter rule)."""
    routers = [f for f in filters if f.typed_config.type_url == ROUTER_TYPE_URL]
    return [f for f in filters if f.typed_config.type_url != ROUTER_TYPE_URL] + routers


def _set_timeout(message: Any, field: str, seconds: float | None) -> None:
    if seconds is not None:
        getattr(message, field).CopyFrom(duration(seconds))


def http_connection_manager(
    route_config_name: str,
    stat_prefix: str,
    settings: ConnectionManagerSettings,
    filters: Sequence[Any],
    *,
    access_log_path: str = "",
    forward_client_certificate: Sequence[str] = (),
) -> Any:
    """The HCM network filter for a listener or an SNI filter chain, taking routes over RDS."""
    manager = hcm.HttpConnectionManager(
        stat_prefix=stat_prefix,
        codec_type={"http1": hcm.HttpConnectionManager.HTTP1, "http2": hcm.HttpConnectionManager.HTTP2}.get(
            settings.codec, hcm.HttpConnectionManager.AUTO
        ),
        rds=hcm.Rds(route_config_name=route_config_name, config_source=config_source(ads=settings.ads)),
        http_filters=with_router_last(filters),
        http_protocol_options=protocol_pb2.Http1ProtocolOptions(
            accept_http_10=True, allow_chunked_length=settings.allow_chunked_length
        ),
        use_remote_address=wrappers_pb2.BoolValue(value=True),
        xff_num_trusted_hops=settings.xff_num_trusted_hops,
        normalize_path=wrappers_pb2.BoolValue(value=True),
        preserve_external_request_id=True,
        merge_slashes=settings.merge_slashes,
        server_header_transformation=SERVER_HEADER_TRANSFORMATIONS.get(
            settings.server_header_transformation, hcm.HttpConnectionManager.OVERWRITE
        ),
        access_log=file_access_logs(access_log_path, settings.access_log),
        strip_trailing_host_dot=settings.strip_trailing_host_dot,
    )
    common = manager.common_http_protocol_options
    common.SetInParent()
    _set_timeout(common, "idle_timeout", settings.connection_idle_timeout_seconds)
    # Unlike the other timeouts a zero max_connection_duration does not disable it: leave it out.
    if settings.max_connection_duration_seconds:
        _set_timeout(common, "max_connection_duration", settings.max_connection_duration_seconds)
    if settings.max_requests_per_connection is not None:
        common.max_requests_per_connection.value = settings.max_requests_per_connection
    if settings.http2_max_concurrent_streams is not None:
        manager.http2_protocol_options.max_concurrent_streams.value = settings.http2_max_concurrent_streams
    _set_timeout(manager, "request_timeout", settings.request_timeout_seconds)
    _set_timeout(manager, "stream_idle_timeout", settings.stream_idle_timeout_seconds)
    _set_timeout(manager, "drain_timeout", settings.connection_shutdown_grace_period_seconds)
    _set_timeout(manager, "delayed_close_timeout", settings.delayed_close_timeout_seconds)
    if forward_client_certificate:
        details = set(forward_client_certificate)
        manager.forward_client_cert_details = hcm.HttpConnectionManager.SANITIZE_SET
        manager.set_current_client_cert_details.CopyFrom(
            hcm.HttpConnectionManager.SetCurrentClientCertDetails(
                subject=wrappers_pb2.BoolValue(value="subject" in details),
                cert="cert" in details,
                chain="chain" in details,
                dns="dns" in details,
                uri="uri" in details,
            )
        )
    return listener_components_pb2.Filter(name=HCM_FILTER, typed_config=pack(manager))
