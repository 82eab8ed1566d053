"""What `contour cli` runs: one xDS subscription, its responses shown as JSON for machines or a
rich table for people. Imported only when the command runs (grpc, protobuf and rich are not light).

JSON is the protobuf JSON mapping of the whole `DiscoveryResponse` (or `DeltaDiscoveryResponse`) with
proto field names, as Contour's `contour cli` prints it; every resource is an `Any` rendered with its
`@type`, so `json_format.ParseDict` gives the response back. Envoy configuration nests further `Any`s
(filters, transport sockets, extensions): their message types are imported on first sight, from the
package their type URL names. A resource whose type cannot be found is shown as its type URL and the
reason instead of failing the whole output.

The table has one row per resource: its name, its message type and a short summary (a listener's
address and filter chains, a route configuration's virtual hosts and routes, a cluster's discovery
type and endpoints, an assignment's endpoints, a secret's kind).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterable
from contextlib import aclosing
from pathlib import Path
from typing import Any, TextIO

from google.protobuf import descriptor_pool, json_format
from rich.console import Console
from rich.table import Table

from contour.cli.xdscli import CliRequest, OutputFormat, TlsPaths
from contour.xds import typeurls
from contour.xds.client import ClientTls, Subscription, XdsClientError, responses

EXIT_FAILED = 1
_PIPED_WIDTH = 1000

_MISSING_TYPE = re.compile(r"Can not find message descriptor by type_url: (\S+)")
_SHOWN_ADDRESSES = 3


def _import_type(type_url: str) -> bool:
    """Import every generated module of the type's package; whether the type is then known."""
    full_name = type_url.rpartition("/")[2]
    package = full_name.rpartition(".")[0]
    try:
        spec = importlib.util.find_spec(package) if package else None
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    for location in spec.submodule_search_locations:
        for module in sorted(Path(location).glob("*_pb2.py")):
            try:
                importlib.import_module(f"{package}.{module.stem}")
            except ImportError:
                continue
    try:
        descriptor_pool.Default().FindMessageTypeByName(full_name)
    except KeyError:
        return False
    return True


def message_dict(message: Any) -> dict[str, Any]:
    """The protobuf JSON of ``message`` as a dict, importing the types its ``Any`` fields name.

    Raises ``TypeError`` when a nested ``Any`` names a type no installed module defines.
    """
    tried: set[str] = set()
    while True:
        try:
            result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
        except TypeError as error:
            found = _MISSING_TYPE.search(str(error))
            if found is None or found.group(1) in tried:
                raise
            tried.add(found.group(1))
            if not _import_type(found.group(1)):
                raise
            continue
        return result


def response_dict(response: Any) -> dict[str, Any]:
    """The protobuf JSON of a (delta) discovery response; unrenderable resources become placeholders."""
    with contextlib.suppress(TypeError):  # some resource's type is unknown here: render one by one below
        return message_dict(response)
    resources: list[dict[str, Any]] = []
    for resource in response.resources:
        try:
            resources.append(message_dict(resource))
        except TypeError as error:
            resources.append({"@unrenderable": _packed(resource).type_url, "error": str(error)})
    bare = type(response)()
    bare.CopyFrom(response)
    del bare.resources[:]
    rendered = message_dict(bare)
    rendered["resources"] = resources
    return rendered


def response_json(response: Any) -> str:
    """One JSON document (indented) for a response."""
    return json.dumps(response_dict(response), indent=2)


def _packed(resource: Any) -> Any:
    """The ``Any`` of a SotW resource (itself) or of a delta ``Resource``."""
    return resource.resource if hasattr(resource, "resource") else resource


def _few(values: Iterable[str]) -> str:
    listed = list(values)
    shown = ", ".join(listed[:_SHOWN_ADDRESSES])
    more = len(listed) - _SHOWN_ADDRESSES
    return f"{shown}, +{more}" if more > 0 else shown


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _address(address: Any) -> str:
    kind = address.WhichOneof("address")
    if kind == "socket_address":
        socket = address.socket_address
        host = f"[{socket.address}]" if ":" in socket.address else socket.address
        return f"{host}:{socket.named_port or socket.port_value}"
    if kind == "pipe":
        return str(address.pipe.path)
    if kind == "envoy_internal_address":
        return f"internal:{address.envoy_internal_address.server_listener_name}"
    return "-"


def _lb_endpoints(assignment: Any) -> list[str]:
    return [
        _address(lb.endpoint.address)
        for locality in assignment.endpoints
        for lb in locality.lb_endpoints
        if lb.HasField("endpoint")
    ]


def _endpoints(assignment: Any) -> str:
    addresses = _lb_endpoints(assignment)
    summary = _count(len(addresses), "endpoint")
    return f"{summary}: {_few(addresses)}" if addresses else summary


