"""Generating the CA and the two leaf certificates that secure the xDS connection, as Contour's certgen.

One self-signed CA ("Project Contour") signs a server certificate for Contour and a client certificate
for Envoy. Each leaf carries the DNS names a Kubernetes Service gets: `contour`, `contour.NS`,
`contour.NS.svc`, `contour.NS.svc.cluster.local` (and the same for `envoy`); Envoy checks the SAN
`contour` when it connects. Aliases add the names of further Services (the provisioner's
`contour-<name>` Service keeps `contour` as an alias, so the SAN Envoy checks is still there).
Keys are RSA 2048, written as PKCS#1 "RSA PRIVATE KEY" PEM, as Contour's
are. Unlike Contour, the leaves also carry an extended key usage (server auth for Contour, client
auth for Envoy), an authority key identifier and `CA:FALSE`, so strict verifiers accept them.

The only impurity is randomness (keys, serials); the current time is an argument.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_NAMESPACE: Final = "projectcontour"
DEFAULT_LIFETIME_DAYS: Final = 365
DEFAULT_DNS_NAME: Final = "cluster.local"
CONTOUR_SERVICE_NAME: Final = "contour"
ENVOY_SERVICE_NAME: Final = "envoy"
CA_COMMON_NAME: Final = "Project Contour"
KEY_SIZE: Final = 2048


@dataclass(frozen=True, slots=True)
class Certificates:
    """PEM bytes of the CA certificate and of both key pairs (the CA key is not kept, as in Contour)."""

    ca_certificate: bytes
    contour_certificate: bytes
    contour_private_key: bytes
    envoy_certificate: bytes
    envoy_private_key: bytes


def service_names(service: str, namespace: str, dns_name: str = DEFAULT_DNS_NAME) -> list[str]:
    """The DNS names a Kubernetes Service `service` in `namespace` answers to."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{dns_name}",
    ]


def generate_certs(
    *,
    now: datetime.datetime,
    namespace: str = DEFAULT_NAMESPACE,
    lifetime_days: int = DEFAULT_LIFETIME_DAYS,
    dns_name: str = DEFAULT_DNS_NAME,
    contour_service: str = CONTOUR_SERVICE_NAME,
    envoy_service: str = ENVOY_SERVICE_NAME,
    contour_aliases: Sequence[str] = (),
    envoy_aliases: Sequence[str] = (),
) -> Certificates:
    """A fresh CA and Contour/Envoy key pairs, valid from a day before `now` for `lifetime_days` after it.

    Each leaf names its Service (the common name) and then every alias, each with its DNS names.
    """
    if lifetime_days < 1:
        raise ValueError(f"certificate lifetime must be at least 1 day, got {lifetime_days}")
    if not namespace:
        raise ValueError("namespace must not be empty")
    not_before = now - datetime.timedelta(days=1)
    not_after = now + datetime.timedelta(days=lifetime_days)
    ca_key = _new_key()
    ca_cert = _ca_certificate(ca_key, not_before, not_after)
    contour_key = _new_key()
    contour_cert = _leaf_certificate(
        ca_cert=ca_cert,
        ca_key=ca_key,
        key=contour_key,
        common_name=contour_service,
        dns_names=_all_names((contour_service, *contour_aliases), namespace, dns_name),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        not_before=not_before,
        not_after=not_after,
    )
    envoy_key = _new_key()
    envoy_cert = _leaf_certificate(
        ca_cert=ca_cert,
        ca_key=ca_key,
        key=envoy_key,
        common_name=envoy_service,
        dns_names=_all_names((envoy_service, *envoy_aliases), namespace, dns_name),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        not_before=not_before,
        not_after=not_after,
    )
    return Certificates(
        ca_certificate=_cert_pem(ca_cert),
        contour_certificate=_cert_pem(contour_cert),
        contour_private_key=_key_pem(contour_key),
        envoy_certificate=_cert_pem(envoy_cert),
        envoy_private_key=_key_pem(envoy_key),
    )


def _all_names(services: Sequence[str], namespace: str, dns_name: str) -> list[str]:
    names: list[str] = []
    for service in services:
        names += [n for n in service_names(service, namespace, dns_name) if n not in names]
    return names


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _ca_certificate(
    key: rsa.RSAPrivateKey, not_before: datetime.datetime, not_after: datetime.datetime
) -> x509.Certificate:
    serial = x509.random_serial_number()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, str(serial)),
        ]
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    *,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    key: rsa.RSAPrivateKey,
    common_name: str,
    dns_names: list[str],
    usage: x509.ObjectIdentifier,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> x509.Certificate:
    public_key = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
