"""`contour bootstrap PATH`: write the Envoy bootstrap (and its SDS resource files) that points at Contour.

Flags and defaults are Contour's. Extensions: `--node-id`/`--node-cluster` (ADS needs them in the
bootstrap; Envoy's `--service-node`/`--service-cluster` still override them), `--ads`/`--delta` (one
aggregated or incremental stream instead of Contour's per-type state-of-the-world streams), and
`--log-format json`, which here sets Envoy's own log format in the bootstrap.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from contour.envoy.bootstrap import BootstrapConfig, BootstrapError, render_files


def register(app: typer.Typer) -> None:
    app.command(name="bootstrap")(bootstrap)


def bootstrap(
    path: Annotated[
        str, typer.Argument(metavar="PATH", help="Configuration file ('-' for standard output).")
    ],
    *,
    resources_dir: Annotated[
        str, typer.Option(help="Directory where the SDS resource files for the xDS certificates are written.")
    ] = "",
    admin_address: Annotated[
        str, typer.Option(help="Envoy admin address: an absolute unix socket path, or an IP.")
    ] = "/admin/admin.sock",
    admin_port: Annotated[
        int, typer.Option(help="Envoy admin port, used when --admin-address is an IP.")
    ] = 9001,
    xds_address: Annotated[str, typer.Option(help="xDS gRPC API address.")] = "127.0.0.1",
    xds_port: Annotated[int, typer.Option(help="xDS gRPC API port.")] = 8001,
    envoy_cafile: Annotated[
        str, typer.Option(envvar="ENVOY_CAFILE", help="CA file for Envoy's secure xDS gRPC connection.")
    ] = "",
    envoy_cert_file: Annotated[
        str,
        typer.Option(envvar="ENVOY_CERT_FILE", help="Client certificate file for Envoy's xDS connection."),
    ] = "",
    envoy_key_file: Annotated[
        str, typer.Option(envvar="ENVOY_KEY_FILE", help="Client key file for Envoy's xDS connection.")
    ] = "",
    namespace: Annotated[
        str, typer.Option(envvar="CONTOUR_NAMESPACE", help="The namespace the Envoy container will run in.")
    ] = "projectcontour",
    xds_resource_version: Annotated[
        str, typer.Option(help="The version of the xDS resources to request from Contour (only v3).")
    ] = "v3",
    dns_lookup_family: Annotated[
        str, typer.Option(help="DNS lookup family for the Contour cluster: auto, v4, v6 or all.")
    ] = "auto",
    log_format: Annotated[str, typer.Option(help="Envoy's log format: text or json.")] = "text",
    overload_max_heap: Annotated[
        int, typer.Option(help="Heap size in bytes at which Envoy stops accepting requests (0: off).")
    ] = 0,
    overload_downstream_max_conn: Annotated[
        int, typer.Option(help="Envoy's global downstream connection limit (0: no limit).")
    ] = 50000,
    node_id: Annotated[str, typer.Option(help="Envoy node id ('' leaves it to --service-node).")] = "envoy",
    node_cluster: Annotated[
        str, typer.Option(help="Envoy node cluster ('' leaves it to --service-cluster).")
    ] = "contour",
    ads: Annotated[bool, typer.Option("--ads", help="Use one aggregated xDS stream (ADS).")] = False,
    delta: Annotated[bool, typer.Option("--delta", help="Use incremental (delta) xDS.")] = False,
) -> None:
    """Generate the Envoy bootstrap configuration."""
    config = BootstrapConfig(
        xds_address=xds_address,
        xds_port=xds_port,
        admin_address=admin_address,
        admin_port=admin_port,
        namespace=namespace,
        dns_lookup_family=dns_lookup_family,
        ca_file=envoy_cafile,
        cert_file=envoy_cert_file,
        key_file=envoy_key_file,
        resources_dir=resources_dir,
        xds_resource_version=xds_resource_version,
        log_format=log_format,
        overload_max_heap=overload_max_heap,
        overload_downstream_max_conn=overload_downstream_max_conn,
        node_id=node_id,
        node_cluster=node_cluster,
        ads=ads,
        delta=delta,
    )
    try:
        files = render_files(config, path)
    except BootstrapError as error:
        raise typer.BadParameter(error.reason, param_hint=error.option) from None
    # Envoy would reject a bootstrap naming a missing or empty file with no way to fix it from
    # inside; failing here makes the problem visible (Contour does the same).
    for option, file in (
        ("--envoy-cafile", envoy_cafile),
        ("--envoy-cert-file", envoy_cert_file),
        ("--envoy-key-file", envoy_key_file),
    ):
        if file and (not Path(file).is_file() or Path(file).stat().st_size == 0):
            raise typer.BadParameter(f"{file!r} is missing or empty", param_hint=option)
    for target, text in files.items():
        if target == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            _write_atomically(Path(target), text)


def _write_atomically(target: Path, text: str) -> None:
    """Replace `target` in one rename, so Envoy watching an SDS file never reads half of it."""
    if target.parent != Path():
        # World-writable like Contour's: the files only point at Secrets mounted elsewhere, and the
        # init container and Envoy may run as different users (projectcontour/contour#3264).
        target.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        Path(temporary).chmod(0o644)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
