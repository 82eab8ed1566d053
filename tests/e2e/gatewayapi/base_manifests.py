"""Manifests of the conformance base (upstream conformance/base/manifests.yaml), adapted to loopback.

Same names as upstream: the GatewayClass `gateway-conformance` (controllerName
projectcontour.io/gateway-controller), the namespaces gateway-conformance-{infra,app-backend,
web-backend} with their labels, the Gateways same-namespace, same-namespace-with-https-listener,
all-namespaces and backend-namespaces, and the backend Services. Differences, forced by running
without a cluster: listener ports are free unprivileged ports (`Ports` maps upstream's 80/443/8080/
8090 to them; every Gateway has its own loopback address, so one port serves them all), and Services
are selector-less with one EndpointSlice per echo pod (127.0.0.1:<pod port>).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.gatewayapi.echo_pods import EchoPod
from tests.support.contour_run import free_port

Manifest = dict[str, Any]

GATEWAY_API = "gateway.networking.k8s.io/v1"
CONTROLLER = "projectcontour.io/gateway-controller"
GATEWAY_CLASS = "gateway-conformance"
INFRA = "gateway-conformance-infra"
APP = "gateway-conformance-app-backend"
WEB = "gateway-conformance-web-backend"
HTTPS_CERT = "tls-validity-checks-certificate"

# (namespace, service, pod): replica counts as upstream (v3 has one replica: it keeps retry state).
POD_SPECS: list[tuple[str, str, str]] = [
    (INFRA, "infra-backend-v1", "infra-backend-v1-0"),
    (INFRA, "infra-backend-v1", "infra-backend-v1-1"),
    (INFRA, "infra-backend-v2", "infra-backend-v2-0"),
    (INFRA, "infra-backend-v2", "infra-backend-v2-1"),
    (INFRA, "infra-backend-v3", "infra-backend-v3-0"),
    (APP, "app-backend-v1", "app-backend-v1-0"),
    (APP, "app-backend-v2", "app-backend-v2-0"),
    (WEB, "web-backend", "web-backend-0"),
]


@dataclass(frozen=True)
class Ports:
    """Upstream listener port -> the port used here."""

    mapping: dict[int, int] = field(default_factory=lambda: {p: free_port() for p in (80, 443, 8080, 8090)})

    def __getitem__(self, upstream: int) -> int:
        return self.mapping[upstream]


def namespace(name: str, labels: dict[str, str] | None = None) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def gateway_class(name: str = GATEWAY_CLASS, **spec: Any) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": CONTROLLER, **spec},
    }


def listener(name: str, port: int, protocol: str = "HTTP", **fields: Any) -> Manifest:
    return {"name": name, "port": port, "protocol": protocol, **fields}


def https_listener(name: str, port: int, cert: str = HTTPS_CERT, **fields: Any) -> Manifest:
    tls = {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": cert}]}
    return listener(name, port, "HTTPS", tls=tls, **fields)


def from_namespaces(how: str, selector: dict[str, str] | None = None) -> Manifest:
    namespaces: Manifest = {"from": how}
    if selector is not None:
        namespaces["selector"] = {"matchLabels": selector}
    return {"namespaces": namespaces}


def gateway(name: str, *listeners: Manifest, ns: str = INFRA, **spec: Any) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": list(listeners), **spec},
    }


def http_route(name: str, ns: str = INFRA, **spec: Any) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def parent(name: str, ns: str | None = INFRA, **fields: Any) -> Manifest:
    ref: Manifest = {"name": name, **fields}
    if ns is not None:
        ref["namespace"] = ns
    return ref


def backend(name: str, port: int = 8080, **fields: Any) -> Manifest:
    return {"name": name, "port": port, **fields}


def reference_grant(
    name: str,
    ns: str,
    *,
    from_ns: str,
    to_kind: str = "Service",
    to_name: str | None = None,
    from_kind: str = "HTTPRoute",
    from_group: str = "gateway.networking.k8s.io",
) -> Manifest:
    to: Manifest = {"group": "", "kind": to_kind}
    if to_name is not None:
        to["name"] = to_name
    return {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"from": [{"group": from_group, "kind": from_kind, "namespace": from_ns}], "to": [to]},
    }


def service(
    ns: str, name: str, pods: Iterable[EchoPod], *, headless: bool = False, port: int = 8080
) -> list[Manifest]:
    """A selector-less Service (port 8080 -> the pods) and one EndpointSlice per pod."""
    spec: Manifest = {"ports": [{"name": "http", "port": port, "targetPort": 3000, "protocol": "TCP"}]}
    if headless:
        spec["clusterIP"] = "None"
    manifests: list[Manifest] = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    ]
    for pod in pods:
        manifests.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{name}-{pod.pod}",
                    "namespace": ns,
                    "labels": {"kubernetes.io/service-name": name},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
                "ports": [{"name": "http", "port": pod.port, "protocol": "TCP"}],
            }
        )
    return manifests


def tls_secret(ns: str, name: str, cert_pem: str, key_pem: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": cert_pem, "tls.key": key_pem},
    }


def base(ports: Ports, pods: list[EchoPod], cert_pem: str, key_pem: str) -> list[Manifest]:
    """Everything the base manifests and the suite's Setup create that these tests use."""
    manifests = [
        gateway_class(),
        namespace(INFRA, {"gateway-conformance": "infra"}),
        namespace(APP, {"gateway-conformance": "backend"}),
        namespace(WEB, {"gateway-conformance": "backend"}),
        tls_secret(INFRA, HTTPS_CERT, cert_pem, key_pem),
        gateway("same-namespace", listener("http", ports[80], allowedRoutes=from_namespaces("Same"))),
        gateway(
            "same-namespace-with-https-listener",
            *(
                https_listener(name, ports[443], allowedRoutes=from_namespaces("Same"), **host)
                for name, host in (
                    ("https", {}),
                    ("second-example", {"hostname": "second-example.org"}),
                    ("wildcard-example", {"hostname": "*.wildcard.org"}),
                    ("fourth-example", {"hostname": "fourth-example.wildcard.org"}),
                )
            ),
        ),
        gateway("all-namespaces", listener("http", ports[80], allowedRoutes=from_namespaces("All"))),
        gateway(
            "backend-namespaces",
            listener(
                "http",
                ports[80],
                allowedRoutes=from_namespaces("Selector", {"gateway-conformance": "backend"}),
            ),
        ),
    ]
    by_service: dict[tuple[str, str], list[EchoPod]] = {}
    for pod in pods:
        by_service.setdefault((pod.namespace, pod.service), []).append(pod)
    for (ns, name), members in by_service.items():
        manifests += service(ns, name, members)
    return manifests


BASE_GATEWAYS = (
    "same-namespace",
    "same-namespace-with-https-listener",
    "all-namespaces",
    "backend-namespaces",
)
