"""The Envoy bootstrap that points an Envoy at Contour's xDS server, as `contour bootstrap` writes it.

Pure: a `BootstrapConfig` goes in, JSON-ready dicts come out (the bootstrap and, for mTLS with a
resources directory, the two file-based SDS resources that let the xDS certificates rotate without
an Envoy restart). Nothing here reads files, the clock or the network; the CLI writes the result.

The dicts use protobuf field names (snake_case) and `@type` for `Any`, the JSON form Envoy parses.
Shape follows Contour's `internal/envoy/v3/bootstrap.go`: a static `contour` cluster (HTTP/2, 5 s
connect timeout, TCP keepalive, large circuit breakers), a static `envoy-admin` cluster, an RTDS
runtime layer named `dynamic` plus an admin layer, RE2 as the default regex engine and an optional
overload manager.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

XDS_CLUSTER_NAME: Final = "contour"
ADMIN_CLUSTER_NAME: Final = "envoy-admin"
DYNAMIC_RUNTIME_LAYER_NAME: Final = "dynamic"
SDS_RESOURCES_SUBDIRECTORY: Final = "sds"
SDS_TLS_CERTIFICATE_FILE: Final = "xds-tls-certificate.json"
SDS_VALIDATION_CONTEXT_FILE: Final = "xds-validation-context.json"
SDS_TLS_CERTIFICATE_NAME: Final = "contour_xds_tls_certificate"
SDS_VALIDATION_CONTEXT_NAME: Final = "contour_xds_tls_validation_context"
XDS_SERVER_SAN: Final = "contour"

DNS_LOOKUP_FAMILIES: Final = {"auto": "AUTO", "v4": "V4_ONLY", "v6": "V6_ONLY", "all": "ALL"}
LOG_FORMATS: Final = ("text", "json")
XDS_RESOURCE_VERSIONS: Final = ("v3",)

# Envoy's application log as one JSON object per line; %j is the message escaped for JSON
# (https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/bootstrap/v3/bootstrap.proto
# #config-bootstrap-v3-bootstrap-applicationlogconfig-logformat).
JSON_LOG_FORMAT: Final = {
    "time": "%Y-%m-%dT%T.%e%z",
    "level": "%l",
    "logger": "%n",
    "thread": "%t",
    "source": "%g:%#",
    "msg": "%j",
}

_TYPE = "@type"
_DOWNSTREAM_CONNECTIONS_CONFIG = (
    "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"
)
_T = "type.googleapis.com/"


class BootstrapError(ValueError):
    """A bootstrap option has a value Envoy could not use; `option` names the flag, `reason` says why."""

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


@dataclass(frozen=True, slots=True)
class BootstrapConfig:
    """Everything `contour bootstrap` needs; defaults are Contour's (ports, namespace, admin socket).

    `admin_address` is an absolute path (a unix socket, Contour's default) or an IP literal; only an
    IP uses `admin_port`. `ca_file`, `cert_file`, `key_file` are all set (mTLS to xDS) or all empty.
    With mTLS and a `resources_dir`, the certificates are referenced through file-based SDS resources
    written under `<resources_dir>/sds/`; without one, the bootstrap names the files directly.
    `overload_max_heap` and `overload_downstream_max_conn` of 0 leave that overload monitor out; the
    connection limit defaults to 50,000 (Contour has none) so Envoy never runs without one.
    `ads` puts every type on one aggregated stream; `delta` selects incremental xDS. Contour itself
    uses one state-of-the-world gRPC stream per type (both False). An empty `node_id` or
    `node_cluster` leaves it to Envoy's `--service-node` / `--service-cluster` flags.
    `runtime_discovery` adds Contour's RTDS layer `dynamic`: Envoy then waits during initialisation
    for the xDS server to answer the Runtime type (or for the initial fetch timeout).
    """

    xds_address: str = "127.0.0.1"
    xds_port: int = 8001
    admin_address: str = "/admin/admin.sock"
    admin_port: int = 9001
    admin_access_log_path: str = "/dev/null"
    namespace: str = "projectcontour"
    dns_lookup_family: str = "auto"
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    resources_dir: str = ""
    xds_resource_version: str = "v3"
    log_format: str = "text"
    overload_max_heap: int = 0
    overload_downstream_max_conn: int = 50000
    node_id: str = "envoy"
    node_cluster: str = "contour"
    ads: bool = False
    delta: bool = False
    runtime_discovery: bool = True

    @property
    def tls(self) -> bool:
        return bool(self.ca_file or self.cert_file or self.key_file)

    @property
    def sds_tls_certificate_path(self) -> str:
        return posixpath.join(self.resources_dir, SDS_RESOURCES_SUBDIRECTORY, SDS_TLS_CERTIFICATE_FILE)

    @property
    def sds_validation_context_path(self) -> str:
        return posixpath.join(self.resources_dir, SDS_RESOURCES_SUBDIRECTORY, SDS_VALIDATION_CONTEXT_FILE)


def validate(config: BootstrapConfig) -> None:
    """Raise `BootstrapError` naming the flag when an option cannot produce a working bootstrap."""
    if config.xds_resource_version not in XDS_RESOURCE_VERSIONS:
        raise BootstrapError(
            "--xds-resource-version", f"{config.xds_resource_version!r} is not supported; only 'v3' is"
        )
    if config.dns_lookup_family not in DNS_LOOKUP_FAMILIES:
        raise BootstrapError(
            "--dns-lookup-family", _not_one_of(config.dns_lookup_family, DNS_LOOKUP_FAMILIES)
        )
    if config.log_format not in LOG_FORMATS:
        raise BootstrapError("--log-format", _not_one_of(config.log_format, LOG_FORMATS))
    if not config.xds_address:
        raise BootstrapError("--xds-address", "must not be empty")
    if not 1 <= config.xds_port <= 65535:
        raise BootstrapError("--xds-port", f"{config.xds_port} is not a port number (1-65535)")
    if not _is_unix_socket(config.admin_address) and not _is_ip(config.admin_address):
        raise BootstrapError(
            "--admin-address", f"{config.admin_address!r} is neither an absolute unix socket path nor an IP"
        )
    if not 0 <= config.admin_port <= 65535:
        raise BootstrapError("--admin-port", f"{config.admin_port} is not a port number (0-65535)")
    if config.overload_max_heap < 0:
        raise BootstrapError("--overload-max-heap", f"{config.overload_max_heap} is negative")
    if config.overload_downstream_max_conn < 0:
        raise BootstrapError(
            "--overload-downstream-max-conn", f"{config.overload_downstream_max_conn} is negative"
        )
    tls_files = (config.ca_file, config.cert_file, config.key_file)
    if any(tls_files) and not all(tls_files):
        raise BootstrapError(
            "--envoy-cafile, --envoy-cert-file, --envoy-key-file",
            "supply all three TLS files or none of them",
        )


def _not_one_of(value: str, choices: Iterable[str]) -> str:
    return f"{value!r} is not one of {', '.join(choices)}"


def bootstrap(config: BootstrapConfig) -> dict[str, Any]:
    """The Envoy bootstrap for `config` as a JSON-ready dict (validated first)."""
    validate(config)
    contour_cluster = _xds_cluster(config)
    if config.tls:
        contour_cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": _upstream_tls_context(config),
        }
    result: dict[str, Any] = {}
    node = {k: v for k, v in (("id", config.node_id), ("cluster", config.node_cluster)) if v}
    if node:
        result["node"] = node
    result["static_resources"] = {"clusters": [contour_cluster, _admin_cluster(config)]}
    result["dynamic_resources"] = _dynamic_resources(config)
    if config.runtime_discovery:
        result["layered_runtime"] = {
            "layers": [
                {
                    "name": DYNAMIC_RUNTIME_LAYER_NAME,
                    "rtds_layer": {"name": DYNAMIC_RUNTIME_LAYER_NAME, "rtds_config": _config_source(config)},
                },
                # Last, so runtime values set through the admin console override the others.
                {"name": "admin", "admin_layer": {}},
            ]
        }
    result["admin"] = {
        "access_log": [
            {
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    _TYPE: _T + "envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": config.admin_access_log_path,
                },
            }
        ],
        "address": _admin_address(config),
    }
    result["default_regex_engine"] = {
        "name": "envoy.regex_engines.google_re2",
        "typed_config": {_TYPE: _T + "envoy.extensions.regex_engines.v3.GoogleRE2"},
    }
    overload = _overload_manager(config)
    if overload:
        result["overload_manager"] = overload
    if config.log_format == "json":
        result["application_log_config"] = {"log_format": {"json_format": dict(JSON_LOG_FORMAT)}}
    return result


def sds_resources(config: BootstrapConfig) -> dict[str, dict[str, Any]]:
    """Path -> file-based SDS resource (a DiscoveryResponse) for mTLS with a resources dir, else {}."""
    validate(config)
    if not (config.tls and config.resources_dir):
        return {}
    certificate = {
        _TYPE: _T + "envoy.extensions.transport_sockets.tls.v3.Secret",
        "name": SDS_TLS_CERTIFICATE_NAME,
        "tls_certificate": _tls_certificate(config),
    }
    validation = {
        _TYPE: _T + "envoy.extensions.transport_sockets.tls.v3.Secret",
        "name": SDS_VALIDATION_CONTEXT_NAME,
        "validation_context": _validation_context(config),
    }
    return {
        config.sds_tls_certificate_path: {"resources": [certificate]},
        config.sds_validation_context_path: {"resources": [validation]},
    }


def render_files(config: BootstrapConfig, bootstrap_path: str) -> dict[str, str]:
    """Every file `contour bootstrap` writes, path -> JSON text: SDS resources first, bootstrap last."""
    files = {path: to_json(resource) for path, resource in sds_resources(config).items()}
    files[bootstrap_path] = to_json(bootstrap(config))
    return files


def to_json(document: dict[str, Any]) -> str:
    """Stable, human-readable JSON with a trailing newline."""
    return json.dumps(document, indent=2) + "\n"


def _is_unix_socket(address: str) -> bool:
    return address.startswith("/")


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _socket_address(address: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": address, "port_value": port}}


def _admin_address(config: BootstrapConfig) -> dict[str, Any]:
    if _is_unix_socket(config.admin_address):
        return {"pipe": {"path": config.admin_address}}
    return _socket_address(config.admin_address, config.admin_port)


def _endpoints(address: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"lb_endpoints": [{"endpoint": {"address": address}}]}]


def _api_config_source(config: BootstrapConfig) -> dict[str, Any]:
    source: dict[str, Any] = {
        "api_type": "DELTA_GRPC" if config.delta else "GRPC",
        "transport_api_version": "V3",
        "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER_NAME}}],
    }
    if config.ads:
        source["set_node_on_first_message_only"] = True
    return source


def _config_source(config: BootstrapConfig) -> dict[str, Any]:
    if config.ads:
        return {"ads": {}, "resource_api_version": "V3"}
    return {"api_config_source": _api_config_source(config), "resource_api_version": "V3"}


def _dynamic_resources(config: BootstrapConfig) -> dict[str, Any]:
    resources: dict[str, Any] = {"lds_config": _config_source(config), "cds_config": _config_source(config)}
    if config.ads:
        resources["ads_config"] = _api_config_source(config)
    return resources


def _circuit_breaker(priority: str) -> dict[str, Any]:
    return {
        "priority": priority,
        "max_connections": 100000,
        "max_pending_requests": 100000,
        "max_requests": 60000000,
        "max_retries": 50,
        "track_remaining": True,
    }


def _xds_cluster(config: BootstrapConfig) -> dict[str, Any]:
    return {
        "name": XDS_CLUSTER_NAME,
        "alt_stat_name": f"{config.namespace}_{XDS_CLUSTER_NAME}_{config.xds_port}",
        "type": "STATIC" if _is_ip(config.xds_address) else "STRICT_DNS",
        "connect_timeout": "5s",
        "dns_lookup_family": DNS_LOOKUP_FAMILIES[config.dns_lookup_family],
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": XDS_CLUSTER_NAME,
            "endpoints": _endpoints(_socket_address(config.xds_address, config.xds_port)),
        },
        "upstream_connection_options": {
            "tcp_keepalive": {"keepalive_probes": 3, "keepalive_time": 30, "keepalive_interval": 5}
        },
        # gRPC needs HTTP/2; without it Envoy never gets an answer and stays PRE_INITIALIZING.
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                _TYPE: _T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "circuit_breakers": {"thresholds": [_circuit_breaker("HIGH"), _circuit_breaker("DEFAULT")]},
    }


def _admin_cluster(config: BootstrapConfig) -> dict[str, Any]:
    return {
        "name": ADMIN_CLUSTER_NAME,
        "alt_stat_name": f"{config.namespace}_{ADMIN_CLUSTER_NAME}_{config.admin_port}",
        "type": "STATIC",
        "connect_timeout": "0.250s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": ADMIN_CLUSTER_NAME,
            "endpoints": _endpoints(_admin_address(config)),
        },
    }


def _tls_certificate(config: BootstrapConfig) -> dict[str, Any]:
    return {
        "certificate_chain": {"filename": config.cert_file},
        "private_key": {"filename": config.key_file},
    }


def _validation_context(config: BootstrapConfig) -> dict[str, Any]:
    return {
        "trusted_ca": {"filename": config.ca_file},
        "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": XDS_SERVER_SAN}}],
    }


def _sds_secret_config(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "sds_config": {"path_config_source": {"path": path}, "resource_api_version": "V3"}}


def _upstream_tls_context(config: BootstrapConfig) -> dict[str, Any]:
    common: dict[str, Any] = {"tls_params": {"tls_maximum_protocol_version": "TLSv1_3"}}
    if config.resources_dir:
        common["tls_certificate_sds_secret_configs"] = [
            _sds_secret_config(SDS_TLS_CERTIFICATE_NAME, config.sds_tls_certificate_path)
        ]
        common["validation_context_sds_secret_config"] = _sds_secret_config(
            SDS_VALIDATION_CONTEXT_NAME, config.sds_validation_context_path
        )
    else:
        common["tls_certificates"] = [_tls_certificate(config)]
        common["validation_context"] = _validation_context(config)
    return {
        _TYPE: _T + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "common_tls_context": common,
    }


def _overload_manager(config: BootstrapConfig) -> dict[str, Any]:
    monitors: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    if config.overload_max_heap > 0:
        heap = "envoy.resource_monitors.fixed_heap"
        monitors.append(
            {
                "name": heap,
                "typed_config": {
                    _TYPE: _T + "envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
                    "max_heap_size_bytes": str(config.overload_max_heap),
                },
            }
        )
        actions += [
            {
                "name": "envoy.overload_actions.shrink_heap",
                "triggers": [{"name": heap, "threshold": {"value": 0.95}}],
            },
            {
                "name": "envoy.overload_actions.stop_accepting_requests",
                "triggers": [{"name": heap, "threshold": {"value": 0.98}}],
            },
        ]
    if config.overload_downstream_max_conn > 0:
        monitors.append(
            {
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": {
                    _TYPE: _T + _DOWNSTREAM_CONNECTIONS_CONFIG,
                    "max_active_downstream_connections": str(config.overload_downstream_max_conn),
                },
            }
        )
    if not monitors:
        return {}
    manager: dict[str, Any] = {"refresh_interval": "0.250s", "resource_monitors": monitors}
    if actions:
        manager["actions"] = actions
    return manager
