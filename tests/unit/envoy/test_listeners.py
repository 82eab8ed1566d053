"""Listeners: the plain HCM, one SNI filter chain per secure host with its 421 filter and TLS
settings, the filter order, client validation, and the stats/health listener."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.extensions.filters.http.lua.v3 import lua_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf import json_format

from contour.dag.model import DownstreamValidation, SecureVirtualHost
from contour.envoy.translate import TranslatorConfig, listeners
from tests.unit.envoy.builders import (
    add_secure,
    ca_secret,
    crl_secret,
    http_dag,
    make_pki,
    route,
    tls_secret,
    upstream,
    vhost,
)

PKI = make_pki("secure.example.com")


def by_name(config: TranslatorConfig | None = None, *hosts: SecureVirtualHost) -> dict[str, Any]:
    dag = add_secure(http_dag(vhost("www.example.com", route("/", upstream("kuard")))), *hosts)
    return {item.name: item for item in listeners(dag, config or TranslatorConfig())}


def manager(chain: Any) -> Any:
    result = hcm.HttpConnectionManager()
    chain.filters[0].typed_config.Unpack(result)
    return result


def tls_context(chain: Any) -> Any:
    result = tls_pb2.DownstreamTlsContext()
    chain.transport_socket.typed_config.Unpack(result)
    return result


def secure(name: str, **options: Any) -> SecureVirtualHost:
    return SecureVirtualHost(
        virtual_host=vhost(name, route("/", upstream("kuard"))), secret=tls_secret(PKI), **options
    )


def test_listener_names() -> None:
    assert sorted(by_name(None, secure("secure.example.com"))) == [
        "ingress_http",
        "ingress_https",
        "stats-health",
    ]


def test_https_listener_omitted_without_secure_hosts() -> None:
    assert "ingress_https" not in by_name()


def test_http_connection_manager_defaults() -> None:
    http = by_name()["ingress_http"]
    assert json_format.MessageToDict(http.address) == {
        "socketAddress": {"address": "0.0.0.0", "portValue": 8080}
    }
    built = json_format.MessageToDict(manager(http.filter_chains[0]), preserving_proto_field_name=True)
    filters = built.pop("http_filters")
    assert [f["name"] for f in filters] == [
        "envoy.filters.http.compressor",
        "envoy.filters.http.grpc_web",
        "envoy.filters.http.grpc_stats",
        "envoy.filters.http.cors",
        "envoy.filters.http.local_ratelimit",
        "envoy.filters.http.lua",
        "envoy.filters.http.rbac",
        "router",
    ]
    assert filters[-1]["typed_config"] == {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
    }
    built.pop("access_log")
    assert built == {
        "stat_prefix": "ingress_http",
        "rds": {
            "route_config_name": "ingress_http",
            "config_source": {
                "api_config_source": {
                    "api_type": "GRPC",
                    "transport_api_version": "V3",
                    "grpc_services": [{"envoy_grpc": {"cluster_name": "contour"}}],
                },
                "resource_api_version": "V3",
            },
        },
        "common_http_protocol_options": {"idle_timeout": "60s"},
        "http_protocol_options": {"accept_http_10": True, "allow_chunked_length": True},
        "use_remote_address": True,
        "normalize_path": True,
        "preserve_external_request_id": True,
        "merge_slashes": True,
    }


def test_config_reaches_the_connection_manager() -> None:
    config = TranslatorConfig(
        xff_num_trusted_hops=2,
        merge_slashes=False,
        server_header_transformation="pass_through",
        request_timeout_seconds=0,
        connection_idle_timeout_seconds=None,
        stream_idle_timeout_seconds=300,
        http_access_log="",
    )
    built = manager(by_name(config)["ingress_http"].filter_chains[0])
    assert (built.xff_num_trusted_hops, built.merge_slashes) == (2, False)
    assert built.server_header_transformation == hcm.HttpConnectionManager.PASS_THROUGH
    assert built.HasField("request_timeout") and built.request_timeout.ToSeconds() == 0
    assert built.stream_idle_timeout.ToSeconds() == 300
    assert not built.common_http_protocol_options.HasField("idle_timeout")
    assert list(built.access_log) == []


def test_one_filter_chain_per_sni_sorted_with_catch_all_last() -> None:
    https = by_name(None, secure("b.example.com"), secure("*"), secure("a.example.com"))["ingress_https"]
    matches = [json_format.MessageToDict(c.filter_chain_match) for c in https.filter_chains]
    assert matches == [
        {"serverNames": ["a.example.com"]},
        {"serverNames": ["b.example.com"]},
        {"transportProtocol": "tls"},
    ]
    assert [f.name for f in https.listener_filters] == ["envoy.filters.listener.tls_inspector"]


def test_secure_chain_has_its_own_route_config_and_the_421_filter_first() -> None:
    chain = by_name(None, secure("Secure.example.com"))["ingress_https"].filter_chains[0]
    built = manager(chain)
    assert built.rds.route_config_name == "https/Secure.example.com"
    assert built.stat_prefix == "ingress_https"
    assert [f.name for f in built.http_filters][:2] == [
        "envoy.filters.http.lua",
        "envoy.filters.http.compressor",
    ]
    assert built.http_filters[-1].name == "router"
    lua = lua_pb2.Lua()
    built.http_filters[0].typed_config.Unpack(lua)
    assert 'local expected = "secure.example.com"' in lua.default_source_code.inline_string
    assert '"421"' in lua.default_source_code.inline_string


def test_wildcard_chain_compares_with_the_requested_server_name() -> None:
    chain = by_name(None, secure("*.example.com"))["ingress_https"].filter_chains[0]
    lua = lua_pb2.Lua()
    manager(chain).http_filters[0].typed_config.Unpack(lua)
    assert "requestedServerName()" in lua.default_source_code.inline_string


@pytest.mark.parametrize(
    ("host_versions", "expected"),
    [
        ({}, ("TLSv1_2", "TLSv1_3")),
        ({"min_tls_version": "1.3"}, ("TLSv1_3", "TLSv1_3")),
        ({"max_tls_version": "1.2"}, ("TLSv1_2", "TLSv1_2")),
    ],
    ids=["defaults", "minimum-1.3", "maximum-1.2"],
)
def test_tls_versions(host_versions: dict[str, str], expected: tuple[str, str]) -> None:
    context = tls_context(
        by_name(None, secure("secure.example.com", **host_versions))["ingress_https"].filter_chains[0]
    )
    params = json_format.MessageToDict(context.common_tls_context.tls_params)
    assert (params["tlsMinimumProtocolVersion"], params["tlsMaximumProtocolVersion"]) == expected
    assert list(context.common_tls_context.alpn_protocols) == ["h2", "http/1.1"]
    assert context.common_tls_context.tls_certificate_sds_secret_configs[0].name.startswith("default/tls/")


def test_client_validation_with_crl_and_forwarded_certificate() -> None:
    client = make_pki("client")
    validation = DownstreamValidation(
        ca=ca_secret(client),
        crl=crl_secret(client),
        only_verify_leaf_cert_crl=True,
        forward_client_certificate=("subject", "uri"),
    )
    chain = by_name(None, secure("secure.example.com", downstream_validation=validation))[
        "ingress_https"
    ].filter_chains[0]
    context = tls_context(chain)
    checks = context.common_tls_context.validation_context
    assert (checks.trusted_ca.inline_bytes, checks.crl.inline_bytes) == (client.ca, client.crl)
    assert checks.only_verify_leaf_cert_crl is True
    assert context.require_client_certificate.value is True
    built = manager(chain)
    assert built.forward_client_cert_details == hcm.HttpConnectionManager.SANITIZE_SET
    assert json_format.MessageToDict(built.set_current_client_cert_details) == {"subject": True, "uri": True}


@pytest.mark.parametrize(
    ("validation", "trust", "required"),
    [
        (DownstreamValidation(skip_client_cert_validation=True), "ACCEPT_UNTRUSTED", True),
        (
            DownstreamValidation(ca=ca_secret(PKI), optional_client_certificate=True),
            "VERIFY_TRUST_CHAIN",
            False,
        ),
    ],
    ids=["skip", "optional"],
)
def test_client_validation_modes(validation: DownstreamValidation, trust: str, required: bool) -> None:
    context = tls_context(
        by_name(None, secure("s.example.com", downstream_validation=validation))[
            "ingress_https"
        ].filter_chains[0]
    )
    checks = json_format.MessageToDict(context.common_tls_context.validation_context)
    assert checks.get("trustChainVerification", "VERIFY_TRUST_CHAIN") == trust
    assert context.require_client_certificate.value is required


def test_secure_host_without_routes_still_completes_the_handshake() -> None:
    # The HTTPProxy build prunes such hosts; a Gateway's HTTPS listener keeps one to answer 404.
    empty = SecureVirtualHost(virtual_host=vhost("empty.example.com"), secret=tls_secret(PKI))
    [chain] = by_name(None, empty)["ingress_https"].filter_chains
    assert list(chain.filter_chain_match.server_names) == ["empty.example.com"]
    assert chain.HasField("transport_socket")


def test_secure_host_without_certificate_gets_no_chain() -> None:
    empty = SecureVirtualHost(virtual_host=vhost("empty.example.com", route("/", upstream("a"))))
    assert "ingress_https" not in by_name(None, empty)


def test_passthrough_host_is_a_tcp_proxy_without_tls() -> None:
    host = SecureVirtualHost(virtual_host=vhost("pass.example.com"), tcp_proxy=[upstream("backend", 443)])
    chain = by_name(None, host)["ingress_https"].filter_chains[0]
    assert chain.filters[0].name == "envoy.filters.network.tcp_proxy"
    assert not chain.HasField("transport_socket")


def test_fallback_certificate_chain_goes_last() -> None:
    host = secure("secure.example.com", fallback_certificate=tls_secret(PKI, "fallback", "projectcontour"))
    chains = by_name(None, host)["ingress_https"].filter_chains
    assert [c.name for c in chains] == ["", "fallback-certificate"]
    assert manager(chains[1]).rds.route_config_name == "ingress_fallbackcert"


def test_stats_health_listener_proxies_ready_and_stats_to_the_admin_cluster() -> None:
    stats = by_name(TranslatorConfig(stats_port=18002))["stats-health"]
    assert stats.address.socket_address.port_value == 18002
    built = manager(stats.filter_chains[0])
    routes = built.route_config.virtual_hosts[0].routes
    assert [(r.match.path, r.route.cluster) for r in routes] == [
        ("/ready", "envoy-admin"),
        ("/stats", "envoy-admin"),
        ("/stats/prometheus", "envoy-admin"),
    ]
    assert [o.int_value for o in stats.socket_options] == [1, 45, 5, 9]


def test_stats_listener_can_be_left_out() -> None:
    assert "stats-health" not in by_name(TranslatorConfig(stats_port=0))
