"""The echo contract over HTTP/1.1 on the plain listener: body fields, headers, handlers, log line."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.echo.conftest import IDENTITY
from tests.echo.process import EchoProcess


@pytest.fixture
def client(echo: EchoProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=echo.url("http"), timeout=10) as http:
        yield http


def raw_exchange(port: int, request: bytes) -> tuple[bytes, int]:
    """Send raw bytes and read until the server closes; returns the bytes and our local port."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        local_port = sock.getsockname()[1]
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks), local_port


def test_echo_body_describes_the_request(echo: EchoProcess, client: httpx.Client) -> None:
    response = client.get("/?animal=whale", headers={"X-Header-Set": "one"})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "path": "/?animal=whale",
        "host": f"127.0.0.1:{echo.ports['http']}",
        "method": "GET",
        "proto": "HTTP/1.1",
        "headers": body["headers"],
        "httpPort": str(echo.ports["http"]),
        **IDENTITY,
    }
    assert body["headers"]["X-Header-Set"] == ["one"]
    assert "Host" not in body["headers"]


def test_echo_body_is_pretty_printed_like_go(client: httpx.Client) -> None:
    text = client.get("/pretty").text
    assert text.startswith('{\n "path": "/pretty",\n "host": ')
    assert text.endswith('\n "pod": "echo-pod-1"\n}')


@pytest.mark.parametrize(
    "target",
    ["/a%20b?q=1&q=2", "//double//slashes?x=/y", "/?escaped=%3Cscript%3E"],
    ids=["percent-encoded", "double-slashes", "escaped-query"],
)
def test_path_is_the_raw_request_uri(echo: EchoProcess, target: str) -> None:
    raw, _ = raw_exchange(
        echo.ports["http"], f"GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".encode()
    )
    body = httpx.Response(200, content=raw.partition(b"\r\n\r\n")[2]).json()
    assert body["path"] == target


def test_headers_use_go_canonical_names_and_keep_every_value(echo: EchoProcess) -> None:
    request = (
        b"GET / HTTP/1.1\r\nHost: h\r\nx-forwarded-for: 10.0.0.1\r\nX-MULTI: a\r\nx-multi: b\r\n"
        b"Connection: close\r\n\r\n"
    )
    raw, _ = raw_exchange(echo.ports["http"], request)
    headers = httpx.Response(200, content=raw.partition(b"\r\n\r\n")[2]).json()["headers"]
    assert headers["X-Forwarded-For"] == ["10.0.0.1"]
    assert headers["X-Multi"] == ["a", "b"]


def test_echo_sets_json_content_type_and_nosniff(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("set_headers", "expected"),
    [
        (["X-Foo:bar"], {"x-foo": "bar"}),
        (["X-Foo:bar, X-Baz:qux"], {"x-foo": "bar", "x-baz": "qux"}),
        (["X-Foo:one", "X-Foo:two"], {"x-foo": "one,two"}),
    ],
    ids=["one-pair", "comma-separated-pairs", "repeated-name-joined"],
)
def test_x_echo_set_header_is_reflected(
    client: httpx.Client, set_headers: list[str], expected: dict[str, str]
) -> None:
    response = client.get("/", headers=[("X-Echo-Set-Header", value) for value in set_headers])
    assert {name: response.headers.get(name) for name in expected} == expected


@pytest.mark.parametrize("code", [200, 204, 302, 404, 418, 503])
def test_status_path_answers_that_status_with_no_body(client: httpx.Client, code: int) -> None:
    response = client.get(f"/status/{code}")
    assert (response.status_code, response.content) == (code, b"")


def test_status_path_that_is_not_three_digits_is_a_400(client: httpx.Client) -> None:
    assert client.get("/status/abc").status_code == 400


def test_health_answers_ok(client: httpx.Client) -> None:
    response = client.get("/health")
    assert (response.status_code, response.text) == (200, "OK")


def test_double_slashes_collapse_for_routing(echo: EchoProcess) -> None:
    raw, _ = raw_exchange(
        echo.ports["http"], b"GET //health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"\r\n\r\nOK")


def test_delay_sleeps_before_echoing(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.get("/?delay=300ms")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.3


@pytest.mark.parametrize(
    ("delay", "message"),
    [
        ("abc", 'time: invalid duration "abc"'),
        ("10", 'time: missing unit in duration "10"'),
        ("10y", 'time: unknown unit "y" in duration "10y"'),
    ],
    ids=["not-a-duration", "missing-unit", "unknown-unit"],
)
def test_bad_delay_is_a_500_with_go_message(client: httpx.Client, delay: str, message: str) -> None:
    response = client.get("/", params={"delay": delay})
    assert response.status_code == 500
    assert response.json() == {"message": message}


def test_retry_resets_the_connection_then_echoes(echo: EchoProcess, client: httpx.Client) -> None:
    target = f"/retry/?uuid={uuid.uuid4()}&succeedAfter=1"
    with socket.create_connection(("127.0.0.1", echo.ports["http"]), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
        with pytest.raises(ConnectionResetError):
            sock.recv(65536)
    response = client.get(target)
    assert (response.status_code, response.json()["path"]) == (200, target)


def test_retry_fails_with_response_code_until_succeed_after(client: httpx.Client) -> None:
    target = f"/retry/?uuid={uuid.uuid4()}&succeedAfter=2&responseCode=503"
    codes = [client.get(target).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_retry_failure_waits_for_delay_retry(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.get(f"/retry/?uuid={uuid.uuid4()}&succeedAfter=1&responseCode=500&delayRetry=200ms")
    assert response.status_code == 500
    assert time.monotonic() - started >= 0.2


def test_retry_attempts_are_counted_per_uuid(client: httpx.Client) -> None:
    first, second = (f"/retry/?uuid={uuid.uuid4()}&succeedAfter=1&responseCode=502" for _ in range(2))
    assert [client.get(first).status_code, client.get(second).status_code] == [502, 502]


def test_each_echo_logs_the_request_uri_and_client_address(echo: EchoProcess) -> None:
    target = f"/?gateway-api-conformance-request-id={uuid.uuid4()}"
    _, local_port = raw_exchange(
        echo.ports["http"], f"GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".encode()
    )
    echo.wait_for_line(f"Echoing back request made to {target} to client (127.0.0.1:{local_port})")


def test_keep_alive_serves_pipelined_requests_in_order(echo: EchoProcess) -> None:
    request = (
        b"GET /first HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    raw, _ = raw_exchange(echo.ports["http"], request)
    assert raw.count(b"HTTP/1.1 200 OK") == 2
    assert raw.index(b'"path": "/first"') < raw.index(b'"path": "/second"')


def test_request_body_is_read_and_ignored(client: httpx.Client) -> None:
    response = client.post("/upload", content=b"x" * 300_000)
    assert (response.status_code, response.json()["method"]) == (200, "POST")
