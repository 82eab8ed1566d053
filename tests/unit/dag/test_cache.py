"""KubernetesCache: what it keeps, and Contour's rules for whether a change needs a rebuild."""

from __future__ import annotations

from typing import Any

import pytest

from contour.api.projectcontour.v1 import HTTPProxy
from contour.dag.cache import KubernetesCache
from contour.dag.model import ObjectRef

from .fixtures import (
    ca_secret,
    cache_of,
    crl_secret,
    delegation,
    ingress,
    k8s_service,
    namespace,
    proxy,
    secret,
    service,
    tls_secret,
)

Obj = dict[str, Any]

ROOT_WITH_TLS = proxy("root").fqdn("a.example.com").tls("cert").route("/", service("kuard")).build()
ROOT_WITH_DELEGATED_TLS = (
    proxy("root").fqdn("a.example.com").tls("certs/cert").route("/", service("kuard")).build()
)


@pytest.mark.parametrize(
    ("existing", "obj", "rebuild"),
    [
        pytest.param([], proxy("p").fqdn("a.example.com").build(), True, id="httpproxy-without-class"),
        pytest.param(
            [],
            proxy("p").meta(annotations={"projectcontour.io/ingress.class": "contour"}).build(),
            True,
            id="httpproxy-class-contour",
        ),
        pytest.param(
            [],
            proxy("p").meta(annotations={"kubernetes.io/ingress.class": "nginx"}).build(),
            False,
            id="httpproxy-other-class-annotation",
        ),
        pytest.param(
            [], proxy("p").with_spec(ingressClassName="nginx").build(), False, id="httpproxy-other-class-spec"
        ),
        pytest.param([], delegation("d", "certs", {"cert": ["*"]}), True, id="delegation"),
        pytest.param([], namespace("team-a"), True, id="namespace"),
        pytest.param([], k8s_service("kuard"), False, id="service-unreferenced"),
        pytest.param([ROOT_WITH_TLS], k8s_service("kuard"), True, id="service-referenced-by-httpproxy"),
        pytest.param(
            [ROOT_WITH_TLS], k8s_service("kuard", "other"), False, id="service-same-name-other-namespace"
        ),
        pytest.param(
            [ingress("i", defaultBackend={"service": {"name": "kuard", "port": {"number": 80}}})],
            k8s_service("kuard"),
            True,
            id="service-referenced-by-ingress-default-backend",
        ),
        pytest.param([], tls_secret("cert"), False, id="secret-unreferenced"),
        pytest.param([ROOT_WITH_TLS], tls_secret("cert"), True, id="secret-referenced-by-httpproxy"),
        pytest.param(
            [ROOT_WITH_DELEGATED_TLS],
            tls_secret("cert", "certs"),
            True,
            id="secret-referenced-cross-namespace",
        ),
        pytest.param([], ca_secret("ca"), True, id="secret-with-ca-always"),
        pytest.param(
            [proxy("r").fqdn("a.example.com").tls("cert", clientValidation={"crlSecret": "crl"}).build()],
            crl_secret("crl"),
            True,
            id="secret-referenced-as-crl",
        ),
        pytest.param(
            [ROOT_WITH_TLS],
            secret("cert", secret_type="kubernetes.io/dockerconfigjson"),
            False,
            id="secret-not-tls-material",
        ),
        pytest.param(
            [ingress("i", tls=[{"hosts": ["a"], "secretName": "cert"}])],
            tls_secret("cert"),
            True,
            id="secret-referenced-by-ingress",
        ),
        pytest.param([], ingress("i"), True, id="ingress-without-class"),
        pytest.param([], ingress("i", ingress_class="nginx"), False, id="ingress-other-class"),
        pytest.param(
            [], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, False, id="configmap"
        ),
        pytest.param(
            [],
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "x"}},
            False,
            id="endpointslice-not-here",
        ),
    ],
)
def test_insert_needs_rebuild(existing: list[Obj], obj: Obj, rebuild: bool) -> None:
    cache = cache_of(*existing)
    assert cache.insert(obj) is rebuild


def test_insert_parses_httpproxy_into_the_model() -> None:
    cache = cache_of(proxy("p", "ns").fqdn("a.example.com").route("/", service("s")).build())
    parsed = cache.httpproxies[ObjectRef("ns", "p")]
    assert isinstance(parsed, HTTPProxy)
    assert parsed.spec.virtualhost is not None and parsed.spec.virtualhost.fqdn == "a.example.com"


def test_invalid_httpproxy_is_kept_as_unparsed_not_raised() -> None:
    bad = proxy("p").with_spec(routes=[{"services": [{"name": "s", "port": "eighty"}]}]).build()
    cache = KubernetesCache()
    assert cache.insert(bad) is True
    assert ObjectRef("default", "p") not in cache.httpproxies
    unparsed = cache.unparsed[("HTTPProxy", ObjectRef("default", "p"))]
    assert "port" in unparsed.reason


def test_fixed_httpproxy_leaves_unparsed() -> None:
    cache = cache_of(proxy("p").with_spec(routes="nope").build())
    cache.insert(proxy("p").fqdn("a.example.com").build())
    assert cache.unparsed == {}
    assert ObjectRef("default", "p") in cache.httpproxies


