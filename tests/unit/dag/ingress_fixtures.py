"""Fluent builders for Ingress tests, and a build that runs the listener and Ingress processors.

`ing("app").rule("a.example.com", path("/api", "api", 8080)).tls("cert", "a.example.com").build()`
reads like the manifest it makes. Services, Secrets and delegations come from `fixtures`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from contour.dag.builder import Builder, BuilderConfig, BuildResult
from contour.dag.ingress_processor import IngressProcessor
from contour.dag.listener_processor import ListenerProcessor
from contour.dag.model import DAG, Route, SecureVirtualHost, VirtualHost

from .fixtures import cache_of

Obj = dict[str, Any]


def backend(service: str, port: int | str = 80) -> Obj:
    """An IngressBackend naming a Service port by number (int) or by name (str)."""
    port_ref: Obj = {"name": port} if isinstance(port, str) else {"number": port}
    return {"service": {"name": service, "port": port_ref}}


def path(value: str | None, service: str, port: int | str = 80, path_type: str | None = "Prefix") -> Obj:
    """One HTTPIngressPath; None leaves `path` / `pathType` out of the object."""
    out: Obj = {"backend": backend(service, port)}
    if value is not None:
        out["path"] = value
    if path_type is not None:
        out["pathType"] = path_type
    return out


@dataclass
class IngressBuilder:
    name: str
    namespace: str = "default"
    spec: Obj = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    generation: int = 1

    def annotate(self, key: str, value: str) -> IngressBuilder:
        self.annotations[key] = value
        return self

    def class_name(self, name: str) -> IngressBuilder:
        self.spec["ingressClassName"] = name
        return self

    def default_backend(self, service: str, port: int | str = 80) -> IngressBuilder:
        self.spec["defaultBackend"] = backend(service, port)
        return self

    def rule(self, host: str | None, *paths: Obj) -> IngressBuilder:
        rule: Obj = {"http": {"paths": list(paths)}}
        if host is not None:
            rule["host"] = host
        self.spec.setdefault("rules", []).append(rule)
        return self

    def tls(self, secret_name: str, *hosts: str) -> IngressBuilder:
        self.spec.setdefault("tls", []).append({"secretName": secret_name, "hosts": list(hosts)})
        return self

    def build(self) -> Obj:
        meta: Obj = {"name": self.name, "namespace": self.namespace, "generation": self.generation}
        if self.annotations:
            meta["annotations"] = dict(self.annotations)
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta,
            "spec": copy.deepcopy(self.spec),
        }


def ing(name: str, namespace: str = "default") -> IngressBuilder:
    return IngressBuilder(name, namespace)


def manifests(text: str) -> list[Obj]:
    """The objects of a multi-document YAML manifest."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def build_ingress(*objects: Obj, config: BuilderConfig | None = None) -> BuildResult:
    """Insert the objects into a fresh cache and build with the listener and Ingress processors."""
    cfg = config or BuilderConfig()
    cache = cache_of(
        *objects, root_namespaces=cfg.root_namespaces, ingress_class_names=cfg.ingress_class_names
    )
    return Builder(cfg, [ListenerProcessor(), IngressProcessor()]).build(cache)


def http_vhost(dag: DAG, host: str) -> VirtualHost | None:
    return dag.listeners["ingress_http"].virtual_hosts.get(host)


def secure_vhost(dag: DAG, host: str) -> SecureVirtualHost | None:
    return dag.listeners["ingress_https"].secure_virtual_hosts.get(host)


def http_routes(dag: DAG, host: str) -> list[Route]:
    """The plain-HTTP routes of `host`, in a stable order (by match)."""
    vhost = http_vhost(dag, host)
    return [vhost.routes[k] for k in sorted(vhost.routes)] if vhost else []


def https_routes(dag: DAG, host: str) -> list[Route]:
    svh = secure_vhost(dag, host)
    return [svh.virtual_host.routes[k] for k in sorted(svh.virtual_host.routes)] if svh else []


def only_route(dag: DAG, host: str = "*") -> Route:
    """The single plain-HTTP route of `host`; fails loudly when there is not exactly one."""
    routes = http_routes(dag, host)
    assert len(routes) == 1, f"expected one route on {host!r}, got {routes}"
    return routes[0]


def matches(routes: list[Route]) -> list[tuple[str, str]]:
    """(kind, value) of each route's path match: what a table row compares."""
    return [(r.path_match.kind.value, r.path_match.value) for r in routes]


def upstreams(routes: list[Route]) -> list[str]:
    """`namespace/service/port` of each route's clusters, in route order."""
    return [
        f"{c.upstream.ref.namespace}/{c.upstream.ref.name}/{c.upstream.port.port}"
        for r in routes
        for c in r.clusters
    ]
