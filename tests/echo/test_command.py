"""`contour echo` as a command: refusing bad option combinations and ports it cannot bind."""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.echo.process import contour_binary


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--tls-port", "0"], "--tls-port needs --tls-cert and --tls-key"),
        (["--tls-cert", "/nonexistent.crt"], "--tls-cert and --tls-key go together"),
    ],
    ids=["tls-port-without-cert", "cert-without-key"],
)
def test_incomplete_tls_options_are_a_usage_error(args: list[str], complaint: str) -> None:
    done = subprocess.run(
        [str(contour_binary()), "echo", "--port", "0", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert complaint in " ".join(done.stderr.split())


def test_port_in_use_exits_one_with_a_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(contour_binary()), "echo", "--address", "127.0.0.1", "--port", str(port)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "address already in use" in done.stderr.lower()