def test_status_of_the_object_is_not_parsed() -> None:
    obj = proxy("p").fqdn("a.example.com").build()
    obj["status"] = {"conditions": [{"type": "Valid", "status": "True"}]}  # no lastTransitionTime
    cache = cache_of(obj)
    assert ObjectRef("default", "p") in cache.httpproxies


def test_secret_keeps_only_tls_material() -> None:
    obj = tls_secret("cert")
    obj["data"]["unrelated"] = "aGVsbG8="
    cache = cache_of(obj)
    kept = cache.secrets[ObjectRef("default", "cert")]
    assert set(kept.data) == {"tls.crt", "tls.key"}
    assert kept.data["tls.crt"].startswith(b"-----BEGIN CERTIFICATE-----")


def test_opaque_secret_without_tls_keys_is_not_kept() -> None:
    cache = cache_of(secret("s", secret_type="Opaque", password=b"hunter2"))
    assert cache.secrets == {}


def test_secret_changed_to_non_tls_is_dropped_and_rebuilds_when_referenced() -> None:
    cache = cache_of(ROOT_WITH_TLS, tls_secret("cert"))
    assert cache.insert(secret("cert", secret_type="Opaque", password=b"x")) is True
    assert cache.secrets == {}


def test_httpproxy_changing_to_other_class_is_removed() -> None:
    cache = cache_of(proxy("p").build())
    assert cache.insert(proxy("p").with_spec(ingressClassName="nginx").build()) is True
    assert cache.httpproxies == {}


def test_configured_class_names_accept_only_listed_classes() -> None:
    cache = KubernetesCache(ingress_class_names=("internal",))
    assert cache.insert(proxy("a").build()) is False
    assert cache.insert(proxy("b").with_spec(ingressClassName="internal").build()) is True


CONTOUR_CLASS = "projectcontour.io/ingress.class"
KUBERNETES_CLASS = "kubernetes.io/ingress.class"


@pytest.mark.parametrize(
    ("annotations", "spec_class", "served"),
    [
        # Contour's annotation.IngressClass takes the first annotation present, even when empty, and
        # an empty annotation class falls through to spec.ingressClassName.
        pytest.param(
            {CONTOUR_CLASS: "", KUBERNETES_CLASS: "nginx"}, None, True, id="empty-contour-hides-nginx"
        ),
        pytest.param({CONTOUR_CLASS: ""}, "nginx", False, id="empty-annotation-uses-spec"),
        pytest.param({CONTOUR_CLASS: "contour", KUBERNETES_CLASS: "nginx"}, None, True, id="contour-first"),
        pytest.param({KUBERNETES_CLASS: "nginx"}, "contour", False, id="annotation-over-spec"),
        pytest.param({}, "contour", True, id="spec-contour"),
    ],
)
def test_ingress_class_as_contour_reads_it(
    annotations: dict[str, str], spec_class: str | None, served: bool
) -> None:
    obj = ingress("i")
    obj["metadata"]["annotations"] = annotations
    if spec_class is not None:
        obj["spec"]["ingressClassName"] = spec_class
    cache = KubernetesCache()
    assert (cache.insert(obj), list(cache.ingresses)) == (
        served,
        [ObjectRef("default", "i")] if served else [],
    )


def test_httpproxy_with_empty_contour_class_annotation_is_served() -> None:
    annotations = {CONTOUR_CLASS: "", KUBERNETES_CLASS: "nginx"}
    cache = KubernetesCache()
    assert cache.insert(proxy("p").meta(annotations=annotations).build()) is True
    assert list(cache.httpproxies) == [ObjectRef("default", "p")]


@pytest.mark.parametrize(
    ("existing", "obj", "rebuild"),
    [
        pytest.param([proxy("p").build()], proxy("p").build(), True, id="httpproxy-present"),
        pytest.param([], proxy("p").build(), False, id="httpproxy-absent"),
        pytest.param([ROOT_WITH_TLS, tls_secret("cert")], tls_secret("cert"), True, id="secret-referenced"),
        pytest.param([tls_secret("cert")], tls_secret("cert"), False, id="secret-unreferenced"),
        pytest.param(
            [ROOT_WITH_TLS, k8s_service("kuard")], k8s_service("kuard"), True, id="service-referenced"
        ),
        pytest.param([k8s_service("kuard")], k8s_service("kuard"), False, id="service-unreferenced"),
        pytest.param([namespace("a")], namespace("a"), True, id="namespace-present"),
        pytest.param([ingress("i")], ingress("i"), True, id="ingress-present"),
        pytest.param(
            [delegation("d", "certs", {"c": ["*"]})],
            delegation("d", "certs", {}),
            True,
            id="delegation-present",
        ),
    ],
)
def test_remove_needs_rebuild(existing: list[Obj], obj: Obj, rebuild: bool) -> None:
    cache = cache_of(*existing)
    assert cache.remove(obj) is rebuild


def test_remove_reads_only_identity() -> None:
    cache = cache_of(proxy("p", "ns").build())
    assert cache.remove(
        {
            "apiVersion": "projectcontour.io/v1",
            "kind": "HTTPProxy",
            "metadata": {"name": "p", "namespace": "ns"},
        }
    )
    assert cache.httpproxies == {}
