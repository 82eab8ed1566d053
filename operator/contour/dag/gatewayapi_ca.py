"""CA certificate bundles that Gateway API objects name (BackendTLSPolicy, Gateway frontend TLS).

A reference names a ConfigMap or a Secret whose `ca.crt` must hold at least one PEM certificate.
Both callers report their own condition; this module only finds the bundle or says what is wrong.
"""

from __future__ import annotations

from cryptography import x509

from contour.dag.cache import CA_CERT_KEY, KubernetesCache
from contour.dag.model import ObjectRef

CA_KINDS = ("ConfigMap", "Secret")


def ca_bundle(cache: KubernetesCache, kind: str, target: ObjectRef) -> tuple[bytes, str | None]:
    """The newline-terminated PEM bundle of `kind` `target` (a ConfigMap or Secret), or (b"", why not)."""
    found = cache.configmaps.get(target) if kind == "ConfigMap" else cache.secret(target)
    data = found.data.get(CA_CERT_KEY) if found is not None else None
    if not data:
        return b"", f'caCertificateRef {kind} {target}: not found or has no "{CA_CERT_KEY}" key'
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        return (
            b"",
            f'caCertificateRef {kind} {target}: "{CA_CERT_KEY}" is not a PEM certificate bundle ({exc})',
        )
    if not certificates:
        return b"", f'caCertificateRef {kind} {target}: "{CA_CERT_KEY}" holds no certificate'
    return (data if data.endswith(b"\n") else data + b"\n"), None
