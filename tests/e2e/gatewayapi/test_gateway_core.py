# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP conformance tests of Gateway API v1.6.1 for GatewayClass and Gateway status.

One test per upstream test, named after its ShortName: the manifests of tests/<name>.yaml adapted to
local ports, conditions read through the API at the object's latest generation.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.gatewayapi.base_manifests import (
    GATEWAY_API,
    INFRA,
    WEB,
    Manifest,
    backend,
    gateway,
    gateway_class,
    http_route,
    https_listener,
    listener,
    parent,
    reference_grant,
    tls_secret,
)
from tests.e2e.gatewayapi.suite import Suite, conditions_of
from tests.e2e.run_tls_support import Authority


def _listener_has(suite: Suite, gw: str, name: str, *, kind: str, status: str, reason: str) -> Manifest:
    entries = suite.listeners(
        gw,
        lambda es: any(e["name"] == name and conditions_of(e).get(kind) == (status, reason) for e in es),
        f"listener {gw}/{name} {kind}={status} {reason}",
    )
    found: Manifest = next(e for e in entries if e["name"] == name)
    return found


def test_GatewayClassObservedGenerationBump(suite: Suite) -> None:
    name = "gatewayclass-observed-generation-bump"
    suite.apply(gateway_class(name, description="old"))

    def at_latest(found: Manifest) -> bool:
        conditions = (found.get("status") or {}).get("conditions") or []
        generation = found["metadata"]["generation"]
        return bool(conditions) and all(c.get("observedGeneration") == generation for c in conditions)

    first = suite.poll(lambda: suite.get("gatewayclasses", name, ""), at_latest, "GatewayClass conditions")
    suite.patch("gatewayclasses", name, {"spec": {"description": "new"}}, ns="")
    second = suite.poll(
        lambda: suite.get("gatewayclasses", name, ""),
        lambda f: at_latest(f) and f["metadata"]["generation"] > first["metadata"]["generation"],
        "GatewayClass conditions at the new generation",
    )
    assert conditions_of(second["status"])["Accepted"][0] == "True"


def test_GatewayInvalidParametersRef(suite: Suite) -> None:
    name = "gateway-with-invalid-parameters-ref"
    ref = {"group": "", "kind": "ConfigMap", "name": "invalid-parameters-ref"}
    suite.apply(gateway(name, listener("http", suite.ports[80]), infrastructure={"parametersRef": ref}))
    suite.gateway_condition(name, "Accepted", "False", "InvalidParameters")


def test_GatewayInvalidRouteKind(suite: Suite) -> None:
    invalid = {"group": GATEWAY_API.split("/")[0], "kind": "InvalidRoute"}
    http = {"group": GATEWAY_API.split("/")[0], "kind": "HTTPRoute"}
    port = suite.ports[80]
    suite.apply(
        gateway(
            "gateway-only-invalid-route-kind", listener("http", port, allowedRoutes={"kinds": [invalid]})
        ),
        gateway(
            "gateway-supported-and-invalid-route-kind",
            listener("http", port, allowedRoutes={"kinds": [invalid, http]}),
        ),
    )
    only = _listener_has(
        suite,
        "gateway-only-invalid-route-kind",
        "http",
        kind="ResolvedRefs",
        status="False",
        reason="InvalidRouteKinds",
    )
    assert (only.get("supportedKinds") or []) == []
    both = _listener_has(
        suite,
        "gateway-supported-and-invalid-route-kind",
        "http",
        kind="ResolvedRefs",
        status="False",
        reason="InvalidRouteKinds",
    )
    assert [k["kind"] for k in both["supportedKinds"]] == ["HTTPRoute"]


def test_GatewayInvalidTLSConfiguration(suite: Suite) -> None:
    port = suite.ports[443]
    malformed = tls_secret(INFRA, "malformed-certificate", "not a certificate", "not a key")
    refs: dict[str, dict[str, Any]] = {
        "gateway-certificate-nonexistent-secret": {"name": "nonexistent-certificate"},
        "gateway-certificate-unsupported-group": {
            "group": "wrong.group.company.io",
            "kind": "Secret",
            "name": "tls-validity-checks-certificate",
        },
        "gateway-certificate-unsupported-kind": {
            "group": "",
            "kind": "WrongKind",
            "name": "tls-validity-checks-certificate",
        },
        "gateway-certificate-malformed-secret": {"name": "malformed-certificate"},
    }
    suite.apply(malformed)
    for name, ref in refs.items():
        tls = {"mode": "Terminate", "certificateRefs": [ref]}
        suite.apply(gateway(name, listener("https", port, "HTTPS", tls=tls)))
    for name in refs:
        _listener_has(
            suite, name, "https", kind="ResolvedRefs", status="False", reason="InvalidCertificateRef"
        )


