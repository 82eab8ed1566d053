"""KubernetesCache.insert/remove (and a build over what they kept) never raise, whatever the object's shape.

The API server validates most of what it stores, but the cache must not trust it: an Ingress with
`"tls": "nope"` once raised AttributeError while deciding whether a Secret needs a rebuild. The
specific cases pin the shapes that used to crash; the property tests feed objects that follow each
kind's real layout with any JSON value at any node.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache

from .fixtures import ca_secret, k8s_service, proxy, service, tls_secret

Obj = dict[str, Any]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
NAMES = st.sampled_from(["kuard", "cert", "ns/cert", "", "default/kuard"])


def shaped(template: Any) -> st.SearchStrategy[Any]:
    """Values laid out like `template` (dicts of fields, one-element lists for arrays, strategies for
    leaves), where any node may instead be an arbitrary JSON value or missing."""
    if isinstance(template, st.SearchStrategy):
        return template | JSON
    if isinstance(template, list):
        return st.lists(shaped(template[0]), max_size=3) | JSON
    fields = {key: shaped(value) for key, value in template.items()}
    return st.fixed_dictionaries({}, optional=fields) | JSON


METADATA = {
    "name": NAMES,
    "namespace": st.sampled_from(["default", "certs", ""]),
    "generation": st.integers(),
    "annotations": st.dictionaries(
        st.sampled_from(
            [
                "projectcontour.io/ingress.class",
                "kubernetes.io/ingress.class",
                "projectcontour.io/tls-cert-namespace",
                "projectcontour.io/upstream-protocol.h2",
            ]
        ),
        JSON,
        max_size=3,
    ),
}
BACKEND = {"service": {"name": NAMES, "port": {"number": st.integers(), "name": NAMES}}}
SPECS: dict[tuple[str, str], Any] = {
    ("networking.k8s.io/v1", "Ingress"): {
        "ingressClassName": NAMES,
        "defaultBackend": BACKEND,
        "tls": [{"secretName": NAMES, "hosts": [st.text(max_size=8)]}],
        "rules": [
            {"host": st.text(max_size=8), "http": {"paths": [{"path": st.text(), "backend": BACKEND}]}}
        ],
    },
    ("projectcontour.io/v1", "HTTPProxy"): {
        "ingressClassName": NAMES,
        "virtualhost": {"fqdn": st.text(max_size=8), "tls": {"secretName": NAMES}},
        "routes": [{"services": [{"name": NAMES, "port": st.integers()}]}],
        "tcpproxy": {"services": [{"name": NAMES, "port": st.integers()}]},
    },
    ("projectcontour.io/v1", "TLSCertificateDelegation"): {
        "delegations": [{"secretName": NAMES, "targetNamespaces": [NAMES]}]
    },
    ("projectcontour.io/v1alpha1", "ExtensionService"): {
        "services": [{"name": NAMES, "port": st.integers()}]
    },
    ("v1", "Service"): {"ports": [{"name": NAMES, "port": st.integers(), "appProtocol": NAMES}]},
    ("v1", "Namespace"): {},
    ("networking.k8s.io/v1", "IngressClass"): {"controller": NAMES},
}
SECRET_FIELDS = {
    "type": st.sampled_from(["kubernetes.io/tls", "Opaque", "other"]),
    "data": {"tls.crt": st.text(max_size=8), "tls.key": st.text(max_size=8), "ca.crt": st.just("Y2E=")},
    "stringData": {"ca.crt": st.text(max_size=8)},
}


def objects(api_version: str, kind: str, body: dict[str, Any]) -> st.SearchStrategy[Any]:
    identity = st.fixed_dictionaries({"apiVersion": st.just(api_version), "kind": st.just(kind)})
    rest = st.fixed_dictionaries(
        {}, optional={"metadata": shaped(METADATA), **{k: shaped(v) for k, v in body.items()}}
    )
    return st.builds(lambda a, b: {**b, **a}, identity, rest)


ANY_OBJECT = st.one_of(
    *(objects(api_version, kind, {"spec": spec}) for (api_version, kind), spec in SPECS.items()),
    objects("v1", "Secret", SECRET_FIELDS),
    JSON,
)
# Objects the well-formed ones are checked against: they make the cache walk every stored Ingress
# and HTTPProxy when it decides whether a rebuild is needed.
PROBES = [
    k8s_service("kuard"),
    tls_secret("cert"),
    tls_secret("cert", "certs"),
    ca_secret("ca"),
    proxy("root").fqdn("a.example.com").tls("cert").route("/", service("kuard")).build(),
]


def exercise(stored: list[Any]) -> None:
    cache = KubernetesCache()
    for obj in stored:
        assert isinstance(cache.insert(obj), bool)
    for probe in PROBES:
        assert isinstance(cache.insert(probe), bool)
        assert isinstance(cache.remove(probe), bool)
    for obj in stored:
        assert isinstance(cache.remove(obj), bool)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANY_OBJECT, max_size=4))
def test_insert_and_remove_never_raise(stored: list[Any]) -> None:
    exercise(stored)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ANY_OBJECT, max_size=4))
def test_build_over_malformed_objects_never_raises(stored: list[Any]) -> None:
    cache = KubernetesCache()
    for obj in [*PROBES, *stored]:
        cache.insert(obj)
    assert Builder(BuilderConfig()).build(cache).dag is not None


def ingress(**spec: Any) -> Obj:
    meta = {"name": "bad", "namespace": "default"}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


MALFORMED = {
    "ingress-tls-string": ingress(tls="nope"),
    "ingress-tls-entry-string": ingress(tls=["nope"]),
    "ingress-tls-secret-name-number": ingress(tls=[{"secretName": 5}]),
    "ingress-rules-string": ingress(rules="nope"),
    "ingress-rule-string": ingress(rules=["nope"]),
    "ingress-http-string": ingress(rules=[{"http": "nope"}]),
    "ingress-paths-string": ingress(rules=[{"http": {"paths": "nope"}}]),
    "ingress-path-string": ingress(rules=[{"http": {"paths": ["nope"]}}]),
    "ingress-backend-string": ingress(rules=[{"http": {"paths": [{"backend": "nope"}]}}]),
    "ingress-backend-service-list": ingress(defaultBackend={"service": ["kuard"]}),
    "ingress-spec-list": {**ingress(), "spec": ["nope"]},
    "ingress-metadata-string": {**ingress(), "metadata": "nope"},
    "ingress-annotations-list": {**ingress(), "metadata": {"name": "bad", "annotations": ["x"]}},
    "ingress-class-annotation-number": {
        **ingress(),
        "metadata": {"name": "bad", "annotations": {"kubernetes.io/ingress.class": 5}},
    },
    "httpproxy-spec-string": {**proxy("bad").build(), "spec": "nope"},
    "httpproxy-generation-string": {**proxy("bad").build(), "metadata": {"name": "bad", "generation": "x"}},
    "secret-data-list": {**tls_secret("bad"), "data": ["nope"]},
    "secret-string-data-string": {**tls_secret("bad"), "stringData": "nope"},
    "secret-type-number": {**tls_secret("bad"), "type": 5},
    "service-spec-string": {**k8s_service("bad"), "spec": "nope"},
    "api-version-number": {"apiVersion": 1, "kind": "Ingress"},
    "kind-list": {"apiVersion": "v1", "kind": ["Secret"]},
    "not-an-object": "nope",
}


@pytest.mark.parametrize("obj", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_object_never_raises(obj: Any) -> None:
    exercise([obj])
