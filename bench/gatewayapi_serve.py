"""Issue 7's RSS figure measured as Envoy Gateway measures its own: the controller process alone.

`bench/gatewayapi.py` reads the RSS of `contour run`, which holds the embedded API server as well as
the controller. Envoy Gateway's figure (255 MiB at 1,000 HTTPRoutes, v1.9) is its controller's only:
the kube-apiserver runs elsewhere. Here `contour apiserver` runs as its own process and `contour serve`
(leader election on, as in a cluster) is the controller; the same objects as bench/gatewayapi.py
(one Gateway with one HTTP listener, 5 hostnames, one backend, N HTTPRoutes) are applied with
`kubectl apply --server-side`, and once every route is Accepted by serve and the Gateway's listener
reports all of them attached, serve's VmRSS is read (and its VmHWM). Also printed: serve's RSS once
ready with no object, and the API server's RSS for comparison. No Envoy is involved (serve provisions
none); route convergence is bench/gatewayapi.py's.

    .venv/bin/python bench/gatewayapi_serve.py [--scales 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gatewayapi import (
    GATEWAY,
    NS,
    TARGET_RSS_MIB,
    base_objects,
    http_route,
    proc_status_value,
    route_accepted,
)

from tests.support.apiserver_process import APIServerProcess
from tests.support.contour_run import free_port
from tests.support.serve_process import ServeProcess


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def apply(api: APIServerProcess, objects: list[dict[str, object]], work: Path) -> None:
    manifest = work / "objects.yaml"
    manifest.write_text("\n---\n".join(json.dumps(o) for o in objects))
    api.kubectl("apply", "--server-side", "--field-manager", "bench", "-f", str(manifest))


def settled(api: APIServerProcess, count: int, timeout: float) -> float:
    """Seconds until `count` routes are Accepted and attached to the Gateway's listener."""
    start = time.monotonic()
    while True:
        routes = json.loads(api.kubectl("get", "httproutes", "-n", NS, "-o", "json").stdout)["items"]
        accepted = sum(1 for r in routes if route_accepted(r))
        gateway = json.loads(api.kubectl("get", "gateway", GATEWAY, "-n", NS, "-o", "json").stdout)
        listeners = (gateway.get("status") or {}).get("listeners") or [{}]
        if accepted == count and listeners[0].get("attachedRoutes") == count:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{accepted} of {count} routes Accepted after {timeout}s")
        time.sleep(0.5)  # polling the API server with a deadline


def measure(count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        api = APIServerProcess(work / "api").start()
        serve = ServeProcess(api.kubeconfig, work, ["--ingress-status-address", "127.0.0.1"])
        try:
            serve.start()
            pid = serve.pid
            assert pid is not None
            idle = proc_status_value(pid, "VmRSS")
            # The Lease of serve's leader election lives in projectcontour, as in Contour's deployment.
            lease_namespace: dict[str, object] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "projectcontour"},
            }
            apply(api, [lease_namespace, *base_objects(free_port(), 9)], work)  # the echo port is not dialled
            started = time.monotonic()
            for first in range(0, count, 1000):
                apply(api, [http_route(i) for i in range(first, min(count, first + 1000))], work)
            applied = time.monotonic() - started
            took = settled(api, count, timeout=max(60.0, count * 0.05))
            rss, hwm = proc_status_value(pid, "VmRSS"), proc_status_value(pid, "VmHWM")
            api_pid = api.process.pid if api.process is not None else 0
            verdict = "within target" if rss / 1024 <= TARGET_RSS_MIB else "OVER target"
            print(f"== contour serve, {count} HTTPRoutes on one Gateway (5 hostnames, one backend) ==")
            print(f"   applied in {applied:.2f} s; every route Accepted and attached {took:.2f} s later")
            print(
                f"   serve RSS: {mib(rss)} (target <= {TARGET_RSS_MIB:.0f} MiB at 1000: {verdict});"
                f" peak {mib(hwm)}; once ready with no object {mib(idle)}"
            )
            print(f"   not counted, the API server process: {mib(proc_status_value(api_pid, 'VmRSS'))}")
        finally:
            serve.stop()
            api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1000], help="HTTPRoutes")
    args = parser.parse_args()
    for count in args.scales:
        measure(count)


if __name__ == "__main__":
    main()
