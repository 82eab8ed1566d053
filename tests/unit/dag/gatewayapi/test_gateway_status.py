"""GatewayClass, Gateway and listener status (reference gateway-api.md 6.2-6.3), one behaviour per test.

The ids name the conformance test a case stands for where there is one.
"""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag.builder import BuilderConfig
from contour.dag.gatewayapi_processor import SUPPORTED_FEATURES
from contour.dag.model import ObjectRef
from tests.unit.dag.fixtures import secret as raw_secret
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    NS,
    Obj,
    build,
    cert_ref,
    gateway,
    gatewayclass,
    https_listener,
    listener,
    reference_grant,
    secret,
)

GW = ObjectRef(NS, "gw")


def _base(*objects: Obj) -> list[Obj]:
    return [gatewayclass(), secret("tls"), *objects]


# --- GatewayClass ------------------------------------------------------------------------------------


def test_gatewayclass_of_our_controller_is_accepted_with_supported_version() -> None:
    built = build(gatewayclass(generation=3))
    status = built.statuses[("gatewayclasses", ObjectRef("", "contour"))]
    conditions = {
        c["type"]: (c["status"], c["reason"], c["observedGeneration"]) for c in status["conditions"]
    }
    assert conditions == {
        "Accepted": ("True", "Accepted", 3),
        "SupportedVersion": ("True", "SupportedVersion", 3),
    }


def test_gatewayclass_lists_supported_features_sorted() -> None:
    status = build(gatewayclass()).statuses[("gatewayclasses", ObjectRef("", "contour"))]
    assert status["supportedFeatures"] == [{"name": n} for n in sorted(SUPPORTED_FEATURES)]


def test_gatewayclass_of_another_controller_gets_no_status() -> None:
    built = build(gatewayclass(controller="example.com/other"))
    assert built.statuses == {}


def test_gatewayclass_controller_name_is_configurable() -> None:
    config = BuilderConfig(gateway_controller_name="example.com/mine")
    built = build(gatewayclass(controller="example.com/mine"), config=config)
    assert ("gatewayclasses", ObjectRef("", "contour")) in built.statuses


def test_an_instance_serving_one_gateway_leaves_the_class_status_to_the_provisioner() -> None:
    config = BuilderConfig(gateway_ref=GW)
    built = build(*_base(gateway("gw", listener("http", 80, "HTTP"))), config=config)
    assert ("gatewayclasses", ObjectRef("", "contour")) not in built.statuses
    assert GW in built.dag.gateways  # the class still counts as ours


# --- Gateway -----------------------------------------------------------------------------------------


def test_gateway_of_another_class_is_ignored() -> None:
    built = build(*_base(gateway("gw", listener("http", 80, "HTTP"), gateway_class="other")))
    assert ("gateways", GW) not in built.statuses
    assert built.dag.gateways == {}


def test_valid_gateway_is_accepted_and_programmed_with_its_address() -> None:
    built = build(*_base(gateway("gw", listener("http", 80, "HTTP"), generation=4)))
    assert built.gateway_condition("Accepted") == {
        "type": "Accepted",
        "status": "True",
        "reason": "Accepted",
        "message": "Gateway is accepted",
        "observedGeneration": 4,
    }
    assert built.gateway_condition("Programmed")["reason"] == "Programmed"
    assert built.gateway_status()["addresses"] == [{"type": "IPAddress", "value": "127.0.1.1"}]


def test_gateway_without_an_address_is_not_programmed_and_binds_everywhere() -> None:
    built = build(*_base(gateway("gw", listener("http", 80, "HTTP"))), address=None)
    programmed = built.gateway_condition("Programmed")
    assert (programmed["status"], programmed["reason"]) == ("False", "AddressNotAssigned")
    assert "addresses" not in built.gateway_status()
    assert built.dag.gateways[GW].listeners["http-80"].address == "0.0.0.0"


