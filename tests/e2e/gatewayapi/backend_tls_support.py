"""What the backend TLS conformance tests need beside the suite: a TLS backend, its PKI, and the checks.

Upstream's Setup creates a `tls-checks-ca-certificate` CA (ConfigMap with `ca.crt`), the serving
certificate `tls-checks-certificate` (SANs abc.example.com, other.example.com and
spiffe://abc.example.com/test-identity) the `tls-backend` pods present, the client certificate
`tls-checks-client-certificate` signed by the same CA, and an unrelated `mismatch-ca-certificate`.
`BackendPKI` makes the same set (EC keys instead of RSA). The backend is one `contour echo` process
serving HTTPS with that certificate and verifying a client certificate when one is sent (Go's
VerifyClientCertIfGiven, as upstream's echo); it reports the SNI and the client certificate it saw in
the echo's `tls` object, which the checks here compare like upstream's CompareRoundTrip
(`tls.serverName`, `tls.peerCertificates`).
"""

from __future__ import annotations

import datetime
import http.client
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.e2e.gatewayapi.base_manifests import GATEWAY_API, INFRA, Manifest
from tests.e2e.gatewayapi.roundtrip import (
    MAX_TIME_TO_CONSISTENCY,
    POLL_INTERVAL,
    REQUIRED_CONSECUTIVE,
    Case,
    Reply,
    mismatch,
    send,
)
from tests.e2e.gatewayapi.suite import Suite
from tests.support.pki import ca_certificate, common_name

CA_CONFIGMAP = "tls-checks-ca-certificate"
MISMATCH_CA_CONFIGMAP = "mismatch-ca-certificate"
CLIENT_CERT_SECRET = "tls-checks-client-certificate"
SPIFFE_ID = "spiffe://abc.example.com/test-identity"
BACKEND_POD = "tls-backend-0"


# -- certificates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pem:
    cert: str
    key: str
    cert_path: Path
    key_path: Path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


class BackendPKI:
    """The tls-checks CA, the backend's serving and client certificates, and a CA that signed neither."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        lifetime = datetime.timedelta(days=1)
        self._ca = ca_certificate(self._key, "tls-checks-ca", lifetime, subject_key_identifier=True)
        self.ca_pem = self._ca.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self.ca_path = directory / "tls-checks-ca.crt"
        self.ca_path.write_text(self.ca_pem)
        other = ca_certificate(ec.generate_private_key(ec.SECP256R1()), "mismatch-ca", lifetime)
        self.mismatch_ca_pem = other.public_bytes(serialization.Encoding.PEM).decode("ascii")
        server_sans: list[x509.GeneralName] = [
            x509.DNSName("abc.example.com"),
            x509.DNSName("other.example.com"),
            x509.UniformResourceIdentifier(SPIFFE_ID),
        ]
        self.server = self._issue(
            "tls-checks", "abc.example.com", ExtendedKeyUsageOID.SERVER_AUTH, server_sans
        )
        self.client = self._issue(
            "tls-checks-client", "tls-checks-client", ExtendedKeyUsageOID.CLIENT_AUTH, []
        )

    def _issue(self, stem: str, name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]) -> Pem:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(common_name(name))
            .issuer_name(self._ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
        key_pem = _pem_key(key)
        cert_path, key_path = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
        cert_path.write_text(cert)
        key_path.write_text(key_pem)
        return Pem(cert, key_pem, cert_path, key_path)


# -- manifests -------------------------------------------------------------------------------------------


def ca_configmap(name: str, pem: str, ns: str = INFRA) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": {"ca.crt": pem},
    }


def tls_backend_service(
    name: str, target: int, ports: Sequence[tuple[str, int]] = (("https", 443),), app_protocol: str = ""
) -> list[Manifest]:
    """A selector-less Service whose named ports all lead to the TLS backend's port `target`."""
    service_ports = []
    for port_name, port in ports:
        entry: Manifest = {"name": port_name, "protocol": "TCP", "port": port, "targetPort": 8443}
        if app_protocol:
            entry["appProtocol"] = app_protocol
        service_ports.append(entry)
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": INFRA},
            "spec": {"ports": service_ports},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-{BACKEND_POD}",
                "namespace": INFRA,
                "labels": {"kubernetes.io/service-name": name},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": port_name, "port": target, "protocol": "TCP"} for port_name, _ in ports],
        },
    ]


def policy_target(service: str, section: str | None = None) -> Manifest:
    ref: Manifest = {"group": "", "kind": "Service", "name": service}
    if section is not None:
        ref["sectionName"] = section
    return ref


def ca_ref(name: str = CA_CONFIGMAP, kind: str = "ConfigMap", group: str = "") -> Manifest:
    return {"group": group, "kind": kind, "name": name}