def _listener(listener: Any) -> str:
    chains = len(listener.filter_chains) + (1 if listener.HasField("default_filter_chain") else 0)
    parts = [_address(listener.address), _count(chains, "filter chain")]
    server_names = sorted({n for c in listener.filter_chains for n in c.filter_chain_match.server_names})
    if server_names:
        parts.append(f"server names {_few(server_names)}")
    return ", ".join(parts)


def _route_configuration(config: Any) -> str:
    routes = sum(len(host.routes) for host in config.virtual_hosts)
    parts = [_count(len(config.virtual_hosts), "virtual host"), _count(routes, "route")]
    domains = [d for host in config.virtual_hosts for d in host.domains]
    if domains:
        parts.append(f"domains {_few(domains)}")
    return ", ".join(parts)


def _cluster(cluster: Any) -> str:
    if cluster.HasField("cluster_type"):
        kind = str(cluster.cluster_type.name)
    else:
        kind = str(cluster.DiscoveryType.Name(cluster.type))
    if cluster.HasField("eds_cluster_config"):
        return f"{kind}, service {cluster.eds_cluster_config.service_name or cluster.name}"
    if cluster.HasField("load_assignment"):
        return f"{kind}, {_endpoints(cluster.load_assignment)}"
    return kind


def _secret(secret: Any) -> str:
    return str(secret.WhichOneof("type") or "empty")


def _runtime(runtime: Any) -> str:
    return _count(len(runtime.layer.fields), "key")


_SUMMARIES: dict[str, Callable[[Any], str]] = {
    typeurls.LISTENER: _listener,
    typeurls.ROUTE: _route_configuration,
    typeurls.CLUSTER: _cluster,
    typeurls.ENDPOINT: _endpoints,
    typeurls.SECRET: _secret,
    typeurls.RUNTIME: _runtime,
}


def resource_rows(response: Any) -> list[tuple[str, str, str]]:
    """(name, message type, summary) per resource of a (delta) response; removals last (delta)."""
    rows: list[tuple[str, str, str]] = []
    for resource in response.resources:
        packed = _packed(resource)
        message_class = typeurls.MESSAGE_CLASSES.get(packed.type_url)
        if message_class is None:
            rows.append((str(getattr(resource, "name", "")), packed.type_url, "unknown type"))
            continue
        message = message_class.FromString(packed.value)
        rows.append(
            (
                typeurls.resource_name(message),
                str(message.DESCRIPTOR.name),
                _SUMMARIES[packed.type_url](message),
            )
        )
    rows.extend((str(name), "-", "removed") for name in getattr(response, "removed_resources", ()))
    return rows


def render_table(response: Any, console: Console) -> None:
    """Print a response as a table titled with its type and version."""
    delta = hasattr(response, "system_version_info")
    version = response.system_version_info if delta else response.version_info
    short = typeurls.SHORT_NAMES.get(response.type_url, response.type_url).upper()
    rows = resource_rows(response)
    table = Table(
        title=f"{short} version {version or '-'}: {_count(len(rows), 'resource')}", title_justify="left"
    )
    table.add_column("Name", overflow="fold")
    table.add_column("Type")
    table.add_column("Summary", overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _client_tls(paths: TlsPaths | None) -> ClientTls | None:
    if paths is None:
        return None
    return ClientTls(paths.ca_file, paths.cert_file, paths.key_file, paths.server_name)


async def show(request: CliRequest, out: TextIO, err: TextIO, *, width: int | None = None) -> int:
    """Run one `contour cli` request, printing responses to ``out``; the exit code.

    Errors go to ``err`` as one line. ``width`` fixes the table width (default: the terminal's, or
    unlimited when ``out`` is not a terminal and ``COLUMNS`` is not set).
    """
    type_url = {short: url for url, short in typeurls.SHORT_NAMES.items()}[request.resource_type.value]
    subscription = Subscription(
        type_url=type_url,
        names=request.names,
        delta=request.delta,
        ads=request.ads,
        node_id=request.node_id,
        node_cluster=request.node_cluster,
        nack=request.nack,
    )
    if width is None and not out.isatty() and "COLUMNS" not in os.environ:
        width = _PIPED_WIDTH  # piped: rows as wide as they need, names never folded
    console = Console(file=out, width=width)
    stream = responses(
        request.target, subscription, _client_tls(request.tls), first_response_timeout=request.timeout or None
    )
    try:
        async with aclosing(stream):
            async for response in stream:
                if request.output is OutputFormat.TABLE:
                    render_table(response, console)
                else:
                    out.write(response_json(response) + "\n")
                out.flush()
                if not request.watch:
                    break
    except XdsClientError as error:
        err.write(f"contour cli: {error}\n")
        err.flush()
        return EXIT_FAILED
    return 0
