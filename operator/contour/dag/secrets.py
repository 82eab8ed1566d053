"""Secret lookups for processors: TLS certificates, CA bundles and CRLs, with delegation checks.

A reference to a Secret in another namespace ("ns/name") is honoured only when a
TLSCertificateDelegation in the Secret's namespace names it for the referring namespace (or "*").
Validation follows Contour's internal/dag/secret.go and its error wording, which ends up in status
messages ("Secret not found", "missing TLS certificate", ...). Results are memoised in the cache per
Secret until that Secret changes, so a Secret shared by many hosts is parsed once.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from contour.dag.cache import (
    CA_CERT_KEY,
    CRL_KEY,
    SECRET_TYPE_OPAQUE,
    SECRET_TYPE_TLS,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    CachedSecret,
    KubernetesCache,
    split_ref,
)
from contour.dag.model import ObjectRef, Secret

DELEGATION_NOT_PERMITTED = "Certificate delegation not permitted"

__all__ = ["split_ref"]  # re-exported: processors resolve "ns/name" references through this module


class SecretError(Exception):
    """The Secret is missing or unusable; str() is Contour's message."""


class DelegationNotPermittedError(SecretError):
    """The Secret lives in another namespace and no TLSCertificateDelegation grants it."""

    def __init__(self) -> None:
        super().__init__(DELEGATION_NOT_PERMITTED)