def backend_tls_policy(
    name: str,
    targets: Iterable[Manifest],
    hostname: str = "abc.example.com",
    *,
    ca_refs: Iterable[Manifest] | None = None,
    well_known: str | None = None,
    sans: Iterable[Manifest] = (),
) -> Manifest:
    validation: Manifest = {"hostname": hostname}
    if well_known is not None:
        validation["wellKnownCACertificates"] = well_known
    else:
        validation["caCertificateRefs"] = list(ca_refs) if ca_refs is not None else [ca_ref()]
    if sans:
        validation["subjectAltNames"] = list(sans)
    return {
        "apiVersion": GATEWAY_API,
        "kind": "BackendTLSPolicy",
        "metadata": {"name": name, "namespace": INFRA},
        "spec": {"targetRefs": list(targets), "validation": validation},
    }


def exact(path: str, service: str, port: int = 443) -> Manifest:
    """An HTTPRoute rule: Exact `path` -> `service`:`port`."""
    return {
        "matches": [{"path": {"type": "Exact", "value": path}}],
        "backendRefs": [{"group": "", "kind": "Service", "name": service, "port": port}],
    }


# -- statuses --------------------------------------------------------------------------------------------


def _latest(policy: Manifest) -> bool:
    generation = policy["metadata"].get("generation", 1)
    return all(
        c.get("observedGeneration") == generation
        for a in (policy.get("status") or {}).get("ancestors") or []
        for c in a.get("conditions") or []
    )


def policy_condition(
    suite: Suite, policy: str, gateway: str, kind: str, status: str, *, reason: str = ""
) -> Manifest:
    """`BackendTLSPolicyMustHaveCondition`: the ancestor entry of the Gateway has the condition, and every
    ancestor's conditions carry the policy's latest generation."""

    def ok(found: Manifest) -> bool:
        if not _latest(found):
            return False
        for ancestor in (found.get("status") or {}).get("ancestors") or []:
            ref = ancestor.get("ancestorRef") or {}
            if ref.get("name") != gateway or ref.get("namespace", INFRA) != INFRA:
                continue
            for condition in ancestor.get("conditions") or []:
                if (
                    condition["type"] == kind
                    and condition["status"] == status
                    and (not reason or condition["reason"] == reason)
                ):
                    return True
        return False

    return suite.poll(
        lambda: suite.get("backendtlspolicies", policy),
        ok,
        f"BackendTLSPolicy {policy} ancestor {gateway}: {kind}={status} {reason}",
    )


def policy_latest(suite: Suite, policy: str) -> Manifest:
    """`BackendTLSPolicyMustHaveLatestConditions` (once there is at least one ancestor)."""
    return suite.poll(
        lambda: suite.get("backendtlspolicies", policy),
        lambda p: bool((p.get("status") or {}).get("ancestors")) and _latest(p),
        f"BackendTLSPolicy {policy}: conditions at the latest generation",
    )


# -- traffic ---------------------------------------------------------------------------------------------


def _backend_tls_mismatch(reply: Reply, sni: str | None, client_cert: str | None) -> str | None:
    tls = (reply.body or {}).get("tls")
    if not isinstance(tls, dict):
        return "the backend saw no TLS connection"
    if sni is not None and tls.get("serverName") != sni:
        return f"backend SNI {tls.get('serverName')!r}, expected {sni!r}"
    if client_cert is not None:
        presented = [x509.load_pem_x509_certificate(p.encode()) for p in tls.get("peerCertificates") or []]
        wanted = x509.load_pem_x509_certificate(client_cert.encode())
        if wanted not in presented:
            return f"the backend was not shown the client certificate ({len(presented)} presented)"
    return None


def expect_backend_tls(
    suite: Suite,
    address: str,
    case: Case,
    *,
    sni: str | None = None,
    client_cert: str | None = None,
    port: int | None = None,
) -> None:
    """`MakeRequestAndExpectEventuallyConsistentResponse` where the expected request carries an SNI
    (and a client certificate): 3 matching answers in a row within 30 s, the backend having seen them."""
    port = port or suite.ports[443 if case.https else 80]
    deadline = time.monotonic() + MAX_TIME_TO_CONSISTENCY
    streak, last = 0, "no request made"
    while streak < REQUIRED_CONSECUTIVE:
        try:
            reply = send(address, port, case, suite.https_context)
            problem = mismatch(case, reply) or _backend_tls_mismatch(reply, sni, client_cert)
        except (OSError, http.client.HTTPException, ValueError) as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            streak += 1
            continue
        streak, last = 0, problem
        assert time.monotonic() < deadline, f"{case.name}: not consistent; last: {last}"
        time.sleep(POLL_INTERVAL)  # the suite's poll interval between attempts


def expect_failure(suite: Suite, address: str, case: Case, port: int | None = None) -> None:
    """`MakeRequestAndExpectFailure`: the request fails (a 5xx or no answer) 3 times in a row."""
    port = port or suite.ports[443 if case.https else 80]
    deadline = time.monotonic() + MAX_TIME_TO_CONSISTENCY
    streak, last = 0, "no request made"
    while streak < REQUIRED_CONSECUTIVE:
        try:
            reply = send(address, port, case, suite.https_context)
        except (OSError, http.client.HTTPException):
            streak += 1
            continue
        if reply.status >= 500:
            streak += 1
            continue
        streak, last = 0, f"status {reply.status}"
        assert time.monotonic() < deadline, f"{case.name}: still answered; last: {last}"
        time.sleep(POLL_INTERVAL)  # the suite's poll interval between attempts