@pytest.mark.parametrize(
    ("listeners", "expected"),
    [
        pytest.param(
            [listener("bad", 80, "INVALID")],
            ("False", "ListenersNotValid"),
            id="GatewayListenerUnsupportedProtocol-none-valid",
        ),
        pytest.param(
            [listener("bad", 80, "INVALID"), listener("http", 81, "HTTP")],
            ("True", "ListenersNotValid"),
            id="GatewayListenerUnsupportedProtocol-one-valid",
        ),
    ],
)
def test_gateway_accepted_reflects_listener_validity(listeners: list[Obj], expected: tuple[str, str]) -> None:
    accepted = build(*_base(gateway("gw", *listeners))).gateway_condition("Accepted")
    assert (accepted["status"], accepted["reason"]) == expected


def test_gateway_with_no_valid_listener_gets_no_envoy() -> None:
    built = build(*_base(gateway("gw", listener("bad", 80, "INVALID"))))
    assert GW not in built.dag.gateways


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        pytest.param(
            {"infrastructure": {"parametersRef": {"group": "", "kind": "ConfigMap", "name": "missing"}}},
            "InvalidParameters",
            id="GatewayInvalidParametersRef",
        ),
        pytest.param(
            {"addresses": [{"type": "Hostname", "value": "a.example.com"}]},
            "UnsupportedAddress",
            id="hostname-address",
        ),
    ],
)
def test_gateway_refusals(spec: dict[str, Any], reason: str) -> None:
    built = build(*_base(gateway("gw", listener("http", 80, "HTTP"), **spec)))
    accepted = built.gateway_condition("Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", reason)
    assert built.gateway_condition("Programmed")["status"] == "False"


def test_gateway_ref_restricts_to_one_gateway() -> None:
    config = BuilderConfig(gateway_ref=ObjectRef(NS, "b"))
    built = build(
        *_base(gateway("a", listener("http", 80, "HTTP")), gateway("b", listener("http", 80, "HTTP"))),
        config=config,
    )
    assert set(built.dag.gateways) == {ObjectRef(NS, "b")}
    assert ("gateways", ObjectRef(NS, "a")) not in built.statuses


# --- listeners ---------------------------------------------------------------------------------------


def test_listener_status_has_all_four_conditions_in_order() -> None:
    entry = build(*_base(gateway("gw", listener("http", 80, "HTTP"), generation=2))).listener_status("http")
    assert [(c["type"], c["status"], c["reason"], c["observedGeneration"]) for c in entry["conditions"]] == [
        ("Accepted", "True", "Accepted", 2),
        ("Programmed", "True", "Programmed", 2),
        ("ResolvedRefs", "True", "ResolvedRefs", 2),
        ("Conflicted", "False", "NoConflicts", 2),
    ]


@pytest.mark.parametrize(
    ("protocol", "tls_mode", "kinds"),
    [
        pytest.param("HTTP", None, ["HTTPRoute", "GRPCRoute"], id="HTTP"),
        pytest.param("HTTPS", "Terminate", ["HTTPRoute", "GRPCRoute"], id="HTTPS"),
        pytest.param("TLS", "Passthrough", ["TLSRoute"], id="TLSRouteListenerPassthroughSupportedKinds"),
        pytest.param("TLS", "Terminate", ["TLSRoute"], id="TLSRouteListenerTerminateSupportedKinds"),
        pytest.param("TCP", None, ["TCPRoute"], id="TCP"),
        pytest.param("UDP", None, ["UDPRoute"], id="UDP"),
        pytest.param("INVALID", None, [], id="unsupported-protocol"),
    ],
)
def test_default_supported_kinds(protocol: str, tls_mode: str | None, kinds: list[str]) -> None:
    fields: dict[str, Any] = {}
    if tls_mode is not None:
        fields["tls"] = {"mode": tls_mode, "certificateRefs": [cert_ref("tls")]}
    entry = build(*_base(gateway("gw", listener("l", 443, protocol, **fields)))).listener_status("l")
    assert entry["supportedKinds"] == [{"group": "gateway.networking.k8s.io", "kind": k} for k in kinds]


