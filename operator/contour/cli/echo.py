"""`contour echo`: the test and demo HTTP backend that echoes each request back as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command(name="echo")(echo)


def echo(  # noqa: PLR0917 (one parameter per command-line option)
    port: Annotated[int, typer.Option(envvar="HTTP_PORT", help="HTTP/1.1 port (0 picks a free one).")] = 3000,
    h2c_port: Annotated[
        int | None, typer.Option(envvar="H2C_PORT", help="Port for HTTP/1.1 plus cleartext HTTP/2 (h2c).")
    ] = None,
    tls_port: Annotated[
        int | None,
        typer.Option(envvar="HTTPS_PORT", help="HTTPS port (HTTP/1.1 and h2 by ALPN); default 8443."),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(envvar="TLS_SERVER_CERT", help="PEM server certificate for the HTTPS port.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(envvar="TLS_SERVER_PRIVKEY", help="PEM private key for the HTTPS port.")
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
    address: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
) -> None:
    """Serve the Gateway API conformance echo backend (HTTP/1.1, h2c, HTTPS, WebSocket)."""
    from contour.echo.assertions import Identity  # noqa: PLC0415 (keep other commands' start-up light)
    from contour.echo.server import EchoSettings, run  # noqa: PLC0415

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    if tls_port is not None and tls_cert is None:
        raise typer.BadParameter("--tls-port needs --tls-cert and --tls-key")
    if client_ca is not None and tls_cert is None:
        raise typer.BadParameter("--client-ca needs --tls-cert and --tls-key")
    settings = EchoSettings(
        address=address,
        port=port,
        h2c_port=h2c_port,
        tls_port=tls_port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        client_ca=client_ca,
        identity=Identity(namespace=namespace, ingress=ingress, service=service, pod=pod),
    )
    raise typer.Exit(run(settings))
