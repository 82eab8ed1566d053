"""The HTTPS listener: the `tls` object of the echo body, client certificates, and ALPN h2."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from tests.echo.certs import SERVER_NAME
from tests.echo.conftest import EchoPKI
from tests.echo.process import EchoProcess

TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


def get_over_tls(
    echo: EchoProcess, context: ssl.SSLContext, *, http2: bool = False, path: str = "/tls"
) -> httpx.Response:
    with httpx.Client(verify=context, http1=not http2, http2=http2, timeout=10) as client:
        return client.get(echo.url("https", path), extensions={"sni_hostname": SERVER_NAME})


def tls_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    tls: dict[str, Any] = response.json()["tls"]
    return tls


def test_tls_object_reports_version_sni_alpn_and_cipher(echo: EchoProcess, pki: EchoPKI) -> None:
    tls = tls_of(get_over_tls(echo, pki.client_context()))
    assert tls["version"] == "TLSv1.3"
    assert tls["serverName"] == SERVER_NAME
    assert tls["negotiatedProtocol"] == "http/1.1"
    assert tls["cipherSuite"] in TLS13_SUITES
    assert "peerCertificates" not in tls


def test_tls12_cipher_suite_uses_the_go_iana_name(echo: EchoProcess, pki: EchoPKI) -> None:
    context = pki.client_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    tls = tls_of(get_over_tls(echo, context))
    assert (tls["version"], tls["cipherSuite"]) == ("TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")


def test_client_certificate_is_echoed_as_pem(echo: EchoProcess, pki: EchoPKI) -> None:
    tls = tls_of(get_over_tls(echo, pki.client_context(client=pki.client)))
    assert tls["peerCertificates"] == [pki.client.pem()]


def test_client_certificate_from_an_untrusted_ca_is_refused(echo: EchoProcess, pki: EchoPKI) -> None:
    with pytest.raises(httpx.TransportError):
        get_over_tls(echo, pki.client_context(client=pki.stranger))


def test_alpn_h2_is_served_over_http2(echo: EchoProcess, pki: EchoPKI) -> None:
    response = get_over_tls(echo, pki.client_context(), http2=True)
    assert response.http_version == "HTTP/2"
    body = response.json()
    assert (body["proto"], body["tls"]["negotiatedProtocol"]) == ("HTTP/2.0", "h2")
    assert body["httpPort"] == str(echo.ports["https"])


def test_plain_listener_has_no_tls_object(echo: EchoProcess) -> None:
    with httpx.Client(timeout=10) as client:
        assert "tls" not in client.get(echo.url("http")).json()
