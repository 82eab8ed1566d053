"""The embedded API server at 10,000 HTTPProxies: write throughput, list latency, watch delivery, RSS.

Starts `contour apiserver` as a real process on loopback and drives it over HTTP, as kubectl and the
informers do. Floors printed beside each figure: for writes, committing the same JSON rows to SQLite
(WAL, synchronous=NORMAL) one transaction each with no HTTP, validation or bookkeeping; for the list,
`json.loads` of the response body the client must parse anyway.

    .venv/bin/python bench/apiserver.py [--count 10000] [--writers 8] [--watchers 10] [--updates 200]

Targets (issue 3): >= 1,000 writes/s, list of 10,000 <= 1 s, watch delivery p99 <= 50 ms, RSS <= 300 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bulk_create import create_all
from bench.model_parse import proxy

from tests.support.apiserver_process import APIServerProcess

PROXIES = "/apis/projectcontour.io/v1/namespaces/default/httpproxies"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def body(i: int) -> dict[str, Any]:
    obj = proxy(i)
    obj["metadata"]["namespace"] = "default"
    obj["metadata"].pop("resourceVersion", None)
    obj["metadata"].pop("uid", None)
    obj.pop("status", None)
    return obj


def sqlite_floor(count: int) -> float:
    rows = [json.dumps(body(i), separators=(",", ":")) for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE objects (name TEXT PRIMARY KEY, data TEXT)")
        start = time.perf_counter()
        for i, row in enumerate(rows):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO objects VALUES (?, ?)", (f"p{i}", row))
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
    return elapsed


async def watch_delivery(url: str, watchers: int, updates: int) -> list[float]:
    """Milliseconds from sending an update to its arrival at each watcher."""
    latencies: list[float] = []
    sent: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        rv = (await client.get(PROXIES, params={"limit": "1"})).json()["metadata"]["resourceVersion"]
        ready = asyncio.Event()
        opened = 0

        async def watcher() -> None:
            nonlocal opened
            received = 0
            async with (
                httpx.AsyncClient(base_url=url, timeout=None) as own,
                own.stream(
                    "GET",
                    PROXIES,
                    params={"watch": "1", "resourceVersion": rv, "fieldSelector": "metadata.name=proxy-0"},
                ) as response,
            ):
                opened += 1
                if opened == watchers:
                    ready.set()
                async for line in response.aiter_lines():
                    if not line:
                        continue
                    arrived = time.perf_counter()
                    event = json.loads(line)
                    marker = event["object"]["metadata"].get("annotations", {}).get("bench")
                    if marker in sent:
                        latencies.append((arrived - sent[marker]) * 1000)
                        received += 1
                    if received == updates:
                        return

        tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
        await asyncio.wait_for(ready.wait(), 30)
        for n in range(updates):
            marker = f"u{n}"
            patch = {"metadata": {"annotations": {"bench": marker}}}
            sent[marker] = time.perf_counter()  # before sending: the event can arrive before the response
            response = await client.patch(
                PROXIES + "/proxy-0", json=patch, headers={"Content-Type": "application/merge-patch+json"}
            )
            response.raise_for_status()
            await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = APIServerProcess(Path(tmp) / "state", extra_args=["--watch-history", "20000"]).start()
        assert server.process is not None
        try:
            rss_start = rss_mib(server.process.pid)
            elapsed = create_all(server.url, PROXIES, body, args.count, args.writers)
            floor = sqlite_floor(args.count)
            rate = args.count / elapsed
            print(
                f"create {args.count} HTTPProxies from {args.writers} client processes: "
                f"{elapsed:.2f} s = {rate:.0f} writes/s "
                f"(target >= 1000/s; floor: SQLite alone {args.count / floor:.0f} commits/s)"
            )
            with httpx.Client(base_url=server.url, timeout=60) as client:
                timings = []
                parse = []
                for _ in range(5):
                    start = time.perf_counter()
                    response = client.get(PROXIES)
                    timings.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    items = json.loads(response.content)["items"]
                    parse.append(time.perf_counter() - start)
                    assert len(items) == args.count
            print(
                f"list {args.count}: median {statistics.median(timings) * 1000:.1f} ms over 5 "
                f"(target <= 1000 ms; floor: the client's json.loads of the body "
                f"{statistics.median(parse) * 1000:.1f} ms; "
                f"{len(response.content) / 1e6:.1f} MB)"
            )
            latencies = asyncio.run(watch_delivery(server.url, args.watchers, args.updates))
            latencies.sort()
            p50 = latencies[len(latencies) // 2]
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(
                f"watch delivery to {args.watchers} watchers, {args.updates} updates: p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms (target p99 <= 50 ms)"
            )
            rss = rss_mib(server.process.pid)
            print(
                f"server RSS with {args.count} HTTPProxies: {rss:.0f} MiB "
                f"(at start {rss_start:.0f} MiB; target <= 300 MiB)"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
