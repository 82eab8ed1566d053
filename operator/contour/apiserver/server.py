"""The embedded API server as a running thing: the aiohttp application, its listener and its state.

`APIServer` opens the SQLite store in the state directory, installs every CRD of the product on the
first start, serves HTTP or HTTPS (a self-signed certificate generated into the state directory) on
loopback by default, optionally requires a bearer token, writes a kubeconfig for kubectl and kr8s, and
runs the garbage collector beside the handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from contour.apiserver import errors
from contour.apiserver.builtin_crds import bundled_crds
from contour.apiserver.gc import GarbageCollector
from contour.apiserver.handlers import Handlers, status_response
from contour.apiserver.resources import ResourceRegistry
from contour.apiserver.schemas import builtin_document
from contour.apiserver.service import APIService, WriteOptions
from contour.apiserver.store import Store
from contour.apiserver.tls import ensure_serving_certificate

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/healthz", "/readyz", "/livez", "/version")


@dataclass
class APIServerConfig:
    state_dir: Path
    address: str = "127.0.0.1"
    port: int = 6443
    token: str | None = None
    tls: bool = False
    history: int = 10_000
    bookmark_interval: float = 30.0
    install_crds: bool = True


def kube_version() -> dict[str, str]:
    version = str(builtin_document()["kubeVersion"])
    major, minor, _patch = version.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{version}",
        "gitCommit": "contour-embedded",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


class APIServer:
    def __init__(self, config: APIServerConfig) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.state_dir / "state.db", history=config.history)
        self.service = APIService(self.store, ResourceRegistry())
        self.gc = GarbageCollector(self.service)
        self.handlers = Handlers(
            self.service, bookmark_interval=config.bookmark_interval, version=kube_version()
        )
        self.runner: web.AppRunner | None = None
        self.port = 0
        self._gc_task: asyncio.Task[None] | None = None
        if self.store.created and config.install_crds:
            self._install_crds()

    def _install_crds(self) -> None:
        crd_type = self.service.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        ns_type = self.service.registry.lookup("", "v1", "namespaces")
        assert crd_type is not None and ns_type is not None
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.service.create(
                ns_type, "", {"metadata": {"name": name}}, WriteOptions(field_manager="contour-apiserver")
            )
        for crd in bundled_crds():
            self.service.create(crd_type, "", crd, WriteOptions(field_manager="contour-apiserver"))

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls else "http"

    @property
    def url(self) -> str:
        host = self.config.address if ":" not in self.config.address else f"[{self.config.address}]"
        return f"{self.scheme}://{host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=4 * 1024 * 1024)
        h = self.handlers
        app.router.add_get("/version", h.version_info)
        app.router.add_get("/version/", h.version_info)  # kr8s asks with a trailing slash
        for path in ("/healthz", "/readyz", "/livez"):
            app.router.add_get(path, h.health)
        for path in ("/api", "/apis", "/api/", "/apis/"):  # kr8s asks with a trailing slash
            app.router.add_get(path, h.discovery)
        app.router.add_get("/api/{version}", h.discovery)
        app.router.add_get("/apis/{group}", h.discovery)
        app.router.add_get("/apis/{group}/{version}", h.discovery)
        app.router.add_get("/openapi/{tail:.*}", h.openapi)
        app.router.add_route("*", "/api/{tail:.+}", h.resource)
        app.router.add_route("*", "/apis/{tail:.+}", h.resource)
        return app

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        token = self.config.token
        if token and request.path not in PUBLIC_PATHS:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return status_response(errors.unauthorized())
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status == 413:
                return status_response(errors.too_large())
            if exc.status == 404:
                return status_response(
                    errors.APIError(404, "NotFound", "the server could not find the requested resource")
                )
            raise

    async def start(self) -> None:
        ssl_context = None
        if self.config.tls:
            cert, key = ensure_serving_certificate(self.config.state_dir, self.config.address)
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(cert, key)
        self.runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.address, self.config.port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.port
        self.gc.recheck()
        self._gc_task = asyncio.create_task(self.gc.run())
        self.write_kubeconfig()
        log.info("API server listening on %s", self.url)

    async def stop(self) -> None:
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc_task
        for watcher in list(self.service.hub.watchers):
            watcher.queue.put_nowait(None)
        if self.runner is not None:
            await self.runner.cleanup()
        self.store.close()

    def kubeconfig(self) -> dict[str, Any]:
        cluster: dict[str, Any] = {"server": self.url}
        if self.config.tls:
            cluster["certificate-authority"] = str(self.config.state_dir / "serving-ca.crt")
        # kubectl asks for a user name over HTTPS when a user has no credentials at all; without --token
        # the server ignores the token, so any value will do.
        user: dict[str, Any] = {"token": self.config.token or "anonymous"}
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "contour", "cluster": cluster}],
            "users": [{"name": "contour", "user": user}],
            "contexts": [
                {
                    "name": "contour",
                    "context": {"cluster": "contour", "user": "contour", "namespace": "default"},
                }
            ],
            "current-context": "contour",
        }

    def write_kubeconfig(self) -> Path:
        path = self.config.state_dir / "kubeconfig"
        path.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False), "utf-8")
        path.chmod(0o600)
        return path


async def serve_forever(config: APIServerConfig, ready: Callable[[APIServer], None] | None = None) -> None:
    server = APIServer(config)
    await server.start()
    if ready is not None:
        ready(server)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
