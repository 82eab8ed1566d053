"""The table of Contour's options: each one's config file key, ContourConfiguration field and check.

Keys are yaml keys of Contour's `pkg/config/parameters.go` (1.33); fields are the JSON names of the
ContourConfiguration v1alpha1 spec. An option with only a file key has no CRD field (and the other way
round). `contour.controller.contourconfig` reads a source through this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from contour.controller import contourconfig_values as v

# --- the options: (name, config file key, ContourConfiguration field) --------------------------------


@dataclass(frozen=True)
class Option:
    name: str
    file: str | None  # dotted key in contour.yaml
    spec: str | None  # dotted field of ContourConfiguration.spec (JSON names)
    check: v.Check
    spec_check: v.Check | None = None  # when the CRD's form differs from the file's


OPTIONS: Final[tuple[Option, ...]] = (
    # Contour itself
    Option("xds.address", None, "xdsServer.address", v.string),
    Option("xds.port", None, "xdsServer.port", v.port),
    Option("xds.ca_file", None, "xdsServer.tls.caFile", v.string),
    Option("xds.cert_file", None, "xdsServer.tls.certFile", v.string),
    Option("xds.key_file", None, "xdsServer.tls.keyFile", v.string),
    Option("xds.insecure", None, "xdsServer.tls.insecure", v.boolean),
    Option("xds.server_type", "server.xds-server-type", None, v.enum("contour", "envoy")),
    Option("ingress.class_names", None, "ingress.classNames", v.str_list),
    Option("ingress.status_address", "ingress-status-address", "ingress.statusAddress", v.string),
    Option("debug.address", None, "debug.address", v.string),
    Option("debug.port", None, "debug.port", v.port),
    Option("health.address", None, "health.address", v.string),
    Option("health.port", None, "health.port", v.port),
    Option("metrics.address", "metrics.contour.address", "metrics.address", v.string),
    Option("metrics.port", "metrics.contour.port", "metrics.port", v.port),
    Option("metrics.cert_file", "metrics.contour.server-certificate-path", "metrics.tls.certFile", v.string),
    Option("metrics.key_file", "metrics.contour.server-key-path", "metrics.tls.keyFile", v.string),
    Option("metrics.ca_file", "metrics.contour.ca-certificate-path", "metrics.tls.caFile", v.string),
    Option("gateway_ref", "gateway.gatewayRef", "gateway.gatewayRef", v.object_ref),
    Option("feature_flags", "featureFlags", "featureFlags", v.str_list),
    # HTTPProxy and Services
    Option("root_namespaces", None, "httpproxy.rootNamespaces", v.str_list),
    Option("disable_permit_insecure", "disablePermitInsecure", "httpproxy.disablePermitInsecure", v.boolean),
    Option("fallback_certificate", "tls.fallback-certificate", "httpproxy.fallbackCertificate", v.object_ref),
    Option(
        "enable_external_name_service", "enableExternalNameService", "enableExternalNameService", v.boolean
    ),
    Option("policy.request.set", "policy.request-headers.set", "policy.requestHeaders.set", v.header_map),
    Option(
        "policy.request.remove",
        "policy.request-headers.remove",
        "policy.requestHeaders.remove",
        v.header_names,
    ),
    Option("policy.response.set", "policy.response-headers.set", "policy.responseHeaders.set", v.header_map),
    Option(
        "policy.response.remove",
        "policy.response-headers.remove",
        "policy.responseHeaders.remove",
        v.header_names,
    ),
    Option("policy.apply_to_ingress", "policy.applyToIngress", "policy.applyToIngress", v.boolean),
    # Envoy
    Option("envoy.service.namespace", "envoy-service-namespace", "envoy.service.namespace", v.string),
    Option("envoy.service.name", "envoy-service-name", "envoy.service.name", v.string),
    Option("envoy.http.address", None, "envoy.http.address", v.string),
    Option("envoy.http.port", None, "envoy.http.port", v.port),
    Option("envoy.http.access_log", None, "envoy.http.accessLog", v.string),
    Option("envoy.https.address", None, "envoy.https.address", v.string),
    Option("envoy.https.port", None, "envoy.https.port", v.port),
    Option("envoy.https.access_log", None, "envoy.https.accessLog", v.string),
    Option("envoy.health.address", None, "envoy.health.address", v.string),
    Option("envoy.health.port", None, "envoy.health.port", v.port),
    Option("envoy.metrics.address", "metrics.envoy.address", "envoy.metrics.address", v.string),
    Option("envoy.metrics.port", "metrics.envoy.port", "envoy.metrics.port", v.port),
    Option(
        "envoy.metrics.cert_file",
        "metrics.envoy.server-certificate-path",
        "envoy.metrics.tls.certFile",
        v.string,
    ),
    Option("envoy.metrics.key_file", "metrics.envoy.server-key-path", "envoy.metrics.tls.keyFile", v.string),
    Option(
        "envoy.metrics.ca_file", "metrics.envoy.ca-certificate-path", "envoy.metrics.tls.caFile", v.string
    ),
    Option("envoy.om_health.address", None, "envoy.omEnforcedHealth.address", v.string),
    Option("envoy.om_health.port", None, "envoy.omEnforcedHealth.port", v.port),
    Option("client_certificate", "tls.envoy-client-certificate", "envoy.clientCertificate", v.object_ref),
    Option("default_http_versions", "default-http-versions", "envoy.defaultHTTPVersions", v.http_versions),
    Option("admin_port", "network.admin-port", "envoy.network.adminPort", v.port),
    Option("num_trusted_hops", "network.num-trusted-hops", "envoy.network.numTrustedHops", v.uint32),
    Option("strip_trailing_host_dot", None, "envoy.network.stripTrailingHostDot", v.boolean),
    Option("use_proxy_protocol", None, "envoy.listener.useProxyProtocol", v.boolean),
    Option(
        "disable_allow_chunked_length",
        "disableAllowChunkedLength",
        "envoy.listener.disableAllowChunkedLength",
        v.boolean,
    ),
    Option("disable_merge_slashes", "disableMergeSlashes", "envoy.listener.disableMergeSlashes", v.boolean),
    Option(
        "server_header_transformation",
        "serverHeaderTransformation",
        "envoy.listener.serverHeaderTransformation",
        v.enum("overwrite", "append_if_absent", "pass_through"),
    ),
    Option(
        "connection_balancer",
        "listener.connection-balancer",
        "envoy.listener.connectionBalancer",
        v.enum("", "exact"),
    ),
    Option(
        "listener.max_requests_per_connection",
        "listener.max-requests-per-connection",
        "envoy.listener.maxRequestsPerConnection",
        v.min1,
    ),
    Option(
        "listener.per_connection_buffer_limit_bytes",
        "listener.per-connection-buffer-limit-bytes",
        "envoy.listener.per-connection-buffer-limit-bytes",
        v.min1,
    ),
    Option("listener.socket_tos", "listener.socket-options.tos", "envoy.listener.socketOptions.tos", v.byte),
    Option(
        "listener.socket_traffic_class",
        "listener.socket-options.traffic-class",
        "envoy.listener.socketOptions.trafficClass",
        v.byte,
    ),
    Option(
        "listener.max_requests_per_io_cycle",
        "listener.max-requests-per-io-cycle",
        "envoy.listener.maxRequestsPerIOCycle",
        v.min1,
    ),
    Option(
        "listener.http2_max_concurrent_streams",
        "listener.http2-max-concurrent-streams",
        "envoy.listener.httpMaxConcurrentStreams",
        v.min1,
    ),
    Option(
        "listener.max_connections_per_listener",
        "listener.max-connections-per-listener",
        "envoy.listener.maxConnectionsPerListener",
        v.min1,
    ),
    Option(
        "listener.max_connections_to_accept_per_socket_event",
        "listener.max-connections-to-accept-per-socket-event",
        None,
        v.min1,
    ),
    Option(
        "compression",
        None,
        "envoy.listener.compression.algorithm",
        v.enum("gzip", "brotli", "zstd", "disabled"),
    ),
    Option(
        "tls.minimum_version",
        "tls.minimum-protocol-version",
        "envoy.listener.tls.minimumProtocolVersion",
        v.tls_version,
    ),
    Option(
        "tls.maximum_version",
        "tls.maximum-protocol-version",
        "envoy.listener.tls.maximumProtocolVersion",
        v.tls_version,
    ),
    Option(
        "tls.cipher_suites",
        "tls.cipher-suites",
        "envoy.listener.tls.cipherSuites",
        v.ciphers(v.FILE_CIPHERS),
        v.ciphers(v.SPEC_CIPHERS),
    ),
    Option(
        "upstream_tls.minimum_version",
        "cluster.upstream-tls.minimum-protocol-version",
        "envoy.cluster.upstreamTLS.minimumProtocolVersion",
        v.tls_version,
    ),
    Option(
        "upstream_tls.maximum_version",
        "cluster.upstream-tls.maximum-protocol-version",
        "envoy.cluster.upstreamTLS.maximumProtocolVersion",
        v.tls_version,
    ),
    Option(
        "upstream_tls.cipher_suites",
        "cluster.upstream-tls.cipher-suites",
        "envoy.cluster.upstreamTLS.cipherSuites",
        v.ciphers(v.FILE_CIPHERS),
        v.ciphers(v.SPEC_CIPHERS),
    ),
    Option(
        "dns_lookup_family",
        "cluster.dns-lookup-family",
        "envoy.cluster.dnsLookupFamily",
        v.enum("auto", "v4", "v6", "all"),
    ),
    Option(
        "cluster.max_requests_per_connection",
        "cluster.max-requests-per-connection",
        "envoy.cluster.maxRequestsPerConnection",
        v.min1,
    ),
    Option(
        "cluster.per_connection_buffer_limit_bytes",
        "cluster.per-connection-buffer-limit-bytes",
        "envoy.cluster.per-connection-buffer-limit-bytes",
        v.min1,
    ),
    *(
        Option(
            f"circuit_breakers.{camel}",
            f"cluster.circuit-breakers.{kebab}",
            f"envoy.cluster.circuitBreakers.{camel}",
            v.uint32,
        )
        for camel, kebab in (
            ("maxConnections", "max-connections"),
            ("maxPendingRequests", "max-pending-requests"),
            ("maxRequests", "max-requests"),
            ("maxRetries", "max-retries"),
            ("perHostMaxConnections", "per-host-max-connections"),
        )
    ),
    Option("timeouts.request", "timeouts.request-timeout", "envoy.timeouts.requestTimeout", v.timeout),
    Option(
        "timeouts.connection_idle",
        "timeouts.connection-idle-timeout",
        "envoy.timeouts.connectionIdleTimeout",
        v.timeout,
    ),
    Option(
        "timeouts.stream_idle", "timeouts.stream-idle-timeout", "envoy.timeouts.streamIdleTimeout", v.timeout
    ),
    Option(
        "timeouts.max_connection_duration",
        "timeouts.max-connection-duration",
        "envoy.timeouts.maxConnectionDuration",
        v.timeout,
    ),
    Option(
        "timeouts.delayed_close",
        "timeouts.delayed-close-timeout",
        "envoy.timeouts.delayedCloseTimeout",
        v.timeout,
    ),
    Option(
        "timeouts.connection_shutdown_grace_period",
        "timeouts.connection-shutdown-grace-period",
        "envoy.timeouts.connectionShutdownGracePeriod",
        v.timeout,
    ),
    Option("timeouts.connect", "timeouts.connect-timeout", "envoy.timeouts.connectTimeout", v.duration),
    Option("access_log.format", "accesslog-format", "envoy.logging.accessLogFormat", v.enum("envoy", "json")),
    Option(
        "access_log.format_string",
        "accesslog-format-string",
        "envoy.logging.accessLogFormatString",
        v.format_string,
    ),
    Option("access_log.json_fields", "json-fields", "envoy.logging.accessLogJSONFields", v.json_fields),
    Option(
        "access_log.level",
        "accesslog-level",
        "envoy.logging.accessLogLevel",
        v.enum("info", "error", "critical", "disabled"),
    ),
    # rate limit service
    Option(
        "rls.extension_service",
        "rateLimitService.extensionService",
        "rateLimitService.extensionService",
        v.slash_ref,
        v.object_ref,
    ),
    Option("rls.domain", "rateLimitService.domain", "rateLimitService.domain", v.string),
    Option("rls.fail_open", "rateLimitService.failOpen", "rateLimitService.failOpen", v.boolean),
    Option(
        "rls.enable_x_rate_limit_headers",
        "rateLimitService.enableXRateLimitHeaders",
        "rateLimitService.enableXRateLimitHeaders",
        v.boolean,
    ),
    Option(
        "rls.enable_resource_exhausted_code",
        "rateLimitService.enableResourceExhaustedCode",
        "rateLimitService.enableResourceExhaustedCode",
        v.boolean,
    ),
    Option(
        "rls.default_global_rate_limit_policy",
        "rateLimitService.defaultGlobalRateLimitPolicy",
        "rateLimitService.defaultGlobalRateLimitPolicy",
        v.rate_limit_policy,
    ),
    # global external authorization
    Option(
        "ext_auth.extension_ref",
        "globalExtAuth.extensionService",
        "globalExtAuth.extensionRef",
        v.slash_ref,
        v.object_ref,
    ),
    Option("ext_auth.service_api_type", "globalExtAuth.serviceAPIType", None, v.enum("grpc", "http")),
    Option("ext_auth.http_settings", "globalExtAuth.httpSettings", None, v.http_settings),
    Option(
        "ext_auth.disabled",
        "globalExtAuth.authPolicy.disabled",
        "globalExtAuth.authPolicy.disabled",
        v.boolean,
    ),
    Option(
        "ext_auth.context", "globalExtAuth.authPolicy.context", "globalExtAuth.authPolicy.context", v.str_map
    ),
    Option(
        "ext_auth.response_timeout",
        "globalExtAuth.responseTimeout",
        "globalExtAuth.responseTimeout",
        v.timeout_text,
    ),
    Option("ext_auth.fail_open", "globalExtAuth.failOpen", "globalExtAuth.failOpen", v.boolean),
    Option(
        "ext_auth.max_request_bytes",
        "globalExtAuth.withRequestBody.maxRequestBytes",
        "globalExtAuth.withRequestBody.maxRequestBytes",
        v.min1,
    ),
    Option(
        "ext_auth.allow_partial_message",
        "globalExtAuth.withRequestBody.allowPartialMessage",
        "globalExtAuth.withRequestBody.allowPartialMessage",
        v.boolean,
    ),
    Option(
        "ext_auth.pack_as_bytes",
        "globalExtAuth.withRequestBody.packAsBytes",
        "globalExtAuth.withRequestBody.packAsBytes",
        v.boolean,
    ),
    # tracing
    Option(
        "tracing.extension_service",
        "tracing.extensionService",
        "tracing.extensionService",
        v.slash_ref,
        v.object_ref,
    ),
    Option("tracing.service_name", "tracing.serviceName", "tracing.serviceName", v.string),
    Option("tracing.overall_sampling", "tracing.overallSampling", "tracing.overallSampling", v.sampling),
    Option("tracing.max_path_tag_length", "tracing.maxPathTagLength", "tracing.maxPathTagLength", v.uint32),
    Option("tracing.include_pod_detail", "tracing.includePodDetail", "tracing.includePodDetail", v.boolean),
    Option("tracing.custom_tags", "tracing.customTags", "tracing.customTags", v.custom_tags),
    # the Contour process (config file only)
    Option("process.debug", "debug", None, v.boolean),
    Option("process.incluster", "incluster", None, v.boolean),
    Option("process.kubeconfig", "kubeconfig", None, v.string),
    Option("process.kubernetes_client_qps", "kubernetesClientQPS", None, v.number),
    Option("process.kubernetes_client_burst", "kubernetesClientBurst", None, v.int_range(0, 2**31 - 1)),
)
