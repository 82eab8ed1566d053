"""Envoy file access logs as Contour configures them (`internal/envoy/v3/accesslog.go`).

Every HTTP connection manager and TCP proxy logs to a file (`/dev/stdout` by default, Envoy's own
stdout). The format is either Envoy's text format (Envoy's default line, or the configured format
string) or JSON with one key per configured field (`accessLogJSONFields`: a known field name, a bare
Envoy command operator in lower case, or `name=%OPERATOR%`). Empty values are left out of a line. The
level filters what is logged: `info` everything, `error` responses with status >= 300 or any response
flag, `critical` >= 500 or any response flag, `disabled` nothing (no logger at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.core.v3 import base_pb2, extension_pb2, substitution_format_string_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.formatter.metadata.v3 import metadata_pb2
from envoy.extensions.formatter.req_without_query.v3 import req_without_query_pb2
from google.protobuf import struct_pb2

from contour.envoy.core import pack

FILE_ACCESS_LOGGER: Final = "envoy.access_loggers.file"
# The runtime key Contour gives the status filter, so operators can change the threshold live.
STATUS_CODE_RUNTIME_KEY: Final = "contour.accesslog.filter.status_code"
LEVELS: Final = ("info", "error", "critical", "disabled")
_MINIMUM_STATUS: Final = {"error": 300, "critical": 500}

# JSON field name -> Envoy format (apis/projectcontour/v1alpha1/accesslog.go jsonFields).
JSON_FIELD_FORMATS: Final[Mapping[str, str]] = {
    "@timestamp": "%START_TIME%",
    "ts": "%START_TIME%",
    "authority": "%REQ(:AUTHORITY)%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "uber_trace_id": "%REQ(UBER-TRACE-ID)%",
    "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%",
    "x_trace_id": "%REQ(X-TRACE-ID)%",
    "tls_ja3_fingerprint": "%TLS_JA3_FINGERPRINT%",
    "tls_ja4_fingerprint": "%TLS_JA4_FINGERPRINT%",
    "contour_config_kind": "%METADATA(ROUTE:envoy.access_loggers.file:io.projectcontour.kind)%",
    "contour_config_namespace": "%METADATA(ROUTE:envoy.access_loggers.file:io.projectcontour.namespace)%",
    "contour_config_name": "%METADATA(ROUTE:envoy.access_loggers.file:io.projectcontour.name)%",
}

# Command operators without arguments: a JSON field named after one in lower case logs it.
SIMPLE_OPERATORS: Final = frozenset(
    [
        "BYTES_RECEIVED", "BYTES_SENT", "CONNECTION_ID", "CONNECTION_TERMINATION_DETAILS",
        "DOWNSTREAM_DIRECT_REMOTE_ADDRESS", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
        "DOWNSTREAM_DIRECT_REMOTE_PORT", "DOWNSTREAM_HEADER_BYTES_RECEIVED", "DOWNSTREAM_HEADER_BYTES_SENT",
        "DOWNSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_LOCAL_PORT",
        "DOWNSTREAM_LOCAL_SUBJECT", "DOWNSTREAM_LOCAL_URI_SAN", "DOWNSTREAM_PEER_CERT",
        "DOWNSTREAM_PEER_CERT_V_END", "DOWNSTREAM_PEER_CERT_V_START", "DOWNSTREAM_PEER_FINGERPRINT_1",
        "DOWNSTREAM_PEER_FINGERPRINT_256", "DOWNSTREAM_PEER_ISSUER", "DOWNSTREAM_PEER_SERIAL",
        "DOWNSTREAM_PEER_SUBJECT", "DOWNSTREAM_PEER_URI_SAN", "DOWNSTREAM_REMOTE_ADDRESS",
        "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_REMOTE_PORT", "DOWNSTREAM_TLS_CIPHER",
        "DOWNSTREAM_TLS_SESSION_ID", "DOWNSTREAM_TLS_VERSION", "DOWNSTREAM_WIRE_BYTES_RECEIVED",
        "DOWNSTREAM_WIRE_BYTES_SENT", "DURATION", "FILTER_CHAIN_NAME", "GRPC_STATUS", "GRPC_STATUS_NUMBER",
        "HOSTNAME", "LOCAL_REPLY_BODY", "PROTOCOL", "REQUEST_HEADERS_BYTES", "REQUESTED_SERVER_NAME",
        "REQUEST_DURATION", "REQUEST_TX_DURATION", "RESPONSE_CODE", "RESPONSE_CODE_DETAILS",
        "RESPONSE_DURATION", "RESPONSE_FLAGS", "RESPONSE_HEADERS_BYTES", "RESPONSE_TRAILERS_BYTES",
        "RESPONSE_TX_DURATION", "ROUTE_NAME", "SPAN_ID", "START_TIME", "TLS_JA3_FINGERPRINT",
        "TLS_JA4_FINGERPRINT", "TRACE_ID", "UPSTREAM_CLUSTER", "UPSTREAM_FILTER_STATE",
        "UPSTREAM_HEADER_BYTES_RECEIVED", "UPSTREAM_HEADER_BYTES_SENT", "UPSTREAM_HOST",
        "UPSTREAM_LOCAL_ADDRESS", "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", "UPSTREAM_LOCAL_PORT",
        "UPSTREAM_PEER_CERT", "UPSTREAM_PEER_CERT_V_END", "UPSTREAM_PEER_CERT_V_START",
        "UPSTREAM_PEER_ISSUER", "UPSTREAM_PEER_SUBJECT", "UPSTREAM_PROTOCOL", "UPSTREAM_REMOTE_ADDRESS",
        "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "UPSTREAM_REMOTE_PORT", "UPSTREAM_REQUEST_ATTEMPT_COUNT",
        "UPSTREAM_TLS_CIPHER", "UPSTREAM_TLS_SESSION_ID", "UPSTREAM_TLS_VERSION",
        "UPSTREAM_TRANSPORT_FAILURE_REASON", "UPSTREAM_WIRE_BYTES_RECEIVED", "UPSTREAM_WIRE_BYTES_SENT",
        "VIRTUAL_CLUSTER_NAME",
    ]
)  # fmt: skip

# Contour's DefaultAccessLogJSONFields.
DEFAULT_JSON_FIELDS: Final = (
    "@timestamp", "authority", "bytes_received", "bytes_sent", "downstream_local_address",
    "downstream_remote_address", "duration", "method", "path", "protocol", "request_id",
    "requested_server_name", "response_code", "response_flags", "uber_trace_id", "upstream_cluster",
    "upstream_host", "upstream_local_address", "upstream_service_time", "user_agent", "x_forwarded_for",
    "grpc_status", "grpc_status_number",
)  # fmt: skip

# Formatter extensions a format needs, by the operator that needs them (Contour's
# AccessLogFormatterExtensions).
_FORMATTERS: Final = (
    ("%REQ_WITHOUT_QUERY(", "envoy.formatter.req_without_query", req_without_query_pb2.ReqWithoutQuery),
    ("%METADATA(", "envoy.formatter.metadata", metadata_pb2.Metadata),
)


@dataclass(frozen=True)
class AccessLogSettings:
    """How every listener logs: `format` envoy or json, the text `format_string` ("" = Envoy's
    default line), the JSON fields, and the `level` (info, error, critical, disabled)."""

    format: str = "envoy"
    format_string: str = ""
    json_fields: tuple[str, ...] = DEFAULT_JSON_FIELDS
    level: str = "info"


def json_field_map(fields: Iterable[str]) -> dict[str, str]:
    """Contour's AsFieldMap: JSON key -> Envoy format; "" for a name that is neither a known field nor
    a simple operator (configuration checking rejects those before they get here)."""
    found: dict[str, str] = {}
    for entry in fields:
        key, sep, value = entry.partition("=")
        if sep:
            found[key] = value
        elif entry in JSON_FIELD_FORMATS:
            found[entry] = JSON_FIELD_FORMATS[entry]
        elif entry.upper() in SIMPLE_OPERATORS:
            found[entry] = f"%{entry.upper()}%"
        else:
            found[entry] = ""
    return found


def formatter_extensions(formats: Iterable[str]) -> list[Any]:
    """The formatter extensions the given formats use, in Contour's order."""
    texts = list(formats)
    return [
        extension_pb2.TypedExtensionConfig(name=name, typed_config=pack(message()))
        for operator, name, message in _FORMATTERS
        if any(operator in text for text in texts)
    ]


