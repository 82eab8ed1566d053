"""Writing the statuses the DAG computed back to the API server, without needless or stale writes.

Status writes are what made Contour slow at scale (minutes to status with thousands of proxies), so
each write here is checked before it is sent:

* no-op skip: the object's current status is read first; when the wanted status equals it (condition
  `lastTransitionTime`s aside, see below) nothing is written. With a `cached` lookup (the informers'
  copy of the object) the first attempt reads that copy instead of the server: a copy older than the
  server's object fails the resourceVersion precondition below, and the retry reads the server;
* `lastTransitionTime`: a condition whose type, status, reason and message did not change keeps the
  time it already has; a new or changed one gets the writer's clock;
* generation guard: an update computed from an older generation than the object now has, or older
  than the `observedGeneration` already written, is dropped: a newer build is on its way;
* optimistic concurrency: the merge patch on the `/status` subresource carries the resourceVersion
  read, and a 409 Conflict reads again and retries (a bounded number of times);
* `status.loadBalancer` of HTTPProxy and Ingress is added from the Envoy address (Contour copies the
  Envoy Service's; `contour run` has no Service and passes `ingress: [{ip: 127.0.0.1}]`).

A merge patch replaces lists whole and merges objects, so keys the current status has and the wanted
one lacks are sent as `null` (RFC 7386) and the written status is exactly the wanted one.
Failures are counted and logged, never raised: a status write must not stop the controller.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
import kr8s
import kr8s.asyncio

from contour.dag.model import ObjectRef

log = logging.getLogger(__name__)

Outcome = Literal["written", "noop", "stale", "gone", "rejected", "failed"]
# The object an update is for as the informers last saw it (metadata and status), or None.
CachedObject = Callable[["StatusUpdateLike"], Mapping[str, Any] | None]

# Resources whose status has a `loadBalancer` that the writer fills in.
LOAD_BALANCER_RESOURCES = frozenset(
    {("projectcontour.io", "httpproxies"), ("networking.k8s.io", "ingresses")}
)


class StatusUpdateLike(Protocol):
    """What the writer reads of a `contour.dag.status.StatusUpdate`."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def ref(self) -> ObjectRef: ...
    @property
    def generation(self) -> int: ...
    @property
    def status(self) -> Mapping[str, Any]: ...


@dataclass
class StatusWriterCounters:
    written: int = 0
    noop: int = 0
    stale: int = 0  # computed from an older generation than the object's: dropped
    gone: int = 0  # the object no longer exists
    conflicts: int = 0  # 409 answers, each followed by a re-read
    rejected: int = 0  # the server refused the status itself (4xx): a bug, not worth retrying
    failed: int = 0  # gave up: errors, or conflicts beyond max_attempts (worth retrying later)


