"""The real Envoy accepts what the translator builds for a DAG using nearly every feature.

The resources go into a static bootstrap (RDS inlined as `route_config`, EDS clusters made STATIC with
loopback endpoints, SDS references pointing at static secrets, RTDS as a static runtime layer) and
`envoy --mode validate` must pass. Over xDS the same messages are served unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.regex_engines.v3 import google_re2_pb2 as regex_engine_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf import json_format

from contour.dag.model import ServicePort
from contour.envoy.bootstrap import ADMIN_CLUSTER_NAME
from contour.envoy.core import pack
from contour.envoy.endpoints import cluster_load_assignment
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, RUNTIME, SECRET, TranslatorConfig, translate
from tests.unit.envoy.builders import make_pki, rich_dag
from tests.unit.envoy.envoy_validate import assert_envoy_accepts

HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)


def _static_listener(listener: Any, routes: dict[str, Any]) -> Any:
    result = listener_pb2.Listener()
    result.CopyFrom(listener)
    result.address.socket_address.address = "127.0.0.1"
    result.address.socket_address.port_value = 0
    for chain in result.filter_chains:
        for network_filter in chain.filters:
            if network_filter.typed_config.type_url != HCM_TYPE:
                continue
            manager = hcm.HttpConnectionManager()
            network_filter.typed_config.Unpack(manager)
            if manager.HasField("rds"):
                manager.route_config.CopyFrom(routes[manager.rds.route_config_name])
            network_filter.typed_config.CopyFrom(pack(manager))
        if chain.HasField("transport_socket"):
            context = tls_pb2.DownstreamTlsContext()
            chain.transport_socket.typed_config.Unpack(context)
            for sds in context.common_tls_context.tls_certificate_sds_secret_configs:
                sds.ClearField("sds_config")
            chain.transport_socket.typed_config.CopyFrom(pack(context))
    return result


def _static_cluster(cluster: Any) -> Any:
    result = cluster_pb2.Cluster()
    result.CopyFrom(cluster)
    if result.type == cluster_pb2.Cluster.EDS:
        name = result.eds_cluster_config.service_name
        result.ClearField("eds_cluster_config")
        result.type = cluster_pb2.Cluster.STATIC
        slices = [{"endpoints": [{"addresses": ["127.0.0.1"]}], "ports": [{"name": "http", "port": 18080}]}]
        result.load_assignment.CopyFrom(cluster_load_assignment(name, slices, ServicePort("http", 80)))
        result.load_assignment.cluster_name = result.name
    if result.HasField("transport_socket"):
        context = tls_pb2.UpstreamTlsContext()
        result.transport_socket.typed_config.Unpack(context)
        for sds in context.common_tls_context.tls_certificate_sds_secret_configs:
            sds.ClearField("sds_config")
        result.transport_socket.typed_config.CopyFrom(pack(context))
    return result


def static_bootstrap(resources: dict[str, list[Any]]) -> dict[str, Any]:
    routes = {r.name: r for r in resources[ROUTE]}
    bootstrap = bootstrap_pb2.Bootstrap()
    bootstrap.node.id = "validate"
    bootstrap.node.cluster = "validate"
    bootstrap.static_resources.listeners.extend(
        _static_listener(item, routes) for item in resources[LISTENER]
    )
    bootstrap.static_resources.clusters.extend(_static_cluster(item) for item in resources[CLUSTER])
    admin = cluster_pb2.Cluster(name=ADMIN_CLUSTER_NAME, type=cluster_pb2.Cluster.STATIC)
    admin.connect_timeout.FromMilliseconds(250)
    admin.load_assignment.CopyFrom(cluster_load_assignment(ADMIN_CLUSTER_NAME, [], ServicePort("", 0)))
    bootstrap.static_resources.clusters.append(admin)
    bootstrap.static_resources.secrets.extend(resources[SECRET])
    for layer in resources[RUNTIME]:
        bootstrap.layered_runtime.layers.add(name=layer.name).static_layer.CopyFrom(layer.layer)
    bootstrap.admin.address.socket_address.address = "127.0.0.1"
    bootstrap.admin.address.socket_address.port_value = 0
    bootstrap.default_regex_engine.name = "envoy.regex_engines.google_re2"
    bootstrap.default_regex_engine.typed_config.CopyFrom(pack(regex_engine_pb2.GoogleRE2()))
    document: dict[str, Any] = json_format.MessageToDict(bootstrap, preserving_proto_field_name=True)
    return document


@pytest.fixture(scope="module")
def resources() -> dict[str, list[Any]]:
    return translate(
        rich_dag(make_pki("secure.example.com", "*.wild.example.com"), make_pki("client")), TranslatorConfig()
    )


def test_rich_dag_uses_every_resource_type(resources: dict[str, list[Any]]) -> None:
    assert {k: len(v) > 0 for k, v in resources.items()} == dict.fromkeys(
        (CLUSTER, LISTENER, ROUTE, SECRET, RUNTIME), True
    )


def test_envoy_validates_the_translation(resources: dict[str, list[Any]], tmp_path: Path) -> None:
    assert_envoy_accepts(static_bootstrap(resources), tmp_path)
