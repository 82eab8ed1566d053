"""`contour serve`: Contour's controller against a Kubernetes API server, with Contour's flags.

Every flag is checked before anything starts: a bad duration, port, log format or file, `--insecure`
together with certificate files, both `--config-path` and `--contour-config-name`, or a bad
configuration file ends the command with exit code 2 and a message naming the flag and the value.
Durations are Go durations (`15s`, `1m30s`). A flag given on the command line overrides the
configuration file or the ContourConfiguration. Logs go to stderr in `--log-format` (text or json).
"""

from __future__ import annotations

import asyncio
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from contour.dag.timeouts import DurationError, parse_go_duration

if TYPE_CHECKING:
    from contour.controller.contourconfig import ContourSettings


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def _duration(text: str) -> float:
    """A positive Go duration in seconds (typer turns the error into a usage error naming the flag)."""
    try:
        seconds = parse_go_duration(text)
    except DurationError as error:
        raise typer.BadParameter(f"{text!r}: {error}") from None
    if seconds <= 0:
        raise typer.BadParameter(f"{text!r}: must be greater than zero")
    return seconds


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: not a port number") from None
    if not 0 <= port <= 65535:
        raise typer.BadParameter(f"{text!r}: a port is 0 to 65535")
    return port


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


NAMESPACE_ENV = "CONTOUR_NAMESPACE"