def load_balancer_status(address: str) -> dict[str, Any]:
    """`status.loadBalancer` for an address as Contour's `ingress-status-address` writes it."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"ingress": [{"hostname": address}]}
    return {"ingress": [{"ip": address}]}


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatusWriter:
    """Writes one object's status at a time through `api`; see the module docstring for the rules."""

    def __init__(
        self,
        api: kr8s.asyncio.Api,
        *,
        load_balancer: Mapping[str, Any] | None = None,
        max_attempts: int = 5,
        clock: Callable[[], str] = now_rfc3339,
        cached: CachedObject | None = None,
    ) -> None:
        self.api = api
        self.cached = cached
        self.load_balancer = dict(load_balancer) if load_balancer is not None else None
        self.max_attempts = max_attempts
        self.clock = clock
        self.counters = StatusWriterCounters()

    async def write(self, update: StatusUpdateLike) -> Outcome:
        """Bring the object's status to `update.status` (plus loadBalancer), if still relevant."""
        try:
            fresh = self.cached is None
            for _ in range(self.max_attempts):
                outcome = await self._attempt(update, fresh=fresh)
                if outcome != "conflict":
                    self._count(outcome)
                    return outcome
                self.counters.conflicts += 1
                fresh = True  # the object changed since it was read: read the server's
            log.warning(
                "status of %s %s: still conflicting after %d attempts",
                update.plural,
                update.ref,
                self.max_attempts,
            )
        except (httpx.HTTPError, kr8s.ServerError, kr8s.APITimeoutError, OSError, ValueError) as error:
            log.warning("status of %s %s: %s: %s", update.plural, update.ref, type(error).__name__, error)
        self.counters.failed += 1
        return "failed"

    def _count(self, outcome: Outcome) -> None:
        setattr(self.counters, outcome, getattr(self.counters, outcome) + 1)

    async def _attempt(self, update: StatusUpdateLike, *, fresh: bool) -> Outcome | Literal["conflict"]:
        current = None if fresh or self.cached is None else self.cached(update)
        if current is None:
            current = await self._get(update)
        if current is None:
            return "gone"
        meta = current.get("metadata") or {}
        current_status = current.get("status") or {}
        if int(meta.get("generation") or 0) > update.generation:
            return "stale"
        if _observed_generation(current_status) > update.generation:
            return "stale"
        wanted = self.wanted_status(update, current_status)
        if wanted == current_status:
            return "noop"
        patch = {
            "metadata": {"resourceVersion": meta.get("resourceVersion", "")},
            "status": merge_patch(current_status, wanted),
        }
        async with self.api.call_api(
            "PATCH",
            raise_for_status=False,
            headers={"Content-Type": "application/merge-patch+json"},
            json=patch,
            **self._location(update, subresource="/status"),
        ) as response:
            if response.status_code == 409:
                return "conflict"
            if response.status_code == 404:
                return "gone"
            if 400 <= response.status_code < 500:
                log.error(
                    "status of %s %s refused: %d %s",
                    update.plural,
                    update.ref,
                    response.status_code,
                    response.text,
                )
                return "rejected"
            response.raise_for_status()
        log.debug("status of %s %s written", update.plural, update.ref)
        return "written"

    def wanted_status(self, update: StatusUpdateLike, current: Mapping[str, Any]) -> dict[str, Any]:
        """The whole status to hold: the update's, the loadBalancer, and the kept transition times."""
        wanted = copy.deepcopy(dict(update.status))
        if self.load_balancer is not None and (update.group, update.plural) in LOAD_BALANCER_RESOURCES:
            wanted["loadBalancer"] = copy.deepcopy(self.load_balancer)
        if isinstance(wanted.get("conditions"), list):
            wanted["conditions"] = self._transition_times(wanted["conditions"], current.get("conditions"))
        return wanted

    def _transition_times(self, wanted: list[Any], current: Any) -> list[Any]:
        previous: dict[str, Mapping[str, Any]] = {}
        if isinstance(current, list):
            previous = {c["type"]: c for c in current if isinstance(c, Mapping) and "type" in c}
        now = ""
        out = []
        for given in wanted:
            if not isinstance(given, dict):
                out.append(given)
                continue
            condition = dict(given)
            before = previous.get(condition.get("type", ""))
            unchanged = before is not None and all(
                before.get(k) == condition.get(k) for k in ("status", "reason", "message")
            )
            if unchanged and before is not None and before.get("lastTransitionTime"):
                condition["lastTransitionTime"] = before["lastTransitionTime"]
            elif not unchanged or not condition.get("lastTransitionTime"):
                now = now or self.clock()
                condition["lastTransitionTime"] = now
            out.append(condition)
        return out

    async def _get(self, update: StatusUpdateLike) -> dict[str, Any] | None:
        async with self.api.call_api("GET", raise_for_status=False, **self._location(update)) as response:
            if response.status_code == 404:
                return None
            response.raise_for_status()
            body = response.json()
        if not isinstance(body, dict):
            raise ValueError("the object read is not a JSON object")
        return body

    @staticmethod
    def _location(update: StatusUpdateLike, subresource: str = "") -> dict[str, Any]:
        return {
            "version": f"{update.group}/{update.version}" if update.group else update.version,
            "base": "/apis" if update.group else "/api",
            "namespace": update.ref.namespace or None,
            "url": f"{update.plural}/{update.ref.name}{subresource}",
        }


def _observed_generation(status: Mapping[str, Any]) -> int:
    """The newest observedGeneration the status holds, top level or in a condition (0 if none)."""
    found = [status.get("observedGeneration")]
    conditions = status.get("conditions")
    if isinstance(conditions, list):
        found += [c.get("observedGeneration") for c in conditions if isinstance(c, Mapping)]
    return max((int(g) for g in found if isinstance(g, int)), default=0)


def merge_patch(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """An RFC 7386 merge patch turning `current` into `wanted` (objects only; lists are replaced)."""
    patch: dict[str, Any] = {}
    for key in current.keys() - wanted.keys():
        patch[key] = None
    for key, value in wanted.items():
        before = current.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif key not in current or before != value:
            patch[key] = value
    return patch
