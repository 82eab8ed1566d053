"""Gateway frontend TLS through `contour run`: client certificates checked by a Gateway's own Envoy.

One `contour run` serves the module with two Gateways whose HTTPS listener takes its client CA from
a ConfigMap (`spec.tls.frontend.default.validation`): one in mode AllowValidOnly, one in mode
AllowInsecureFallback. Requests go over real TLS to each Gateway's loopback address (from its
status.addresses) with or without a client certificate issued by the test CA.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import namespace, service
from tests.e2e.run_tls_support import Authority, Issued, client_context, tls_secret
from tests.support.contour_run import ContourRun, free_port, running, wait_until

NS = "gw-frontend"
CLASS = "contour-frontend"
GATEWAY_API = "gateway.networking.k8s.io/v1"
CONTROLLER = "projectcontour.io/gateway-controller"
HOST = "mtls.example.com"


@dataclass(frozen=True)
class Certificates:
    server: Authority  # issues the serving certificate, and the clients trust it
    clients: Authority  # the CA the Gateway validates client certificates against
    stranger: Authority  # a CA the Gateway knows nothing of
    client: Issued
    strange_client: Issued


@dataclass(frozen=True)
class Served:
    """Where a Gateway's HTTPS listener answers."""

    address: str
    port: int


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    directory = tmp_path_factory.mktemp("frontend-ca")
    clients = Authority(directory / "clients", "client-ca")
    stranger = Authority(directory / "stranger", "stranger-ca")
    return Certificates(
        server=Authority(directory / "server", "server-ca"),
        clients=clients,
        stranger=stranger,
        client=clients.client("client", "client.example.com"),
        strange_client=stranger.client("strange", "strange.example.com"),
    )


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, backends: Backends, certificates: Certificates
) -> Iterator[ContourRun]:
    issued = certificates.server.server("serving", HOST)
    with running(tmp_path_factory.mktemp("gateway-frontend") / "state") as contour:
        contour.apply(
            [
                namespace(NS),
                *service(NS, "echo", backends.a),
                tls_secret(NS, "serving", issued.cert_pem, issued.key_pem),
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "client-ca", "namespace": NS},
                    "data": {"ca.crt": certificates.clients.pem},
                },
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "GatewayClass",
                    "metadata": {"name": CLASS},
                    "spec": {"controllerName": CONTROLLER},
                },
            ]
        )
        yield contour


def _status(run: ContourRun, name: str) -> dict[str, Any]:
    found: dict[str, Any] = run.get("gateways", name, NS).get("status") or {}
    return found


def _conditions(entry: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in entry.get("conditions") or []}


def _serve(run: ContourRun, name: str, mode: str) -> Served:
    """Apply a Gateway validating client certificates in `mode` and a route; wait for its address."""
    port = free_port()
    gateway = {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "gatewayClassName": CLASS,
            "listeners": [
                {
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": port,
                    "tls": {"mode": "Terminate", "certificateRefs": [{"name": "serving"}]},
                }
            ],
            "tls": {
                "frontend": {
                    "default": {
                        "validation": {
                            "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "client-ca"}],
                            "mode": mode,
                        }
                    }
                }
            },
        },
    }
    route = {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": [{"name": name}],
            "hostnames": [HOST],
            "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}],
        },
    }
    run.apply([gateway, route])
    status = wait_until(
        lambda: _status(run, name),
        lambda s: bool(s.get("addresses")) and _conditions(s).get("Programmed") == ("True", "Programmed"),
        what=f"Gateway {name} programmed with an address",
        timeout=30.0,
    )
    return Served(status["addresses"][0]["value"], port)


@pytest.fixture(scope="module")
def valid_only(run: ContourRun) -> Served:
    return _serve(run, "valid-only", "AllowValidOnly")


@pytest.fixture(scope="module")
def insecure_fallback(run: ContourRun) -> Served:
    return _serve(run, "insecure-fallback", "AllowInsecureFallback")


def _exchange(served: Served, context: ssl.SSLContext) -> int | str:
    """The HTTP status of GET / over TLS, or why no response came (handshake or request refused).

    With TLS 1.3 the server checks the client certificate after the client's handshake is complete,
    so a refusal may only show on the first read (RFC 8446 section 4.4.2.4).
    """
    try:
        raw = socket.create_connection((served.address, served.port), timeout=5)
    except OSError as exc:
        return f"connect: {exc!r}"
    with raw:
        try:
            tls = context.wrap_socket(raw, server_hostname=HOST)
        except (ssl.SSLError, OSError) as exc:
            return f"handshake: {exc!r}"
        with tls:
            try:
                tls.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                response = http.client.HTTPResponse(tls)
                response.begin()
                response.read()
            except (ssl.SSLError, OSError, http.client.HTTPException) as exc:
                return f"request: {exc!r}"
            return response.status


def _served_ok(served: Served, context: ssl.SSLContext) -> int | str:
    """Wait until the listener answers 200 (its Envoy may still be loading its configuration)."""
    return wait_until(
        lambda: _exchange(served, context), lambda r: r == 200, what="HTTPS 200 from the echo", timeout=30.0
    )


def test_valid_client_certificate_gets_200(valid_only: Served, certificates: Certificates) -> None:
    context = client_context(certificates.server, client=certificates.client)
    assert _served_ok(valid_only, context) == 200


def test_no_client_certificate_is_refused_when_only_valid_ones_are_allowed(
    valid_only: Served, certificates: Certificates
) -> None:
    _served_ok(valid_only, client_context(certificates.server, client=certificates.client))
    outcome = _exchange(valid_only, client_context(certificates.server))
    assert isinstance(outcome, str), f"expected a refused exchange, got HTTP {outcome}"


def test_no_client_certificate_refuses_the_tls12_handshake(
    valid_only: Served, certificates: Certificates
) -> None:
    _served_ok(valid_only, client_context(certificates.server, client=certificates.client))
    outcome = _exchange(valid_only, client_context(certificates.server, only_version="1.2"))
    assert isinstance(outcome, str) and outcome.startswith("handshake:"), outcome


def test_certificate_from_an_unknown_ca_is_refused(valid_only: Served, certificates: Certificates) -> None:
    _served_ok(valid_only, client_context(certificates.server, client=certificates.client))
    outcome = _exchange(valid_only, client_context(certificates.server, client=certificates.strange_client))
    assert isinstance(outcome, str), f"expected a refused exchange, got HTTP {outcome}"


def test_insecure_fallback_serves_a_client_without_certificate(
    insecure_fallback: Served, certificates: Certificates
) -> None:
    assert _served_ok(insecure_fallback, client_context(certificates.server)) == 200


def test_insecure_fallback_serves_a_certificate_from_an_unknown_ca(
    insecure_fallback: Served, certificates: Certificates
) -> None:
    context = client_context(certificates.server, client=certificates.strange_client)
    assert _served_ok(insecure_fallback, context) == 200


def test_insecure_fallback_is_reported_on_the_gateway(run: ContourRun, insecure_fallback: Served) -> None:
    status = _status(run, "insecure-fallback")
    assert _conditions(status).get("InsecureFrontendValidationMode") == ("True", "ConfigurationChanged")


def test_valid_only_gateway_has_no_insecure_condition(run: ContourRun, valid_only: Served) -> None:
    assert "InsecureFrontendValidationMode" not in _conditions(_status(run, "valid-only"))