@pytest.mark.parametrize(
    ("kinds", "supported"),
    [
        pytest.param([{"kind": "InvalidRoute"}], [], id="GatewayInvalidRouteKind-only-invalid"),
        pytest.param(
            [{"kind": "InvalidRoute"}, {"kind": "HTTPRoute"}],
            ["HTTPRoute"],
            id="GatewayInvalidRouteKind-mixed",
        ),
        pytest.param([{"group": "example.com", "kind": "HTTPRoute"}], [], id="wrong-group"),
        pytest.param([{"kind": "TCPRoute"}], [], id="kind-of-another-protocol"),
    ],
)
def test_invalid_route_kinds(kinds: list[Obj], supported: list[str]) -> None:
    built = build(*_base(gateway("gw", listener("http", 80, "HTTP", allowedRoutes={"kinds": kinds}))))
    assert [k["kind"] for k in built.listener_status("http")["supportedKinds"]] == supported
    resolved = built.listener_condition("http", "ResolvedRefs")
    assert (resolved["status"], resolved["reason"]) == ("False", "InvalidRouteKinds")


def test_unsupported_protocol_listener_is_not_accepted() -> None:
    accepted = build(*_base(gateway("gw", listener("bad", 80, "INVALID")))).listener_condition(
        "bad", "Accepted"
    )
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedProtocol")


def test_https_listener_in_passthrough_mode_is_an_unsupported_value() -> None:
    spec = listener("https", 443, "HTTPS", tls={"mode": "Passthrough"})
    accepted = build(*_base(gateway("gw", spec))).listener_condition("https", "Accepted")
    assert (accepted["status"], accepted["reason"]) == ("False", "UnsupportedValue")


OTHER = "other-ns"


