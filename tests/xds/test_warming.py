"""The make-before-break gate: which responses hold listeners and routes back, and for how long."""

import grpc
import pytest

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.warming import WarmingGate
from tests.xds import builders as b
from tests.xds.client import DeltaClient, delta_barrier

CDS, EDS, LDS, RDS = typeurls.CLUSTER, typeurls.ENDPOINT, typeurls.LISTENER, typeurls.ROUTE

# (id, responses sent in order as (type, nonce), nonces answered, type asked about, held?)
CASES = [
    ("nothing-sent", [], set(), LDS, False),
    ("cluster-unanswered-holds-listeners", [(CDS, "1")], set(), LDS, True),
    ("cluster-unanswered-holds-routes", [(CDS, "1")], set(), RDS, True),
    ("cluster-unanswered-never-holds-endpoints", [(CDS, "1")], set(), EDS, False),
    ("cluster-answered-no-endpoints-follow", [(CDS, "1")], {"1"}, LDS, False),
    ("first-endpoints-after-cluster-unanswered", [(CDS, "1"), (EDS, "2")], {"1"}, LDS, True),
    ("first-endpoints-after-cluster-answered", [(CDS, "1"), (EDS, "2")], {"1", "2"}, LDS, False),
    ("later-endpoint-churn-does-not-hold", [(CDS, "1"), (EDS, "2"), (EDS, "3")], {"1", "2"}, LDS, False),
    ("endpoints-without-cluster-do-not-hold", [(EDS, "1")], set(), LDS, False),
]


@pytest.mark.parametrize(
    ("sent", "answered", "asked", "held"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_gate(sent: list[tuple[str, str]], answered: set[str], asked: str, held: bool) -> None:
    gate = WarmingGate()
    for type_url, nonce in sent:
        gate.sent(type_url, nonce)
    assert gate.holds(asked, lambda type_url, nonce: nonce in answered) is held


async def test_delta_ads_holds_listeners_until_clusters_are_acked(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    client = DeltaClient.ads(channel)
    await client.request(CDS)
    await client.request(LDS)
    cache.set_snapshot("contour", b.snapshot("v1"))
    clusters = await client.recv()
    assert clusters.type_url == CDS
    await delta_barrier(client)
    await client.ack(clusters)
    assert (await client.recv()).type_url == LDS
