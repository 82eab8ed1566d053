"""Gateway spec.tls.backend.clientCertificateRef (feature GatewayBackendClientCertificate, v1.6.1): the
Gateway's ResolvedRefs condition, and the certificate on the TLS clusters of its routes; plus Service
ports with appProtocol https/HTTPS as Gateway backends. One behaviour per test; the ids name the
conformance case a row stands for (GatewayInvalidTLSBackendConfiguration, GatewayTLSBackendClientCertificate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contour.dag.model import Cluster, ObjectRef, Protocol
from contour.envoy.clusters import ClusterSettings, cluster
from contour.envoy.secrets import tls_secret as envoy_tls_secret
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, RUNTIME, SECRET
from tests.unit.dag.fixtures import k8s_service, port, secret, tls_secret
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    NS,
    Built,
    Obj,
    backend,
    build,
    gateway,
    gatewayclass,
    httproute,
    listener,
    parent,
    reference_grant,
)
from tests.unit.dag.gatewayapi.test_backendtls import configmap, policy
from tests.unit.envoy.envoy_validate import assert_envoy_accepts
from tests.unit.envoy.test_envoy_accepts import static_bootstrap

OTHER_NS = "elsewhere"


def client_ref(name: str = "client", **fields: Any) -> Obj:
    return {"name": name, **fields}


def objects(ref: Obj | None = None, *extra: Obj, with_policy: bool = True) -> list[Obj]:
    spec: Obj = {} if ref is None else {"tls": {"backend": {"clientCertificateRef": ref}}}
    return [
        gatewayclass(),
        gateway("gw", listener("http", 8080, "HTTP"), **spec),
        k8s_service("svc", NS),
        configmap(),
        tls_secret("client", NS, "gateway-client"),
        httproute("r", parents=[parent("gw")]),
        *([policy("p")] if with_policy else []),
        *extra,
    ]


def the_cluster(built: Built) -> Cluster:
    vhost = built.dag.gateways[ObjectRef(NS, "gw")].listeners["http-8080"].virtual_hosts["*"]
    (route,) = vhost.routes.values()
    (found,) = route.clusters
    return found


def resolved_refs(built: Built) -> tuple[str, str]:
    found = built.gateway_condition("ResolvedRefs")
    return found["status"], found["reason"]


# --- a usable certificate ----------------------------------------------------------------------------


def test_tls_cluster_presents_the_gateway_client_certificate() -> None:
    found = the_cluster(build(*objects(client_ref())))
    assert found.protocol == Protocol.TLS
    assert found.client_certificate is not None
    assert found.client_certificate.ref == ObjectRef(NS, "client")
    assert found.client_certificate.cert and found.client_certificate.key


def test_client_certificate_is_served_to_the_gateway_envoy_by_sds() -> None:
    dag = build(*objects(client_ref())).dag.gateways[ObjectRef(NS, "gw")]
    assert ObjectRef(NS, "client") in dag.secrets


def test_gateway_resolved_refs_true_with_a_valid_reference() -> None:
    built = build(*objects(client_ref()))
    assert resolved_refs(built) == ("True", "ResolvedRefs")
    assert built.gateway_condition("ResolvedRefs")["observedGeneration"] == 1


def test_plaintext_cluster_gets_no_client_certificate() -> None:
    found = the_cluster(build(*objects(client_ref(), with_policy=False)))
    assert (found.protocol, found.client_certificate) == (Protocol.HTTP1, None)


def test_gateway_without_backend_tls_has_no_resolved_refs_condition() -> None:
    built = build(*objects())
    assert "ResolvedRefs" not in {c["type"] for c in built.gateway_status()["conditions"]}
    assert the_cluster(built).client_certificate is None


def test_cross_namespace_secret_allowed_by_a_reference_grant() -> None:
    grant = reference_grant(
        "allow",
        OTHER_NS,
        [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": NS}],
        [{"group": "", "kind": "Secret"}],
    )
    built = build(*objects(client_ref(namespace=OTHER_NS), tls_secret("client", OTHER_NS), grant))
    assert resolved_refs(built) == ("True", "ResolvedRefs")
    certificate = the_cluster(built).client_certificate
    assert certificate is not None and certificate.ref == ObjectRef(OTHER_NS, "client")


# --- GatewayInvalidTLSBackendConfiguration -----------------------------------------------------------


INVALID: list[tuple[Obj, list[Obj], str]] = [
    (client_ref("nonexistent"), [], "InvalidClientCertificateRef"),
    (client_ref(group="wrong.group.io", kind="Secret"), [], "InvalidClientCertificateRef"),
    (client_ref(group="", kind="WrongKind"), [], "InvalidClientCertificateRef"),
    (
        client_ref("malformed"),
        [secret("malformed", NS, tls_crt=b"not a certificate", tls_key=b"not a key")],
        "InvalidClientCertificateRef",
    ),
    (client_ref(namespace=OTHER_NS), [tls_secret("client", OTHER_NS)], "RefNotPermitted"),
]


@pytest.mark.parametrize(
    ("ref", "extra", "reason"),
    INVALID,
    ids=["nonexistent-secret", "unsupported-group", "unsupported-kind", "malformed-secret", "missing-grant"],
)
def test_invalid_reference_makes_resolved_refs_false(ref: Obj, extra: list[Obj], reason: str) -> None:
    assert resolved_refs(build(*objects(ref, *extra))) == ("False", reason)


@pytest.mark.parametrize("ref", [client_ref("nonexistent"), client_ref(namespace=OTHER_NS)], ids=str)
def test_invalid_reference_keeps_the_gateway_accepted_and_programmed(ref: Obj) -> None:
    built = build(*objects(ref))
    accepted, programmed = built.gateway_condition("Accepted"), built.gateway_condition("Programmed")
    assert (accepted["status"], accepted["reason"]) == ("True", "Accepted")
    assert (programmed["status"], programmed["reason"]) == ("True", "Programmed")


def test_invalid_reference_leaves_the_tls_cluster_without_a_certificate() -> None:
    found = the_cluster(build(*objects(client_ref("nonexistent"))))
    assert (found.protocol, found.client_certificate) == (Protocol.TLS, None)


# --- appProtocol https / HTTPS -------------------------------------------------------------------------


@pytest.mark.parametrize("app_protocol", ["HTTPS", "https"])
def test_https_app_protocol_backend_is_resolved(app_protocol: str) -> None:
    service = k8s_service("svc", NS, [port(443, "https", appProtocol=app_protocol)])
    built = build(
        gatewayclass(),
        gateway("gw", listener("http", 8080, "HTTP")),
        service,
        configmap(),
        policy("p"),
        httproute("r", parents=[parent("gw")], backends=[backend("svc", 443)]),
    )
    found = built.route_condition("r", "ResolvedRefs")
    assert (found["status"], found["reason"]) == ("True", "ResolvedRefs")
    assert the_cluster(built).protocol == Protocol.TLS


# --- Envoy ---------------------------------------------------------------------------------------------


def test_envoy_accepts_the_cluster_and_its_client_certificate(tmp_path: Path) -> None:
    found = the_cluster(build(*objects(client_ref())))
    assert found.client_certificate is not None
    emitted = cluster(found, ClusterSettings())
    assert len(emitted.transport_socket.typed_config.value) > 0
    resources: dict[str, list[Any]] = {
        CLUSTER: [emitted],
        LISTENER: [],
        ROUTE: [],
        SECRET: [envoy_tls_secret(found.client_certificate)],
        RUNTIME: [],
    }
    assert_envoy_accepts(static_bootstrap(resources), tmp_path)
