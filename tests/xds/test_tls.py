"""mTLS: only clients with a certificate from the configured CA get a stream."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.server import XdsServer, start_server
from contour.xds.tls import TlsFiles
from tests.xds import builders as b
from tests.xds.certs import CertificateAuthority, Pem
from tests.xds.client import SotwClient, names_of


@dataclass
class Pki:
    ca: CertificateAuthority
    files: TlsFiles
    client: Pem


def _install(directory: Path, ca: CertificateAuthority) -> TlsFiles:
    cert, key = ca.issue("contour", server=True).write(directory, "server")
    ca_file = directory / "ca.crt"
    ca_file.write_bytes(ca.pem)
    return TlsFiles(cert_file=cert, key_file=key, ca_file=ca_file)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = CertificateAuthority("xds-ca")
    return Pki(ca, _install(tmp_path, ca), ca.issue("envoy", server=False))


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[XdsServer]:
    cache = SnapshotCache()
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    server = await start_server(cache, "127.0.0.1", 0, tls=pki.files)
    try:
        yield server
    finally:
        await server.stop(None)


async def _clusters(port: int, ca_pem: bytes, client: Pem | None) -> list[str]:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca_pem,
        private_key=client.key if client else None,
        certificate_chain=client.cert if client else None,
    )
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        stream = SotwClient.ads(channel)
        await stream.request(typeurls.CLUSTER)
        return names_of(await stream.recv())


async def test_client_with_a_certificate_from_the_ca_is_served(tls_server: XdsServer, pki: Pki) -> None:
    assert await _clusters(tls_server.port, pki.ca.pem, pki.client) == ["a"]


@pytest.mark.parametrize("client", ["other-ca", "no-certificate"])
async def test_other_clients_are_rejected(tls_server: XdsServer, pki: Pki, client: str) -> None:
    credentials = (
        CertificateAuthority("intruder").issue("envoy", server=False) if client == "other-ca" else None
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _clusters(tls_server.port, pki.ca.pem, credentials)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert tls_server.open_streams() == 0


async def test_rotated_certificates_apply_to_new_connections(
    tls_server: XdsServer, pki: Pki, tmp_path: Path
) -> None:
    new_ca = CertificateAuthority("xds-ca-2")
    _install(tmp_path, new_ca)
    assert await _clusters(tls_server.port, new_ca.pem, new_ca.issue("envoy", server=False)) == ["a"]
    with pytest.raises(grpc.aio.AioRpcError):
        await _clusters(tls_server.port, pki.ca.pem, pki.client)


async def test_plaintext_client_is_rejected(tls_server: XdsServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{tls_server.port}") as channel:
        stream = SotwClient.ads(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stream.request(typeurls.CLUSTER)
            await stream.recv()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
