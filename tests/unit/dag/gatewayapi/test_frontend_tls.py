"""Gateway frontend TLS: client certificate validation of HTTPS listeners from `spec.tls.frontend`
(apis/v1/gateway_types.go at v1.6.1), its listener and Gateway conditions, and the Envoy TLS context
it becomes. One behaviour per test; ids name the conformance test a case stands for where there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2

from contour.dag.gatewayapi_frontend_tls import FrontendTLS, apply_frontend_tls
from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.model import DownstreamValidation, Listener, ObjectRef, SecureVirtualHost, VirtualHost
from contour.envoy.gatewayapi_translate import translate_gateway
from contour.envoy.translate import LISTENER, TranslatorConfig
from tests.unit.dag.fixtures import cert_pem
from tests.unit.dag.fixtures import secret as raw_secret
from tests.unit.dag.gatewayapi.gateway_fixtures import (
    NS,
    Built,
    Obj,
    build,
    cert_ref,
    gateway,
    gatewayclass,
    httproute,
    https_listener,
    listener,
    parent,
    reference_grant,
    secret,
    service,
)
from tests.unit.envoy.envoy_validate import assert_envoy_accepts
from tests.unit.envoy.test_envoy_accepts import static_bootstrap

GW = ObjectRef(NS, "gw")
CA = cert_pem("client-ca.example.com")
OTHER_CA = cert_pem("other-ca.example.com")


def configmap(name: str = "ca", data: bytes | None = CA, namespace: str = NS, key: str = "ca.crt") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {} if data is None else {key: data.decode()},
    }


def ca_ref(name: str = "ca", kind: str = "ConfigMap", group: str = "", namespace: str | None = None) -> Obj:
    ref: Obj = {"group": group, "kind": kind, "name": name}
    if namespace is not None:
        ref["namespace"] = namespace
    return ref


def validation(*refs: Obj, mode: str | None = None) -> Obj:
    found: Obj = {"caCertificateRefs": list(refs) or [ca_ref()]}
    if mode is not None:
        found["mode"] = mode
    return found


def frontend(default: Obj | None = None, per_port: list[Obj] | None = None) -> Obj:
    config: Obj = {"default": {} if default is None else {"validation": default}}
    if per_port is not None:
        config["perPort"] = per_port
    return {"frontend": config}


def per_port(port: int, checks: Obj | None) -> Obj:
    return {"port": port, "tls": {} if checks is None else {"validation": checks}}


def objects(tls: Obj | None, *extra: Obj, listeners: tuple[Obj, ...] | None = None) -> list[Obj]:
    spec: dict[str, Any] = {} if tls is None else {"tls": tls}
    return [
        gatewayclass(),
        secret("tls"),
        service("svc"),
        configmap(),
        *extra,
        gateway("gw", *(listeners or (https_listener("https", 8443, cert_ref("tls")),)), **spec),
        httproute("r", parents=[parent("gw")]),
    ]


def host_validations(built: Built) -> dict[str, DownstreamValidation | None]:
    """Each HTTPS listener's secure host validation, by listener name."""
    dag = built.dag.gateways[GW]
    return {
        name: next(iter(listener.secure_virtual_hosts.values())).downstream_validation
        for name, listener in sorted(dag.listeners.items())
        if listener.protocol == "https"
    }


def listener_conditions(built: Built, name: str = "https") -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in built.listener_status(name)["conditions"]}


# --- validation reaches the secure hosts -----------------------------------------------------------------


def test_default_validation_requires_a_client_certificate_from_the_ca() -> None:
    found = host_validations(build(*objects(frontend(validation()))))["https-8443"]
    assert found is not None
    assert found.ca is not None and found.ca.ca == CA
    assert (found.optional_client_certificate, found.skip_client_cert_validation) == (False, False)


def test_explicit_allow_valid_only_is_the_same_as_the_default() -> None:
    explicit = host_validations(build(*objects(frontend(validation(mode="AllowValidOnly")))))
    assert explicit == host_validations(build(*objects(frontend(validation()))))


def test_secret_holding_ca_crt_is_a_valid_ca_reference() -> None:
    ca_secret = raw_secret("ca-secret", NS, "Opaque", ca_crt=OTHER_CA)
    built = build(*objects(frontend(validation(ca_ref("ca-secret", kind="Secret"))), ca_secret))
    found = host_validations(built)["https-8443"]
    assert found is not None and found.ca is not None and found.ca.ca == OTHER_CA


def test_several_references_make_one_bundle() -> None:
    tls = frontend(validation(ca_ref("ca"), ca_ref("other")))
    found = host_validations(build(*objects(tls, configmap("other", OTHER_CA))))["https-8443"]
    assert found is not None and found.ca is not None and found.ca.ca == CA + OTHER_CA


def test_insecure_fallback_makes_the_certificate_optional_and_unverified() -> None:
    found = host_validations(build(*objects(frontend(validation(mode="AllowInsecureFallback")))))
    validation_ = found["https-8443"]
    assert validation_ is not None
    assert (validation_.optional_client_certificate, validation_.skip_client_cert_validation) == (True, True)


def test_without_frontend_config_hosts_have_no_client_validation() -> None:
    assert host_validations(build(*objects(None))) == {"https-8443": None}


def test_default_without_validation_leaves_hosts_without_client_validation() -> None:
    assert host_validations(build(*objects(frontend(None)))) == {"https-8443": None}


TWO_PORTS = (
    https_listener("https", 8443, cert_ref("tls")),
    https_listener("https-2", 9443, cert_ref("tls")),
)


def test_per_port_validation_overrides_the_default_on_its_port_only() -> None:
    tls = frontend(validation(), [per_port(9443, validation(ca_ref("other")))])
    found = host_validations(build(*objects(tls, configmap("other", OTHER_CA), listeners=TWO_PORTS)))
    cas = {name: v.ca.ca if v is not None and v.ca is not None else None for name, v in found.items()}
    assert cas == {"https-8443": CA, "https-9443": OTHER_CA}


def test_per_port_entry_without_validation_turns_validation_off_on_its_port() -> None:
    tls = frontend(validation(), [per_port(9443, None)])
    found = host_validations(build(*objects(tls, listeners=TWO_PORTS)))
    assert (found["https-8443"] is not None, found["https-9443"]) == (True, None)


def test_per_port_validation_applies_without_a_default() -> None:
    tls = frontend(None, [per_port(9443, validation())])
    found = host_validations(build(*objects(tls, listeners=TWO_PORTS)))
    assert (found["https-8443"], found["https-9443"] is not None) == (None, True)


def test_plain_http_listener_is_untouched_by_frontend_validation() -> None:
    listeners = (listener("http", 8080, "HTTP"), https_listener("https", 8443, cert_ref("tls")))
    built = build(*objects(frontend(validation()), listeners=listeners))
    assert listener_conditions(built, "http")["Programmed"] == ("True", "Programmed")
    assert host_validations(built)["https-8443"] is not None


# --- statuses ------------------------------------------------------------------------------------------


def test_valid_validation_leaves_the_listener_accepted_and_resolved() -> None:
    conditions = listener_conditions(build(*objects(frontend(validation()))))
    assert (conditions["Accepted"], conditions["ResolvedRefs"], conditions["Programmed"]) == (
        ("True", "Accepted"),
        ("True", "ResolvedRefs"),
        ("True", "Programmed"),
    )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("AllowInsecureFallback", ("True", "ConfigurationChanged")),
        ("AllowValidOnly", None),
    ],
    ids=["insecure-fallback-sets-it", "valid-only-leaves-it-out"],
)
def test_insecure_frontend_validation_mode_condition(mode: str, expected: tuple[str, str] | None) -> None:
    built = build(*objects(frontend(validation(mode=mode))))
    found = {c["type"]: (c["status"], c["reason"]) for c in built.gateway_status()["conditions"]}
    assert found.get("InsecureFrontendValidationMode") == expected


def test_insecure_fallback_on_one_port_sets_the_gateway_condition() -> None:
    tls = frontend(validation(), [per_port(9443, validation(mode="AllowInsecureFallback"))])
    built = build(*objects(tls, listeners=TWO_PORTS))
    assert built.gateway_condition("InsecureFrontendValidationMode")["status"] == "True"


BAD_PEM = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("ref", "extra", "reason"),
    [
        (ca_ref("missing"), [], "InvalidCACertificateRef"),
        (ca_ref("empty"), [configmap("empty", None)], "InvalidCACertificateRef"),
        (ca_ref("garbage"), [configmap("garbage", BAD_PEM)], "InvalidCACertificateRef"),
        (ca_ref("ca", kind="Service"), [], "InvalidCACertificateKind"),
        (ca_ref("ca", group="example.com"), [], "InvalidCACertificateKind"),
        (ca_ref("ca", namespace="other"), [configmap("ca", namespace="other")], "RefNotPermitted"),
    ],
    ids=[
        "missing-configmap",
        "configmap-without-ca-crt",
        "ca-crt-not-pem",
        "unsupported-kind",
        "unsupported-group",
        "cross-namespace-without-grant",
    ],
)
def test_only_invalid_reference_rejects_the_listener(ref: Obj, extra: list[Obj], reason: str) -> None:
    """GatewayInvalidFrontendClientCertificateValidation / GatewayFrontendInvalidDefault...Validation."""
    conditions = listener_conditions(build(*objects(frontend(validation(ref)), *extra)))
    assert (conditions["ResolvedRefs"], conditions["Accepted"], conditions["Programmed"]) == (
        ("False", reason),
        ("False", "NoValidCACertificate"),
        ("False", "Invalid"),
    )


def test_rejected_listener_is_not_served() -> None:
    built = build(*objects(frontend(validation(ca_ref("missing")))))
    assert GW not in built.dag.gateways or "https-8443" not in built.dag.gateways[GW].listeners


