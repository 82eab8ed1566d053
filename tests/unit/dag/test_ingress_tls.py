"""IngressProcessor, TLS: secure virtual hosts, secret delegation and the HTTP/HTTPS interplay."""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.model import ObjectRef

from .fixtures import delegation, k8s_service, secret, tls_secret
from .ingress_fixtures import (
    build_ingress,
    http_routes,
    http_vhost,
    https_routes,
    ing,
    manifests,
    matches,
    path,
    secure_vhost,
    upstreams,
)

Obj = dict[str, Any]

KUARD = k8s_service("kuard")
HOST = "a.example.com"


def test_tls_manifest() -> None:
    objects = manifests(
        """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: kuard, namespace: default}
spec:
  tls:
  - hosts: [a.example.com]
    secretName: cert
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: kuard, port: {number: 80}}}}
"""
    )
    dag = build_ingress(*objects, tls_secret("cert"), KUARD).dag
    svh = secure_vhost(dag, HOST)
    assert svh is not None and svh.secret is not None
    assert svh.secret.ref == ObjectRef("default", "cert")
    assert svh.secret.cert.startswith(b"-----BEGIN CERTIFICATE-----")
    assert (svh.min_tls_version, svh.max_tls_version) == ("1.2", "1.3")
    assert matches(https_routes(dag, HOST)) == [("prefix", "/")]
    assert upstreams(https_routes(dag, HOST)) == ["default/kuard/80"]
    # TLS on an Ingress does not redirect plain HTTP by itself.
    assert [r.https_upgrade for r in http_routes(dag, HOST)] == [False]
    assert list(dag.secrets) == [ObjectRef("default", "cert")]


@pytest.mark.parametrize(
    ("annotations", "http", "https"),
    [
        pytest.param({}, [False], [False], id="plain-http-served"),
        pytest.param(
            {"kubernetes.io/ingress.allow-http": "false"}, [], [False], id="allow-http-false-https-only"
        ),
        pytest.param(
            {"ingress.kubernetes.io/force-ssl-redirect": "true"}, [True], [False], id="force-ssl-redirect"
        ),
        pytest.param(
            {"ingress.kubernetes.io/force-ssl-redirect": "true", "kubernetes.io/ingress.allow-http": "false"},
            [True],
            [False],
            id="force-ssl-redirect-beats-allow-http-false",
        ),
        pytest.param(
            {"ingress.kubernetes.io/force-ssl-redirect": "false", "kubernetes.io/ingress.allow-http": "true"},
            [False],
            [False],
            id="explicit-defaults",
        ),
    ],
)
def test_http_and_https_interplay(annotations: dict[str, str], http: list[bool], https: list[bool]) -> None:
    builder = ing("app")
    for key, value in annotations.items():
        builder.annotate(key, value)
    obj = builder.tls("cert", HOST).rule(HOST, path("/", "kuard")).build()
    dag = build_ingress(obj, tls_secret("cert"), KUARD).dag
    # Each list holds the https_upgrade flag of each route: [] means no route at all.
    assert [r.https_upgrade for r in http_routes(dag, HOST)] == http
    assert [r.https_upgrade for r in https_routes(dag, HOST)] == https


