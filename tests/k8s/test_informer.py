"""The informer against the embedded API server without injected network faults.

Paged initial list, watch delivery, bookmarks, 410 on a resumed watch and on a continue token (relist
with a diff), and parsing into the product's models with INVALID reports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kr8s.asyncio
import pydantic
import pytest

from contour.api.projectcontour.v1 import HTTPProxy
from contour.k8s.informer import Informer
from tests.k8s.cluster import (
    Cluster,
    ObjectWriter,
    api_for,
    close_api,
    configmap,
    embedded_cluster,
    eventually,
    host_port,
    running,
    store_matches,
)
from tests.k8s.event_log import EventLog
from tests.k8s.faulty_proxy import FaultyProxy


def configmaps(api: Any, log: EventLog, **options: Any) -> Informer:
    return Informer(
        api, group="", version="v1", plural="configmaps", namespace="default", on_event=log, **options
    )


async def test_paged_list_then_watch_delivers_create_update_delete(
    cluster: Cluster, writer: ObjectWriter
) -> None:
    for n in range(25):
        await writer.create(configmap(f"cm-{n:02}"))
    log = EventLog()
    informer = configmaps(cluster.api, log, page_size=10)
    async with running(informer):
        await informer.wait_synced(10)
        assert informer.counters.list_pages == 3
        assert len(informer.store) == 25 and log.count("ADDED") == 25
        await writer.create(configmap("new"))
        await writer.patch("cm-03", {"data": {"value": "changed"}})
        await writer.delete("cm-07")
        await eventually(lambda: log.of("default/cm-07")[-1:] == ["DELETED"], timeout=10, message="delete")
        await store_matches(informer, writer)
    assert log.of("default/new") == ["ADDED"]
    assert log.of("default/cm-03") == ["ADDED", "MODIFIED"]
    assert log.problems(await writer.listed()) == []
    assert informer.counters.relists == 0 and informer.counters.errors == 0


async def test_bookmarks_advance_the_resource_version(tmp_path: Path) -> None:
    async with embedded_cluster(tmp_path / "state", bookmark_interval=0.1) as cluster:
        writer = ObjectWriter(cluster.url)
        log = EventLog()
        informer = configmaps(cluster.api, log)
        async with running(informer):
            await informer.wait_synced(10)
            # A write to another resource moves the server's resourceVersion but sends this watch nothing.
            secret = await ObjectWriter(cluster.url, path="/api/v1/namespaces/default/secrets").create(
                {"metadata": {"name": "s"}, "stringData": {"k": "v"}}
            )
            rv = secret["metadata"]["resourceVersion"]
            await eventually(
                lambda: informer.resource_version == rv,
                timeout=5,
                message=lambda: f"rv {informer.resource_version!r}, wanted {rv!r} from a bookmark",
            )
        assert informer.counters.bookmarks >= 1
        assert log.events == []
        await writer.aclose()


async def test_watch_expired_while_stopped_relists_with_a_diff(tmp_path: Path) -> None:
    async with embedded_cluster(tmp_path / "state", history=20) as cluster:
        writer = ObjectWriter(cluster.url)
        for n in range(10):
            await writer.create(configmap(f"cm-{n}"))
        log = EventLog()
        informer = configmaps(cluster.api, log)
        async with running(informer):
            await informer.wait_synced(10)
        # Stopped: 30 writes push the informer's resourceVersion out of the 20 kept in history.
        for n in range(5):
            await writer.delete(f"cm-{n}")
        for n in range(5, 8):
            await writer.patch(f"cm-{n}", {"data": {"value": "1"}})
        for n in range(22):
            await writer.create(configmap(f"late-{n}"))
        async with running(informer):
            await store_matches(informer, writer)
        assert informer.counters.expired == 1
        assert informer.counters.relists == 1
        assert [e.key for e in log.events if e.type == "DELETED"] == [f"default/cm-{n}" for n in range(5)]
        assert log.of("default/cm-5") == ["ADDED", "MODIFIED"]
        assert log.of("default/cm-9") == ["ADDED"]
        assert log.problems(await writer.listed()) == []
        await writer.aclose()


async def test_expired_continue_token_restarts_the_list(tmp_path: Path) -> None:
    async with embedded_cluster(tmp_path / "state", history=20) as cluster:
        writer = ObjectWriter(cluster.url)
        for n in range(30):
            await writer.create(configmap(f"cm-{n:02}"))
        proxy = await FaultyProxy(*host_port(cluster.url)).start()

        async def churn() -> None:
            await writer.delete("cm-29")
            for n in range(25):
                await writer.patch(f"cm-{n:02}", {"data": {"value": "1"}})

        # Between the first page and the second, 26 writes compact the token's resourceVersion away.
        proxy.hold_next_request(b"continue=", churn)
        log = EventLog()
        async with api_for(proxy.url, tmp_path) as api:
            informer = configmaps(api, log, page_size=10)
            async with running(informer):
                await informer.wait_synced(10)
                await store_matches(informer, writer)
        assert proxy.held == 1
        assert informer.counters.expired == 1
        assert informer.counters.lists == 1  # the expired list never completed
        assert informer.counters.list_pages == 2  # its first page, then one unpaged list
        assert "default/cm-29" not in informer.store and log.of("default/cm-00") == ["ADDED"]
        await proxy.stop()
        await writer.aclose()


async def test_httpproxy_objects_parse_into_the_model(cluster: Cluster) -> None:
    writer = ObjectWriter(cluster.url, path="/apis/projectcontour.io/v1/namespaces/default/httpproxies")
    await writer.create(_httpproxy("projectcontour.io/v1", "a", {"virtualhost": {"fqdn": "a.example.com"}}))
    log = EventLog()
    informer = Informer(
        cluster.api,
        group="projectcontour.io",
        version="v1",
        plural="httpproxies",
        model=HTTPProxy,
        on_event=log,
    )
    async with running(informer):
        await informer.wait_synced(10)
        await writer.create(
            _httpproxy("projectcontour.io/v1", "b", {"virtualhost": {"fqdn": "b.example.com"}})
        )
        await eventually(lambda: "default/b" in informer.store, timeout=10, message="b in the store")
    for key in ("default/a", "default/b"):
        proxy = informer.store[key]
        assert isinstance(proxy, HTTPProxy)
        assert proxy.spec.virtualhost is not None
        assert proxy.spec.virtualhost.fqdn == f"{key[-1]}.example.com"
    assert informer.invalid == {}
    await writer.aclose()


LOOSE_HTTPPROXY_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "httpproxies.informer.test.example"},
    "spec": {
        "group": "informer.test.example",
        "scope": "Namespaced",
        "names": {
            "kind": "HTTPProxy",
            "plural": "httpproxies",
            "singular": "httpproxy",
            "listKind": "HTTPProxyList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                        },
                    }
                },
            }
        ],
    },
}


async def test_objects_the_model_rejects_are_reported_invalid(cluster: Cluster) -> None:
    # A test-only CRD of kind HTTPProxy with an open schema admits what projectcontour.io's would refuse.
    crds = ObjectWriter(cluster.url, path="/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    await crds.create(LOOSE_HTTPPROXY_CRD)
    writer = ObjectWriter(cluster.url, path="/apis/informer.test.example/v1/namespaces/default/httpproxies")
    await eventually(writer.served, timeout=10, message="the test CRD to be served")
    api_version = "informer.test.example/v1"
    await writer.create(_httpproxy(api_version, "bad", {"virtualhost": {"fqdn": 42}, "bogus": True}))
    await writer.create(_httpproxy(api_version, "good", {"virtualhost": {"fqdn": "good.example.com"}}))
    log = EventLog()
    informer = Informer(
        cluster.api,
        group="informer.test.example",
        version="v1",
        plural="httpproxies",
        model=HTTPProxy,
        on_event=log,
    )
    async with running(informer):
        await informer.wait_synced(10)
        assert sorted(informer.store) == ["default/good"]
        reason = informer.invalid["default/bad"]
        assert "spec.virtualhost.fqdn" in reason and "spec.bogus" in reason
        [invalid] = [e for e in log.events if e.type == "INVALID"]
        assert invalid.key == "default/bad" and invalid.reason == reason
        # Fixed, it becomes a valid object; broken again, it leaves the store; deleted, it is gone.
        await writer.patch("bad", {"spec": {"virtualhost": {"fqdn": "fixed.example.com"}, "bogus": None}})
        await eventually(
            lambda: "default/bad" in informer.store,
            timeout=10,
            message=lambda: f"fixed object: {informer.invalid}",
        )
        assert "default/bad" not in informer.invalid
        await writer.patch("good", {"spec": {"routes": "not a list"}})
        await eventually(lambda: "default/good" in informer.invalid, timeout=10, message="broken object")
        await writer.delete("good")
        await eventually(lambda: "default/good" not in informer.invalid, timeout=10, message="deleted")
    assert log.of("default/bad") == ["INVALID", "ADDED"]
    assert log.of("default/good") == ["ADDED", "INVALID", "DELETED"]
    assert informer.counters.errors == 0
    await writer.aclose()
    await crds.aclose()


class NarrowConfigMap(pydantic.BaseModel):
    """A deliberately narrower model than the server's: no binaryData, values must be digits."""

    model_config = pydantic.ConfigDict(extra="forbid")
    api_version: str = pydantic.Field(alias="apiVersion")
    kind: str
    metadata: dict[str, Any]
    data: dict[str, pydantic.constr(pattern=r"^\d+$")] = {}  # type: ignore[valid-type]


