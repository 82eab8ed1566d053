"""How long the generated models take to validate and dump HTTPProxies at the scales of DESIGN.md.

The controller parses every watched object through these models, so at 10,000 HTTPProxies their
cost is part of every full rebuild. The floor is `json.loads` of the same objects (the least any
parse must do); the figures are printed with their ratio to it.

    .venv/bin/python bench/model_parse.py [--count 1000 10000] [--repeat 5] [--gc-off]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from contour.api.projectcontour.v1 import HTTPProxy


def proxy(i: int) -> dict[str, Any]:
    """One HTTPProxy with 4 routes of 2 weighted services each, as in the performance targets."""
    routes = [
        {
            "conditions": [{"prefix": f"/r{r}"}, {"header": {"name": "x-tenant", "exact": f"t{i}"}}],
            "services": [
                {"name": f"svc-{i}-{r}-a", "port": 80, "weight": 90},
                {"name": f"svc-{i}-{r}-b", "port": 80, "weight": 10},
            ],
            "timeoutPolicy": {"response": "5s"},
        }
        for r in range(4)
    ]
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {
            "name": f"proxy-{i}",
            "namespace": f"ns-{i % 50}",
            "generation": 1,
            "resourceVersion": str(i),
        },
        "spec": {"virtualhost": {"fqdn": f"host-{i}.example.com"}, "routes": routes},
    }


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(count: int, repeat: int) -> str:
    raw = [json.dumps(proxy(i)) for i in range(count)]
    docs = [json.loads(r) for r in raw]
    floor = best_of(repeat, lambda: [json.loads(r) for r in raw])
    validate = best_of(repeat, lambda: [HTTPProxy.model_validate(d) for d in docs])
    from_bytes = best_of(repeat, lambda: [HTTPProxy.model_validate_json(r) for r in raw])
    models = [HTTPProxy.model_validate(d) for d in docs]
    dump = best_of(repeat, lambda: [m.dump() for m in models])
    return (
        f"{count:>8} {floor * 1000:>16.1f} ms {validate * 1000:>7.1f} ms {validate / floor:>7.1f}x"
        f" {from_bytes * 1000:>11.1f} ms {from_bytes / floor:>7.1f}x"
        f" {dump * 1000:>7.1f} ms {dump / floor:>7.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--gc-off", action="store_true", help="disable the cyclic GC while timing (isolates CPU cost)"
    )
    args = parser.parse_args()
    if args.gc_off:
        gc.disable()
    print(f"garbage collector: {'off' if args.gc_off else 'on'}; median of {args.repeat} runs")
    print(
        f"{'proxies':>8} {'json.loads (floor)':>19} {'validate':>10} {'x floor':>8}"
        f" {'validate_json':>14} {'x floor':>8} {'dump':>10} {'x floor':>8}"
    )
    for count in args.count:
        print(measure(count, args.repeat))


if __name__ == "__main__":
    main()
