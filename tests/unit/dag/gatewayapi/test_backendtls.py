"""BackendTLSPolicy: Gateway clusters of targeted Service ports become TLS clusters, with the policy's
status per ancestor Gateway (apis/v1/backendtlspolicy_types.go at v1.6.1). One behaviour per test;
the ids name the conformance test a case stands for where there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contour.dag.gatewayapi_backendtls import SYSTEM_CA_BUNDLE
from contour.dag.model import Cluster, ObjectRef, Protocol, Route
from contour.envoy.clusters import ClusterSettings, cluster
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, RUNTIME, SECRET
from tests.unit.dag.fixtures import cert_pem, k8s_service, port
from tests.unit.dag.fixtures import secret as raw_secret
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    CONTROLLER,
    NS,
    Built,
    Obj,
    backend,
    build,
    gateway,
    gatewayclass,
    httproute,
    listener,
    parent,
)
from tests.unit.envoy.envoy_validate import assert_envoy_accepts
from tests.unit.envoy.test_envoy_accepts import static_bootstrap

CA = cert_pem("backend-ca.example.com")
GW_REF = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": NS, "name": "gw"}


def configmap(name: str = "ca", data: str | None = CA.decode(), namespace: str = NS) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {} if data is None else {"ca.crt": data},
    }


def ca_ref(name: str = "ca", kind: str = "ConfigMap", group: str = "") -> Obj:
    return {"group": group, "kind": kind, "name": name}


def policy(
    name: str,
    *targets: Obj,
    hostname: str = "backend.example.com",
    created: str = "2024-01-01T00:00:00Z",
    generation: int = 1,
    status: Obj | None = None,
    **validation: Any,
) -> Obj:
    if "caCertificateRefs" not in validation and "wellKnownCACertificates" not in validation:
        validation["caCertificateRefs"] = [ca_ref()]
    obj: Obj = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "BackendTLSPolicy",
        "metadata": {"name": name, "namespace": NS, "generation": generation, "creationTimestamp": created},
        "spec": {
            "targetRefs": list(targets) or [target()],
            "validation": {"hostname": hostname, **validation},
        },
    }
    if status is not None:
        obj["status"] = status
    return obj


def target(name: str = "svc", section: str | None = None) -> Obj:
    ref: Obj = {"group": "", "kind": "Service", "name": name}
    if section is not None:
        ref["sectionName"] = section
    return ref


def two_port_service(name: str = "svc") -> Obj:
    return k8s_service(name, NS, [port(443, "https-1"), port(8443, "https-2")])


def base(*objects: Obj, backends: list[Obj] | None = None) -> list[Obj]:
    return [
        gatewayclass(),
        gateway("gw", listener("http", 8080, "HTTP")),
        k8s_service("svc", NS),
        configmap(),
        httproute("r", parents=[parent("gw")], backends=backends),
        *objects,
    ]


def routes(built: Built) -> list[Route]:
    vhost = built.dag.gateways[ObjectRef(NS, "gw")].listeners["http-8080"].virtual_hosts["*"]
    return list(vhost.routes.values())


def the_cluster(built: Built) -> Cluster:
    (route,) = routes(built)
    (found,) = route.clusters
    return found


def policy_conditions(built: Built, name: str = "p") -> dict[str, tuple[str, str]]:
    (ancestor,) = built.statuses[("backendtlspolicies", ObjectRef(NS, name))]["ancestors"]
    return {c["type"]: (c["status"], c["reason"]) for c in ancestor["conditions"]}


# --- applying a valid policy ---------------------------------------------------------------------------


def test_targeted_cluster_originates_tls_with_the_policy_hostname_as_sni() -> None:
    found = the_cluster(build(*base(policy("p"))))
    assert (found.protocol, found.sni) == (Protocol.TLS, "backend.example.com")


def test_configmap_ca_and_hostname_make_the_validation_context() -> None:
    validation = the_cluster(build(*base(policy("p")))).upstream_validation
    assert validation is not None
    assert (validation.ca_secret.ca, validation.subject_names, validation.uri_subject_names) == (
        CA,
        ("backend.example.com",),
        (),
    )


def test_secret_ca_reference_is_accepted_too() -> None:
    objects = base(policy("p", caCertificateRefs=[ca_ref("ca-secret", "Secret")]))
    objects.append(raw_secret("ca-secret", NS, "Opaque", ca_crt=CA))
    validation = the_cluster(build(*objects)).upstream_validation
    assert validation is not None and validation.ca_secret.ca == CA


def test_subject_alt_names_replace_the_hostname_for_verification() -> None:
    sans = [{"type": "Hostname", "hostname": "san.example.com"}, {"type": "URI", "uri": "spiffe://td/ns/a"}]
    validation = the_cluster(build(*base(policy("p", subjectAltNames=sans)))).upstream_validation
    assert validation is not None
    assert (validation.subject_names, validation.uri_subject_names) == (
        ("san.example.com",),
        ("spiffe://td/ns/a",),
    )


def test_well_known_system_cas_use_the_system_bundle() -> None:
    validation = the_cluster(build(*base(policy("p", wellKnownCACertificates="System")))).upstream_validation
    assert validation is not None and (validation.ca_file, validation.ca_secret.ca) == (SYSTEM_CA_BUNDLE, b"")


def test_h2c_backend_becomes_h2_over_tls() -> None:
    service = k8s_service("svc", NS, [port(80, "http", appProtocol="kubernetes.io/h2c")])
    objects = [o for o in base(policy("p")) if o.get("kind") != "Service"] + [service]
    assert the_cluster(build(*objects)).protocol == Protocol.H2


def test_untargeted_service_keeps_plain_http() -> None:
    objects = base(policy("p", target("other")), k8s_service("other", NS))
    found = the_cluster(build(*objects))
    assert (found.protocol, found.upstream_validation) == (Protocol.HTTP1, None)


def test_valid_policy_is_accepted_for_the_gateway_ancestor() -> None:
    built = build(*base(policy("p", generation=4)))
    (ancestor,) = built.statuses[("backendtlspolicies", ObjectRef(NS, "p"))]["ancestors"]
    assert (ancestor["ancestorRef"], ancestor["controllerName"]) == (GW_REF, CONTROLLER)
    assert [
        (c["type"], c["status"], c["reason"], c["observedGeneration"]) for c in ancestor["conditions"]
    ] == [
        ("Accepted", "True", "Accepted", 4),
        ("ResolvedRefs", "True", "ResolvedRefs", 4),
    ]


def test_policy_for_a_service_no_route_uses_gets_no_status() -> None:
    built = build(*base(policy("p", target("unused"))))
    assert ("backendtlspolicies", ObjectRef(NS, "p")) not in built.statuses


def test_our_entry_is_removed_once_no_route_uses_the_service() -> None:
    ours = {"ancestorRef": GW_REF, "controllerName": CONTROLLER, "conditions": []}
    built = build(*base(policy("p", target("unused"), status={"ancestors": [ours]})))
    assert built.statuses[("backendtlspolicies", ObjectRef(NS, "p"))] == {"ancestors": []}


def test_other_controllers_ancestor_entries_are_kept() -> None:
    foreign = {
        "ancestorRef": {"name": "theirs"},
        "controllerName": "example.com/other",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": ""}],
    }
    built = build(*base(policy("p", status={"ancestors": [foreign]})))
    ancestors = built.statuses[("backendtlspolicies", ObjectRef(NS, "p"))]["ancestors"]
    assert [a["controllerName"] for a in ancestors] == ["example.com/other", CONTROLLER]


# --- invalid references ---------------------------------------------------------------------------------

INVALID = [
    pytest.param(
        {"caCertificateRefs": [ca_ref("missing")]},
        ("False", "NoValidCACertificate"),
        ("False", "InvalidCACertificateRef"),
        id="BackendTLSPolicyInvalidCACertificateRef-missing",
    ),
    pytest.param(
        {"caCertificateRefs": [ca_ref("ca", "Bundle", "trust.example.com")]},
        ("False", "NoValidCACertificate"),
        ("False", "InvalidKind"),
        id="BackendTLSPolicyInvalidKind",
    ),
    pytest.param(
        {"caCertificateRefs": [ca_ref("garbage")]},
        ("False", "NoValidCACertificate"),
        ("False", "InvalidCACertificateRef"),
        id="not-pem",
    ),
    pytest.param(
        {"caCertificateRefs": [ca_ref("no-key")]},
        ("False", "NoValidCACertificate"),
        ("False", "InvalidCACertificateRef"),
        id="configmap-without-ca.crt",
    ),
    pytest.param(
        {"wellKnownCACertificates": "example.com/mine"},
        ("False", "Invalid"),
        ("True", "ResolvedRefs"),
        id="unknown-well-known-cas",
    ),
]


def _with_bad_configmaps(*objects: Obj) -> list[Obj]:
    return base(*objects, configmap("garbage", "not a certificate"), configmap("no-key", None))


@pytest.mark.parametrize(("validation", "accepted", "resolved"), INVALID)
def test_invalid_ca_reference_status(
    validation: Obj, accepted: tuple[str, str], resolved: tuple[str, str]
) -> None:
    built = build(*_with_bad_configmaps(policy("p", **validation)))
    assert policy_conditions(built) == {"Accepted": accepted, "ResolvedRefs": resolved}


@pytest.mark.parametrize(("validation", "accepted", "resolved"), INVALID)
def test_requests_to_a_backend_with_an_unusable_policy_get_500(
    validation: Obj, accepted: tuple[str, str], resolved: tuple[str, str]
) -> None:
    (route,) = routes(build(*_with_bad_configmaps(policy("p", **validation))))
    assert (route.clusters, route.direct_response and route.direct_response.status_code) == ([], 500)


def test_unusable_policy_on_one_of_two_backends_answers_500_for_its_share() -> None:
    objects = base(policy("p", caCertificateRefs=[ca_ref("missing")]), k8s_service("plain", NS))
    objects[4] = httproute("r", parents=[parent("gw")], backends=[backend("svc", weight=3), backend("plain")])
    (route,) = routes(build(*objects))
    assert ([c.upstream.ref.name for c in route.clusters], route.invalid_backend_weight) == (["plain"], 3)


def test_one_valid_reference_of_two_is_used_and_refs_are_not_resolved() -> None:
    built = build(*base(policy("p", caCertificateRefs=[ca_ref("missing"), ca_ref()])))
    validation = the_cluster(built).upstream_validation
    assert validation is not None and validation.ca_secret.ca == CA
    assert policy_conditions(built) == {
        "Accepted": ("True", "Accepted"),
        "ResolvedRefs": ("False", "InvalidCACertificateRef"),
    }


# --- conflicts (BackendTLSPolicyConflictResolution) -------------------------------------------------------


def test_of_two_policies_for_the_same_service_the_older_applies() -> None:
    newer = policy("newer", hostname="newer.example.com", created="2024-02-01T00:00:00Z")
    older = policy("older", hostname="older.example.com", created="2024-01-15T00:00:00Z")
    assert the_cluster(build(*base(newer, older))).sni == "older.example.com"


def test_the_newer_conflicting_policy_is_not_accepted() -> None:
    newer = policy("newer", created="2024-02-01T00:00:00Z")
    older = policy("older", created="2024-01-15T00:00:00Z")
    built = build(*base(newer, older))
    assert policy_conditions(built, "newer")["Accepted"] == ("False", "Conflicted")
    assert policy_conditions(built, "older")["Accepted"] == ("True", "Accepted")


def test_same_creation_time_conflict_goes_to_the_first_name() -> None:
    built = build(*base(policy("b", hostname="b.example.com"), policy("a", hostname="a.example.com")))
    assert the_cluster(built).sni == "a.example.com"


def test_policy_for_a_named_port_beats_one_for_the_whole_service_without_conflict() -> None:
    objects = base(
        policy("whole", hostname="whole.example.com"),
        policy("port", target("svc", "https-1"), hostname="port.example.com", created="2024-03-01T00:00:00Z"),
    )
    objects[2] = two_port_service()
    objects[4] = httproute(
        "r", parents=[parent("gw")], backends=[backend("svc", 443, weight=1), backend("svc", 8443, weight=1)]
    )
    built = build(*objects)
    (route,) = routes(built)
    assert sorted((c.upstream.port.name, c.sni) for c in route.clusters) == [
        ("https-1", "port.example.com"),
        ("https-2", "whole.example.com"),
    ]
    assert policy_conditions(built, "whole")["Accepted"] == ("True", "Accepted")
    assert policy_conditions(built, "port")["Accepted"] == ("True", "Accepted")


# --- Envoy accepts what is emitted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "validation",
    [
        {},
        {"wellKnownCACertificates": "System"},
        {"subjectAltNames": [{"type": "URI", "uri": "spiffe://td/ns/a"}]},
    ],
    ids=["configmap-ca", "system-cas", "uri-san"],
)
def test_envoy_accepts_the_tls_cluster(validation: Obj, tmp_path: Path) -> None:
    emitted = cluster(the_cluster(build(*base(policy("p", **validation)))), ClusterSettings())
    resources: dict[str, list[Any]] = {CLUSTER: [emitted], LISTENER: [], ROUTE: [], SECRET: [], RUNTIME: []}
    assert_envoy_accepts(static_bootstrap(resources), tmp_path)
