"""Capped exponential backoff with full jitter, for loops that retry a Kubernetes API call.

Full jitter (a uniform delay between zero and the capped exponential bound) spreads the retries of many
clients that failed at the same moment, e.g. every informer of every controller when the API server
restarts. See https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
"""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """Delays that double from `initial` up to `maximum`; `reset()` after a call that succeeded."""

    def __init__(self, initial: float = 0.2, maximum: float = 30.0, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self.attempts = 0
        self._rng = rng or random.Random()

    def bound(self) -> float:
        """The upper bound of the next delay."""
        return min(self.maximum, self.initial * 2.0 ** min(self.attempts, 64))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0.0, self.bound())
        self.attempts += 1
        return delay

    async def sleep(self) -> float:
        delay = self.next_delay()
        await asyncio.sleep(delay)
        return delay

    def reset(self) -> None:
        self.attempts = 0
