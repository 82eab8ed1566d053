"""EnvoyProcess with the real Envoy: LIVE, serving, restarted after a crash, drained, never orphaned."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from contour.envoyproc.binary import EnvoyNotFoundError, resolve_envoy_binary
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess, EnvoyStartError
from tests.envoy.conftest import pid_alive, static_bootstrap

FAST = EnvoyOptions(drain_seconds=2.0, ready_timeout=20.0, concurrency=1)


async def get_body(envoy: EnvoyProcess) -> str:
    host, port = (await envoy.admin.listener_addresses())["static"]
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"http://{host}:{port}/")
    response.raise_for_status()
    return response.text


async def wait_gone(pid: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while pid_alive(pid):
            await asyncio.sleep(0.02)


async def test_serves_traffic_once_live(tmp_path: Path) -> None:
    async with EnvoyProcess(static_bootstrap(tmp_path / "admin.log"), tmp_path / "envoy", FAST) as envoy:
        assert envoy.live
        assert await get_body(envoy) == "hello from envoy"


async def test_restarts_after_kill_and_serves_again(tmp_path: Path) -> None:
    options = EnvoyOptions(drain_seconds=1.0, restart_backoff=0.05, concurrency=1)
    async with EnvoyProcess(static_bootstrap(tmp_path / "admin.log"), tmp_path / "envoy", options) as envoy:
        first = envoy.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await envoy.wait_until(lambda e: e.starts == 2 and e.live, timeout=20.0)
        assert envoy.restarts == 1
        assert envoy.pid not in (None, first)
        assert not pid_alive(first)
        assert await get_body(envoy) == "hello from envoy"


async def test_stop_drains_then_the_process_is_gone(tmp_path: Path) -> None:
    admin_log = tmp_path / "admin.log"
    envoy = EnvoyProcess(static_bootstrap(admin_log), tmp_path / "envoy", FAST)
    await envoy.start()
    pid = envoy.pid
    assert pid is not None
    await envoy.stop()
    assert not pid_alive(pid)
    assert envoy.pid is None
    requests = admin_log.read_text()
    assert "POST /healthcheck/fail" in requests
    assert "POST /drain_listeners?graceful" in requests


async def test_cancelling_the_runner_task_kills_envoy(tmp_path: Path) -> None:
    envoy = EnvoyProcess(static_bootstrap(tmp_path / "admin.log"), tmp_path / "envoy", FAST)
    runner = asyncio.create_task(envoy.run())
    await envoy.wait_live()
    pid = envoy.pid
    assert pid is not None
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert not pid_alive(pid)


CHILD = """
import asyncio, json, sys
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess

async def main():
    envoy = EnvoyProcess(json.loads(sys.argv[1]), sys.argv[2], EnvoyOptions(concurrency=1))
    await envoy.start()
    print(envoy.pid, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_envoy_dies_with_its_parent_process(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: SIGKILL the Python process running EnvoyProcess and Envoy goes too."""
    bootstrap = json.dumps(static_bootstrap(tmp_path / "admin.log"))
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD, bootstrap, str(tmp_path / "envoy")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(parent.stdout.readline), timeout=30.0)
        envoy_pid = int(line)
        assert pid_alive(envoy_pid)
    finally:
        parent.kill()
        parent.wait()
    await wait_gone(envoy_pid)


async def test_bad_bootstrap_fails_start_with_envoy_log(tmp_path: Path) -> None:
    bootstrap = static_bootstrap(tmp_path / "admin.log")
    bootstrap["static_resources"]["listeners"][0]["no_such_field"] = 1
    envoy = EnvoyProcess(bootstrap, tmp_path / "envoy", FAST)
    with pytest.raises(EnvoyStartError, match="no_such_field"):
        await envoy.start()
    assert envoy.pid is None


async def test_admin_reports_no_rejected_updates_and_dumps_config(tmp_path: Path) -> None:
    async with EnvoyProcess(static_bootstrap(tmp_path / "admin.log"), tmp_path / "envoy", FAST) as envoy:
        assert await envoy.admin.update_rejected("type.googleapis.com/envoy.config.cluster.v3.Cluster") == 0
        dump = await envoy.admin.config_dump("static_listeners")
        names = [entry["listener"]["name"] for entry in dump["configs"]]
        assert names == ["static"]
        assert await envoy.admin.server_state() == "LIVE"
        assert await envoy.admin.stat("server.live") == 1


def test_envoy_bin_environment_variable_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENVOY_BIN", str(tmp_path / "no-such-envoy"))
    with pytest.raises(EnvoyNotFoundError, match="ENVOY_BIN"):
        resolve_envoy_binary()


def test_explicit_binary_beats_environment(monkeypatch: pytest.MonkeyPatch, envoy_bin: str) -> None:
    monkeypatch.setenv("ENVOY_BIN", "/nonexistent/envoy")
    assert resolve_envoy_binary(envoy_bin) == envoy_bin
