"""`contour echo --mode udp`: every datagram answered with its payload and the pod context."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.echo.conftest import IDENTITY
from tests.echo.process import EchoProcess, contour_binary


@pytest.fixture(scope="module")
def udp_echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoProcess]:
    args = ["--mode", "udp", "--udp-port", "0"]
    for flag, value in IDENTITY.items():
        args += [f"--{flag}", value]
    stderr = tmp_path_factory.mktemp("udp-echo") / "stderr.log"
    process = EchoProcess(*args, stderr_path=stderr)
    with process:
        yield process
    complaints = process.stderr()
    assert "Traceback" not in complaints, complaints
    assert "Exception in callback" not in complaints, complaints


@pytest.fixture
def client() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)  # the deadline for every answer
        yield sock


def exchange(sock: socket.socket, echo: EchoProcess, payload: bytes) -> bytes:
    sock.sendto(payload, ("127.0.0.1", echo.ports["udp"]))
    answer, sender = sock.recvfrom(65536)
    assert sender == ("127.0.0.1", echo.ports["udp"])
    return answer


def test_datagram_is_answered_with_payload_and_pod_context(
    udp_echo: EchoProcess, client: socket.socket
) -> None:
    answer = json.loads(exchange(client, udp_echo, b"hello udp"))
    assert answer == {
        "request": "hello udp",
        "namespace": IDENTITY["namespace"],
        "ingress": IDENTITY["ingress"],
        "service": IDENTITY["service"],
        "pod": IDENTITY["pod"],
    }
    assert list(answer) == ["request", "namespace", "ingress", "service", "pod"]


@pytest.mark.parametrize(
    ("payload", "raw_answer_part"),
    [
        (b"<a&b>", b'"request":"\\u003ca\\u0026b\\u003e"'),
        (b"caf\xc3\xa9", '"request":"café"'.encode()),
        (b"bad \xff byte", '"request":"bad \ufffd byte"'.encode()),
        (b"", b'"request":""'),
    ],
    ids=["html-characters-escaped-like-go", "utf8-kept", "invalid-utf8-replaced", "empty-datagram"],
)
def test_payload_is_encoded_like_go_json(
    udp_echo: EchoProcess, client: socket.socket, payload: bytes, raw_answer_part: bytes
) -> None:
    assert exchange(client, udp_echo, payload).startswith(b"{" + raw_answer_part + b",")


def test_each_datagram_gets_its_own_answer(udp_echo: EchoProcess, client: socket.socket) -> None:
    answers = [json.loads(exchange(client, udp_echo, f"n{index}".encode()))["request"] for index in range(3)]
    assert answers == ["n0", "n1", "n2"]


def test_answers_go_back_to_each_sender(udp_echo: EchoProcess) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second,
    ):
        for sock in (first, second):
            sock.settimeout(10)
        first.sendto(b"from first", ("127.0.0.1", udp_echo.ports["udp"]))
        second.sendto(b"from second", ("127.0.0.1", udp_echo.ports["udp"]))
        assert json.loads(second.recv(65536))["request"] == "from second"
        assert json.loads(first.recv(65536))["request"] == "from first"


def test_long_datagram_is_echoed_whole(udp_echo: EchoProcess, client: socket.socket) -> None:
    payload = b"x" * 4000  # the reference server would cut this at 1,024 bytes
    assert json.loads(exchange(client, udp_echo, payload))["request"] == payload.decode()


def test_every_datagram_is_logged(udp_echo: EchoProcess, client: socket.socket) -> None:
    exchange(client, udp_echo, b"log me\n")
    port = client.getsockname()[1]
    udp_echo.wait_for_line(f'Received UDP "log me\\n" from 127.0.0.1:{port}')


def test_udp_echo_server_switch_selects_udp_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, client: socket.socket
) -> None:
    monkeypatch.setenv("UDP_ECHO_SERVER", "1")
    monkeypatch.setenv("UDP_PORT", "0")
    monkeypatch.setenv("POD_NAME", "switched-pod")
    process = EchoProcess(stderr_path=tmp_path / "stderr.log")
    with process:
        assert set(process.ports) == {"udp"}
        assert json.loads(exchange(client, process, b"hi"))["pod"] == "switched-pod"


def test_udp_mode_refuses_tls_options(tmp_path: Path) -> None:
    cert = tmp_path / "unused.pem"
    cert.write_text("unused")
    done = subprocess.run(
        [str(contour_binary()), "echo", "--mode", "udp", "--tls-cert", str(cert), "--tls-key", str(cert)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--mode udp has no TLS listener" in " ".join(done.stderr.split())
