"""Creating many objects fast, from several client processes, for the benchmarks that need a full API.

The embedded API server runs one event loop; a single Python client would measure the client. Each
process sends sequential keep-alive POSTs with the stdlib HTTP client, which costs little CPU.
`make(i)` builds object i; it must be a module-level function (it is passed to the processes by name).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

ObjectFactory = Callable[[int], dict[str, Any]]


def _write_range(args: tuple[str, str, ObjectFactory, int, int]) -> int:
    url, path, make, start, stop = args
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))
    for i in range(start, stop):
        conn.request("POST", path, body=json.dumps(make(i)), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"create object {i} at {path}: {response.status}")
    conn.close()
    return stop - start


def create_all(url: str, path: str, make: ObjectFactory, count: int, writers: int) -> float:
    """Seconds to create objects 0 .. count-1 with POSTs to `path` from `writers` client processes."""
    chunk = -(-count // writers)
    ranges = [(url, path, make, n, min(count, n + chunk)) for n in range(0, count, chunk)]
    with multiprocessing.get_context("fork").Pool(writers) as pool:
        start = time.perf_counter()
        done = sum(pool.map(_write_range, ranges))
        elapsed = time.perf_counter() - start
    assert done == count
    return elapsed
