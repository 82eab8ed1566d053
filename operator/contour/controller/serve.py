"""`contour serve`: the controller against a Kubernetes API server, as Contour runs in a cluster.

`Serve.start()` composes, in order:

1. the connection (`--kubeconfig` or `--incluster`);
2. the settings: the flags, over a config file (`--config-path`, read by the CLI) or a
   ContourConfiguration (`--contour-config-name`, read here): a flag given on the command line wins,
   then what the configuration gives, then the flag's default (`resolve`);
3. the Envoy Service's address for statuses (`statusaddress`), watched before the first build so the
   first statuses already carry it (unless `--ingress-status-address` fixes it);
4. the `Controller` (informers per watched namespace, rebuilds, snapshots, statuses) whose xDS server
   binds only after every informer synced and the first snapshot was built, with mTLS unless
   `--insecure`;
5. the leader election: unless `--disable-leader-election`, statuses are written only while this
   replica holds the Lease; every replica serves xDS;
6. the HTTP endpoints: metrics and health (`--http-*`, `--health-*` when they differ) and debug.

`wait_ready()` returns once xDS is served; `stop()` undoes everything (the Lease released first, so a
standby replica takes over at once). `serve(config)` runs until SIGTERM or SIGINT and returns the exit
code: 0 after a signal, 2 for an invalid configuration, 1 when the start failed otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

import kr8s.asyncio
from prometheus_client import CollectorRegistry

from contour.controller import httpendpoints
from contour.controller.contourconfig import ContourSettings
from contour.controller.contourconfig_object import read_contour_configuration
from contour.controller.contourconfig_values import ConfigError
from contour.controller.controller import Controller, ControllerConfig
from contour.controller.metrics import ControllerMetrics
from contour.controller.statusaddress import AddressedStatusSink, StatusAddresses, sync_gateway_addresses
from contour.dag.builder import BuilderConfig
from contour.dag.model import ObjectRef
from contour.envoy.translate import TranslatorConfig
from contour.k8s.client import KubeClientError, close, connect
from contour.k8s.informer import Informer, InformerEvent
from contour.k8s.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from contour.xds.tls import TlsFiles

log = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


@dataclass(frozen=True)
class ServeConfig:
    """`contour serve`'s options, named after its flags; `explicit` names those given on the command
    line (they override a configuration file or ContourConfiguration)."""

    kubeconfig: str | None = None
    incluster: bool = False
    settings: ContourSettings | None = None  # --config-path, already read
    config_path: str = ""
    contour_config_name: str = ""
    contour_config_namespace: str = "projectcontour"
    xds_address: str = "127.0.0.1"
    xds_port: int = 8001
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure: bool = False
    ingress_class_names: tuple[str, ...] = ()
    ingress_status_address: str = ""
    root_namespaces: tuple[str, ...] = ()
    watch_namespaces: tuple[str, ...] = ()
    envoy_service_name: str = "envoy"
    envoy_service_namespace: str = "projectcontour"
    envoy_http_address: str = "0.0.0.0"
    envoy_http_port: int = 8080
    envoy_https_address: str = "0.0.0.0"
    envoy_https_port: int = 8443
    stats_address: str = "0.0.0.0"
    stats_port: int = 8002
    http_address: str = "0.0.0.0"
    http_port: int = 8000
    health_address: str = "0.0.0.0"
    health_port: int = 8000
    debug_http_address: str = "127.0.0.1"
    debug_http_port: int = 6060
    disable_leader_election: bool = False
    leader_election_lease_duration: float = 15.0
    leader_election_renew_deadline: float = 10.0
    leader_election_retry_period: float = 2.0
    leader_election_resource_name: str = "leader-elect"
    leader_election_resource_namespace: str = "projectcontour"
    log_format: str = "text"
    debug: bool = False
    explicit: frozenset[str] = frozenset()
    # Not flags: how long the informers may take to list, and the start as a whole.
    sync_timeout: float = 120.0
    ready_timeout: float = 180.0


# ServeConfig field -> (configuration option name, how to read it from ContourSettings).
_FROM_SETTINGS: Final[dict[str, tuple[str, Callable[[ContourSettings], Any]]]] = {
    "xds_address": ("xds.address", lambda s: s.xds.address),
    "xds_port": ("xds.port", lambda s: s.xds.port),
    "ca_file": ("xds.ca_file", lambda s: s.xds.ca_file),
    "cert_file": ("xds.cert_file", lambda s: s.xds.cert_file),
    "key_file": ("xds.key_file", lambda s: s.xds.key_file),
    "insecure": ("xds.insecure", lambda s: s.xds.insecure),
    "ingress_class_names": ("ingress.class_names", lambda s: s.builder.ingress_class_names),
    "ingress_status_address": ("ingress.status_address", lambda s: s.ingress_status_address),
    "root_namespaces": ("root_namespaces", lambda s: s.builder.root_namespaces),
    "envoy_service_name": ("envoy.service.name", lambda s: s.envoy_service.name),
    "envoy_service_namespace": ("envoy.service.namespace", lambda s: s.envoy_service.namespace),
    "envoy_http_address": ("envoy.http.address", lambda s: s.envoy_http.address),
    "envoy_http_port": ("envoy.http.port", lambda s: s.envoy_http.port),
    "envoy_https_address": ("envoy.https.address", lambda s: s.envoy_https.address),
    "envoy_https_port": ("envoy.https.port", lambda s: s.envoy_https.port),
    "stats_address": ("envoy.metrics.address", lambda s: s.envoy_metrics.address),
    "stats_port": ("envoy.metrics.port", lambda s: s.envoy_metrics.port),
    "http_address": ("metrics.address", lambda s: s.metrics.address),
    "http_port": ("metrics.port", lambda s: s.metrics.port),
    "health_address": ("health.address", lambda s: s.health.address),
    "health_port": ("health.port", lambda s: s.health.port),
    "debug_http_address": ("debug.address", lambda s: s.debug.address),
    "debug_http_port": ("debug.port", lambda s: s.debug.port),
    "debug": ("process.debug", lambda s: s.process.debug),
    "incluster": ("process.incluster", lambda s: s.process.incluster),
    "kubeconfig": ("process.kubeconfig", lambda s: s.process.kubeconfig or None),
}

# ServeConfig field -> its flag, for messages (the field's name in kebab case, but for these).
_FLAG_EXCEPTIONS: Final = {
    "ca_file": "--contour-cafile",
    "cert_file": "--contour-cert-file",
    "key_file": "--contour-key-file",
    "ingress_class_names": "--ingress-class-name",
    "config_path": "--config-path",
    "envoy_http_address": "--envoy-service-http-address",
    "envoy_http_port": "--envoy-service-http-port",
    "envoy_https_address": "--envoy-service-https-address",
    "envoy_https_port": "--envoy-service-https-port",
}
FLAG_NAMES: Final = {
    f.name: _FLAG_EXCEPTIONS.get(f.name, "--" + f.name.replace("_", "-")) for f in fields(ServeConfig)
}


def resolve(config: ServeConfig, settings: ContourSettings | None) -> ServeConfig:
    """`config` with every field its flag did not set taken from `settings` when they give it."""
    if settings is None:
        return config
    changes = {
        name: read(settings)
        for name, (option, read) in _FROM_SETTINGS.items()
        if name not in config.explicit and option in settings.given
    }
    return replace(config, settings=settings, **changes)


def xds_tls(config: ServeConfig) -> TlsFiles | None:
    """The xDS server's mTLS files, None with --insecure; ConfigError naming the flag otherwise."""
    given = {"ca_file": config.ca_file, "cert_file": config.cert_file, "key_file": config.key_file}
    if config.insecure:
        named = [FLAG_NAMES[n] for n, v in given.items() if v and n in config.explicit]
        if named:
            raise ConfigError(f"--insecure cannot be used together with {', '.join(named)}")
        return None
    missing = [FLAG_NAMES[n] for n, v in given.items() if not v]
    if len(missing) == len(given):
        raise ConfigError(
            "no TLS parameters and --insecure not supplied: give --contour-cafile, --contour-cert-file"
            " and --contour-key-file, or --insecure"
        )
    if missing:
        raise ConfigError(
            "give all three TLS parameters (--contour-cafile, --contour-cert-file, --contour-key-file)"
            f" or none of them: {', '.join(missing)} missing"
        )
    for name, path in given.items():
        if not Path(path).is_file():
            raise ConfigError(f"{FLAG_NAMES[name]} {path!r}: no such file")
    return TlsFiles(
        cert_file=Path(config.cert_file), key_file=Path(config.key_file), ca_file=Path(config.ca_file)
    )