def delegation_permitted(cache: KubernetesCache, secret: ObjectRef, target_namespace: str) -> bool:
    """True when `target_namespace` may use `secret` (same namespace, or delegated to it or to "*")."""
    if secret.namespace == target_namespace:
        return True
    for ref, delegation in cache.delegations():
        if ref.namespace != secret.namespace:
            continue
        for d in delegation.spec.delegations:
            if d.secret_name != secret.name:
                continue
            targets = d.target_namespaces
            if (len(targets) == 1 and targets[0] == "*") or target_namespace in targets:
                return True
    return False


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(type, DER) for each PEM block; raises ValueError on a malformed block."""
    blocks: list[tuple[str, bytes]] = []
    text = data.decode("ascii", errors="replace")
    pos = 0
    while True:
        start = text.find("-----BEGIN ", pos)
        if start == -1:
            break
        header_end = text.find("-----", start + 11)
        if header_end == -1 or "\n" in text[start:header_end]:
            break
        label = text[start + 11 : header_end]
        end_marker = f"-----END {label}-----"
        end = text.find(end_marker, header_end + 5)
        if end == -1:
            raise ValueError("failed to parse PEM block")
        body = "".join(line for line in text[header_end + 5 : end].splitlines() if line and ":" not in line)
        try:
            der = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise ValueError("failed to parse PEM block") from exc
        blocks.append((label, der))
        pos = end + len(end_marker)
    return blocks


def _validate_serving_bundle(data: bytes) -> str | None:
    try:
        blocks = _pem_blocks(data)
    except ValueError as exc:
        return str(exc)
    if not blocks:
        return "failed to locate certificate"
    for i, (label, der) in enumerate(blocks):
        if label != "CERTIFICATE":
            return f"unexpected block type '{label}'"
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            return f"x509: {exc}"
        if i == 0 and not _has_name(cert):
            return "certificate has no common name or subject alt name"
    return None


def _has_name(cert: x509.Certificate) -> bool:
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if any(str(a.value).strip() for a in cns):
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return bool(san.get_values_for_type(x509.DNSName) or san.get_values_for_type(x509.IPAddress))


def _validate_private_key(data: bytes) -> str | None:
    try:
        blocks = _pem_blocks(data)
    except ValueError as exc:
        return str(exc)
    keys = 0
    for label, der in blocks:
        if label == "EC PARAMETERS":
            continue
        if label not in ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"):
            return f"unexpected block type '{label}'"
        pem = f"-----BEGIN {label}-----\n".encode() + _b64_lines(der) + f"-----END {label}-----\n".encode()
        try:
            load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            return f"x509: {exc}"
        keys += 1
    if keys == 0:
        return "failed to locate private key"
    if keys > 1:
        return "multiple private keys"
    return None


def _b64_lines(der: bytes) -> bytes:
    raw = base64.b64encode(der)
    return b"".join(raw[i : i + 64] + b"\n" for i in range(0, len(raw), 64))


def _validate_ca_bundle(data: bytes) -> str | None:
    try:
        blocks = _pem_blocks(data)
    except ValueError as exc:
        return str(exc)
    for label, _ in blocks:
        if label != "CERTIFICATE":
            return f"unexpected block type '{label}'"
    if not blocks:
        return "failed to locate certificate"
    return None


def _validate_crl(data: bytes) -> str | None:
    try:
        blocks = _pem_blocks(data)
    except ValueError as exc:
        return str(exc)
    if any(label == "X509 CRL" for label, _ in blocks):
        return None
    return "failed to locate CRL"


def _type_error(secret: CachedSecret) -> str | None:
    if secret.type not in (SECRET_TYPE_TLS, SECRET_TYPE_OPAQUE):
        return f'secret type is not "{SECRET_TYPE_TLS}" or "{SECRET_TYPE_OPAQUE}"'
    return None


def _tls_error(secret: CachedSecret) -> str | None:
    if err := _type_error(secret):
        return err
    cert = secret.data.get(TLS_CERT_KEY)
    if cert is None:
        return "missing TLS certificate"
    if err := _validate_serving_bundle(cert):
        return f"invalid TLS certificate: {err}"
    key = secret.data.get(TLS_KEY_KEY)
    if key is None:
        return "missing TLS private key"
    if err := _validate_private_key(key):
        return f"invalid TLS private key: {err}"
    if not _key_matches_certificate(cert, key):
        # Contour leaves this to Envoy, which NACKs the whole SDS update; reject it here instead.
        return "invalid TLS private key: private key does not match public key"
    return None


def _key_matches_certificate(cert: bytes, key: bytes) -> bool:
    """Whether the private key (already validated) belongs to the first certificate of the bundle."""
    _, cert_der = _pem_blocks(cert)[0]
    label, key_der = next(block for block in _pem_blocks(key) if block[0] != "EC PARAMETERS")
    pem = f"-----BEGIN {label}-----\n".encode() + _b64_lines(key_der) + f"-----END {label}-----\n".encode()
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    certificate_key = x509.load_der_x509_certificate(cert_der).public_key()
    return bool(
        certificate_key.public_bytes(*spki)
        == load_pem_private_key(pem, None).public_key().public_bytes(*spki)
    )


def _ca_error(secret: CachedSecret) -> str | None:
    if err := _type_error(secret):
        return err
    ca = secret.data.get(CA_CERT_KEY) or b""
    if not ca:
        return f'empty "{CA_CERT_KEY}" key'
    if err := _validate_ca_bundle(ca):
        return f"invalid CA certificate bundle: {err}"
    return None


def _crl_error(secret: CachedSecret) -> str | None:
    if err := _type_error(secret):
        return err
    crl = secret.data.get(CRL_KEY) or b""
    if not crl:
        return f'empty "{CRL_KEY}" key'
    return _validate_crl(crl)


_CHECKS = {"tls": _tls_error, "ca": _ca_error, "crl": _crl_error}


def _lookup(cache: KubernetesCache, ref: ObjectRef, purpose: str) -> Secret:
    cached = cache.secret(ref)
    if cached is None:
        raise SecretError("Secret not found")
    key = (ref, purpose)
    if key not in cache.secret_validation:
        cache.secret_validation[key] = _CHECKS[purpose](cached)
    err = cache.secret_validation[key]
    if err is not None:
        raise SecretError(err)
    d = cached.data
    return Secret(
        ref=ref,
        cert=d.get(TLS_CERT_KEY, b""),
        key=d.get(TLS_KEY_KEY, b""),
        ca=d.get(CA_CERT_KEY, b""),
        crl=d.get(CRL_KEY, b""),
    )


def lookup_tls_secret_insecure(cache: KubernetesCache, ref: ObjectRef) -> Secret:
    """A certificate and key, without a delegation check (for Secrets the administrator configured)."""
    return _lookup(cache, ref, "tls")


def _delegated_lookup(cache: KubernetesCache, ref: ObjectRef, target_namespace: str, kind: str) -> Secret:
    if not delegation_permitted(cache, ref, target_namespace):
        raise DelegationNotPermittedError()
    return _lookup(cache, ref, kind)


def lookup_tls_secret(cache: KubernetesCache, ref: ObjectRef, target_namespace: str) -> Secret:
    """A certificate and key for an object in `target_namespace`; raises SecretError / delegation error."""
    return _delegated_lookup(cache, ref, target_namespace, "tls")


def lookup_ca_secret(cache: KubernetesCache, ref: ObjectRef, target_namespace: str) -> Secret:
    """A CA bundle (key ca.crt) for an object in `target_namespace`."""
    return _delegated_lookup(cache, ref, target_namespace, "ca")


def lookup_crl_secret(cache: KubernetesCache, ref: ObjectRef, target_namespace: str) -> Secret:
    """A certificate revocation list (key crl.pem) for an object in `target_namespace`."""
    return _delegated_lookup(cache, ref, target_namespace, "crl")