def test_GatewayListenerUnsupportedProtocol(suite: Suite) -> None:
    suite.apply(
        gateway("gateway-unsupported-protocol", listener("unsupported", 1111, "INVALID")),
        gateway(
            "gateway-one-valid-listener",
            listener("unsupported", 1111, "INVALID"),
            listener("http", suite.ports[80]),
        ),
    )
    suite.gateway_condition("gateway-unsupported-protocol", "Accepted", "False", "ListenersNotValid")
    _listener_has(
        suite,
        "gateway-unsupported-protocol",
        "unsupported",
        kind="Accepted",
        status="False",
        reason="UnsupportedProtocol",
    )
    suite.gateway_condition("gateway-one-valid-listener", "Accepted", "True", "ListenersNotValid")
    _listener_has(
        suite,
        "gateway-one-valid-listener",
        "unsupported",
        kind="Accepted",
        status="False",
        reason="UnsupportedProtocol",
    )


def test_GatewayModifyListeners(suite: Suite) -> None:
    port = suite.ports[80]
    suite.apply(
        gateway(
            "gateway-add-listener",
            listener(
                "https",
                suite.ports[443],
                "HTTPS",
                tls={"certificateRefs": [{"name": "tls-validity-checks-certificate"}]},
            ),
        ),
        gateway("gateway-remove-listener", listener("http", port), listener("http-2", suite.ports[8080])),
    )
    suite.listeners("gateway-add-listener", lambda es: len(es) == 1, "one listener")
    suite.patch(
        "gateways",
        "gateway-add-listener",
        {
            "spec": {
                "listeners": [
                    https_listener("https", suite.ports[443]),
                    listener("http", port),
                ]
            }
        },
    )
    suite.listeners(
        "gateway-add-listener",
        lambda es: (
            {e["name"] for e in es} == {"https", "http"}
            and all(conditions_of(e).get("Accepted", ("",))[0] == "True" for e in es)
        ),
        "two accepted listeners after the patch",
    )
    suite.listeners("gateway-remove-listener", lambda es: len(es) == 2, "two listeners")
    suite.patch("gateways", "gateway-remove-listener", {"spec": {"listeners": [listener("http", port)]}})
    suite.listeners(
        "gateway-remove-listener",
        lambda es: [e["name"] for e in es] == ["http"],
        "one listener after the patch",
    )
    suite.gateway_condition("gateway-remove-listener", "Accepted", "True")
    suite.gateway_condition("gateway-remove-listener", "Programmed", "True")


def test_GatewayObservedGenerationBump(suite: Suite) -> None:
    name = "gateway-observed-generation-bump"
    port = suite.ports[80]
    suite.apply(gateway(name, listener("http", port)))
    suite.gateway_condition(name, "Accepted", "True")
    suite.patch(
        "gateways",
        name,
        {"spec": {"listeners": [listener("http", port), listener("http-2", suite.ports[8080])]}},
    )
    found = suite.gateway_condition(name, "Accepted", "True")
    assert found["metadata"]["generation"] == 2
    assert {c["observedGeneration"] for c in found["status"]["conditions"]} == {2}


def _cross_namespace_cert(suite: Suite, authority: Authority, name: str, *grants: Manifest) -> None:
    issued = authority.server("web-backend", "*")
    tls = {"certificateRefs": [{"group": "", "kind": "Secret", "name": "certificate", "namespace": WEB}]}
    suite.apply(
        tls_secret(WEB, "certificate", issued.cert_pem, issued.key_pem),
        *grants,
        gateway(name, listener("https", suite.ports[443], "HTTPS", tls=tls)),
    )


def test_GatewaySecretInvalidReferenceGrant(suite: Suite, authority: Authority) -> None:
    name = "gateway-secret-invalid-reference-grant"
    grant = reference_grant(
        "reference-grant",
        WEB,
        from_ns=INFRA,
        from_kind="Gateway",
        to_kind="Secret",
        to_name="not-the-certificate-you-are-looking-for",
    )
    _cross_namespace_cert(suite, authority, name, grant)
    _listener_has(suite, name, "https", kind="ResolvedRefs", status="False", reason="RefNotPermitted")


def test_GatewaySecretMissingReferenceGrant(suite: Suite, authority: Authority) -> None:
    name = "gateway-secret-missing-reference-grant"
    _cross_namespace_cert(suite, authority, name)
    entry = _listener_has(suite, name, "https", kind="ResolvedRefs", status="False", reason="RefNotPermitted")
    assert entry["attachedRoutes"] == 0


