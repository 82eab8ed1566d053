"""A NACK from a real Envoy shows up as an EnvoyAccepted condition on the HTTPProxy behind it.

The product never emits configuration Envoy rejects, so the test's Envoy is made stricter than
Contour's runtime allows: a static runtime layer after the RTDS one sets
`re2.max_program_size.error_level: 1`, and Envoy then rejects every route with a `safe_regex` ("regex
'^/foo.*' RE2 program size of 6 > max program size of 1 ..."). The controller runs in-process against
the embedded API server (a subprocess), the Envoy is a real process; both are stopped by PID.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from contour.controller.controller import Controller, ControllerConfig
from contour.controller.nackstatus import ENVOY_ACCEPTED
from contour.dag.builder import BuilderConfig
from contour.envoy.bootstrap import BootstrapConfig, bootstrap
from contour.envoy.names import HTTP_LISTENER
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess
from contour.k8s.client import close, connect
from tests.support.apiserver_process import APIServerProcess
from tests.support.contour_run import free_port
from tests.support.envoy_harness import LOOPBACK, EnvoyClient, eventually

NODE_ID = "nack-envoy"
STRICT_RE2 = {"name": "strict-re2", "static_layer": {"re2.max_program_size.error_level": 1}}
NO_ROUTE, NO_ENDPOINTS = 404, 503  # Envoy's answers for an unknown host and for a route without endpoints


def _strict_envoy(work_dir: Path, xds_port: int) -> EnvoyProcess:
    config = BootstrapConfig(
        xds_address=LOOPBACK,
        xds_port=xds_port,
        admin_address=LOOPBACK,
        admin_port=0,
        node_id=NODE_ID,
        node_cluster="contour",
    )
    document = bootstrap(config)
    layers = document["layered_runtime"]["layers"]
    # After Contour's RTDS layer (which raises the RE2 limits), before the admin layer.
    layers.insert(len(layers) - 1, STRICT_RE2)
    work_dir.mkdir(parents=True, exist_ok=True)
    return EnvoyProcess(
        document, work_dir, EnvoyOptions(concurrency=1, drain_seconds=0.5, log_level="warning")
    )


def _proxy(name: str, condition: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "app"},
        "spec": {
            "virtualhost": {"fqdn": f"{name}.example.com"},
            "routes": [{"conditions": [condition], "services": [{"name": "s1", "port": 80}]}],
        },
    }


NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "s1", "namespace": "app"},
    "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
}
REGEX_PATH = {"regex": "/foo.*"}
PREFIX_PATH = {"prefix": "/"}


@dataclass
class Stack:
    apiserver: APIServerProcess
    controller: Controller
    envoy: EnvoyProcess
    client: EnvoyClient

    async def apply(self, *objects: dict[str, Any]) -> None:
        await asyncio.to_thread(self.apiserver.kubectl, "apply", "-f", "-", input=yaml.safe_dump_all(objects))

    async def proxy(self, name: str) -> dict[str, Any]:
        result = await asyncio.to_thread(
            self.apiserver.kubectl, "get", "httpproxy", name, "-n", "app", "-o", "json"
        )
        found: dict[str, Any] = json.loads(result.stdout)
        return found

    async def envoy_accepted(self, name: str) -> dict[str, Any] | None:
        conditions = (await self.proxy(name)).get("status", {}).get("conditions", [])
        return next((c for c in conditions if c.get("type") == ENVOY_ACCEPTED), None)

    async def answer(self, name: str) -> int:
        return (await self.client.get(f"{name}.example.com")).status


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    apiserver = APIServerProcess(tmp_path / "api").start()
    try:
        api = await connect(kubeconfig=str(apiserver.kubeconfig))
        builder = BuilderConfig(
            http_address=LOOPBACK, http_port=free_port(), https_address=LOOPBACK, https_port=free_port()
        )
        controller = Controller(api, ControllerConfig(builder=builder, xds_port=0, holdoff=0.02))
        try:
            await controller.start()
            await controller.wait_ready(30)
            assert controller.xds is not None
            envoy = _strict_envoy(tmp_path / "envoy", controller.xds.port)
            await envoy.start()
            try:
                async with EnvoyClient(envoy, HTTP_LISTENER) as client:
                    yield Stack(apiserver, controller, envoy, client)
            finally:
                await envoy.stop()
        finally:
            await controller.stop()
            await close(api)
    finally:
        apiserver.stop()


async def test_a_rejected_route_is_reported_on_its_proxy_until_it_is_fixed(stack: Stack) -> None:
    await stack.apply(NAMESPACE, SERVICE, _proxy("good", PREFIX_PATH))
    await eventually(lambda: stack.answer("good"), lambda s: s == NO_ENDPOINTS, what="good's route in Envoy")

    await stack.apply(_proxy("bad", REGEX_PATH))

    condition = await eventually(
        lambda: stack.envoy_accepted("bad"), lambda c: c is not None, timeout=15, what="EnvoyAccepted on bad"
    )
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "Rejected")
    assert condition["message"].startswith(f"{NODE_ID} rejected rds: regex '^/foo.*' RE2 program size")
    assert await stack.envoy_accepted("good") is None, "the other proxy is not blamed"
    assert await stack.answer("good") == NO_ENDPOINTS, "Envoy keeps serving the other proxy"
    assert await stack.answer("bad") == NO_ROUTE, "Envoy never took the rejected route"

    await stack.apply(_proxy("bad", PREFIX_PATH))

    await eventually(
        lambda: stack.envoy_accepted("bad"), lambda c: c is None, timeout=15, what="EnvoyAccepted gone"
    )
    assert await stack.answer("bad") == NO_ENDPOINTS
    assert stack.controller.nacks.current() == []
