"""translate(): the resource types, sorted names, determinism, and what goes to SDS and RTDS."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from contour.dag.model import MirrorPolicy, SecureVirtualHost
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, RUNTIME, SECRET, TranslatorConfig, translate
from tests.unit.envoy.builders import (
    Pki,
    add_secure,
    http_dag,
    make_pki,
    rich_dag,
    route,
    tls_secret,
    upstream,
    vhost,
)


@pytest.fixture(scope="module")
def pkis() -> tuple[Pki, Pki]:
    return make_pki("secure.example.com", "*.wild.example.com"), make_pki("client")


def serialised(resources: dict[str, list[Any]]) -> dict[str, list[bytes]]:
    return {k: [m.SerializeToString(deterministic=True) for m in v] for k, v in resources.items()}


def test_type_urls_are_envoys() -> None:
    assert sorted(translate(http_dag(), TranslatorConfig())) == sorted(
        [
            "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            "type.googleapis.com/envoy.config.listener.v3.Listener",
            "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
            "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
            "type.googleapis.com/envoy.service.runtime.v3.Runtime",
        ]
    )


def test_empty_dag_still_has_the_http_route_config_stats_listener_and_runtime() -> None:
    resources = translate(http_dag(), TranslatorConfig())
    assert [r.name for r in resources[ROUTE]] == ["ingress_http"]
    assert [r.name for r in resources[LISTENER]] == ["stats-health"]
    assert resources[CLUSTER] == [] and resources[SECRET] == []
    runtime = resources[RUNTIME][0]
    assert runtime.name == "dynamic"
    assert dict(runtime.layer) == {
        "re2.max_program_size.error_level": 1048576,
        "re2.max_program_size.warn_level": 1000,
    }


def test_runtime_settings_are_added() -> None:
    runtime = translate(http_dag(), TranslatorConfig(runtime_settings={"overload.x": 1}))[RUNTIME][0]
    assert runtime.layer["overload.x"] == 1


@pytest.mark.parametrize("type_url", [CLUSTER, LISTENER, ROUTE, SECRET], ids=["cds", "lds", "rds", "sds"])
def test_every_list_is_sorted_by_name(pkis: tuple[Pki, Pki], type_url: str) -> None:
    names = [m.name for m in translate(rich_dag(*pkis), TranslatorConfig())[type_url]]
    assert names == sorted(names) and len(names) == len(set(names))


def test_identical_input_gives_identical_bytes(pkis: tuple[Pki, Pki]) -> None:
    assert serialised(translate(rich_dag(*pkis), TranslatorConfig())) == serialised(
        translate(rich_dag(*pkis), TranslatorConfig())
    )


def test_insertion_order_does_not_change_the_output() -> None:
    routes = [route("/a", upstream("a")), route("/b", upstream("b")), route("/", upstream("c"))]
    forward = http_dag(vhost("x.com", *routes), vhost("y.com", route("/", upstream("d"))))
    backward = http_dag(vhost("y.com", route("/", upstream("d"))), vhost("x.com", *reversed(routes)))
    assert serialised(translate(forward, TranslatorConfig())) == serialised(
        translate(backward, TranslatorConfig())
    )


def test_clusters_include_mirrors_once() -> None:
    shared = upstream("kuard")
    dag = http_dag(
        vhost("x.com", route("/", shared, mirror_policies=[MirrorPolicy(upstream("shadow"), 10)])),
        vhost("y.com", route("/", shared)),
    )
    assert [c.name for c in translate(dag, TranslatorConfig())[CLUSTER]] == [
        "default/kuard/80/da39a3ee5e",
        "default/shadow/80/da39a3ee5e",
    ]


def test_sds_carries_certificates_only(pkis: tuple[Pki, Pki]) -> None:
    secrets = translate(rich_dag(*pkis), TranslatorConfig())[SECRET]
    assert {s.name.split("/")[1] for s in secrets} == {"tls", "fallback", "envoy-client"}
    assert all(s.HasField("tls_certificate") for s in secrets)


def test_listeners_reference_only_route_configs_and_secrets_that_exist(pkis: tuple[Pki, Pki]) -> None:
    resources = translate(rich_dag(*pkis), TranslatorConfig())
    routes, secrets = {r.name for r in resources[ROUTE]}, {s.name for s in resources[SECRET]}
    for listener in resources[LISTENER]:
        for chain in listener.filter_chains:
            manager = hcm.HttpConnectionManager()
            if chain.filters[0].typed_config.Unpack(manager) and manager.HasField("rds"):
                assert manager.rds.route_config_name in routes
            if chain.HasField("transport_socket"):
                context = tls_pb2.DownstreamTlsContext()
                chain.transport_socket.typed_config.Unpack(context)
                assert {
                    c.name for c in context.common_tls_context.tls_certificate_sds_secret_configs
                } <= secrets


def test_secure_host_route_config_is_named_after_the_host(pkis: tuple[Pki, Pki]) -> None:
    dag = add_secure(
        http_dag(),
        SecureVirtualHost(
            virtual_host=vhost("a.example.com", route("/", upstream("kuard"))), secret=tls_secret(pkis[0])
        ),
    )
    assert [r.name for r in translate(dag, TranslatorConfig())[ROUTE]] == [
        "https/a.example.com",
        "ingress_http",
    ]
