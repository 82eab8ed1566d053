"""`contour echo`: the test and demo backend that echoes each request back, in four modes.

`--mode http` (the default) echoes HTTP requests as JSON; `grpc`, `tcp` and `udp` are the other
modes of the Gateway API conformance echo. As in the reference image, the mode can also be chosen
by setting GRPC_ECHO_SERVER, TCP_ECHO_SERVER or UDP_ECHO_SERVER in the environment.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from contour.echo.assertions import Identity


class EchoMode(enum.StrEnum):
    HTTP = "http"
    GRPC = "grpc"
    TCP = "tcp"
    UDP = "udp"


_MODE_SWITCHES = (
    ("GRPC_ECHO_SERVER", EchoMode.GRPC),
    ("TCP_ECHO_SERVER", EchoMode.TCP),
    ("UDP_ECHO_SERVER", EchoMode.UDP),
)


def register(app: typer.Typer) -> None:
    app.command(name="echo")(echo)


def echo(  # noqa: PLR0917 (one parameter per command-line option)
    mode: Annotated[
        EchoMode | None,
        typer.Option(envvar="ECHO_MODE", help="What to echo; default http (or the *_ECHO_SERVER switches)."),
    ] = None,
    port: Annotated[
        int,
        typer.Option(
            envvar=["HTTP_PORT", "TCP_PORT"],
            help="HTTP/1.1 port; the plaintext gRPC or TCP port in those modes (0 picks a free one).",
        ),
    ] = 3000,
    h2c_port: Annotated[
        int | None, typer.Option(envvar="H2C_PORT", help="Port for HTTP/1.1 plus cleartext HTTP/2 (h2c).")
    ] = None,
    tls_port: Annotated[
        int | None,
        typer.Option(
            envvar=["HTTPS_PORT", "TLS_PORT"],
            help="HTTPS port (HTTP/1.1, h2 by ALPN); the TLS gRPC or TCP port in those modes; default 8443.",
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(envvar="TLS_SERVER_CERT", help="PEM server certificate for the HTTPS port.")
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            envvar=["TLS_SERVER_PRIVKEY", "TLS_SERVER_PRIV_KEY"], help="PEM private key for the HTTPS port."
        ),
    ] = None,
    client_ca: Annotated[
        Path | None,
        typer.Option(
            envvar="TLS_CLIENT_CACERTS", help="PEM CA bundle to verify client certificates, if sent."
        ),
    ] = None,
    namespace: Annotated[str, typer.Option(envvar="NAMESPACE", help="Namespace to report.")] = "",
    pod: Annotated[str, typer.Option(envvar="POD_NAME", help="Pod name to report.")] = "",
    service: Annotated[str, typer.Option(envvar="SERVICE_NAME", help="Service name to report.")] = "",
    ingress: Annotated[str, typer.Option(envvar="INGRESS_NAME", help="Ingress name to report.")] = "",
    udp_port: Annotated[int, typer.Option(envvar="UDP_PORT", help="UDP port in udp mode.")] = 8080,
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
) -> None:
    """Serve the Gateway API conformance echo backend (HTTP/1.1, h2c, HTTPS, WebSocket; gRPC; TCP; UDP)."""
    from contour.echo.assertions import Identity  # noqa: PLC0415 (keep other commands' start-up light)
    from contour.echo.server import EchoSettings, run  # noqa: PLC0415

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    if tls_port is not None and tls_cert is None:
        raise typer.BadParameter("--tls-port needs --tls-cert and --tls-key")
    if client_ca is not None and tls_cert is None:
        raise typer.BadParameter("--client-ca needs --tls-cert and --tls-key")
    identity = Identity(namespace=namespace, ingress=ingress, service=service, pod=pod)
    chosen = mode or next((switch for name, switch in _MODE_SWITCHES if os.environ.get(name)), EchoMode.HTTP)
    if chosen is not EchoMode.HTTP:
        raise typer.Exit(
            _run_other_mode(
                chosen,
                address=address,
                port=udp_port if chosen is EchoMode.UDP else port,
                tls_port=8443 if tls_port is None else tls_port,
                tls_cert=tls_cert,
                tls_key=tls_key,
                identity=identity,
                h2c_or_client_ca=h2c_port is not None or client_ca is not None,
            )
        )
    settings = EchoSettings(
        address=address,
        port=port,
        h2c_port=h2c_port,
        tls_port=tls_port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        client_ca=client_ca,
        identity=identity,
    )
    raise typer.Exit(run(settings))


def _run_other_mode(
    mode: EchoMode,
    *,
    address: str,
    port: int,
    tls_port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    identity: Identity,
    h2c_or_client_ca: bool,
) -> int:
    from contour.echo.lifecycle import run_service  # noqa: PLC0415 (keep other commands' start-up light)

    if h2c_or_client_ca:
        raise typer.BadParameter(f"--h2c-port and --client-ca apply to --mode http only, not {mode}")
    if mode is EchoMode.GRPC:
        from contour.echo.grpc_server import GrpcEchoServer, GrpcEchoSettings  # noqa: PLC0415

        grpc_settings = GrpcEchoSettings(address, port, tls_port, tls_cert, tls_key, identity)
        return run_service(lambda: GrpcEchoServer(grpc_settings))
    if mode is EchoMode.TCP:
        from contour.echo.tcp_server import TcpEchoServer, TcpEchoSettings  # noqa: PLC0415

        tcp_settings = TcpEchoSettings(address, port, tls_port, tls_cert, tls_key, identity)
        return run_service(lambda: TcpEchoServer(tcp_settings))
    from contour.echo.udp_server import UdpEchoServer, UdpEchoSettings  # noqa: PLC0415

    if tls_cert is not None:
        raise typer.BadParameter("--mode udp has no TLS listener: drop --tls-cert and --tls-key")
    udp_settings = UdpEchoSettings(address, port, identity)
    return run_service(lambda: UdpEchoServer(udp_settings))
