"""ExtensionService: the cluster it becomes and the status it gets, as Contour's extension processor.

Each case feeds an ExtensionService (and what it references) in and checks either the
`ExtensionCluster` in the DAG or the `Valid` condition's errors and warnings, with Contour's types,
reasons and messages.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.model import CircuitBreakers, ExtensionCluster, ObjectRef
from contour.dag.status import StatusUpdate

from .fixtures import build, ca_secret, delegation, k8s_service, port, tls_secret

Obj = dict[str, Any]
REF = ObjectRef("default", "auth")
AUTH_SVC = k8s_service("auth-svc", ports=[port(9000, "grpc")])


def extension(name: str = "auth", namespace: str = "default", **spec: Any) -> Obj:
    full: Obj = {"services": [{"name": "auth-svc", "port": 9000}], **spec}
    return {
        "apiVersion": "projectcontour.io/v1alpha1",
        "kind": "ExtensionService",
        "metadata": {"name": name, "namespace": namespace, "generation": 3},
        "spec": full,
    }


def validation(**fields: Any) -> Obj:
    return {"caSecret": "ca", "subjectName": "auth.example.com", **fields}


def cluster_of(*objects: Obj, config: BuilderConfig | None = None) -> ExtensionCluster | None:
    return build(*objects, config=config).dag.extension_clusters.get("extension/default/auth")


def status_of(statuses: list[StatusUpdate], ref: ObjectRef = REF) -> Obj:
    found = [u for u in statuses if u.ref == ref and u.plural == "extensionservices"]
    assert len(found) == 1, f"no single ExtensionService status for {ref}: {statuses}"
    assert (found[0].group, found[0].version) == ("projectcontour.io", "v1alpha1")
    return found[0].status


def valid_condition(*objects: Obj, config: BuilderConfig | None = None) -> Obj:
    conditions = status_of(build(*objects, config=config).statuses)["conditions"]
    assert [c["type"] for c in conditions] == ["Valid"]
    condition: Obj = conditions[0]
    return condition


def errors(*objects: Obj, config: BuilderConfig | None = None) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["reason"], e["message"])
        for e in valid_condition(*objects, config=config).get("errors", [])
    ]


# -- the cluster ---------------------------------------------------------------------------------------


def test_a_valid_extension_service_becomes_a_cluster_named_after_it() -> None:
    cluster = cluster_of(extension(), AUTH_SVC)
    assert cluster is not None
    assert (cluster.name, cluster.ref, cluster.protocol) == ("extension/default/auth", REF, "h2")
    assert [(s.eds_name, w) for s, w in cluster.services] == [("default/auth-svc/grpc", 0)]


def test_a_valid_extension_service_reports_valid() -> None:
    condition = valid_condition(extension(), AUTH_SVC)
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "True",
        "Valid",
        "Valid ExtensionService",
    )
    assert condition["observedGeneration"] == 3


def test_the_extension_services_endpoints_are_published() -> None:
    assert "default/auth-svc/grpc" in build(extension(), AUTH_SVC).dag.services


@pytest.mark.parametrize("protocol", ["h2", "h2c", "http/1.1"], ids=["h2", "h2c", "http1"])
def test_the_protocol_is_kept(protocol: str) -> None:
    cluster = cluster_of(extension(protocol=protocol), AUTH_SVC)
    assert cluster is not None and cluster.protocol == protocol


def test_weights_are_kept_per_service() -> None:
    ext = extension(services=[{"name": "auth-svc", "port": 9000, "weight": 7}])
    cluster = cluster_of(ext, AUTH_SVC)
    assert cluster is not None and [w for _, w in cluster.services] == [7]


def test_timeouts_and_circuit_breakers_are_kept() -> None:
    ext = extension(
        timeoutPolicy={"response": "2s", "idleConnection": "30s"},
        circuitBreakerPolicy={"maxConnections": 5, "perHostMaxConnections": 2},
    )
    cluster = cluster_of(ext, AUTH_SVC)
    assert cluster is not None
    assert (cluster.response_timeout_seconds, cluster.idle_connection_timeout_seconds) == (2.0, 30.0)
    assert cluster.circuit_breakers == CircuitBreakers(max_connections=5, per_host_max_connections=2)


@pytest.mark.parametrize(
    ("strategy", "kept"),
    [("Random", "Random"), ("WeightedLeastRequest", "WeightedLeastRequest"), ("Cookie", "")],
    ids=["random", "least-request", "cookie-ignored"],
)
def test_the_load_balancer_strategy(strategy: str, kept: str) -> None:
    cluster = cluster_of(extension(loadBalancerPolicy={"strategy": strategy}), AUTH_SVC)
    assert cluster is not None and cluster.load_balancer_strategy == kept


def test_upstream_validation_sets_the_ca_and_sni() -> None:
    cluster = cluster_of(extension(validation=validation()), AUTH_SVC, ca_secret("ca"))
    assert cluster is not None and cluster.upstream_validation is not None
    assert cluster.upstream_validation.subject_names == ("auth.example.com",)
    assert cluster.sni == "auth.example.com"


def test_the_envoy_client_certificate_is_attached() -> None:
    config = BuilderConfig(client_certificate=ObjectRef("projectcontour", "envoy-client"))
    cluster = cluster_of(extension(), AUTH_SVC, tls_secret("envoy-client", "projectcontour"), config=config)
    assert cluster is not None and cluster.client_certificate is not None


# -- status --------------------------------------------------------------------------------------------

ERROR_CASES: list[tuple[str, list[Obj], list[tuple[str, str, str]]]] = [
    (
        "missing-service",
        [extension()],
        [
            (
                "ServiceError",
                "ServiceUnresolvedReference",
                'unresolved service "default/auth-svc": service "default/auth-svc" not found',
            )
        ],
    ),
    (
        "external-name-service",
        [extension(), k8s_service("auth-svc", ports=[port(9000, "grpc")], external_name="auth.example.com")],
        [
            (
                "ServiceError",
                "UnsupportedServiceType",
                'Service "default/auth-svc" is of unsupported type "ExternalName".',
            )
        ],
    ),
    (
        "bad-timeout",
        [extension(timeoutPolicy={"response": "s"}), AUTH_SVC],
        [
            (
                "SpecError",
                "TimeoutPolicyNotValid",
                "spec.timeoutPolicy failed to parse: error parsing response timeout: unable to parse timeout "
                'string "s": time: invalid duration "s"',
            )
        ],
    ),
    (
        "validation-with-h2c",
        [extension(protocol="h2c", validation=validation()), AUTH_SVC, ca_secret("ca")],
        [("SpecError", "InconsistentProtocol", 'upstream TLS validation not supported for "h2c" protocol')],
    ),
    (
        "ca-not-delegated",
        [extension(validation=validation(caSecret="other/ca")), AUTH_SVC, ca_secret("ca", "other")],
        [
            (
                "TLSError",
                "CACertificateNotDelegated",
                'service.UpstreamValidation.CACertificate Secret "other/ca" is not configured for '
                "certificate delegation",
            )
        ],
    ),
    (
        "ca-missing",
        [extension(validation=validation()), AUTH_SVC],
        [
            (
                "SpecError",
                "TLSUpstreamValidation",
                'TLS upstream validation policy error: invalid CA Secret "default/ca": Secret not found',
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("objects", "expected"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_errors(objects: list[Obj], expected: list[tuple[str, str, str]]) -> None:
    assert errors(*objects) == expected


@pytest.mark.parametrize(
    "objects",
    [[extension()], [extension(protocol="h2c", validation=validation()), AUTH_SVC, ca_secret("ca")]],
    ids=["missing-service", "inconsistent-protocol"],
)
def test_an_invalid_extension_service_gets_no_cluster(objects: list[Obj]) -> None:
    assert cluster_of(*objects) is None


def test_a_delegated_ca_is_accepted() -> None:
    objects = [
        extension(validation=validation(caSecret="other/ca")),
        AUTH_SVC,
        ca_secret("ca", "other"),
        delegation("d", "other", {"ca": ["default"]}),
    ]
    assert errors(*objects) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"loadBalancerPolicy": {"strategy": "Cookie"}},
            'ignoring field ".Spec.LoadBalancerPolicy"; Cookie load balancer policy is not supported for '
            "ExtensionClusters",
        ),
        (
            {"timeoutPolicy": {"idle": "10s"}},
            'ignoring field ".Spec.TimeoutPolicy.Idle"; '
            "idle timeouts are not supported for ExtensionClusters",
        ),
    ],
    ids=["cookie-load-balancer", "idle-timeout"],
)
def test_ignored_fields_are_warnings(spec: Obj, message: str) -> None:
    condition = valid_condition(extension(**spec), AUTH_SVC)
    assert condition["status"] == "True"
    assert [(w["type"], w["reason"], w["message"]) for w in condition["warnings"]] == [
        ("SpecError", "IgnoredField", message)
    ]


def test_an_unparsable_extension_service_is_spec_invalid() -> None:
    bad = extension()
    bad["spec"]["services"] = []
    [(kind, reason, _)] = errors(bad)
    assert (kind, reason) == ("SpecError", "SpecInvalid")
