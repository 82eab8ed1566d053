"""Contour's metrics as /metrics serves them, from a controller on the embedded API server.

Every value is read over real HTTP from /metrics and parsed with prometheus_client's text parser, so
the names and labels checked are the ones a Prometheus scrape sees.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from contour import __version__
from contour.controller.metrics import ControllerMetrics, MeteredStatusWriter, proxy_counts
from contour.dag.model import ObjectRef
from contour.dag.status import ORPHANED, DetailedCondition, ProxyStatus
from contour.xds import typeurls
from tests.controller.served_controller import (
    PROXIES,
    Samples,
    Served,
    httpproxy,
    kuard_service,
    served_controller,
)
from tests.k8s.cluster import Cluster, ObjectWriter, api_for, embedded_cluster, eventually, host_port
from tests.k8s.faulty_proxy import FaultyProxy
from tests.xds.client import SotwClient

PROXY_GAUGES = (
    "contour_httpproxy",
    "contour_httpproxy_root",
    "contour_httpproxy_valid",
    "contour_httpproxy_invalid",
    "contour_httpproxy_orphaned",
)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with served_controller(tmp_path / "state") as running:
        yield running


async def create_three_proxies(served: Served) -> None:
    """One valid root, one invalid root (its Service does not exist), one orphan (no root includes it)."""
    await served.services.create(kuard_service())
    await served.proxies.create(httpproxy("good", "good.example.com"))
    await served.proxies.create(httpproxy("broken", "broken.example.com", service="missing"))
    await served.proxies.create(httpproxy("orphan", None))


async def test_build_info_carries_the_version(served: Served) -> None:
    samples = await served.samples()
    [labels] = [dict(labels) for name, labels in samples if name == "contour_build_info"]
    assert labels["version"] == __version__
    assert set(labels) == {"branch", "revision", "version"}


def proxy_gauges(samples: Samples) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (name, tuple(sorted(labels))): value
        for (name, labels), value in samples.items()
        if name in PROXY_GAUGES or (name == "contour_dag_cache_object" and ("kind", "HTTPProxy") in labels)
    }


async def test_proxy_gauges_count_valid_invalid_and_orphaned_proxies(served: Served) -> None:
    await create_three_proxies(served)
    expected = {
        ("contour_httpproxy", (("namespace", "default"),)): 3,
        ("contour_httpproxy_root", (("namespace", "default"),)): 2,
        ("contour_httpproxy_valid", (("namespace", "default"), ("vhost", "good.example.com"))): 1,
        ("contour_httpproxy_invalid", (("namespace", "default"), ("vhost", "broken.example.com"))): 1,
        ("contour_httpproxy_orphaned", (("namespace", "default"),)): 1,
        ("contour_dag_cache_object", (("kind", "HTTPProxy"),)): 3,
    }
    # The Service and the proxies come through different informers: wait for the build that has all.
    await served.wait_until(lambda samples: proxy_gauges(samples) == expected)


async def test_a_deleted_proxy_leaves_no_sample_behind(served: Served) -> None:
    await create_three_proxies(served)
    broken = (
        "contour_httpproxy_invalid",
        frozenset({"namespace": "default", "vhost": "broken.example.com"}.items()),
    )
    await served.wait_until(lambda samples: samples.get(broken) == 1)
    await served.proxies.delete("broken")

    def gone(samples: Samples) -> bool:
        invalid = [labels for name, labels in samples if name == "contour_httpproxy_invalid"]
        return (
            samples.get(("contour_httpproxy", frozenset({"namespace": "default"}.items()))) == 2
            and not invalid
        )

    await served.wait_until(gone)


async def test_every_rebuild_is_counted_timed_and_stamped(served: Served) -> None:
    before = await served.sample("contour_dagrebuild_total")
    assert before is not None and before >= 1  # the first snapshot
    started = time.time()
    await served.proxies.create(httpproxy("good", "good.example.com"))

    async def rebuilt() -> bool:
        total = await served.sample("contour_dagrebuild_total")
        return total is not None and total > before

    await eventually(rebuilt, timeout=10, message="no rebuild was counted", interval=0.05)
    samples = await served.samples()
    total = samples[("contour_dagrebuild_total", frozenset())]
    assert samples[("contour_dagrebuild_seconds_count", frozenset())] == total
    assert samples[("contour_dagrebuild_seconds_sum", frozenset())] > 0
    assert started <= samples[("contour_dagrebuild_timestamp", frozenset())] <= time.time()


async def test_written_statuses_are_counted_by_kind(served: Served) -> None:
    await served.services.create(kuard_service())
    await served.proxies.create(httpproxy("good", "good.example.com"))

    async def written() -> bool:
        return ((await served.sample("contour_status_update_success_total", kind="HTTPProxy")) or 0) >= 1

    await eventually(written, timeout=10, message="no HTTPProxy status update was counted", interval=0.05)
    samples = await served.samples()

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    assert value("contour_status_update_total", kind="HTTPProxy") >= 1
    assert value("contour_status_update_failed_total", kind="HTTPProxy") == 0
    assert value("contour_status_update_duration_seconds_count", kind="HTTPProxy", error="false") == value(
        "contour_status_update_total", kind="HTTPProxy"
    )


async def test_xds_counters_share_the_registry(served: Served) -> None:
    assert served.controller.xds is not None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{served.controller.xds.port}") as channel:
        client = SotwClient.ads(channel)
        await client.request(typeurls.CLUSTER)
        await client.recv()
        await served.wait_until(
            lambda s: (
                s.get(("contour_xds_responses_total", frozenset({"type_url": typeurls.CLUSTER}.items())), 0)
                >= 1
            )
        )
        assert await served.sample("contour_xds_open_streams", variant="sotw") == 1


async def test_informer_events_are_counted_by_operation_and_kind(served: Served) -> None:
    await served.proxies.create(httpproxy("app", "app.example.com"))
    await served.proxies.patch("app", {"spec": {"virtualhost": {"fqdn": "b.example.com"}}})
    await served.proxies.delete("app")
    await served.wait_for_sample("contour_eventhandler_operation_total", 1, op="delete", kind="HTTPProxy")
    samples = await served.samples()

    def count(op: str) -> float:
        labels = frozenset({"op": op, "kind": "HTTPProxy"}.items())
        return samples.get(("contour_eventhandler_operation_total", labels), 0.0)

    # The status writes the controller made are updates too, as in Contour.
    assert (count("add"), count("update") >= 1, count("delete")) == (1, True, 1)


async def test_the_process_reports_its_memory(served: Served) -> None:
    rss = await served.sample("process_resident_memory_bytes")
    assert rss is not None and rss > 10 * 2**20


# -- the status writer's counters, one write at a time --------------------------------------------


@dataclass(frozen=True)
class Update:
    ref: ObjectRef
    generation: int
    status: dict[str, Any]
    group: str = "projectcontour.io"
    version: str = "v1"
    plural: str = "httpproxies"


def valid_update(name: str) -> Update:
    valid = {
        "type": "Valid",
        "status": "True",
        "reason": "Valid",
        "message": "Valid HTTPProxy",
        "observedGeneration": 1,
    }
    status = {"currentStatus": "valid", "description": "Valid HTTPProxy", "conditions": [valid]}
    return Update(ObjectRef("default", name), 1, status)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with embedded_cluster(tmp_path / "state") as running:
        yield running


@pytest.fixture
async def proxies(cluster: Cluster) -> AsyncIterator[ObjectWriter]:
    client = ObjectWriter(cluster.url, path=PROXIES)
    await eventually(client.served, timeout=10, message="httpproxies are not served")
    yield client
    await client.aclose()


def counted(metrics: ControllerMetrics, outcome: str, kind: str = "HTTPProxy") -> float:
    name = "contour_status_update_total" if outcome == "total" else f"contour_status_update_{outcome}_total"
    return metrics.sample(name, kind=kind)


async def test_writing_the_same_status_twice_counts_one_noop(cluster: Cluster, proxies: ObjectWriter) -> None:
    await proxies.create(httpproxy("app", "app.example.com"))
    metrics = ControllerMetrics()
    writer = metrics.status_writer(cluster.api)
    assert await writer.write(valid_update("app")) == "written"
    assert await writer.write(valid_update("app")) == "noop"
    outcomes = ("total", "success", "noop", "failed", "conflict")
    assert {o: counted(metrics, o) for o in outcomes} == {
        "total": 2,
        "success": 2,
        "noop": 1,
        "failed": 0,
        "conflict": 0,
    }
    assert (
        metrics.sample("contour_status_update_duration_seconds_count", kind="HTTPProxy", error="false") == 2
    )


async def test_a_conflict_on_the_way_is_counted(
    cluster: Cluster, proxies: ObjectWriter, tmp_path: Path
) -> None:
    await proxies.create(httpproxy("app", "app.example.com"))
    faulty = await FaultyProxy(*host_port(cluster.url)).start()

    async def touch() -> None:  # between the writer's read and its patch: a 409 for the patch
        await proxies.patch("app", {"metadata": {"labels": {"touched": "yes"}}})

    try:
        async with api_for(faulty.url, tmp_path) as api:
            metrics = ControllerMetrics()
            faulty.hold_next_request(b"PATCH ", touch)
            assert await metrics.status_writer(api).write(valid_update("app")) == "written"
    finally:
        await faulty.stop()
    assert (counted(metrics, "conflict"), counted(metrics, "success"), counted(metrics, "total")) == (1, 1, 1)


async def test_an_unreachable_api_counts_a_failed_update(cluster: Cluster, tmp_path: Path) -> None:
    faulty = await FaultyProxy(*host_port(cluster.url)).start()
    async with api_for(faulty.url, tmp_path) as api:
        await faulty.stop()  # nothing listens there any more
        metrics = ControllerMetrics()
        writer = metrics.status_writer(api)
        assert isinstance(writer, MeteredStatusWriter)
        assert await writer.write(valid_update("app")) == "failed"
    assert (counted(metrics, "failed"), counted(metrics, "success")) == (1, 0)
    assert metrics.sample("contour_status_update_duration_seconds_count", kind="HTTPProxy", error="true") == 1


# -- counting proxies (pure) ------------------------------------------------------------------------


def status_of(name: str, vhost: str = "", *errors: str, namespace: str = "default") -> ProxyStatus:
    valid = DetailedCondition("Valid", "Valid", "Valid HTTPProxy")
    for error in errors:
        valid.add_error(error, "Reason", "message")
    return ProxyStatus(ObjectRef(namespace, name), 1, valid, vhost)


def test_proxy_counts_follow_contours_classification() -> None:
    counts = proxy_counts(
        [
            status_of("a", "a.example.com"),
            status_of("b", "b.example.com", "ServiceError"),
            status_of("c", "", ORPHANED),
            status_of("d", "d.example.com", namespace="team"),
            status_of("e", "e.example.com", namespace="team"),
            status_of("f", "", namespace="team"),  # an included child: valid, not a root
        ]
    )
    assert counts.total == {"default": 3, "team": 3}
    assert counts.root == {"default": 2, "team": 2}
    assert counts.valid == {
        ("default", "a.example.com"): 1,
        ("team", "d.example.com"): 1,
        ("team", "e.example.com"): 1,
        ("team", ""): 1,
    }
    assert counts.invalid == {("default", "b.example.com"): 1}
    assert counts.orphaned == {"default": 1}
