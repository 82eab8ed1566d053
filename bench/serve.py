"""`contour serve` at N HTTPProxies: how long until every proxy has a status, status writes per second, RSS.

Starts `contour apiserver` and `contour serve` (leader election on, as in a cluster) as real processes
on loopback, waits until serve is ready with no proxies, then creates N HTTPProxies (4 routes each,
2 weighted services per route, all on one Service) from several client processes while a watch on
HTTPProxies records when each one first shows a `status.currentStatus` written by serve
(valid, invalid or orphaned; the CRD's default NotReconciled does not count). Printed: the time to write
them, the time from the first write until the last status (the target is about this one), status
writes per second over the span in which statuses arrived, the number of status PATCHes serve made
(its `contour_status_update_total`), and serve's RSS at the end and at its peak (VmHWM).

    .venv/bin/python bench/serve.py [--count 10000] [--writers 4]

Target (issue 8): all 10,000 statuses written in <= 30 s. Contour's users report minutes at 1,500
proxies (projectcontour/contour issue 5001).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bulk_create import create_all

from tests.support.apiserver_process import APIServerProcess
from tests.support.serve_process import ServeProcess

NAMESPACE = "default"
PROXIES = f"/apis/projectcontour.io/v1/namespaces/{NAMESPACE}/httpproxies"
TARGET_SECONDS = 30.0
WRITTEN = frozenset({"valid", "invalid", "orphaned"})


def proxy(i: int) -> dict[str, Any]:
    routes = [
        {
            "conditions": [{"prefix": f"/r{r}"}],
            "services": [
                {"name": "echo", "port": 80, "weight": 90},
                {"name": "echo", "port": 8080, "weight": 10},
            ],
        }
        for r in range(4)
    ]
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": f"proxy-{i}", "namespace": NAMESPACE},
        "spec": {"virtualhost": {"fqdn": f"host-{i}.example.com"}, "routes": routes},
    }


class StatusWatch(threading.Thread):
    """Watches HTTPProxies from `rv`; records when each name first carries status.currentStatus."""

    def __init__(self, url: str, rv: str, count: int) -> None:
        super().__init__(daemon=True)
        self.url, self.rv, self.count = url, rv, count
        self.first_status: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        rv = self.rv
        with httpx.Client(base_url=self.url, timeout=httpx.Timeout(30, read=None)) as client:
            while not self.done.is_set():
                params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true"}
                with client.stream("GET", PROXIES, params=params) as response:
                    for line in response.iter_lines():
                        if not line:
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                        name = (obj.get("metadata") or {}).get("name")
                        # The CRD defaults currentStatus to NotReconciled at create: not a written status.
                        if name and (obj.get("status") or {}).get("currentStatus") in WRITTEN:
                            self.first_status.setdefault(name, time.perf_counter())
                            if len(self.first_status) >= self.count:
                                self.done.set()
                                return


def proc_status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metric(text: str, name: str) -> float:
    """The sum of every sample of `name` (all label values) in a Prometheus text exposition."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        api = APIServerProcess(work / "api").start()
        serve = ServeProcess(api.kubeconfig, work, [])
        try:
            with api.client() as client:
                for body in (
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "projectcontour"}},
                ):
                    client.post("/api/v1/namespaces", json=body).raise_for_status()
                service = {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "echo", "namespace": NAMESPACE},
                    "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 8080}]},
                }
                client.post(f"/api/v1/namespaces/{NAMESPACE}/services", json=service).raise_for_status()
                rv = client.get(PROXIES, params={"limit": "1"}).json()["metadata"]["resourceVersion"]
            serve.start(timeout=120)
            assert serve.pid is not None
            idle_rss = proc_status(serve.pid, "VmRSS")
            watch = StatusWatch(api.url, rv, args.count)
            watch.start()
            started = time.perf_counter()
            write_seconds = create_all(api.url, PROXIES, proxy, args.count, args.writers)
            if not watch.done.wait(args.timeout):
                print(f"only {len(watch.first_status)} of {args.count} statuses within {args.timeout:g}s")
            times = sorted(watch.first_status.values())
            all_status = times[-1] - started if times else float("nan")
            span = times[-1] - times[0] if len(times) > 1 else float("nan")
            metrics = serve.get(serve.http_port, "/metrics").text
            rss, peak = proc_status(serve.pid, "VmRSS"), proc_status(serve.pid, "VmHWM")
        finally:
            serve.stop()
            api.stop()

    print(f"contour serve, {args.count} HTTPProxies (4 routes x 2 weighted services), {args.writers} writers")
    print(f"  created in                       {write_seconds:8.2f} s ({args.count / write_seconds:,.0f}/s)")
    verdict = ("met" if all_status <= TARGET_SECONDS else "NOT met") if args.count >= 10_000 else "n/a here"
    print(
        f"  every status written after       {all_status:8.2f} s from the first create"
        f"   (target <= {TARGET_SECONDS:g} s at 10,000: {verdict})"
    )
    print(f"  statuses seen                    {len(times):8d}")
    print(
        f"  status writes per second         {len(times) / span:8.0f}  (first to last status, {span:.2f} s)"
    )
    print(f"  status PATCHes (metric)          {metric(metrics, 'contour_status_update_total'):8.0f}")
    print(f"  DAG rebuilds (metric)            {metric(metrics, 'contour_dagrebuild_total'):8.0f}")
    print(f"  serve RSS idle / end / peak      {idle_rss:8.1f} / {rss:.1f} / {peak:.1f} MiB")


if __name__ == "__main__":
    main()
