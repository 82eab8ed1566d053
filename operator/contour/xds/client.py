"""An xDS client for inspecting a running server: what ``contour cli`` uses to see what Envoy is served.

``responses(target, Subscription(type_url, names), tls)`` opens one stream (ADS or the type's own
discovery service, state of the world or delta), subscribes like an Envoy would and yields every
response after acknowledging it (or NACKing it with ``nack=True``, to exercise the server's NACK
handling). Closing the generator half-closes the stream and waits briefly for the server to end it,
so the last ACK is delivered rather than cut by a cancellation.

Failures are one ``XdsClientError`` with a one-line reason: unreadable TLS files, an unreachable
server, a TLS handshake refused either way, no response within the first-response timeout, or the
server ending the stream.
Spec: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.rpc import code_pb2, status_pb2

from contour.xds import typeurls
from contour.xds.server import ADS_SERVICE, PER_TYPE_SERVICES

DEFAULT_NODE_ID = "ContourCLI"
DEFAULT_NODE_CLUSTER = "contour"
# The name Contour's serving certificate carries (contour certgen's SAN, Contour's own CLI checks it).
DEFAULT_SERVER_NAME = "contour"
NACK_MESSAGE = "Told to create a NACK for testing"

# A whole route table can be tens of MiB; Envoy accepts any size from its management server too.
_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (("grpc.max_receive_message_length", -1),)
_CLOSE_GRACE_SECONDS = 1.0

_METHODS: dict[str, tuple[str, str, str]] = {
    type_url: (service, sotw, delta) for service, (sotw, delta, type_url) in PER_TYPE_SERVICES.items()
}


class XdsClientError(Exception):
    """The stream could not be opened or went wrong; ``str()`` is one line saying why."""


@dataclass(frozen=True)
class ClientTls:
    """mTLS to the server: the CA that signs its certificate, our client certificate and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    server_name: str = DEFAULT_SERVER_NAME

    def credentials(self) -> Any:
        """gRPC channel credentials from the files (``XdsClientError`` if one cannot be read)."""
        pems: list[bytes] = []
        for option, path in (("CA", self.ca_file), ("certificate", self.cert_file), ("key", self.key_file)):
            try:
                pems.append(path.read_bytes())
            except OSError as error:
                raise XdsClientError(
                    f"cannot read the {option} file {str(path)!r}: {error.strerror}"
                ) from None
        ca, cert, key = pems
        return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


@dataclass(frozen=True)
class Subscription:
    """What to ask for and how: one type, optionally by name, on which kind of stream."""

    type_url: str
    names: tuple[str, ...] = ()
    delta: bool = False
    ads: bool = False
    node_id: str = DEFAULT_NODE_ID
    node_cluster: str = DEFAULT_NODE_CLUSTER
    nack: bool = False

    def method(self) -> str:
        """The full gRPC method path of the stream."""
        if self.ads:
            return (
                f"/{ADS_SERVICE}/{'DeltaAggregatedResources' if self.delta else 'StreamAggregatedResources'}"
            )
        service, sotw, delta = _METHODS[self.type_url]
        return f"/{service}/{delta if self.delta else sotw}"


