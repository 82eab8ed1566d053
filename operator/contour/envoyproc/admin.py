"""A small async client for a local Envoy's admin API: readiness, stats, config dumps and draining.

The admin listener is reached on loopback TCP (`127.0.0.1:PORT`) or a unix socket (an absolute
path), whichever Envoy wrote to its `--admin-address-path` file. Endpoints and their methods are
Envoy 1.40's (https://www.envoyproxy.io/docs/envoy/v1.40.0/operations/admin): `GET /ready` answers
200 `LIVE` once initialised; `POST /healthcheck/fail` fails health checks; `POST
/drain_listeners?graceful` drains for `--drain-time-s` and then stops the listeners.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any, Final

import httpx

# Where each xDS subscription counts its rejected updates (NACKs), as a regex over stat names.
# EDS counts per cluster under `cluster.<name>.`, RDS per route config under the HCM's stat prefix,
# SDS per secret under `sds.<name>.`, RTDS per layer under `runtime.`.
UPDATE_REJECTED_STATS: Final = {
    "cds": r"^cluster_manager\.cds\.update_rejected$",
    "lds": r"^listener_manager\.lds\.update_rejected$",
    "rds": r"^http\..+\.rds\..+\.update_rejected$",
    "eds": r"^cluster\..+\.update_rejected$",
    "sds": r"^sds\..+\.update_rejected$",
    "rtds": r"^runtime\..*update_rejected$",
}
_TYPE_URL_KINDS: Final = {
    "type.googleapis.com/envoy.config.cluster.v3.Cluster": "cds",
    "type.googleapis.com/envoy.config.listener.v3.Listener": "lds",
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": "rds",
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": "eds",
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret": "sds",
    "type.googleapis.com/envoy.service.runtime.v3.Runtime": "rtds",
}


class EnvoyAdmin:
    """Admin API of one running Envoy; `address` is `host:port` or an absolute unix socket path."""

    def __init__(self, address: str, *, timeout: float = 5.0) -> None:
        self.address = address
        if address.startswith("/"):
            transport = httpx.AsyncHTTPTransport(uds=address)
            self._client = httpx.AsyncClient(
                transport=transport, base_url="http://envoy-admin", timeout=timeout
            )
        else:
            self._client = httpx.AsyncClient(base_url=f"http://{address}", timeout=timeout)

    async def __aenter__(self) -> EnvoyAdmin:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self._client.get(path, params=params or None)

    async def post(self, path: str) -> httpx.Response:
        response = await self._client.post(path)
        response.raise_for_status()
        return response

    async def server_state(self) -> str:
        """`LIVE`, `PRE_INITIALIZING`, `INITIALIZING` or `DRAINING`, from `GET /ready`."""
        response = await self.get("/ready")
        return response.text.strip()

    async def is_live(self) -> bool:
        return await self.server_state() == "LIVE"

    async def stats(self, name_filter: str | None = None) -> dict[str, int]:
        """Counters and gauges (histograms and text readouts left out), optionally filtered by regex."""
        params = {"format": "json"}
        if name_filter is not None:
            params["filter"] = name_filter
        response = await self.get("/stats", **params)
        response.raise_for_status()
        result: dict[str, int] = {}
        for entry in response.json().get("stats", []):
            value = entry.get("value")
            if "name" in entry and isinstance(value, int):
                result[entry["name"]] = value
        return result

    async def stat(self, name: str) -> int:
        """One counter or gauge by exact name; 0 if Envoy has not created it."""
        return (await self.stats(f"^{re.escape(name)}$")).get(name, 0)

    async def update_rejected(self, kind: str) -> int:
        """Rejected xDS updates (NACKs) so far for `kind`: cds/lds/rds/eds/sds/rtds or a type URL."""
        key = _TYPE_URL_KINDS.get(kind, kind)
        if key not in UPDATE_REJECTED_STATS:
            raise ValueError(
                f"unknown xDS kind {kind!r}: use one of {', '.join(UPDATE_REJECTED_STATS)} or a type URL"
            )
        return sum((await self.stats(UPDATE_REJECTED_STATS[key])).values())

    async def config_dump(self, resource: str | None = None) -> dict[str, Any]:
        """`GET /config_dump`, optionally narrowed to one `resource` (e.g. `dynamic_active_clusters`)."""
        response = await self.get("/config_dump", **({"resource": resource} if resource else {}))
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    async def listener_addresses(self) -> dict[str, tuple[str, int]]:
        """Listener name -> bound (address, port); resolves listeners configured on port 0."""
        response = await self.get("/listeners", format="json")
        response.raise_for_status()
        result: dict[str, tuple[str, int]] = {}
        for status in response.json().get("listener_statuses", []):
            socket = status.get("local_address", {}).get("socket_address")
            if socket is not None:
                result[status["name"]] = (socket["address"], int(socket.get("port_value", 0)))
        return result

    async def healthcheck_fail(self) -> None:
        await self.post("/healthcheck/fail")

    async def drain_listeners(self, *, graceful: bool = True) -> None:
        await self.post("/drain_listeners?graceful" if graceful else "/drain_listeners")
