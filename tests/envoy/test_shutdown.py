"""Graceful shutdown against a real Envoy proxying to a real `contour echo` backend.

A client holds one keep-alive connection open through Envoy's `ingress_http` listener. `contour envoy
shutdown` (in-process ``drain`` and the real command) must fail Envoy's health check at once, keep
waiting while that connection is open, and finish once it closes or when its deadline passes; the
shutdown-manager's `/shutdown` must answer only after that. Bad flags exit 2 naming the flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from contour.cli.app import app
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess
from contour.envoyproc.shutdown import DrainResult, DrainSettings, drain, open_connections
from tests.envoy.conftest import flat
from tests.support.envoy_harness import LOOPBACK, EchoBackend, contour_command, eventually, until

OPTIONS = EnvoyOptions(concurrency=1, drain_seconds=0.5, log_level="warning", ready_timeout=20.0)
POLL = 0.05  # --check-interval in these tests
ACTIVE = "http.ingress_http.downstream_cx_active"


# -- Envoy in front of a real backend ---------------------------------------------------------------


def proxy_bootstrap(backend_port: int, admin: dict[str, Any]) -> dict[str, Any]:
    """Listener `ingress_http` (HCM stat prefix `ingress_http`, as Contour's) routing to the backend."""
    router = {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
    manager = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
        ".HttpConnectionManager",
        "stat_prefix": "ingress_http",
        "route_config": {
            "name": "ingress_http",
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "echo"}}],
                }
            ],
        },
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": router}],
    }
    endpoint = {"address": {"socket_address": {"address": LOOPBACK, "port_value": backend_port}}}
    return {
        "node": {"id": "shutdown-test", "cluster": "shutdown-test"},
        "admin": {"address": admin},
        "static_resources": {
            "listeners": [
                {
                    "name": "ingress_http",
                    "address": {"socket_address": {"address": LOOPBACK, "port_value": 0}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": manager,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                {
                    "name": "echo",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": "echo",
                        "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}],
                    },
                }
            ],
        },
    }


TCP_ADMIN = {"socket_address": {"address": LOOPBACK, "port_value": 0}}


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoBackend]:
    echo = EchoBackend("shutdown-echo", tmp_path_factory.mktemp("echo"))
    try:
        yield echo
    finally:
        echo.stop()


@pytest.fixture
async def envoy(tmp_path: Path, backend: EchoBackend) -> AsyncIterator[EnvoyProcess]:
    async with EnvoyProcess(proxy_bootstrap(backend.port, TCP_ADMIN), tmp_path / "envoy", OPTIONS) as proxy:
        yield proxy


