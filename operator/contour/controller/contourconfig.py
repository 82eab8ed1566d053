"""Contour's configuration, from a ContourConfiguration spec or a `contour.yaml` file, as typed settings.

Contour takes its runtime options from either a ContourConfiguration v1alpha1 object
(`--contour-config-name`) or a YAML file (`--config-path`, keys as in Contour's
`pkg/config/parameters.go`). Both are read here into one `ContourSettings`: the `BuilderConfig` and
`TranslatorConfig` the controller runs with, plus everything else (xDS server, Contour's own
endpoints, Envoy's listeners and Service, Gateway, rate limit service, global external authorization,
tracing) and the options nothing consumes yet (`PendingEnvoySettings`).

Rules, as in Contour: an unknown key is an error naming its full dotted path (the file is decoded
with yaml.v3 KnownFields; the CRD schema is closed); an invalid value is an error naming the key and
the value; what is not given takes Contour's default for that source. The two sources differ in two
defaults only: the file's `Defaults()` sets `timeouts.connection-idle-timeout: 60s`, while an unset
ContourConfiguration field leaves Envoy's default (`connectTimeout` is 2s either way). Everything here
is pure: reading the file and the object is the caller's job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import pydantic
import yaml

from contour.api.projectcontour import v1
from contour.api.projectcontour import v1alpha1 as api
from contour.controller import contourconfig_values as v
from contour.controller.contourconfig_options import OPTIONS, Option
from contour.controller.contourconfig_values import ConfigError, CustomTag
from contour.dag.builder import BuilderConfig
from contour.dag.global_headers import GlobalHeaders
from contour.dag.model import AuthorizationRequestBody, GlobalExternalAuthorization, ObjectRef
from contour.dag.ratelimit import RateLimitServiceConfig
from contour.envoy.access_log import DEFAULT_JSON_FIELDS, AccessLogSettings
from contour.envoy.clusters import UpstreamTLSSettings
from contour.envoy.core import DEFAULT_CIPHER_SUITES
from contour.envoy.listener_options import ListenerOptions
from contour.envoy.translate import TranslatorConfig

# --- the settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int


@dataclass(frozen=True)
class MetricsEndpoint:
    """A metrics server; HTTPS when `cert_file` and `key_file` are set, client certificates checked
    against `ca_file` when that is set too."""

    address: str
    port: int
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""


@dataclass(frozen=True)
class EnvoyListenerEndpoint:
    address: str
    port: int
    access_log: str = "/dev/stdout"


@dataclass(frozen=True)
class XDSServerSettings:
    address: str = "0.0.0.0"
    port: int = 8001
    ca_file: str = "/certs/ca.crt"
    cert_file: str = "/certs/tls.crt"
    key_file: str = "/certs/tls.key"
    insecure: bool = False
    server_type: str = "envoy"


@dataclass(frozen=True)
class TracingSettings:
    extension_service: ObjectRef
    service_name: str = "contour"
    overall_sampling: float = 100.0
    max_path_tag_length: int = 256
    include_pod_detail: bool = True
    custom_tags: tuple[CustomTag, ...] = ()


DEFAULT_ACCESS_LOG_JSON_FIELDS: Final = DEFAULT_JSON_FIELDS


@dataclass(frozen=True)
class PendingEnvoySettings:
    """Validated options that nothing consumes yet; None means not served."""

    om_enforced_health: Endpoint | None = None


@dataclass(frozen=True)
class ProcessSettings:
    """Options of the config file that concern the Contour process itself (no CRD field)."""

    debug: bool = False
    incluster: bool = False
    kubeconfig: str = ""
    kubernetes_client_qps: float = 0.0
    kubernetes_client_burst: int = 0


@dataclass(frozen=True)
class ContourSettings:
    builder: BuilderConfig
    translator: TranslatorConfig
    xds: XDSServerSettings = field(default_factory=XDSServerSettings)
    ingress_status_address: str = ""
    health: Endpoint = Endpoint("0.0.0.0", 8000)
    metrics: MetricsEndpoint = MetricsEndpoint("0.0.0.0", 8000)
    debug: Endpoint = Endpoint("127.0.0.1", 6060)
    envoy_service: ObjectRef = field(default_factory=lambda: ObjectRef("projectcontour", "envoy"))
    envoy_http: EnvoyListenerEndpoint = EnvoyListenerEndpoint("0.0.0.0", 8080)
    envoy_https: EnvoyListenerEndpoint = EnvoyListenerEndpoint("0.0.0.0", 8443)
    envoy_health: Endpoint = Endpoint("0.0.0.0", 8002)
    envoy_metrics: MetricsEndpoint = MetricsEndpoint("0.0.0.0", 8002)
    envoy_admin_port: int = 9001
    gateway_ref: ObjectRef | None = None
    rate_limit_service: RateLimitServiceConfig | None = None
    tracing: TracingSettings | None = None
    feature_flags: tuple[str, ...] = ()
    pending: PendingEnvoySettings = field(default_factory=PendingEnvoySettings)
    process: ProcessSettings = field(default_factory=ProcessSettings)
    # option names (see OPTIONS) the source gave explicitly
    given: frozenset[str] = frozenset()


# Where a source's defaults differ from "not given" (config file Defaults()).
_FILE_DEFAULTS: Final[Mapping[str, Any]] = {"timeouts.connection_idle": 60.0}


# --- reading a source ---------------------------------------------------------------------------------


def _read(data: Mapping[str, Any], paths: Mapping[str, Option], spec: bool) -> dict[str, Any]:
    """Option name -> checked value for every option `data` gives; ConfigError on unknown keys."""
    values: dict[str, Any] = {}
    objects = set(paths)
    prefixes = {p.rsplit(".", i)[0] for p in paths for i in range(1, p.count(".") + 1)}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            key_path = path.removeprefix("spec.")
            if not isinstance(key, str):
                raise ConfigError(f"{path}: keys must be strings")
            if key_path in objects:
                option = paths[key_path]
                check = option.spec_check if spec and option.spec_check else option.check
                values[option.name] = check(value, path)
            elif key_path in prefixes:
                if value is None:
                    continue
                if not isinstance(value, dict):
                    raise ConfigError(f"{path}: expected a mapping, got {v.type_name(value)} {value!r}")
                walk(value, path + ".")
            else:
                raise ConfigError(f"unknown field {path}")

    walk(data, "spec." if spec else "")
    return values


_FILE_PATHS: Final = {o.file: o for o in OPTIONS if o.file}
_SPEC_PATHS: Final = {o.spec: o for o in OPTIONS if o.spec}


def settings_from_file(text: str) -> ContourSettings:
    """A `contour.yaml` (Contour's config file) as settings; ConfigError names the bad key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"failed to parse configuration: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"failed to parse configuration: expected a mapping, got {v.type_name(data)}")
    values = _read(data, _FILE_PATHS, spec=False)
    return _settings(values, _FILE_DEFAULTS)


def settings_from_spec(spec: Mapping[str, Any]) -> ContourSettings:
    """A ContourConfiguration `spec` (JSON form) as settings; ConfigError names the bad field."""
    try:
        model = api.ContourConfigurationSpec.model_validate(dict(spec))
    except pydantic.ValidationError as exc:
        raise v.pydantic_error(exc, "spec") from None
    values = _read(model.dump(), _SPEC_PATHS, spec=True)
    if (t := values.get("tls.minimum_version")) and (u := values.get("tls.maximum_version")) and u < t:
        raise ConfigError(
            "spec.envoy.listener.tls: the minimum TLS protocol version is greater than the maximum"
        )
    return _settings(values, {})


def load_config_file(path: str) -> ContourSettings:
    """Read and check Contour's config file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror or exc}") from None
    return settings_from_file(text)


# --- values -> settings ---------------------------------------------------------------------------------


def _settings(values: Mapping[str, Any], source_defaults: Mapping[str, Any]) -> ContourSettings:
    def get(name: str, default: Any = None) -> Any:
        if name in values:
            return values[name]
        return source_defaults.get(name, default)

    def given(prefix: str) -> bool:
        return any(n == prefix or n.startswith(prefix + ".") for n in values)

    for low, high, where in (
        ("tls.minimum_version", "tls.maximum_version", "tls"),
        ("upstream_tls.minimum_version", "upstream_tls.maximum_version", "upstream tls"),
    ):
        if (get(high) or "1.3") < (get(low) or "1.2"):
            raise ConfigError(f"{where}: the minimum protocol version is greater than the maximum")
    request = GlobalHeaders.of(get("policy.request.set"), get("policy.request.remove"))
    response = GlobalHeaders.of(get("policy.response.set"), get("policy.response.remove"))
    http_port, https_port = get("envoy.http.port", 8080), get("envoy.https.port", 8443)
    builder = BuilderConfig(
        root_namespaces=get("root_namespaces", ()),
        ingress_class_names=get("ingress.class_names", ()),
        enable_external_name_service=get("enable_external_name_service", False),
        disable_permit_insecure=get("disable_permit_insecure", False),
        fallback_certificate=get("fallback_certificate"),
        http_address=get("envoy.http.address", "0.0.0.0"),
        http_port=http_port,
        https_address=get("envoy.https.address", "0.0.0.0"),
        https_port=https_port,
        client_certificate=get("client_certificate"),
        global_external_authorization=_global_ext_auth(get, given),
        global_request_headers=request or None,
        global_response_headers=response or None,
        apply_to_ingress=get("policy.apply_to_ingress", False),
        rate_limit_service=_rate_limit_service(get),
    )
    translator = TranslatorConfig(
        xff_num_trusted_hops=get("num_trusted_hops", 0),
        server_header_transformation=get("server_header_transformation", "overwrite"),
        merge_slashes=not get("disable_merge_slashes", False),
        allow_chunked_length=not get("disable_allow_chunked_length", False),
        request_timeout_seconds=get("timeouts.request"),
        connection_idle_timeout_seconds=get("timeouts.connection_idle"),
        stream_idle_timeout_seconds=get("timeouts.stream_idle"),
        max_connection_duration_seconds=get("timeouts.max_connection_duration"),
        delayed_close_timeout_seconds=get("timeouts.delayed_close"),
        connection_shutdown_grace_period_seconds=get("timeouts.connection_shutdown_grace_period"),
        connect_timeout_seconds=get("timeouts.connect") or 2.0,
        default_http_versions=get("default_http_versions") or ("HTTP/1.1", "HTTP/2"),
        minimum_tls_version=get("tls.minimum_version") or "1.2",
        maximum_tls_version=get("tls.maximum_version") or "1.3",
        cipher_suites=get("tls.cipher_suites") or DEFAULT_CIPHER_SUITES,
        upstream_tls=UpstreamTLSSettings(
            minimum_protocol_version=get("upstream_tls.minimum_version") or "1.2",
            maximum_protocol_version=get("upstream_tls.maximum_version") or "1.3",
            cipher_suites=get("upstream_tls.cipher_suites") or DEFAULT_CIPHER_SUITES,
        ),
        dns_lookup_family=get("dns_lookup_family", "auto"),
        http_access_log=get("envoy.http.access_log", "/dev/stdout"),
        https_access_log=get("envoy.https.access_log", "/dev/stdout"),
        use_proxy_protocol=get("use_proxy_protocol", False),
        stats_address=get("envoy.metrics.address", "0.0.0.0"),
        stats_port=get("envoy.metrics.port", 8002),
        access_log=AccessLogSettings(
            format=get("access_log.format", "envoy"),
            format_string=get("access_log.format_string", ""),
            json_fields=get("access_log.json_fields") or DEFAULT_ACCESS_LOG_JSON_FIELDS,
            level=get("access_log.level", "info"),
        ),
        compression=get("compression", "gzip"),
        listener_options=ListenerOptions(
            per_connection_buffer_limit_bytes=get("listener.per_connection_buffer_limit_bytes"),
            connection_balancer=get("connection_balancer", ""),
            max_connections_to_accept_per_socket_event=get(
                "listener.max_connections_to_accept_per_socket_event"
            ),
            socket_tos=get("listener.socket_tos", 0),
            socket_traffic_class=get("listener.socket_traffic_class", 0),
        ),
        max_requests_per_connection=get("listener.max_requests_per_connection"),
        http2_max_concurrent_streams=get("listener.http2_max_concurrent_streams"),
        max_requests_per_io_cycle=get("listener.max_requests_per_io_cycle"),
        max_connections_per_listener=get("listener.max_connections_per_listener"),
        strip_trailing_host_dot=get("strip_trailing_host_dot", False),
        cluster_max_requests_per_connection=get("cluster.max_requests_per_connection"),
        cluster_per_connection_buffer_limit_bytes=get("cluster.per_connection_buffer_limit_bytes"),
        circuit_breakers={
            n.removeprefix("circuit_breakers."): v for n, v in values.items() if n.startswith("circuit_")
        },
    )
    if given("tracing") and get("tracing.extension_service") is None:
        raise ConfigError("tracing.extensionService: must be defined")
    return ContourSettings(
        builder=builder,
        translator=translator,
        xds=XDSServerSettings(
            address=get("xds.address", "0.0.0.0"),
            port=get("xds.port", 8001),
            ca_file=get("xds.ca_file", "/certs/ca.crt"),
            cert_file=get("xds.cert_file", "/certs/tls.crt"),
            key_file=get("xds.key_file", "/certs/tls.key"),
            insecure=get("xds.insecure", False),
            server_type=get("xds.server_type", "envoy"),
        ),
        ingress_status_address=get("ingress.status_address", ""),
        health=Endpoint(get("health.address", "0.0.0.0"), get("health.port", 8000)),
        metrics=_metrics(get, "metrics", "0.0.0.0", 8000),
        debug=Endpoint(get("debug.address", "127.0.0.1"), get("debug.port", 6060)),
        envoy_service=ObjectRef(
            get("envoy.service.namespace", "projectcontour"), get("envoy.service.name", "envoy")
        ),
        envoy_http=EnvoyListenerEndpoint(
            builder.http_address, http_port, get("envoy.http.access_log", "/dev/stdout")
        ),
        envoy_https=EnvoyListenerEndpoint(
            builder.https_address, https_port, get("envoy.https.access_log", "/dev/stdout")
        ),
        envoy_health=Endpoint(get("envoy.health.address", "0.0.0.0"), get("envoy.health.port", 8002)),
        envoy_metrics=_metrics(get, "envoy.metrics", "0.0.0.0", 8002),
        envoy_admin_port=get("admin_port", 9001),
        gateway_ref=get("gateway_ref"),
        rate_limit_service=builder.rate_limit_service,
        tracing=_tracing(get),
        feature_flags=get("feature_flags", ()),
        pending=PendingEnvoySettings(
            om_enforced_health=(
                Endpoint(get("envoy.om_health.address", "0.0.0.0"), get("envoy.om_health.port", 0))
                if given("envoy.om_health")
                else None
            ),
        ),
        process=ProcessSettings(
            debug=get("process.debug", False),
            incluster=get("process.incluster", False),
            kubeconfig=get("process.kubeconfig", ""),
            kubernetes_client_qps=get("process.kubernetes_client_qps", 0.0),
            kubernetes_client_burst=get("process.kubernetes_client_burst", 0),
        ),
        given=frozenset(values),
    )


Getter = Callable[..., Any]


def _metrics(get: Getter, prefix: str, address: str, port: int) -> MetricsEndpoint:
    found = MetricsEndpoint(
        address=get(f"{prefix}.address", address),
        port=get(f"{prefix}.port", port),
        cert_file=get(f"{prefix}.cert_file", ""),
        key_file=get(f"{prefix}.key_file", ""),
        ca_file=get(f"{prefix}.ca_file", ""),
    )
    if bool(found.cert_file) != bool(found.key_file):
        raise ConfigError(f"{prefix}: you must supply both the server certificate and key, or neither")
    if found.ca_file and not found.cert_file:
        raise ConfigError(f"{prefix}: a CA certificate needs the server certificate and key too")
    return found


def _rate_limit_service(get: Getter) -> RateLimitServiceConfig | None:
    ref = get("rls.extension_service")
    if ref is None:
        return None
    raw_policy = get("rls.default_global_rate_limit_policy")
    try:
        policy = v1.Global.model_validate(raw_policy) if raw_policy is not None else None
    except pydantic.ValidationError as exc:
        raise ConfigError(f"rateLimitService.defaultGlobalRateLimitPolicy: {exc.errors()[0]['msg']}") from exc
    return RateLimitServiceConfig(
        extension_service=ref,
        domain=get("rls.domain", ""),
        fail_open=get("rls.fail_open", False),
        enable_x_rate_limit_headers=get("rls.enable_x_rate_limit_headers", False),
        enable_resource_exhausted_code=get("rls.enable_resource_exhausted_code", False),
        default_global_rate_limit_policy=policy,
    )


def _global_ext_auth(get: Getter, given: Callable[[str], bool]) -> GlobalExternalAuthorization | None:
    ref = get("ext_auth.extension_ref")
    if ref is None:
        if given("ext_auth"):
            raise ConfigError("globalExtAuth: the extension service must be defined")
        return None
    timeout = get("ext_auth.response_timeout")
    http: Mapping[str, Any] = get("ext_auth.http_settings", {})
    body = None
    if (
        given("ext_auth.max_request_bytes")
        or given("ext_auth.allow_partial_message")
        or given("ext_auth.pack_as_bytes")
    ):
        body = AuthorizationRequestBody(
            max_request_bytes=get("ext_auth.max_request_bytes", 1024),
            allow_partial_message=get("ext_auth.allow_partial_message", False),
            pack_as_bytes=get("ext_auth.pack_as_bytes", False),
        )
    return GlobalExternalAuthorization(
        extension_ref=ref,
        service_type=get("ext_auth.service_api_type", "grpc"),
        fail_open=get("ext_auth.fail_open", False),
        response_timeout=timeout or "",
        auth_policy_disabled=get("ext_auth.disabled", False),
        auth_policy_context=tuple(sorted(get("ext_auth.context", {}).items())),
        request_body=body,
        http_path_prefix=http.get("pathPrefix", ""),
        allowed_authorization_headers=tuple(http.get("allowedAuthorizationHeaders", ())),
        allowed_upstream_headers=tuple(http.get("allowedUpstreamHeaders", ())),
    )


def _tracing(get: Getter) -> TracingSettings | None:
    ref = get("tracing.extension_service")
    if ref is None:
        return None
    return TracingSettings(
        extension_service=ref,
        service_name=get("tracing.service_name") or "contour",
        overall_sampling=get("tracing.overall_sampling", 100.0),
        max_path_tag_length=get("tracing.max_path_tag_length") or 256,
        include_pod_detail=get("tracing.include_pod_detail", True),
        custom_tags=get("tracing.custom_tags", ()),
    )


# --- ContourConfiguration status ------------------------------------------------------------------------

VALID: Final = "Valid"


@dataclass(frozen=True)
class ConfigurationStatusUpdate:
    """A status for the StatusWriter (it reads group, version, plural, ref, generation, status)."""

    ref: ObjectRef
    generation: int
    status: Mapping[str, Any]
    group: str = "projectcontour.io"
    version: str = "v1alpha1"
    plural: str = "contourconfigurations"


def configuration_status(
    current: Mapping[str, Any] | None, generation: int, error: str | None
) -> dict[str, Any]:
    """The ContourConfiguration status Contour documents: one `Valid` condition (True, or False with
    the error as a sub-condition), conditions of other types kept as they are."""
    condition: dict[str, Any] = {
        "type": VALID,
        "status": "True" if error is None else "False",
        "observedGeneration": generation,
        "reason": "Valid" if error is None else "ErrorPresent",
        "message": (
            "Valid ContourConfiguration"
            if error is None
            else "At least one error present, see Errors for details"
        ),
    }
    if error is not None:
        condition["errors"] = [
            {"type": "SpecError", "status": "True", "reason": "ConfigurationInvalid", "message": error}
        ]
    others = [
        c
        for c in ((current or {}).get("conditions") or [])
        if isinstance(c, Mapping) and c.get("type") != VALID
    ]
    return {"conditions": [*others, condition]}


# BuilderConfig fields `contour run` has flags for -> the option that sets them in a configuration.
RUN_FLAG_FIELDS: Final = {
    "root_namespaces": "root_namespaces",
    "ingress_class_names": "ingress.class_names",
    "enable_external_name_service": "enable_external_name_service",
    "disable_permit_insecure": "disable_permit_insecure",
    "fallback_certificate": "fallback_certificate",
}


def local_run_configs(
    settings: ContourSettings | None,
    builder: BuilderConfig,
    translator: TranslatorConfig,
    flags: frozenset[str],
) -> tuple[BuilderConfig, TranslatorConfig]:
    """The configs `contour run` runs with: its own (`builder`, `translator`) when there are no
    settings; otherwise the settings', except where Envoy listens (addresses, ports, stats, ADS),
    which `contour run` decides, and the BuilderConfig fields named in `flags` (given on the command
    line, so they override the configuration, as in Contour)."""
    if settings is None:
        return builder, translator
    from_flags = {
        name: getattr(builder, name)
        for name, option in RUN_FLAG_FIELDS.items()
        if name in flags or option not in settings.given
    }
    return (
        replace(
            settings.builder,
            http_address=builder.http_address,
            http_port=builder.http_port,
            https_address=builder.https_address,
            https_port=builder.https_port,
            **from_flags,
        ),
        replace(
            settings.translator,
            stats_address=translator.stats_address,
            stats_port=translator.stats_port,
            admin_port=translator.admin_port,
            ads=translator.ads,
        ),
    )