def test_GatewaySecretReferenceGrantAllInNamespace(suite: Suite, authority: Authority) -> None:
    name = "gateway-secret-reference-grant-all-in-namespace"
    grant = reference_grant("reference-grant", WEB, from_ns=INFRA, from_kind="Gateway", to_kind="Secret")
    _cross_namespace_cert(suite, authority, name, grant)
    entry = _listener_has(suite, name, "https", kind="Programmed", status="True", reason="Programmed")
    assert conditions_of(entry)["ResolvedRefs"] == ("True", "ResolvedRefs")
    assert conditions_of(entry)["Accepted"] == ("True", "Accepted")


def test_GatewaySecretReferenceGrantSpecific(suite: Suite, authority: Authority) -> None:
    name = "gateway-secret-reference-grant-specific"
    grant = reference_grant(
        "reference-grant", WEB, from_ns=INFRA, from_kind="Gateway", to_kind="Secret", to_name="certificate"
    )
    _cross_namespace_cert(suite, authority, name, grant)
    entry = _listener_has(suite, name, "https", kind="Programmed", status="True", reason="Programmed")
    assert conditions_of(entry)["ResolvedRefs"] == ("True", "ResolvedRefs")


def test_GatewayWithAttachedRoutes(suite: Suite) -> None:
    port = suite.ports[80]
    rules = [{"backendRefs": [backend("infra-backend-v1")]}]
    missing_cert = {"certificateRefs": [{"name": "does-not-exist"}]}
    suite.apply(
        gateway("gateway-with-one-attached-route", listener("http", port, hostname="foo.example.com")),
        gateway("gateway-with-two-attached-routes", listener("http", port)),
        gateway(
            "unresolved-gateway-with-one-attached-unresolved-route",
            listener("https", suite.ports[443], "HTTPS", tls=missing_cert),
        ),
        http_route("http-route-1", parentRefs=[parent("gateway-with-one-attached-route")], rules=rules),
        http_route("http-route-2", parentRefs=[parent("gateway-with-two-attached-routes")], rules=rules),
        http_route("http-route-3", parentRefs=[parent("gateway-with-two-attached-routes")], rules=rules),
        http_route(
            "http-route-4",
            parentRefs=[parent("unresolved-gateway-with-one-attached-unresolved-route")],
            rules=rules,
        ),
        http_route(
            "http-route-not-matching-hostname",
            parentRefs=[parent("gateway-with-one-attached-route")],
            hostnames=["bar.example.com"],
            rules=rules,
        ),
    )
    for name, count in (("gateway-with-one-attached-route", 1), ("gateway-with-two-attached-routes", 2)):

        def attached(entries: list[Manifest], wanted: int = count) -> bool:
            return bool(entries[0]["attachedRoutes"] == wanted)

        entry = suite.listeners(name, attached, f"{name}: {count} routes")[0]
        assert "HTTPRoute" in [k["kind"] for k in entry["supportedKinds"]]  # expected kinds ⊆ actual
        assert conditions_of(entry)["Accepted"][0] == "True"
        assert conditions_of(entry)["ResolvedRefs"][0] == "True"
    suite.route_condition(
        "http-route-not-matching-hostname",
        "gateway-with-one-attached-route",
        "Accepted",
        "False",
        "NoMatchingListenerHostname",
    )
    unresolved = _listener_has(
        suite,
        "unresolved-gateway-with-one-attached-unresolved-route",
        "https",
        kind="ResolvedRefs",
        status="False",
        reason="InvalidCertificateRef",
    )
    suite.listeners(
        "unresolved-gateway-with-one-attached-unresolved-route",
        lambda es: es[0]["attachedRoutes"] == 1,
        "the unresolved listener counts its route",
    )
    del unresolved


def test_GatewayWithAttachedRoutesWithPort8080(suite: Suite) -> None:
    name = "gateway-with-two-listeners-with-port-8080"
    suite.apply(
        gateway(name, listener("http", suite.ports[80]), listener("http-8080", suite.ports[8080])),
        http_route(
            "http-route-4",
            parentRefs=[parent(name, sectionName="http-8080")],
            rules=[{"backendRefs": [backend("infra-backend-v1")]}],
        ),
    )
    suite.listeners(
        name,
        lambda es: {e["name"]: e["attachedRoutes"] for e in es} == {"http": 0, "http-8080": 1},
        "attachedRoutes http=0, http-8080=1",
    )
