"""Garbage collection: ownerReferences, foreground and orphan deletion, and namespace termination.

Like the real controller manager's garbage collector and namespace controller, this runs after the
writes it reacts to, not inside them: a dependent whose owners are all gone is deleted (background
propagation); an owner deleted with Foreground propagation keeps its `foregroundDeletion` finalizer
until its dependents are gone; with Orphan propagation the dependents lose their ownerReference and
stay; a terminating namespace is emptied and then removed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from contour.apiserver.objects import json_copy
from contour.apiserver.resources import ResourceType
from contour.apiserver.service import NAMESPACES, APIService, DeleteOptions, WriteOptions
from contour.apiserver.store import Change

log = logging.getLogger(__name__)

ObjectRef = tuple[str, str, str]  # (resource, namespace, name)


class GarbageCollector:
    def __init__(self, service: APIService) -> None:
        self.service = service
        self.dependents: dict[str, set[ObjectRef]] = {}  # owner uid -> dependents
        self.uids: dict[str, ObjectRef] = {}
        self.pending: asyncio.Queue[Change] = asyncio.Queue()
        for resource in service.store.resources():
            for _key, stored in service.store.items(resource):
                self._index(resource, stored.obj)
        service.on_change.append(self._observe)

    def _index(self, resource: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata", {})
        ref = (resource, meta.get("namespace", ""), meta.get("name", ""))
        if meta.get("uid"):
            self.uids[meta["uid"]] = ref
        for owner in meta.get("ownerReferences") or []:
            if isinstance(owner, dict) and owner.get("uid"):
                self.dependents.setdefault(owner["uid"], set()).add(ref)

    def _unindex(self, resource: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata", {})
        ref = (resource, meta.get("namespace", ""), meta.get("name", ""))
        if self.uids.get(meta.get("uid", "")) == ref:
            del self.uids[meta["uid"]]
        for owner in meta.get("ownerReferences") or []:
            if isinstance(owner, dict) and owner.get("uid") in self.dependents:
                self.dependents[owner["uid"]].discard(ref)

    def _observe(self, change: Change, old: dict[str, Any] | None) -> None:
        if old is not None:
            self._unindex(change.resource, old)
        if change.type != "DELETED":
            self._index(change.resource, change.obj)
        self.pending.put_nowait(change)

    def _rtype(self, resource: str, obj: dict[str, Any]) -> ResourceType | None:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        return self.service.registry.by_kind(api_version, kind)

    async def run(self) -> None:
        while True:
            change = await self.pending.get()
            try:
                self.process(change)
            except Exception:  # the collector must survive any object it meets
                log.exception("garbage collection of %s/%s failed", change.resource, change.name)

    def drain(self) -> None:
        """Process everything queued (used by tests and at shutdown)."""
        while not self.pending.empty():
            self.process(self.pending.get_nowait())

    def process(self, change: Change) -> None:
        meta = change.obj.get("metadata", {})
        uid = meta.get("uid", "")
        if change.type == "DELETED":
            for ref in sorted(self.dependents.pop(uid, set())):
                self._collect_orphaned(ref)
            self._revisit_waiting_owners(change)
            return
        if not meta.get("deletionTimestamp"):
            return
        finalizers = meta.get("finalizers") or []
        if change.resource == NAMESPACES:
            self._terminate_namespace(change)
        if "foregroundDeletion" in finalizers:
            self._foreground(change, uid)
        if "orphan" in finalizers:
            self._orphan(change, uid)

    def _revisit_waiting_owners(self, change: Change) -> None:
        """A deleted dependent may have been the last thing a foreground owner or a namespace waited for."""
        waiting: list[tuple[str, str, str]] = []
        for owner in change.obj.get("metadata", {}).get("ownerReferences") or []:
            ref = self.uids.get(owner.get("uid", "")) if isinstance(owner, dict) else None
            if ref is not None:
                waiting.append(ref)
        if change.namespace and change.obj.get("metadata", {}).get("deletionTimestamp"):
            # Only an object that was itself waiting (on finalizers) can be the namespace's last one.
            waiting.append((NAMESPACES, "", change.namespace))
        for resource, namespace, name in waiting:
            stored = self.service.store.get(resource, namespace, name)
            if stored is not None and stored.obj["metadata"].get("deletionTimestamp"):
                self.pending.put_nowait(
                    Change(stored.rv, resource, namespace, name, "MODIFIED", stored.obj, stored.text)
                )

    def _collect_orphaned(self, ref: ObjectRef) -> None:
        resource, namespace, name = ref
        stored = self.service.store.get(resource, namespace, name)
        if stored is None:
            return
        owners = [o for o in stored.obj["metadata"].get("ownerReferences") or [] if isinstance(o, dict)]
        if any(o.get("uid") in self.uids for o in owners):
            return
        rtype = self._rtype(resource, stored.obj)
        if rtype is not None:
            self.service.delete(rtype, namespace, name, DeleteOptions(propagation="Background"))

    def _foreground(self, change: Change, uid: str) -> None:
        remaining = False
        for resource, namespace, name in sorted(self.dependents.get(uid, set())):
            stored = self.service.store.get(resource, namespace, name)
            if stored is None:
                continue
            if not stored.obj["metadata"].get("deletionTimestamp"):
                rtype = self._rtype(resource, stored.obj)
                if rtype is not None:
                    self.service.delete(rtype, namespace, name, DeleteOptions(propagation="Foreground"))
            remaining = remaining or self.service.store.get(resource, namespace, name) is not None
        if not remaining:
            self._finish(change, "foregroundDeletion")

    def _orphan(self, change: Change, uid: str) -> None:
        for resource, namespace, name in sorted(self.dependents.pop(uid, set())):
            stored = self.service.store.get(resource, namespace, name)
            rtype = None if stored is None else self._rtype(resource, stored.obj)
            if stored is None or rtype is None:
                continue
            new = json_copy(stored.obj)
            owners = [o for o in new["metadata"].get("ownerReferences", []) if o.get("uid") != uid]
            if owners:
                new["metadata"]["ownerReferences"] = owners
            else:
                new["metadata"].pop("ownerReferences", None)
            new["metadata"].pop("resourceVersion", None)
            self.service.update(rtype, namespace, name, new, _system_options(), skip_fieldmanager=True)
        self._finish(change, "orphan")

    def _terminate_namespace(self, change: Change) -> None:
        namespace = change.name
        remaining = False
        for rtype in list(self.service.registry):
            if not rtype.namespaced or (rtype.is_custom and rtype.version != rtype.storage_version):
                continue
            for _key, stored in list(self.service.store.items(rtype.group_resource, namespace)):
                name = stored.obj["metadata"]["name"]
                if not stored.obj["metadata"].get("deletionTimestamp"):
                    self.service.delete(rtype, namespace, name, DeleteOptions())
                remaining = (
                    remaining or self.service.store.get(rtype.group_resource, namespace, name) is not None
                )
        if not remaining:
            self._finish(change, "kubernetes")

    def _finish(self, change: Change, finalizer: str) -> None:
        rtype = self._rtype(change.resource, change.obj)
        if rtype is not None:
            self.service.remove_finalizer(rtype, change.namespace, change.name, finalizer)

    def recheck(self) -> None:
        """Re-run pending foreground/namespace deletions whose dependents have since gone."""
        for resource in self.service.store.resources():
            for _key, stored in list(self.service.store.items(resource)):
                if stored.obj["metadata"].get("deletionTimestamp"):
                    self.pending.put_nowait(
                        Change(stored.rv, resource, _key[0], _key[1], "MODIFIED", stored.obj, stored.text)
                    )


def _system_options() -> WriteOptions:
    return WriteOptions(field_manager="garbage-collector")
