"""The xDS server drives a real Envoy: requests through Envoy's listener reach `contour echo` backends.

Covers what only a real Envoy can tell: that it accepts what the server sends on every transport
(per-type or aggregated, state of the world or delta), applies updates, rejects an invalid resource
while the old configuration keeps serving, rides out a control-plane restart without dropping a
request, and gets its whole configuration back after being killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from tests.e2e.echo_config import LISTENER, ROUTES, Backends, echo_config
from tests.support import xds_resources as r
from tests.support.envoy_harness import (
    ADS_SOTW,
    MODES,
    SOTW,
    Echoed,
    XdsMode,
    envoy_stack,
    eventually,
    start_control_plane,
    until,
    xds_connected_states,
)


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
async def test_initial_config_serves_traffic(mode: XdsMode, backends: Backends, envoy_dir: Path) -> None:
    path = f"/hello?mode={mode.name}"
    async with envoy_stack(envoy_dir, mode, echo_config("v1", mode, backends), listener=LISTENER) as stack:
        a = await stack.client.wait_for("a.example.com", path, lambda e: e.status == 200)
        b = await stack.client.get("b.example.com", "/other")
        unknown = await stack.client.get("c.example.com", "/")
        echoed = await until(backends.a.log, lambda log: f"request made to {path} " in log, what="echo log")
    assert f"Echoing back request made to {path} to client" in echoed
    assert a.body is not None and b.body is not None
    assert (a.pod, a.body["path"], a.body["host"]) == ("echo-a", path, "a.example.com")
    assert (b.pod, b.body["path"], b.body["host"]) == ("echo-b", "/other", "b.example.com")
    assert unknown.status == 404


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
async def test_changed_domain_is_served(mode: XdsMode, backends: Backends, envoy_dir: Path) -> None:
    async with envoy_stack(envoy_dir, mode, echo_config("v1", mode, backends), listener=LISTENER) as stack:
        await stack.client.wait_for("b.example.com", "/", lambda e: e.pod == "echo-b")
        stack.publish(echo_config("v2", mode, backends, b_domains=["c.example.com"]))
        moved = await stack.client.wait_for("c.example.com", "/moved", lambda e: e.status == 200)
        gone = await stack.client.get("b.example.com", "/")
    assert (moved.pod, moved.body and moved.body["host"]) == ("echo-b", "c.example.com")
    assert gone.status == 404


async def test_changed_route_prefix_is_served(backends: Backends, envoy_dir: Path) -> None:
    mode = SOTW
    initial = echo_config("v1", mode, backends, a_prefix="/old")
    async with envoy_stack(envoy_dir, mode, initial, listener=LISTENER) as stack:
        await stack.client.wait_for("a.example.com", "/old/x", lambda e: e.pod == "echo-a")
        stack.publish(echo_config("v2", mode, backends, a_prefix="/new"))
        new = await stack.client.wait_for("a.example.com", "/new/x", lambda e: e.status == 200)
        old = await stack.client.get("a.example.com", "/old/x")
    assert (new.pod, old.status) == ("echo-a", 404)


# RE2 has no lookbehind: Envoy cannot compile this route's regex and rejects the whole route table.
INVALID_REGEX = "/(?<=x)y"


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
async def test_rejected_route_table_is_nacked_and_the_old_one_keeps_serving(
    mode: XdsMode, backends: Backends, envoy_dir: Path
) -> None:
    async with envoy_stack(envoy_dir, mode, echo_config("v1", mode, backends), listener=LISTENER) as stack:
        stack.check_rejections = False
        await stack.client.wait_for("b.example.com", "/", lambda e: e.pod == "echo-b")
        invalid = echo_config(
            "v2",
            mode,
            backends,
            b_domains=["c.example.com"],
            extra_a_routes=[r.regex_route(INVALID_REGEX, "echo-b")],
        )
        stack.publish(invalid)
        nacks = await until(stack.server.nacks.current, what="the server records a NACK")
        rejected = await stack.envoy.admin.update_rejected("rds")
        counted = stack.server.metrics.sample("contour_xds_nack_total", type_url=typeurls.ROUTE)
        still_old = await stack.client.get("b.example.com", "/")
        not_yet_new = await stack.client.get("c.example.com", "/")

        stack.publish(echo_config("v3", mode, backends, b_domains=["c.example.com"]))
        fixed = await stack.client.wait_for("c.example.com", "/", lambda e: e.status == 200)
        cleared = await until(stack.server.nacks.current, lambda n: not n, what="the NACK clears")
    [nack] = nacks
    assert (nack.type_url, nack.resource_names, nack.node_id) == (typeurls.ROUTE, (ROUTES,), "e2e-envoy")
    assert "invalid perl operator: (?<" in nack.message, nack.message
    assert (rejected, counted) == (1, 1.0)
    assert (still_old.pod, not_yet_new.status) == ("echo-b", 404)
    assert (fixed.pod, cleared) == ("echo-b", [])


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
async def test_envoy_keeps_serving_while_the_control_plane_restarts(
    mode: XdsMode, backends: Backends, envoy_dir: Path
) -> None:
    async with envoy_stack(envoy_dir, mode, echo_config("v1", mode, backends), listener=LISTENER) as stack:
        await stack.client.wait_for("a.example.com", "/", lambda e: e.pod == "echo-a")
        answers: list[Echoed | BaseException] = []
        done = asyncio.Event()

        async def traffic() -> None:
            while not done.is_set():
                try:
                    answers.append(await stack.client.get("a.example.com", "/during-restart"))
                except Exception as error:
                    answers.append(error)

        sender = asyncio.create_task(traffic())
        try:
            port, snapshot = stack.server.port, stack.cache.snapshot(DEFAULT_GROUP)
            assert snapshot is not None
            await stack.server.stop(None)
            await eventually(
                lambda: xds_connected_states(stack.envoy), lambda v: v == {0}, what="Envoy disconnected"
            )
            during_outage = len(answers)
            await until(lambda: len(answers), lambda n: n >= during_outage + 20, what="20 requests")
            stack.cache = SnapshotCache()
            stack.cache.set_snapshot(DEFAULT_GROUP, snapshot)
            stack.server = await start_control_plane(stack.cache, port=port)
            await eventually(
                lambda: xds_connected_states(stack.envoy), lambda v: v == {1}, what="Envoy reconnected"
            )
            stack.publish(echo_config("v2", mode, backends, b_domains=["c.example.com"]))
            resynced = await stack.client.wait_for("c.example.com", "/", lambda e: e.status == 200)
        finally:
            done.set()
            await sender
    failures = [a for a in answers if not isinstance(a, Echoed) or a.pod != "echo-a"]
    assert failures == [], f"{len(failures)} of {len(answers)} requests failed: {failures[:3]}"
    assert len(answers) >= 20
    assert resynced.pod == "echo-b"


async def test_killed_envoy_is_restarted_and_gets_the_whole_config(
    backends: Backends, envoy_dir: Path
) -> None:
    mode = ADS_SOTW
    async with envoy_stack(envoy_dir, mode, echo_config("v1", mode, backends), listener=LISTENER) as stack:
        await stack.client.wait_for("a.example.com", "/", lambda e: e.pod == "echo-a")
        killed = stack.envoy.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        await stack.envoy.wait_until(lambda envoy: envoy.restarts == 1 and envoy.live, timeout=20)
        a = await stack.client.wait_for("a.example.com", "/after", lambda e: e.status == 200)
        b = await stack.client.get("b.example.com", "/after")
        restarted = stack.envoy.pid
    assert restarted not in (None, killed)
    assert (a.pod, b.pod) == ("echo-a", "echo-b")
