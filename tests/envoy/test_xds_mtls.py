"""certgen + bootstrap together: the real Envoy reaches an xDS address over mutual TLS and HTTP/2."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contour.certgen.certs import generate_certs
from contour.certgen.output import pem_files, write_files
from contour.cli.app import app
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclass
class Handshake:
    """What the fake xDS server saw from one connection."""

    peer_common_name: str | None = None
    tls_version: str | None = None
    first_bytes: bytes = b""
    error: str | None = None


@contextlib.asynccontextmanager
async def tls_endpoint(context: ssl.SSLContext, seen: asyncio.Queue[Handshake]) -> AsyncIterator[int]:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        result = Handshake()
        try:
            await writer.start_tls(context)
            peer = writer.get_extra_info("peercert")
            result.peer_common_name = dict(x[0] for x in peer["subject"]).get("commonName")
            result.tls_version = writer.get_extra_info("ssl_object").version()
            result.first_bytes = await reader.readexactly(len(HTTP2_PREFACE))
        except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError) as error:
            result.error = repr(error)
        await seen.put(result)
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def contour_server_context(pem_dir: Path) -> ssl.SSLContext:
    """What Contour's xDS server does: serve contourcert, require a client certificate from the CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pem_dir / "cacert.pem")
    context.load_cert_chain(pem_dir / "contourcert.pem", pem_dir / "contourkey.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    return context


async def first_handshake(tmp_path: Path, pem_dir: Path) -> Handshake:
    """Start Envoy on a TLS bootstrap from `contour bootstrap` against a TLS endpoint; its first attempt."""
    seen: asyncio.Queue[Handshake] = asyncio.Queue()
    async with tls_endpoint(contour_server_context(pem_dir), seen) as port:
        path = tmp_path / "envoy.json"
        result = CliRunner().invoke(
            app,
            [
                "bootstrap",
                str(path),
                "--xds-port",
                str(port),
                "--admin-address",
                "127.0.0.1",
                "--admin-port",
                "0",
                "--resources-dir",
                str(tmp_path / "resources"),
                "--envoy-cafile",
                str(pem_dir / "cacert.pem"),
                "--envoy-cert-file",
                str(pem_dir / "envoycert.pem"),
                "--envoy-key-file",
                str(pem_dir / "envoykey.pem"),
            ],
        )
        assert result.exit_code == 0, result.output
        bootstrap: dict[str, Any] = json.loads(path.read_text())
        envoy = EnvoyProcess(bootstrap, tmp_path / "envoy", EnvoyOptions(concurrency=1))
        runner = asyncio.create_task(envoy.run())
        try:
            return await asyncio.wait_for(seen.get(), timeout=20.0)
        finally:
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner


async def test_envoy_connects_with_its_client_certificate(tmp_path: Path, pem_dir: Path) -> None:
    seen = await first_handshake(tmp_path, pem_dir)
    assert seen.error is None
    assert (seen.peer_common_name, seen.tls_version, seen.first_bytes) == ("envoy", "TLSv1.3", HTTP2_PREFACE)


async def test_envoy_refuses_a_server_without_the_contour_name(tmp_path: Path) -> None:
    """A server certificate from the right CA but named `xds`, not `contour`: Envoy must hang up."""
    misnamed = generate_certs(now=datetime.datetime.now(datetime.UTC), contour_service="xds")
    write_files(tmp_path / "certs", pem_files(misnamed))
    seen = await first_handshake(tmp_path, tmp_path / "certs")
    assert seen.first_bytes == b""
    assert seen.error is not None
    assert "CERTIFICATE_UNKNOWN" in seen.error  # Envoy's alert: it could not verify our certificate
