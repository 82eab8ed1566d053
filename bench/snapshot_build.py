"""What ``Snapshot.build`` costs beyond serialisation, per type, at 10,000 virtual hosts.

The configuration is ``bench/xds_envoy.py``'s: ``--clusters`` EDS Clusters, as many
ClusterLoadAssignments (3 endpoints each), one Listener and one RouteConfiguration of ``--vhosts``
virtual hosts x 4 routes. For each type: ``Snapshot.build`` of that type alone (serialise
deterministically, frame as Any, hash, scan references) beside its floor, plain upb
``SerializeToString`` of the same messages; best of ``--repeat`` runs. ``--profile`` adds a cProfile of
one whole build, sorted by own time.

    .venv/bin/python bench/snapshot_build.py [--vhosts 10000] [--clusters 10000] [--repeat 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.xds_envoy import resources

from contour.xds import typeurls
from contour.xds.snapshot import Snapshot


def best_of(runs: int, action: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def serialise_plainly(messages: list[Any]) -> None:
    for message in messages:
        message.SerializeToString()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vhosts", type=int, default=10_000)
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each step; the best is kept")
    parser.add_argument("--profile", action="store_true", help="cProfile one whole build")
    args = parser.parse_args()

    by_type = resources(args.vhosts, args.clusters)
    print(
        f"== Snapshot.build: {args.clusters} EDS clusters, {args.clusters} ClusterLoadAssignments,"
        f" 1 listener, 1 RouteConfiguration of {args.vhosts} virtual hosts x 4 routes;"
        f" best of {args.repeat} =="
    )
    total_build = total_plain = 0.0
    for type_url, messages in by_type.items():
        build = best_of(args.repeat, lambda: Snapshot.build("v1", {type_url: messages}))  # noqa: B023
        plain = best_of(args.repeat, lambda: serialise_plainly(messages))  # noqa: B023
        total_build, total_plain = total_build + build, total_plain + plain
        print(
            f"{typeurls.SHORT_NAMES[type_url]:>4} x {len(messages):>6}: Snapshot.build {ms(build)}"
            f"   plain SerializeToString {ms(plain)}   {build / plain:5.2f} x floor,"
            f" {ms(build - plain)} beyond"
        )
    whole = best_of(args.repeat, lambda: Snapshot.build("v1", by_type))
    print(
        f"whole snapshot: Snapshot.build {ms(whole)} (per-type sum {ms(total_build)})"
        f"   plain SerializeToString {ms(total_plain)}   {whole / total_plain:5.2f} x floor"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(Snapshot.build, "v1", by_type)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
