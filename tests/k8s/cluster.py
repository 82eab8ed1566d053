"""The embedded API server as a test cluster: started in-process on 127.0.0.1:0, with a kr8s api on it.

`embedded_cluster()` yields a `Cluster` (url, kubeconfig path, kr8s api, the server); other tiers can
use it directly or through the `cluster` fixture of this package's conftest. `ObjectWriter` changes
objects with plain HTTP, straight to the server, and reads the server's truth for comparisons.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import kr8s.asyncio
import yaml

from contour.apiserver.server import APIServer, APIServerConfig
from contour.k8s.informer import Informer
from tests.k8s.event_log import as_dict


@dataclass
class Cluster:
    url: str
    kubeconfig: Path
    api: kr8s.asyncio.Api
    server: APIServer | None = None


def write_kubeconfig(path: Path, url: str) -> Path:
    """A kubeconfig for `url` without credentials (the embedded server started without a token)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": url}}],
        "users": [{"name": "test", "user": {}}],
        "contexts": [
            {"name": "test", "context": {"cluster": "test", "user": "test", "namespace": "default"}}
        ],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


async def kr8s_api(kubeconfig: Path) -> kr8s.asyncio.Api:
    return await kr8s.asyncio.api(kubeconfig=str(kubeconfig))


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@contextlib.asynccontextmanager
async def api_for(url: str, directory: Path) -> AsyncIterator[kr8s.asyncio.Api]:
    """A kr8s api on `url` (e.g. a proxy in front of the server), closed at the end."""
    kubeconfig = write_kubeconfig(directory / f"kubeconfig-{host_port(url)[1]}", url)
    api = await kr8s_api(kubeconfig)
    try:
        yield api
    finally:
        await close_api(api)


async def close_api(api: kr8s.asyncio.Api) -> None:
    # kr8s has no public close; its httpx session would otherwise be collected with a warning.
    session = getattr(api, "_session", None)
    if session is not None:
        await session.aclose()


@contextlib.asynccontextmanager
async def embedded_cluster(
    state_dir: Path, *, history: int = 10_000, bookmark_interval: float = 30.0
) -> AsyncIterator[Cluster]:
    server = APIServer(
        APIServerConfig(state_dir=state_dir, port=0, history=history, bookmark_interval=bookmark_interval)
    )
    await server.start()
    try:
        kubeconfig = server.write_kubeconfig()
        api = await kr8s_api(kubeconfig)
        try:
            yield Cluster(server.url, kubeconfig, api, server)
        finally:
            await close_api(api)
    finally:
        await server.stop()


async def eventually(
    predicate: Callable[[], Any], *, timeout: float, message: str | Callable[[], str], interval: float = 0.01
) -> Any:
    """Poll `predicate` (sync or async) until it is truthy; fail with `message` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s: {text}")
        await asyncio.sleep(interval)


class ObjectWriter:
    """Creates, changes and deletes objects of one resource through plain HTTP to the server."""

    def __init__(self, url: str, *, path: str = "/api/v1/namespaces/default/configmaps") -> None:
        self.path = path
        self.http = httpx.AsyncClient(base_url=url, timeout=10)
        self.writes = 0

    async def aclose(self) -> None:
        await self.http.aclose()

    async def create(self, body: dict[str, Any], **params: str) -> dict[str, Any]:
        return await self._send("POST", self.path, json=body, params=params)

    async def patch(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/merge-patch+json"}
        return await self._send("PATCH", f"{self.path}/{name}", json=patch, headers=headers)

    async def delete(self, name: str) -> dict[str, Any]:
        return await self._send("DELETE", f"{self.path}/{name}")

    async def _send(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kwargs)
        if response.is_error:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        self.writes += 1
        body: dict[str, Any] = response.json()
        return body

    async def served(self) -> bool:
        """Whether the server answers a list of this resource (a new CRD's resource is served)."""
        return (await self.http.get(self.path)).status_code == 200

    async def listed(self) -> dict[str, dict[str, Any]]:
        """The server's objects of this resource: key -> object, read in one unpaged list."""
        response = await self.http.get(self.path)
        response.raise_for_status()
        out: dict[str, dict[str, Any]] = {}
        body = response.json()
        for item in body["items"]:
            item.setdefault("apiVersion", body["apiVersion"])
            item.setdefault("kind", body["kind"].removesuffix("List"))
            meta = item["metadata"]
            key = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
            out[key] = item
        return out


def configmap(name: str, value: str = "0", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"value": value},
    }


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[asyncio.Task[None]]:
    """Run the informer in a task; at the end cancel it, and fail if it had died of an exception."""
    task = asyncio.create_task(informer.run(), name=f"informer {informer.name}")
    try:
        yield task
    finally:
        if task.done() and not task.cancelled():
            task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def store_matches(informer: Informer, writer: ObjectWriter, timeout: float = 10) -> None:
    """Wait until the informer holds exactly the server's objects (same resourceVersions)."""
    server: dict[str, dict[str, Any]] = {}

    def same() -> bool:
        return informer.resource_versions() == {
            k: v["metadata"]["resourceVersion"] for k, v in server.items()
        }

    server = await writer.listed()
    await eventually(same, timeout=timeout, message=lambda: f"{informer.resource_versions()} != server")
    assert {k: as_dict(v) for k, v in informer.store.items()} == server
