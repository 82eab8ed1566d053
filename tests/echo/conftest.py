"""Fixtures for the echo tier: one shared `contour echo` with all three listeners, and its PKI."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.echo.certs import SERVER_NAME, IssuedCert, TestPKI
from tests.echo.process import EchoProcess

IDENTITY = {"namespace": "echo-ns", "pod": "echo-pod-1", "service": "echo-svc", "ingress": "echo-ing"}


@dataclass(frozen=True)
class EchoPKI:
    ca: IssuedCert
    server: IssuedCert
    client: IssuedCert
    stranger: IssuedCert
    """A client certificate from a CA the echo server does not trust."""

    def client_context(
        self, *, client: IssuedCert | None = None, alpn: tuple[str, ...] = ()
    ) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca.cert))
        if client is not None:
            context.load_cert_chain(client.cert, client.key)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        return context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> EchoPKI:
    directory = tmp_path_factory.mktemp("echo-pki")
    authority = TestPKI(directory)
    other = TestPKI(directory, ca_name="untrusted CA")
    return EchoPKI(
        ca=authority.ca,
        server=authority.issue("server", SERVER_NAME, server=True),
        client=authority.issue("client", "echo client", server=False),
        stranger=other.issue("stranger", "stranger", server=False),
    )


@pytest.fixture(scope="session")
def echo(pki: EchoPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoProcess]:
    args = [
        "--port", "0",
        "--h2c-port", "0",
        "--tls-port", "0",
        "--tls-cert", str(pki.server.cert),
        "--tls-key", str(pki.server.key),
        "--client-ca", str(pki.ca.cert),
    ]  # fmt: skip
    for flag, value in IDENTITY.items():
        args += [f"--{flag}", value]
    stderr = tmp_path_factory.mktemp("echo-logs") / "stderr.log"
    with EchoProcess(*args, stderr_path=stderr) as process:
        yield process
    complaints = process.stderr()
    # Bad peers are logged in one line each; an unhandled exception would show a traceback.
    assert "Traceback" not in complaints, complaints
    assert "error handling" not in complaints, complaints


@pytest.fixture
def fresh_echo(tmp_path: Path) -> Iterator[EchoProcess]:
    """A private `contour echo` (HTTP and h2c) for tests that end the process."""
    with EchoProcess("--port", "0", "--h2c-port", "0", stderr_path=tmp_path / "stderr.log") as process:
        yield process