@pytest.mark.parametrize(
    ("objects", "secret_name", "annotations", "served"),
    [
        pytest.param([tls_secret("cert")], "cert", {}, True, id="same-namespace"),
        pytest.param([], "cert", {}, False, id="missing-secret"),
        pytest.param([tls_secret("cert", "certs")], "cert", {}, False, id="other-namespace-not-named"),
        pytest.param(
            [tls_secret("cert", "certs")], "certs/cert", {}, False, id="qualified-without-delegation"
        ),
        pytest.param(
            [tls_secret("cert", "certs"), delegation("d", "certs", {"cert": ["default"]})],
            "certs/cert",
            {},
            True,
            id="qualified-with-delegation",
        ),
        pytest.param(
            [tls_secret("cert", "certs"), delegation("d", "certs", {"cert": ["*"]})],
            "certs/cert",
            {},
            True,
            id="qualified-with-wildcard-delegation",
        ),
        pytest.param(
            [tls_secret("cert", "certs"), delegation("d", "certs", {"cert": ["team-b"]})],
            "certs/cert",
            {},
            False,
            id="delegated-to-another-namespace",
        ),
        pytest.param(
            [tls_secret("cert", "certs"), delegation("d", "certs", {"other": ["*"]})],
            "certs/cert",
            {},
            False,
            id="delegation-of-another-secret",
        ),
        pytest.param(
            [tls_secret("cert", "certs"), delegation("d", "certs", {"cert": ["default"]})],
            "cert",
            {"projectcontour.io/tls-cert-namespace": "certs"},
            True,
            id="tls-cert-namespace-with-delegation",
        ),
        pytest.param(
            [tls_secret("cert", "certs")],
            "cert",
            {"projectcontour.io/tls-cert-namespace": "certs"},
            False,
            id="tls-cert-namespace-without-delegation",
        ),
        pytest.param(
            [tls_secret("cert"), tls_secret("cert", "certs")],
            "default/cert",
            {"projectcontour.io/tls-cert-namespace": "certs"},
            True,
            id="qualified-name-beats-tls-cert-namespace",
        ),
        pytest.param(
            [secret("cert", tls_crt=b"not a certificate", tls_key=b"not a key")],
            "cert",
            {},
            False,
            id="invalid-certificate",
        ),
        pytest.param(
            [secret("cert", "default", "Opaque", ca_crt=b"-----BEGIN CERTIFICATE-----")],
            "cert",
            {},
            False,
            id="ca-bundle-is-not-a-serving-certificate",
        ),
    ],
)
def test_tls_secret_resolution(
    objects: list[Obj], secret_name: str, annotations: dict[str, str], served: bool
) -> None:
    builder = ing("app")
    for key, value in annotations.items():
        builder.annotate(key, value)
    obj = builder.tls(secret_name, HOST).rule(HOST, path("/", "kuard")).build()
    dag = build_ingress(obj, *objects, KUARD).dag
    assert (secure_vhost(dag, HOST) is not None) is served
    # Whatever happens to TLS, plain HTTP keeps serving the route.
    assert matches(http_routes(dag, HOST)) == [("prefix", "/")]


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, ("1.2", "1.3"), id="defaults"),
        pytest.param({"projectcontour.io/tls-minimum-protocol-version": "1.3"}, ("1.3", "1.3"), id="min-1.3"),
        pytest.param(
            {"projectcontour.io/tls-minimum-protocol-version": "1.1"}, ("1.2", "1.3"), id="min-1.1-ignored"
        ),
        pytest.param({"projectcontour.io/tls-maximum-protocol-version": "1.2"}, ("1.2", "1.2"), id="max-1.2"),
        pytest.param(
            {"projectcontour.io/tls-maximum-protocol-version": "1.4"}, ("1.2", "1.3"), id="max-1.4-ignored"
        ),
    ],
)
def test_tls_protocol_versions(annotations: dict[str, str], expected: tuple[str, str]) -> None:
    builder = ing("app")
    for key, value in annotations.items():
        builder.annotate(key, value)
    obj = builder.tls("cert", HOST).rule(HOST, path("/", "kuard")).build()
    svh = secure_vhost(build_ingress(obj, tls_secret("cert"), KUARD).dag, HOST)
    assert svh is not None
    assert (svh.min_tls_version, svh.max_tls_version) == expected


def test_tls_host_without_a_rule_has_no_secure_host() -> None:
    obj = ing("app").tls("cert", "other.example.com").rule(HOST, path("/", "kuard")).build()
    dag = build_ingress(obj, tls_secret("cert"), KUARD).dag
    assert dag.listeners["ingress_https"].secure_virtual_hosts == {}
    assert dag.secrets == {}


