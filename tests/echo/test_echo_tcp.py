"""`contour echo --mode tcp`: greeting, TEST / IS_TLS / PING answers, plaintext and TLS, on real sockets."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from tests.echo.certs import SERVER_NAME
from tests.echo.conftest import IDENTITY, EchoPKI
from tests.echo.process import EchoProcess

WELCOME = b"Gateway API Test TCP Server\n"
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


@pytest.fixture(scope="module")
def tcp_echo(pki: EchoPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoProcess]:
    args = ["--mode", "tcp", "--port", "0", "--tls-port", "0"]
    args += ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    for flag, value in IDENTITY.items():
        args += [f"--{flag}", value]
    stderr = tmp_path_factory.mktemp("tcp-echo") / "stderr.log"
    process = EchoProcess(*args, stderr_path=stderr)
    with process:
        yield process
    complaints = process.stderr()
    assert "Traceback" not in complaints, complaints
    assert "Exception in callback" not in complaints, complaints


class LineClient:
    """A connected client reading the server's lines with a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        self.sock = sock
        self.file = sock.makefile("rb")

    def line(self) -> bytes:
        return self.file.readline()

    def ask(self, request: bytes) -> bytes:
        self.sock.sendall(request)
        return self.line()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset, when our bytes were left unread, counts)."""
    sock.settimeout(10)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        return received  # the server closed with our bytes unread
    return received


@pytest.fixture
def plain(tcp_echo: EchoProcess) -> Iterator[LineClient]:
    client = LineClient(socket.create_connection(("127.0.0.1", tcp_echo.ports["tcp"]), timeout=10))
    yield client
    client.close()


def tls_client(echo: EchoProcess, pki: EchoPKI, *, alpn: tuple[str, ...] = ()) -> LineClient:
    raw = socket.create_connection(("127.0.0.1", echo.ports["tls"]), timeout=10)
    return LineClient(pki.client_context(alpn=alpn).wrap_socket(raw, server_hostname=SERVER_NAME))


@pytest.fixture
def tls(tcp_echo: EchoProcess, pki: EchoPKI) -> Iterator[LineClient]:
    client = tls_client(tcp_echo, pki)
    yield client
    client.close()


def test_greeting_comes_first(plain: LineClient) -> None:
    assert plain.line() == WELCOME


@pytest.mark.parametrize(
    ("request_line", "answer"),
    [(b"PING\n", b"PONG\n"), (b"IS_TLS\n", b"false\n"), (b"PING\r\n", b"PONG\n")],
    ids=["ping", "is-tls-plaintext", "crlf-line-ending"],
)
def test_plaintext_answers(plain: LineClient, request_line: bytes, answer: bytes) -> None:
    plain.line()
    assert plain.ask(request_line) == answer


def test_unknown_lines_get_no_answer(plain: LineClient) -> None:
    plain.line()
    # Had HELLO been answered, its answer would be read here instead of PING's.
    assert plain.ask(b"HELLO\nPING\n") == b"PONG\n"


def test_test_line_reports_pod_and_ports_in_reference_order(tcp_echo: EchoProcess, plain: LineClient) -> None:
    plain.line()
    answer: dict[str, Any] = json.loads(plain.ask(b"TEST\n"))
    assert answer == {
        "namespace": IDENTITY["namespace"],
        "ingress": IDENTITY["ingress"],
        "service": IDENTITY["service"],
        "pod": IDENTITY["pod"],
        "tcpport": str(tcp_echo.ports["tcp"]),
        "tlsport": str(tcp_echo.ports["tls"]),
        "isTLS": False,
    }
    assert list(answer) == ["namespace", "ingress", "service", "pod", "tcpport", "tlsport", "isTLS"]


def test_test_answer_is_one_compact_line(plain: LineClient) -> None:
    plain.line()
    answer = plain.ask(b"TEST\n")
    assert answer.endswith(b"}\n")
    assert b"\n" not in answer[:-1]
    assert b": " not in answer


def test_tls_listener_greets_and_says_it_is_tls(tls: LineClient) -> None:
    assert tls.line() == WELCOME
    assert tls.ask(b"IS_TLS\n") == b"true\n"


def test_tls_test_line_reports_the_handshake(tls: LineClient) -> None:
    tls.line()
    answer = json.loads(tls.ask(b"TEST\n"))
    assert answer["isTLS"] is True
    handshake = answer["tls"]
    assert (handshake["version"], handshake["serverName"]) == ("TLS 1.3", SERVER_NAME)
    assert handshake["cipherSuite"] in TLS13_SUITES
    assert list(handshake) == ["version", "serverName", "cipherSuite"]


def test_tls_listener_negotiates_no_alpn_protocol(tcp_echo: EchoProcess, pki: EchoPKI) -> None:
    client = tls_client(tcp_echo, pki, alpn=("h2", "http/1.1"))
    try:
        client.line()
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.sock.selected_alpn_protocol() is None
        assert "negotiatedProtocol" not in json.loads(client.ask(b"TEST\n"))["tls"]
    finally:
        client.close()


def test_overlong_line_closes_only_that_connection(tcp_echo: EchoProcess, plain: LineClient) -> None:
    plain.line()
    plain.sock.sendall(b"X" * (70 * 1024) + b"\nPING\n")
    assert read_until_closed(plain.sock) == b""  # PING unanswered
    with socket.create_connection(("127.0.0.1", tcp_echo.ports["tcp"]), timeout=10) as sock:
        fresh = LineClient(sock)
        assert fresh.line() == WELCOME
        assert fresh.ask(b"PING\n") == b"PONG\n"
        fresh.file.close()


def test_last_line_without_newline_is_answered_before_close(plain: LineClient) -> None:
    plain.line()
    plain.sock.sendall(b"PING")
    plain.sock.shutdown(socket.SHUT_WR)
    assert plain.line() == b"PONG\n"


def test_failed_tls_handshake_leaves_the_listener_serving(tcp_echo: EchoProcess, pki: EchoPKI) -> None:
    with socket.create_connection(("127.0.0.1", tcp_echo.ports["tls"]), timeout=10) as sock:
        sock.sendall(b"PING\n" * 100)  # not a ClientHello
        read_until_closed(sock)
    client = tls_client(tcp_echo, pki)
    try:
        assert client.line() == WELCOME
    finally:
        client.close()
