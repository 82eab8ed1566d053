"""Listener, connection manager, runtime and cluster options of the Contour configuration: each one
reaches the Envoy message Contour 1.33 puts it in, none is emitted by default, and the real Envoy
accepts a translation with all of them on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from envoy.config.core.v3.socket_option_pb2 import SocketOption
from envoy.extensions.filters.http.compressor.v3 import compressor_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as upstream_http
from google.protobuf import json_format

from contour.dag.model import Cluster as DagCluster
from contour.envoy.access_log import AccessLogSettings
from contour.envoy.clusters import PROTOCOL_OPTIONS_KEY, ClusterSettings, cluster
from contour.envoy.listener_options import ListenerOptions
from contour.envoy.translate import RUNTIME, TranslatorConfig, listeners, translate
from tests.unit.envoy.builders import (
    add_secure,
    http_dag,
    make_pki,
    rich_dag,
    route,
    service,
    upstream,
    vhost,
)
from tests.unit.envoy.envoy_validate import assert_envoy_accepts
from tests.unit.envoy.test_envoy_accepts import static_bootstrap
from tests.unit.envoy.test_listeners import secure

COMPRESSOR = "envoy.filters.http.compressor"
TYPE = "type.googleapis.com/"


def ingress(config: TranslatorConfig) -> dict[str, Any]:
    dag = add_secure(
        http_dag(vhost("www.example.com", route("/", upstream("kuard")))), secure("s.example.com")
    )
    return {item.name: item for item in listeners(dag, config) if item.name.startswith("ingress_")}


def managers(config: TranslatorConfig) -> list[Any]:
    found = []
    for listener in ingress(config).values():
        for chain in listener.filter_chains:
            manager = hcm.HttpConnectionManager()
            chain.filters[0].typed_config.Unpack(manager)
            found.append(manager)
    return found


# -- compression ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compression", "library", "library_type"),
    [
        ("gzip", "gzip", "envoy.extensions.compression.gzip.compressor.v3.Gzip"),
        ("brotli", "brotli", "envoy.extensions.compression.brotli.compressor.v3.Brotli"),
        ("zstd", "zstd", "envoy.extensions.compression.zstd.compressor.v3.Zstd"),
    ],
)
def test_compression_picks_the_compressor_library(compression: str, library: str, library_type: str) -> None:
    for manager in managers(TranslatorConfig(compression=compression)):
        (found,) = [f for f in manager.http_filters if f.name == COMPRESSOR]
        compressor = compressor_pb2.Compressor()
        found.typed_config.Unpack(compressor)
        assert compressor.compressor_library.name == library
        assert compressor.compressor_library.typed_config.type_url == TYPE + library_type


def test_disabled_compression_leaves_the_compressor_out_and_the_rest_in_order() -> None:
    for manager in managers(TranslatorConfig(compression="disabled")):
        names = [f.name for f in manager.http_filters]
        assert COMPRESSOR not in names
        assert names[-1] == "router"
        assert "envoy.filters.http.grpc_web" in names


# -- the connection manager ------------------------------------------------------------------------------


def test_connection_manager_options_are_on_every_manager() -> None:
    config = TranslatorConfig(
        max_requests_per_connection=7, http2_max_concurrent_streams=50, strip_trailing_host_dot=True
    )
    found = managers(config)
    assert len(found) == 2
    for manager in found:
        assert manager.common_http_protocol_options.max_requests_per_connection.value == 7
        assert manager.http2_protocol_options.max_concurrent_streams.value == 50
        assert manager.strip_trailing_host_dot is True


def test_connection_manager_options_are_absent_by_default() -> None:
    for manager in managers(TranslatorConfig()):
        assert not manager.common_http_protocol_options.HasField("max_requests_per_connection")
        assert not manager.HasField("http2_protocol_options")
        assert manager.strip_trailing_host_dot is False


# -- the listener message ----------------------------------------------------------------------------------

ALL_LISTENER_OPTIONS = ListenerOptions(
    per_connection_buffer_limit_bytes=32768,
    connection_balancer="exact",
    max_connections_to_accept_per_socket_event=4,
    socket_tos=64,
    socket_traffic_class=32,
)
KEEPALIVE = [(1, 9, 1), (6, 4, 45), (6, 5, 5), (6, 6, 9)]  # (level, name, value)


@pytest.mark.parametrize("name", ["ingress_http", "ingress_https"])
def test_listener_options_reach_both_listeners(name: str) -> None:
    listener = ingress(TranslatorConfig(listener_options=ALL_LISTENER_OPTIONS))[name]
    assert listener.per_connection_buffer_limit_bytes.value == 32768
    assert listener.connection_balance_config.HasField("exact_balance")
    assert listener.max_connections_to_accept_per_socket_event.value == 4
    options = [(o.level, o.name, o.int_value) for o in listener.socket_options]
    # IPPROTO_IP/IP_TOS and IPPROTO_IPV6/IPV6_TCLASS after Contour's keep-alive options
    assert options == [*KEEPALIVE, (0, 1, 64), (41, 67, 32)]
    assert {o.state for o in listener.socket_options} == {SocketOption.STATE_LISTENING}


@pytest.mark.parametrize("name", ["ingress_http", "ingress_https"])
def test_listeners_have_only_keepalive_by_default(name: str) -> None:
    listener = ingress(TranslatorConfig())[name]
    assert not listener.HasField("per_connection_buffer_limit_bytes")
    assert not listener.HasField("connection_balance_config")
    assert not listener.HasField("max_connections_to_accept_per_socket_event")
    assert [(o.level, o.name, o.int_value) for o in listener.socket_options] == KEEPALIVE


# -- runtime ---------------------------------------------------------------------------------------------


def runtime_layer(config: TranslatorConfig) -> dict[str, Any]:
    dag = add_secure(
        http_dag(vhost("www.example.com", route("/", upstream("kuard")))), secure("s.example.com")
    )
    layer: dict[str, Any] = json_format.MessageToDict(translate(dag, config)[RUNTIME][0].layer)
    return layer


def test_runtime_carries_io_cycle_and_per_listener_connection_limits() -> None:
    layer = runtime_layer(TranslatorConfig(max_requests_per_io_cycle=3, max_connections_per_listener=100))
    assert layer["http.max_requests_per_io_cycle"] == 3
    assert layer["envoy.resource_limits.listener.ingress_http.connection_limit"] == 100
    assert layer["envoy.resource_limits.listener.ingress_https.connection_limit"] == 100


def test_runtime_has_no_listener_keys_by_default() -> None:
    layer = runtime_layer(TranslatorConfig())
    assert not [k for k in layer if k.startswith(("http.max_requests", "envoy.resource_limits"))]


def test_configured_runtime_settings_do_not_override_managed_keys() -> None:
    config = TranslatorConfig(
        max_requests_per_io_cycle=3, runtime_settings={"http.max_requests_per_io_cycle": 99}
    )
    assert runtime_layer(config)["http.max_requests_per_io_cycle"] == 3


# -- clusters ------------------------------------------------------------------------------------------


def protocol_options(built: Any) -> Any:
    options = upstream_http.HttpProtocolOptions()
    built.typed_extension_protocol_options[PROTOCOL_OPTIONS_KEY].Unpack(options)
    return options


def test_cluster_buffer_limit_and_max_requests_per_connection() -> None:
    built = cluster(
        upstream("kuard"),
        ClusterSettings(max_requests_per_connection=9, per_connection_buffer_limit_bytes=4096),
    )
    assert built.per_connection_buffer_limit_bytes.value == 4096
    options = protocol_options(built)
    assert options.common_http_protocol_options.max_requests_per_connection.value == 9
    assert options.explicit_http_config.HasField("http_protocol_options")


def test_cluster_has_no_limits_by_default() -> None:
    built = cluster(upstream("kuard"), ClusterSettings())
    assert not built.HasField("per_connection_buffer_limit_bytes")
    assert not built.typed_extension_protocol_options


GLOBAL_BREAKERS = {
    "maxConnections": 11,
    "maxPendingRequests": 12,
    "maxRequests": 13,
    "maxRetries": 14,
    "perHostMaxConnections": 15,
}


def breakers(upstream_cluster: Any, defaults: dict[str, int]) -> dict[str, Any]:
    built = cluster(upstream_cluster, ClusterSettings(circuit_breakers=defaults))
    result: dict[str, Any] = json_format.MessageToDict(
        built.circuit_breakers, preserving_proto_field_name=True
    )
    return result


def test_global_circuit_breakers_apply_to_a_service_without_annotations() -> None:
    assert breakers(upstream("kuard"), GLOBAL_BREAKERS) == {
        "thresholds": [
            {"max_connections": 11, "max_pending_requests": 12, "max_requests": 13, "max_retries": 14}
        ],
        "per_host_thresholds": [{"max_connections": 15}],
    }


def test_service_annotations_win_over_global_circuit_breakers_limit_by_limit() -> None:
    annotated = DagCluster(
        upstream=replace(service("kuard"), max_connections=900, per_host_max_connections=3)
    )
    assert breakers(annotated, GLOBAL_BREAKERS) == {
        "thresholds": [
            {"max_connections": 900, "max_pending_requests": 12, "max_requests": 13, "max_retries": 14}
        ],
        "per_host_thresholds": [{"max_connections": 3}],
    }


def test_no_circuit_breakers_without_annotations_or_defaults() -> None:
    assert breakers(upstream("kuard"), {}) == {}


# -- the real Envoy --------------------------------------------------------------------------------------

EVERYTHING_ON = TranslatorConfig(
    access_log=AccessLogSettings(
        format="json",
        json_fields=("@timestamp", "method", "path=%REQ_WITHOUT_QUERY(:PATH)%", "contour_config_name"),
        level="error",
    ),
    compression="brotli",
    listener_options=ALL_LISTENER_OPTIONS,
    max_requests_per_connection=7,
    http2_max_concurrent_streams=50,
    max_requests_per_io_cycle=3,
    max_connections_per_listener=100,
    strip_trailing_host_dot=True,
    cluster_max_requests_per_connection=9,
    cluster_per_connection_buffer_limit_bytes=4096,
    circuit_breakers=GLOBAL_BREAKERS,
)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(EVERYTHING_ON, id="json-brotli-all-options"),
        pytest.param(
            TranslatorConfig(
                access_log=AccessLogSettings(
                    format_string="%REQ_WITHOUT_QUERY(:PATH)% %METADATA(ROUTE:a:b)%\n"
                ),
                compression="zstd",
            ),
            id="text-format-zstd",
        ),
        pytest.param(TranslatorConfig(compression="disabled"), id="no-compression"),
    ],
)
def test_envoy_validates_a_translation_with_the_options_on(config: TranslatorConfig, tmp_path: Path) -> None:
    resources = translate(
        rich_dag(make_pki("secure.example.com", "*.wild.example.com"), make_pki("c")), config
    )
    assert_envoy_accepts(static_bootstrap(resources), tmp_path)