async def test_a_narrower_model_reports_invalid_and_keeps_watching(
    cluster: Cluster, writer: ObjectWriter
) -> None:
    log = EventLog()
    informer = configmaps(cluster.api, log, model=NarrowConfigMap)
    async with running(informer):
        await informer.wait_synced(10)
        await writer.create(configmap("words", value="not digits"))
        await writer.create(configmap("digits", value="42"))
        await eventually(lambda: "default/digits" in informer.store, timeout=10, message="digits")
        assert informer.invalid.keys() == {"default/words"}
        assert "data.value" in informer.invalid["default/words"]
    assert isinstance(informer.store["default/digits"], NarrowConfigMap)
    assert log.of("default/words") == ["INVALID"]


@pytest.mark.cluster
@pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs KUBECONFIG for a real cluster")
async def test_a_real_cluster_lists_and_watches() -> None:
    api = await kr8s.asyncio.api(kubeconfig=os.environ["KUBECONFIG"])
    informer = Informer(api, group="", version="v1", plural="namespaces", page_size=2)
    async with running(informer):
        await informer.wait_synced(30)
        async with api.call_api("GET", version="v1", url="namespaces") as response:
            listed = {item["metadata"]["name"] for item in response.json()["items"]}
        # Namespaces change rarely: the paged list must have found exactly what one unpaged list finds.
        assert set(informer.store) == listed
        assert informer.counters.errors == 0
    await close_api(api)


def _httpproxy(api_version: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }
