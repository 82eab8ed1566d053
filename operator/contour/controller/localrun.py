"""`contour run`: the whole product on a laptop, in one process tree, with no cluster.

In order: the embedded API server (SQLite in the state directory, a kubeconfig beside it), the
manifests of `-f` applied through the API (with `--quickstart`, the echo backends they ask for started
first), the controller on that API server through HTTP exactly as in a cluster (informers, rebuilds,
the xDS server on loopback without TLS, status), then a supervised local Envoy whose bootstrap points at
that xDS server. Envoy takes everything over one ADS stream (the bootstrap's `ads_config`, every
translated ConfigSource `ads`) unless `ads` is off: then, as with Contour, one stream per type and one
per EDS cluster. `start()` returns once Envoy is LIVE and writes `run.json` (addresses, PIDs) into the
state directory for scripts and tests; `stop()` undoes it in reverse order: Envoy is drained and gone
before anything else stops, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import kr8s.asyncio

from contour.apiserver.server import APIServer, APIServerConfig
from contour.controller.contourconfig import ContourSettings, local_run_configs
from contour.controller.contourconfig_object import read_contour_configuration
from contour.controller.controller import Controller, ControllerConfig
from contour.controller.echobackends import EchoBackends
from contour.controller.gatewayenvoys import GatewayEnvoys, GatewayEnvoysConfig
from contour.controller.manifests import apply_manifests, read_manifests
from contour.dag.builder import BuilderConfig
from contour.dag.model import ObjectRef
from contour.envoy.bootstrap import BootstrapConfig, bootstrap
from contour.envoy.translate import TranslatorConfig
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess
from contour.k8s.client import close, connect, read_object
from contour.k8s.statuswriter import load_balancer_status

log = logging.getLogger(__name__)

RUN_INFO_FILE = "run.json"
Progress = Callable[[str], None]


@dataclass
class LocalRunConfig:
    state_dir: Path
    manifests: tuple[Path, ...] = ()
    quickstart: bool = False
    address: str = "127.0.0.1"  # where Envoy's HTTP and HTTPS listeners bind
    http_port: int = 8080
    https_port: int = 8443
    api_port: int = 6443
    admin_port: int = 9001
    xds_port: int = 0
    stats_port: int = 8002  # Envoy's /ready and /stats/prometheus listener, on `address` (0: none)
    status_address: str = "127.0.0.1"  # written to status.loadBalancer of HTTPProxies and Ingresses
    envoy_bin: str | None = None
    envoy_log_level: str = "warning"
    envoy_concurrency: int | None = 2
    drain_seconds: float = 1.0
    ready_timeout: float = 60.0
    # Contour's routing options (ContourConfiguration / contour serve flags)
    enable_external_name_service: bool = False
    root_namespaces: tuple[str, ...] = ()
    ingress_class_names: tuple[str, ...] = ()
    disable_permit_insecure: bool = False
    ads: bool = True  # one aggregated xDS stream; False: a stream per type and per EDS cluster
    fallback_certificate: ObjectRef | None = None  # TLS Secret for clients without SNI
    # A Contour configuration (--config file, already read), or the ContourConfiguration to read at
    # start (--contour-config-name); `explicit_flags`: fields above given on the command line, which
    # override the configuration (contourconfig.local_run_configs).
    settings: ContourSettings | None = None
    contour_config_name: str = ""
    contour_config_namespace: str = "projectcontour"
    explicit_flags: frozenset[str] = frozenset()


@dataclass
class RunInfo:
    """What is running where; written as `run.json` once Envoy is LIVE."""

    pid: int
    api_url: str
    kubeconfig: str
    xds_port: int
    envoy_pid: int
    envoy_admin: str
    envoy_log: str
    listeners: dict[str, list[Any]]  # Envoy listener name -> [address, port]
    echo_backends: dict[str, int]  # pod -> port
    echo_pids: dict[str, int]  # pod -> PID


def concrete_admin_port(port: int) -> int:
    """`port`, or for 0 one free on 127.0.0.1 now: the bootstrap's `envoy-admin` cluster (behind the
    stats listener's /ready and /stats) must name the port Envoy's admin really listens on."""
    if port:
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRun:
    def __init__(self, config: LocalRunConfig, announce: Progress | None = None) -> None:
        self.config = config
        # Lines for the user while running (each Gateway's Envoy ready or stopped); stdout by default.
        self.announce: Progress = announce or (lambda line: print(line, flush=True))
        self.apiserver: APIServer | None = None
        self.api: kr8s.asyncio.Api | None = None
        self.echoes = EchoBackends(config.state_dir / "echo")
        self.controller: Controller | None = None
        self.envoy: EnvoyProcess | None = None
        self.gateway_envoys: GatewayEnvoys | None = None
        self.info: RunInfo | None = None

    async def start(self, progress: Progress = lambda _: None) -> RunInfo:
        """Start everything; on any failure, stop what was started and raise."""
        try:
            return await self._start(progress)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, progress: Progress) -> RunInfo:
        cfg = self.config
        (cfg.state_dir / RUN_INFO_FILE).unlink(missing_ok=True)
        manifests = read_manifests(cfg.manifests)  # fail on a bad file before starting anything

        progress("starting the API server")
        self.apiserver = APIServer(APIServerConfig(state_dir=cfg.state_dir, port=cfg.api_port))
        await self.apiserver.start()
        kubeconfig = self.apiserver.write_kubeconfig()
        self.api = await connect(kubeconfig=str(kubeconfig))

        if cfg.quickstart:
            progress("starting the echo backends")
            await self.echoes.start(manifests)
            manifests = self.echoes.wire(manifests)
        if manifests:
            progress(f"applying {len(manifests)} objects")
            await apply_manifests(self.api, manifests)

        settings = cfg.settings
        if cfg.contour_config_name:
            progress(f"reading ContourConfiguration {cfg.contour_config_name}")
            ref = ObjectRef(cfg.contour_config_namespace, cfg.contour_config_name)
            settings = await read_contour_configuration(self.api, ref)
        progress("starting the controller and the xDS server")
        builder, translator = local_run_configs(
            settings,
            BuilderConfig(
                root_namespaces=cfg.root_namespaces,
                ingress_class_names=cfg.ingress_class_names,
                enable_external_name_service=cfg.enable_external_name_service,
                disable_permit_insecure=cfg.disable_permit_insecure,
                fallback_certificate=cfg.fallback_certificate,
                http_address=cfg.address,
                http_port=cfg.http_port,
                https_address=cfg.address,
                https_port=cfg.https_port,
            ),
            TranslatorConfig(stats_address=cfg.address, stats_port=cfg.stats_port, ads=cfg.ads),
            cfg.explicit_flags,
        )
        self.controller = Controller(
            self.api,
            ControllerConfig(
                builder=builder,
                translator=translator,
                xds_address="127.0.0.1",
                xds_port=cfg.xds_port,
                load_balancer=load_balancer_status(cfg.status_address),
            ),
        )
        await self.controller.start()
        await self.controller.wait_ready(cfg.ready_timeout)
        assert self.controller.xds is not None

        progress("starting Envoy")
        bootstrap_config = BootstrapConfig(
            xds_address="127.0.0.1",
            xds_port=self.controller.xds.port,
            admin_address="127.0.0.1",
            admin_port=concrete_admin_port(cfg.admin_port),
            node_id="envoy",
            node_cluster="contour",
            ads=cfg.ads,
        )
        self.envoy = EnvoyProcess(
            bootstrap(bootstrap_config),
            cfg.state_dir / "envoy",
            EnvoyOptions(
                envoy_bin=cfg.envoy_bin,
                log_level=cfg.envoy_log_level,
                concurrency=cfg.envoy_concurrency,
                ready_timeout=cfg.ready_timeout,
                drain_seconds=cfg.drain_seconds,
                terminate_timeout=5.0,
            ),
        )
        await self.envoy.start()
        # Gateways get their own Envoys from here on, each when its address is published.
        api = self.api

        async def read_contour_deployment(ref: ObjectRef) -> dict[str, Any] | None:
            return await read_object(
                api,
                group="projectcontour.io",
                version="v1alpha1",
                plural="contourdeployments",
                namespace=ref.namespace,
                name=ref.name,
            )

        self.gateway_envoys = GatewayEnvoys(
            self.controller.handler,
            GatewayEnvoysConfig(
                cfg.state_dir, self.controller.xds.port, ads=cfg.ads, envoy=self.envoy.options
            ),
            self.announce,
            read_contour_deployment,
        )
        self.gateway_envoys.start()
        listeners = await self.envoy.admin.listener_addresses()
        self.info = RunInfo(
            pid=os.getpid(),
            api_url=self.apiserver.url,
            kubeconfig=str(kubeconfig),
            xds_port=self.controller.xds.port,
            envoy_pid=self.envoy.pid or 0,
            envoy_admin=self.envoy.admin.address,
            envoy_log=str(self.envoy.log_path),
            listeners={name: [host, port] for name, (host, port) in sorted(listeners.items())},
            echo_backends={pod: p.port for pod, p in sorted(self.echoes.processes.items())},
            echo_pids={pod: p.pid for pod, p in sorted(self.echoes.processes.items())},
        )
        path = cfg.state_dir / RUN_INFO_FILE
        path.write_text(json.dumps(asdict(self.info), indent=2) + "\n", "utf-8")
        return self.info

    async def stop(self) -> None:
        """Stop everything started, Envoy first (drained); safe to call more than once."""
        (self.config.state_dir / RUN_INFO_FILE).unlink(missing_ok=True)
        gateway_envoys, self.gateway_envoys = self.gateway_envoys, None
        if gateway_envoys is not None:
            await gateway_envoys.stop()
        envoy, self.envoy = self.envoy, None
        if envoy is not None:
            await envoy.stop()
        controller, self.controller = self.controller, None
        if controller is not None:
            await controller.stop()
        await self.echoes.stop()
        api, self.api = self.api, None
        if api is not None:
            with contextlib.suppress(Exception):
                await close(api)
        server, self.apiserver = self.apiserver, None
        if server is not None:
            await server.stop()
