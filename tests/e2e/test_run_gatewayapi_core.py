"""Gateway API core through `contour run`: statuses written back, and HTTPS on a Gateway's own Envoy.

One `contour run` serves the module: a GatewayClass of ours, Gateways applied with kubectl, the
session's echo backends as Services. Statuses are read back through the API (kubectl), traffic goes
to the Gateway's own loopback address found in its status.addresses.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from contour.dag.gatewayapi_processor import SUPPORTED_FEATURES
from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import namespace, service
from tests.e2e.run_tls_support import Authority, client_context, tls_secret
from tests.support.contour_run import ContourRun, free_port, running, wait_until

NS = "gw-core"
CLASS = "contour-core"
GATEWAY_API = "gateway.networking.k8s.io/v1"
CONTROLLER = "projectcontour.io/gateway-controller"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("gateway-ca"), "gateway-ca")


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, backends: Backends, authority: Authority
) -> Iterator[ContourRun]:
    issued = authority.server("serving", "secure.example.com")
    with running(tmp_path_factory.mktemp("gateway-core") / "state") as contour:
        contour.apply(
            [
                namespace(NS),
                *service(NS, "echo", backends.a),
                tls_secret(NS, "serving", issued.cert_pem, issued.key_pem),
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "GatewayClass",
                    "metadata": {"name": CLASS},
                    "spec": {"controllerName": CONTROLLER},
                },
            ]
        )
        yield contour


def _gateway(name: str, *listeners: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"gatewayClassName": CLASS, "listeners": list(listeners)},
    }


def _route(name: str, gateway: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": [{"name": gateway}],
            "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}],
            **spec,
        },
    }


def _conditions(entry: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in entry.get("conditions") or []}


def _status(run: ContourRun, resource: str, name: str, namespace: str = NS) -> dict[str, Any]:
    found: dict[str, Any] = run.get(resource, name, namespace).get("status") or {}
    return found


def _address(run: ContourRun, gateway: str) -> str:
    addresses = wait_until(
        lambda: _status(run, "gateways", gateway).get("addresses") or [], what=f"an address for {gateway}"
    )
    value: str = addresses[0]["value"]
    return value


def test_gatewayclass_is_accepted_with_its_features(run: ContourRun) -> None:
    status = wait_until(
        lambda: _status(run, "gatewayclasses", CLASS, ""),
        lambda s: _conditions(s).get("Accepted") == ("True", "Accepted"),
        what="GatewayClass Accepted",
    )
    assert _conditions(status)["SupportedVersion"] == ("True", "SupportedVersion")
    assert [f["name"] for f in status["supportedFeatures"]] == sorted(SUPPORTED_FEATURES)


def test_gateway_and_route_statuses_are_written(run: ContourRun) -> None:
    port = free_port()
    run.apply(
        [_gateway("status", {"name": "http", "protocol": "HTTP", "port": port}), _route("status", "status")]
    )
    status = wait_until(
        lambda: _status(run, "gateways", "status"),
        lambda s: (
            _conditions(s).get("Programmed") == ("True", "Programmed")
            and (s.get("listeners") or [{}])[0].get("attachedRoutes") == 1
        ),
        what="Gateway programmed with one attached route",
        timeout=30.0,
    )
    assert _conditions(status)["Accepted"] == ("True", "Accepted")
    (entry,) = status["listeners"]
    assert _conditions(entry) == {
        "Accepted": ("True", "Accepted"),
        "Programmed": ("True", "Programmed"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
        "Conflicted": ("False", "NoConflicts"),
    }
    assert all(c.get("lastTransitionTime") for c in entry["conditions"])
    route = wait_until(
        lambda: _status(run, "httproutes", "status").get("parents") or [], what="route parents"
    )
    assert route[0]["controllerName"] == CONTROLLER
    assert _conditions(route[0]) == {
        "Accepted": ("True", "Accepted"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
    }


def test_invalid_listener_is_reported_and_the_valid_one_serves(run: ContourRun) -> None:
    port = free_port()
    run.apply(
        [
            _gateway(
                "mixed",
                {"name": "http", "protocol": "HTTP", "port": port},
                {"name": "bad", "protocol": "SCTP", "port": free_port()},
            ),
            _route("mixed", "mixed"),
        ]
    )
    status = wait_until(
        lambda: _status(run, "gateways", "mixed"),
        lambda s: len(s.get("listeners") or []) == 2,
        what="listener statuses",
        timeout=30.0,
    )
    assert _conditions(status)["Accepted"] == ("True", "ListenersNotValid")
    bad = next(e for e in status["listeners"] if e["name"] == "bad")
    assert _conditions(bad)["Accepted"] == ("False", "UnsupportedProtocol")
    address = _address(run, "mixed")

    def get() -> int:
        connection = http.client.HTTPConnection(address, port, timeout=5)
        try:
            connection.request("GET", "/")
            return connection.getresponse().status
        finally:
            connection.close()

    assert (
        wait_until(get, lambda code: code == 200, what="HTTP 200 from the valid listener", timeout=30.0)
        == 200
    )


def _https_echo(address: str, port: int, sni: str, context: ssl.SSLContext) -> dict[str, Any]:
    with (
        socket.create_connection((address, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
        response = http.client.HTTPResponse(tls)
        response.begin()
        body = response.read()
        if response.status != 200:
            return {"status": response.status}
        found: dict[str, Any] = json.loads(body)
        return found


def test_https_listener_terminates_tls_with_its_certificate(run: ContourRun, authority: Authority) -> None:
    port = free_port()
    listener = {
        "name": "https",
        "protocol": "HTTPS",
        "port": port,
        "tls": {"mode": "Terminate", "certificateRefs": [{"name": "serving"}]},
    }
    run.apply([_gateway("secure", listener), _route("secure", "secure", hostnames=["secure.example.com"])])
    address = _address(run, "secure")
    context = client_context(authority)
    echo = wait_until(
        lambda: _https_echo(address, port, "secure.example.com", context),
        lambda e: e.get("pod") == "echo-a",
        what="HTTPS answer from the echo",
        timeout=30.0,
    )
    assert echo["host"] == "secure.example.com"
