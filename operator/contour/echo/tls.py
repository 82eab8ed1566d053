"""TLS for the echo backend's HTTPS port: the server context, and the handshake facts it echoes.

Python's ssl module names cipher suites the OpenSSL way (`ECDHE-RSA-AES128-GCM-SHA256`) while the
echo contract uses Go's `tls.CipherSuiteName`, i.e. the IANA names; the table below maps the IANA
code points Go knows, and, like Go, anything else is printed as `0xXXXX`.
"""

from __future__ import annotations

import ssl
import weakref
from pathlib import Path

from contour.echo.exchange import TLSDetails

_GO_CIPHER_SUITE_NAMES = {
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
}

# The SNI each handshake carried. The server side of an SSLObject does not keep it, so the SNI
# callback records it here; entries go away with their connection.
_server_names: weakref.WeakKeyDictionary[ssl.SSLObject | ssl.SSLSocket, str] = weakref.WeakKeyDictionary()


def _remember_server_name(
    connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _context: ssl.SSLContext
) -> None:
    if server_name:
        _server_names[connection] = server_name


class EchoTLS:
    """The HTTPS listener's SSL context and the cipher naming that goes with it."""

    def __init__(self, cert: Path, key: Path, client_ca: Path | None = None) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.set_alpn_protocols(["h2", "http/1.1"])
        if client_ca is not None:
            # Go's VerifyClientCertIfGiven: a client may come without a certificate, but one it
            # presents must chain to the given CAs.
            context.load_verify_locations(cafile=client_ca)
            context.verify_mode = ssl.CERT_OPTIONAL
        context.sni_callback = _remember_server_name
        self.context = context
        self._iana_names = {
            str(cipher["name"]): go_cipher_suite_name(int(cipher["id"]) & 0xFFFF)
            for cipher in context.get_ciphers()
        }

    def details(self, connection: ssl.SSLObject) -> TLSDetails:
        cipher = connection.cipher()
        cipher_name = cipher[0] if cipher else ""
        peer = connection.getpeercert(binary_form=True)
        return TLSDetails(
            version=connection.version() or "",
            server_name=_server_names.get(connection, ""),
            negotiated_protocol=connection.selected_alpn_protocol() or "",
            cipher_suite=self._iana_names.get(cipher_name, cipher_name),
            peer_certificates=(ssl.DER_cert_to_PEM_cert(peer),) if peer else (),
        )


def go_cipher_suite_name(code: int) -> str:
    return _GO_CIPHER_SUITE_NAMES.get(code, f"0x{code:04X}")
