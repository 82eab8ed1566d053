"""Issue 6's variant of the HTTPProxy benchmark workload: every proxy also uses policies.

Each proxy of ``bench/httpproxy.py``'s workload additionally terminates TLS (one wildcard certificate
per namespace, in a Secret of that namespace), is checked by an external authorization server (one
ExtensionService ``authz/authz`` backed by a Service with 2 endpoints), has a local rate limit on its
virtual host, and sets and removes request and response headers on every route. There is no
hand-built floor for this workload: its figures are reported beside the plain workload's.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

AUTHZ_NAMESPACE = "authz"
AUTHZ_NAME = "authz"
AUTHZ_PORT = 9001
SECRET_NAME = "wildcard-tls"


@cache
def _wildcard_pem() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.example.com")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.example.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def with_policies(proxy: dict[str, Any], i: int) -> dict[str, Any]:
    """``proxy`` (one of the plain workload's) with TLS, ext_authz, a local rate limit and headers."""
    spec = proxy["spec"]
    spec["virtualhost"]["tls"] = {"secretName": SECRET_NAME}
    spec["virtualhost"]["authorization"] = {
        "extensionRef": {"name": AUTHZ_NAME, "namespace": AUTHZ_NAMESPACE},
        "responseTimeout": "500ms",
    }
    spec["virtualhost"]["rateLimitPolicy"] = {"local": {"requests": 100, "unit": "second", "burst": 20}}
    for route in spec["routes"]:
        request = route.setdefault("requestHeadersPolicy", {})
        request.setdefault("set", []).append({"name": "x-proxy", "value": f"proxy-{i}"})
        request["remove"] = ["x-debug"]
        route["responseHeadersPolicy"] = {
            "set": [{"name": "x-served-by", "value": "%CONTOUR_SERVICE_NAME%"}],
            "remove": ["x-internal"],
        }
    return proxy


def secret(namespace: str) -> dict[str, Any]:
    cert, key = _wildcard_pem()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
    }


def authorization_objects() -> Iterator[dict[str, Any]]:
    """The ExtensionService every proxy uses, its Service and an EndpointSlice of 2 endpoints."""
    yield {
        "apiVersion": "projectcontour.io/v1alpha1",
        "kind": "ExtensionService",
        "metadata": {"name": AUTHZ_NAME, "namespace": AUTHZ_NAMESPACE, "generation": 1},
        "spec": {"protocol": "h2c", "services": [{"name": AUTHZ_NAME, "port": AUTHZ_PORT}]},
    }
    yield {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": AUTHZ_NAME, "namespace": AUTHZ_NAMESPACE},
        "spec": {"ports": [{"port": AUTHZ_PORT, "targetPort": AUTHZ_PORT, "protocol": "TCP"}]},
    }
    yield {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{AUTHZ_NAME}-abcde",
            "namespace": AUTHZ_NAMESPACE,
            "labels": {"kubernetes.io/service-name": AUTHZ_NAME},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [f"10.250.0.{e}"], "conditions": {"ready": True}} for e in (1, 2)],
        "ports": [{"name": "", "port": AUTHZ_PORT, "protocol": "TCP"}],
    }
