"""The DAG builder: runs the processors in Contour's order over a KubernetesCache.

`Builder.build(cache)` is pure and deterministic: the same cache gives an equal DAG and equal status
updates. Processors run in Contour's order (ListenerProcessor -> IngressProcessor ->
ExtensionServiceProcessor -> HTTPProxyProcessor), each reading the cache and adding to the DAG and the
StatusCollector through a `BuildContext`. After them the builder drops virtual hosts that ended up with
nothing to serve (Contour's `Valid()` checks) and collects the Services (for EDS) and Secrets (for SDS)
the remaining hosts use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from contour.dag.cache import KubernetesCache
from contour.dag.global_headers import GlobalHeaders
from contour.dag.model import (
    DAG,
    Cluster,
    GlobalExternalAuthorization,
    ObjectRef,
    Route,
    Secret,
    SecureVirtualHost,
    Service,
    VirtualHost,
)
from contour.dag.ratelimit import RateLimitServiceConfig, apply_rate_limit_service
from contour.dag.services import ServiceMemo
from contour.dag.status import RenderMemo, StatusCollector, StatusUpdate
from contour.dag.vhosts import HTTP_LISTENER_NAME, HTTPS_LISTENER_NAME

__all__ = ["HTTPS_LISTENER_NAME", "HTTP_LISTENER_NAME"]  # re-exported for processors


@dataclass
class BuilderConfig:
    """The configuration that shapes a build (Contour's serve flags / ContourConfiguration)."""

    root_namespaces: tuple[str, ...] = ()
    ingress_class_names: tuple[str, ...] = ()  # empty: accept objects without a class, and "contour"
    enable_external_name_service: bool = False
    disable_permit_insecure: bool = False
    fallback_certificate: ObjectRef | None = None
    http_address: str = "0.0.0.0"
    http_port: int = 8080
    https_address: str = "0.0.0.0"
    https_port: int = 8443
    # Envoy's client certificate for upstream TLS (tls.envoy-client-certificate); no delegation needed.
    client_certificate: ObjectRef | None = None
    # ContourConfiguration globalExtAuth: the ext_authz server of every host without its own.
    global_external_authorization: GlobalExternalAuthorization | None = None
    # ContourConfiguration policy (config file policy.*): merged into every HTTPProxy route's services,
    # and Ingress routes' when apply_to_ingress (contour.dag.global_headers).
    global_request_headers: GlobalHeaders | None = None
    global_response_headers: GlobalHeaders | None = None
    apply_to_ingress: bool = False
    # ContourConfiguration rateLimitService: the global rate limit service and default global policy.
    rate_limit_service: RateLimitServiceConfig | None = None
    # Gateway API: the GatewayClass controllerName served, and (gateway.gatewayRef) the one Gateway
    # to serve; None serves every Gateway of an accepted class.
    gateway_controller_name: str = "projectcontour.io/gateway-controller"
    gateway_ref: ObjectRef | None = None


@dataclass
class BuildContext:
    """What a processor works on: the DAG being built, the cache, the configuration and status."""

    dag: DAG
    cache: KubernetesCache
    config: BuilderConfig
    status: StatusCollector = field(default_factory=StatusCollector)
    service_memo: ServiceMemo = field(default_factory=dict)  # ensure_service results of this build


class Processor(Protocol):
    def run(self, ctx: BuildContext) -> None: ...


@dataclass(eq=False)
class BuildResult:
    """The DAG and the status collected while building it; the statuses are rendered on first use, so
    a controller can publish the DAG's configuration before paying for them."""

    dag: DAG
    collector: StatusCollector
    _statuses: list[StatusUpdate] | None = None

    @property
    def statuses(self) -> list[StatusUpdate]:
        if self._statuses is None:
            self._statuses = self.collector.updates()
        return self._statuses


def default_processors() -> list[Processor]:
    """Contour's processor order (imported here: the processor modules import this one)."""
    from contour.dag.extension_processor import ExtensionServiceProcessor  # noqa: PLC0415
    from contour.dag.gatewayapi_processor import GatewayAPIProcessor  # noqa: PLC0415
    from contour.dag.httpproxy_processor import HTTPProxyProcessor  # noqa: PLC0415
    from contour.dag.ingress_processor import IngressProcessor  # noqa: PLC0415
    from contour.dag.listener_processor import ListenerProcessor  # noqa: PLC0415

    return [
        ListenerProcessor(),
        IngressProcessor(),
        ExtensionServiceProcessor(),
        HTTPProxyProcessor(),
        GatewayAPIProcessor(),
    ]


class Builder:
    """Builds a DAG and the status of every object from a KubernetesCache."""

    def __init__(self, config: BuilderConfig, processors: Sequence[Processor] | None = None) -> None:
        self.config = config
        self.processors: list[Processor] = (
            list(processors) if processors is not None else default_processors()
        )
        self._uses = _UsesMemo()
        self._renders = RenderMemo()

    def build(self, cache: KubernetesCache) -> BuildResult:
        ctx = BuildContext(dag=DAG(), cache=cache, config=self.config, status=StatusCollector(self._renders))
        for processor in self.processors:
            processor.run(ctx)
        _prune(ctx.dag)
        apply_rate_limit_service(ctx)
        _collect_services_and_secrets(ctx.dag, self._uses)
        return BuildResult(dag=ctx.dag, collector=ctx.status)


def _prune(dag: DAG) -> None:
    """Drop hosts with nothing to serve: no routes, or (TLS) no certificate and no TCP proxy."""
    for listener in dag.listeners.values():
        for name in [n for n, vh in listener.virtual_hosts.items() if not vh.routes]:
            del listener.virtual_hosts[name]
        for name in [
            n
            for n, svh in listener.secure_virtual_hosts.items()
            if not (svh.tcp_proxy or (svh.secret is not None and svh.virtual_host.routes))
        ]:
            del listener.secure_virtual_hosts[name]


def _route_clusters(route: Route) -> Iterable[Cluster]:
    yield from route.clusters
    for mirror in route.mirror_policies:
        yield mirror.cluster


# What one host uses, in Contour's collection order: (EDS name, Service) and (ref, Secret) pairs.
_Uses = tuple[tuple[tuple[str, Service], ...], tuple[tuple[ObjectRef, Secret], ...]]


def _cluster_uses(cluster: Cluster) -> Iterator[tuple[ObjectRef, Secret]]:
    for secret in (
        cluster.upstream_validation.ca_secret if cluster.upstream_validation else None,
        cluster.client_certificate,
    ):
        if secret is not None:
            yield secret.ref, secret


def _vhost_uses(vhost: VirtualHost) -> _Uses:
    clusters = [c for key in sorted(vhost.routes) for c in _route_clusters(vhost.routes[key])]
    return (
        tuple((c.upstream.eds_name, c.upstream) for c in clusters),
        tuple(used for c in clusters for used in _cluster_uses(c)),
    )


def _secure_uses(svh: SecureVirtualHost) -> _Uses:
    services, secrets = _vhost_uses(svh.virtual_host)
    tcp = svh.tcp_proxy or []
    dv = svh.downstream_validation
    own = (svh.secret, svh.fallback_certificate, dv.ca if dv else None, dv.crl if dv else None)
    return (
        services + tuple((c.upstream.eds_name, c.upstream) for c in tcp),
        secrets
        + tuple(used for c in tcp for used in _cluster_uses(c))
        + tuple((s.ref, s) for s in own if s is not None),
    )


class _UsesMemo:
    """`_Uses` by host object: the incremental HTTPProxy processor hands unchanged hosts over as the
    same objects, so only new hosts are walked. Keeps what the last build used."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[object, _Uses]] = {}
        self._next: dict[int, tuple[object, _Uses]] = {}

    def get(self, host: VirtualHost | SecureVirtualHost) -> _Uses:
        found = self._last.get(id(host))
        if found is None or found[0] is not host:
            uses = _secure_uses(host) if isinstance(host, SecureVirtualHost) else _vhost_uses(host)
            found = (host, uses)
        self._next[id(host)] = found
        return found[1]

    def end(self) -> None:
        self._last, self._next = self._next, {}


def _collect_services_and_secrets(dag: DAG, memo: _UsesMemo | None = None) -> None:
    memo = memo if memo is not None else _UsesMemo()
    services: dict[str, Service] = {}
    secrets: dict[ObjectRef, Secret] = {}
    for name in sorted(dag.listeners):
        listener = dag.listeners[name]
        hosts: list[VirtualHost | SecureVirtualHost] = [
            listener.virtual_hosts[n] for n in sorted(listener.virtual_hosts)
        ]
        hosts += [listener.secure_virtual_hosts[n] for n in sorted(listener.secure_virtual_hosts)]
        for host in hosts:
            host_services, host_secrets = memo.get(host)
            for eds_name, service in host_services:
                services.setdefault(eds_name, service)
            for ref, secret in host_secrets:
                secrets.setdefault(ref, secret)
    for extension in dag.extension_clusters.values():
        for service, _ in extension.services:
            services.setdefault(service.eds_name, service)
    memo.end()
    dag.services = {k: services[k] for k in sorted(services)}
    dag.secrets = {k: secrets[k] for k in sorted(secrets)}