def test_invalid_default_keeps_the_http_listener_serving() -> None:
    """GatewayFrontendInvalidDefaultClientCertificateValidation: HTTP still works."""
    listeners = (listener("http", 8080, "HTTP"), https_listener("https", 8443, cert_ref("tls")))
    built = build(*objects(frontend(validation(ca_ref("missing"))), listeners=listeners))
    assert built.gateway_condition("Accepted")["reason"] == "ListenersNotValid"
    assert sorted(built.dag.gateways[GW].listeners) == ["http-8080"]


def test_one_valid_reference_of_two_keeps_accepted_but_not_resolved() -> None:
    conditions = listener_conditions(build(*objects(frontend(validation(ca_ref("ca"), ca_ref("missing"))))))
    assert (conditions["Accepted"], conditions["ResolvedRefs"]) == (
        ("True", "Accepted"),
        ("False", "InvalidCACertificateRef"),
    )


def test_cross_namespace_reference_with_a_grant_is_used() -> None:
    grant = reference_grant(
        "allow",
        "other",
        from_=[{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": NS}],
        to=[{"group": "", "kind": "ConfigMap"}],
    )
    tls = frontend(validation(ca_ref("ca", namespace="other")))
    built = build(*objects(tls, configmap("ca", OTHER_CA, namespace="other"), grant))
    found = host_validations(built)["https-8443"]
    assert found is not None and found.ca is not None and found.ca.ca == OTHER_CA


def test_invalid_per_port_reference_marks_only_that_ports_listeners() -> None:
    tls = frontend(validation(), [per_port(9443, validation(ca_ref("missing")))])
    built = build(*objects(tls, listeners=TWO_PORTS))
    assert listener_conditions(built, "https")["ResolvedRefs"] == ("True", "ResolvedRefs")
    assert listener_conditions(built, "https-2")["Accepted"] == ("False", "NoValidCACertificate")


def test_certificate_problem_is_reported_before_the_ca_problem() -> None:
    listeners = (https_listener("https", 8443, cert_ref("no-such-secret")),)
    built = build(*objects(frontend(validation(ca_ref("missing"))), listeners=listeners))
    assert listener_conditions(built)["ResolvedRefs"] == ("False", "InvalidCertificateRef")


# --- Envoy ------------------------------------------------------------------------------------------------


def _tls_context(resources: dict[str, list[Any]]) -> tls_pb2.DownstreamTlsContext:
    (https,) = [item for item in resources[LISTENER] if item.name == "https-8443"]
    (chain,) = [c for c in https.filter_chains if c.HasField("transport_socket")]
    context = tls_pb2.DownstreamTlsContext()
    chain.transport_socket.typed_config.Unpack(context)
    return context


@pytest.mark.parametrize(
    ("mode", "required", "trust"),
    [
        ("AllowValidOnly", True, common_pb2.CertificateValidationContext.VERIFY_TRUST_CHAIN),
        ("AllowInsecureFallback", False, common_pb2.CertificateValidationContext.ACCEPT_UNTRUSTED),
    ],
    ids=["valid-only", "insecure-fallback"],
)
def test_tls_context_carries_the_client_validation(mode: str, required: bool, trust: int) -> None:
    built = build(*objects(frontend(validation(mode=mode))))
    context = _tls_context(translate_gateway(built.dag.gateways[GW], TranslatorConfig()))
    checks = context.common_tls_context.validation_context
    assert (context.require_client_certificate.value, checks.trust_chain_verification) == (required, trust)
    assert checks.trusted_ca == base_pb2.DataSource(inline_bytes=CA)


@pytest.mark.parametrize("mode", ["AllowValidOnly", "AllowInsecureFallback"])
def test_envoy_accepts_the_validated_listener(mode: str, tmp_path: Path) -> None:
    built = build(*objects(frontend(validation(mode=mode))))
    resources = dict(translate_gateway(built.dag.gateways[GW], TranslatorConfig()))
    assert_envoy_accepts(static_bootstrap(resources), tmp_path)


# --- hosts from elsewhere on a validated port (e.g. ListenerSet listeners) ---------------------------


def _https_dag(*hosts: SecureVirtualHost) -> GatewayDAG:
    listener = Listener(name="https-8443", protocol="https", address="127.0.1.1", port=8443)
    listener.secure_virtual_hosts = {h.name: h for h in hosts}
    return GatewayDAG(ref=GW, address="127.0.1.1", listeners={listener.name: listener})


def test_https_hosts_on_a_port_without_usable_ca_are_dropped() -> None:
    dag = _https_dag(SecureVirtualHost(virtual_host=VirtualHost(name="a.example.com")))
    apply_frontend_tls(dag, FrontendTLS(by_port={8443: None}))
    assert dag.listeners["https-8443"].secure_virtual_hosts == {}


def test_tls_listener_hosts_on_a_validated_port_are_left_alone() -> None:
    passthrough = SecureVirtualHost(virtual_host=VirtualHost(name="tls.example.com"), tcp_proxy=[])
    dag = _https_dag(passthrough)
    apply_frontend_tls(dag, FrontendTLS(by_port={8443: DownstreamValidation()}))
    assert dag.listeners["https-8443"].secure_virtual_hosts["tls.example.com"].downstream_validation is None
