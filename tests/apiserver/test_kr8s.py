"""kr8s, unmodified, against the embedded API server: CRUD, list, status patch, watch."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import kr8s
import kr8s.asyncio
from kr8s.asyncio.objects import ConfigMap, new_class

from tests.support.apiserver_process import APIServerProcess

HTTPProxy = new_class(kind="HTTPProxy", version="projectcontour.io/v1", namespaced=True, plural="httpproxies")


def proxy_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "virtualhost": {"fqdn": f"{name}.example.com"},
            "routes": [{"services": [{"name": "s", "port": 80}]}],
        },
    }


async def test_crud_and_status_patch(server: APIServerProcess) -> None:
    api = await kr8s.asyncio.api(kubeconfig=str(server.kubeconfig))
    proxy = await HTTPProxy(proxy_body("kr8s-crud"), api=api)
    await proxy.create()
    assert proxy.metadata.generation == 1
    fetched = await HTTPProxy.get("kr8s-crud", namespace="default", api=api)
    assert fetched.spec.virtualhost.fqdn == "kr8s-crud.example.com"
    await fetched.patch({"spec": {"virtualhost": {"fqdn": "patched.example.com"}}}, type="merge")
    await fetched.patch(
        {"status": {"currentStatus": "valid", "description": "ok"}}, subresource="status", type="merge"
    )
    again = await HTTPProxy.get("kr8s-crud", namespace="default", api=api)
    assert again.spec.virtualhost.fqdn == "patched.example.com"
    assert again.status.currentStatus == "valid" and again.metadata.generation == 2
    listed = [
        p["metadata"]["name"] async for p in api.get("httpproxies.projectcontour.io", namespace="default")
    ]
    assert "kr8s-crud" in listed
    await again.delete()
    assert not await again.exists()


async def test_watch_delivers_changes(server: APIServerProcess) -> None:
    api = await kr8s.asyncio.api(kubeconfig=str(server.kubeconfig))
    seen: list[tuple[str, str]] = []
    first = asyncio.Event()

    async def watch() -> None:
        async with contextlib.aclosing(api.watch("configmaps", namespace="default")) as events:
            async for event, obj in events:
                if obj.name == "kr8s-watched":
                    data = obj.raw.get("data", {})  # type: ignore[no-untyped-call]
                    seen.append((event, data.get("v", "")))
                    first.set()
                    if event == "DELETED":
                        return

    cm = await ConfigMap(
        {"metadata": {"name": "kr8s-watched", "namespace": "default"}, "data": {"v": "1"}}, api=api
    )
    await cm.create()
    # A watch without a resourceVersion starts with the current objects as ADDED events.
    task = asyncio.create_task(watch())
    await asyncio.wait_for(first.wait(), timeout=15)
    await cm.patch({"data": {"v": "2"}})
    await cm.delete()
    await asyncio.wait_for(task, timeout=15)
    assert seen[-3:] == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]


async def test_conflict_raises_server_error(server: APIServerProcess) -> None:
    api = await kr8s.asyncio.api(kubeconfig=str(server.kubeconfig))
    cm = await ConfigMap({"metadata": {"name": "kr8s-conflict", "namespace": "default"}}, api=api)
    await cm.create()
    try:
        await (
            await ConfigMap({"metadata": {"name": "kr8s-conflict", "namespace": "default"}}, api=api)
        ).create()
    except kr8s.ServerError as error:
        assert error.response is not None and error.response.status_code == 409
        assert isinstance(error.status, dict) and error.status["reason"] == "AlreadyExists"
    else:
        raise AssertionError("creating an existing object must fail with 409 AlreadyExists")
