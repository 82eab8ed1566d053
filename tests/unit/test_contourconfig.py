"""Contour's configuration, both sources: every option reaches the settings, defaults are Contour's,
unknown keys and invalid values are refused naming the key (and the value)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from contour.controller.contourconfig import (
    ContourSettings,
    configuration_status,
    local_run_configs,
    settings_from_file,
    settings_from_spec,
)
from contour.controller.contourconfig_options import OPTIONS
from contour.controller.contourconfig_values import ConfigError
from contour.dag.builder import BuilderConfig
from contour.dag.global_headers import GlobalHeaders
from contour.dag.model import ObjectRef
from contour.envoy.translate import TranslatorConfig


def nest(dotted: str, value: Any) -> dict[str, Any]:
    """`a.b.c`, v -> {"a": {"b": {"c": v}}}."""
    out: Any = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return dict(out)


def from_file(dotted: str, value: Any) -> ContourSettings:
    return settings_from_file(yaml.safe_dump(nest(dotted, value)))


# -- every option, both sources: (option, file value, spec value, where it lands, expected) ------------

REF = {"namespace": "ns", "name": "n"}
CASES: list[tuple[str, Any, Any, str, Any]] = [
    ("xds.address", None, "127.0.0.2", "xds.address", "127.0.0.2"),
    ("xds.port", None, 18001, "xds.port", 18001),
    ("xds.ca_file", None, "/ca", "xds.ca_file", "/ca"),
    ("xds.cert_file", None, "/c", "xds.cert_file", "/c"),
    ("xds.key_file", None, "/k", "xds.key_file", "/k"),
    ("xds.insecure", None, True, "xds.insecure", True),
    ("xds.server_type", "contour", None, "xds.server_type", "contour"),
    ("ingress.class_names", None, ["a", "b"], "builder.ingress_class_names", ("a", "b")),
    ("ingress.status_address", "1.2.3.4", "1.2.3.4", "ingress_status_address", "1.2.3.4"),
    ("debug.address", None, "0.0.0.0", "debug.address", "0.0.0.0"),
    ("debug.port", None, 7070, "debug.port", 7070),
    ("health.address", None, "127.0.0.1", "health.address", "127.0.0.1"),
    ("health.port", None, 9000, "health.port", 9000),
    ("metrics.address", "127.0.0.3", "127.0.0.3", "metrics.address", "127.0.0.3"),
    ("metrics.port", 9100, 9100, "metrics.port", 9100),
    ("gateway_ref", REF, REF, "gateway_ref", ObjectRef("ns", "n")),
    ("feature_flags", ["x"], ["x"], "feature_flags", ("x",)),
    ("root_namespaces", None, ["r"], "builder.root_namespaces", ("r",)),
    ("disable_permit_insecure", True, True, "builder.disable_permit_insecure", True),
    ("fallback_certificate", REF, REF, "builder.fallback_certificate", ObjectRef("ns", "n")),
    ("enable_external_name_service", True, True, "builder.enable_external_name_service", True),
    (
        "policy.request.set",
        {"X-A": "1"},
        {"X-A": "1"},
        "builder.global_request_headers",
        GlobalHeaders((("X-A", "1"),)),
    ),
    (
        "policy.request.remove",
        ["X-B"],
        ["X-B"],
        "builder.global_request_headers",
        GlobalHeaders((), ("X-B",)),
    ),
    (
        "policy.response.set",
        {"X-C": "2"},
        {"X-C": "2"},
        "builder.global_response_headers",
        GlobalHeaders((("X-C", "2"),)),
    ),
    (
        "policy.response.remove",
        ["Server"],
        ["Server"],
        "builder.global_response_headers",
        GlobalHeaders((), ("Server",)),
    ),
    ("policy.apply_to_ingress", True, True, "builder.apply_to_ingress", True),
    ("envoy.service.namespace", "other", None, "envoy_service", ObjectRef("other", "envoy")),
    ("envoy.service.name", "edge", None, "envoy_service", ObjectRef("projectcontour", "edge")),
    ("envoy.http.address", None, "127.0.0.1", "builder.http_address", "127.0.0.1"),
    ("envoy.http.port", None, 18080, "builder.http_port", 18080),
    ("envoy.http.access_log", None, "/tmp/a", "translator.http_access_log", "/tmp/a"),
    ("envoy.https.address", None, "127.0.0.1", "builder.https_address", "127.0.0.1"),
    ("envoy.https.port", None, 18443, "builder.https_port", 18443),
    ("envoy.https.access_log", None, "/tmp/b", "translator.https_access_log", "/tmp/b"),
    ("envoy.health.address", None, "127.0.0.1", "envoy_health.address", "127.0.0.1"),
    ("envoy.health.port", None, 18002, "envoy_health.port", 18002),
    ("envoy.metrics.address", "127.0.0.4", "127.0.0.4", "translator.stats_address", "127.0.0.4"),
    ("envoy.metrics.port", 18003, 18003, "translator.stats_port", 18003),
    ("envoy.om_health.address", None, "127.0.0.1", "pending.om_enforced_health.address", "127.0.0.1"),
    ("envoy.om_health.port", None, 8010, "pending.om_enforced_health.port", 8010),
    ("client_certificate", REF, REF, "builder.client_certificate", ObjectRef("ns", "n")),
    ("default_http_versions", ["http/2"], ["HTTP/2"], "translator.default_http_versions", ("HTTP/2",)),
    ("admin_port", 9002, 9002, "envoy_admin_port", 9002),
    ("num_trusted_hops", 3, 3, "translator.xff_num_trusted_hops", 3),
    ("strip_trailing_host_dot", None, True, "translator.strip_trailing_host_dot", True),
    ("use_proxy_protocol", None, True, "translator.use_proxy_protocol", True),
    ("disable_allow_chunked_length", True, True, "translator.allow_chunked_length", False),
    ("disable_merge_slashes", True, True, "translator.merge_slashes", False),
    (
        "server_header_transformation",
        "pass_through",
        "pass_through",
        "translator.server_header_transformation",
        "pass_through",
    ),
    ("connection_balancer", "exact", "exact", "translator.listener_options.connection_balancer", "exact"),
    ("listener.max_requests_per_connection", 7, 7, "translator.max_requests_per_connection", 7),
    (
        "listener.per_connection_buffer_limit_bytes",
        8,
        8,
        "translator.listener_options.per_connection_buffer_limit_bytes",
        8,
    ),
    ("listener.socket_tos", 64, 64, "translator.listener_options.socket_tos", 64),
    ("listener.socket_traffic_class", 32, 32, "translator.listener_options.socket_traffic_class", 32),
    ("listener.max_requests_per_io_cycle", 9, 9, "translator.max_requests_per_io_cycle", 9),
    ("listener.http2_max_concurrent_streams", 100, 100, "translator.http2_max_concurrent_streams", 100),
    ("listener.max_connections_per_listener", 10, 10, "translator.max_connections_per_listener", 10),
    (
        "listener.max_connections_to_accept_per_socket_event",
        5,
        None,
        "translator.listener_options.max_connections_to_accept_per_socket_event",
        5,
    ),
    ("compression", None, "brotli", "translator.compression", "brotli"),
    ("tls.minimum_version", "1.3", "1.3", "translator.minimum_tls_version", "1.3"),
    ("tls.maximum_version", "1.2", "1.2", "translator.maximum_tls_version", "1.2"),
    ("tls.cipher_suites", ["AES128-SHA"], ["AES128-SHA"], "translator.cipher_suites", ("AES128-SHA",)),
    ("upstream_tls.minimum_version", "1.3", "1.3", "translator.upstream_tls.minimum_protocol_version", "1.3"),
    ("upstream_tls.maximum_version", "1.2", "1.2", "translator.upstream_tls.maximum_protocol_version", "1.2"),
    (
        "upstream_tls.cipher_suites",
        ["AES256-SHA"],
        ["AES256-SHA"],
        "translator.upstream_tls.cipher_suites",
        ("AES256-SHA",),
    ),
    ("dns_lookup_family", "v4", "v4", "translator.dns_lookup_family", "v4"),
    ("cluster.max_requests_per_connection", 3, 3, "translator.cluster_max_requests_per_connection", 3),
    (
        "cluster.per_connection_buffer_limit_bytes",
        4,
        4,
        "translator.cluster_per_connection_buffer_limit_bytes",
        4,
    ),
    ("circuit_breakers.maxConnections", 11, 11, "translator.circuit_breakers", {"maxConnections": 11}),
    (
        "circuit_breakers.maxPendingRequests",
        12,
        12,
        "translator.circuit_breakers",
        {"maxPendingRequests": 12},
    ),
    ("circuit_breakers.maxRequests", 13, 13, "translator.circuit_breakers", {"maxRequests": 13}),
    ("circuit_breakers.maxRetries", 14, 14, "translator.circuit_breakers", {"maxRetries": 14}),
    (
        "circuit_breakers.perHostMaxConnections",
        15,
        15,
        "translator.circuit_breakers",
        {"perHostMaxConnections": 15},
    ),
    ("timeouts.request", "30s", "30s", "translator.request_timeout_seconds", 30.0),
    ("timeouts.connection_idle", "infinity", "infinity", "translator.connection_idle_timeout_seconds", 0.0),
    ("timeouts.stream_idle", "1m", "1m", "translator.stream_idle_timeout_seconds", 60.0),
    ("timeouts.max_connection_duration", "1h", "1h", "translator.max_connection_duration_seconds", 3600.0),
    ("timeouts.delayed_close", "500ms", "500ms", "translator.delayed_close_timeout_seconds", 0.5),
    (
        "timeouts.connection_shutdown_grace_period",
        "10s",
        "10s",
        "translator.connection_shutdown_grace_period_seconds",
        10.0,
    ),
    ("timeouts.connect", "5s", "5s", "translator.connect_timeout_seconds", 5.0),
    ("access_log.format", "json", "json", "translator.access_log.format", "json"),
    (
        "access_log.format_string",
        "%START_TIME%\n",
        "%START_TIME%\n",
        "translator.access_log.format_string",
        "%START_TIME%\n",
    ),
    (
        "access_log.json_fields",
        ["method", "x=%REQ(X)%"],
        ["method"],
        "translator.access_log.json_fields",
        None,
    ),
    ("access_log.level", "critical", "critical", "translator.access_log.level", "critical"),
    (
        "rls.extension_service",
        "ns/rls",
        {"namespace": "ns", "name": "rls"},
        "rate_limit_service.extension_service",
        ObjectRef("ns", "rls"),
    ),
    (
        "ext_auth.extension_ref",
        "ns/auth",
        {"namespace": "ns", "name": "auth"},
        "builder.global_external_authorization.extension_ref",
        ObjectRef("ns", "auth"),
    ),
    (
        "tracing.extension_service",
        "ns/otel",
        {"namespace": "ns", "name": "otel"},
        "tracing.extension_service",
        ObjectRef("ns", "otel"),
    ),
    ("process.debug", True, None, "process.debug", True),
    ("process.incluster", True, None, "process.incluster", True),
    ("process.kubeconfig", "/k", None, "process.kubeconfig", "/k"),
    ("process.kubernetes_client_qps", 5.5, None, "process.kubernetes_client_qps", 5.5),
    ("process.kubernetes_client_burst", 9, None, "process.kubernetes_client_burst", 9),
]

# Options that only make sense with their extension service (checked in their own tests below).
WITH_PARENT = {
    "rls.": ("rls.extension_service", "ns/rls", {"namespace": "ns", "name": "rls"}),
    "ext_auth.": ("ext_auth.extension_ref", "ns/auth", {"namespace": "ns", "name": "auth"}),
    "tracing.": ("tracing.extension_service", "ns/otel", {"namespace": "ns", "name": "otel"}),
}
BY_NAME = {o.name: o for o in OPTIONS}


def dig(settings: ContourSettings, where: str) -> Any:
    value: Any = settings
    for part in where.split("."):
        value = getattr(value, part)
    return value


def expected(value: Any, case_value: Any) -> Any:
    return case_value if value is None else value


@pytest.mark.parametrize(
    ("name", "file_value", "expect_where", "expect"),
    [pytest.param(n, f, w, e, id=n) for n, f, _, w, e in CASES if f is not None],
)
def test_file_key_reaches_the_settings(name: str, file_value: Any, expect_where: str, expect: Any) -> None:
    option = BY_NAME[name]
    assert option.file is not None
    found = dig(from_file(option.file, file_value), expect_where)
    assert found == (tuple(file_value) if expect is None else expect)


@pytest.mark.parametrize(
    ("name", "spec_value", "expect_where", "expect"),
    [pytest.param(n, s, w, e, id=n) for n, _, s, w, e in CASES if s is not None],
)
def test_spec_field_reaches_the_settings(name: str, spec_value: Any, expect_where: str, expect: Any) -> None:
    option = BY_NAME[name]
    assert option.spec is not None
    found = dig(settings_from_spec(nest(option.spec, spec_value)), expect_where)
    assert found == (tuple(spec_value) if expect is None else expect)


def test_every_option_has_a_case() -> None:
    covered = {c[0] for c in CASES} | {
        "rls.domain", "rls.fail_open", "rls.enable_x_rate_limit_headers",
        "rls.enable_resource_exhausted_code",
        "rls.default_global_rate_limit_policy", "ext_auth.service_api_type", "ext_auth.http_settings",
        "ext_auth.disabled", "ext_auth.context", "ext_auth.response_timeout", "ext_auth.fail_open",
        "ext_auth.max_request_bytes", "ext_auth.allow_partial_message", "ext_auth.pack_as_bytes",
        "tracing.service_name", "tracing.overall_sampling", "tracing.max_path_tag_length",
        "tracing.include_pod_detail", "tracing.custom_tags",
        "metrics.cert_file", "metrics.key_file", "metrics.ca_file",
        "envoy.metrics.cert_file", "envoy.metrics.key_file", "envoy.metrics.ca_file",
    }  # fmt: skip
    assert {o.name for o in OPTIONS} - covered == set()


@pytest.mark.parametrize(
    ("file_key", "spec_key", "where"),
    [("metrics.contour", "metrics", "metrics"), ("metrics.envoy", "envoy.metrics", "envoy_metrics")],
)
def test_metrics_tls_files(file_key: str, spec_key: str, where: str) -> None:
    files = {"server-certificate-path": "/c", "server-key-path": "/k", "ca-certificate-path": "/ca"}
    tls = {"certFile": "/c", "keyFile": "/k", "caFile": "/ca"}
    for settings in (
        settings_from_file(yaml.safe_dump(nest(file_key, files))),
        settings_from_spec(nest(spec_key + ".tls", tls)),
    ):
        endpoint = getattr(settings, where)
        assert (endpoint.cert_file, endpoint.key_file, endpoint.ca_file) == ("/c", "/k", "/ca")


def test_rate_limit_service_from_the_file() -> None:
    settings = settings_from_file(
        """
