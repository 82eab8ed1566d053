"""`contour run`'s provisioner: one local Envoy per accepted Gateway, on its own loopback address.

In a cluster, a Gateway gets an Envoy fleet and a Service whose address ends up in status.addresses.
On a laptop the same contract is kept with processes: after every rebuild `GatewayEnvoys` compares the
Gateways of the DAG (`dag.gateways`, accepted ones only) with the Envoys it runs, and

* gives each Gateway an address: the first loopback IPv4 address of its spec.addresses that no other
  Gateway holds, else the lowest free 127.0.1.N (N >= 1; the whole of 127/8 is local on Linux, so no
  configuration is needed). An address sticks to its Gateway while the Gateway lives and still asks
  for it (or asks for none); `assign_addresses` is the pure rule;
* writes it to `cache.gateway_addresses` and asks for a rebuild, so the Gateway's listeners bind there
  and status.addresses reports it;
* starts the Gateway's Envoy only once the published DAG binds that Gateway on that address. Before
  that its listeners say 0.0.0.0: an Envoy given them would bind every interface on the Gateway's
  ports (beside other Gateways on the same ports), then drain and replace each listener when the
  address arrives. A Gateway whose address changes gets a new Envoy for the same reason (the old one
  is stopped before the new address is published), so an Envoy only ever serves the announced address;
* the Envoy bootstraps like `contour bootstrap` with node.cluster = `gateway_group(ref)`, so the xDS
  server (grouping streams by node.cluster) serves it that Gateway's snapshot; its admin listens on
  127.0.0.1 on a port free at start; `EnvoyProcess` restarts it if it crashes. Its bootstrap options
  (node id and cluster, namespace, overload heap limit) come from the provisioner's desired state for
  the Gateway (`provisioner.render_host`, from the Gateway, its GatewayClass and the ContourDeployment
  the class names), the model the in-cluster provisioner renders the Gateway's Envoy fleet from; a
  Gateway whose parameters are invalid gets no Envoy (the reason is logged and announced);
* stops it, drained, when the Gateway leaves the DAG (deleted, or no longer accepted).

What runs where is announced (one line per Gateway when its Envoy is LIVE) and kept in
`STATE_DIR/gateways.json` for scripts and tests. One task owns all of this (`run()`); `stop()` ends it
and every Envoy it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from contour.api.gateway.v1 import Address
from contour.controller.eventhandler import EventHandler
from contour.dag.gatewayapi_names import gateway_of_group
from contour.dag.model import ObjectRef
from contour.envoy.bootstrap import BootstrapConfig, bootstrap
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess, EnvoyStartError
from contour.k8s.client import KubeClientError
from contour.provisioner.model import HostEnvoy, InvalidParameters
from contour.provisioner.params_gateway import params_from_gateway
from contour.provisioner.render_host import render_host
from contour.xds.cache import DEFAULT_GROUP

log = logging.getLogger(__name__)

GATEWAYS_INFO_FILE: Final = "gateways.json"
IP_ADDRESS_TYPE: Final = "IPAddress"
# 127.0.1.1, 127.0.1.2, ... 127.0.1.254, then 127.0.2.1, ...: never .0 or .255 of a /24, so an address
# reads like an ordinary host address.
_POOL_FIRST: Final = int(ipaddress.IPv4Address("127.0.1.0"))
_POOL_HOSTS_PER_BLOCK: Final = 254
_POOL_SIZE: Final = _POOL_HOSTS_PER_BLOCK * 255  # up to 127.255.255.254

Announce = Callable[[str], None]
ReadObject = Callable[[ObjectRef], Awaitable[Mapping[str, Any] | None]]


def _manifest(model: Any) -> dict[str, Any]:
    """A cached Gateway API object as the manifest the provisioner reads."""
    dumped: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


# -- the address rule (pure) ------------------------------------------------------------------------


def pool_address(n: int) -> str:
    """The N-th address of the pool (N >= 1): 127.0.1.N for N <= 254, then on through 127.0.2.x."""
    if not 1 <= n <= _POOL_SIZE:
        raise ValueError(f"pool address number {n} is outside 1..{_POOL_SIZE}")
    block, host = divmod(n - 1, _POOL_HOSTS_PER_BLOCK)
    return str(ipaddress.IPv4Address(_POOL_FIRST + block * 256 + host + 1))


def is_pool_address(address: str) -> bool:
    try:
        ip = int(ipaddress.IPv4Address(address))
    except ValueError:
        return False
    block, host = divmod(ip - _POOL_FIRST, 256)
    return 0 <= block < 255 and 1 <= host <= _POOL_HOSTS_PER_BLOCK


def lowest_free_pool_address(taken: Iterable[str]) -> str:
    used = set(taken)
    for n in range(1, _POOL_SIZE + 1):
        address = pool_address(n)
        if address not in used:
            return address
    raise RuntimeError("every loopback pool address is taken")


def requested_loopback(addresses: Iterable[Address] | None) -> tuple[str, ...]:
    """The loopback IPv4 values among a Gateway's spec.addresses, in order, once each.

    Other entries (Hostname, NamedAddress, non-loopback IPs, an IPAddress without a value) cannot be
    served by a local Envoy and leave the choice to the pool."""
    found: list[str] = []
    for entry in addresses or ():
        if (entry.type or IP_ADDRESS_TYPE) != IP_ADDRESS_TYPE or not entry.value:
            continue
        try:
            ip = ipaddress.IPv4Address(entry.value)
        except ValueError:
            continue
        if ip.is_loopback and str(ip) not in found:
            found.append(str(ip))
    return tuple(found)


def assign_addresses(
    current: Mapping[ObjectRef, str], requested: Mapping[ObjectRef, Sequence[str]]
) -> dict[ObjectRef, str]:
    """The address of every Gateway in `requested` (its requested loopback addresses, maybe none).

    A Gateway keeps its current address if it still asks for it, or asks for nothing and holds a pool
    address. The others, in name order, get their first requested address nobody holds, else the
    lowest free pool address. Gateways absent from `requested` lose theirs, which frees them."""
    assigned: dict[ObjectRef, str] = {}
    for ref in sorted(requested):
        address, wanted = current.get(ref), requested[ref]
        if address is not None and (address in wanted if wanted else is_pool_address(address)):
            assigned[ref] = address
    taken = set(assigned.values())
    for ref in sorted(requested):
        if ref in assigned:
            continue
        choice = next((a for a in requested[ref] if a not in taken), None)
        if choice is None:
            choice = lowest_free_pool_address(taken)
        assigned[ref] = choice
        taken.add(choice)
    return assigned


def group_by_gateway(node: Any) -> str:
    """The xDS group of an Envoy: its Gateway's group when node.cluster names one, else the default.

    Any other node.cluster (Contour's Deployment sets its namespace, `contour run` sets "contour") gets
    the default group, which serves HTTPProxies and Ingresses."""
    cluster = str(node.cluster)
    return cluster if gateway_of_group(cluster) is not None else DEFAULT_GROUP


# -- the supervisor ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayEnvoysConfig:
    state_dir: Path  # each Gateway's Envoy works in STATE_DIR/gateways/NAMESPACE/NAME
    xds_port: int
    xds_address: str = "127.0.0.1"
    ads: bool = True
    envoy: EnvoyOptions = field(default_factory=EnvoyOptions)
    retry_after: float = 5.0  # a Gateway whose Envoy failed to start is tried again after this


@dataclass
class GatewayEnvoy:
    """One Gateway's running Envoy."""

    ref: ObjectRef
    address: str
    process: EnvoyProcess
    admin: str
    ports: tuple[tuple[str, int], ...]  # the Gateway's listeners as declared: (protocol, port)
    listeners: dict[str, tuple[str, int]]  # Envoy listener name -> (address, port) when it became LIVE


@dataclass
class GatewayEnvoysCounters:
    reconciles: int = 0
    starts: int = 0
    start_failures: int = 0
    stops: int = 0
    errors: int = 0


def _free_admin_port() -> int:
    """A port free on 127.0.0.1 now: the bootstrap's `envoy-admin` cluster must name the real one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def describe(envoy: GatewayEnvoy) -> str:
    """The line announced when a Gateway's Envoy is ready: where to reach it and how to inspect it."""
    ports = ", ".join(
        f"{port}/{protocol}" for protocol, port in sorted(envoy.ports, key=lambda p: (p[1], p[0]))
    )
    return (
        f"Gateway {envoy.ref}: Envoy ready on {envoy.address}, ports {ports or 'none'}"
        f" (pid {envoy.process.pid}, admin http://{envoy.admin})"
    )


class GatewayEnvoys:
    """Keeps one Envoy per Gateway of the handler's DAG; `run()` is its owning task."""

    def __init__(
        self,
        handler: EventHandler,
        config: GatewayEnvoysConfig,
        announce: Announce,
        read_contour_deployment: ReadObject | None = None,
    ) -> None:
        """`read_contour_deployment(ref)`: the ContourDeployment a GatewayClass names, from the API
        (None when absent); without it, a class with a parametersRef gets no Envoy."""
        self.handler = handler
        self.config = config
        self.announce = announce
        self.read_contour_deployment = read_contour_deployment
        self.envoys: dict[ObjectRef, GatewayEnvoy] = {}
        self.addresses: dict[ObjectRef, str] = {}
        self.counters = GatewayEnvoysCounters()
        self._failed_at: dict[ObjectRef, float] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def info_path(self) -> Path:
        return self.config.state_dir / GATEWAYS_INFO_FILE

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="gateway envoys")

    async def stop(self) -> None:
        """End the task and stop every Envoy (drained); safe to call more than once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.gather(*(self._stop_envoy(ref, announce=False) for ref in sorted(self.envoys)))
        self.info_path.unlink(missing_ok=True)

    async def run(self) -> None:
        """Reconcile after every published rebuild (and on retries); never raises but on cancellation."""
        seen = -1
        while True:
            if self.handler.counters.rebuilds == seen:
                timeout = self.config.retry_after if self._failed_at else None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self.handler.next_rebuild()
            seen = self.handler.counters.rebuilds
            try:
                await self.reconcile()
            except Exception:
                self.counters.errors += 1
                log.exception("provisioning the Gateways' Envoys failed; retrying after the next rebuild")

    def wanted(self) -> dict[ObjectRef, tuple[str, ...]]:
        """Accepted Gateway -> its requested loopback addresses, from the last published DAG."""
        dag = self.handler.dag
        if dag is None:
            return {}
        cached = self.handler.cache.gateways
        return {
            ref: requested_loopback(gateway.spec.addresses if (gateway := cached.get(ref)) else None)
            for ref in dag.gateways
        }

    async def reconcile(self) -> None:
        self.counters.reconciles += 1
        wanted = self.wanted()
        gone = sorted(set(self.envoys) - set(wanted))
        await asyncio.gather(*(self._stop_envoy(ref, announce=True) for ref in gone))
        assigned = assign_addresses(self.addresses, wanted)
        cache = self.handler.cache
        rebuild = False
        for ref in sorted(set(cache.gateway_addresses) - set(assigned)):
            rebuild |= cache.set_gateway_address(ref, None)
            self._failed_at.pop(ref, None)
        for ref, address in sorted(assigned.items()):
            if cache.gateway_addresses.get(ref) == address:
                continue
            if ref in self.envoys:
                await self._stop_envoy(ref, announce=True)
            rebuild |= cache.set_gateway_address(ref, address)
        self.addresses = assigned
        if rebuild:
            self.handler.request_rebuild()
        due = [ref for ref, address in sorted(assigned.items()) if self._may_start(ref, address)]
        if due:
            await asyncio.gather(*(self._start_envoy(ref, assigned[ref]) for ref in due))
            self._write_info()

    def _may_start(self, ref: ObjectRef, address: str) -> bool:
        """Not running yet, the published DAG binds its listeners on `address`, no recent failure."""
        dag = self.handler.dag
        published = dag.gateways.get(ref) if dag is not None else None
        if ref in self.envoys or published is None or published.address != address:
            return False
        failed = self._failed_at.get(ref)
        return failed is None or asyncio.get_running_loop().time() - failed >= self.config.retry_after

    async def _host_envoy(self, ref: ObjectRef) -> HostEnvoy | InvalidParameters:
        """The provisioner's desired host Envoy of Gateway `ref`, or why its parameters are invalid."""
        cache = self.handler.cache
        gateway = cache.gateways.get(ref)
        if gateway is None:
            return InvalidParameters("metadata.name", f"Gateway {ref} is not in the cache")
        gateway_class = cache.gatewayclasses.get(ObjectRef("", gateway.spec.gateway_class_name))
        if gateway_class is None:
            return InvalidParameters(
                "spec.gatewayClassName", f"GatewayClass {gateway.spec.gateway_class_name} is not in the cache"
            )
        deployment = None
        wanted = gateway_class.spec.parameters_ref
        if wanted is not None and wanted.namespace and self.read_contour_deployment is not None:
            try:
                deployment = await self.read_contour_deployment(ObjectRef(wanted.namespace, wanted.name))
            except KubeClientError as error:
                return InvalidParameters("spec.parametersRef", f"cannot read the ContourDeployment: {error}")
        params = params_from_gateway(
            _manifest(gateway),
            _manifest(gateway_class),
            deployment,
            controller_name=self.handler.builder.config.gateway_controller_name,
        )
        return params if isinstance(params, InvalidParameters) else render_host(params)

    async def _start_envoy(self, ref: ObjectRef, address: str) -> None:
        cfg = self.config
        host = await self._host_envoy(ref)
        if isinstance(host, InvalidParameters):
            self.counters.start_failures += 1
            self._failed_at[ref] = asyncio.get_running_loop().time()
            log.warning("Gateway %s: no Envoy, invalid parameters: %s: %s", ref, host.field, host.message)
            self.announce(f"Gateway {ref}: no Envoy: {host.field}: {host.message}")
            return
        process = EnvoyProcess(
            bootstrap(
                BootstrapConfig(
                    xds_address=cfg.xds_address,
                    xds_port=cfg.xds_port,
                    admin_address="127.0.0.1",
                    admin_port=_free_admin_port(),
                    ads=cfg.ads,
                    **host.bootstrap_options,
                )
            ),
            cfg.state_dir / "gateways" / ref.namespace / ref.name,
            cfg.envoy,
        )
        try:
            await process.start()
            listeners = await process.admin.listener_addresses()
            admin = process.admin.address
        except BaseException as error:  # EnvoyStartError, its admin failing right after LIVE, cancelled
            await process.stop()
            if not isinstance(error, Exception):
                raise
            self.counters.start_failures += 1
            self._failed_at[ref] = asyncio.get_running_loop().time()
            reason = str(error) if isinstance(error, EnvoyStartError) else repr(error)
            log.warning("the Envoy of Gateway %s did not start: %s", ref, reason)
            self.announce(f"Gateway {ref}: its Envoy did not start (retrying in {cfg.retry_after:g}s)")
            return
        self._failed_at.pop(ref, None)
        dag = self.handler.dag
        published = dag.gateways.get(ref) if dag is not None else None
        ports = tuple(dict.fromkeys(published.ports)) if published is not None else ()
        envoy = GatewayEnvoy(ref, address, process, admin, ports, listeners)
        self.envoys[ref] = envoy
        self.counters.starts += 1
        log.info("the Envoy of Gateway %s is LIVE (pid %s)", ref, process.pid)
        self.announce(describe(envoy))

    async def _stop_envoy(self, ref: ObjectRef, *, announce: bool) -> None:
        envoy = self.envoys.pop(ref, None)
        if envoy is None:
            return
        await envoy.process.stop()
        self.counters.stops += 1
        self._write_info()
        if announce:
            self.announce(f"Gateway {ref}: its Envoy on {envoy.address} stopped")

    def _write_info(self) -> None:
        document = {
            str(ref): {
                "address": envoy.address,
                "pid": envoy.process.pid or 0,
                "admin": envoy.admin,
                "ports": [[protocol, port] for protocol, port in envoy.ports],
                "log": str(envoy.process.log_path),
                "listeners": {name: [host, port] for name, (host, port) in sorted(envoy.listeners.items())},
            }
            for ref, envoy in sorted(self.envoys.items())
        }
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.info_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        temporary.replace(self.info_path)  # readers never see half a file
