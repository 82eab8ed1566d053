"""An incremental build (fragments of earlier builds reused) equals a build from scratch.

One `Builder` lives through a random sequence of inserts, replacements and removals, as the
controller's does; after every step its DAG and statuses must equal those of a fresh `Builder` on the
same cache. The objects are chosen so that roots include, share, cycle, duplicate host names, use
delegated Secrets, and collide with an Ingress on the same host.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from tests.unit.dag.fixtures import (
    ca_secret,
    delegation,
    ingress,
    k8s_service,
    port,
    proxy,
    service,
    tls_secret,
)

Obj = dict[str, Any]


def _ingress(host: str) -> Obj:
    backend = {"service": {"name": "s1", "port": {"number": 80}}}
    path = {"path": "/ing", "pathType": "Prefix", "backend": backend}
    return ingress("ing", rules=[{"host": host, "http": {"paths": [path]}}])


def _jwt_provider_validated_by(ca: str) -> Obj:
    validation = {"caSecret": ca, "subjectName": "jwks.example.com"}
    remote = {"uri": "https://jwks.example.com/keys", "validation": validation}
    return {"name": "main", "default": True, "remoteJWKS": remote}


def _jwks_secret(data: dict[str, str]) -> Obj:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "jwks", "namespace": "default"},
        "data": encoded,
    }


# The P-256 base point: a valid public key.
_P256_G = {
    "kty": "EC",
    "crv": "P-256",
    "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
    "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
}


# key -> the variants that may be written under it (every variant has the same kind/namespace/name).
VARIANTS: dict[str, list[Obj]] = {
    "root-a": [
        proxy("root-a").fqdn("a.example.com").route("/", service("s1")).build(),
        proxy("root-a").fqdn("a.example.com").tls("cert").route("/", service("s1"), service("s2")).build(),
        proxy("root-a").fqdn("a.example.com").include("child", prefix="/c").route("/", service("s2")).build(),
        proxy("root-a")
        .fqdn("a.example.com")
        .tls("other/cert2")
        .include("child2", namespace="other", prefix="/x")
        .build(),
        proxy("root-a").fqdn("a.example.com").include("root-b", prefix="/r").build(),
        proxy("root-a")
        .fqdn("a.example.com")
        .tls("cert")
        .vhost(jwtProviders=[_jwt_provider_validated_by("jwks-ca")])
        .include("child", prefix="/c")
        .build(),
        proxy("root-a")
        .fqdn("a.example.com")
        .tls("cert")
        .vhost(
            jwtProviders=[{"name": "local", "default": True, "localJWKS": {"secretName": "jwks", "key": "k"}}]
        )
        .route("/", service("s1"))
        .build(),
    ],
    "root-b": [
        proxy("root-b").fqdn("b.example.com").include("child", prefix="/b").build(),
        proxy("root-b").fqdn("A.example.com").route("/", service("s1")).build(),  # same host as root-a
        proxy("root-b").fqdn("*.wild.example.com").route("/", service("missing")).build(),
    ],
    "child": [
        proxy("child").route("/", service("s1")).build(),
        proxy("child").route("/", service("s2", weight=30), service("s1", weight=70)).build(),
        proxy("child").include("child", prefix="/loop").build(),
        proxy("child").route("/", service("s1", port=81)).build(),
    ],
    "child2": [
        proxy("child2", "other").route("/", service("s3")).build(),
        proxy("child2", "other").include("child", namespace="default", prefix="/d").build(),
    ],
    "s1": [k8s_service("s1"), k8s_service("s1", ports=[port(80, "http"), port(81, "alt")])],
    "s2": [k8s_service("s2"), k8s_service("s2", ports=[port(8080, "web")])],
    "s3": [k8s_service("s3", "other")],
    "cert": [tls_secret("cert"), tls_secret("cert", common_name="a.example.com")],
    "cert2": [tls_secret("cert2", "other")],
    "delegation": [
        delegation("d", "other", {"cert2": ["default"]}),
        delegation("d", "other", {"cert2": ["elsewhere"]}),
    ],
    "ingress": [_ingress("a.example.com"), _ingress("c.example.com")],
    "jwks-ca": [ca_secret("jwks-ca"), tls_secret("jwks-ca")],  # the second has no ca.crt: invalid
    "jwks": [  # a localJWKS Secret: valid, without a usable key, without the key root-a names
        _jwks_secret({"k": json.dumps({"keys": [_P256_G]})}),
        _jwks_secret({"k": json.dumps({"keys": []})}),
        _jwks_secret({"other": json.dumps({"keys": [_P256_G]})}),
    ],
    "root-c": [
        proxy("root-c")
        .fqdn("c.example.com")
        .tls("cert")
        .vhost(authorization={"extensionRef": {"name": "authz"}, "authPolicy": {"context": {"k": "v"}}})
        .route("/", service("s1"))
        .build(),
    ],
    "authz": [
        {
            "apiVersion": "projectcontour.io/v1alpha1",
            "kind": "ExtensionService",
            "metadata": {"name": "authz", "namespace": "default"},
            "spec": {"services": [{"name": name, "port": 80}], "protocol": "h2c"},
        }
        for name in ("s1", "missing")  # the second references no Service: invalid
    ],
}


def _assert_same(incremental: Builder, cache: KubernetesCache, step: str) -> None:
    got = incremental.build(cache)
    want = Builder(incremental.config).build(cache)
    assert got.statuses == want.statuses, step
    assert got.dag == want.dag, step


@pytest.mark.parametrize("seed", range(12))
def test_incremental_builds_equal_full_builds(seed: int) -> None:
    rng = random.Random(seed)
    cache = KubernetesCache()
    builder = Builder(BuilderConfig())
    present: set[str] = set()
    for step in range(80):
        key = rng.choice(sorted(VARIANTS))
        if key in present and rng.random() < 0.3:
            cache.remove(VARIANTS[key][0])
            present.discard(key)
            action = f"remove {key}"
        else:
            variant = rng.randrange(len(VARIANTS[key]))
            cache.insert(VARIANTS[key][variant])
            present.add(key)
            action = f"insert {key}#{variant}"
        _assert_same(builder, cache, f"seed {seed} step {step}: {action}")


def test_an_unchanged_root_is_not_recomputed() -> None:
    cache = KubernetesCache()
    for obj in (
        VARIANTS["root-a"][0],
        VARIANTS["root-b"][0],
        VARIANTS["child"][0],
        VARIANTS["s1"][0],
        VARIANTS["s2"][0],
    ):
        cache.insert(obj)
    builder = Builder(BuilderConfig())
    first = builder.build(cache).dag.listeners["ingress_http"].virtual_hosts
    cache.insert(proxy("root-a").fqdn("a.example.com").route("/", service("s2")).build())
    second = builder.build(cache).dag.listeners["ingress_http"].virtual_hosts
    assert second["b.example.com"] is first["b.example.com"]  # reused
    assert second["a.example.com"] is not first["a.example.com"]  # recomputed


def test_a_change_to_an_included_proxy_recomputes_its_root() -> None:
    cache = KubernetesCache()
    for obj in (VARIANTS["root-b"][0], VARIANTS["child"][0], VARIANTS["s1"][0], VARIANTS["s2"][0]):
        cache.insert(obj)
    builder = Builder(BuilderConfig())
    first = builder.build(cache).dag.listeners["ingress_http"].virtual_hosts["b.example.com"]
    cache.insert(VARIANTS["child"][1])
    second = builder.build(cache).dag.listeners["ingress_http"].virtual_hosts["b.example.com"]
    assert second is not first
    assert [c.weight for r in second.routes.values() for c in r.clusters] == [30, 70]