rateLimitService:
  extensionService: ns/rls
  domain: contour
  failOpen: true
  enableXRateLimitHeaders: true
  enableResourceExhaustedCode: true
  defaultGlobalRateLimitPolicy:
    descriptors:
      - entries:
          - genericKey: {value: all}
"""
    )
    rls = settings.rate_limit_service
    assert rls is not None
    assert (
        rls.domain,
        rls.fail_open,
        rls.enable_x_rate_limit_headers,
        rls.enable_resource_exhausted_code,
    ) == (
        "contour",
        True,
        True,
        True,
    )
    policy = rls.default_global_rate_limit_policy
    assert policy is not None
    assert policy.model_dump(by_alias=True, exclude_none=True) == {
        "descriptors": [{"entries": [{"genericKey": {"value": "all"}}]}]
    }
    assert settings.builder.rate_limit_service is rls  # what the builder applies


def test_global_ext_auth_from_the_spec() -> None:
    settings = settings_from_spec(
        {
            "globalExtAuth": {
                "extensionRef": {"namespace": "ns", "name": "auth"},
                "authPolicy": {"disabled": True, "context": {"b": "2", "a": "1"}},
                "responseTimeout": "500ms",
                "failOpen": True,
                "withRequestBody": {"maxRequestBytes": 10, "allowPartialMessage": True, "packAsBytes": True},
            }
        }
    )
    auth = settings.builder.global_external_authorization
    assert auth is not None
    assert (auth.auth_policy_disabled, auth.auth_policy_context, auth.response_timeout, auth.fail_open) == (
        True,
        (("a", "1"), ("b", "2")),
        "500ms",
        True,
    )
    assert auth.request_body is not None
    assert (auth.request_body.max_request_bytes, auth.request_body.allow_partial_message) == (10, True)


def test_global_ext_auth_http_settings_from_the_file() -> None:
    settings = settings_from_file(
        """
