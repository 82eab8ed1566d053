"""`contour run` gives every accepted Gateway its own Envoy on its own loopback address.

One `contour run` serves the module. Each test applies its own Gateway (class
`projectcontour.io/gateway-controller`, one HTTP listener on a free port) and an HTTPRoute to the
session's `echo-a` backend, through kubectl, then reads `STATE_DIR/gateways.json` to find the
Gateway's Envoy and sends real requests to ADDRESS:PORT. Deleting the Gateway must end its Envoy
process; killing that process must bring a new one. Every Gateway Envoy must have rejected
no configuration (the autouse check in tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import Manifest, namespace, service
from tests.support.contour_run import ContourRun, free_port, pid_alive, running, wait_until

NS = "gw-provision"
CLASS = "contour-local"
GATEWAY_API = "gateway.networking.k8s.io/v1"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("gateway-envoys") / "state") as contour:
        contour.apply(
            [
                namespace(NS),
                *service(NS, "echo", backends.a),
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "GatewayClass",
                    "metadata": {"name": CLASS},
                    "spec": {"controllerName": "projectcontour.io/gateway-controller"},
                },
            ]
        )
        yield contour


def gateway(name: str, port: int, addresses: list[Manifest] | None = None) -> Manifest:
    spec: Manifest = {
        "gatewayClassName": CLASS,
        "listeners": [{"name": "http", "protocol": "HTTP", "port": port}],
    }
    if addresses is not None:
        spec["addresses"] = addresses
    return {
        "apiVersion": GATEWAY_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def http_route(name: str, gateway_name: str) -> Manifest:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parentRefs": [{"name": gateway_name}],
            "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}],
        },
    }


def gateways_info(run: ContourRun) -> dict[str, Any]:
    path = run.state_dir / "gateways.json"
    found: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return found


def wait_gateway_envoy(run: ContourRun, name: str) -> dict[str, Any]:
    """The entry of gateways.json for Gateway NS/name once its Envoy is LIVE."""
    key = f"{NS}/{name}"
    info: dict[str, Any] = wait_until(
        lambda: gateways_info(run).get(key) or {}, what=f"the Envoy of Gateway {key}", timeout=30.0
    )
    return info


def get(url: str) -> httpx.Response:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        return client.get(url)


def answered_by_echo(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json().get("pod") == "echo-a"


def status_addresses(run: ContourRun, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = run.get("gateways", name, NS).get("status", {}).get("addresses") or []
    return found


def test_gateway_is_served_on_its_own_loopback_address(run: ContourRun) -> None:
    port = free_port()
    run.apply([gateway("served", port), http_route("served", "served")])
    envoy = wait_gateway_envoy(run, "served")

    address = envoy["address"]
    assert address.startswith("127.0.1."), envoy
    assert envoy["pid"] != run.envoy_pid
    wait_until(
        lambda: get(f"http://{address}:{port}/served"), answered_by_echo, what="the echo via the Gateway"
    )


def test_gateway_status_reports_its_address(run: ContourRun) -> None:
    run.apply([gateway("reported", free_port())])
    envoy = wait_gateway_envoy(run, "reported")

    expected = [{"type": "IPAddress", "value": envoy["address"]}]
    wait_until(
        lambda: status_addresses(run, "reported"), lambda found: found == expected, what="status.addresses"
    )


def test_requested_loopback_address_is_used(run: ContourRun) -> None:
    port = free_port()
    requested = "127.0.3.77"
    run.apply(
        [
            gateway("requested", port, [{"type": "IPAddress", "value": requested}]),
            http_route("requested", "requested"),
        ]
    )
    envoy = wait_gateway_envoy(run, "requested")

    assert envoy["address"] == requested
    wait_until(
        lambda: get(f"http://{requested}:{port}/"), answered_by_echo, what="the echo on the requested address"
    )


def test_two_gateways_get_distinct_addresses(run: ContourRun) -> None:
    run.apply([gateway("first", free_port()), gateway("second", free_port())])
    first, second = wait_gateway_envoy(run, "first"), wait_gateway_envoy(run, "second")

    assert first["address"] != second["address"]
    assert first["pid"] != second["pid"]


def test_deleting_the_gateway_stops_its_envoy(run: ContourRun) -> None:
    run.apply([gateway("deleted", free_port())])
    pid = int(wait_gateway_envoy(run, "deleted")["pid"])
    assert pid_alive(pid)

    run.kubectl("delete", "gateway", "deleted", "-n", NS)

    wait_until(lambda: not pid_alive(pid), what=f"the exit of the deleted Gateway's Envoy (pid {pid})")
    assert f"{NS}/deleted" not in gateways_info(run)


def test_ready_gateway_is_announced(run: ContourRun) -> None:
    port = free_port()
    run.apply([gateway("announced", port)])
    envoy = wait_gateway_envoy(run, "announced")

    line = f"Gateway {NS}/announced: Envoy ready on {envoy['address']}, ports {port}/HTTP"
    wait_until(lambda: line in run.log(), what=f"the line {line!r} in contour run's output")


def test_crashed_gateway_envoy_is_restarted(run: ContourRun) -> None:
    port = free_port()
    run.apply([gateway("crashing", port), http_route("crashing", "crashing")])
    envoy = wait_gateway_envoy(run, "crashing")
    url = f"http://{envoy['address']}:{port}/"
    wait_until(lambda: get(url), answered_by_echo, what="the echo before the crash")

    os.kill(int(envoy["pid"]), signal.SIGKILL)

    wait_until(lambda: not pid_alive(int(envoy["pid"])), what="the killed Envoy's exit")
    wait_until(lambda: get(url), answered_by_echo, what="the echo through the restarted Envoy")


def parameterised_class(name: str, deployment: str) -> list[Manifest]:
    return [
        {
            "apiVersion": GATEWAY_API,
            "kind": "GatewayClass",
            "metadata": {"name": name},
            "spec": {
                "controllerName": "projectcontour.io/gateway-controller",
                "parametersRef": {
                    "group": "projectcontour.io",
                    "kind": "ContourDeployment",
                    "name": deployment,
                    "namespace": NS,
                },
            },
        }
    ]


def test_the_contourdeployment_of_the_class_shapes_the_host_envoy(run: ContourRun) -> None:
    """The host backend runs the Envoy the provisioner's desired state describes (render_host): the
    ContourDeployment's overload heap limit is in that Envoy's bootstrap."""
    heap = 256 * 1024 * 1024
    deployment: Manifest = {
        "apiVersion": "projectcontour.io/v1alpha1",
        "kind": "ContourDeployment",
        "metadata": {"name": "tuned", "namespace": NS},
        "spec": {"envoy": {"overloadMaxHeapSize": heap}},
    }
    run.apply([deployment, *parameterised_class("contour-tuned", "tuned")])
    tuned = gateway("tuned", free_port())
    tuned["spec"]["gatewayClassName"] = "contour-tuned"
    run.apply([tuned])
    wait_gateway_envoy(run, "tuned")
    bootstrap = json.loads((run.state_dir / "gateways" / NS / "tuned" / "envoy.json").read_text())
    monitors = bootstrap["overload_manager"]["resource_monitors"]
    limits = [m["typed_config"].get("max_heap_size_bytes") for m in monitors]
    assert str(heap) in limits
    assert bootstrap["node"]["cluster"] == f"gateway/{NS}/tuned"


def test_a_class_naming_a_missing_contourdeployment_gets_no_envoy(run: ContourRun) -> None:
    run.apply(parameterised_class("contour-missing", "absent"))
    orphan = gateway("orphan", free_port())
    orphan["spec"]["gatewayClassName"] = "contour-missing"
    run.apply([orphan])
    wait_until(
        lambda: "ContourDeployment gw-provision/absent not found" in run.log(),
        what="the log line saying why the Gateway has no Envoy",
        timeout=30.0,
    )
    assert f"{NS}/orphan" not in gateways_info(run)
