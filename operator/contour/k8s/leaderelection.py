"""Leader election on a coordination.k8s.io/v1 Lease, so that one `contour serve` replica writes status.

Every replica builds the DAG and serves xDS; only the replica holding the Lease writes status. The
algorithm is client-go's (k8s.io/client-go/tools/leaderelection), on a Lease whose spec carries
`holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime` (MicroTime) and
`leaseTransitions`:

* acquire: every `retry_period` (jittered by up to 1.2 x, as client-go), read the Lease; take it when it
  does not exist (create), has no holder, is held by us, or its holder has not changed it for the
  holder's `leaseDurationSeconds` as measured on *our* clock since we last saw it change (renewTime is
  another machine's clock and is never compared with ours);
* every write carries the resourceVersion read (optimistic concurrency): a 409 means another replica
  wrote first, and this attempt lost;
* renew: every `retry_period` while leading; a leader whose renewals have not succeeded for
  `renew_deadline` seconds, or that sees another holder in the Lease, steps down
  (`on_stopped_leading`) and goes back to acquiring. `renew_deadline < lease_duration`, so a leader
  cut off from the API server stops writing status before anyone else may take over;
* release (client-go's ReleaseOnCancel): on a clean stop the holder clears `holderIdentity` and sets
  `leaseDurationSeconds` to 1, so another replica takes over at its next retry instead of waiting for
  the lease to expire.

Every request is bounded in time, and errors are logged and retried, never raised out of `run`.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import kr8s
import kr8s.asyncio

log = logging.getLogger(__name__)

LEASE_VERSION: Final = "coordination.k8s.io/v1"
JITTER_FACTOR: Final = 1.2  # client-go's JitterFactor for the acquire loop


def default_identity() -> str:
    """This replica's holder identity: $POD_NAME (else the hostname), "-", and a random suffix.

    The suffix keeps a restarted pod of the same name from being mistaken for the previous holder.
    """
    base = os.environ.get("POD_NAME") or socket.gethostname() or "contour"
    return f"{base}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class LeaderElectionConfig:
    name: str = "leader-elect"
    namespace: str = "projectcontour"
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    # Clear the Lease when run() is cancelled; False only simulates a killed process (tests).
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        # client-go's checks in NewLeaderElector.
        if not self.name or not self.namespace:
            raise ValueError("leader election needs a Lease name and namespace")
        if not self.identity:
            raise ValueError("leader election needs a non-empty identity")
        if min(self.lease_duration, self.renew_deadline, self.retry_period) <= 0:
            raise ValueError("leader election durations must be greater than zero")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"lease duration ({self.lease_duration:g}s) must be greater than "
                f"the renew deadline ({self.renew_deadline:g}s)"
            )
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError(
                f"renew deadline ({self.renew_deadline:g}s) must be greater than "
                f"{JITTER_FACTOR:g} x the retry period ({self.retry_period:g}s)"
            )

    @property
    def lease_duration_seconds(self) -> int:
        """`spec.leaseDurationSeconds` is whole seconds: a fractional duration is rounded up."""
        return max(1, math.ceil(self.lease_duration))


@dataclass(frozen=True)
class LeaseRecord:
    """A Lease's spec, as client-go's LeaderElectionRecord."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    lease_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LeaseRecord:
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=_int(spec.get("leaseDurationSeconds")),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            lease_transitions=_int(spec.get("leaseTransitions")),
        )

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.lease_transitions,
        }
        if self.acquire_time:
            out["acquireTime"] = self.acquire_time
        if self.renew_time:
            out["renewTime"] = self.renew_time
        return out


