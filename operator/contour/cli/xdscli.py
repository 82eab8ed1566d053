"""`contour cli lds|rds|cds|eds|sds|rtds [NAMES...]`: ask a running xDS server what it serves.

It connects as an xDS client (node `--node-id`/`--node-cluster`), subscribes to one type, prints the
first response and acknowledges it, or with `--watch` keeps printing every new version. Output is
the response's protobuf JSON (`-o json`, Contour's output) or a table (`-o table`). NAMES restrict
the subscription to those resources, whatever the type; without them every resource is asked for.

Flags follow Contour's `contour cli`: `--contour host:port` (127.0.0.1:8001), `--cafile`,
`--cert-file`, `--key-file` (all three for mTLS, none for plaintext; the server certificate must name
`contour`, as certgen's does, or `--server-name`), `--delta`, `--nack`, `--node-id`. Additions:
`--xds-address`/`--xds-port` (as `contour serve` names them), `--node-cluster`, `--ads` (one
aggregated stream instead of the type's own service), `--output`, `--watch`, `--timeout`. Contour's
`cli sds` opens a route stream by mistake; this one asks the secret discovery service.

Failures (unreachable server, TLS refused, nothing answered in `--timeout`) print one line on
stderr and exit 1. grpc and the protobuf modules are imported when the command runs, so other
commands do not pay for them.
"""

from __future__ import annotations

import asyncio
import enum
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 8001
EXIT_INTERRUPTED = 130


class ResourceType(enum.StrEnum):
    LDS = "lds"
    RDS = "rds"
    CDS = "cds"
    EDS = "eds"
    SDS = "sds"
    RTDS = "rtds"


class OutputFormat(enum.StrEnum):
    JSON = "json"
    TABLE = "table"


@dataclass(frozen=True)
class TlsPaths:
    ca_file: Path
    cert_file: Path
    key_file: Path
    server_name: str


@dataclass(frozen=True)
class CliRequest:
    """Everything one `contour cli` invocation asks for, validated."""

    resource_type: ResourceType
    target: str
    names: tuple[str, ...] = ()
    tls: TlsPaths | None = None
    node_id: str = "ContourCLI"
    node_cluster: str = "contour"
    delta: bool = False
    ads: bool = False
    nack: bool = False
    output: OutputFormat = OutputFormat.JSON
    watch: bool = False
    timeout: float = 10.0


def register(app: typer.Typer) -> None:
    app.command(name="cli")(cli)


def cli(
    resource_type: Annotated[ResourceType, typer.Argument(metavar="TYPE", help="The xDS type to ask for.")],
    names: Annotated[
        list[str] | None, typer.Argument(metavar="NAMES", help="Resource names (default: all).")
    ] = None,
    *,
    contour: Annotated[
        str | None,
        typer.Option(help="Contour's xDS server as host:port (default 127.0.0.1:8001)."),
    ] = None,
    xds_address: Annotated[
        str | None, typer.Option(help="xDS server address (instead of --contour; default 127.0.0.1).")
    ] = None,
    xds_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="xDS server port (instead of --contour; default 8001)."),
    ] = None,
    cafile: Annotated[
        Path | None,
        typer.Option(envvar="CLI_CAFILE", help="CA bundle for connecting to a TLS-secured Contour."),
    ] = None,
    cert_file: Annotated[
        Path | None,
        typer.Option(envvar="CLI_CERT_FILE", help="Client certificate for a TLS-secured Contour."),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(envvar="CLI_KEY_FILE", help="Client key for a TLS-secured Contour.")
    ] = None,
    server_name: Annotated[
        str, typer.Option(help="Name the server's certificate must carry (TLS only).")
    ] = "contour",
    node_id: Annotated[
        str, typer.Option(envvar="CLI_NODE_ID", help="Node ID of this client.")
    ] = "ContourCLI",
    node_cluster: Annotated[str, typer.Option(help="Node cluster of this client.")] = "contour",
    delta: Annotated[bool, typer.Option("--delta", help="Use incremental xDS.")] = False,
    ads: Annotated[bool, typer.Option("--ads", help="Use the aggregated discovery service.")] = False,
    nack: Annotated[bool, typer.Option("--nack", help="NACK every response (for testing).")] = False,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="json or table.")
    ] = OutputFormat.JSON,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Keep streaming and print every new version.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the first response (0: forever).")
    ] = 10.0,
) -> None:
    """A CLI client for Contour's xDS server: print what it serves."""
    request = CliRequest(
        resource_type=resource_type,
        target=_target(contour, xds_address, xds_port),
        names=tuple(names or ()),
        tls=_tls(cafile, cert_file, key_file, server_name),
        node_id=node_id,
        node_cluster=node_cluster,
        delta=delta,
        ads=ads,
        nack=nack,
        output=output,
        watch=watch,
        timeout=timeout,
    )
    # Before grpc is first imported: its C core otherwise logs handshake failures next to our one line.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from contour.cli.xdsview import show  # noqa: PLC0415 (keep other commands' start-up light)

    try:
        code = asyncio.run(show(request, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    raise typer.Exit(code)


def _target(contour: str | None, address: str | None, port: int | None) -> str:
    if contour is not None:
        if address is not None or port is not None:
            raise typer.BadParameter(
                "give --contour or --xds-address/--xds-port, not both", param_hint="--contour"
            )
        host, separator, port_text = contour.rpartition(":")
        if not separator or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise typer.BadParameter(f"{contour!r} is not host:port", param_hint="--contour")
        return contour
    host = address if address is not None else DEFAULT_ADDRESS
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port if port is not None else DEFAULT_PORT}"


def _tls(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None, server_name: str
) -> TlsPaths | None:
    given = [f for f in (ca_file, cert_file, key_file) if f is not None]
    if not given:
        return None
    if ca_file is None or cert_file is None or key_file is None:
        raise typer.BadParameter(
            "supply all three TLS parameters (--cafile, --cert-file, --key-file) or none of them",
            param_hint="--cafile/--cert-file/--key-file",
        )
    return TlsPaths(ca_file, cert_file, key_file, server_name)
