# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP extended conformance tests of Gateway API v1.6.1 for backend TLS.

BackendTLSPolicy (the Gateway originates TLS to the Services a policy targets, verifying them with a
CA bundle or the system roots, the policy's hostname as SNI, optionally subjectAltNames) and the
Gateway's `spec.tls.backend.clientCertificateRef` (the certificate the Gateway presents to TLS
backends). The stored upstream sources read are the v1-API revisions of conformance/tests/
backendtlspolicy*.go and gateway-*-tls-backend-*.go (2025; the exact v1.6.1 files are not stored), with
their YAML where stored; where a YAML is not stored the manifests are rebuilt from the test body.

The backend is one `contour echo` process (module fixture, stopped by PID) serving HTTPS with the
tls-checks certificate and verifying client certificates when sent; each test's Services are
selector-less with an EndpointSlice to it (upstream: `selector: app: tls-backend`, targetPort 8443).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.gatewayapi import backend_tls_support as b
from tests.e2e.gatewayapi.base_manifests import (
    INFRA,
    WEB,
    Manifest,
    Ports,
    gateway,
    http_route,
    listener,
    parent,
    reference_grant,
    tls_secret,
)
from tests.e2e.gatewayapi.roundtrip import Case
from tests.e2e.gatewayapi.suite import Suite
from tests.e2e.run_tls_support import Authority, client_context
from tests.echo.process import EchoProcess
from tests.support.contour_run import ContourRun

SERVER = "abc.example.com"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> b.BackendPKI:
    return b.BackendPKI(tmp_path_factory.mktemp("backend-pki"))


@pytest.fixture(scope="module")
def tls_backend(
    tmp_path_factory: pytest.TempPathFactory,
    run: ContourRun,
    ports: Ports,
    authority: Authority,
    pki: b.BackendPKI,
) -> Iterator[int]:
    """The tls-backend pod (its HTTPS port) and the CA ConfigMaps upstream's Setup creates."""
    args = [
        "--port", "0", "--tls-port", "0",
        "--tls-cert", str(pki.server.cert_path), "--tls-key", str(pki.server.key_path),
        "--client-ca", str(pki.ca_path),
        "--pod", b.BACKEND_POD, "--namespace", INFRA, "--service", "tls-backend",
    ]  # fmt: skip
    setup = Suite(run, ports, client_context(authority))
    with EchoProcess(*args, stderr_path=tmp_path_factory.mktemp("tls-backend") / "stderr") as echo:
        setup.apply(
            b.ca_configmap(b.CA_CONFIGMAP, pki.ca_pem),
            b.ca_configmap(b.MISMATCH_CA_CONFIGMAP, pki.mismatch_ca_pem),
        )
        try:
            yield echo.ports["https"]
        finally:
            setup.cleanup()


@pytest.fixture
def btls(suite: Suite, tls_backend: int) -> Suite:
    return suite


def route(name: str, gateway_name: str, hostnames: list[str], *rules: Manifest) -> Manifest:
    return http_route(name, parentRefs=[parent(gateway_name)], hostnames=hostnames, rules=list(rules))


# -- BackendTLSPolicy -------------------------------------------------------------------------------------


def test_BackendTLSPolicy(btls: Suite, tls_backend: int) -> None:
    btls.apply(
        *b.tls_backend_service("backendtlspolicy-test", tls_backend),
        *b.tls_backend_service("backendtlspolicy-host-mismatch-test", tls_backend),
        *b.tls_backend_service("backendtlspolicy-cert-mismatch-test", tls_backend),
        b.backend_tls_policy("normative-test", [b.policy_target("backendtlspolicy-test")]),
        # rebuilt: a hostname the backend's certificate does not carry
        b.backend_tls_policy(
            "host-mismatch", [b.policy_target("backendtlspolicy-host-mismatch-test")], "mismatch.example.com"
        ),
        # rebuilt: a CA that did not sign the backend's certificate
        b.backend_tls_policy(
            "cert-mismatch",
            [b.policy_target("backendtlspolicy-cert-mismatch-test")],
            ca_refs=[b.ca_ref(b.MISMATCH_CA_CONFIGMAP)],
        ),
        route(
            "backendtlspolicy-reencrypt",
            "same-namespace-with-https-listener",
            ["https-listener.org"],
            b.exact("/backendtlspolicy", "backendtlspolicy-test"),
        ),
        route(
            "backendtlspolicy",
            "same-namespace",
            [SERVER, "abc.example.org"],
            b.exact("/backendtlspolicy", "backendtlspolicy-test"),
            b.exact("/backendtlspolicy-host-mismatch", "backendtlspolicy-host-mismatch-test"),
            b.exact("/backendtlspolicy-cert-mismatch", "backendtlspolicy-cert-mismatch-test"),
        ),
    )
    https_gw = "same-namespace-with-https-listener"
    # Re-encrypt HTTPS request sent to Service with valid BackendTLSPolicy should succeed
    address = btls.gateway_and_routes_accepted(https_gw, ["backendtlspolicy-reencrypt"])
    btls.resolved_refs_true("backendtlspolicy-reencrypt", https_gw)
    b.policy_condition(btls, "normative-test", https_gw, "Accepted", "True", reason="Accepted")
    b.policy_condition(btls, "normative-test", https_gw, "ResolvedRefs", "True", reason="ResolvedRefs")
    reencrypt = Case(path="/backendtlspolicy", host="https-listener.org", https=True, namespace=INFRA)
    b.expect_backend_tls(btls, address, reencrypt, sni=SERVER)

    address = btls.gateway_and_routes_accepted("same-namespace", ["backendtlspolicy"])
    btls.resolved_refs_true("backendtlspolicy", "same-namespace")
    for policy in ("normative-test", "host-mismatch", "cert-mismatch"):
        b.policy_condition(btls, policy, "same-namespace", "Accepted", "True", reason="Accepted")
        b.policy_condition(btls, policy, "same-namespace", "ResolvedRefs", "True", reason="ResolvedRefs")
    valid = Case(path="/backendtlspolicy", host=SERVER, namespace=INFRA)
    b.expect_backend_tls(btls, address, valid, sni=SERVER)
    b.expect_failure(btls, address, Case(path="/backendtlspolicy-host-mismatch", host="abc.example.org"))
    b.expect_failure(btls, address, Case(path="/backendtlspolicy-cert-mismatch", host=SERVER))