class HeldConnection:
    """One HTTP/1.1 keep-alive connection through Envoy that has been answered by the backend and
    is then left open and idle."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, envoy: EnvoyProcess) -> HeldConnection:
        _, port = (await envoy.admin.listener_addresses())["ingress_http"]
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        held = cls(reader, writer)
        writer.write(b"GET /held HTTP/1.1\r\nHost: shutdown.example.com\r\n\r\n")
        await writer.drain()
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
        assert head.startswith("HTTP/1.1 200"), head
        length = re.search(r"(?im)^content-length:\s*(\d+)", head)
        assert length is not None, head
        body = await asyncio.wait_for(reader.readexactly(int(length.group(1))), 5)
        assert b'"pod":"shutdown-echo"' in body.replace(b" ", b""), body  # the real backend answered
        await eventually(lambda: envoy.admin.stat(ACTIVE), lambda n: n == 1, what=f"{ACTIVE} == 1")
        return held

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@pytest.fixture
async def held(envoy: EnvoyProcess) -> AsyncIterator[HeldConnection]:
    connection = await HeldConnection.open(envoy)
    try:
        yield connection
    finally:
        await connection.close()


def settings(envoy: EnvoyProcess, tmp_path: Path, **overrides: Any) -> DrainSettings:
    values: dict[str, Any] = {
        "admin": envoy.admin.address,
        "check_interval": POLL,
        "ready_file": tmp_path / "ok",
    }
    return DrainSettings(**(values | overrides))


async def ready_answer(envoy: EnvoyProcess) -> tuple[int, str]:
    response = await envoy.admin.get("/ready")
    return response.status_code, response.text.strip()


async def finish(task: asyncio.Task[DrainResult], timeout: float = 10.0) -> DrainResult:
    return await asyncio.wait_for(task, timeout)


# -- the drain (`contour envoy shutdown`'s logic) ----------------------------------------------------


async def test_fails_the_health_check_at_once(
    envoy: EnvoyProcess, held: HeldConnection, tmp_path: Path
) -> None:
    assert await ready_answer(envoy) == (200, "LIVE")
    task = asyncio.create_task(drain(settings(envoy, tmp_path)))
    try:
        answer = await eventually(
            lambda: ready_answer(envoy), lambda a: a[0] != 200, timeout=2.0, what="/ready fails"
        )
        assert answer == (503, "DRAINING")
    finally:
        await held.close()
        await finish(task)


async def test_keeps_waiting_while_a_connection_is_open(
    envoy: EnvoyProcess, held: HeldConnection, tmp_path: Path
) -> None:
    polls: list[int] = []
    task = asyncio.create_task(drain(settings(envoy, tmp_path), on_poll=polls.append))
    try:
        await until(lambda: len(polls) >= 3, what="three polls")
        assert polls[:3] == [1, 1, 1]
        assert not task.done()
        assert not (tmp_path / "ok").exists()
    finally:
        await held.close()
        await finish(task)


async def test_returns_once_the_connection_is_closed(
    envoy: EnvoyProcess, held: HeldConnection, tmp_path: Path
) -> None:
    polls: list[int] = []
    task = asyncio.create_task(drain(settings(envoy, tmp_path), on_poll=polls.append))
    await until(lambda: polls, what="a first poll")
    await held.close()
    result = await finish(task)
    assert result == DrainResult(drained=True, open_connections=0, health_check_failed=True, polls=len(polls))
    assert (tmp_path / "ok").exists()


async def test_returns_at_the_deadline_when_the_connection_stays_open(
    envoy: EnvoyProcess, held: HeldConnection, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = await finish(asyncio.create_task(drain(settings(envoy, tmp_path, drain_timeout=0.4))))
    assert time.monotonic() - started >= 0.4
    assert (result.drained, result.open_connections) == (False, 1)
    assert (tmp_path / "ok").exists()
    assert await envoy.admin.stat(ACTIVE) == 1  # the deadline ends the wait, it does not cut clients off


async def test_connections_at_the_threshold_count_as_drained(
    envoy: EnvoyProcess, held: HeldConnection, tmp_path: Path
) -> None:
    result = await finish(asyncio.create_task(drain(settings(envoy, tmp_path, min_open_connections=1))))
    assert (result.drained, result.open_connections, result.polls) == (True, 1, 1)


async def test_drain_delay_postpones_failing_the_health_check(envoy: EnvoyProcess, tmp_path: Path) -> None:
    started = time.monotonic()
    task = asyncio.create_task(drain(settings(envoy, tmp_path, drain_delay=0.5)))
    await eventually(lambda: ready_answer(envoy), lambda a: a[0] == 503, timeout=5.0, what="/ready fails")
    assert time.monotonic() - started >= 0.5
    await finish(task)


async def test_check_delay_postpones_the_first_poll(envoy: EnvoyProcess, tmp_path: Path) -> None:
    first_poll: list[float] = []
    started = time.monotonic()
    task = asyncio.create_task(
        drain(
            settings(envoy, tmp_path, check_delay=0.5), on_poll=lambda _: first_poll.append(time.monotonic())
        )
    )
    await finish(task)
    assert first_poll[0] - started >= 0.5


async def test_unreachable_admin_is_retried_until_the_deadline(tmp_path: Path) -> None:
    with socket_port_closed() as port:
        result = await finish(
            asyncio.create_task(
                drain(
                    DrainSettings(
                        admin=f"{LOOPBACK}:{port}",
                        check_interval=POLL,
                        drain_timeout=0.3,
                        ready_file=tmp_path / "ok",
                    )
                )
            )
        )
    assert result == DrainResult(drained=False, open_connections=None, health_check_failed=False, polls=0)
    assert (tmp_path / "ok").exists()


async def test_admin_on_a_unix_socket_as_contour_deploys_it(backend: EchoBackend, tmp_path: Path) -> None:
    # A short directory: unix socket paths are limited to 107 bytes and pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="sd-") as short:
        socket_path = f"{short}/admin.sock"
        bootstrap = proxy_bootstrap(backend.port, {"pipe": {"path": socket_path}})
        async with EnvoyProcess(bootstrap, tmp_path / "envoy", OPTIONS) as envoy:
            assert envoy.admin.address == socket_path
            result = await finish(asyncio.create_task(drain(settings(envoy, tmp_path))))
            assert result.drained and result.health_check_failed
            assert await ready_answer(envoy) == (503, "DRAINING")


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        pytest.param({"http.ingress_http.downstream_cx_active": 2}, 2, id="ingress_http"),
        pytest.param(
            {"http.ingress_http.downstream_cx_active": 2, "http.ingress_https.downstream_cx_active": 3},
            5,
            id="http-and-https-summed",
        ),
        pytest.param({"http.http-80.downstream_cx_active": 4}, 4, id="gateway-listener"),
        pytest.param(
            {
                "http.admin.downstream_cx_active": 1,
                "http.stats.downstream_cx_active": 2,
                "http.envoy-admin.downstream_cx_active": 3,
            },
            0,
            id="admin-and-stats-ignored",
        ),
        pytest.param({"http.ingress_http.downstream_cx_total": 9}, 0, id="other-stats-ignored"),
    ],
)
def test_open_connections_counts_client_traffic_only(stats: dict[str, int], expected: int) -> None:
    assert open_connections(stats) == expected


# -- the commands, as processes ---------------------------------------------------------------------


class Command:
    """A `contour` subprocess whose output goes to a file; stopped by PID at teardown."""

    def __init__(self, args: Sequence[str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [contour_command(), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait(self, timeout: float = 10.0) -> int:
        code = await until(self.proc.poll, lambda code: code is not None, timeout=timeout, what="exit")
        assert code is not None
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextlib.contextmanager
def command(args: Sequence[str], log_path: Path) -> Iterator[Command]:
    process = Command(args, log_path)
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def socket_port_closed() -> Iterator[int]:
    """A loopback port nothing listens on (bound, never listened, so no one else gets it meanwhile)."""
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        yield sock.getsockname()[1]


def shutdown_args(envoy: EnvoyProcess, ready_file: Path) -> list[str]:
    host, port = envoy.admin.address.rsplit(":", 1)
    return [
        "envoy",
        "shutdown",
        f"--admin-address={host}",
        f"--admin-port={port}",
        "--check-interval=50ms",
        f"--ready-file={ready_file}",
    ]


async def polled_while_open(process: Command, times: int = 2) -> None:
    await until(
        lambda: (
            process.log().count("polled open connections: open_connections=1") >= times
            or process.proc.poll() is not None
        ),
        timeout=15.0,
        what=f"{times} polls seeing the held connection",
    )
    assert process.proc.poll() is None, process.log()


async def test_shutdown_command_returns_after_the_connection_closes(
    envoy: EnvoyProcess, held: HeldConnection, tmp_path: Path
) -> None:
    ready_file = tmp_path / "ok"
    with command(shutdown_args(envoy, ready_file), tmp_path / "shutdown.log") as shutdown:
        await polled_while_open(shutdown)
        assert await ready_answer(envoy) == (503, "DRAINING")
        assert not ready_file.exists()
        await held.close()
        assert await shutdown.wait() == 0, shutdown.log()
    assert ready_file.exists()
    assert "min number of open connections found, shutting down" in shutdown.log()


_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


async def start_manager(tmp_path: Path, ready_file: Path) -> tuple[Command, int]:
    args = ["envoy", "shutdown-manager", "--serve-address=127.0.0.1", "--serve-port=0"]
    args += [f"--ready-file={ready_file}", "--ready-check-interval=50ms"]
    manager = Command(args, tmp_path / "manager.log")
    try:
        text = await until(
            manager.log,
            lambda log: bool(_LISTENING.search(log)) or manager.proc.poll() is not None,
            timeout=15.0,
            what="the shutdown-manager listening",
        )
        match = _LISTENING.search(text)
        assert match is not None, text
        return manager, int(match.group(1))
    except BaseException:
        manager.stop()
        raise


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[tuple[Command, int]]:
    started = await start_manager(tmp_path, tmp_path / "ok")
    try:
        yield started
    finally:
        started[0].stop()


async def test_shutdown_manager_healthz_answers_ok(manager: tuple[Command, int]) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"http://{LOOPBACK}:{manager[1]}/healthz")
    assert (response.status_code, response.text) == (200, "OK")


async def test_sidecar_flow_shutdown_answers_after_the_drain(
    envoy: EnvoyProcess, held: HeldConnection, manager: tuple[Command, int], tmp_path: Path
) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        # Envoy's preStop: GET /shutdown, blocking until `contour envoy shutdown` has drained.
        pre_stop = asyncio.create_task(client.get(f"http://{LOOPBACK}:{manager[1]}/shutdown"))
        with command(shutdown_args(envoy, tmp_path / "ok"), tmp_path / "shutdown.log") as shutdown:
            await polled_while_open(shutdown, times=3)
            assert not pre_stop.done()
            await held.close()
            response = await asyncio.wait_for(pre_stop, 10)
            assert await shutdown.wait() == 0, shutdown.log()
    assert (response.status_code, response.text) == (200, "OK")


async def test_stopping_the_manager_answers_a_waiting_shutdown(manager: tuple[Command, int]) -> None:
    process, port = manager
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        pre_stop = asyncio.create_task(client.get(f"http://{LOOPBACK}:{port}/shutdown"))
        await until(lambda: "does not exist" in process.log() or pre_stop.done(), what="/shutdown waiting")
        assert not pre_stop.done()
        os.kill(process.proc.pid, signal.SIGTERM)
        response = await asyncio.wait_for(pre_stop, 10)
    assert response.status_code == 503
    assert await process.wait() == 0, process.log()


# -- bad flags ---------------------------------------------------------------------------------------

BAD_FLAGS = [
    pytest.param(
        ["shutdown", "--check-interval=5"], "'--check-interval': '5': time: missing unit", id="no-unit"
    ),
    pytest.param(
        ["shutdown", "--check-interval=0s"], "--check-interval: must be greater than zero", id="zero-interval"
    ),
    pytest.param(
        ["shutdown", "--drain-delay=-1s"], "'--drain-delay': '-1s': must not be negative", id="negative-delay"
    ),
    pytest.param(
        ["shutdown", "--check-delay=soon"],
        "'--check-delay': 'soon': time: invalid duration",
        id="not-duration",
    ),
    pytest.param(
        ["shutdown", "--min-open-connections=-1"],
        "--min-open-connections: must not be negative",
        id="negative-min",
    ),
    pytest.param(
        ["shutdown", "--min-open-connections=few"],
        "Invalid value for '--min-open-connections': Input should be a valid integer",
        id="nan-min",
    ),
    pytest.param(
        ["shutdown", "--admin-address=admin.sock/x"],
        "'--admin-address': 'admin.sock/x' is neither an absolute unix socket path nor a host or IP",
        id="relative-socket",
    ),
    pytest.param(
        ["shutdown", "--admin-address=127.0.0.1", "--admin-port=70000"],
        "'--admin-port': 70000 is not a port number (1-65535)",
        id="admin-port-range",
    ),
    pytest.param(
        ["shutdown", "--ready-file=/nonexistent-dir/ok"],
        "--ready-file: directory '/nonexistent-dir' does not exist",
        id="ready-file-dir-missing",
    ),
    pytest.param(
        ["shutdown-manager", "--serve-port=70000"],
        "'--serve-port': 70000 is not a port number (0-65535)",
        id="serve-port",
    ),
    pytest.param(
        ["shutdown-manager", "--ready-check-interval=0s"],
        "--ready-check-interval: must be greater than zero",
        id="manager-zero-interval",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_FLAGS)
def test_bad_flags_exit_2_naming_the_flag(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["envoy", *args], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 2, result.output
    assert message in flat(result.output), flat(result.output)


def test_unwritable_ready_file_fails_the_command(tmp_path: Path) -> None:
    # The deadline (100 ms, nothing listens) ends the wait; then the file cannot be created, because
    # it is a symlink into a missing directory (works as root too, unlike permissions): exit 1.
    ready_file = tmp_path / "ok"
    ready_file.symlink_to(tmp_path / "missing" / "ok")
    with socket_port_closed() as port:
        args = ["envoy", "shutdown", f"--admin-address={LOOPBACK}", f"--admin-port={port}"]
        args += ["--check-interval=50ms", "--drain-timeout=100ms", f"--ready-file={ready_file}"]
        result = subprocess.run(
            [contour_command(), *args], capture_output=True, text=True, timeout=30, check=False
        )
    assert result.returncode == 1, result.stderr
    assert "cannot write the ready file" in result.stderr
