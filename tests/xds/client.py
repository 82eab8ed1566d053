"""A thin test client over real grpc.aio stubs: write requests, read parsed responses with a deadline."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.rpc import status_pb2

from contour.xds import typeurls

CLIENT_OPTIONS = (("grpc.max_receive_message_length", -1),)
NODE = base_pb2.Node(id="envoy-1", cluster="contour")
TIMEOUT = 5.0


async def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        await asyncio.sleep(0.005)


class SotwClient:
    """One SotW stream (ADS by default, or any ``Stream*`` method given as a call)."""

    def __init__(self, call: Any, node: Any = NODE) -> None:
        self.call = call
        self.node = node
        self._sent_node = False

    @classmethod
    def ads(cls, channel: grpc.aio.Channel, node: Any = NODE) -> "SotwClient":
        return cls(ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources(), node)

    async def request(
        self,
        type_url: str,
        names: tuple[str, ...] = (),
        *,
        version: str = "",
        nonce: str = "",
        error: str = "",
    ) -> None:
        request = discovery_pb2.DiscoveryRequest(
            type_url=type_url, resource_names=names, version_info=version, response_nonce=nonce
        )
        if not self._sent_node:
            request.node.CopyFrom(self.node)
            self._sent_node = True
        if error:
            request.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
        await self.call.write(request)

    async def ack(self, response: Any, names: tuple[str, ...] = ()) -> None:
        await self.request(response.type_url, names, version=response.version_info, nonce=response.nonce)

    async def nack(self, response: Any, last_good: str, error: str, names: tuple[str, ...] = ()) -> None:
        await self.request(response.type_url, names, version=last_good, nonce=response.nonce, error=error)

    async def recv(self, timeout: float = TIMEOUT) -> Any:
        response = await asyncio.wait_for(self.call.read(), timeout)
        assert response is not grpc.aio.EOF, "stream ended"
        return response


class DeltaClient:
    """One delta stream (ADS by default)."""

    def __init__(self, call: Any, node: Any = NODE) -> None:
        self.call = call
        self.node = node
        self._sent_node = False

    @classmethod
    def ads(cls, channel: grpc.aio.Channel, node: Any = NODE) -> "DeltaClient":
        return cls(ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).DeltaAggregatedResources(), node)

    async def request(
        self,
        type_url: str,
        subscribe: tuple[str, ...] = (),
        unsubscribe: tuple[str, ...] = (),
        *,
        initial: dict[str, str] | None = None,
        nonce: str = "",
        error: str = "",
    ) -> None:
        request = discovery_pb2.DeltaDiscoveryRequest(
            type_url=type_url,
            resource_names_subscribe=subscribe,
            resource_names_unsubscribe=unsubscribe,
            initial_resource_versions=initial or {},
            response_nonce=nonce,
        )
        if not self._sent_node:
            request.node.CopyFrom(self.node)
            self._sent_node = True
        if error:
            request.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
        await self.call.write(request)

    async def ack(self, response: Any) -> None:
        await self.request(response.type_url, nonce=response.nonce)

    async def recv(self, timeout: float = TIMEOUT) -> Any:
        response = await asyncio.wait_for(self.call.read(), timeout)
        assert response is not grpc.aio.EOF, "stream ended"
        return response


def names_of(response: Any) -> list[str]:
    """Names of the resources in a SotW response, in order."""
    message_class = typeurls.MESSAGE_CLASSES[response.type_url]
    return [typeurls.resource_name(message_class.FromString(r.value)) for r in response.resources]


def unpack(response: Any) -> list[Any]:
    """The resources of a SotW response as messages."""
    message_class = typeurls.MESSAGE_CLASSES[response.type_url]
    return [message_class.FromString(r.value) for r in response.resources]


def delta_versions(response: Any) -> dict[str, str]:
    """name -> version of the resources in a delta response."""
    return {r.name: r.version for r in response.resources}


async def sotw_barrier(client: SotwClient) -> None:
    """Prove nothing else is queued: a first runtime request is answered at once, after anything pending.

    The stream handles requests in order and sends in a fixed type order with runtime last, so any
    other response due before this point arrives first and fails the assertion.
    """
    await client.request(typeurls.RUNTIME)
    response = await client.recv()
    assert response.type_url == typeurls.RUNTIME, f"unexpected {response.type_url} {names_of(response)}"


async def delta_barrier(client: DeltaClient) -> None:
    """The delta counterpart: subscribing to a missing secret is answered with its removal."""
    await client.request(typeurls.SECRET, ("barrier",))
    response = await client.recv()
    assert (response.type_url, list(response.removed_resources)) == (typeurls.SECRET, ["barrier"]), response
