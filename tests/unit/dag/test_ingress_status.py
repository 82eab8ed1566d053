"""Ingress status: one "accepted" update per served Ingress, for the writer to add the load balancer.

Contour writes only `status.loadBalancer` on Ingresses, for every Ingress of its class, whether or not
its routes resolved. The DAG marks each such Ingress with an update whose status is `{}`; the writer
adds `loadBalancer` from the Envoy Service.
"""

from __future__ import annotations

from contour.dag.builder import BuilderConfig
from contour.dag.model import ObjectRef
from contour.dag.status import StatusUpdate

from .fixtures import k8s_service
from .ingress_fixtures import build_ingress, ing, path


def test_every_served_ingress_gets_an_accepted_update_in_name_order() -> None:
    first = ing("b", "team-a").rule("a.example.com", path("/", "kuard")).build()
    second = ing("a", "team-b").rule("b.example.com", path("/", "missing")).build()
    second["metadata"]["generation"] = 4
    result = build_ingress(second, first, k8s_service("kuard", "team-a"))
    assert result.statuses == [
        StatusUpdate("networking.k8s.io", "v1", "ingresses", ObjectRef("team-a", "b"), 1, {}),
        StatusUpdate("networking.k8s.io", "v1", "ingresses", ObjectRef("team-b", "a"), 4, {}),
    ]


def test_ingress_of_another_class_gets_no_update() -> None:
    obj = ing("app").class_name("nginx").rule("a.example.com", path("/", "kuard")).build()
    assert build_ingress(obj, k8s_service("kuard")).statuses == []


def test_configured_class_gets_updates() -> None:
    obj = ing("app").class_name("internal").rule("a.example.com", path("/", "kuard")).build()
    result = build_ingress(obj, config=BuilderConfig(ingress_class_names=("internal",)))
    assert [u.ref for u in result.statuses] == [ObjectRef("default", "app")]


def test_missing_generation_reads_as_zero() -> None:
    obj = ing("app").rule("a.example.com", path("/", "kuard")).build()
    del obj["metadata"]["generation"]
    [update] = build_ingress(obj).statuses
    assert update.generation == 0
