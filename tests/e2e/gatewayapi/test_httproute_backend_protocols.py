# ruff: noqa: N802  (test names are the upstream ShortNames, so the mapping is visible)
"""GATEWAY-HTTP extended conformance tests of Gateway API v1.6.1 for backend protocols: h2c and
WebSocket backends named by the Service port's appProtocol (HTTPRouteBackendProtocolH2C,
HTTPRouteBackendProtocolWebSocket). Split from test_httproute_extended.py; same structure.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.e2e.gatewayapi.base_manifests import (
    INFRA,
    Manifest,
    backend,
    http_route,
    parent,
)
from tests.e2e.gatewayapi.echo_pods import EchoPod
from tests.e2e.gatewayapi.roundtrip import MAX_TIME_TO_CONSISTENCY, POLL_INTERVAL, REQUIRED_CONSECUTIVE
from tests.e2e.gatewayapi.suite import Suite
from tests.support.contour_run import CONTOUR

V1 = "infra-backend-v1"


_H2C_LISTENING = re.compile(rb"listening on port (\d+) \(h2c\)")


@pytest.fixture
def h2c_pod(tmp_path: Path) -> Iterator[EchoPod]:
    """A third infra-backend-v1 pod serving h2c (upstream's pods serve it on port 3001; the base pods
    here run without an h2c listener)."""
    pod_name = "infra-backend-v1-h2c-0"
    log_path = tmp_path / f"{pod_name}.log"
    env = {**os.environ, "POD_NAME": pod_name, "NAMESPACE": INFRA, "SERVICE_NAME": V1}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [CONTOUR, "echo", "--address", "127.0.0.1", "--port", "0", "--h2c-port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    pod = EchoPod(INFRA, V1, pod_name, log_path, process)
    try:
        deadline = time.monotonic() + 30
        while pod.port == 0:
            found = _H2C_LISTENING.search(log_path.read_bytes())
            if found:
                pod.port = int(found.group(1))
            elif process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"h2c echo pod did not start:\n{pod.log()}")
            else:
                time.sleep(0.02)  # polling the pod's log with a deadline
        yield pod
    finally:
        pod.stop()


_HTTP_PORT: Manifest = {"name": "http", "port": 8080, "targetPort": 3000, "protocol": "TCP"}


@pytest.fixture
def v1_protocol_ports(suite: Suite) -> Iterator[None]:
    """infra-backend-v1 gets upstream's two other ports: 8081 (h2c) and 8082 (ws); restored afterwards."""
    h2c = {
        "name": "h2c",
        "port": 8081,
        "targetPort": 3001,
        "protocol": "TCP",
        "appProtocol": "kubernetes.io/h2c",
    }
    ws = {
        "name": "ws",
        "port": 8082,
        "targetPort": 3000,
        "protocol": "TCP",
        "appProtocol": "kubernetes.io/ws",
    }
    suite.patch("services", V1, {"spec": {"ports": [_HTTP_PORT, h2c, ws]}})
    try:
        yield
    finally:
        suite.patch("services", V1, {"spec": {"ports": [_HTTP_PORT]}})


def _endpoint_slice(name: str, port_name: str, port: int) -> Manifest:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": INFRA, "labels": {"kubernetes.io/service-name": V1}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
    }


def _converge(attempt: Callable[[], str | None], what: str) -> None:
    """`AwaitConvergence`: `attempt` (None on success) succeeds REQUIRED_CONSECUTIVE times in a row."""
    deadline = time.monotonic() + MAX_TIME_TO_CONSISTENCY
    streak, last = 0, "no attempt made"
    while streak < REQUIRED_CONSECUTIVE:
        problem = attempt()
        if problem is None:
            streak += 1
            continue
        streak, last = 0, problem
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not consistent within {MAX_TIME_TO_CONSISTENCY}s; last: {last}")
        time.sleep(POLL_INTERVAL)  # the suite's poll interval between attempts


def test_HTTPRouteBackendProtocolH2C(suite: Suite, h2c_pod: EchoPod, v1_protocol_ports: None) -> None:
    name = "backend-protocol-h2c"
    suite.apply(
        _endpoint_slice(f"{V1}-{h2c_pod.pod}", "h2c", h2c_pod.port),
        http_route(name, parentRefs=[parent("same-namespace")], rules=[{"backendRefs": [backend(V1, 8081)]}]),
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    url = f"http://{address}:{suite.ports[80]}/"

    def attempt() -> str | None:
        # HTTP/2 with prior knowledge (the h2c upgrade is not tested upstream: RFC 9113 deprecates it).
        try:
            with httpx.Client(http1=False, http2=True, timeout=10, trust_env=False) as client:
                reply = client.get(url)
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        if reply.http_version != "HTTP/2" or reply.status_code != 200:
            return f"{reply.http_version} {reply.status_code} {reply.text[:200]!r}"
        echo = reply.json()
        if echo.get("namespace") != INFRA or not str(echo.get("pod", "")).startswith(V1):
            return f"answered by {echo.get('namespace')}/{echo.get('pod')}"
        return None

    _converge(attempt, "an HTTP/2 prior-knowledge request reaching infra-backend-v1")


def test_HTTPRouteBackendProtocolWebSocket(
    suite: Suite, pods: list[EchoPod], v1_protocol_ports: None
) -> None:
    name = "backend-protocol-ws"
    v1_pods = [pod for pod in pods if pod.service == V1 and pod.namespace == INFRA]
    suite.apply(
        *(_endpoint_slice(f"{V1}-{pod.pod}-ws", "ws", pod.port) for pod in v1_pods),
        http_route(name, parentRefs=[parent("same-namespace")], rules=[{"backendRefs": [backend(V1, 8082)]}]),
    )
    address = suite.gateway_and_routes_accepted("same-namespace", [name])
    url = f"http://{address}:{suite.ports[80]}/ws"

    async def exchange() -> str | None:
        text, binary = "Websocket Support!", bytes([1, 2, 3, 4, 5, 6, 7])
        timeout = aiohttp.ClientTimeout(total=10)
        origin = "ws://gateway/HTTPRouteBackendProtocolWebSocket"
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.ws_connect(url, origin=origin) as ws,
        ):
            await ws.send_str(text)
            got = await ws.receive()
            if got.type != aiohttp.WSMsgType.TEXT or got.data != text:
                return f"text frame answered with {got.type.name} {got.data!r}"
            await ws.send_bytes(binary)
            got = await ws.receive()
            if got.type != aiohttp.WSMsgType.BINARY or got.data != binary:
                return f"binary frame answered with {got.type.name} {got.data!r}"
        return None

    def attempt() -> str | None:
        try:
            return asyncio.run(exchange())
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            return f"{type(error).__name__}: {error}"

    _converge(attempt, "a WebSocket echo through infra-backend-v1:8082")
