"""`contour envoy shutdown-manager` and `contour envoy shutdown`: graceful Envoy shutdown in a pod.

Names, flags and defaults are Contour's (`cmd/contour/shutdownmanager.go`); durations are Go
duration strings ("5s", "1m30s"). Extensions: `shutdown --drain-timeout` (stop waiting this long
after failing the health check; 0 waits until the pod is killed, as Contour does),
`shutdown-manager --serve-address` and `--ready-check-interval`, and `--log-format`/`--debug` on
both. Every flag is checked before Envoy is touched: a bad one exits 2 naming it.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from contour.dag.timeouts import DurationError, parse_go_duration

log = logging.getLogger("contour.cli.envoy")

envoy_app = typer.Typer(
    name="envoy",
    help="Sub-commands for the Envoy pod: its shutdown-manager sidecar and the preStop drain.",
    no_args_is_help=True,
)


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(envoy_app, name="envoy")


def _duration(text: str) -> float:
    """A Go duration in seconds, not negative (typer turns the error into a usage error naming the flag)."""
    try:
        seconds = parse_go_duration(text)
    except DurationError as error:
        raise typer.BadParameter(f"{text!r}: {error}") from None
    if seconds < 0:
        raise typer.BadParameter(f"{text!r}: must not be negative")
    return seconds


def _port(value: int, *, allow_zero: bool) -> int:
    low = 0 if allow_zero else 1
    if not low <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a port number ({low}-65535)")
    return value


def _admin_host(address: str) -> str:
    if address.startswith("/"):
        return address
    if not address or "/" in address or any(c.isspace() for c in address):
        raise typer.BadParameter(f"{address!r} is neither an absolute unix socket path nor a host or IP")
    return address


def _configure_logging(log_format: LogFormat, debug: bool) -> None:
    from contour.logsetup import configure_logging  # noqa: PLC0415

    configure_logging(log_format.value, debug)


@envoy_app.command("shutdown-manager")
def shutdown_manager(
    *,
    serve_port: Annotated[
        int,
        typer.Option(
            help="Port to serve the http server on (0 picks a free one).",
            callback=lambda value: _port(value, allow_zero=True),
        ),
    ] = 8090,
    serve_address: Annotated[
        str, typer.Option(help="Address to serve the http server on ('': every interface, IPv4 and IPv6).")
    ] = "",
    ready_file: Annotated[
        Path, typer.Option(help="File to poll while waiting shutdown to be completed.")
    ] = Path("/admin/ok"),
    ready_check_interval: Annotated[
        float,
        typer.Option(
            parser=_duration, metavar="DURATION", help="How often /shutdown looks for the ready file."
        ),
    ] = "1s",  # type: ignore[assignment]  # parsed by _duration
    log_format: Annotated[LogFormat, typer.Option(help="Log format.")] = LogFormat.text,
    debug: Annotated[bool, typer.Option(help="Debug logging.")] = False,
) -> None:
    """Start envoy shutdown-manager: /healthz for liveness, /shutdown for Envoy's preStop hook."""
    if ready_check_interval <= 0:
        raise typer.BadParameter("must be greater than zero", param_hint="--ready-check-interval")
    if not str(ready_file) or str(ready_file) == ".":
        raise typer.BadParameter("must name a file", param_hint="--ready-file")
    _configure_logging(log_format, debug)
    asyncio.run(_serve_shutdown_manager(serve_address, serve_port, ready_file, ready_check_interval))


async def _serve_shutdown_manager(address: str, port: int, ready_file: Path, check_interval: float) -> None:
    from contour.envoyproc.shutdown import ShutdownManager, start_shutdown_manager  # noqa: PLC0415

    manager = ShutdownManager(ready_file, check_interval=check_interval)
    try:
        runner, bound = await start_shutdown_manager(manager, address, port)
    except OSError as error:
        log.error(
            "cannot listen on %s:%d: %s", address or "*", port, error, extra={"context": "shutdown-manager"}
        )
        raise typer.Exit(1) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    listening = ", ".join(
        f"[{host}]:{port}" if ipaddress.ip_address(host).version == 6 else f"{host}:{port}"
        for host, port in bound
    )
    log.info(
        "started envoy shutdown manager, listening on %s", listening, extra={"context": "shutdown-manager"}
    )
    try:
        await stop.wait()
    finally:
        manager.stop_waiting()
        await runner.cleanup()
        log.info("stopped", extra={"context": "shutdown-manager"})


@envoy_app.command("shutdown")
def shutdown(
    *,
    admin_address: Annotated[
        str,
        typer.Option(
            help="Envoy admin interface address: an absolute unix socket path, or a host or IP.",
            callback=_admin_host,
        ),
    ] = "/admin/admin.sock",
    admin_port: Annotated[
        int,
        typer.Option(
            help="Envoy admin interface port, used when --admin-address is not a socket path.",
            callback=lambda value: _port(value, allow_zero=False),
        ),
    ] = 9001,
    check_interval: Annotated[
        float,
        typer.Option(parser=_duration, metavar="DURATION", help="Time to poll Envoy for open connections."),
    ] = "5s",  # type: ignore[assignment]
    check_delay: Annotated[
        float,
        typer.Option(
            parser=_duration,
            metavar="DURATION",
            help="Time to wait before polling Envoy for open connections.",
        ),
    ] = "0s",  # type: ignore[assignment]
    drain_delay: Annotated[
        float,
        typer.Option(
            parser=_duration, metavar="DURATION", help="Time to wait before draining Envoy connections."
        ),
    ] = "0s",  # type: ignore[assignment]
    drain_timeout: Annotated[
        float,
        typer.Option(
            parser=_duration,
            metavar="DURATION",
            help="Stop waiting this long after failing the health check (0s: until the pod is killed).",
        ),
    ] = "0s",  # type: ignore[assignment]
    min_open_connections: Annotated[
        int, typer.Option(help="Min number of open connections when polling Envoy.")
    ] = 0,
    ready_file: Annotated[Path, typer.Option(help="File to write when shutdown is completed.")] = Path(
        "/admin/ok"
    ),
    log_format: Annotated[LogFormat, typer.Option(help="Log format.")] = LogFormat.text,
    debug: Annotated[bool, typer.Option(help="Debug logging.")] = False,
) -> None:
    """Fail Envoy's health checks, wait for its connections to drain, then write the ready file."""
    from contour.envoyproc.shutdown import DrainSettings, ReadyFileError, admin_target, drain  # noqa: PLC0415

    settings = DrainSettings(
        admin=admin_target(admin_address, admin_port),
        check_interval=check_interval,
        check_delay=check_delay,
        drain_delay=drain_delay,
        min_open_connections=min_open_connections,
        ready_file=ready_file,
        drain_timeout=drain_timeout,
    )
    problems = settings.problems()
    if problems:
        flag, reason = problems[0]
        raise typer.BadParameter(reason, param_hint=flag)
    _configure_logging(log_format, debug)
    try:
        asyncio.run(drain(settings))
    except ReadyFileError as error:
        log.error("%s", error, extra={"context": "shutdownHandler"})
        raise typer.Exit(1) from None
