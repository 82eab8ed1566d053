"""Fluent builders for the Kubernetes objects the DAG tests feed in, as the raw dicts the API returns.

`proxy("app").fqdn("a.example.com").route("/", service("s", 80)).build()` reads like the manifest it
makes. Certificates are generated once per process (EC keys, fast) and reused.
"""

from __future__ import annotations

import base64
import copy
import datetime
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contour.dag.builder import Builder, BuilderConfig, BuildResult
from contour.dag.cache import KubernetesCache
from contour.dag.extension_processor import ExtensionServiceProcessor
from contour.dag.httpproxy_processor import HTTPProxyProcessor
from contour.dag.listener_processor import ListenerProcessor

Obj = dict[str, Any]


def service(name: str, port: int = 80, **fields: Any) -> Obj:
    """An HTTPProxy route service entry (`spec.routes[].services[]`)."""
    return {"name": name, "port": port, **fields}


@dataclass
class ProxyBuilder:
    name: str
    namespace: str = "default"
    spec: Obj = field(default_factory=dict)
    metadata: Obj = field(default_factory=dict)

    def fqdn(self, host: str) -> ProxyBuilder:
        self.spec.setdefault("virtualhost", {})["fqdn"] = host
        return self

    def tls(self, secret_name: str | None = None, **fields: Any) -> ProxyBuilder:
        tls: Obj = dict(fields)
        if secret_name is not None:
            tls["secretName"] = secret_name
        self.spec.setdefault("virtualhost", {})["tls"] = tls
        return self

    def vhost(self, **fields: Any) -> ProxyBuilder:
        self.spec.setdefault("virtualhost", {}).update(fields)
        return self

    def route(
        self, prefix: str | None = "/", *services: Obj, conditions: list[Obj] | None = None, **fields: Any
    ) -> ProxyBuilder:
        route: Obj = {}
        conds = list(conditions or [])
        if prefix is not None:
            conds.insert(0, {"prefix": prefix})
        if conds:
            route["conditions"] = conds
        if services:
            route["services"] = list(services)
        route.update(fields)
        self.spec.setdefault("routes", []).append(route)
        return self

    def include(
        self,
        name: str,
        namespace: str | None = None,
        prefix: str | None = None,
        conditions: list[Obj] | None = None,
    ) -> ProxyBuilder:
        inc: Obj = {"name": name}
        if namespace is not None:
            inc["namespace"] = namespace
        conds = list(conditions or [])
        if prefix is not None:
            conds.insert(0, {"prefix": prefix})
        if conds:
            inc["conditions"] = conds
        self.spec.setdefault("includes", []).append(inc)
        return self

    def with_spec(self, **fields: Any) -> ProxyBuilder:
        self.spec.update(fields)
        return self

    def meta(self, **fields: Any) -> ProxyBuilder:
        self.metadata.update(fields)
        return self

    def build(self) -> Obj:
        meta: Obj = {"name": self.name, "namespace": self.namespace, "generation": 1}
        meta.update(self.metadata)
        return {
            "apiVersion": "projectcontour.io/v1",
            "kind": "HTTPProxy",
            "metadata": meta,
            "spec": copy.deepcopy(self.spec),
        }


def proxy(name: str, namespace: str = "default") -> ProxyBuilder:
    return ProxyBuilder(name, namespace)


def k8s_service(
    name: str,
    namespace: str = "default",
    ports: list[Obj] | None = None,
    *,
    annotations: dict[str, str] | None = None,
    external_name: str | None = None,
) -> Obj:
    spec: Obj = {"ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP"}]}
    if external_name is not None:
        spec["type"] = "ExternalName"
        spec["externalName"] = external_name
    meta: Obj = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def port(number: int, name: str = "", protocol: str = "TCP", **fields: Any) -> Obj:
    out: Obj = {"port": number, "protocol": protocol, **fields}
    if name:
        out["name"] = name
    return out


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@cache
def _key_and_cert(common_name: str, is_ca: bool = False) -> tuple[bytes, bytes, Any, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1000 + len(common_name))
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert, key


def cert_pem(common_name: str = "www.example.com") -> bytes:
    return _key_and_cert(common_name)[0]


def key_pem(common_name: str = "www.example.com") -> bytes:
    return _key_and_cert(common_name)[1]


@cache
def crl_pem() -> bytes:
    _, _, cert, key = _key_and_cert("ca.example.com", True)
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(cert.subject)
        .last_update(now)
        .next_update(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.PEM)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def secret(
    name: str, namespace: str = "default", secret_type: str = "kubernetes.io/tls", **data: bytes
) -> Obj:
    """A Secret with the given keys (tls_crt -> tls.crt, tls_key -> tls.key, ca_crt, crl_pem)."""
    keys = {k.replace("_", ".", 1): _b64(v) for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": secret_type,
        "data": keys,
    }


def tls_secret(name: str, namespace: str = "default", common_name: str = "www.example.com") -> Obj:
    return secret(name, namespace, tls_crt=cert_pem(common_name), tls_key=key_pem(common_name))


def ca_secret(name: str, namespace: str = "default") -> Obj:
    return secret(name, namespace, "Opaque", ca_crt=cert_pem("ca.example.com"))


def crl_secret(name: str, namespace: str = "default") -> Obj:
    return secret(name, namespace, "Opaque", crl_pem=crl_pem())


def delegation(name: str, namespace: str, delegations: dict[str, list[str]]) -> Obj:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "TLSCertificateDelegation",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {"delegations": [{"secretName": s, "targetNamespaces": t} for s, t in delegations.items()]},
    }


def ingress(name: str, namespace: str = "default", *, ingress_class: str | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if ingress_class is not None:
        meta["annotations"] = {"kubernetes.io/ingress.class": ingress_class}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def cache_of(*objects: Obj, **kwargs: Any) -> KubernetesCache:
    cache = KubernetesCache(**kwargs)
    for obj in objects:
        cache.insert(obj)
    return cache


def build(*objects: Obj, config: BuilderConfig | None = None) -> BuildResult:
    """Insert the objects into a fresh cache and build with the HTTPProxy processors."""
    cfg = config or BuilderConfig()
    cache = cache_of(
        *objects, root_namespaces=cfg.root_namespaces, ingress_class_names=cfg.ingress_class_names
    )
    builder = Builder(cfg, [ListenerProcessor(), ExtensionServiceProcessor(), HTTPProxyProcessor()])
    return builder.build(cache)