def test_BackendTLSPolicyConflictResolution(btls: Suite, tls_backend: int) -> None:
    two_ports = (("https-1", 443), ("https-2", 8443))
    without, with_section, not_conflicted = (
        "backendtlspolicy-conflicted-without-section-name-test",
        "backendtlspolicy-conflicted-with-section-name-test",
        "backendtlspolicy-not-conflicted-test",
    )
    btls.apply(
        *b.tls_backend_service(without, tls_backend),
        *b.tls_backend_service(with_section, tls_backend, two_ports),
        *b.tls_backend_service(not_conflicted, tls_backend, two_ports),
        b.backend_tls_policy(
            "conflicted-without-section-name-1", [b.policy_target(without)], "other.example.com"
        ),
        b.backend_tls_policy("conflicted-without-section-name-2", [b.policy_target(without)]),
        b.backend_tls_policy(
            "conflicted-with-section-name-1", [b.policy_target(with_section, "https-1")], "other.example.com"
        ),
        b.backend_tls_policy("conflicted-with-section-name-2", [b.policy_target(with_section, "https-1")]),
        b.backend_tls_policy(
            "not-conflicted-with-section-name",
            [b.policy_target(not_conflicted, "https-1")],
            "other.example.com",
        ),
        b.backend_tls_policy("not-conflicted-without-section-name", [b.policy_target(not_conflicted)]),
        route(
            "backendtlspolicy-conflict-resolution",
            "same-namespace",
            [SERVER],
            b.exact("/backendtlspolicy-conflicted-without-section-name", without),
            b.exact("/backendtlspolicy-conflicted-with-section-name", with_section),
            b.exact("/backendtlspolicy-not-conflicted-with-section-name", not_conflicted),
            b.exact("/backendtlspolicy-not-conflicted-without-section-name", not_conflicted, 8443),
        ),
    )
    gw = "same-namespace"
    address = btls.gateway_and_routes_accepted(gw, ["backendtlspolicy-conflict-resolution"])
    btls.resolved_refs_true("backendtlspolicy-conflict-resolution", gw)
    for winner, loser in (
        ("conflicted-without-section-name-1", "conflicted-without-section-name-2"),
        ("conflicted-with-section-name-1", "conflicted-with-section-name-2"),
    ):
        b.policy_condition(btls, winner, gw, "Accepted", "True", reason="Accepted")
        b.policy_condition(btls, loser, gw, "Accepted", "False", reason="Conflicted")
    for both in ("not-conflicted-with-section-name", "not-conflicted-without-section-name"):
        b.policy_condition(btls, both, gw, "Accepted", "True", reason="Accepted")
    for path, sni in (
        ("/backendtlspolicy-conflicted-without-section-name", "other.example.com"),
        ("/backendtlspolicy-conflicted-with-section-name", "other.example.com"),
        ("/backendtlspolicy-not-conflicted-with-section-name", "other.example.com"),
        ("/backendtlspolicy-not-conflicted-without-section-name", SERVER),
    ):
        b.expect_backend_tls(btls, address, Case(path=path, host=SERVER, namespace=INFRA), sni=sni)