def micro_time(now: datetime.datetime | None = None) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with exactly six fractional digits."""
    now = now or datetime.datetime.now(datetime.UTC)
    return now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class LeaderElectionCounters:
    acquired: int = 0
    renewed: int = 0
    lost: int = 0  # stepped down without releasing: renewals failed or another holder seen
    released: int = 0
    conflicts: int = 0  # 409 answers: another replica wrote first
    errors: int = 0  # requests that failed or timed out


class _ConflictError(Exception):
    """The server answered 409: the Lease changed (or was created) since it was read."""


class LeaderElector:
    """Runs the election for one identity; see the module docstring for the algorithm."""

    def __init__(
        self,
        api: kr8s.asyncio.Api,
        config: LeaderElectionConfig | None = None,
        *,
        on_started_leading: Callable[[], None],
        on_stopped_leading: Callable[[], None],
    ) -> None:
        self.api = api
        self.config = config or LeaderElectionConfig()
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.counters = LeaderElectionCounters()
        self._leading = False
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0  # monotonic time the observed record last changed
        self._resource_version = ""
        self._rng = random.Random()
        self._lock = asyncio.Lock()  # one request sequence at a time: a release waits for a renewal
        self._released = False
        self._renewed_at = 0.0  # monotonic start of the last attempt that took or renewed the Lease

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def identity(self) -> str:
        return self.config.identity

    @property
    def observed_holder(self) -> str:
        """The holder identity in the Lease as last read or written ("" when none or unknown)."""
        return self._observed.holder_identity if self._observed is not None else ""

    async def run(self) -> None:
        """Acquire, lead until renewals fail, and again, until cancelled or `release()`d.

        On cancel, a held Lease is released (unless `release_on_cancel` is off) and, when leading,
        `on_stopped_leading` is called before the CancelledError propagates.
        """
        try:
            while not self._released:
                if await self._acquire():
                    await self._renew_until_lost()
        except asyncio.CancelledError:
            if self.config.release_on_cancel:
                await self.release()
            else:
                self._step_down("stopped without releasing the lease")
            raise

    async def release(self) -> None:
        """Stop contending and give up a held Lease, so another replica need not wait for it to expire.

        After this the elector never leads again; `run()` returns.
        """
        self._released = True
        async with self._lock:
            if not self._leading:
                return
            observed = self._observed or LeaseRecord()
            now = micro_time()
            record = LeaseRecord(
                holder_identity="",
                lease_duration_seconds=1,
                acquire_time=now,
                renew_time=now,
                lease_transitions=observed.lease_transitions,
            )
            try:
                async with asyncio.timeout(self.config.renew_deadline):
                    await self._update(record)
            except (TimeoutError, _ConflictError, *_REQUEST_ERRORS) as error:
                self.counters.errors += 1
                log.warning("could not release the lease: %s", _why(error), extra=self._log_fields)
                self._step_down("stopped; the lease was not released")
                return
            self.counters.released += 1
            self._step_down("released the lease", lost=False)

    # The two phases ---------------------------------------------------------------------------------

    async def _acquire(self) -> bool:
        """Try until the Lease is ours (True), or the elector was released (False)."""
        log.info("attempting to acquire the lease as %s", self.identity, extra=self._log_fields)
        while not await self._attempt(self.config.renew_deadline):
            if self._released:
                return False
            period = self.config.retry_period
            await asyncio.sleep(period + self._rng.uniform(0, JITTER_FACTOR * period))
        self._leading = True
        self.counters.acquired += 1
        log.info("%s acquired the lease: now leading", self.identity, extra=self._log_fields)
        self._notify(self.on_started_leading)
        return True

    async def _renew_until_lost(self) -> None:
        cfg = self.config
        while self._leading:
            await asyncio.sleep(cfg.retry_period)
            deadline = self._renewed_at + cfg.renew_deadline
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._step_down(
                        f"failed to renew lease {self._lease_name} within {cfg.renew_deadline:g}s"
                    )
                    return
                renewed = await self._attempt(remaining)
                if not self._leading:  # released meanwhile
                    return
                if renewed:
                    self.counters.renewed += 1
                    break
                if self.observed_holder and self.observed_holder != self.identity:
                    self._step_down(f"lease {self._lease_name} is held by {self.observed_holder}")
                    return
                await asyncio.sleep(min(cfg.retry_period, max(0.0, deadline - time.monotonic())))

    def _step_down(self, why: str, *, lost: bool = True) -> None:
        if not self._leading:
            return
        self._leading = False
        if lost:
            self.counters.lost += 1
        level = logging.WARNING if lost else logging.INFO
        log.log(level, "%s stopped leading: %s", self.identity, why, extra=self._log_fields)
        self._notify(self.on_stopped_leading)

    def _notify(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            log.exception("leader election callback %r failed", callback, extra=self._log_fields)

    # One try: client-go's tryAcquireOrRenew ------------------------------------------------------------

    async def _attempt(self, timeout: float) -> bool:
        """Read the Lease and take or renew it if allowed; False when not (or on any error).

        A success is dated from before the read: the server wrote the Lease no earlier, so a leader's
        renew deadline never ends later than the lease the others see (whatever the request's latency).
        """
        started = time.monotonic()
        try:
            async with self._lock, asyncio.timeout(timeout):
                if self._released or not await self._try_acquire_or_renew():
                    return False
                self._renewed_at = started
                return True
        except _ConflictError:
            self.counters.conflicts += 1
            log.info("the lease was written by another replica first (409)", extra=self._log_fields)
        except (TimeoutError, *_REQUEST_ERRORS) as error:
            self.counters.errors += 1
            log.warning("reading or writing the lease failed: %s", _why(error), extra=self._log_fields)
        return False

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self.config
        now = micro_time()
        wanted = LeaseRecord(
            holder_identity=cfg.identity,
            lease_duration_seconds=cfg.lease_duration_seconds,
            acquire_time=now,
            renew_time=now,
        )
        current = await self._get()
        if current is None:
            await self._create(wanted)
            return True
        if current != self._observed:
            self._observed = current
            self._observed_at = time.monotonic()
        held_by_us = current.holder_identity == cfg.identity
        expires = self._observed_at + current.lease_duration_seconds
        if current.holder_identity and not held_by_us and time.monotonic() < expires:
            return False
        if held_by_us:
            wanted = LeaseRecord(
                holder_identity=cfg.identity,
                lease_duration_seconds=cfg.lease_duration_seconds,
                acquire_time=current.acquire_time or now,
                renew_time=now,
                lease_transitions=current.lease_transitions,
            )
        else:
            wanted = LeaseRecord(
                holder_identity=cfg.identity,
                lease_duration_seconds=cfg.lease_duration_seconds,
                acquire_time=now,
                renew_time=now,
                lease_transitions=current.lease_transitions + 1,
            )
        await self._update(wanted)
        return True

    # Requests -----------------------------------------------------------------------------------------

    @property
    def _lease_name(self) -> str:
        return f"{self.config.namespace}/{self.config.name}"

    @property
    def _log_fields(self) -> dict[str, str]:
        # Contour's log fields (see contour.logsetup); `object_name` is written as `name`.
        cfg = self.config
        return {
            "context": "leaderelection",
            "kind": "Lease",
            "namespace": cfg.namespace,
            "object_name": cfg.name,
        }

    def _location(self, name: str = "") -> dict[str, Any]:
        return {
            "version": LEASE_VERSION,
            "base": "/apis",
            "namespace": self.config.namespace,
            "url": f"leases/{name}" if name else "leases",
        }

    async def _get(self) -> LeaseRecord | None:
        location = self._location(self.config.name)
        async with self.api.call_api("GET", raise_for_status=False, **location) as response:
            if response.status_code == 404:
                return None
            response.raise_for_status()
            body = response.json()
        if not isinstance(body, dict):
            raise ValueError("the Lease read is not a JSON object")
        self._resource_version = str((body.get("metadata") or {}).get("resourceVersion") or "")
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise ValueError("the Lease's spec is not an object")
        return LeaseRecord.from_spec(spec)

    async def _create(self, record: LeaseRecord) -> None:
        body = self._lease(record)
        async with self.api.call_api(
            "POST", raise_for_status=False, json=body, **self._location()
        ) as response:
            self._check(response)
            self._remember(response, record)

    async def _update(self, record: LeaseRecord) -> None:
        body = self._lease(record)
        body["metadata"]["resourceVersion"] = self._resource_version
        location = self._location(self.config.name)
        async with self.api.call_api("PUT", raise_for_status=False, json=body, **location) as response:
            self._check(response)
            self._remember(response, record)

    def _lease(self, record: LeaseRecord) -> dict[str, Any]:
        return {
            "apiVersion": LEASE_VERSION,
            "kind": "Lease",
            "metadata": {"name": self.config.name, "namespace": self.config.namespace},
            "spec": record.spec(),
        }

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code == 409:
            raise _ConflictError()
        response.raise_for_status()

    def _remember(self, response: httpx.Response, record: LeaseRecord) -> None:
        body = response.json()
        if isinstance(body, dict):
            self._resource_version = str((body.get("metadata") or {}).get("resourceVersion") or "")
        self._observed = record
        self._observed_at = time.monotonic()


_REQUEST_ERRORS: Final = (httpx.HTTPError, kr8s.ServerError, kr8s.APITimeoutError, OSError, ValueError)


def _why(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, httpx.HTTPStatusError):
        return f"the API server answered {error.response.status_code}: {error.response.text[:200]}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
