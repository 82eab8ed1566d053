"""Gateway API objects for the processor tables, as the raw dicts the API returns, and a build helper.

`gateway("gw", listener("http", 80, "HTTP"))`, `httproute("r", parents=[parent("gw")], ...)` read
like the manifests they stand for; `build(...)` runs the Gateway API processor alone over them and
returns the DAG and the statuses by (plural, ref).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.gatewayapi_processor import GatewayAPIProcessor
from contour.dag.model import DAG, ObjectRef
from tests.unit.dag.fixtures import k8s_service, tls_secret

Obj = dict[str, Any]
GROUP_VERSION = "gateway.networking.k8s.io/v1"
CONTROLLER = "projectcontour.io/gateway-controller"
NS = "infra"


def _meta(name: str, namespace: str | None, generation: int, created: str) -> Obj:
    meta: Obj = {"name": name, "generation": generation, "creationTimestamp": created}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def gatewayclass(name: str = "contour", controller: str = CONTROLLER, generation: int = 1) -> Obj:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "GatewayClass",
        "metadata": _meta(name, None, generation, "2024-01-01T00:00:00Z"),
        "spec": {"controllerName": controller},
    }


def listener(name: str, port: int, protocol: str, **fields: Any) -> Obj:
    return {"name": name, "port": port, "protocol": protocol, **fields}


def https_listener(name: str, port: int, *certs: Obj, protocol: str = "HTTPS", **fields: Any) -> Obj:
    tls: Obj = {"mode": "Terminate", "certificateRefs": list(certs)}
    return listener(name, port, protocol, tls=tls, **fields)


def cert_ref(name: str, namespace: str | None = None, **fields: Any) -> Obj:
    ref: Obj = {"name": name, **fields}
    if namespace is not None:
        ref["namespace"] = namespace
    return ref


def gateway(
    name: str,
    *listeners: Obj,
    namespace: str = NS,
    gateway_class: str = "contour",
    generation: int = 1,
    **spec: Any,
) -> Obj:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Gateway",
        "metadata": _meta(name, namespace, generation, "2024-01-01T00:00:00Z"),
        "spec": {"gatewayClassName": gateway_class, "listeners": list(listeners), **spec},
    }


def parent(name: str, **fields: Any) -> Obj:
    return {"name": name, **fields}


def backend(name: str, port: int = 80, **fields: Any) -> Obj:
    return {"name": name, "port": port, **fields}


def route(
    kind: str,
    name: str,
    *,
    parents: list[Obj],
    namespace: str = NS,
    hostnames: list[str] | None = None,
    backends: list[Obj] | None = None,
    created: str = "2024-01-01T00:00:00Z",
    generation: int = 1,
    status: Obj | None = None,
) -> Obj:
    spec: Obj = {"parentRefs": parents, "rules": [{"backendRefs": backends or [backend("svc")]}]}
    if hostnames is not None:
        spec["hostnames"] = hostnames
    obj: Obj = {
        "apiVersion": GROUP_VERSION,
        "kind": kind,
        "metadata": _meta(name, namespace, generation, created),
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


def httproute(name: str, **fields: Any) -> Obj:
    return route("HTTPRoute", name, **fields)


def reference_grant(name: str, namespace: str, from_: list[Obj], to: list[Obj]) -> Obj:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ReferenceGrant",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"from": from_, "to": to},
    }


def namespace(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def service(name: str = "svc", namespace: str = NS) -> Obj:
    return k8s_service(name, namespace)


def secret(name: str = "tls", namespace: str = NS) -> Obj:
    return tls_secret(name, namespace)


@dataclass
class Built:
    dag: DAG
    statuses: dict[tuple[str, ObjectRef], Obj]

    def gateway_status(self, name: str = "gw", namespace: str = NS) -> Obj:
        return self.statuses[("gateways", ObjectRef(namespace, name))]

    def listener_status(self, listener_name: str, gateway_name: str = "gw") -> Obj:
        found: Obj = next(
            entry
            for entry in self.gateway_status(gateway_name)["listeners"]
            if entry["name"] == listener_name
        )
        return found

    def listener_condition(self, listener_name: str, type_: str, gateway_name: str = "gw") -> Obj:
        return condition_of(self.listener_status(listener_name, gateway_name)["conditions"], type_)

    def gateway_condition(self, type_: str, name: str = "gw") -> Obj:
        return condition_of(self.gateway_status(name)["conditions"], type_)

    def parents(self, kind_plural: str, name: str, namespace: str = NS) -> list[Obj]:
        found: list[Obj] = self.statuses[(kind_plural, ObjectRef(namespace, name))]["parents"]
        return found

    def route_condition(self, name: str, type_: str, plural: str = "httproutes", index: int = 0) -> Obj:
        return condition_of(self.parents(plural, name)[index]["conditions"], type_)


def condition_of(conditions: list[Obj], type_: str) -> Obj:
    return next(c for c in conditions if c["type"] == type_)


def cache_of(*objects: Obj) -> KubernetesCache:
    cache = KubernetesCache()
    for obj in objects:
        cache.insert(obj)
    return cache


def build_cache(cache: KubernetesCache, config: BuilderConfig | None = None) -> Built:
    result = Builder(config or BuilderConfig(), [GatewayAPIProcessor()]).build(cache)
    return Built(result.dag, {(u.plural, u.ref): u.status for u in result.statuses})


def build(*objects: Obj, address: str | None = "127.0.1.1", config: BuilderConfig | None = None) -> Built:
    """Build the Gateway API objects; every Gateway gets `address` (None: none assigned)."""
    cache = cache_of(*objects)
    if address is not None:
        for ref in cache.gateways:
            cache.set_gateway_address(ref, address)
    return build_cache(cache, config)