def test_tls_applies_to_every_listed_host() -> None:
    obj = (
        ing("app")
        .tls("cert", HOST, "b.example.com")
        .rule(HOST, path("/", "kuard"))
        .rule("b.example.com", path("/b", "kuard"))
        .build()
    )
    dag = build_ingress(obj, tls_secret("cert"), KUARD).dag
    assert sorted(dag.listeners["ingress_https"].secure_virtual_hosts) == ["a.example.com", "b.example.com"]
    assert matches(https_routes(dag, "b.example.com")) == [("segment_prefix", "/b")]


def test_catch_all_rules_are_never_served_over_tls() -> None:
    obj = ing("app").tls("cert", "*").default_backend("kuard").rule(None, path("/x", "kuard")).build()
    dag = build_ingress(obj, tls_secret("cert"), KUARD).dag
    assert secure_vhost(dag, "*") is None
    assert matches(http_routes(dag, "*")) == [("prefix", "/"), ("segment_prefix", "/x")]


def test_wildcard_tls_host() -> None:
    obj = ing("app").tls("cert", "*.example.com").rule("*.example.com", path("/", "kuard")).build()
    dag = build_ingress(obj, tls_secret("cert"), KUARD).dag
    [route] = https_routes(dag, "*.example.com")
    assert [h.name for h in route.header_matches] == [":authority"]


def test_another_ingress_for_a_tls_host_is_served_over_tls_too() -> None:
    with_tls = ing("a").tls("cert", HOST).rule(HOST, path("/", "kuard")).build()
    without_tls = ing("b").rule(HOST, path("/api", "kuard")).build()
    dag = build_ingress(without_tls, with_tls, tls_secret("cert"), KUARD).dag
    assert matches(https_routes(dag, HOST)) == [("prefix", "/"), ("segment_prefix", "/api")]


def test_tls_from_another_namespace_ingress_applies_to_the_host() -> None:
    with_tls = ing("a", "team-a").tls("cert", HOST).rule(HOST, path("/", "kuard")).build()
    other = ing("b", "team-b").rule(HOST, path("/b", "kuard")).build()
    dag = build_ingress(
        with_tls,
        other,
        tls_secret("cert", "team-a"),
        k8s_service("kuard", "team-a"),
        k8s_service("kuard", "team-b"),
    ).dag
    assert upstreams(https_routes(dag, HOST)) == ["team-a/kuard/80", "team-b/kuard/80"]


def test_a_failing_secret_does_not_undo_a_working_one() -> None:
    good = ing("a").tls("cert", HOST).rule(HOST, path("/", "kuard")).build()
    bad = ing("b").tls("missing", HOST).rule(HOST, path("/b", "kuard")).build()
    dag = build_ingress(good, bad, tls_secret("cert"), KUARD).dag
    svh = secure_vhost(dag, HOST)
    assert svh is not None and svh.secret is not None
    assert svh.secret.ref == ObjectRef("default", "cert")


def test_envoy_client_certificate_is_attached_to_clusters() -> None:
    cfg = BuilderConfig(client_certificate=ObjectRef("projectcontour", "envoy-client"))
    obj = ing("app").rule(HOST, path("/", "kuard")).build()
    dag = build_ingress(obj, tls_secret("envoy-client", "projectcontour"), KUARD, config=cfg).dag
    [route] = http_routes(dag, HOST)
    assert route.clusters[0].client_certificate is not None
    assert route.clusters[0].client_certificate.ref == ObjectRef("projectcontour", "envoy-client")


def test_missing_envoy_client_certificate_drops_the_rules() -> None:
    cfg = BuilderConfig(client_certificate=ObjectRef("projectcontour", "envoy-client"))
    obj = ing("app").rule(HOST, path("/", "kuard")).build()
    assert http_vhost(build_ingress(obj, KUARD, config=cfg).dag, HOST) is None
