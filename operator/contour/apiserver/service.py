"""The embedded API server's operations: create, read, list, update, patch, delete, on any resource.

This is where the real server's semantics live, independent of HTTP: existence and namespace checks,
optimistic concurrency (409 on a stale resourceVersion), the status subresource, generation, no-op
writes that keep the resourceVersion, validation (422), finalizers and deletionTimestamp, and the
changes published to watches. Everything runs on the event loop's thread without awaiting between
reading and writing an object, so each operation is atomic without locks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contour.apiserver import errors, objects
from contour.apiserver.admission import ObjectValidator
from contour.apiserver.errors import APIError, Cause
from contour.apiserver.fieldmanager import record_update, server_side_apply
from contour.apiserver.jsonpatch import apply_json_patch
from contour.apiserver.mergepatch import apply_merge_patch, check_merge_patch_body
from contour.apiserver.resources import ResourceRegistry, ResourceType
from contour.apiserver.schemas import Schema
from contour.apiserver.selectors import Selector
from contour.apiserver.store import Change, Store, Stored
from contour.apiserver.strategicpatch import apply_strategic_merge_patch
from contour.apiserver.watch import WatchHub

log = logging.getLogger(__name__)

CRD_RESOURCE = "customresourcedefinitions.apiextensions.k8s.io"
NAMESPACES = "namespaces"

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Strict"  # Ignore, Warn, Strict (kubectl sends Strict by default)
    force: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class DeleteOptions:
    propagation: str = "Background"  # Orphan, Background, Foreground
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


class APIService:
    def __init__(
        self, store: Store, registry: ResourceRegistry, *, clock: Callable[[], str] = objects.now_rfc3339
    ) -> None:
        self.store = store
        self.registry = registry
        self.hub = WatchHub()
        self.clock = clock
        self._validators: dict[tuple[str, str, str], ObjectValidator] = {}
        self.unsupported_rules: list[str] = []
        self.on_change: list[Callable[[Change, dict[str, Any] | None], None]] = []
        for _key, stored in list(store.items(CRD_RESOURCE)):
            self._serve_crd(stored.obj)

    # Types, schemas, validators ---------------------------------------------------------------

    def validator(self, rtype: ResourceType) -> ObjectValidator | None:
        key = (rtype.group, rtype.version, rtype.kind)
        if key not in self._validators:
            schema = rtype.schema()
            if schema is None:
                return None
            validator = ObjectValidator.for_schema(
                schema,
                is_custom=rtype.is_custom,
                namespaced=rtype.namespaced,
                label=f"{rtype.group_resource}/{rtype.version}",
            )
            for rule in validator.unsupported_rules:
                message = f"{rtype.group_resource}/{rtype.version}: CEL rule skipped: {rule}"
                log.warning(message)
                self.unsupported_rules.append(message)
            self._validators[key] = validator
        return self._validators[key]

    def _serve_crd(self, crd: dict[str, Any]) -> None:
        for rtype in self.registry.remove_crd(crd["metadata"]["name"]):
            self._validators.pop((rtype.group, rtype.version, rtype.kind), None)
        self.registry.set_crd(crd)
        for rtype in self.registry:
            if rtype.crd_name == crd["metadata"]["name"]:
                self.validator(rtype)

    @staticmethod
    def resource_key(rtype: ResourceType) -> str:
        return rtype.group_resource

    def storage_version(self, rtype: ResourceType) -> str:
        if rtype.is_custom and rtype.storage_version:
            return f"{rtype.group}/{rtype.storage_version}"
        return rtype.api_version

    def as_version(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object as the requested version shows it (CRDs use the None conversion)."""
        if obj.get("apiVersion") == rtype.api_version:
            return obj
        out = dict(obj)
        out["apiVersion"] = rtype.api_version
        return out

    # Reads --------------------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Stored:
        stored = self.store.get(rtype.group_resource, namespace, name)
        if stored is None:
            raise errors.not_found(rtype.group, rtype.plural, name)
        return stored

    def list_objects(
        self, rtype: ResourceType, namespace: str | None, selector: Selector | None
    ) -> list[Stored]:
        return [
            stored
            for _key, stored in self.store.items(rtype.group_resource, namespace)
            if selector is None or selector(stored.obj)
        ]

    # Writes ---------------------------------------------------------------------------------------

    def _check_namespace(self, rtype: ResourceType, namespace: str) -> None:
        if not rtype.namespaced:
            return
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if ns.obj.get("metadata", {}).get("deletionTimestamp"):
            raise APIError(
                403,
                "Forbidden",
                f'{errors.qualified(rtype.plural, rtype.group)} "" is forbidden: unable to create new '
                f"content in namespace {namespace} because it is being terminated",
                {"name": "", "group": rtype.group, "kind": rtype.plural},
            )

    def _check_identity(
        self, rtype: ResourceType, body: Any, namespace: str, name: str | None
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request is not a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != rtype.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rtype.api_version})"
            )
        if kind and kind != rtype.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
            )
        obj: dict[str, Any] = objects.json_copy(body)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rtype.namespaced:
            given = meta.get("namespace")
            if given and given != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if name is not None:
            meta["name"] = name
        return obj

    def _admit(
        self, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, options: WriteOptions
    ) -> dict[str, Any]:
        validator = self.validator(rtype)
        causes: list[Cause] = []
        if validator is not None:
            obj, causes, unknown = validator.prepare(obj, old)
            if unknown and options.field_validation == "Strict":
                # The real server refuses these while decoding, before validation: a 400, not a 422.
                fields = ", ".join(f'unknown field "{path}"' for path in unknown)
                raise errors.bad_request(
                    f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                    f"strict decoding error: {fields}"
                )
            if unknown and options.field_validation == "Warn":
                options.warnings.extend(f'unknown field "{path}"' for path in unknown)
        causes.extend(self._kind_rules(rtype, obj, old))
        if causes:
            name = obj.get("metadata", {}).get("name", "")
            raise errors.invalid(rtype.group, rtype.kind, name, causes)
        return obj

    def _kind_rules(
        self, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[Cause]:
        """Rules the real server enforces in code rather than in the schema."""
        if rtype.group_resource == CRD_RESOURCE:
            spec = obj.get("spec", {})
            expected = f"{spec.get('names', {}).get('plural', '')}.{spec.get('group', '')}"
            if obj["metadata"].get("name") != expected:
                return [
                    Cause(
                        "FieldValueInvalid",
                        f'Invalid value: "{obj["metadata"].get("name")}": '
                        'must be spec.names.plural+"."+spec.group',
                        "metadata.name",
                    )
                ]
            storage = [v for v in spec.get("versions", []) if v.get("storage")]
            if len(storage) != 1:
                return [
                    Cause(
                        "FieldValueInvalid",
                        "Invalid value: must have exactly one version marked as storage version",
                        "spec.versions",
                    )
                ]
        return []

    def _managed(
        self,
        rtype: ResourceType,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        options: WriteOptions,
        subresource: str,
    ) -> None:
        schema = rtype.schema() or Schema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        manager = options.field_manager or "unknown"
        new["metadata"]["managedFields"] = record_update(
            old,
            new,
            manager=manager,
            schema=schema,
            api_version=rtype.api_version,
            now=self.clock(),
            subresource=subresource,
        )

    def _commit(
        self, rtype: ResourceType, obj: dict[str, Any], event: str, old: dict[str, Any] | None
    ) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(self.store.next_rv())
        change = self.store.put(rtype.group_resource, obj, event)
        self._published(change, old)
        return obj

    def _published(self, change: Change, old: dict[str, Any] | None) -> None:
        self.hub.publish(change, old)
        for callback in self.on_change:
            try:
                callback(change, old)
            except Exception:  # an observer's bug must not undo an acknowledged write
                log.exception("change observer failed")
        if change.resource == CRD_RESOURCE:
            self._crd_changed(change)

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: Any,
        options: WriteOptions,
        *,
        skip_fieldmanager: bool = False,
    ) -> dict[str, Any]:
        obj = self._check_identity(rtype, body, namespace, None)
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = objects.generated_name(meta["generateName"])
            else:
                raise errors.invalid(
                    rtype.group,
                    rtype.kind,
                    "",
                    [
                        Cause(
                            "FieldValueRequired",
                            "Required value: name or generateName is required",
                            "metadata.name",
                        )
                    ],
                )
        name = meta["name"]
        self._check_namespace(rtype, namespace)
        if self.store.get(rtype.group_resource, meta.get("namespace", ""), name) is not None:
            raise errors.already_exists(rtype.group, rtype.plural, name)
        for key in objects.SYSTEM_FIELDS:
            meta.pop(key, None)
        meta.pop("deletionGracePeriodSeconds", None)
        if rtype.has_status and rtype.group_resource not in (CRD_RESOURCE,):
            obj.pop("status", None)
        obj = self._admit(rtype, obj, None, options)
        meta = obj["metadata"]
        meta["uid"] = objects.new_uid()
        meta["creationTimestamp"] = self.clock()
        if rtype.is_custom or rtype.group_resource in objects.GENERATION_TRACKED:
            meta["generation"] = 1
        self._defaults_for_kind(rtype, obj)
        if not skip_fieldmanager:
            self._managed(rtype, None, obj, options, "")
        obj["apiVersion"] = self.storage_version(rtype)
        if options.dry_run:
            obj["metadata"]["resourceVersion"] = ""
            return self.as_version(rtype, obj)
        return self.as_version(rtype, self._commit(rtype, obj, "ADDED", None))

    def _defaults_for_kind(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        if rtype.group_resource == NAMESPACES:
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif rtype.group_resource == CRD_RESOURCE:
            spec = obj.get("spec", {})
            obj["status"] = {
                "acceptedNames": spec.get("names", {}),
                "conditions": [
                    {
                        "type": "NamesAccepted",
                        "status": "True",
                        "reason": "NoConflicts",
                        "message": "no conflicts found",
                        "lastTransitionTime": self.clock(),
                    },
                    {
                        "type": "Established",
                        "status": "True",
                        "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted",
                        "lastTransitionTime": self.clock(),
                    },
                ],
                "storedVersions": [v.get("name") for v in spec.get("versions", []) if v.get("storage")],
            }
        elif rtype.group_resource == "ingresses.networking.k8s.io":
            self._default_ingress_class(obj)
        elif rtype.group_resource == "services":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec.get("type") != "ExternalName" and "clusterIP" not in spec:
                spec["clusterIP"] = self._next_cluster_ip()
                spec["clusterIPs"] = [spec["clusterIP"]]
            for port in spec.get("ports", []) or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
                    port.setdefault("targetPort", port.get("port"))

    def _default_ingress_class(self, obj: dict[str, Any]) -> None:
        """The DefaultIngressClass admission plugin: a class-less Ingress gets the default IngressClass.

        Only when neither `spec.ingressClassName` nor the `kubernetes.io/ingress.class` annotation is
        set; with several defaults the newest one wins, as upstream.
        """
        spec = obj.get("spec")
        annotations = obj.get("metadata", {}).get("annotations") or {}
        if (
            not isinstance(spec, dict)
            or spec.get("ingressClassName")
            or "kubernetes.io/ingress.class" in annotations
        ):
            return
        defaults = [
            stored.obj
            for _key, stored in self.store.items("ingressclasses.networking.k8s.io")
            if (stored.obj.get("metadata", {}).get("annotations") or {}).get(
                "ingressclass.kubernetes.io/is-default-class"
            )
            == "true"
        ]
        if defaults:
            newest = max(
                defaults, key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"])
            )
            spec["ingressClassName"] = newest["metadata"]["name"]

    def _next_cluster_ip(self) -> str:
        used = {s.obj.get("spec", {}).get("clusterIP") for _k, s in self.store.items("services")}
        for index in range(1, 65_000):
            candidate = f"10.96.{index // 250}.{index % 250 + 1}"
            if candidate not in used:
                return candidate
        return "None"

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        options: WriteOptions,
        *,
        subresource: str = "",
        skip_fieldmanager: bool = False,
    ) -> dict[str, Any]:
        ns = namespace if rtype.namespaced else ""
        incoming = self._check_identity(rtype, body, ns, name)
        current = self.store.get(rtype.group_resource, ns, name)
        if current is None:
            raise errors.not_found(rtype.group, rtype.plural, name)
        old = current.obj
        wanted_rv = incoming["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != str(current.rv):
            raise errors.conflict(rtype.group, rtype.plural, name, errors.STALE_OBJECT)
        if subresource == "status":
            new = objects.merge_for_status(old, incoming)
            new["apiVersion"] = rtype.api_version
        else:
            new = objects.merge_for_main_resource(old, incoming, rtype.has_status)
        objects.carry_system_metadata(old, new)
        if rtype.group_resource == NAMESPACES and subresource != "finalize":
            new["spec"] = (
                objects.json_copy(old.get("spec", {}))
                if subresource == "status"
                else new.get("spec", old.get("spec", {}))
            )
        new = self._admit(rtype, new, self.as_version(rtype, old), options)
        if subresource != "status" and "generation" in old.get("metadata", {}):
            objects.bump_generation(old, new)
        if not skip_fieldmanager:
            if not isinstance(incoming["metadata"].get("managedFields"), list) or subresource == "status":
                new["metadata"]["managedFields"] = old.get("metadata", {}).get("managedFields", [])
            self._managed(rtype, old, new, options, subresource)
        new["apiVersion"] = self.storage_version(rtype)
        new["metadata"]["resourceVersion"] = str(current.rv)
        if objects.without_rv(new) == objects.without_rv(old):
            return self.as_version(rtype, old)  # a no-op write keeps the resourceVersion
        if options.dry_run:
            return self.as_version(rtype, new)
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self.as_version(rtype, self._remove(rtype, new, old))
        return self.as_version(rtype, self._commit(rtype, new, "MODIFIED", old))

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        content_type: str,
        patch: Any,
        options: WriteOptions,
        subresource: str = "",
    ) -> dict[str, Any]:
        ns = namespace if rtype.namespaced else ""
        current = self.store.get(rtype.group_resource, ns, name)
        schema = rtype.schema() or Schema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        if content_type in (APPLY_PATCH, APPLY_PATCH_CBOR):
            return self._apply(
                rtype,
                ns,
                name,
                current=current,
                applied=patch,
                options=options,
                schema=schema,
                subresource=subresource,
            )
        if current is None:
            raise errors.not_found(rtype.group, rtype.plural, name)
        live = self.as_version(rtype, current.obj)
        if content_type == JSON_PATCH:
            patched = apply_json_patch(live, patch)
        elif content_type == MERGE_PATCH:
            check_merge_patch_body(patch)
            patched = apply_merge_patch(live, patch)
        elif content_type == STRATEGIC_PATCH:
            if rtype.is_custom:
                raise errors.unsupported_media_type(
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                )
            patched = apply_strategic_merge_patch(live, patch, schema)
        else:
            raise errors.unsupported_media_type(
                "application/json-patch+json, application/merge-patch+json, "
                "application/strategic-merge-patch+json, application/apply-patch+yaml"
            )
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        # A patch only carries a precondition when it sets metadata.resourceVersion itself.
        patched_rv = (
            patched.get("metadata", {}).get("resourceVersion")
            if isinstance(patched.get("metadata"), dict)
            else None
        )
        if patched_rv == str(current.rv):
            patched["metadata"].pop("resourceVersion", None)
        return self.update(rtype, namespace, name, patched, options, subresource=subresource)

    def _apply(
        self,
        rtype: ResourceType,
        ns: str,
        name: str,
        *,
        current: Stored | None,
        applied: Any,
        options: WriteOptions,
        schema: Schema,
        subresource: str,
    ) -> dict[str, Any]:
        if not options.field_manager:
            raise errors.bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        if not isinstance(applied, dict):
            raise errors.bad_request("the apply configuration is not an object")
        applied = self._check_identity(rtype, applied, ns, name)
        live = None if current is None else self.as_version(rtype, current.obj)
        merged = server_side_apply(
            live,
            applied,
            manager=options.field_manager,
            force=options.force,
            schema=schema,
            api_version=rtype.api_version,
            now=self.clock(),
            subresource=subresource,
            has_status_subresource=rtype.has_status,
        )
        if current is None:
            if subresource:
                raise errors.not_found(rtype.group, rtype.plural, name)
            return self.create(rtype, ns, merged, options, skip_fieldmanager=True)
        merged["metadata"].pop("resourceVersion", None)
        return self.update(rtype, ns, name, merged, options, subresource=subresource, skip_fieldmanager=True)

    # Deletion -----------------------------------------------------------------------------------

    def delete(
        self, rtype: ResourceType, namespace: str, name: str, options: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Delete or mark for deletion; returns (the object as it now is, whether it is gone)."""
        ns = namespace if rtype.namespaced else ""
        current = self.get(rtype, ns, name)
        obj = current.obj
        meta = obj["metadata"]
        if options.precondition_uid and options.precondition_uid != meta.get("uid"):
            raise errors.conflict(
                rtype.group,
                rtype.plural,
                name,
                f"Precondition failed: UID in precondition: {options.precondition_uid}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if options.precondition_rv and options.precondition_rv != str(current.rv):
            raise errors.conflict(
                rtype.group,
                rtype.plural,
                name,
                f"Precondition failed: ResourceVersion in precondition: {options.precondition_rv}, "
                f"ResourceVersion in object meta: {current.rv}",
            )
        finalizers = list(meta.get("finalizers") or [])
        if rtype.group_resource == NAMESPACES:
            finalizers += [f for f in obj.get("spec", {}).get("finalizers", []) if f not in finalizers]
        if options.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        elif options.propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        if options.dry_run:
            return self.as_version(rtype, obj), not finalizers
        if not finalizers:
            return self.as_version(rtype, self._remove(rtype, objects.json_copy(obj), obj)), True
        if meta.get("deletionTimestamp"):
            return self.as_version(rtype, obj), False
        new = objects.json_copy(obj)
        new["metadata"]["deletionTimestamp"] = self.clock()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new["metadata"]["finalizers"] = [
            f for f in finalizers if rtype.group_resource != NAMESPACES or f != "kubernetes"
        ] or None
        if new["metadata"]["finalizers"] is None:
            del new["metadata"]["finalizers"]
        if rtype.group_resource == NAMESPACES:
            new.setdefault("status", {})["phase"] = "Terminating"
        return self.as_version(rtype, self._commit(rtype, new, "MODIFIED", obj)), False

    def _remove(self, rtype: ResourceType, final: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        meta = final["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        meta["resourceVersion"] = str(self.store.next_rv())
        change = self.store.delete(rtype.group_resource, ns, name, final)
        self._published(change, old)
        return final

    def remove_finalizer(self, rtype: ResourceType, namespace: str, name: str, finalizer: str) -> None:
        """Used by the garbage collector to finish a deletion it was waiting for."""
        current = self.store.get(rtype.group_resource, namespace, name)
        if current is None:
            return
        new = objects.json_copy(current.obj)
        finalizers = [f for f in new["metadata"].get("finalizers", []) if f != finalizer]
        if finalizers:
            new["metadata"]["finalizers"] = finalizers
        else:
            new["metadata"].pop("finalizers", None)
        if rtype.group_resource == NAMESPACES:
            new.setdefault("spec", {})["finalizers"] = [
                f for f in new["spec"].get("finalizers", []) if f != finalizer
            ]
        if (
            new["metadata"].get("deletionTimestamp")
            and not finalizers
            and not new.get("spec", {}).get("finalizers")
        ):
            self._remove(rtype, new, current.obj)
        else:
            self._commit(rtype, new, "MODIFIED", current.obj)

    # CRDs ----------------------------------------------------------------------------------------

    def _crd_changed(self, change: Change) -> None:
        if change.type == "DELETED":
            for rtype in self.registry.remove_crd(change.name):
                self._validators.pop((rtype.group, rtype.version, rtype.kind), None)
                self.hub.end_resource(rtype.group_resource)
            group = change.obj.get("spec", {}).get("group", "")
            plural = change.obj.get("spec", {}).get("names", {}).get("plural", "")
            resource = f"{plural}.{group}"
            for (ns, name), stored in list(self.store.items(resource)):
                final = objects.json_copy(stored.obj)
                final["metadata"]["resourceVersion"] = str(self.store.next_rv())
                self.store.delete(resource, ns, name, final)
        else:
            self._serve_crd(change.obj)
