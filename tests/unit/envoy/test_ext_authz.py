"""ext_authz and extension clusters in Envoy terms: the filter, its place in the chains, the per-route
settings, the `extension/NAMESPACE/NAME` clusters `translate` emits on both of its paths, and their
ClusterLoadAssignments merged from every Service of the ExtensionService."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2

from contour.controller.endpointslices import AssignmentCache, EndpointSliceIndex
from contour.dag.model import (
    DAG,
    AuthorizationRequestBody,
    CircuitBreakers,
    ExtensionCluster,
    ExternalAuthorization,
    ObjectRef,
    RouteAuthorization,
    SecureVirtualHost,
    UpstreamValidation,
    VirtualHost,
)
from contour.envoy.endpoints import cluster_load_assignment
from contour.envoy.ext_authz import EXT_AUTHZ_FILTER, ext_authz_config, route_ext_authz
from contour.envoy.extension_clusters import extension_load_assignment
from contour.envoy.translate import CLUSTER, LISTENER, SECRET, TranslatorConfig, translate
from contour.envoy.translation_memo import Serialized, TranslationMemo

from .builders import add_secure, ca_secret, http_dag, make_pki, route, service, tls_secret, upstream, vhost

EXT = ExtensionCluster(
    name="extension/auth/authz", ref=ObjectRef("auth", "authz"), services=((service("authz", 9000), 1),)
)


def authz(**fields: Any) -> ExternalAuthorization:
    return ExternalAuthorization(cluster=fields.pop("cluster", EXT), **fields)


# -- the filter ----------------------------------------------------------------------------------------


def test_a_grpc_server_is_reached_over_envoys_grpc_client() -> None:
    config = ext_authz_config(authz(fail_open=True, response_timeout_seconds=0.5))
    assert config.grpc_service.envoy_grpc.cluster_name == "extension/auth/authz"
    assert config.grpc_service.timeout.ToMilliseconds() == 500
    assert (config.failure_mode_allow, config.clear_route_cache, config.include_peer_certificate) == (
        True,
        True,
        True,
    )
    assert config.status_on_error.code == 403
    assert not config.HasField("http_service")


def test_the_grpc_authority_is_the_validated_sni() -> None:
    tls_cluster = ExtensionCluster(name="extension/auth/authz", ref=EXT.ref, sni="auth.example.com")
    assert (
        ext_authz_config(authz(cluster=tls_cluster)).grpc_service.envoy_grpc.authority == "auth.example.com"
    )


def test_an_unset_timeout_leaves_envoys_default() -> None:
    assert not ext_authz_config(authz()).grpc_service.HasField("timeout")


def test_with_request_body_is_buffer_settings() -> None:
    body = AuthorizationRequestBody(max_request_bytes=64, allow_partial_message=True, pack_as_bytes=True)
    settings = ext_authz_config(authz(request_body=body)).with_request_body
    assert (settings.max_request_bytes, settings.allow_partial_message, settings.pack_as_bytes) == (
        64,
        True,
        True,
    )


def test_an_http_server_gets_an_http_service() -> None:
    config = ext_authz_config(
        authz(
            service_type="http",
            http_path_prefix="/check",
            allowed_authorization_headers=("x-allow",),
            allowed_upstream_headers=("x-user",),
        )
    )
    http = config.http_service
    assert (http.server_uri.cluster, http.path_prefix, http.server_uri.timeout.ToMilliseconds()) == (
        "extension/auth/authz",
        "/check",
        200,
    )
    assert [p.exact for p in config.allowed_headers.patterns] == ["x-allow"]
    assert [p.exact for p in http.authorization_response.allowed_upstream_headers.patterns] == ["x-user"]
    assert not config.HasField("grpc_service")


# -- per route ------------------------------------------------------------------------------------------

PER_ROUTE_CASES: list[tuple[str, RouteAuthorization | None, bool, bool, Any]] = [
    ("no-server", None, True, False, None),
    (
        "disabled",
        RouteAuthorization(disabled=True),
        True,
        False,
        ext_authz_pb2.ExtAuthzPerRoute(disabled=True),
    ),
    (
        "context",
        RouteAuthorization(context=(("a", "1"),)),
        True,
        False,
        ext_authz_pb2.ExtAuthzPerRoute(
            check_settings=ext_authz_pb2.CheckSettings(context_extensions={"a": "1"})
        ),
    ),
    ("enabled-no-context", RouteAuthorization(), True, False, None),
    (
        "https-redirect-copy",
        RouteAuthorization(context=(("a", "1"),)),
        False,
        True,
        ext_authz_pb2.ExtAuthzPerRoute(disabled=True),
    ),
    (
        "secure-side-of-a-redirected-route",
        RouteAuthorization(),
        True,
        True,
        None,
    ),
]


@pytest.mark.parametrize(
    ("authorization", "secure", "https_upgrade", "expected"),
    [c[1:] for c in PER_ROUTE_CASES],
    ids=[c[0] for c in PER_ROUTE_CASES],
)
def test_per_route_settings(
    authorization: RouteAuthorization | None, secure: bool, https_upgrade: bool, expected: Any
) -> None:
    r = route("/", upstream("app"), authorization=authorization, https_upgrade=https_upgrade)
    assert route_ext_authz(r, secure=secure) == expected


# -- chains and clusters through translate ---------------------------------------------------------------


def secure_dag(auth: ExternalAuthorization | None, extensions: tuple[ExtensionCluster, ...] = (EXT,)) -> DAG:
    pki = make_pki("app.example.com")
    host = VirtualHost(name="app.example.com")
    host.add_route(route("/", upstream("app"), authorization=RouteAuthorization(context=(("k", "v"),))))
    svh = SecureVirtualHost(virtual_host=host, secret=tls_secret(pki), external_authorization=auth)
    dag = add_secure(http_dag(vhost("plain.example.com", route("/", upstream("app")))), svh)
    dag.extension_clusters = {e.name: e for e in extensions}
    return dag


def _chain_filters(listener: Any) -> list[str]:
    manager = hcm.HttpConnectionManager()
    listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
    return [f.name for f in manager.http_filters]


def _listener(resources: dict[str, list[Any]], name: str) -> Any:
    found = [m for m in resources[LISTENER] if m.name == name]
    assert len(found) == 1
    message = listener_pb2.Listener()
    message.CopyFrom(found[0])
    return message


def test_a_secure_host_with_a_server_has_ext_authz_before_the_router() -> None:
    resources = translate(secure_dag(authz()), TranslatorConfig())
    names = _chain_filters(_listener(resources, "ingress_https"))
    assert names[-2:] == [EXT_AUTHZ_FILTER, "router"]


def test_a_secure_host_without_a_server_has_no_ext_authz() -> None:
    resources = translate(secure_dag(None), TranslatorConfig())
    assert EXT_AUTHZ_FILTER not in _chain_filters(_listener(resources, "ingress_https"))


def test_the_plain_listener_gets_the_global_server() -> None:
    dag = secure_dag(None)
    dag.listeners["ingress_http"].external_authorization = authz()
    names = _chain_filters(_listener(translate(dag, TranslatorConfig()), "ingress_http"))
    assert names[-2:] == [EXT_AUTHZ_FILTER, "router"]


def _cluster(resources: dict[str, list[Any]], name: str) -> Any:
    found = [m for m in resources[CLUSTER] if m.name == name]
    assert len(found) == 1, [m.name for m in resources[CLUSTER]]
    message = cluster_pb2.Cluster()
    message.CopyFrom(found[0])
    return message


def _protocol_options(cluster: Any) -> Any:
    options = http_protocol_options_pb2.HttpProtocolOptions()
    cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].Unpack(
        options
    )
    return options


def test_an_extension_cluster_is_an_eds_cluster_on_its_services_endpoints() -> None:
    cluster = _cluster(translate(secure_dag(authz()), TranslatorConfig()), "extension/auth/authz")
    assert cluster.type == cluster_pb2.Cluster.EDS
    assert cluster.eds_cluster_config.service_name == "extension/auth/authz"  # its merged assignment
    assert cluster.alt_stat_name == ""


def test_the_clusters_are_sorted_by_name() -> None:
    names = [m.name for m in translate(secure_dag(authz()), TranslatorConfig())[CLUSTER]]
    assert names == sorted(names)


def test_h2_is_http2_over_tls_with_alpn() -> None:
    ext = ExtensionCluster(name="extension/auth/authz", ref=EXT.ref, services=EXT.services, protocol="h2")
    cluster = _cluster(translate(secure_dag(authz(cluster=ext), (ext,)), TranslatorConfig()), ext.name)
    context = tls_pb2.UpstreamTlsContext()
    cluster.transport_socket.typed_config.Unpack(context)
    assert list(context.common_tls_context.alpn_protocols) == ["h2"]
    assert _protocol_options(cluster).explicit_http_config.HasField("http2_protocol_options")


def test_h2_with_validation_checks_the_ca_and_sends_the_sni() -> None:
    pki = make_pki("auth.example.com")
    ext = ExtensionCluster(
        name="extension/auth/authz",
        ref=EXT.ref,
        services=EXT.services,
        upstream_validation=UpstreamValidation(ca_secret(pki), ("auth.example.com",)),
        sni="auth.example.com",
    )
    cluster = _cluster(translate(secure_dag(authz(cluster=ext), (ext,)), TranslatorConfig()), ext.name)
    context = tls_pb2.UpstreamTlsContext()
    cluster.transport_socket.typed_config.Unpack(context)
    assert context.sni == "auth.example.com"
    assert context.common_tls_context.validation_context.trusted_ca.inline_bytes == pki.ca


def test_h2c_is_cleartext_http2() -> None:
    ext = ExtensionCluster(name="extension/auth/authz", ref=EXT.ref, services=EXT.services, protocol="h2c")
    cluster = _cluster(translate(secure_dag(authz(cluster=ext), (ext,)), TranslatorConfig()), ext.name)
    assert not cluster.HasField("transport_socket")
    assert _protocol_options(cluster).explicit_http_config.HasField("http2_protocol_options")


def test_http1_has_no_protocol_options() -> None:
    ext = ExtensionCluster(
        name="extension/auth/authz", ref=EXT.ref, services=EXT.services, protocol="http/1.1"
    )
    cluster = _cluster(translate(secure_dag(authz(cluster=ext), (ext,)), TranslatorConfig()), ext.name)
    assert not cluster.HasField("transport_socket")
    assert not cluster.typed_extension_protocol_options


def test_load_balancing_idle_timeout_and_circuit_breakers() -> None:
    ext = ExtensionCluster(
        name="extension/auth/authz",
        ref=EXT.ref,
        services=EXT.services,
        protocol="h2c",
        load_balancer_strategy="Random",
        idle_connection_timeout_seconds=30.0,
        circuit_breakers=CircuitBreakers(max_requests=9, per_host_max_connections=2),
    )
    cluster = _cluster(translate(secure_dag(authz(cluster=ext), (ext,)), TranslatorConfig()), ext.name)
    assert cluster.lb_policy == cluster_pb2.Cluster.RANDOM
    assert _protocol_options(cluster).common_http_protocol_options.idle_timeout.seconds == 30
    assert cluster.circuit_breakers.thresholds[0].max_requests.value == 9
    assert not cluster.circuit_breakers.thresholds[0].HasField("max_connections")
    assert cluster.circuit_breakers.per_host_thresholds[0].max_connections.value == 2


def test_an_extension_without_services_emits_no_cluster() -> None:
    empty = ExtensionCluster(name="extension/auth/empty", ref=ObjectRef("auth", "empty"))
    resources = translate(secure_dag(None, (empty,)), TranslatorConfig())
    assert "extension/auth/empty" not in [m.name for m in resources[CLUSTER]]


def test_the_client_certificate_of_an_h2_extension_is_served_over_sds() -> None:
    pki = make_pki("envoy-client")
    certificate = tls_secret(pki, "envoy-client", "projectcontour")
    ext = ExtensionCluster(
        name="extension/auth/authz", ref=EXT.ref, services=EXT.services, client_certificate=certificate
    )
    resources = translate(secure_dag(None, (ext,)), TranslatorConfig())
    assert any(str(s.name).startswith("projectcontour/envoy-client/") for s in resources[SECRET])


def _bytes(resources: dict[str, list[Any]]) -> dict[str, list[tuple[str, bytes]]]:
    out: dict[str, list[tuple[str, bytes]]] = {}
    for type_url, messages in resources.items():
        out[type_url] = [
            (str(m.name), m.data if isinstance(m, Serialized) else m.SerializeToString(deterministic=True))
            for m in messages
        ]
    return out


def test_both_translation_paths_emit_the_same_bytes() -> None:
    dag = secure_dag(authz(request_body=AuthorizationRequestBody()))
    dag.listeners["ingress_http"].external_authorization = authz()
    memo = TranslationMemo()
    assert _bytes(translate(dag, TranslatorConfig(), memo)) == _bytes(translate(dag, TranslatorConfig()))


# -- the merged assignment of an extension cluster -----------------------------------------------------


def endpoint_slice(service_name: str, *addresses: str, port: int = 9000, name: str = "") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name or f"{service_name}-1",
            "namespace": "auth",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
    }


def _localities(assignment: Any) -> list[tuple[list[str], int | None]]:
    return [
        (
            [e.endpoint.address.socket_address.address for e in locality.lb_endpoints],
            locality.load_balancing_weight.value if locality.HasField("load_balancing_weight") else None,
        )
        for locality in assignment.endpoints
    ]


def _part(*addresses: str, weight: int) -> tuple[Any, int]:
    slices = [endpoint_slice("s", *addresses)] if addresses else []
    return cluster_load_assignment("auth/s/http", slices, service("s", 9000).port), weight


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(
            [_part("10.0.0.1", weight=0), _part("10.0.0.2", "10.0.0.3", weight=0)],
            [(["10.0.0.1"], 1), (["10.0.0.2", "10.0.0.3"], 1)],
            id="no-weights-all-one",
        ),
        pytest.param(
            [_part("10.0.0.1", weight=3), _part("10.0.0.2", weight=1)],
            [(["10.0.0.1"], 3), (["10.0.0.2"], 1)],
            id="weights-kept",
        ),
        pytest.param(
            [_part("10.0.0.1", weight=5), _part("10.0.0.2", weight=0)],
            [(["10.0.0.1"], 5), (["10.0.0.2"], None)],
            id="zero-weight-unweighted",
        ),
        pytest.param(
            [_part(weight=2), _part("10.0.0.2", weight=1)],
            [(["10.0.0.2"], 1)],
            id="service-without-endpoints-left-out",
        ),
        pytest.param([], [], id="no-services"),
    ],
)
def test_extension_assignment_has_a_locality_per_service(
    parts: list[tuple[Any, int]], expected: list[tuple[list[str], int | None]]
) -> None:
    merged = extension_load_assignment("extension/auth/authz", parts)
    assert merged.cluster_name == "extension/auth/authz"
    assert _localities(merged) == expected


TWO = ExtensionCluster(
    name="extension/auth/two",
    ref=ObjectRef("auth", "two"),
    services=(
        (service("a", 9000, namespace="auth"), 0),
        (service("b", 9000, namespace="auth"), 0),
    ),
)


def test_assignment_cache_merges_the_services_and_follows_their_slices() -> None:
    index = EndpointSliceIndex()
    cache = AssignmentCache(index, cluster_load_assignment)
    index.upsert(endpoint_slice("a", "10.0.0.1"))
    index.upsert(endpoint_slice("b", "10.0.0.2"))
    [first] = cache.for_extensions({TWO.name: TWO}, extension_load_assignment)
    assert _localities(first) == [(["10.0.0.1"], 1), (["10.0.0.2"], 1)]
    assert cache.for_extensions({TWO.name: TWO}, extension_load_assignment) == [first]
    assert cache.for_extensions({TWO.name: TWO}, extension_load_assignment)[0] is first  # reused
    touched = index.upsert(endpoint_slice("b", "10.0.0.2", "10.0.0.3"))
    [changed] = cache.for_extensions({TWO.name: TWO}, extension_load_assignment, touched)
    assert _localities(changed) == [(["10.0.0.1"], 1), (["10.0.0.2", "10.0.0.3"], 1)]


def test_assignment_cache_updates_only_extensions_using_a_touched_service() -> None:
    index = EndpointSliceIndex()
    cache = AssignmentCache(index, cluster_load_assignment)
    touched = index.upsert(endpoint_slice("other", "10.0.0.9"))
    assert cache.for_extensions({TWO.name: TWO}, extension_load_assignment, touched) == []
