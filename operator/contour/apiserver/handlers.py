"""HTTP handlers of the embedded API server: resource verbs, watch streams, discovery and OpenAPI.

The handlers translate between HTTP and `APIService`: they parse the URL and the options, decode the
body, call one operation, and shape the response (JSON object, list, Table, Status or a stream of
watch events) exactly as kubectl and kr8s expect from a real API server. Every exception a request can
cause becomes a Status response; nothing a client sends can stop the server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from contour.apiserver import errors, table
from contour.apiserver.discovery import discovery_document
from contour.apiserver.errors import APIError
from contour.apiserver.openapi import OpenAPIDocuments
from contour.apiserver.requests import MAX_BODY, ResourcePath, decode_body, parse_path, truthy
from contour.apiserver.resources import ResourceType
from contour.apiserver.scale import SCALE_TYPE, ScaleOperations
from contour.apiserver.selectors import compile_selectors
from contour.apiserver.service import APIService, DeleteOptions, WriteOptions
from contour.apiserver.store import Stored

log = logging.getLogger(__name__)

JSON = "application/json"
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


def status_response(error: APIError) -> web.Response:
    return web.Response(status=error.code, text=json.dumps(error.status()), content_type=JSON)


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(status=status, text=json.dumps(body, separators=(",", ":")), content_type=JSON)
    for warning in warnings or []:
        response.headers.add("Warning", f'299 - "{warning}"')
    return response


class Handlers:
    def __init__(
        self, service: APIService, *, bookmark_interval: float = 30.0, version: dict[str, str]
    ) -> None:
        self.service = service
        self.bookmark_interval = bookmark_interval
        self.version = version
        self.ready = True
        self.openapi_documents = OpenAPIDocuments()
        self.snapshots = ListSnapshots()
        self.scales = ScaleOperations(service)

    # Non-resource endpoints ----------------------------------------------------------------------

    async def version_info(self, _request: web.Request) -> web.Response:
        return json_response(self.version)

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def discovery(self, request: web.Request) -> web.Response:
        found = discovery_document(self.service.registry, request.path, request.headers.get("Accept", ""))
        if found is None:
            return status_response(
                APIError(404, "NotFound", "the server could not find the requested resource")
            )
        body, content_type = found
        return web.Response(body=json.dumps(body).encode(), headers={"Content-Type": content_type})

    async def openapi(self, request: web.Request) -> web.Response:
        document = self.openapi_documents.for_path(self.service.registry, request.path)
        if document is None:
            return status_response(
                APIError(404, "NotFound", "the server could not find the requested resource")
            )
        return web.Response(body=document, content_type=JSON)

    # Resources -----------------------------------------------------------------------------------

    async def resource(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._resource(request)
        except APIError as error:
            return status_response(error)
        except asyncio.CancelledError:
            raise
        except ConnectionResetError:
            raise
        except Exception as exc:  # a bug must answer 500 and leave the server running
            log.exception("request %s %s failed", request.method, request.path)
            return status_response(errors.internal(str(exc)))

    def _rtype(self, path: ResourcePath) -> ResourceType:
        rtype = self.service.registry.lookup(path.group, path.version, path.plural)
        if rtype is None:
            raise APIError(404, "NotFound", "the server could not find the requested resource", {})
        if (
            path.subresource
            and not (path.subresource == "status" and rtype.has_status)
            and not (path.subresource == "scale" and rtype.scale is not None)
            and not (rtype.group_resource == "namespaces" and path.subresource == "finalize")
        ):
            raise APIError(404, "NotFound", "the server could not find the requested resource", {})
        if not rtype.namespaced and path.namespace is not None:
            raise APIError(404, "NotFound", "the server could not find the requested resource", {})
        return rtype

    async def _body(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise errors.too_large()
        data = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > MAX_BODY:
                raise errors.too_large()
        return decode_body(bytes(data), request.headers.get("Content-Type", JSON))

    def _write_options(self, request: web.Request) -> WriteOptions:
        query = request.query
        dry_run = query.getall("dryRun", [])
        if any(v not in ("All", "") for v in dry_run):
            raise errors.bad_request(f"Invalid dry run value: {dry_run}")
        validation = query.get("fieldValidation", "Strict") or "Strict"
        if validation not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(f"Invalid value for fieldValidation: {validation}")
        manager = query.get("fieldManager", "")
        if not manager:
            agent = request.headers.get("User-Agent", "")
            manager = agent.split("/", 1)[0] if agent else ""
        if len(manager) > 128:
            raise errors.bad_request("fieldManager must be no more than 128 characters")
        return WriteOptions(
            dry_run="All" in dry_run,
            field_manager=manager,
            field_validation=validation,
            force=truthy(query.get("force")),
        )

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        path = parse_path(request.path)
        if path is None:
            raise APIError(404, "NotFound", "the server could not find the requested resource", {})
        rtype = self._rtype(path)
        namespace = path.namespace if rtype.namespaced else ""
        method = request.method
        accept = request.headers.get("Accept", "")
        if path.subresource == "scale" and path.name is not None:
            if rtype.namespaced and namespace is None:
                raise APIError(404, "NotFound", "the server could not find the requested resource", {})
            return await self._scale(request, rtype, namespace or "", path.name, accept)
        if method == "GET":
            if path.name is None:
                if path.legacy_watch or truthy(request.query.get("watch")):
                    return await self._watch(
                        request, rtype, path.namespace if rtype.namespaced else None, accept
                    )
                return self._list(request, rtype, path.namespace if rtype.namespaced else None, accept)
            if rtype.namespaced and namespace is None:
                raise APIError(404, "NotFound", "the server could not find the requested resource", {})
            stored = self.service.get(rtype, namespace or "", path.name)
            obj = self.service.as_version(rtype, stored.obj)
            version = table.table_version(accept)
            if version is not None:
                shown = table.object_table(
                    rtype,
                    obj,
                    now=_now(),
                    include_object=request.query.get("includeObject", ""),
                    version=version,
                )
                return _table_response(shown, version)
            if obj is stored.obj:
                return web.Response(text=stored.text, content_type=JSON)
            return json_response(obj)
        if rtype.namespaced and namespace is None:
            raise APIError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
            )
        ns = namespace or ""
        if method == "POST":
            if path.name is not None:
                raise APIError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                    {},
                )
            options = self._write_options(request)
            created = self.service.create(rtype, ns, await self._body(request), options)
            return json_response(created, 201, options.warnings)
        if path.name is None:
            if method == "DELETE":
                return await self._delete_collection(request, rtype, ns)
            raise APIError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
            )
        if method == "PUT":
            options = self._write_options(request)
            updated = self.service.update(
                rtype, ns, path.name, await self._body(request), options, subresource=path.subresource
            )
            return json_response(updated, 200, options.warnings)
        if method == "PATCH":
            options = self._write_options(request)
            content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip()
            body = await self._body(request)
            created_before = (
                self.service.store.get(rtype.group_resource, ns if rtype.namespaced else "", path.name)
                is None
            )
            patched = self.service.patch(
                rtype,
                ns,
                path.name,
                content_type=content_type,
                patch=body,
                options=options,
                subresource=path.subresource,
            )
            return json_response(patched, 201 if created_before else 200, options.warnings)
        if method == "DELETE":
            return await self._delete(request, rtype, ns, path.name)
        raise APIError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
        )

    async def _scale(
        self, request: web.Request, rtype: ResourceType, ns: str, name: str, accept: str
    ) -> web.Response:
        method = request.method
        if method == "GET":
            scale = self.scales.get(rtype, ns, name)
            version = table.table_version(accept)
            if version is not None:
                shown = table.object_table(
                    SCALE_TYPE,
                    scale,
                    now=_now(),
                    include_object=request.query.get("includeObject", ""),
                    version=version,
                )
                return _table_response(shown, version)
            return json_response(scale)
        if method == "PUT":
            options = self._write_options(request)
            scale = self.scales.update(rtype, ns, name, await self._body(request), options)
            return json_response(scale, 200, options.warnings)
        if method == "PATCH":
            options = self._write_options(request)
            content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip()
            scale = self.scales.patch(
                rtype, ns, name, content_type=content_type, patch=await self._body(request), options=options
            )
            return json_response(scale, 200, options.warnings)
        raise errors.method_not_allowed()

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        body: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                decoded = decode_body(raw, request.headers.get("Content-Type", JSON))
                if not isinstance(decoded, dict):
                    raise errors.bad_request("DeleteOptions must be an object")
                body = decoded
        query = request.query
        propagation = body.get("propagationPolicy") or query.get("propagationPolicy") or "Background"
        if body.get("orphanDependents") is True or query.get("orphanDependents") == "true":
            propagation = "Orphan"
        if propagation not in ("Orphan", "Background", "Foreground"):
            raise errors.bad_request(f"propagationPolicy: Unsupported value: {propagation!r}")
        preconditions = body.get("preconditions") or {}
        dry_run = body.get("dryRun") or query.getall("dryRun", [])
        if not isinstance(dry_run, list):
            raise errors.bad_request("dryRun must be a list")
        return DeleteOptions(
            propagation=propagation,
            precondition_uid=preconditions.get("uid"),
            precondition_rv=preconditions.get("resourceVersion"),
            dry_run="All" in dry_run,
        )

    async def _delete(self, request: web.Request, rtype: ResourceType, ns: str, name: str) -> web.Response:
        options = await self._delete_options(request)
        obj, gone = self.service.delete(rtype, ns, name, options)
        if gone:
            details = {"name": name, "kind": rtype.plural, "uid": obj["metadata"].get("uid", "")}
            if rtype.group:
                details["group"] = rtype.group
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        return json_response(obj, 200)

    async def _delete_collection(self, request: web.Request, rtype: ResourceType, ns: str) -> web.Response:
        options = await self._delete_options(request)
        selector = compile_selectors(
            request.query.get("labelSelector", ""),
            request.query.get("fieldSelector", ""),
            rtype.kind,
            rtype.selectable_fields,
        )
        items = []
        for stored in self.service.list_objects(rtype, ns if rtype.namespaced else None, selector):
            meta = stored.obj["metadata"]
            obj, _gone = self.service.delete(rtype, meta.get("namespace", ""), meta["name"], options)
            items.append(obj)
        return json_response(
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(self.service.store.rv)},
                "items": items,
            }
        )

    # List and watch ------------------------------------------------------------------------------

    def _list(
        self, request: web.Request, rtype: ResourceType, namespace: str | None, accept: str
    ) -> web.Response:
        query = request.query
        selector = compile_selectors(
            query.get("labelSelector", ""),
            query.get("fieldSelector", ""),
            rtype.kind,
            rtype.selectable_fields,
        )
        token = query.get("continue", "")
        limit_text = query.get("limit", "")
        limit = int(limit_text) if limit_text.isdigit() and int(limit_text) > 0 else 0
        if token:
            snapshot_id, start = _decode_continue(token)
            found = self.snapshots.get(snapshot_id)
            if found is None or found[0] < self.service.store.compacted:
                # Like etcd: a list older than the retained history can no longer be continued.
                raise APIError(410, "Expired", CONTINUE_EXPIRED, {})
            list_rv, items = found
        else:
            items = self.service.list_objects(rtype, namespace, selector)
            list_rv = self.service.store.rv
            start = 0
        page = items[start : start + limit] if limit else items[start:]
        metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if limit and start + limit < len(items):
            # Later pages are served from this list as it was, like the real server's reads at a
            # resourceVersion: stored objects are never mutated, so keeping the references is enough.
            if not token:
                snapshot_id = secrets.token_hex(8)
            self.snapshots.put(snapshot_id, (list_rv, items))
            metadata["continue"] = _encode_continue(snapshot_id, start + limit)
            metadata["remainingItemCount"] = len(items) - start - limit
        version = table.table_version(accept)
        if version is not None:
            objs = [self.service.as_version(rtype, s.obj) for s in page]
            shown = table.list_table(
                rtype,
                {"metadata": metadata, "items": objs},
                now=_now(),
                include_object=query.get("includeObject", ""),
                version=version,
            )
            return _table_response(shown, version)
        texts = [
            s.text
            if s.obj.get("apiVersion") == rtype.api_version
            else json.dumps(self.service.as_version(rtype, s.obj), separators=(",", ":"))
            for s in page
        ]
        head = json.dumps(
            {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": metadata},
            separators=(",", ":"),
        )
        return web.Response(text=head[:-1] + ',"items":[' + ",".join(texts) + "]}", content_type=JSON)

    async def _watch(
        self, request: web.Request, rtype: ResourceType, namespace: str | None, accept: str
    ) -> web.StreamResponse:
        query = request.query
        selector = compile_selectors(
            query.get("labelSelector", ""),
            query.get("fieldSelector", ""),
            rtype.kind,
            rtype.selectable_fields,
        )
        timeout_text = query.get("timeoutSeconds", "")
        timeout = float(timeout_text) if timeout_text.isdigit() else 1800.0
        bookmarks = truthy(query.get("allowWatchBookmarks"))
        rv_text = query.get("resourceVersion", "")
        send_initial = truthy(query.get("sendInitialEvents"))
        table_format = table.table_version(accept)
        store = self.service.store
        watcher = self.service.hub.open(rtype.group_resource, namespace, selector)
        try:
            backlog: list[tuple[str, int, dict[str, Any], str]] = []
            error: dict[str, Any] | None = None
            if rv_text in ("", "0") or send_initial:
                for stored in self.service.list_objects(rtype, namespace, selector):
                    backlog.append(("ADDED", stored.rv, stored.obj, stored.text))
                start_rv = store.rv
            else:
                if not rv_text.isdigit():
                    raise errors.bad_request(f"invalid resource version: {rv_text}")
                start_rv = int(rv_text)
                changes = store.changes_since(start_rv)
                if changes is None:
                    error = errors.gone(
                        f"too old resource version: {start_rv} ({store.compacted + 1})"
                    ).status()
                else:
                    for change in changes:
                        if change.resource != rtype.group_resource or (
                            namespace is not None and change.namespace != namespace
                        ):
                            continue
                        if selector is not None and not selector(change.obj):
                            continue
                        backlog.append((change.type, change.rv, change.obj, change.text))
            response = web.StreamResponse(headers={"Content-Type": JSON, "Cache-Control": "no-cache"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            if error is not None:
                await response.write(json.dumps({"type": "ERROR", "object": error}).encode() + b"\n")
                return response
            try:
                last_rv = start_rv
                chunk = []
                for kind, rv, obj, text in backlog:
                    chunk.append(self._event(rtype, kind, obj, text, table_format))
                    last_rv = max(last_rv, rv)
                if send_initial and bookmarks:
                    chunk.append(self._bookmark(rtype, store.rv, initial_end=True))
                if chunk:
                    await response.write(b"".join(chunk))
                deadline = time.monotonic() + timeout
                next_bookmark = time.monotonic() + self.bookmark_interval
                while True:
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    wait = min(deadline, next_bookmark) - now if bookmarks else deadline - now
                    try:
                        event = await asyncio.wait_for(watcher.queue.get(), timeout=max(wait, 0.001))
                    except TimeoutError:
                        if bookmarks and time.monotonic() >= next_bookmark:
                            await response.write(self._bookmark(rtype, max(last_rv, store.rv)))
                            next_bookmark = time.monotonic() + self.bookmark_interval
                        continue
                    if event is None:
                        break
                    parts = [self._event(rtype, event.type, event.obj, event.text, table_format)]
                    last_rv = event.rv
                    while not watcher.queue.empty():
                        queued = watcher.queue.get_nowait()
                        if queued is None:
                            break
                        parts.append(self._event(rtype, queued.type, queued.obj, queued.text, table_format))
                        last_rv = queued.rv
                    await response.write(b"".join(parts))
            except (ConnectionResetError, asyncio.CancelledError):
                raise
            except Exception:  # the status line is sent: end the stream, the client re-watches
                log.exception("watch on %s failed", rtype.group_resource)
            return response
        finally:
            self.service.hub.close(watcher)

    def _event(
        self, rtype: ResourceType, kind: str, obj: dict[str, Any], text: str, table_format: str | None
    ) -> bytes:
        if table_format is not None:
            shown = table.object_table(
                rtype, self.service.as_version(rtype, obj), now=_now(), version=table_format
            )
            return json.dumps({"type": kind, "object": shown}, separators=(",", ":")).encode() + b"\n"
        if obj.get("apiVersion") != rtype.api_version:
            text = json.dumps(self.service.as_version(rtype, obj), separators=(",", ":"))
        return b'{"type":"' + kind.encode() + b'","object":' + text.encode() + b"}\n"

    @staticmethod
    def _bookmark(rtype: ResourceType, rv: int, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta}
        return json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n"


def _now() -> datetime:
    return datetime.now(UTC)


def _table_response(shown: dict[str, Any], version: str) -> web.Response:
    text = json.dumps(shown, separators=(",", ":"))
    return web.Response(text=text, headers={"Content-Type": table.table_content_type(version)})


def _encode_continue(snapshot_id: str, offset: int) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "id": snapshot_id, "offset": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_continue(token: str) -> tuple[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["id"]), int(data["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from None


class ListSnapshots:
    """The lists behind outstanding continue tokens, kept for a while like etcd's compaction window."""

    def __init__(self, size: int = 64, ttl: float = 300.0) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[str, tuple[float, tuple[int, list[Stored]]]] = OrderedDict()

    def put(self, snapshot_id: str, value: tuple[int, list[Stored]]) -> None:
        self._entries[snapshot_id] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(snapshot_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def get(self, snapshot_id: str) -> tuple[int, list[Stored]] | None:
        entry = self._entries.get(snapshot_id)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(snapshot_id, None)
            return None
        return entry[1]
