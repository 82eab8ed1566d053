"""Make-before-break on one ADS stream: listeners and routes wait for the clusters they may use.

Envoy keeps a new or changed cluster warming until its ClusterLoadAssignment arrives, and a route to
a warming cluster fails. So after a cluster response, LDS and RDS responses are held until Envoy has
answered (ACK or NACK) that cluster response and the first endpoint response sent after it
(https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#eventual-consistency-considerations).
Only that first endpoint response holds them: later endpoint churn never delays listeners or routes.
"""

from collections.abc import Callable

from contour.xds import typeurls

# answered(type_url, nonce): has the client ACKed or NACKed the response with this nonce?
Answered = Callable[[str, str], bool]

_HELD = frozenset({typeurls.LISTENER, typeurls.ROUTE})


class WarmingGate:
    """Tracks the cluster response and the endpoint response that follows it, per stream."""

    __slots__ = ("_cluster_nonce", "_endpoint_nonce", "_expect_endpoints")

    def __init__(self) -> None:
        self._cluster_nonce: str | None = None
        self._endpoint_nonce: str | None = None
        self._expect_endpoints = False

    def sent(self, type_url: str, nonce: str) -> None:
        """Note a response that was just sent."""
        if type_url == typeurls.CLUSTER:
            self._cluster_nonce, self._endpoint_nonce, self._expect_endpoints = nonce, None, True
        elif type_url == typeurls.ENDPOINT and self._expect_endpoints:
            self._endpoint_nonce, self._expect_endpoints = nonce, False

    def holds(self, type_url: str, answered: Answered) -> bool:
        """Whether a response of ``type_url`` must wait."""
        if type_url not in _HELD:
            return False
        if self._cluster_nonce is not None:
            if not answered(typeurls.CLUSTER, self._cluster_nonce):
                return True
            self._cluster_nonce = None
        if self._endpoint_nonce is not None:
            if not answered(typeurls.ENDPOINT, self._endpoint_nonce):
                return True
            self._endpoint_nonce = None
        return False