@pytest.mark.parametrize("policy", ["nonexistent-ca-certificate-ref", "malformed-ca-certificate-ref"])
def test_BackendTLSPolicyInvalidCACertificateRef(btls: Suite, tls_backend: int, policy: str) -> None:
    service = f"backendtlspolicy-{policy}-test"
    ca_name = {"nonexistent-ca-certificate-ref": "nonexistent-ca-certificate"}.get(
        policy, "malformed-ca-certificate"
    )
    malformed: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "malformed-ca-certificate", "namespace": INFRA},
        "data": {},
    }
    btls.apply(
        malformed,
        *b.tls_backend_service(service, tls_backend, app_protocol="HTTPS"),
        b.backend_tls_policy(policy, [b.policy_target(service)], ca_refs=[b.ca_ref(ca_name)]),
        route(
            "backendtlspolicy-invalid-ca-certificate-ref",
            "same-namespace",
            [SERVER],
            b.exact(f"/backendtlspolicy-{policy}", service),
        ),
    )
    address = btls.gateway_and_routes_accepted(
        "same-namespace", ["backendtlspolicy-invalid-ca-certificate-ref"]
    )
    b.policy_condition(btls, policy, "same-namespace", "Accepted", "False", reason="NoValidCACertificate")
    b.policy_condition(
        btls, policy, "same-namespace", "ResolvedRefs", "False", reason="InvalidCACertificateRef"
    )
    btls.expect(address, [Case(path=f"/backendtlspolicy-{policy}", host=SERVER, status=(500, 502, 503))])


def test_BackendTLSPolicyInvalidKind(btls: Suite, tls_backend: int) -> None:
    service = "backendtlspolicy-invalid-kind-test"
    btls.apply(
        *b.tls_backend_service(service, tls_backend, app_protocol="HTTPS"),
        b.backend_tls_policy(
            "invalid-kind",
            [b.policy_target(service)],
            ca_refs=[b.ca_ref("invalid-kind", kind="InvalidKind", group="invalid.io")],
        ),
        route(service, "same-namespace", [SERVER], b.exact("/backendtlspolicy-invalid-kind", service)),
    )
    address = btls.gateway_and_routes_accepted("same-namespace", [service])
    b.policy_condition(
        btls, "invalid-kind", "same-namespace", "Accepted", "False", reason="NoValidCACertificate"
    )
    b.policy_condition(btls, "invalid-kind", "same-namespace", "ResolvedRefs", "False", reason="InvalidKind")
    btls.expect(address, [Case(path="/backendtlspolicy-invalid-kind", host=SERVER, status=(500, 502, 503))])


def test_BackendTLSPolicyObservedGenerationBump(btls: Suite, tls_backend: int) -> None:
    service = "observed-generation-bump-test"
    btls.apply(
        *b.tls_backend_service(service, tls_backend),
        b.backend_tls_policy(
            "observed-generation-bump", [b.policy_target(service, "https")], well_known="System"
        ),
        http_route(
            "backendtlspolicy-observed-generation-bump",
            parentRefs=[parent("same-namespace", ns=None)],
            rules=[{"backendRefs": [{"name": service, "port": 443}]}],
        ),
    )
    original = b.policy_latest(btls, "observed-generation-bump")
    btls.patch(
        "backendtlspolicies",
        "observed-generation-bump",
        {"spec": {"validation": {"hostname": "foo.example.com"}}},
    )
    b.policy_condition(btls, "observed-generation-bump", "same-namespace", "Accepted", "True")
    updated = b.policy_latest(btls, "observed-generation-bump")
    assert updated["metadata"]["generation"] != original["metadata"]["generation"]


def test_BackendTLSPolicySANValidation(btls: Suite, tls_backend: int) -> None:
    dns = {"type": "Hostname", "hostname": SERVER}
    uri = {"type": "URI", "uri": b.SPIFFE_ID}
    cases: list[tuple[str, list[Manifest], bool]] = [
        ("san-dns", [dns], True),
        ("san-dns-mismatch", [{"type": "Hostname", "hostname": "dce.example.com"}], False),
        ("san-uri", [uri], True),
        ("san-uri-mismatch", [{"type": "URI", "uri": "spiffe://def.example.com/test-identity"}], False),
        ("multiple-sans", [uri, dns], True),
        (
            "multiple-mismatch-sans",
            [
                {"type": "URI", "uri": "spiffe://def.example.com/test-identity"},
                {"type": "Hostname", "hostname": "def.example.com"},
            ],
            False,
        ),
    ]
    manifests: list[Manifest] = []
    rules: list[Manifest] = []
    for name, sans, _ in cases:
        service = f"backendtlspolicy-{name}-test"
        # upstream gives every Service but the first appProtocol HTTPS
        protocol = "" if name == "san-dns" else "HTTPS"
        manifests += b.tls_backend_service(service, tls_backend, (("btls", 443),), app_protocol=protocol)
        manifests.append(b.backend_tls_policy(name, [b.policy_target(service, "btls")], sans=sans))
        rules.append(b.exact(f"/backendtlspolicy-{name}", service))
    btls.apply(*manifests, route("backendtlspolicy-san-test", "same-namespace", [SERVER], *rules))
    address = btls.gateway_and_routes_accepted("same-namespace", ["backendtlspolicy-san-test"])
    btls.resolved_refs_true("backendtlspolicy-san-test", "same-namespace")
    for name, _, succeeds in cases:
        b.policy_condition(btls, name, "same-namespace", "Accepted", "True", reason="Accepted")
        case = Case(path=f"/backendtlspolicy-{name}", host=SERVER, namespace=INFRA)
        if succeeds:
            b.expect_backend_tls(btls, address, case, sni=SERVER)
        else:
            b.expect_failure(btls, address, case)