def serve(  # noqa: PLR0917 (one parameter per command-line option, as Contour has)
    ctx: typer.Context,
    kubeconfig: Annotated[
        str | None,
        typer.Option(envvar="KUBECONFIG", help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."),
    ] = None,
    incluster: Annotated[bool, typer.Option(help="Use the pod's service account.")] = False,
    config_path: Annotated[
        Path | None, typer.Option("--config-path", "-c", help="Contour's configuration file.")
    ] = None,
    contour_config_name: Annotated[
        str, typer.Option(help="ContourConfiguration to read, in --contour-config-namespace.")
    ] = "",
    contour_config_namespace: Annotated[
        str, typer.Option(envvar=NAMESPACE_ENV, help="Namespace of --contour-config-name.")
    ] = "projectcontour",
    xds_address: Annotated[str, typer.Option(help="xDS gRPC API address.")] = "127.0.0.1",
    xds_port: Annotated[
        int, typer.Option(parser=_port, metavar="PORT", help="xDS gRPC API port (0: any).")
    ] = 8001,
    contour_cafile: Annotated[
        str,
        typer.Option(
            "--contour-cafile", help="CA bundle the Envoys' client certificates are checked against."
        ),
    ] = "",
    contour_cert_file: Annotated[
        str, typer.Option("--contour-cert-file", help="The xDS server's certificate.")
    ] = "",
    contour_key_file: Annotated[str, typer.Option("--contour-key-file", help="The xDS server's key.")] = "",
    insecure: Annotated[bool, typer.Option(help="Serve xDS without TLS.")] = False,
    ingress_class_name: Annotated[
        str, typer.Option(help="Comma-separated ingress classes to serve (default: no class, or contour).")
    ] = "",
    ingress_status_address: Annotated[
        str, typer.Option(help="Address written to status instead of the Envoy Service's.")
    ] = "",
    root_namespaces: Annotated[
        str, typer.Option(help="Comma-separated namespaces where root HTTPProxies may live (default: any).")
    ] = "",
    watch_namespaces: Annotated[
        str, typer.Option(help="Comma-separated namespaces to watch (default: all).")
    ] = "",
    envoy_service_name: Annotated[
        str, typer.Option(help="The Envoy Service whose address statuses report.")
    ] = "envoy",
    envoy_service_namespace: Annotated[
        str, typer.Option(envvar=NAMESPACE_ENV, help="Namespace of --envoy-service-name.")
    ] = "projectcontour",
    envoy_service_http_address: Annotated[
        str, typer.Option(help="Envoy's HTTP listener address.")
    ] = "0.0.0.0",
    envoy_service_http_port: Annotated[
        int, typer.Option(parser=_port, metavar="PORT", help="Envoy's HTTP port.")
    ] = 8080,
    envoy_service_https_address: Annotated[
        str, typer.Option(help="Envoy's HTTPS listener address.")
    ] = "0.0.0.0",
    envoy_service_https_port: Annotated[
        int, typer.Option(parser=_port, metavar="PORT", help="Envoy's HTTPS port.")
    ] = 8443,
    stats_address: Annotated[
        str, typer.Option(help="Envoy's /stats and /ready listener address.")
    ] = "0.0.0.0",
    stats_port: Annotated[
        int, typer.Option(parser=_port, metavar="PORT", help="Envoy's /stats and /ready port.")
    ] = 8002,
    http_address: Annotated[str, typer.Option(help="Address of /metrics (and /healthz).")] = "0.0.0.0",
    http_port: Annotated[
        int, typer.Option(parser=_port, metavar="PORT", help="Port of /metrics (0: any).")
    ] = 8000,
    health_address: Annotated[str, typer.Option(help="Address of /healthz.")] = "0.0.0.0",
    health_port: Annotated[
        int, typer.Option(parser=_port, metavar="PORT", help="Port of /healthz (0: any).")
    ] = 8000,
    debug_http_address: Annotated[str, typer.Option(help="Address of /debug/dag.")] = "127.0.0.1",
    debug_http_port: Annotated[
        int, typer.Option(parser=_port, metavar="PORT", help="Port of /debug (0: any).")
    ] = 6060,
    disable_leader_election: Annotated[
        bool, typer.Option(help="Write status without holding the Lease.")
    ] = False,
    leader_election_lease_duration: Annotated[
        float, typer.Option(parser=_duration, metavar="DURATION", help="Lease duration.")
    ] = "15s",  # type: ignore[assignment]  # parsed by _duration
    leader_election_renew_deadline: Annotated[
        float, typer.Option(parser=_duration, metavar="DURATION", help="Renew deadline of the leader.")
    ] = "10s",  # type: ignore[assignment]
    leader_election_retry_period: Annotated[
        float, typer.Option(parser=_duration, metavar="DURATION", help="Time between two attempts.")
    ] = "2s",  # type: ignore[assignment]
    leader_election_resource_name: Annotated[str, typer.Option(help="The Lease's name.")] = "leader-elect",
    leader_election_resource_namespace: Annotated[
        str, typer.Option(envvar=NAMESPACE_ENV, help="The Lease's namespace.")
    ] = "projectcontour",
    log_format: Annotated[LogFormat, typer.Option(help="Log format.")] = LogFormat.text,
    debug: Annotated[bool, typer.Option(help="Debug logging.")] = False,
) -> None:
    """Serve xDS to Envoy from a Kubernetes API server, write status, expose metrics and health."""
    # Imported here so that other commands start without the controller's imports.
    from contour.controller.contourconfig_values import ConfigError  # noqa: PLC0415
    from contour.controller.serve import ServeConfig, leader_election_config, resolve, xds_tls  # noqa: PLC0415
    from contour.controller.serve import serve as run_serve  # noqa: PLC0415
    from contour.logsetup import configure_logging  # noqa: PLC0415

    explicit = _explicit(ctx)
    if config_path is not None and contour_config_name:
        raise typer.BadParameter(
            f"{str(config_path)!r}: cannot be used together with --contour-config-name "
            f"{contour_config_name!r}",
            param_hint="--config-path",
        )
    config = ServeConfig(
        kubeconfig=kubeconfig,
        incluster=incluster,
        config_path=str(config_path or ""),
        contour_config_name=contour_config_name,
        contour_config_namespace=contour_config_namespace,
        xds_address=xds_address,
        xds_port=xds_port,
        ca_file=contour_cafile,
        cert_file=contour_cert_file,
        key_file=contour_key_file,
        insecure=insecure,
        ingress_class_names=_names(ingress_class_name),
        ingress_status_address=ingress_status_address,
        root_namespaces=_names(root_namespaces),
        watch_namespaces=_names(watch_namespaces),
        envoy_service_name=envoy_service_name,
        envoy_service_namespace=envoy_service_namespace,
        envoy_http_address=envoy_service_http_address,
        envoy_http_port=envoy_service_http_port,
        envoy_https_address=envoy_service_https_address,
        envoy_https_port=envoy_service_https_port,
        stats_address=stats_address,
        stats_port=stats_port,
        http_address=http_address,
        http_port=http_port,
        health_address=health_address,
        health_port=health_port,
        debug_http_address=debug_http_address,
        debug_http_port=debug_http_port,
        disable_leader_election=disable_leader_election,
        leader_election_lease_duration=leader_election_lease_duration,
        leader_election_renew_deadline=leader_election_renew_deadline,
        leader_election_retry_period=leader_election_retry_period,
        leader_election_resource_name=leader_election_resource_name,
        leader_election_resource_namespace=leader_election_resource_namespace,
        log_format=log_format.value,
        debug=debug,
        explicit=explicit,
    )
    try:
        config = resolve(config, _config_file(config_path))
        if not contour_config_name:
            # The ContourConfiguration may give the files; they are checked once it is read.
            xds_tls(config)
        if not config.disable_leader_election:
            leader_election_config(config)
    except ConfigError as error:
        typer.echo(f"contour serve: {error}", err=True)
        raise typer.Exit(2) from None
    configure_logging(log_format.value, config.debug)
    raise typer.Exit(asyncio.run(run_serve(config)))


# ServeConfig fields whose flag has another name.
_FIELDS = {
    "contour_cafile": "ca_file",
    "contour_cert_file": "cert_file",
    "contour_key_file": "key_file",
    "ingress_class_name": "ingress_class_names",
    "envoy_service_http_address": "envoy_http_address",
    "envoy_service_http_port": "envoy_http_port",
    "envoy_service_https_address": "envoy_https_address",
    "envoy_service_https_port": "envoy_https_port",
}


def _explicit(ctx: typer.Context) -> frozenset[str]:
    """ServeConfig fields whose flag was given (command line or environment)."""
    return frozenset(
        _FIELDS.get(name, name)
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", "") in ("COMMANDLINE", "ENVIRONMENT")
    )


def _config_file(path: Path | None) -> ContourSettings | None:
    """The settings of --config-path; a bad file ends the command with code 2, naming it."""
    from contour.controller.contourconfig import load_config_file  # noqa: PLC0415
    from contour.controller.contourconfig_values import ConfigError  # noqa: PLC0415

    if path is None:
        return None
    try:
        return load_config_file(str(path))
    except ConfigError as error:
        typer.echo(f"contour serve: invalid value for --config-path {str(path)!r}: {error}", err=True)
        raise typer.Exit(2) from None
