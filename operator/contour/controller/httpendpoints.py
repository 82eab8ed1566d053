"""Contour's HTTP endpoints: metrics and health (:8000) and debug (127.0.0.1:6060), on aiohttp.

* `/metrics`: the Prometheus registry in the text format (OpenMetrics when the scraper asks for it);
* `/healthz` (and `/health`, as Contour serves both): 200 when the Kubernetes API answered a cheap
  request (`/version`, what Contour's health check calls) within `timeout`, 503 with the reason
  otherwise. The probe runs per request, so the answer is never stale;
* `/readyz`: 200 once the controller published its first snapshot, 503 before;
* `/debug/dag`: the current DAG as Graphviz dot (`text/vnd.graphviz`), 503 before the first build;
* `/debug/stack`: the stack of every thread and every asyncio task, as text.

Each builder returns route definitions, so one server can carry several sets (Contour's default is
metrics and health on the same port); `start_endpoints` binds one server and raises
`EndpointBindError`, naming the address, when the port cannot be bound. A handler that fails answers
500 (aiohttp's own handling) and the server goes on.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from contour.dag.dot import dag_to_dot
from contour.dag.model import DAG

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]


class EndpointBindError(RuntimeError):
    """The endpoints' address could not be bound (in use, not local, no permission)."""


@dataclass
class ApiHealth:
    """Whether the Kubernetes API answers `probe` (e.g. a kr8s api's `version`) within `timeout`."""

    probe: Probe
    timeout: float = 5.0

    async def check(self) -> str | None:
        """None when healthy, else why not."""
        try:
            async with asyncio.timeout(self.timeout):
                await self.probe()
        except TimeoutError:
            return f"the Kubernetes API did not answer within {self.timeout:g}s"
        except Exception as error:  # any failure of the probe is the API being unreachable
            return f"the Kubernetes API is unreachable: {type(error).__name__}: {error}"
        return None


def metrics_routes(
    registry: CollectorRegistry, health: ApiHealth, ready: Callable[[], bool]
) -> list[web.RouteDef]:
    """/metrics, /healthz (+ /health) and /readyz."""

    async def metrics(request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def healthz(_request: web.Request) -> web.Response:
        reason = await health.check()
        if reason is None:
            return web.Response(text="OK\n")
        log.warning("health check failed: %s", reason)
        return web.Response(status=503, text=reason + "\n")

    async def readyz(_request: web.Request) -> web.Response:
        if ready():
            return web.Response(text="OK\n")
        return web.Response(status=503, text="not ready: no xDS snapshot published yet\n")

    return [
        web.get("/metrics", metrics),
        web.get("/healthz", healthz),
        web.get("/health", healthz),
        web.get("/readyz", readyz),
    ]


def debug_routes(current_dag: Callable[[], DAG | None]) -> list[web.RouteDef]:
    """/debug/dag and /debug/stack."""

    async def dag(_request: web.Request) -> web.Response:
        built = current_dag()
        if built is None:
            return web.Response(status=503, text="no DAG built yet\n")
        return web.Response(text=dag_to_dot(built), content_type="text/vnd.graphviz")

    async def stack(_request: web.Request) -> web.Response:
        return web.Response(text=stack_dump())

    return [web.get("/debug/dag", dag), web.get("/debug/stack", stack)]


def stack_dump() -> str:
    """Every thread's stack, then every asyncio task of the running loop with its stack."""
    out = io.StringIO()
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    frames = sys._current_frames()
    out.write(f"threads: {len(frames)}\n")
    for ident, frame in sorted(frames.items(), key=lambda item: str(names.get(item[0], ""))):
        out.write(f"\nthread {names.get(ident, '?')} (id {ident}):\n")
        out.write("".join(traceback.format_stack(frame)))
    tasks = sorted(asyncio.all_tasks(), key=lambda t: t.get_name())
    out.write(f"\nasyncio tasks: {len(tasks)}\n")
    for task in tasks:
        out.write(f"\ntask {task.get_name()!r}: {_task_state(task)}\n")
        chain = [(f, f.f_lineno or f.f_code.co_firstlineno) for f in _await_chain(task)]
        out.write("".join(traceback.StackSummary.extract(chain).format()))
    return out.getvalue()


def _await_chain(task: asyncio.Task[object]) -> list[FrameType]:
    """The frames of the task's coroutine and of what it awaits, outermost first (a suspended
    coroutine has no callers to walk up: `Task.get_stack` shows only the outermost frame)."""
    frames: list[FrameType] = []
    awaited: object = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if isinstance(frame, FrameType):
            frames.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return frames


def _task_state(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", type(coro).__name__)
    if task.done():
        return f"{name} done"
    return f"{name} pending"


@dataclass
class Runner:
    """A started endpoint server; `port` is the one bound (useful with port 0)."""

    name: str
    address: str
    port: int
    runner: web.AppRunner

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_endpoints(
    address: str, port: int, routes: Sequence[web.RouteDef], *, name: str = "http"
) -> Runner:
    """Serve `routes` on address:port; `EndpointBindError` if it cannot be bound."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, address, port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise EndpointBindError(
            f"cannot serve the {name} endpoints on {address}:{port}: {error.strerror or error}"
        ) from error
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    log.info("serving the %s endpoints on %s:%d", name, address, bound)
    return Runner(name, address, bound, runner)