def leader_election_config(config: ServeConfig) -> LeaderElectionConfig:
    try:
        return LeaderElectionConfig(
            name=config.leader_election_resource_name,
            namespace=config.leader_election_resource_namespace,
            identity=default_identity(),
            lease_duration=config.leader_election_lease_duration,
            renew_deadline=config.leader_election_renew_deadline,
            retry_period=config.leader_election_retry_period,
        )
    except ValueError as error:
        raise ConfigError(f"--leader-election-*: {error}") from None


def controller_configs(config: ServeConfig) -> tuple[BuilderConfig, TranslatorConfig]:
    """The BuilderConfig and TranslatorConfig: the configuration's, with the resolved flags over them."""
    settings = config.settings
    builder = settings.builder if settings is not None else BuilderConfig()
    translator = settings.translator if settings is not None else TranslatorConfig()
    builder = replace(
        builder,
        root_namespaces=config.root_namespaces,
        ingress_class_names=config.ingress_class_names,
        http_address=config.envoy_http_address,
        http_port=config.envoy_http_port,
        https_address=config.envoy_https_address,
        https_port=config.envoy_https_port,
    )
    translator = replace(translator, stats_address=config.stats_address, stats_port=config.stats_port)
    return builder, translator


@dataclass
class Serve:
    """One `contour serve`: see the module docstring. Attributes are set by `start()`."""

    config: ServeConfig
    api: kr8s.asyncio.Api | None = None
    controller: Controller | None = None
    metrics: ControllerMetrics | None = None
    elector: LeaderElector | None = None
    addresses: StatusAddresses | None = None
    service_informer: Informer | None = None
    endpoints: dict[str, httpendpoints.Runner] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start everything; on any failure stop what was started and raise (ConfigError: bad options)."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        config = self.config
        self.api = await connect(kubeconfig=config.kubeconfig, incluster=config.incluster)
        if config.contour_config_name:
            ref = ObjectRef(config.contour_config_namespace, config.contour_config_name)
            config = resolve(config, await read_contour_configuration(self.api, ref))
        else:
            config = resolve(config, config.settings)
        self.config = config
        tls = xds_tls(config)
        election = None if config.disable_leader_election else leader_election_config(config)
        builder, translator = controller_configs(config)
        self.metrics = ControllerMetrics(CollectorRegistry())
        self.addresses = StatusAddresses(config.ingress_status_address)
        if not config.ingress_status_address:
            await self._watch_envoy_service(config)
        self.controller = Controller(
            self.api,
            ControllerConfig(
                builder=builder,
                translator=translator,
                xds_address=config.xds_address,
                xds_port=config.xds_port,
                xds_tls=tls,
                xds_after_first_snapshot=True,
                watch_namespaces=config.watch_namespaces,
                leading_at_start=election is None,
                sync_timeout=config.sync_timeout,
            ),
            metrics=self.metrics,
        )
        handler = self.controller.handler
        if handler.statuses is not None:
            handler.statuses = AddressedStatusSink(handler.statuses, self.addresses)
        await self._start_endpoints(config)
        await self.controller.start()
        self._tasks.append(asyncio.create_task(self._follow_gateways(), name="gateway addresses"))
        if election is not None:
            updater = self.controller.status_updater
            self.elector = LeaderElector(
                self.api,
                election,
                on_started_leading=lambda: updater.set_leading(True) if updater is not None else None,
                on_stopped_leading=lambda: updater.set_leading(False) if updater is not None else None,
            )
            self._tasks.append(asyncio.create_task(self.elector.run(), name="leader election"))
            log.info(
                "leader election as %s on Lease %s/%s",
                election.identity,
                election.namespace,
                election.name,
                extra={"context": "leaderelection"},
            )
        log.info(
            "contour serve started",
            extra={"context": "serve", "namespace": ",".join(config.watch_namespaces) or None},
        )

    async def _watch_envoy_service(self, config: ServeConfig) -> None:
        assert self.api is not None and self.addresses is not None
        self.service_informer = Informer(
            self.api,
            group="",
            version="v1",
            plural="services",
            namespace=config.envoy_service_namespace,
            field_selector=f"metadata.name={config.envoy_service_name}",
            on_event=self._on_envoy_service,
        )
        informer = self.service_informer
        self._tasks.append(asyncio.create_task(informer.run(), name=f"informer {informer.name}"))
        await informer.wait_synced(config.sync_timeout)

    def _on_envoy_service(self, event: InformerEvent) -> None:
        assert self.addresses is not None
        service = event.obj if isinstance(event.obj, Mapping) else None
        if not self.addresses.set_service(service):
            return
        log.info(
            "status address is now %s",
            self.addresses.load_balancer,
            extra={
                "context": "statusaddress",
                "kind": "Service",
                "namespace": self.config.envoy_service_namespace,
                "object_name": self.config.envoy_service_name,
            },
        )
        if self.controller is not None:
            handler = self.controller.handler
            sync_gateway_addresses(handler.cache, handler.dag, self.addresses.load_balancer is not None)
            handler.request_rebuild()

    async def _follow_gateways(self) -> None:
        """After each rebuild, give new Gateways their bind address while there is one to report."""
        assert self.controller is not None and self.addresses is not None
        handler = self.controller.handler
        while True:
            if sync_gateway_addresses(handler.cache, handler.dag, self.addresses.load_balancer is not None):
                handler.request_rebuild()
            await handler.next_rebuild()

    async def _start_endpoints(self, config: ServeConfig) -> None:
        """Metrics (+ health when on the same address and port), health (when not), and debug."""
        assert self.api is not None and self.metrics is not None and self.controller is not None
        api, controller = self.api, self.controller
        routes = httpendpoints.metrics_routes(
            self.metrics.registry,
            httpendpoints.ApiHealth(api.version),
            lambda: controller.handler.published.is_set() and controller.xds is not None,
        )
        health_paths = {"/healthz", "/health", "/readyz"}
        wanted = {"metrics": (config.http_address, config.http_port, routes)}
        if (config.health_address, config.health_port) != (config.http_address, config.http_port):
            wanted["metrics"] = (
                config.http_address,
                config.http_port,
                [r for r in routes if getattr(r, "path", "") not in health_paths],
            )
            wanted["health"] = (
                config.health_address,
                config.health_port,
                [r for r in routes if getattr(r, "path", "") in health_paths],
            )
        debug = httpendpoints.debug_routes(lambda: controller.handler.dag)
        wanted["debug"] = (config.debug_http_address, config.debug_http_port, debug)
        for name, (address, port, chosen) in wanted.items():
            self.endpoints[name] = await httpendpoints.start_endpoints(address, port, chosen, name=name)

    def endpoint_port(self, name: str) -> int:
        """The bound port of endpoint `metrics`, `health` (the metrics one when shared) or `debug`."""
        return (self.endpoints.get(name) or self.endpoints["metrics"]).port

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Return once the xDS server serves the first snapshot."""
        assert self.controller is not None
        await self.controller.wait_ready(self.config.ready_timeout if timeout is None else timeout)

    async def stop(self) -> None:
        """Release the Lease, stop the endpoints, the controller and the connection; idempotent."""
        elector, self.elector = self.elector, None
        if elector is not None:
            with contextlib.suppress(Exception):
                await elector.release()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for runner in list(self.endpoints.values()):
            with contextlib.suppress(Exception):
                await runner.stop()
        self.endpoints.clear()
        controller, self.controller = self.controller, None
        if controller is not None:
            await controller.stop()
        api, self.api = self.api, None
        if api is not None:
            with contextlib.suppress(Exception):
                await close(api)


async def serve(config: ServeConfig) -> int:
    """Run until SIGTERM or SIGINT; the exit code (see the module docstring)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = Serve(config)
    starting = asyncio.create_task(_start_and_wait(server))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return EXIT_OK
        error = starting.exception()
        if isinstance(error, ConfigError):
            log.error("invalid configuration: %s", error, extra={"context": "serve"})
            return EXIT_USAGE
        if isinstance(error, (KubeClientError, httpendpoints.EndpointBindError)):
            log.error("%s", error, extra={"context": "serve"})
            return EXIT_FAILED
        if error is not None:
            log.error("start failed: %s", error, exc_info=error, extra={"context": "serve"})
            return EXIT_FAILED
        await stopping
        log.info("stopping", extra={"context": "serve"})
        return EXIT_OK
    finally:
        stopping.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()


async def _start_and_wait(server: Serve) -> None:
    await server.start()
    await server.wait_ready()
    controller = server.controller
    port = controller.xds.port if controller is not None and controller.xds is not None else 0
    log.info("serving xDS on %s:%d", server.config.xds_address, port, extra={"context": "xds"})
