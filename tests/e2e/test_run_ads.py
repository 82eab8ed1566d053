"""`contour run` gives its Envoy one aggregated xDS stream (ADS) that carries every resource type.

Through a real `contour run`, an HTTPProxy routes to an echo backend and an EndpointSlice change moves
the traffic, all over ADS. Envoy's admin tells how many xDS streams it holds: `/clusters` lists the
bootstrap's `contour` cluster host with `cx_active` (HTTP/2 connections) and `rq_active` (gRPC streams
on them). With ADS that is one connection and one stream, and the only `connected_state` gauge is the
ADS mux's `control_plane.connected_state`; with `--xds-per-type-streams` (Contour's transport) every
type and every EDS cluster and route configuration has its own. After each test Envoy has rejected
nothing (`update_rejected` all zero).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contour.envoy.bootstrap import XDS_CLUSTER_NAME
from tests.e2e.echo_config import Backends
from tests.e2e.run_routing_support import namespace, proxy, route, service, upstream
from tests.support.contour_run import ContourRun, running

CONNECTED_STATE = r"control_plane\.connected_state$"


def xds_host_stats(run: ContourRun) -> dict[str, int]:
    """The `contour` cluster's host counters from `/clusters` (`contour::127.0.0.1:PORT::rq_active::1`)."""
    stats: dict[str, int] = {}
    for line in run.admin("/clusters").text.splitlines():
        cluster, _, stat, *value = line.split("::")
        if cluster == XDS_CLUSTER_NAME and value and value[0].isdigit():
            stats[stat] = int(value[0])
    return stats


def connected_states(run: ContourRun) -> dict[str, int]:
    """Every `*control_plane.connected_state` gauge: one per gRPC mux (ADS, or one per subscription)."""
    found = run.admin("/stats", format="json", filter=CONNECTED_STATE).json().get("stats", [])
    return {s["name"]: s["value"] for s in found}


def serve_echo(run: ContourRun, ns: str, host: str, backends: Backends) -> None:
    """`host` routed by an HTTPProxy to Service `echo` on `echo-a`, answering through Envoy."""
    run.apply([namespace(ns), *service(ns, "echo", backends.a)])
    run.apply([proxy(ns, "app", host, routes=[route(services=[upstream("echo")])])])
    run.wait_for(host, lambda a: a.status == 200 and a.pod == "echo-a", what=f"{host} answering from echo-a")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContourRun]:
    with running(tmp_path_factory.mktemp("contour-run-ads") / "state") as contour:
        yield contour


def test_an_httpproxy_answers_200_over_ads(run: ContourRun, backends: Backends) -> None:
    serve_echo(run, "ads-routing", "ads.example.com", backends)
    answer = run.request("ads.example.com")
    assert (answer.status, answer.pod) == (200, "echo-a")


def test_an_endpoint_slice_change_reaches_envoy_over_ads(run: ContourRun, backends: Backends) -> None:
    serve_echo(run, "ads-endpoints", "ads-endpoints.example.com", backends)
    moved = service("ads-endpoints", "echo", backends.b)[1]  # the same EndpointSlice, now on echo-b
    run.apply([moved])
    answer = run.wait_for("ads-endpoints.example.com", lambda a: a.pod == "echo-b", what="traffic on echo-b")
    assert answer.status == 200


def test_envoy_holds_one_xds_connection_and_one_stream(run: ContourRun, backends: Backends) -> None:
    serve_echo(run, "ads-streams-1", "ads-streams-1.example.com", backends)
    serve_echo(run, "ads-streams-2", "ads-streams-2.example.com", backends)
    stats = xds_host_stats(run)
    assert (stats.get("cx_active"), stats.get("rq_active")) == (1, 1), stats


def test_the_only_xds_subscription_state_is_the_ads_muxs(run: ContourRun, backends: Backends) -> None:
    serve_echo(run, "ads-state", "ads-state.example.com", backends)
    assert connected_states(run) == {"control_plane.connected_state": 1}


def test_per_type_streams_on_request_open_one_stream_per_type_and_per_eds_cluster(
    tmp_path_factory: pytest.TempPathFactory, backends: Backends
) -> None:
    state = tmp_path_factory.mktemp("contour-run-per-type") / "state"
    with running(state, ("--xds-per-type-streams",)) as per_type:
        serve_echo(per_type, "per-type", "per-type.example.com", backends)
        stats = xds_host_stats(per_type)
        rejected = per_type.rejections()
    # CDS, LDS, RTDS, EDS for the one cluster and RDS for `ingress_http`, on one HTTP/2 connection.
    assert (stats.get("cx_active"), stats.get("rq_active")) == (1, 5), stats
    assert rejected == {}