def _level_filter(level: str) -> Any | None:
    minimum = _MINIMUM_STATUS.get(level)
    if minimum is None:
        return None
    status = accesslog_pb2.AccessLogFilter(
        status_code_filter=accesslog_pb2.StatusCodeFilter(
            comparison=accesslog_pb2.ComparisonFilter(
                op=accesslog_pb2.ComparisonFilter.GE,
                value=base_pb2.RuntimeUInt32(default_value=minimum, runtime_key=STATUS_CODE_RUNTIME_KEY),
            )
        )
    )
    # An empty response flag filter matches every flag: each one marks a failure Envoy saw.
    flags = accesslog_pb2.AccessLogFilter(response_flag_filter=accesslog_pb2.ResponseFlagFilter())
    return accesslog_pb2.AccessLogFilter(or_filter=accesslog_pb2.OrFilter(filters=[status, flags]))


def _log_format(settings: AccessLogSettings) -> Any | None:
    if settings.format == "json":
        fields = json_field_map(settings.json_fields)
        layout = struct_pb2.Struct()
        layout.update(dict(sorted(fields.items())))
        return substitution_format_string_pb2.SubstitutionFormatString(
            json_format=layout, omit_empty_values=True, formatters=formatter_extensions(fields.values())
        )
    if not settings.format_string:
        return None  # Envoy's default format
    return substitution_format_string_pb2.SubstitutionFormatString(
        text_format_source=base_pb2.DataSource(inline_string=settings.format_string),
        omit_empty_values=True,
        formatters=formatter_extensions([settings.format_string]),
    )


def file_access_logs(path: str, settings: AccessLogSettings | None = None) -> list[Any]:
    """The access loggers of one HCM or TCP proxy: none for an empty path or the `disabled` level."""
    settings = settings or AccessLogSettings()
    if not path or settings.level == "disabled":
        return []
    logger = file_pb2.FileAccessLog(path=path)
    log_format = _log_format(settings)
    if log_format is not None:
        logger.log_format.CopyFrom(log_format)
    entry = accesslog_pb2.AccessLog(name=FILE_ACCESS_LOGGER, typed_config=pack(logger))
    level_filter = _level_filter(settings.level)
    if level_filter is not None:
        entry.filter.CopyFrom(level_filter)
    return [entry]