globalExtAuth:
  extensionService: ns/auth
  serviceAPIType: http
  httpSettings:
    pathPrefix: /check
    allowedAuthorizationHeaders: [x-a]
    allowedUpstreamHeaders: [x-b]
"""
    )
    auth = settings.builder.global_external_authorization
    assert auth is not None
    assert (auth.service_type, auth.http_path_prefix) == ("http", "/check")
    assert (auth.allowed_authorization_headers, auth.allowed_upstream_headers) == (("x-a",), ("x-b",))


def test_tracing_from_the_file() -> None:
    settings = settings_from_file(
        """
tracing:
  extensionService: ns/otel
  serviceName: svc
  overallSampling: "50"
  maxPathTagLength: 64
  includePodDetail: false
  customTags:
    - {tagName: a, literal: x}
    - {tagName: b, requestHeaderName: X-B}
"""
    )
    tracing = settings.tracing
    assert tracing is not None
    assert (tracing.service_name, tracing.overall_sampling, tracing.max_path_tag_length) == ("svc", 50.0, 64)
    assert tracing.include_pod_detail is False
    assert [t.tag_name for t in tracing.custom_tags] == ["a", "b"]


# -- defaults ----------------------------------------------------------------------------------------------


def test_empty_file_gives_the_file_defaults() -> None:
    settings = settings_from_file("")
    assert settings.translator == TranslatorConfig(
        connection_idle_timeout_seconds=60.0, connect_timeout_seconds=2.0
    )
    assert settings.builder == BuilderConfig()
    assert settings.xds.server_type == "envoy"
    assert settings.envoy_service == ObjectRef("projectcontour", "envoy")
    assert settings.envoy_admin_port == 9001
    assert (settings.rate_limit_service, settings.tracing, settings.gateway_ref) == (None, None, None)


def test_empty_spec_leaves_the_idle_timeout_to_envoy() -> None:
    settings = settings_from_spec({})
    assert settings.translator.connection_idle_timeout_seconds is None
    assert settings.translator.connect_timeout_seconds == 2.0


def test_empty_spec_has_contours_endpoints() -> None:
    settings = settings_from_spec({})
    assert (settings.xds.address, settings.xds.port, settings.xds.insecure) == ("0.0.0.0", 8001, False)
    assert (settings.debug.address, settings.debug.port) == ("127.0.0.1", 6060)
    assert (settings.health.port, settings.metrics.port, settings.envoy_metrics.port) == (8000, 8000, 8002)
    assert (settings.envoy_http.port, settings.envoy_https.port) == (8080, 8443)
    assert settings.translator.compression == "gzip"
    assert settings.translator.access_log.level == "info"


# -- unknown keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("bogus: 1", "bogus", id="top-level"),
        pytest.param("timeouts:\n  bogus: 1s", "timeouts.bogus", id="nested"),
        pytest.param("listener:\n  socket-options:\n    dscp: 1", "listener.socket-options.dscp", id="deep"),
        pytest.param(
            "tls:\n  fallback-certificate:\n    kind: x", "tls.fallback-certificate.kind", id="in-ref"
        ),
        pytest.param("policy:\n  requestHeaders: {}", "policy.requestHeaders", id="crd-spelling-in-file"),
        pytest.param(
            "tracing:\n  extensionService: a/b\n  customTags: [{tagName: a, x: 1}]",
            "tracing.customTags[0].x",
            id="in-list",
        ),
    ],
)
def test_unknown_file_key_is_named(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_file(text)
    assert str(error.value) == f"unknown field {key}"


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        pytest.param({"bogus": 1}, "spec.bogus", id="top-level"),
        pytest.param({"envoy": {"listener": {"bogus": True}}}, "spec.envoy.listener.bogus", id="nested"),
        pytest.param(
            {"policy": {"request-headers": {}}}, "spec.policy.request-headers", id="file-spelling-in-crd"
        ),
    ],
)
def test_unknown_spec_field_is_named(spec: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_spec(spec)
    assert str(error.value) == f"unknown field {key}"


# -- invalid values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "timeouts:\n  connect-timeout: 2 s",
            "timeouts.connect-timeout: invalid value '2 s'",
            id="bad-duration",
        ),
        pytest.param(
            "timeouts:\n  connect-timeout: infinity",
            "timeouts.connect-timeout: invalid value 'infinity'",
            id="connect-infinity",
        ),
        pytest.param(
            "timeouts:\n  request-timeout: -1s",
            "timeouts.request-timeout: invalid value '-1s'",
            id="negative-duration",
        ),
        pytest.param(
            "timeouts:\n  stream-idle-timeout: '10'",
            "timeouts.stream-idle-timeout: invalid value '10'",
            id="duration-without-unit",
        ),
        pytest.param(
            "cluster:\n  dns-lookup-family: ipv4",
            "cluster.dns-lookup-family: invalid value 'ipv4'",
            id="dns-family",
        ),
        pytest.param("accesslog-format: xml", "accesslog-format: invalid value 'xml'", id="log-format"),
        pytest.param("accesslog-level: debug", "accesslog-level: invalid value 'debug'", id="log-level"),
        pytest.param(
            "accesslog-format-string: '%START_TIME%'", "must end in newline", id="format-no-newline"
        ),
        pytest.param("json-fields: [nonsense]", "json-fields: invalid value 'nonsense'", id="json-field"),
        pytest.param("json-fields: ['a=%NOPE%']", "invalid Envoy operator: NOPE", id="json-field-operator"),
        pytest.param(
            "server:\n  xds-server-type: grpc",
            "server.xds-server-type: invalid value 'grpc'",
            id="server-type",
        ),
        pytest.param(
            "serverHeaderTransformation: drop",
            "serverHeaderTransformation: invalid value 'drop'",
            id="server-header",
        ),
        pytest.param(
            "listener:\n  connection-balancer: round",
            "listener.connection-balancer: invalid value 'round'",
            id="balancer",
        ),
        pytest.param(
            "tls:\n  minimum-protocol-version: '1.1'",
            "tls.minimum-protocol-version: invalid value '1.1'",
            id="tls-version",
        ),
        pytest.param(
            "tls:\n  minimum-protocol-version: '1.3'\n  maximum-protocol-version: '1.2'",
            "minimum protocol version is greater",
            id="tls-min-over-max",
        ),
        pytest.param(
            "tls:\n  cipher-suites: [RC4-MD5]", "tls.cipher-suites[0]: invalid value 'RC4-MD5'", id="cipher"
        ),
        pytest.param(
            "tls:\n  fallback-certificate: {name: x}",
            "tls.fallback-certificate.namespace: must be defined",
            id="ref-half",
        ),
        pytest.param(
            "default-http-versions: [HTTP/3]",
            "default-http-versions[0]: invalid value 'HTTP/3'",
            id="http-version",
        ),
        pytest.param(
            "network:\n  num-trusted-hops: -1",
            "network.num-trusted-hops: invalid value -1",
            id="negative-hops",
        ),
        pytest.param(
            "network:\n  admin-port: 70000", "network.admin-port: invalid value 70000", id="port-range"
        ),
        pytest.param(
            "listener:\n  max-requests-per-connection: 0",
            "listener.max-requests-per-connection: invalid value 0",
            id="minimum-one",
        ),
        pytest.param(
            "listener:\n  socket-options:\n    tos: 256",
            "listener.socket-options.tos: invalid value 256",
            id="tos-range",
        ),
        pytest.param(
            "disablePermitInsecure: 'yes'", "disablePermitInsecure: expected a boolean", id="not-a-bool"
        ),
        pytest.param(
            "network:\n  num-trusted-hops: '2'",
            "network.num-trusted-hops: expected an integer",
            id="not-an-int",
        ),
        pytest.param(
            "policy:\n  request-headers:\n    set: {'a b': x}",
            "policy.request-headers.set.a b: invalid value 'a b'",
            id="header-name",
        ),
        pytest.param(
            "policy:\n  response-headers:\n    remove: ['x:y']",
            "policy.response-headers.remove[0]: invalid value 'x:y'",
            id="remove-name",
        ),
        pytest.param(
            "rateLimitService:\n  extensionService: rls",
            "rateLimitService.extensionService: invalid value 'rls'",
            id="ext-ref",
        ),
        pytest.param(
            "tracing:\n  serviceName: x",
            "tracing.extensionService: must be defined",
            id="tracing-without-service",
        ),
        pytest.param(
            "tracing:\n  extensionService: a/b\n  overallSampling: lots",
            "tracing.overallSampling: invalid value 'lots'",
            id="sampling",
        ),
        pytest.param(
            "metrics:\n  contour:\n    server-certificate-path: /c",
            "server certificate and key",
            id="metrics-cert-without-key",
        ),
        pytest.param("- a", "expected a mapping", id="not-a-mapping"),
        pytest.param("a: [", "failed to parse configuration", id="not-yaml"),
    ],
)
def test_invalid_file_value_is_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_file(text)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"envoy": {"timeouts": {"connectTimeout": "soon"}}},
            "spec.envoy.timeouts.connectTimeout: invalid value 'soon'",
            id="duration",
        ),
        pytest.param(
            {"envoy": {"cluster": {"dnsLookupFamily": "v5"}}},
            "spec.envoy.cluster.dnsLookupFamily: invalid value 'v5'",
            id="dns-family",
        ),
        pytest.param(
            {"envoy": {"network": {"numTrustedHops": "2"}}},
            "spec.envoy.network.numTrustedHops: invalid value '2'",
            id="type",
        ),
        pytest.param(
            {
                "envoy": {
                    "listener": {
                        "tls": {"cipherSuites": ["[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]"]}
                    }
                }
            },
            "spec.envoy.listener.tls.cipherSuites[0]",
            id="cipher-group-not-in-crd-list",
        ),
        pytest.param(
            {"envoy": {"defaultHTTPVersions": ["HTTP/1.0"]}},
            "spec.envoy.defaultHTTPVersions[0]",
            id="http-version",
        ),
        pytest.param(
            {"xdsServer": {"port": 65536}}, "spec.xdsServer.port: invalid value 65536", id="port-range"
        ),
        pytest.param(
            {"envoy": {"logging": {"accessLogLevel": "all"}}},
            "spec.envoy.logging.accessLogLevel",
            id="log-level",
        ),
    ],
)
def test_invalid_spec_value_is_named(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings_from_spec(spec)
    assert message in str(error.value)


# -- contour run: flags override the configuration ---------------------------------------------------------


def run_builder(**fields: Any) -> BuilderConfig:
    return BuilderConfig(
        http_address="127.0.0.1", http_port=1, https_address="127.0.0.1", https_port=2, **fields
    )


def test_run_keeps_its_listeners_and_takes_the_configuration() -> None:
    settings = settings_from_file("disablePermitInsecure: true\nnetwork:\n  num-trusted-hops: 2\n")
    builder, translator = local_run_configs(
        settings, run_builder(), TranslatorConfig(stats_port=3, ads=True), frozenset()
    )
    assert (builder.http_port, builder.https_port, builder.disable_permit_insecure) == (1, 2, True)
    assert (translator.stats_port, translator.ads, translator.xff_num_trusted_hops) == (3, True, 2)


def test_run_flag_on_the_command_line_overrides_the_configuration() -> None:
    settings = settings_from_file("enableExternalNameService: true\n")
    builder, _ = local_run_configs(
        settings, run_builder(), TranslatorConfig(), frozenset({"enable_external_name_service"})
    )
    assert builder.enable_external_name_service is False


def test_run_flag_the_configuration_does_not_set_is_kept() -> None:
    builder, _ = local_run_configs(
        settings_from_file(""), run_builder(root_namespaces=("r",)), TranslatorConfig(), frozenset()
    )
    assert builder.root_namespaces == ("r",)


# -- ContourConfiguration status ------------------------------------------------------------------------


def test_status_of_a_valid_configuration() -> None:
    status = configuration_status(None, 3, None)
    assert status == {
        "conditions": [
            {
                "type": "Valid",
                "status": "True",
                "observedGeneration": 3,
                "reason": "Valid",
                "message": "Valid ContourConfiguration",
            }
        ]
    }


def test_status_of_an_invalid_configuration_carries_the_error() -> None:
    condition = configuration_status(None, 1, "unknown field spec.x")["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "ErrorPresent")
    assert condition["errors"] == [
        {
            "type": "SpecError",
            "status": "True",
            "reason": "ConfigurationInvalid",
            "message": "unknown field spec.x",
        }
    ]


def test_status_keeps_other_controllers_conditions() -> None:
    other = {"type": "Other", "status": "True", "reason": "X", "message": ""}
    old = {"type": "Valid", "status": "False", "reason": "ErrorPresent", "message": ""}
    conditions = configuration_status({"conditions": [other, old]}, 2, None)["conditions"]
    assert [c["type"] for c in conditions] == ["Other", "Valid"]
    assert conditions[1]["status"] == "True"
