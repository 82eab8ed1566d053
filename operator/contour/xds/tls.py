"""mTLS for the xDS server: Envoy must present a certificate signed by the configured CA.

The files are re-read at each TLS handshake (gRPC's dynamic server credentials) and a changed
content takes effect for that connection, so rotated certificates (``contour certgen``,
cert-manager) apply without a restart, as in Contour. Handshakes are rare (one per Envoy
connection) and the files are a few KiB, so content is compared rather than modification times,
whose granularity can hide a quick rewrite.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the server's certificate and key, and the CA that signs client certificates."""

    cert_file: Path
    key_file: Path
    ca_file: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """Certificate, key and CA bytes."""
        return self.cert_file.read_bytes(), self.key_file.read_bytes(), self.ca_file.read_bytes()


def _configuration(pems: tuple[bytes, bytes, bytes]) -> Any:
    cert, key, ca = pems
    return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)


class _Reloader:
    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._pems = files.read()
        self.initial = _configuration(self._pems)

    def fetch(self) -> Any:
        """Called by gRPC before each handshake: a new configuration, or None to keep the current one."""
        try:
            pems = self._files.read()
        except OSError as error:  # half-done rotation: keep serving with the previous files
            log.warning("xDS TLS files unreadable, keeping the previous ones: %s", error)
            return None
        if pems == self._pems:
            return None
        self._pems = pems
        log.info("xDS TLS certificates reloaded from %s", self._files.cert_file)
        return _configuration(pems)


def server_credentials(files: TlsFiles) -> Any:
    """gRPC server credentials requiring a client certificate signed by ``files.ca_file``."""
    reloader = _Reloader(files)
    return grpc.dynamic_ssl_server_credentials(
        reloader.initial, reloader.fetch, require_client_authentication=True
    )
