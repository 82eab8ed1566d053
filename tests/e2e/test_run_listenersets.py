"""ListenerSets through `contour run`: a ListenerSet adds a listener on another port to a Gateway.

One `contour run` serves the module: a Gateway that admits ListenerSets from its namespace, a
ListenerSet adding an HTTP listener on a second port, and an HTTPRoute attached to the ListenerSet.
The route answers on that port of the Gateway's own address; the statuses are read back with kubectl.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import namespace, service
from tests.support.contour_run import ContourRun, free_port, running, wait_until

NS = "gw-lset"
CLASS = "contour-lset"
GATEWAY_API = "gateway.networking.k8s.io/v1"
CONTROLLER = "projectcontour.io/gateway-controller"


@pytest.fixture(scope="module")
def ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, backends: Backends, ports: tuple[int, int]
) -> Iterator[ContourRun]:
    gateway_port, set_port = ports
    with running(tmp_path_factory.mktemp("listenersets") / "state") as contour:
        contour.apply(
            [
                namespace(NS),
                *service(NS, "echo", backends.a),
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "GatewayClass",
                    "metadata": {"name": CLASS},
                    "spec": {"controllerName": CONTROLLER},
                },
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "Gateway",
                    "metadata": {"name": "gw", "namespace": NS},
                    "spec": {
                        "gatewayClassName": CLASS,
                        "allowedListeners": {"namespaces": {"from": "Same"}},
                        "listeners": [{"name": "gw-http", "protocol": "HTTP", "port": gateway_port}],
                    },
                },
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "ListenerSet",
                    "metadata": {"name": "extra", "namespace": NS},
                    "spec": {
                        "parentRef": {"name": "gw"},
                        "listeners": [{"name": "ls-http", "protocol": "HTTP", "port": set_port}],
                    },
                },
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "HTTPRoute",
                    "metadata": {"name": "via-set", "namespace": NS},
                    "spec": {
                        "parentRefs": [
                            {"group": "gateway.networking.k8s.io", "kind": "ListenerSet", "name": "extra"}
                        ],
                        "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}],
                    },
                },
            ]
        )
        yield contour


def _conditions(entry: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in entry.get("conditions") or []}


def _status(run: ContourRun, resource: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = run.get(resource, name, NS).get("status") or {}
    return found


def _get(address: str, port: int) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(address, port, timeout=5)
    try:
        connection.request("GET", "/", headers={"Host": "lset.example.com"})
        response = connection.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if response.status == 200 else {})
    except OSError:
        return 0, {}
    finally:
        connection.close()


def test_route_on_the_listenerset_answers_on_its_port(run: ContourRun, ports: tuple[int, int]) -> None:
    addresses = wait_until(
        lambda: _status(run, "gateways", "gw").get("addresses") or [], what="an address for the Gateway"
    )
    address = addresses[0]["value"]
    _code, echo = wait_until(
        lambda: _get(address, ports[1]),
        lambda answer: answer[0] == 200,
        what="HTTP 200 on the ListenerSet's port",
        timeout=30.0,
    )
    assert echo["pod"] == "echo-a"


def test_gateway_port_does_not_serve_the_listenerset_route(run: ContourRun, ports: tuple[int, int]) -> None:
    """The Gateway's own listener has no route: 404, or no Envoy listener at all (code 0)."""
    addresses = wait_until(lambda: _status(run, "gateways", "gw").get("addresses") or [], what="an address")
    address = addresses[0]["value"]
    wait_until(lambda: _get(address, ports[1]), lambda answer: answer[0] == 200, what="200", timeout=30.0)
    assert _get(address, ports[0])[0] in (0, 404)


def test_listenerset_status_is_written(run: ContourRun) -> None:
    status = wait_until(
        lambda: _status(run, "listenersets", "extra"),
        lambda s: (
            _conditions(s).get("Programmed") == ("True", "Programmed")
            and (s.get("listeners") or [{}])[0].get("attachedRoutes") == 1
        ),
        what="ListenerSet programmed with one attached route",
        timeout=30.0,
    )
    assert _conditions(status)["Accepted"] == ("True", "Accepted")
    (entry,) = status["listeners"]
    assert entry["name"] == "ls-http"
    assert _conditions(entry) == {
        "Accepted": ("True", "Accepted"),
        "Programmed": ("True", "Programmed"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
        "Conflicted": ("False", "NoConflicts"),
    }


def test_gateway_counts_the_attached_listenerset(run: ContourRun) -> None:
    status = wait_until(
        lambda: _status(run, "gateways", "gw"),
        lambda s: s.get("attachedListenerSets") == 1,
        what="attachedListenerSets 1",
        timeout=30.0,
    )
    assert [e["name"] for e in status["listeners"]] == ["gw-http"]


def test_route_parent_is_the_listenerset(run: ContourRun) -> None:
    parents = wait_until(
        lambda: _status(run, "httproutes", "via-set").get("parents") or [], what="route parents", timeout=30.0
    )
    assert [(p["parentRef"]["kind"], p["parentRef"]["name"], p["controllerName"]) for p in parents] == [
        ("ListenerSet", "extra", CONTROLLER)
    ]
    assert _conditions(parents[0])["Accepted"] == ("True", "Accepted")