@pytest.mark.parametrize(
    ("certificate", "extra", "reason"),
    [
        pytest.param(
            cert_ref("missing"), [], "InvalidCertificateRef", id="GatewayInvalidTLSConfiguration-nonexistent"
        ),
        pytest.param(
            cert_ref("tls", group="wrong.group"),
            [],
            "InvalidCertificateRef",
            id="GatewayInvalidTLSConfiguration-group",
        ),
        pytest.param(
            cert_ref("tls", kind="ConfigMap"),
            [],
            "InvalidCertificateRef",
            id="GatewayInvalidTLSConfiguration-kind",
        ),
        pytest.param(
            cert_ref("malformed"),
            [raw_secret("malformed", NS, tls_crt=b"not a certificate", tls_key=b"not a key")],
            "InvalidCertificateRef",
            id="GatewayInvalidTLSConfiguration-malformed",
        ),
        pytest.param(
            cert_ref("tls", OTHER),
            [secret("tls", OTHER)],
            "RefNotPermitted",
            id="GatewaySecretMissingReferenceGrant",
        ),
        pytest.param(
            cert_ref("tls", OTHER),
            [
                secret("tls", OTHER),
                reference_grant(
                    "g",
                    OTHER,
                    [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": NS}],
                    [{"group": "", "kind": "Secret", "name": "not-this-one"}],
                ),
            ],
            "RefNotPermitted",
            id="GatewaySecretInvalidReferenceGrant",
        ),
    ],
)
def test_unresolved_certificate_refs(certificate: Obj, extra: list[Obj], reason: str) -> None:
    built = build(*_base(*extra, gateway("gw", https_listener("https", 443, certificate))))
    resolved = built.listener_condition("https", "ResolvedRefs")
    assert (resolved["status"], resolved["reason"]) == ("False", reason)
    programmed = built.listener_condition("https", "Programmed")
    assert (programmed["status"], programmed["reason"]) == ("False", "Invalid")
    assert "https-443" not in built.dag.gateways[GW].listeners


@pytest.mark.parametrize(
    "to",
    [
        pytest.param(
            {"group": "", "kind": "Secret", "name": "tls"}, id="GatewaySecretReferenceGrantSpecific"
        ),
        pytest.param({"group": "", "kind": "Secret"}, id="GatewaySecretReferenceGrantAllInNamespace"),
    ],
)
def test_reference_grant_allows_a_certificate_in_another_namespace(to: Obj) -> None:
    grant = reference_grant(
        "g", OTHER, [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": NS}], [to]
    )
    built = build(
        *_base(
            secret("tls", OTHER), grant, gateway("gw", https_listener("https", 443, cert_ref("tls", OTHER)))
        )
    )
    assert built.listener_condition("https", "ResolvedRefs")["status"] == "True"
    assert built.listener_condition("https", "Programmed")["status"] == "True"
    assert "https-443" in built.dag.gateways[GW].listeners


@pytest.mark.parametrize(
    ("listeners", "reason"),
    [
        pytest.param(
            [listener("a", 80, "HTTP"), https_listener("b", 80, cert_ref("tls"))],
            "ProtocolConflict",
            id="http-and-https",
        ),
        pytest.param(
            [listener("a", 80, "HTTP"), listener("b", 80, "TCP")], "ProtocolConflict", id="http-and-tcp"
        ),
        pytest.param(
            [
                https_listener("a", 443, cert_ref("tls"), hostname="a.example.com"),
                listener("b", 443, "TLS", hostname="a.example.com", tls={"mode": "Passthrough"}),
            ],
            "HostnameConflict",
            id="https-and-tls-same-hostname",
        ),
    ],
)
def test_indistinct_listeners_are_all_conflicted(listeners: list[Obj], reason: str) -> None:
    built = build(*_base(gateway("gw", *listeners)))
    for name in ("a", "b"):
        conflicted = built.listener_condition(name, "Conflicted")
        assert (conflicted["status"], conflicted["reason"]) == ("True", reason)
        accepted = built.listener_condition(name, "Accepted")
        assert (accepted["status"], accepted["reason"]) == ("False", reason)
    assert built.gateway_condition("Accepted")["reason"] == "ListenersNotValid"


@pytest.mark.parametrize(
    "listeners",
    [
        pytest.param(
            [listener("a", 80, "HTTP", hostname="a.example.com"), listener("b", 80, "HTTP")],
            id="http-distinct-hostnames",
        ),
        pytest.param(
            [
                https_listener("a", 443, cert_ref("tls"), hostname="a.example.com"),
                listener("b", 443, "TLS", hostname="b.example.com", tls={"mode": "Passthrough"}),
            ],
            id="https-and-tls-distinct-hostnames",
        ),
        pytest.param([listener("a", 53, "TCP"), listener("b", 53, "UDP")], id="tcp-and-udp"),
        pytest.param(
            [listener("a", 80, "HTTP"), listener("b", 8080, "HTTP")],
            id="GatewayWithAttachedRoutesWithPort8080",
        ),
    ],
)
def test_distinct_listeners_have_no_conflicts(listeners: list[Obj]) -> None:
    built = build(*_base(gateway("gw", *listeners)))
    for name in ("a", "b"):
        assert built.listener_condition(name, "Conflicted")["reason"] == "NoConflicts"
        assert built.listener_condition(name, "Programmed")["status"] == "True"


def test_gateway_listeners_become_envoy_listeners_per_port_and_protocol() -> None:
    built = build(
        *_base(
            gateway(
                "gw",
                listener("http", 80, "HTTP"),
                listener("http-8080", 8080, "HTTP"),
                https_listener("https", 443, cert_ref("tls")),
                listener("tls", 443, "TLS", hostname="p.example.com", tls={"mode": "Passthrough"}),
                listener("tcp", 9000, "TCP"),
                listener("udp", 9000, "UDP"),
            )
        )
    )
    gw = built.dag.gateways[GW]
    assert {n: (x.protocol, x.address, x.port) for n, x in gw.listeners.items()} == {
        "http-80": ("http", "127.0.1.1", 80),
        "http-8080": ("http", "127.0.1.1", 8080),
        "https-443": ("https", "127.0.1.1", 443),
    }
    assert list(gw.tcp_listeners) == ["tcp-9000"]
    assert list(gw.udp_listeners) == ["udp-9000"]
