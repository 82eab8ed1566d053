"""Leader election on a Lease of the embedded API server: who leads, hand-overs, stepping down.

Timings are short (lease 2 s, renew deadline 1.4 s, retry 0.2 s) so hand-overs take seconds; the
bounds asserted are the algorithm's own (lease duration, renew deadline, retry period with jitter) plus
a margin for a loaded machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import kr8s.asyncio
import pytest

from contour.k8s.leaderelection import (
    JITTER_FACTOR,
    LeaderElectionConfig,
    LeaderElector,
    default_identity,
    micro_time,
)
from tests.k8s.cluster import Cluster, api_for, eventually
from tests.k8s.faulty_proxy import FaultyProxy

NAMESPACE = "default"
LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/leader-elect"
TIMINGS = LeaderElectionConfig(
    namespace=NAMESPACE, identity="unused", lease_duration=2.0, renew_deadline=1.4, retry_period=0.2
)
SLACK = 1.0  # scheduling margin on a loaded 2-core machine
RETRY_WITH_JITTER = TIMINGS.retry_period * (1 + JITTER_FACTOR)
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@dataclass
class Candidate:
    """One elector running in a task, with the times its callbacks were called."""

    elector: LeaderElector
    started: list[float] = field(default_factory=list)
    stopped: list[float] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def identity(self) -> str:
        return self.elector.identity

    async def cancel(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Candidates:
    def __init__(self) -> None:
        self.all: list[Candidate] = []

    def start(self, api: kr8s.asyncio.Api, identity: str, **options: Any) -> Candidate:
        started: list[float] = []
        stopped: list[float] = []
        elector = LeaderElector(
            api,
            replace(TIMINGS, identity=identity, **options),
            on_started_leading=lambda: started.append(time.monotonic()),
            on_stopped_leading=lambda: stopped.append(time.monotonic()),
        )
        candidate = Candidate(elector, started, stopped)
        candidate.task = asyncio.create_task(elector.run(), name=f"elector {identity}")
        self.all.append(candidate)
        return candidate

    def leaders(self) -> list[Candidate]:
        return [c for c in self.all if c.elector.is_leader]

    async def aclose(self) -> None:
        for candidate in self.all:
            await candidate.cancel()
        for candidate in self.all:
            assert candidate.task is not None
            if not candidate.task.cancelled():
                candidate.task.result()  # run() returns only after release(); an error fails the test


@pytest.fixture
async def candidates() -> AsyncIterator[Candidates]:
    running = Candidates()
    yield running
    await running.aclose()


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as client:
        yield client


async def lease_spec(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get(LEASE)
    response.raise_for_status()
    spec: dict[str, Any] = response.json()["spec"]
    return spec


async def one_leader(candidates: Candidates) -> Candidate:
    leaders: list[Candidate] = await eventually(
        candidates.leaders, timeout=5, message="no elector acquired the lease"
    )
    assert len(leaders) == 1, [c.identity for c in leaders]
    return leaders[0]


# Identity and configuration -------------------------------------------------------------------------


def test_identity_is_the_pod_name_and_a_random_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "contour-7d9f8-abcde")
    first, second = default_identity(), default_identity()
    assert re.fullmatch(r"contour-7d9f8-abcde-[0-9a-f]{8}", first), first
    assert first != second


def test_identity_falls_back_to_the_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POD_NAME", raising=False)
    monkeypatch.setattr("socket.gethostname", lambda: "node-1")
    assert re.fullmatch(r"node-1-[0-9a-f]{8}", default_identity())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"lease_duration": 10, "renew_deadline": 10}, "lease duration", id="lease-not-above-renew"
        ),
        pytest.param({"renew_deadline": 2, "retry_period": 2}, "renew deadline", id="renew-not-above-retry"),
        pytest.param({"retry_period": 0}, "greater than zero", id="zero-retry"),
        pytest.param({"identity": ""}, "identity", id="empty-identity"),
    ],
)
def test_config_rejects_timings_client_go_rejects(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LeaderElectionConfig(**{"identity": "me", **options})


def test_micro_time_has_six_fractional_digits() -> None:
    assert MICRO_TIME.match(micro_time())


# Who leads --------------------------------------------------------------------------------------------


async def test_exactly_one_of_two_electors_leads(cluster: Cluster, candidates: Candidates) -> None:
    candidates.start(cluster.api, "a")
    candidates.start(cluster.api, "b")
    leader = await one_leader(candidates)
    follower = next(c for c in candidates.all if c is not leader)
    await eventually(lambda: leader.elector.counters.renewed >= 5, timeout=5, message="leader did not renew")
    assert follower.elector.observed_holder == leader.identity
    assert (leader.started, follower.started) == ([leader.started[0]], [])
    assert leader.stopped == []


async def test_the_lease_holds_the_holder_and_micro_times(
    cluster: Cluster, candidates: Candidates, http: httpx.AsyncClient
) -> None:
    leader = candidates.start(cluster.api, "a")
    await eventually(lambda: leader.elector.is_leader, timeout=5, message="not leading")
    first = await lease_spec(http)
    await eventually(lambda: leader.elector.counters.renewed >= 1, timeout=5, message="no renewal")
    renewed = await lease_spec(http)
    assert first["holderIdentity"] == renewed["holderIdentity"] == "a"
    assert first["leaseDurationSeconds"] == 2
    assert first["leaseTransitions"] == renewed["leaseTransitions"] == 0
    assert all(MICRO_TIME.match(spec[k]) for spec in (first, renewed) for k in ("acquireTime", "renewTime"))
    assert renewed["acquireTime"] == first["acquireTime"]
    assert renewed["renewTime"] > first["renewTime"]


async def test_a_fractional_lease_duration_is_written_rounded_up(
    cluster: Cluster, candidates: Candidates, http: httpx.AsyncClient
) -> None:
    leader = candidates.start(cluster.api, "a", lease_duration=1.5, renew_deadline=1.0)
    await eventually(lambda: leader.elector.is_leader, timeout=5, message="not leading")
    assert (await lease_spec(http))["leaseDurationSeconds"] == 2


# Hand-overs -------------------------------------------------------------------------------------------


async def test_a_killed_leader_is_replaced_once_its_lease_expires(
    cluster: Cluster, candidates: Candidates, http: httpx.AsyncClient
) -> None:
    killed = candidates.start(cluster.api, "killed", release_on_cancel=False)
    await eventually(lambda: killed.elector.is_leader, timeout=5, message="first elector not leading")
    successor = candidates.start(cluster.api, "successor")
    await eventually(
        lambda: successor.elector.observed_holder == "killed", timeout=5, message="lease not observed"
    )
    await killed.cancel()
    since = time.monotonic()
    await eventually(lambda: successor.started, timeout=10, message="no takeover")
    took = successor.started[0] - since
    # Not before the lease could have expired (last renewal <= one retry before the kill), and within it.
    assert (
        TIMINGS.lease_duration - RETRY_WITH_JITTER < took < TIMINGS.lease_duration + RETRY_WITH_JITTER + SLACK
    )
    spec = await lease_spec(http)
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("successor", 1)


async def test_a_released_lease_is_taken_at_the_next_retry(cluster: Cluster, candidates: Candidates) -> None:
    leaving = candidates.start(cluster.api, "leaving")
    await eventually(lambda: leaving.elector.is_leader, timeout=5, message="first elector not leading")
    successor = candidates.start(cluster.api, "successor")
    await eventually(
        lambda: successor.elector.observed_holder == "leaving", timeout=5, message="lease not observed"
    )
    await leaving.cancel()
    since = time.monotonic()
    await eventually(lambda: successor.started, timeout=10, message="no takeover")
    assert successor.started[0] - since < RETRY_WITH_JITTER + SLACK / 2 < TIMINGS.lease_duration


async def test_cancel_releases_the_lease_and_reports_stopped_leading(
    cluster: Cluster, candidates: Candidates, http: httpx.AsyncClient
) -> None:
    leader = candidates.start(cluster.api, "a")
    await eventually(lambda: leader.elector.is_leader, timeout=5, message="not leading")
    await leader.cancel()
    spec = await lease_spec(http)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("", 1)
    assert (len(leader.started), len(leader.stopped), leader.elector.counters.released) == (1, 1, 1)


async def test_release_stops_contending(
    cluster: Cluster, candidates: Candidates, http: httpx.AsyncClient
) -> None:
    leader = candidates.start(cluster.api, "a")
    await eventually(lambda: leader.elector.is_leader, timeout=5, message="not leading")
    await leader.elector.release()
    assert leader.task is not None
    await asyncio.wait_for(asyncio.shield(leader.task), timeout=5)
    assert not leader.elector.is_leader
    assert (await lease_spec(http))["holderIdentity"] == ""


# Stepping down ----------------------------------------------------------------------------------------


async def test_a_leader_cut_off_from_the_api_steps_down_before_anyone_takes_over(
    cluster: Cluster, candidates: Candidates, proxy: FaultyProxy, tmp_path: Path
) -> None:
    async with api_for(proxy.url, tmp_path) as cut_api:
        cut = candidates.start(cut_api, "cut-off")
        await eventually(lambda: cut.elector.is_leader, timeout=5, message="first elector not leading")
        other = candidates.start(cluster.api, "other")
        await eventually(
            lambda: other.elector.observed_holder == "cut-off", timeout=5, message="not observed"
        )
        await proxy.stop()
        since = time.monotonic()
        await eventually(lambda: cut.stopped, timeout=10, message="the cut-off leader kept leading")
        await eventually(lambda: other.started, timeout=10, message="no takeover")
        assert cut.stopped[0] - since < TIMINGS.renew_deadline + SLACK
        assert cut.stopped[0] < other.started[0], "two leaders at once"
        assert cut.elector.counters.errors >= 1
        await candidates.aclose()


async def test_a_leader_whose_renewal_conflicts_with_a_new_holder_steps_down(
    cluster: Cluster, candidates: Candidates, proxy: FaultyProxy, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    async def steal() -> None:
        # Between the leader's read and its write: another holder writes the Lease, so the write is a 409.
        lease = (await http.get(LEASE)).json()
        lease["spec"].update(holderIdentity="thief", renewTime=micro_time(), leaseDurationSeconds=60)
        (await http.put(LEASE, json=lease)).raise_for_status()

    async with api_for(proxy.url, tmp_path) as api:
        leader = candidates.start(api, "a")
        await eventually(lambda: leader.elector.is_leader, timeout=5, message="not leading")
        proxy.hold_next_request(b"PUT /apis/coordination.k8s.io/", steal)
        since = time.monotonic()
        await eventually(lambda: leader.stopped, timeout=10, message="kept leading after a 409")
        assert leader.stopped[0] - since < TIMINGS.renew_deadline + SLACK
        assert leader.elector.counters.conflicts == 1
        assert (await lease_spec(http))["holderIdentity"] == "thief"
        await candidates.aclose()


async def test_a_stepped_down_leader_leads_again_once_the_lease_is_free(
    cluster: Cluster, candidates: Candidates, http: httpx.AsyncClient
) -> None:
    leader = candidates.start(cluster.api, "a")
    await eventually(lambda: leader.elector.is_leader, timeout=5, message="not leading")
    lease = (await http.get(LEASE)).json()
    lease["spec"].update(holderIdentity="other", renewTime=micro_time(), leaseDurationSeconds=1)
    (await http.put(LEASE, json=lease)).raise_for_status()
    await eventually(lambda: leader.stopped, timeout=5, message="did not step down for another holder")
    await eventually(lambda: len(leader.started) == 2, timeout=10, message="did not lead again")
    assert (await lease_spec(http))["leaseTransitions"] == 1
