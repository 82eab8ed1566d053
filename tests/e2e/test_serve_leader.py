"""Two `contour serve` replicas on one `contour apiserver`: one leader, the same xDS, status written once.

Short leader election timings (lease 2 s, renew deadline 1.5 s, retry 250 ms) keep the hand-over test
to seconds. Which replica is which is read from their own logs (the identity each one contends with)
and the Lease's `holderIdentity`; who wrote status from each replica's /metrics
(`contour_status_update_total` counts every status write a replica attempts) and from the API server's
watch (each status write is one MODIFIED event).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contour.xds import typeurls
from contour.xds.client import Subscription, responses
from tests.support.apiserver_process import APIServerProcess, wait_for
from tests.support.serve_process import ServeProcess

LEASE_DURATION = 2.0
RETRY_PERIOD = 0.25
JITTERED_RETRY = RETRY_PERIOD * 2.2  # client-go's JitterFactor 1.2
SLACK = 2.0  # a loaded 2-core machine: process scheduling, the API server's own latency
ELECTION_FLAGS = [
    "--leader-election-lease-duration",
    "2s",
    "--leader-election-renew-deadline",
    "1500ms",
    "--leader-election-retry-period",
    "250ms",
    "--log-format",
    "json",
]
LEASE = "/apis/coordination.k8s.io/v1/namespaces/projectcontour/leases/leader-elect"
PROXIES = "/apis/projectcontour.io/v1/namespaces/default/httpproxies"
XDS_TYPES = (typeurls.CLUSTER, typeurls.ENDPOINT, typeurls.LISTENER, typeurls.ROUTE)
ACQUIRING = re.compile(r"attempting to acquire the lease as (\S+)")

Manifest = dict[str, Any]


@dataclass
class Replicas:
    apiserver: APIServerProcess
    http: httpx.Client
    serves: list[ServeProcess]

    def holder(self) -> str:
        response = self.http.get(LEASE)
        return str(response.json()["spec"].get("holderIdentity") or "") if response.status_code == 200 else ""

    def by_identity(self, identity: str) -> ServeProcess:
        found = [s for s in self.serves if identity_of(s) == identity]
        assert len(found) == 1, f"{identity!r} is the identity of {len(found)} replicas"
        return found[0]

    def leader(self) -> ServeProcess:
        holder = wait_for(self.holder, timeout=20, interval=0.05, message="a Lease holder")
        return self.by_identity(holder)

    def follower(self) -> ServeProcess:
        leader = self.leader()
        return next(s for s in self.serves if s is not leader)


def identity_of(serve: ServeProcess) -> str:
    for record in serve.log_records():
        found = ACQUIRING.search(str(record.get("msg", "")))
        if found:
            return found.group(1)
    return ""


def namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def backend_service() -> list[tuple[str, Manifest]]:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo", "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }
    endpoints = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "echo-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "echo"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }
    return [
        ("/api/v1/namespaces/default/services", service),
        ("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", endpoints),
    ]


def proxy(name: str, fqdn: str) -> Manifest:
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"virtualhost": {"fqdn": fqdn}, "routes": [{"services": [{"name": "echo", "port": 80}]}]},
    }


def create(http: httpx.Client, path: str, body: Manifest) -> Manifest:
    response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    created: Manifest = response.json()
    return created


def set_fqdn(http: httpx.Client, name: str, fqdn: str) -> Manifest:
    response = http.patch(
        f"{PROXIES}/{name}",
        json={"spec": {"virtualhost": {"fqdn": fqdn}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    patched: Manifest = response.json()
    return patched


def status_of(http: httpx.Client, name: str) -> Manifest:
    return dict(http.get(f"{PROXIES}/{name}").json().get("status") or {})


def observed_generation(status: Manifest) -> int:
    return max((int(c.get("observedGeneration") or 0) for c in status.get("conditions") or []), default=0)


def wait_status_of_generation(http: httpx.Client, name: str, generation: int) -> Manifest:
    status = wait_for(
        lambda: (s := status_of(http, name)) and observed_generation(s) == generation and s,
        timeout=20,
        interval=0.05,
        message=f"HTTPProxy default/{name}'s status of generation {generation}",
    )
    return dict(status)


def status_writes(serve: ServeProcess) -> float:
    """contour_status_update_total of a replica, all kinds: every status write it attempted."""
    text = serve.get(serve.http_port, "/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "contour_status_update_total"
    )


def modifications(http: httpx.Client, name: str, since: str, until: int) -> list[Manifest]:
    """The MODIFIED events of an HTTPProxy after resourceVersion `since`, up to the first whose status
    has observedGeneration `until` (the watch ends there)."""
    events: list[Manifest] = []
    params = {
        "watch": "1",
        "resourceVersion": since,
        "fieldSelector": f"metadata.name={name}",
        "timeoutSeconds": "20",
    }
    with http.stream("GET", PROXIES, params=params, timeout=30) as stream:
        for line in stream.iter_lines():
            if not line:
                continue
            event = httpx.Response(200, content=line).json()
            if event["type"] != "MODIFIED":
                continue
            events.append(event["object"])
            if observed_generation(event["object"].get("status") or {}) == until:
                break
    return events


async def served(serve: ServeProcess, type_url: str) -> dict[str, bytes]:
    """The resources one replica serves of one type (first answer to a wildcard SotW stream)."""
    target = f"127.0.0.1:{serve.xds_port}"
    async with contextlib.aclosing(responses(target, Subscription(type_url))) as stream:
        async for response in stream:
            return {
                _name(any_resource.value, type_url): any_resource.value for any_resource in response.resources
            }
    return {}


def _name(value: bytes, type_url: str) -> str:
    message = typeurls.MESSAGE_CLASSES[type_url].FromString(value)
    return typeurls.resource_name(message)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    work_dir = tmp_path_factory.mktemp("serve-leader")
    apiserver = APIServerProcess(work_dir / "api").start()
    first = ServeProcess(apiserver.kubeconfig, work_dir, list(ELECTION_FLAGS), name="serve-0")
    # Replicas of one Deployment: the same Envoy listener ports (they are in the xDS they serve).
    second = ServeProcess(
        apiserver.kubeconfig,
        work_dir,
        list(ELECTION_FLAGS),
        name="serve-1",
        envoy_http_port=first.envoy_http_port,
        envoy_https_port=first.envoy_https_port,
        stats_port=first.stats_port,
    )
    serves = [first, second]
    try:
        with apiserver.client() as http:
            create(http, "/api/v1/namespaces", namespace("projectcontour"))
            for path, body in backend_service():
                create(http, path, body)
            create(http, PROXIES, proxy("app", "app.example.com"))
            for serve in serves:
                serve.launch()
            for serve in serves:
                serve.wait_ready(60)
            yield Replicas(apiserver, http, serves)
    finally:
        for serve in serves:
            serve.stop()
        apiserver.stop()


def test_exactly_one_replica_holds_the_lease(replicas: Replicas) -> None:
    leader = replicas.leader()
    identities = {identity_of(s) for s in replicas.serves}
    assert len(identities) == 2 and "" not in identities, identities
    assert replicas.holder() == identity_of(leader)
    follower = next(s for s in replicas.serves if s is not leader)
    assert "now leading" not in follower.log()


async def test_both_replicas_serve_the_same_xds(replicas: Replicas) -> None:
    first, second = replicas.serves
    for type_url in XDS_TYPES:
        deadline = time.monotonic() + 20
        while True:
            a, b = await served(first, type_url), await served(second, type_url)
            if a and a == b:
                break
            differing = sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))
            assert time.monotonic() < deadline, f"{typeurls.SHORT_NAMES[type_url]} differs: {differing}"
    routes = await served(first, typeurls.ROUTE)
    assert any(b"app.example.com" in value for value in routes.values()), sorted(routes)


def test_only_the_leader_writes_status_once_per_change(replicas: Replicas) -> None:
    http = replicas.http
    leader, follower = replicas.leader(), replicas.follower()
    wait_status_of_generation(http, "app", 1)
    leader_writes = status_writes(leader)
    changed = set_fqdn(http, "app", "changed.example.com")
    events = modifications(http, "app", changed["metadata"]["resourceVersion"], until=2)
    # One status write for one change; the spec change itself was `changed`, before the watch began.
    assert len(events) == 1, [e["metadata"]["resourceVersion"] for e in events]
    wait_for(lambda: status_writes(leader) > leader_writes, timeout=5, message="the leader's write counted")
    assert status_writes(leader) == leader_writes + 1
    assert status_writes(follower) == 0


def test_killing_the_leader_hands_over_within_the_lease_and_status_writes_resume(replicas: Replicas) -> None:
    http = replicas.http
    leader, follower = replicas.leader(), replicas.follower()
    successor = identity_of(follower)
    leader.kill()
    killed_at = time.monotonic()
    wait_for(lambda: replicas.holder() == successor, timeout=20, interval=0.05, message="a new Lease holder")
    took = time.monotonic() - killed_at
    assert took < LEASE_DURATION + JITTERED_RETRY + SLACK, f"hand-over took {took:.2f}s"
    generation = set_fqdn(http, "app", "after-handover.example.com")["metadata"]["generation"]
    wait_status_of_generation(http, "app", generation)
    assert status_of(http, "app")["currentStatus"] == "valid"
    assert status_writes(follower) >= 1


def test_a_replica_stopped_with_sigterm_releases_the_lease_to_a_standby_at_once(replicas: Replicas) -> None:
    leader = replicas.leader()
    standby = ServeProcess(
        replicas.apiserver.kubeconfig,
        leader.work_dir,
        list(ELECTION_FLAGS),
        name="serve-2",
        envoy_http_port=leader.envoy_http_port,
        envoy_https_port=leader.envoy_https_port,
        stats_port=leader.stats_port,
    )
    replicas.serves.append(standby)
    standby.start()
    identity = wait_for(lambda: identity_of(standby), timeout=10, message="the standby's identity")
    assert replicas.holder() == identity_of(leader)
    signalled_at = time.monotonic()
    assert leader.stop() == 0
    wait_for(lambda: replicas.holder() == identity, timeout=20, interval=0.05, message="the standby leading")
    took = time.monotonic() - signalled_at
    assert "released the lease" in leader.log()
    assert took < LEASE_DURATION, f"hand-over took {took:.2f}s: the lease was waited out, not released"