# -- Gateway spec.tls.backend ------------------------------------------------------------------------------


def backend_client_certificate(ref: Manifest) -> Manifest:
    return {"backend": {"clientCertificateRef": ref}}


def test_GatewayTLSBackendClientCertificate(btls: Suite, tls_backend: int, pki: b.BackendPKI) -> None:
    name = "gateway-tls-backend-client-certificate"
    service = f"{name}-test"
    btls.apply(
        tls_secret(INFRA, b.CLIENT_CERT_SECRET, pki.client.cert, pki.client.key),
        *b.tls_backend_service(service, tls_backend),
        b.backend_tls_policy(f"{name}-test", [b.policy_target(service)]),
        # rebuilt from the test body: one HTTP listener, the client certificate, one route
        gateway(
            name,
            listener("http", btls.ports[80]),
            tls=backend_client_certificate({"group": "", "kind": "Secret", "name": b.CLIENT_CERT_SECRET}),
        ),
        route(name, name, [SERVER], {"backendRefs": [{"name": service, "port": 443}]}),
    )
    address = btls.gateway_and_routes_accepted(name, [name])
    btls.resolved_refs_true(name, name)
    b.policy_condition(btls, f"{name}-test", name, "Accepted", "True")
    btls.gateway_condition(name, "ResolvedRefs", "True", "ResolvedRefs")
    case = Case(path="/", host=SERVER, namespace=INFRA)
    b.expect_backend_tls(btls, address, case, sni=SERVER, client_cert=pki.client.cert)


INVALID_REF = "InvalidClientCertificateRef"
INVALID_BACKEND_CLIENT_CERTIFICATES: list[tuple[str, Manifest, str]] = [
    ("gateway-client-certificate-nonexistent-secret", {"name": "nonexistent-secret"}, INVALID_REF),
    (
        "gateway-client-certificate-unsupported-group",
        {"group": "wrong.group.io", "kind": "Secret", "name": b.CLIENT_CERT_SECRET},
        INVALID_REF,
    ),
    (
        "gateway-client-certificate-unsupported-kind",
        {"group": "", "kind": "WrongKind", "name": b.CLIENT_CERT_SECRET},
        INVALID_REF,
    ),
    ("gateway-client-certificate-malformed-secret", {"name": "malformed-client-certificate"}, INVALID_REF),
    (
        "gateway-client-certificate-missing-reference-grant",
        {"name": b.CLIENT_CERT_SECRET, "namespace": WEB},
        "RefNotPermitted",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "ref", "reason"),
    INVALID_BACKEND_CLIENT_CERTIFICATES,
    ids=["nonexistent-secret", "unsupported-group", "unsupported-kind", "malformed-secret", "missing-grant"],
)
def test_GatewayInvalidTLSBackendConfiguration(
    btls: Suite, pki: b.BackendPKI, name: str, ref: Manifest, reason: str
) -> None:
    # rebuilt from the test body (the YAML is not stored): the Secrets the references name, one
    # HTTP listener per Gateway; a grant for another kind proves the missing one is what counts
    btls.apply(
        tls_secret(INFRA, b.CLIENT_CERT_SECRET, pki.client.cert, pki.client.key),
        tls_secret(WEB, b.CLIENT_CERT_SECRET, pki.client.cert, pki.client.key),
        tls_secret(INFRA, "malformed-client-certificate", "not a certificate", "not a key"),
        reference_grant("not-for-secrets", WEB, from_ns=INFRA, from_kind="Gateway"),
        gateway(name, listener("http", btls.ports[80]), tls=backend_client_certificate(ref)),
    )
    btls.gateway_condition(name, "ResolvedRefs", "False", reason)
    found = btls.gateway_condition(name, "Accepted", "True", "Accepted")
    generation = found["metadata"]["generation"]
    assert all(c["observedGeneration"] == generation for c in found["status"]["conditions"]), found["status"]
