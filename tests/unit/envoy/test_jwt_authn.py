"""JWT verification in Envoy: the jwt_authn filter of secure hosts, per-route requirements, and the
remote JWKS clusters, in both translation paths; and the real Envoy accepts the result, and loads exactly
the local key sets the DAG accepts."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf import json_format

from contour.dag.httpproxy_jwt import usable_jwks
from contour.dag.model import (
    DAG,
    DNSNameCluster,
    IPFilterRule,
    JWTProvider,
    SecureVirtualHost,
    UpstreamValidation,
)
from contour.envoy.clusters import ClusterSettings
from contour.envoy.jwt_authn import (
    JWT_AUTHN_FILTER,
    dns_name_cluster,
    jwt_authn_config,
    route_jwt_requirement,
)
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, TranslatorConfig, translate
from contour.envoy.translation_memo import Serialized, TranslationMemo
from tests.unit.dag.test_jwt import KEY_SETS
from tests.unit.envoy.builders import (
    add_secure,
    ca_secret,
    http_dag,
    make_pki,
    route,
    tls_secret,
    upstream,
    vhost,
)
from tests.unit.envoy.envoy_validate import assert_envoy_accepts, envoy_validate
from tests.unit.envoy.test_envoy_accepts import static_bootstrap

PKI = make_pki("secure.example.com")
REMOTE = JWTProvider(
    name="remote",
    issuer="https://issuer.example.com",
    audiences=("api",),
    forward_jwt=True,
    remote_jwks_uri="https://jwks.example.com:8443/keys",
    remote_jwks_timeout_seconds=2.5,
    remote_jwks_cache_duration_seconds=60.0,
    remote_jwks_cluster=DNSNameCluster(
        "jwks.example.com",
        "https",
        8443,
        "v4",
        UpstreamValidation(ca_secret(PKI), ("jwks.example.com",)),
    ),
)
PLAIN = JWTProvider(
    name="plain",
    remote_jwks_uri="http://keys.local/jwks",
    remote_jwks_cluster=DNSNameCluster("keys.local", "http", 80),
)


def _ec_jwks() -> str:
    """A JWKS with one P-256 public key (Envoy refuses a local JWKS without a usable key)."""
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

    key = {"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "k1", "x": b64(numbers.x), "y": b64(numbers.y)}
    return json.dumps({"keys": [key]})


LOCAL = JWTProvider(name="local", local_jwks=_ec_jwks())


def as_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def jwt_dag() -> DAG:
    secure_routes = vhost(
        "secure.example.com",
        route("/", upstream("kuard"), jwt_provider="remote"),
        route("/plain", upstream("kuard"), jwt_provider="plain"),
        route(
            "/open", upstream("kuard"), ip_filter_allow=True, ip_filter_rules=(IPFilterRule("127.0.0.1/32"),)
        ),
    )
    host = SecureVirtualHost(
        virtual_host=secure_routes, secret=tls_secret(PKI), jwt_providers=(REMOTE, PLAIN, LOCAL)
    )
    insecure = vhost("secure.example.com", route("/", upstream("kuard"), jwt_provider="remote"))
    insecure.ip_filter_allow, insecure.ip_filter_rules = False, (IPFilterRule("10.0.0.0/8", remote=True),)
    return add_secure(http_dag(insecure), host)


def test_jwt_authn_config_has_providers_and_a_requirement_each() -> None:
    assert as_dict(jwt_authn_config([REMOTE, LOCAL])) == {
        "providers": {
            "remote": {
                "issuer": "https://issuer.example.com",
                "audiences": ["api"],
                "forward": True,
                "remote_jwks": {
                    "http_uri": {
                        "uri": "https://jwks.example.com:8443/keys",
                        "cluster": "dnsname/https/jwks.example.com",
                        "timeout": "2.500s",
                    },
                    "cache_duration": "60s",
                },
            },
            "local": {"local_jwks": {"inline_string": LOCAL.local_jwks}},
        },
        "requirement_map": {"remote": {"provider_name": "remote"}, "local": {"provider_name": "local"}},
    }


@pytest.mark.parametrize(
    ("provider", "secure", "expected"),
    [
        pytest.param("remote", True, {"requirement_name": "remote"}, id="secure-requires"),
        pytest.param("", True, None, id="secure-requires-nothing"),
        pytest.param("remote", False, None, id="plain-listener-has-no-jwt-filter"),
    ],
)
def test_route_requirement(provider: str, secure: bool, expected: dict[str, str] | None) -> None:
    config = route_jwt_requirement(route("/", upstream("kuard"), jwt_provider=provider), secure=secure)
    assert (as_dict(config) if config is not None else None) == expected


def test_https_jwks_cluster_is_strict_dns_with_tls_and_sni() -> None:
    assert REMOTE.remote_jwks_cluster is not None
    built = dns_name_cluster(REMOTE.remote_jwks_cluster, ClusterSettings())
    assert built.name == "dnsname/https/jwks.example.com"
    assert built.type == cluster_pb2.Cluster.STRICT_DNS
    assert built.dns_lookup_family == cluster_pb2.Cluster.V4_ONLY
    address = built.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (address.address, address.port_value) == ("jwks.example.com", 8443)
    context = tls_pb2.UpstreamTlsContext()
    assert built.transport_socket.typed_config.Unpack(context)
    assert context.sni == "jwks.example.com"
    validation = context.common_tls_context.validation_context
    assert validation.trusted_ca.inline_bytes == PKI.ca
    assert [m.matcher.exact for m in validation.match_typed_subject_alt_names] == ["jwks.example.com"]


def test_http_jwks_cluster_has_no_tls_and_the_configured_dns_family() -> None:
    assert PLAIN.remote_jwks_cluster is not None
    built = dns_name_cluster(PLAIN.remote_jwks_cluster, ClusterSettings(dns_lookup_family="v6"))
    assert built.name == "dnsname/http/keys.local"
    assert not built.HasField("transport_socket")
    assert built.dns_lookup_family == cluster_pb2.Cluster.V6_ONLY


def _secure_filters(resources: dict[str, list[Any]]) -> list[str]:
    [listener] = [item for item in resources[LISTENER] if item.name == "ingress_https"]
    manager = hcm.HttpConnectionManager()
    listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
    return [f.name for f in manager.http_filters]


def test_secure_chain_has_jwt_authn_after_rbac_before_router() -> None:
    names = _secure_filters(translate(jwt_dag(), TranslatorConfig()))
    assert names.index("envoy.filters.http.rbac") < names.index(JWT_AUTHN_FILTER) < names.index("router")
    assert names[-1] == "router"


def test_secure_host_without_providers_has_no_jwt_filter() -> None:
    dag = add_secure(
        http_dag(),
        SecureVirtualHost(
            virtual_host=vhost("secure.example.com", route("/", upstream("kuard"))), secret=tls_secret(PKI)
        ),
    )
    assert JWT_AUTHN_FILTER not in _secure_filters(translate(dag, TranslatorConfig()))


def test_jwks_clusters_are_emitted_sorted_among_the_others() -> None:
    names = [c.name for c in translate(jwt_dag(), TranslatorConfig())[CLUSTER]]
    assert "dnsname/http/keys.local" in names and "dnsname/https/jwks.example.com" in names
    assert names == sorted(names)
    assert len(names) == len(set(names))


def _serialised(resources: dict[str, list[Any]]) -> dict[str, list[bytes]]:
    return {
        kind: [
            m.data if isinstance(m, Serialized) else m.SerializeToString(deterministic=True) for m in items
        ]
        for kind, items in resources.items()
    }


def test_memo_translation_gives_the_same_bytes() -> None:
    memo = TranslationMemo()
    dag = jwt_dag()
    plain = _serialised(translate(dag, TranslatorConfig()))
    assert _serialised(translate(dag, TranslatorConfig(), memo)) == plain
    assert _serialised(translate(dag, TranslatorConfig(), memo)) == plain  # reused entries too


def test_routes_carry_their_per_filter_configs() -> None:
    routes = {r.name: r for r in translate(jwt_dag(), TranslatorConfig())[ROUTE]}
    secure_routes = {r.match.prefix: r for r in routes["https/secure.example.com"].virtual_hosts[0].routes}
    requirement = jwt.PerRouteConfig()
    assert secure_routes["/"].typed_per_filter_config[JWT_AUTHN_FILTER].Unpack(requirement)
    assert requirement.requirement_name == "remote"
    assert "envoy.filters.http.rbac" in secure_routes["/open"].typed_per_filter_config
    plain_host = routes["ingress_http"].virtual_hosts[0]
    assert "envoy.filters.http.rbac" in plain_host.typed_per_filter_config
    assert JWT_AUTHN_FILTER not in plain_host.routes[0].typed_per_filter_config


def test_envoy_validates_jwt_and_ip_filters(tmp_path: Path) -> None:
    assert_envoy_accepts(static_bootstrap(translate(jwt_dag(), TranslatorConfig())), tmp_path)


def _envoy_loads(tmp_path: Path, document: str) -> bool:
    host = SecureVirtualHost(
        virtual_host=vhost("secure.example.com", route("/", upstream("kuard"), jwt_provider="local")),
        secret=tls_secret(PKI),
        jwt_providers=(JWTProvider(name="local", local_jwks=document),),
    )
    validated = envoy_validate(
        static_bootstrap(translate(add_secure(http_dag(), host), TranslatorConfig())), tmp_path
    )
    if validated.returncode != 0:
        assert "invalid local jwks" in validated.stdout + validated.stderr  # refused for the key set only
    return validated.returncode == 0


@pytest.mark.parametrize(("document", "usable"), KEY_SETS)
def test_envoy_agrees_on_which_local_key_sets_are_usable(tmp_path: Path, document: Any, usable: bool) -> None:
    """The DAG's LocalJWKSInvalid check against the real Envoy, key set by key set."""
    raw = json.dumps(document)
    assert (usable_jwks(raw.encode())[1] == "") is usable
    assert _envoy_loads(tmp_path, raw) is usable
