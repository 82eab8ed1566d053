"""The DAG builder: runs the processors in Contour's order over a KubernetesCache.

`Builder.build(cache)` is pure and deterministic: the same cache gives an equal DAG and equal status
updates. Processors run in Contour's order (ListenerProcessor -> IngressProcessor ->
ExtensionServiceProcessor -> HTTPProxyProcessor), each reading the cache and adding to the DAG and the
StatusCollector through a `BuildContext`. After them the builder drops virtual hosts that ended up with
nothing to serve (Contour's `Valid()` checks) and collects the Services (for EDS) and Secrets (for SDS)
the remaining hosts use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from contour.dag.cache import KubernetesCache
from contour.dag.model import DAG, Cluster, ObjectRef, Route, Secret, Service
from contour.dag.services import ServiceMemo
from contour.dag.status import StatusCollector, StatusUpdate
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


@dataclass
class BuildResult:
    dag: DAG
    statuses: list[StatusUpdate]


def default_processors() -> list[Processor]:
    """Contour's processor order (imported here: the processor modules import this one)."""
    from contour.dag.extension_processor import ExtensionServiceProcessor  # noqa: PLC0415
    from contour.dag.httpproxy_processor import HTTPProxyProcessor  # noqa: PLC0415
    from contour.dag.ingress_processor import IngressProcessor  # noqa: PLC0415
    from contour.dag.listener_processor import ListenerProcessor  # noqa: PLC0415

    return [ListenerProcessor(), IngressProcessor(), ExtensionServiceProcessor(), HTTPProxyProcessor()]


class Builder:
    """Builds a DAG and the status of every object from a KubernetesCache."""

    def __init__(self, config: BuilderConfig, processors: Sequence[Processor] | None = None) -> None:
        self.config = config
        self.processors: list[Processor] = (
            list(processors) if processors is not None else default_processors()
        )

    def build(self, cache: KubernetesCache) -> BuildResult:
        ctx = BuildContext(dag=DAG(), cache=cache, config=self.config)
        for processor in self.processors:
            processor.run(ctx)
        _prune(ctx.dag)
        _collect_services_and_secrets(ctx.dag)
        return BuildResult(dag=ctx.dag, statuses=ctx.status.updates())


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


def _collect_services_and_secrets(dag: DAG) -> None:
    services: dict[str, Service] = {}
    secrets: dict[ObjectRef, Secret] = {}

    def add_cluster(cluster: Cluster) -> None:
        services.setdefault(cluster.upstream.eds_name, cluster.upstream)
        for secret in (
            cluster.upstream_validation.ca_secret if cluster.upstream_validation else None,
            cluster.client_certificate,
        ):
            if secret is not None:
                secrets.setdefault(secret.ref, secret)

    for name in sorted(dag.listeners):
        listener = dag.listeners[name]
        for vh_name in sorted(listener.virtual_hosts):
            for key in sorted(listener.virtual_hosts[vh_name].routes):
                for cluster in _route_clusters(listener.virtual_hosts[vh_name].routes[key]):
                    add_cluster(cluster)
        for svh_name in sorted(listener.secure_virtual_hosts):
            svh = listener.secure_virtual_hosts[svh_name]
            for key in sorted(svh.virtual_host.routes):
                for cluster in _route_clusters(svh.virtual_host.routes[key]):
                    add_cluster(cluster)
            for cluster in svh.tcp_proxy or []:
                add_cluster(cluster)
            dv = svh.downstream_validation
            for secret in (
                svh.secret,
                svh.fallback_certificate,
                dv.ca if dv else None,
                dv.crl if dv else None,
            ):
                if secret is not None:
                    secrets.setdefault(secret.ref, secret)
    dag.services = {k: services[k] for k in sorted(services)}
    dag.secrets = {k: secrets[k] for k in sorted(secrets)}
