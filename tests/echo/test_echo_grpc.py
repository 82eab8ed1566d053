"""`contour echo --mode grpc`: the conformance GrpcEcho service, called by a real grpcio client."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest

from contour.echo import grpc_messages
from tests.echo.certs import SERVER_NAME
from tests.echo.conftest import IDENTITY, EchoPKI
from tests.echo.process import EchoProcess

TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


@pytest.fixture(scope="module")
def grpc_echo(pki: EchoPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoProcess]:
    args = ["--mode", "grpc", "--port", "0", "--tls-port", "0"]
    args += ["--tls-cert", str(pki.server.cert), "--tls-key", str(pki.server.key)]
    for flag, value in IDENTITY.items():
        args += [f"--{flag}", value]
    stderr = tmp_path_factory.mktemp("grpc-echo") / "stderr.log"
    process = EchoProcess(*args, stderr_path=stderr)
    with process:
        yield process
    complaints = process.stderr()
    assert "Traceback" not in complaints, complaints
    assert "Exception in callback" not in complaints, complaints


@pytest.fixture
def channel(grpc_echo: EchoProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_echo.ports['grpc']}") as opened:
        yield opened


@pytest.fixture
def tls_channel(grpc_echo: EchoProcess, pki: EchoPKI) -> Iterator[grpc.Channel]:
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert.read_bytes())
    target = f"127.0.0.1:{grpc_echo.ports['grpc-tls']}"
    options = [("grpc.ssl_target_name_override", SERVER_NAME)]
    with grpc.secure_channel(target, credentials, options=options) as opened:
        yield opened


def echo_call(channel: grpc.Channel, method: str = "Echo") -> Any:
    return channel.unary_unary(
        grpc_messages.full_method(method),
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=grpc_messages.EchoResponse.FromString,
    )


def raw_call(channel: grpc.Channel, method: str = "Echo") -> Any:
    """A call whose request bytes go on the wire as given."""
    return channel.unary_unary(
        grpc_messages.full_method(method),
        request_serializer=lambda payload: payload,
        response_deserializer=grpc_messages.EchoResponse.FromString,
    )


def echo(channel: grpc.Channel, method: str = "Echo", **kwargs: Any) -> Any:
    return echo_call(channel, method)(grpc_messages.EchoRequest(), timeout=10, **kwargs)


def headers_of(response: Any) -> list[tuple[str, str]]:
    return [(header.key, header.value) for header in response.assertions.headers]


def status_of(call: Any, *args: Any, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, timeout=10, **kwargs)
    error: Any = raised.value
    return error.code(), error.details()


@pytest.mark.parametrize("method", ["Echo", "EchoTwo"])
def test_method_is_reported_fully_qualified(channel: grpc.Channel, method: str) -> None:
    response = echo(channel, method)
    expected = f"/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/{method}"
    assert response.assertions.fully_qualified_method == expected


def test_echo_three_is_unimplemented(channel: grpc.Channel) -> None:
    code, details = status_of(echo_call(channel, "EchoThree"), grpc_messages.EchoRequest())
    assert (code, details) == (grpc.StatusCode.UNIMPLEMENTED, "method EchoThree not implemented")


@pytest.mark.parametrize(
    ("path", "details"),
    [
        ("/other.Service/Echo", "unknown service other.Service"),
        (
            "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoFour",
            "unknown method EchoFour for service gateway_api_conformance.echo_basic.grpcecho.GrpcEcho",
        ),
    ],
    ids=["unknown-service", "unknown-method"],
)
def test_unknown_paths_are_unimplemented(channel: grpc.Channel, path: str, details: str) -> None:
    call = channel.unary_unary(path, request_serializer=lambda payload: payload)
    assert status_of(call, b"") == (grpc.StatusCode.UNIMPLEMENTED, details)


def test_pod_context_is_reported(channel: grpc.Channel) -> None:
    context = echo(channel).assertions.context
    assert (context.namespace, context.ingress, context.service_name, context.pod) == (
        IDENTITY["namespace"],
        IDENTITY["ingress"],
        IDENTITY["service"],
        IDENTITY["pod"],
    )


def test_metadata_is_reported_as_headers_in_order(channel: grpc.Channel) -> None:
    response = echo(channel, metadata=[("x-first", "1"), ("x-repeated", "a"), ("x-repeated", "b")])
    custom = [(key, value) for key, value in headers_of(response) if key.startswith("x-")]
    assert custom == [("x-first", "1"), ("x-repeated", "a"), ("x-repeated", "b")]


def test_headers_keep_authority_content_type_and_user_agent_but_not_transport_fields(
    channel: grpc.Channel,
) -> None:
    names = {key for key, _ in headers_of(echo(channel, metadata=[("x-seen", "yes")]))}
    assert {":authority", "content-type", "user-agent", "x-seen"} <= names
    assert not names & {":path", ":method", ":scheme", "te", "grpc-timeout"}


def test_authority_is_the_calls_authority(grpc_echo: EchoProcess) -> None:
    target = f"127.0.0.1:{grpc_echo.ports['grpc']}"
    with grpc.insecure_channel(target, options=[("grpc.default_authority", "echo.test:8080")]) as channel:
        response = echo(channel)
    assert response.assertions.authority == "echo.test:8080"
    assert (":authority", "echo.test:8080") in headers_of(response)


def test_plaintext_call_has_no_tls_assertions(channel: grpc.Channel) -> None:
    assert not echo(channel).assertions.HasField("tls_assertions")


def test_tls_call_reports_the_handshake(tls_channel: grpc.Channel) -> None:
    tls = echo(tls_channel).assertions.tls_assertions
    assert (tls.version, tls.server_name, tls.negotiated_protocol) == ("TLSv1.3", SERVER_NAME, "h2")
    assert tls.cipher_suite in TLS13_SUITES
    assert list(tls.peer_certificates) == []


def test_tls_call_is_answered_by_the_same_service(tls_channel: grpc.Channel) -> None:
    response = echo(tls_channel, "EchoTwo")
    assert response.assertions.fully_qualified_method.endswith("/EchoTwo")
    assert response.assertions.context.pod == IDENTITY["pod"]


def test_every_call_is_logged(grpc_echo: EchoProcess, channel: grpc.Channel) -> None:
    echo(channel, "EchoTwo")
    method = "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoTwo"
    grpc_echo.wait_for_line(f"Received over plaintext: {method} from 127.0.0.1:", prefix=True)


def test_gzip_compressed_request_is_accepted(channel: grpc.Channel) -> None:
    # grpcio leaves an empty message uncompressed; 50 unknown varint fields are worth compressing.
    response = raw_call(channel)(b"\x78\x01" * 50, timeout=10, compression=grpc.Compression.Gzip)
    assert response.assertions.fully_qualified_method.endswith("/Echo")


def test_undecodable_request_message_is_internal(channel: grpc.Channel) -> None:
    # Field 1, length-delimited, claiming 5 bytes that never come.
    code, details = status_of(raw_call(channel), b"\x0a\x05ab")
    assert code == grpc.StatusCode.INTERNAL
    assert details.startswith("grpc: error unmarshalling request")


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {}, 405),
        ("POST", {"content-type": "application/json"}, 415),
    ],
    ids=["get-is-405", "non-grpc-content-type-is-415"],
)
def test_plain_http2_requests_get_a_bare_http_status(
    grpc_echo: EchoProcess, method: str, headers: dict[str, str], status: int
) -> None:
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        response = client.request(method, f"http://127.0.0.1:{grpc_echo.ports['grpc']}/x", headers=headers)
    assert response.status_code == status


def test_garbage_ends_only_its_own_connection(grpc_echo: EchoProcess, channel: grpc.Channel) -> None:
    with socket.create_connection(("127.0.0.1", grpc_echo.ports["grpc"]), timeout=10) as garbage:
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
        drained = 0  # bytes the server sent before it closed the connection
        with contextlib.suppress(ConnectionResetError):  # unread garbage makes the close a reset
            while chunk := garbage.recv(65536):
                drained += len(chunk)
    assert echo(channel).assertions.context.pod == IDENTITY["pod"]