def _channel(target: str, tls: ClientTls | None) -> Any:
    if tls is None:
        return grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
    options = (*_CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", tls.server_name))
    return grpc.aio.secure_channel(target, tls.credentials(), options=options)


def _rpc_failure(target: str, error: grpc.aio.AioRpcError, tls: ClientTls | None) -> XdsClientError:
    details = " ".join(str(error.details() or "").split())
    reason = f"xDS server {target}: {error.code().name}: {details}"
    if details.startswith("failed to connect") and details.endswith("Socket closed"):
        # The peer hung up during the handshake: it wants TLS, or it refused our certificate.
        if tls is None:
            reason += " (does the server require TLS? give --cafile, --cert-file and --key-file)"
        else:
            reason += " (the server may have refused the client certificate)"
    return XdsClientError(reason)


class _Requests:
    """Builds the requests of one stream: the node goes in the first one only, as Envoy does."""

    def __init__(self, subscription: Subscription) -> None:
        self._subscription = subscription
        self._accepted_version = ""
        self._first = True

    def _stamp(self, request: Any) -> Any:
        if self._first:
            request.node.CopyFrom(
                base_pb2.Node(id=self._subscription.node_id, cluster=self._subscription.node_cluster)
            )
            self._first = False
        return request

    def initial(self) -> Any:
        sub = self._subscription
        if sub.delta:
            return self._stamp(
                discovery_pb2.DeltaDiscoveryRequest(type_url=sub.type_url, resource_names_subscribe=sub.names)
            )
        return self._stamp(discovery_pb2.DiscoveryRequest(type_url=sub.type_url, resource_names=sub.names))

    def answer(self, response: Any) -> Any:
        """The ACK of ``response``, or its NACK when the subscription says so."""
        sub = self._subscription
        error = status_pb2.Status(code=code_pb2.INTERNAL, message=NACK_MESSAGE) if sub.nack else None
        if sub.delta:
            request = discovery_pb2.DeltaDiscoveryRequest(
                type_url=sub.type_url, response_nonce=response.nonce
            )
        else:
            if error is None:
                self._accepted_version = response.version_info
            # A NACK carries the last version accepted, an ACK the one it accepts.
            request = discovery_pb2.DiscoveryRequest(
                type_url=sub.type_url,
                resource_names=sub.names,
                version_info=self._accepted_version,
                response_nonce=response.nonce,
            )
        if error is not None:
            request.error_detail.CopyFrom(error)
        return self._stamp(request)


async def responses(
    target: str,
    subscription: Subscription,
    tls: ClientTls | None = None,
    *,
    first_response_timeout: float | None = 10.0,
) -> AsyncGenerator[Any, None]:
    """Each ``DiscoveryResponse`` (``DeltaDiscoveryResponse`` with ``delta``) the server sends, answered.

    ``target`` is ``host:port``. Responses of other types (none are asked for) are skipped. Raises
    ``XdsClientError``; use with ``contextlib.aclosing`` so the stream is closed cleanly.
    """
    if subscription.type_url not in typeurls.KNOWN:
        raise XdsClientError(f"unknown xDS type {subscription.type_url!r}")
    response_class = (
        discovery_pb2.DeltaDiscoveryResponse if subscription.delta else discovery_pb2.DiscoveryResponse
    )
    request_class = (
        discovery_pb2.DeltaDiscoveryRequest if subscription.delta else discovery_pb2.DiscoveryRequest
    )
    requests = _Requests(subscription)
    async with _channel(target, tls) as channel:
        call = channel.stream_stream(
            subscription.method(),
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )()
        timeout = first_response_timeout
        try:
            await call.write(requests.initial())
            while True:
                try:
                    response = await asyncio.wait_for(call.read(), timeout)
                except TimeoutError:
                    call.cancel()
                    names = f" for {', '.join(subscription.names)}" if subscription.names else ""
                    raise XdsClientError(
                        f"xDS server {target}: no {typeurls.SHORT_NAMES[subscription.type_url]} response"
                        f"{names} within {timeout:g} s"
                    ) from None
                if response is grpc.aio.EOF:
                    raise _ended(target, await call.code(), await call.details())
                timeout = None
                if response.type_url != subscription.type_url:
                    continue
                await call.write(requests.answer(response))
                yield response
        except grpc.aio.AioRpcError as error:
            raise _rpc_failure(target, error, tls) from None
        finally:
            await _close(call)


def _ended(target: str, code: Any, details: str | None) -> XdsClientError:
    suffix = f": {details}" if details else ""
    return XdsClientError(f"xDS server {target} ended the stream ({code.name}{suffix})")


_CLOSING_ERRORS = (grpc.aio.AioRpcError, grpc.aio.UsageError, TimeoutError, asyncio.InvalidStateError)


async def _close(call: Any) -> None:
    """Half-close and give the server a moment to end the stream, so what we wrote last arrives."""
    if call.done():
        return
    # The stream may already be ending, or the server may not end it in time: either way it is cancelled.
    with contextlib.suppress(
        grpc.aio.AioRpcError, grpc.aio.UsageError, TimeoutError, asyncio.InvalidStateError
    ):
        await call.done_writing()
        await asyncio.wait_for(call.code(), _CLOSE_GRACE_SECONDS)
    call.cancel()
