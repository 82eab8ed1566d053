"""What the TLS end-to-end tests through `contour run` need beside `tests.support.contour_run`.

* `Authority`: a throw-away CA (cryptography, EC P-256) issuing server and client certificates and
  CRLs, each also written as PEM files for `ssl` and `contour echo`.
* Manifest builders for the objects these tests apply: Secrets (TLS, CA bundle, CRL), Services with
  named ports and their EndpointSlices on 127.0.0.1, HTTPProxies, TLSCertificateDelegations.
* `https_get`: one HTTP/1.1 request over a raw TLS socket with a chosen SNI, Host header, client
  certificate and TLS version range, as `curl --resolve ... --cert ... --tls-max` would send it. A
  refused handshake (or a connection closed before any response, which is how a TLS 1.3 server
  rejects a client certificate) is an `Outcome` with no status, never an exception.
"""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.contour_run import ContourRun, wait_until
from tests.support.pki import ca_certificate

# -- certificates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as objects, PEM text and files."""

    cert: x509.Certificate
    cert_pem: str
    key_pem: str
    cert_path: Path
    key_path: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


class Authority:
    """A CA named `name` whose files live under `directory`."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.cert = ca_certificate(self._key, name, datetime.timedelta(days=1), subject_key_identifier=True)
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self.path = directory / f"{name}.crt"
        self.path.write_text(self.pem)

    def _issue(
        self, stem: str, common_name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        key_pem = _key_pem(key)
        cert_path, key_path = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
        cert_path.write_text(cert_pem)
        key_path.write_text(key_pem)
        return Issued(cert, cert_pem, key_pem, cert_path, key_path)

    def server(self, stem: str, *dns_names: str) -> Issued:
        """A serving certificate: CN the first name, every name a DNS SAN."""
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        return self._issue(stem, dns_names[0], ExtendedKeyUsageOID.SERVER_AUTH, sans)

    def client(self, stem: str, common_name: str, *, dns: str = "", uri: str = "") -> Issued:
        sans: list[x509.GeneralName] = []
        if dns:
            sans.append(x509.DNSName(dns))
        if uri:
            sans.append(x509.UniformResourceIdentifier(uri))
        return self._issue(stem, common_name, ExtendedKeyUsageOID.CLIENT_AUTH, sans)

    def crl(self, revoked: Iterable[Issued]) -> str:
        """A CRL signed by this CA listing the given certificates' serial numbers."""
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - datetime.timedelta(minutes=5))
            .next_update(now + datetime.timedelta(days=1))
        )
        for issued in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(issued.cert.serial_number)
                .revocation_date(now - datetime.timedelta(minutes=1))
                .build()
            )
        crl = builder.sign(self._key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


# -- objects ----------------------------------------------------------------------------------------


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def tls_secret(ns: str, name: str, cert_pem: str, key_pem: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert_pem, "tls.key": key_pem},
    }


def opaque_secret(ns: str, name: str, data: Mapping[str, str]) -> dict[str, Any]:
    """An Opaque Secret, e.g. a CA bundle (`ca.crt`) or a CRL (`crl.pem`)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "Opaque",
        "stringData": dict(data),
    }


def delegation(ns: str, name: str, secret_name: str, targets: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "TLSCertificateDelegation",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"delegations": [{"secretName": secret_name, "targetNamespaces": targets}]},
    }


def backend_service(ns: str, name: str, ports: Mapping[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """A selector-less Service and its EndpointSlice on 127.0.0.1.

    `ports` maps a port name to (Service port, port the process listens on)."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "ports": [
                {"name": port_name, "port": port, "targetPort": port_name}
                for port_name, (port, _) in sorted(ports.items())
            ]
        },
    }
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-1",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [
            {"name": port_name, "port": target, "protocol": "TCP"}
            for port_name, (_, target) in sorted(ports.items())
        ],
    }
    return [service, endpoint_slice]


def route(prefix: str, *services: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"conditions": [{"prefix": prefix}], "services": list(services), **extra}


def upstream(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "port": port, **extra}


def httpproxy(
    ns: str, name: str, fqdn: str, routes: list[dict[str, Any]], tls: dict[str, Any] | None = None
) -> dict[str, Any]:
    virtualhost: dict[str, Any] = {"fqdn": fqdn}
    if tls is not None:
        virtualhost["tls"] = tls
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"virtualhost": virtualhost, "routes": routes},
    }


# -- status -----------------------------------------------------------------------------------------


def status_of(run: ContourRun, resource: str, ns: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = run.get(resource, name, ns).get("status") or {}
    return status


def error_reasons(status: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(type, reason) of every error of the Valid condition."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Valid":
            return [(e["type"], e["reason"]) for e in condition.get("errors") or []]
    return []


def wait_for_proxy_status(run: ContourRun, ns: str, name: str, current: str) -> dict[str, Any]:
    """The HTTPProxy's status once its currentStatus is `current` (valid / invalid / orphaned)."""
    return wait_until(
        lambda: status_of(run, "httpproxy", ns, name),
        lambda s: s.get("currentStatus") == current,
        what=f"HTTPProxy {ns}/{name} {current}",
    )


# -- HTTPS ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One HTTPS exchange: `status` None means no HTTP response came (handshake or request refused)."""

    status: int | None
    error: str = ""
    served_cn: str = ""
    tls_version: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def refused(self) -> bool:
        return self.status is None

    @property
    def body(self) -> dict[str, Any]:
        """The echo backend's JSON answer ({} when the body is not JSON)."""
        try:
            decoded = json.loads(self.text)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}


_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def client_context(
    ca: Authority, *, client: Issued | None = None, only_version: str = "", alpn: tuple[str, ...] = ()
) -> ssl.SSLContext:
    """A client context trusting `ca`, presenting `client`, optionally pinned to one TLS version."""
    context = ssl.create_default_context(cadata=ca.pem)
    if client is not None:
        context.load_cert_chain(client.cert_path, client.key_path)
    if only_version:
        context.minimum_version = context.maximum_version = _TLS_VERSIONS[only_version]
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def trusting_anything() -> ssl.SSLContext:
    """A client context that accepts any server certificate: a refusal must then be the server's."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _common_name(peer: Mapping[str, Any] | None) -> str:
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def https_get(
    port: int,
    sni: str,
    context: ssl.SSLContext,
    *,
    host: str = "",
    path: str = "/",
    extra_headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> Outcome:
    """GET https://`host or sni``path` on 127.0.0.1:`port`, the handshake sending SNI `sni`."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as exc:
        return Outcome(None, f"connect: {exc!r}")
    with raw:
        try:
            tls = context.wrap_socket(raw, server_hostname=sni)
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            return Outcome(None, f"handshake: {exc!r}")
        with tls:
            served_cn, version = _common_name(tls.getpeercert()), tls.version() or ""
            lines = [f"GET {path} HTTP/1.1", f"Host: {host or sni}", "Connection: close"]
            lines += [f"{name}: {value}" for name, value in (extra_headers or {}).items()]
            request = "\r\n".join(lines) + "\r\n\r\n"
            response = http.client.HTTPResponse(tls)
            try:
                tls.sendall(request.encode("ascii"))
                response.begin()
                text = response.read().decode("utf-8", "replace")
            except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
                return Outcome(None, f"request: {exc!r}", served_cn, version)
            headers = {k.lower(): v for k, v in response.getheaders()}
            return Outcome(response.status, "", served_cn, version, headers, text)
