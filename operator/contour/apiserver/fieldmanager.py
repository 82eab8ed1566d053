"""Server-side apply and `metadata.managedFields`, as kube-apiserver computes them.

The embedded API server calls `server_side_apply` for `PATCH` with `application/apply-patch+yaml` and
`record_update` for every other write (create, update, merge/JSON/strategic patch). Both follow
k8s.io/apimachinery's managedfields chain and structured-merge-diff v6's `Updater`:

* apply merges the configuration into the live object (maps by key, `map` lists by their keys, `set`
  lists by value, atomic values replaced), removes what the manager applied last time and no longer
  applies unless another manager still owns it, and refuses (409, `FieldManagerConflict` causes) to
  change a field another manager owns with a different value, unless forced, when ownership moves;
* an update gives the writer ownership of every field it changed, taking it from everyone else;
* `metadata.name`, `uid`, `resourceVersion`... are never owned; `.status` is only owned through the
  status subresource of types that have one, and nothing else is owned through it;
* `kubectl` (server-side) may take over fields `kubectl-client-side-apply` owns when the
  last-applied-configuration annotation shows it set them, and keeps that annotation up to date;
* entries are keyed like Kubernetes' manager identifiers, sorted like it, Update entries are capped at
  ten (the oldest merge into `ancient-changes`), and an apply's time only moves when the object changes.

Everything is pure: the clock is the caller's `now`, inputs are never modified.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contour.apiserver.errors import APIError, Cause, bad_request
from contour.apiserver.fieldpath import (
    FieldPathError,
    FieldSet,
    Path,
    PathElement,
    StructureError,
    ensure_named_fields,
    fields_of,
    go_json,
    go_string,
    path_string,
    remove_items,
)
from contour.apiserver.schemas import Schema
from contour.apiserver.typedvalue import Comparison, compare, equal, format_errors, merge, validate
from contour.dag.goformat import go_quote

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
_ANNOTATIONS_LIMIT = 256 * 1024

# Never owned by anyone (k8s.io/apimachinery managedfields' stripMetaManager); only these exact paths.
_STRIPPED = FieldSet.of(
    *(
        tuple(PathElement.field(name) for name in dotted.split("."))
        for dotted in (
            *("apiVersion", "kind", "metadata", "metadata.name", "metadata.namespace"),
            *("metadata.creationTimestamp", "metadata.selfLink", "metadata.uid", "metadata.clusterName"),
            *("metadata.generation", "metadata.managedFields", "metadata.resourceVersion"),
        )
    )
)


# ---------------------------------------------------------------------------------------------------
# Conflicts.


@dataclass(frozen=True)
class ApplyConflict:
    """One field another manager owns with a different value."""

    manager: str
    path: str  # printed like `.spec.replicas` or `.spec.containers[name="app"].image`
    operation: str = "Apply"
    api_version: str = ""
    subresource: str = ""

    def describe(self) -> str:
        """The manager as Kubernetes prints it: `"mgr"`, or `"mgr" using apps/v1` for an updater."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


class ApplyConflictError(APIError):
    """409 Conflict with one FieldManagerConflict cause per field, as `kubectl apply` prints it."""

    conflicts: tuple[ApplyConflict, ...]

    def __init__(self, conflicts: Sequence[ApplyConflict]) -> None:
        causes = [Cause("FieldManagerConflict", f"conflict with {c.describe()}", c.path) for c in conflicts]
        super().__init__(
            409, "Conflict", _conflict_message(conflicts), {"causes": [c.as_dict() for c in causes]}
        )
        self.conflicts = tuple(conflicts)


def _conflict_message(conflicts: Sequence[ApplyConflict]) -> str:
    if len(conflicts) == 1:
        only = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {only.describe()}: {only.path}"
    lines: list[str] = []
    described: dict[str, list[str]] = {}
    for conflict in conflicts:
        described.setdefault(conflict.describe(), []).append(conflict.path)
    for who, paths in described.items():
        lines.append(f"conflicts with {who}:")
        lines.extend(f"- {path}" for path in paths)
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Managers and their entries.


@dataclass(frozen=True)
class _ManagerId:
    """A manager identifier; Apply identifiers leave the apiVersion out, so re-applies keep one entry."""

    manager: str
    operation: str
    api_version: str = ""
    subresource: str = ""

    @property
    def identifier(self) -> str:
        """The JSON Kubernetes builds the identifier from (it orders conflict messages)."""
        parts = [(k, v) for k, v in (("manager", self.manager), ("operation", self.operation)) if v]
        parts += [
            (k, v) for k, v in (("apiVersion", self.api_version), ("subresource", self.subresource)) if v
        ]
        return "{" + ",".join(f"{go_string(k)}:{go_string(v)}" for k, v in parts) + "}"


def _manager_id(name: str, operation: str, api_version: str, subresource: str) -> _ManagerId:
    return _ManagerId(name or "unknown", operation, api_version if operation == "Update" else "", subresource)


_CURRENT = _ManagerId("current-operation", "")


@dataclass(frozen=True)
class _Entry:
    fields: FieldSet
    api_version: str
    applied: bool


Managed = dict[_ManagerId, _Entry]
Times = dict[_ManagerId, str | None]


class _ConflictsError(Exception):
    def __init__(self, conflicts: list[tuple[_ManagerId, Path]]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts

    @classmethod
    def from_sets(cls, sets: Mapping[_ManagerId, FieldSet]) -> _ConflictsError:
        ordered = sorted(sets, key=lambda mid: mid.identifier)
        return cls([(mid, path) for mid in ordered for path in sets[mid].paths()])

    def to_error(self) -> ApplyConflictError:
        return ApplyConflictError(
            [
                ApplyConflict(mid.manager, path_string(path), mid.operation, mid.api_version, mid.subresource)
                for mid, path in self.conflicts
            ]
        )


class _DecodeError(ValueError):
    """managedFields the client sent that cannot be read; the live entries are kept instead."""


_ENTRY_FIELDS = ("manager", "operation", "apiVersion", "time", "fieldsType", "subresource")


def _entries_or_nil(value: Any) -> list[Mapping[str, Any]] | None:
    """The entries a client sent, or None where Go would read a nil list (absent, null or garbage)."""
    if not isinstance(value, list):
        return None
    for entry in value:
        if not isinstance(entry, Mapping):
            return None
        for name in _ENTRY_FIELDS:
            if entry.get(name) is not None and not isinstance(entry.get(name), str):
                return None
        if entry.get("fieldsV1") is not None and not isinstance(entry.get("fieldsV1"), Mapping):
            return None
    return list(value)


def _is_zero(entry: Mapping[str, Any]) -> bool:
    return not any(entry.get(name) for name in _ENTRY_FIELDS) and entry.get("fieldsV1") is None


def _decode(entries: Any) -> tuple[Managed, Times]:
    managed: Managed = {}
    times: Times = {}
    checked = _entries_or_nil(entries) if entries is not None else []
    if checked is None:
        raise _DecodeError("managedFields is not a list of entries")
    for i, entry in enumerate(checked):
        operation = entry.get("operation") or ""
        if operation not in ("Apply", "Update"):
            raise _DecodeError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise _DecodeError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            raise _DecodeError(
                f"missing fieldsType in managed fields entry {i}"
                if not fields_type
                else f"invalid fieldsType {go_quote(fields_type)} in managed fields entry {i}"
            )
        time = entry.get("time")
        if time is not None and _seconds(time) is None:
            raise _DecodeError(f"invalid time {time!r} in managed fields entry {i}")
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1") or {})
        except FieldPathError as err:
            raise _DecodeError(f"error decoding set: {err}") from None
        mid = _ManagerId(
            entry.get("manager") or "",
            operation,
            api_version if operation == "Update" else "",
            entry.get("subresource") or "",
        )
        managed[mid] = _Entry(fields, api_version, operation == "Apply")
        times[mid] = time
    return managed, times


def _seconds(time: Any) -> int | None:
    if not isinstance(time, str):
        return None
    try:
        return int(datetime.fromisoformat(time).timestamp())
    except ValueError:
        return None


def _encode(managed: Managed, times: Times) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for mid, entry in managed.items():
        out: dict[str, Any] = {}
        if mid.manager:
            out["manager"] = mid.manager
        out["operation"] = "Apply" if entry.applied else mid.operation
        out["apiVersion"] = entry.api_version
        if times.get(mid):
            out["time"] = times[mid]
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = entry.fields.to_fields_v1()
        if mid.subresource:
            out["subresource"] = mid.subresource
        entries.append(out)

    def order(e: dict[str, Any]) -> tuple[str, int, str, str, str]:
        seconds = _seconds(e.get("time")) or 0
        return (e["operation"], seconds, e.get("manager", ""), e["apiVersion"], e.get("subresource", ""))

    return sorted(entries, key=order)


def _strip(managed: Managed, mid: _ManagerId) -> Managed:
    entry = managed.get(mid)
    if entry is None:
        return managed
    out = dict(managed)
    rest = entry.fields.difference(_STRIPPED)
    if rest.empty():
        del out[mid]
    else:
        out[mid] = replace(entry, fields=rest)
    return out


def _cap(managed: Managed, times: Times) -> tuple[Managed, Times]:
    """Merge the oldest Update entries into per-version `ancient-changes` buckets beyond ten."""
    updaters = [mid for mid, entry in managed.items() if not entry.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managed, times
    managed, times = dict(managed), dict(times)
    updaters.sort(key=lambda mid: (_seconds(times.get(mid)) or 0, mid.identifier))
    first_of_version: dict[str, _ManagerId] = {}
    length = len(updaters)
    for mid in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        entry = managed[mid]
        bucket = _ManagerId("ancient-changes", "Update", entry.api_version)
        first = first_of_version.get(entry.api_version)
        if first is None:
            first_of_version[entry.api_version] = mid
            continue
        if bucket not in managed:
            managed[bucket] = managed.pop(first)
        managed[bucket] = _Entry(entry.fields.union(managed[bucket].fields), entry.api_version, False)
        del managed[mid]
        length -= 1
        times[bucket] = times.get(mid)
    return managed, times


# ---------------------------------------------------------------------------------------------------
# The updater: ownership after an update, merging and pruning for an apply.


@dataclass(frozen=True)
class _Request:
    schema: Schema
    api_version: str
    now: str
    subresource: str
    has_status_subresource: bool
    ignored: FieldSet | None

    def reset(self, live: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
        """What the status strategies keep: only `.status` changes through the status subresource,
        and `.status` never changes through the main resource of a type that has that subresource."""
        if self.subresource == "status":
            out = {k: v for k, v in live.items() if k != "status"}
            if "status" in merged:
                out["status"] = merged["status"]
            return out
        if self.has_status_subresource and not self.subresource:
            out = {k: v for k, v in merged.items() if k != "status"}
            if "status" in live:
                out["status"] = live["status"]
            return out
        return dict(merged)


def _ignored(subresource: str, has_status_subresource: bool, *objects: Any) -> FieldSet | None:
    if subresource == "status":
        names = {k for obj in objects if isinstance(obj, Mapping) for k in obj if k != "status"}
        return FieldSet.of(*((PathElement.field(name),) for name in sorted(names))) if names else None
    if has_status_subresource and not subresource:
        return FieldSet.of((PathElement.field("status"),))
    return None


def _update_others(
    old: Any, new: Any, managed: Managed, workflow: _ManagerId, req: _Request, *, force: bool
) -> tuple[Managed, Comparison]:
    """Take the fields `new` changes from every manager but `workflow`: refused unless `force`."""
    changes = compare(old, new, req.schema).excluding(req.ignored)
    touched = changes.modified.union(changes.added)
    conflicts: dict[_ManagerId, FieldSet] = {}
    for mid, entry in managed.items():
        clash = entry.fields.intersection(touched)
        if mid != workflow and not clash.empty():
            conflicts[mid] = clash
    if conflicts and not force:
        raise _ConflictsError.from_sets(conflicts)
    out = dict(managed)
    for mid, entry in managed.items():
        if mid != workflow:
            kept = entry.fields.difference(conflicts.get(mid, FieldSet())).difference(changes.removed)
            out[mid] = replace(entry, fields=kept)
    return {mid: entry for mid, entry in out.items() if not entry.fields.empty()}, changes


def _updater_update(live: Any, new: Any, managed: Managed, mid: _ManagerId, req: _Request) -> Managed:
    managed, changes = _update_others(live, new, managed, mid, req, force=True)
    base = managed[mid].fields if mid in managed else FieldSet()
    owned = base.union(changes.modified).union(changes.added).difference(changes.removed)
    if req.ignored is not None:
        owned = owned.recursive_difference(req.ignored)
    managed[mid] = _Entry(owned, req.api_version, False)
    if owned.empty():
        del managed[mid]
    return managed


def _updater_apply(
    live: dict[str, Any],
    config: Mapping[str, Any],
    owners: Managed,
    mid: _ManagerId,
    req: _Request,
    *,
    force: bool,
) -> tuple[dict[str, Any] | None, Managed]:
    """Merge, prune what the applier dropped, then take ownership (None: the object did not change)."""
    merged = merge(live, config, req.schema)
    last = owners.get(mid)
    applied = fields_of(config, req.schema)
    if req.ignored is not None:
        applied = applied.recursive_difference(req.ignored)
    managed = {**owners, mid: _Entry(applied, req.api_version, True)}
    if last is not None and not last.fields.difference(applied).empty():
        # The config's own fields are all owned, so pruning keeps them, but an empty list or map in it
        # owns nothing and may have been emptied away; merging the config again puts back exactly those,
        # so applying the same config twice is a no-op (Go's omitempty hides this for built-in kinds).
        merged = merge(_prune(merged, managed, last, req.schema), config, req.schema)
    merged = req.reset(live, merged)
    managed, _ = _update_others(live, merged, managed, mid, req, force=force)
    if equal(live, merged):
        return None, managed
    return merged, managed


def _prune(merged: Any, managed: Managed, last: _Entry | None, schema: Schema) -> Any:
    """Remove what the applier owned last time and no longer applies, unless someone still owns it."""
    if last is None or last.fields.empty():
        return merged
    previously = ensure_named_fields(last.fields, schema)
    pruned = remove_items(merged, previously, schema)
    owned = FieldSet()
    for entry in managed.values():
        owned = owned.union(entry.fields)
    merged_set = ensure_named_fields(fields_of(merged, schema, lenient=True), schema)
    pruned_set = ensure_named_fields(fields_of(pruned, schema, lenient=True), schema)
    keep = pruned_set.union(ensure_named_fields(owned, schema))
    pruned = remove_items(merged, merged_set.difference(keep), schema)
    pruned_set = ensure_named_fields(fields_of(pruned, schema, lenient=True), schema)
    return remove_items(merged, merged_set.difference(pruned_set).intersection(previously), schema)


# The steps below mirror k8s.io/apimachinery/pkg/util/managedfields/internal, innermost first.


@dataclass(frozen=True)
class _Owners:
    managed: Managed
    times: Times


def _track_update(live: Any, new: Any, owners: _Owners, mid: _ManagerId, req: _Request) -> _Owners:
    """Record the change under a placeholder, then fold it into the writer's entry and stamp it."""
    managed = _strip(_updater_update(live, new, owners.managed, _CURRENT, req), _CURRENT)
    current = managed.pop(_CURRENT, None)
    if current is None:
        return _Owners(managed, owners.times)
    previous = managed.get(mid)
    fields = current.fields if previous is None else current.fields.union(previous.fields)
    managed[mid] = _Entry(fields, current.api_version, False)
    return _Owners(managed, {**owners.times, mid: req.now})


def _update_chain(
    live: Any, new: Any, owners: _Owners, name: str, req: _Request, *, creating: bool
) -> _Owners:
    if not owners.managed and not creating:
        return owners  # an object written without managedFields stays untracked until someone applies
    mid = _manager_id(name, "Update", req.api_version, req.subresource)
    tracked = _track_update(live, new, owners, mid, req)
    return _Owners(*_cap(tracked.managed, tracked.times))


def _apply_chain(
    live: dict[str, Any], config: Mapping[str, Any], owners: _Owners, name: str, req: _Request, *, force: bool
) -> tuple[dict[str, Any], _Owners]:
    if not owners.managed:
        owners = _update_chain({}, live, owners, "before-first-apply", req, creating=True)
    mid = _manager_id(name, "Apply", req.api_version, req.subresource)
    result, managed = _updater_apply(live, config, owners.managed, mid, req, force=force)
    managed = _strip(managed, mid)
    if result is None:
        return live, _Owners(managed, owners.times)
    return result, _Owners(managed, {**owners.times, mid: req.now})


def _allowed_by_last_applied(live: Mapping[str, Any], req: _Request) -> FieldSet | None:
    """Fields kubectl's client-side apply set and the live object still holds unchanged."""
    annotations = (live.get("metadata") or {}).get("annotations")
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        last = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != req.api_version:
        return None
    if validate(last, req.schema, allow_duplicates=False) or validate(
        live, req.schema, allow_duplicates=False
    ):
        return None
    changes = compare(last, live, req.schema)
    return (
        fields_of(last, req.schema)
        .difference(changes.modified)
        .difference(changes.added)
        .difference(changes.removed)
    )


def _build_last_applied(config: Mapping[str, Any]) -> str:
    value = copy.deepcopy(dict(config))
    metadata = value.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
        metadata["annotations"] = {k: v for k, v in metadata["annotations"].items() if k != LAST_APPLIED}
    return go_json(value) + "\n"


def _set_last_applied(obj: dict[str, Any], value: str) -> None:
    metadata = obj.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    annotations[LAST_APPLIED] = value
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > _ANNOTATIONS_LIMIT:
        del annotations[LAST_APPLIED]
    metadata["annotations"] = annotations


# ---------------------------------------------------------------------------------------------------
# Entry points.


def _group_version(api_version: Any) -> str:
    text = api_version if isinstance(api_version, str) else ""
    return text if "/" in text else f"/{text}"


def _describe(obj: Mapping[str, Any]) -> str:
    """`namespace/name; group/version, Kind=kind`, as kube-apiserver names an object in these errors."""
    metadata = obj.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else ""
    name = metadata.get("name") if isinstance(metadata, Mapping) else ""
    gvk = f"{_group_version(obj.get('apiVersion'))}, Kind={obj.get('kind') or ''}"
    return f"{namespace or ''}/{name or ''}; {gvk}"


def _without_managed_fields(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(obj or {})
    metadata = out.get("metadata")
    if isinstance(metadata, Mapping) and "managedFields" in metadata:
        out["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return out


def _with_managed_fields(obj: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)
    if metadata or "metadata" in obj:
        obj["metadata"] = metadata
    return obj


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    schema: Schema,
    api_version: str,
    now: str,
    subresource: str = "",
    has_status_subresource: bool = False,
    kind: str | None = None,
) -> dict[str, Any]:
    """The object after `manager` applies `applied` to `live` (None to create), with managedFields.

    Raises ApplyConflictError (409) on conflicts unless `force`; APIError 400 for a configuration of
    another kind or version (`kind` enables the kind check) or one that carries managedFields; 500 for
    one whose lists cannot be indexed (kube-apiserver's "failed to create typed patch object").
    """
    if kind is not None and (applied.get("kind") != kind or applied.get("apiVersion") != api_version):
        gvk = f"{_group_version(applied.get('apiVersion'))}, Kind={applied.get('kind') or ''}"
        raise bad_request(f"invalid object type: {gvk}")
    if applied.get("apiVersion") != api_version:
        raise bad_request(
            "Incorrect version specified in apply patch. "
            f"Specified patch version: {applied.get('apiVersion') or ''}, expected: {api_version}"
        )
    metadata = applied.get("metadata")
    if isinstance(metadata, Mapping) and _entries_or_nil(metadata.get("managedFields")) is not None:
        raise bad_request("metadata.managedFields must be nil")
    live_obj = _without_managed_fields(live)
    errors = validate(applied, schema, allow_duplicates=False)
    if errors:
        raise APIError(
            500, "", f"failed to create typed patch object ({_describe(applied)}): {format_errors(errors)}"
        )
    errors = validate(live_obj, schema, allow_duplicates=True)
    if errors:
        raise APIError(
            500, "", f"failed to create typed live object ({_describe(live_obj)}): {format_errors(errors)}"
        )
    try:
        owners = _Owners(*_decode((live or {}).get("metadata", {}).get("managedFields")))
    except _DecodeError as err:
        raise APIError(500, "", f"failed to decode managed fields: {err}") from None
    req = _Request(
        schema,
        api_version,
        now,
        subresource,
        has_status_subresource,
        _ignored(subresource, has_status_subresource, live_obj, applied),
    )
    try:
        try:
            result, owners = _apply_chain(live_obj, applied, owners, manager, req, force=force)
        except _ConflictsError as conflicts:
            allowed = _allowed_by_last_applied(live_obj, req) if manager == "kubectl" else None
            if allowed is None:
                raise
            remaining = [(mid, path) for mid, path in conflicts.conflicts if not allowed.has(path)]
            if remaining:
                raise _ConflictsError(remaining) from None
            result, owners = _apply_chain(live_obj, applied, owners, manager, req, force=True)
    except _ConflictsError as conflicts:
        raise conflicts.to_error() from None
    except StructureError as err:
        raise APIError(500, "", f"failed to apply ({_describe(applied)}): {err}") from None
    obj = copy.deepcopy(result)
    if manager == "kubectl":
        annotations = (obj.get("metadata") or {}).get("annotations")
        if isinstance(annotations, Mapping) and annotations.get(LAST_APPLIED):
            _set_last_applied(obj, _build_last_applied(applied))
    return _with_managed_fields(obj, _encode(owners.managed, owners.times))


def _decode_live_or_new(
    live: Mapping[str, Any], new: Mapping[str, Any], subresource: bool
) -> tuple[Managed, Times]:
    """The managedFields an update starts from: a client-sent valid list replaces the live one, `[]`
    or `[{}]` resets it, anything else (absent, null, invalid, or any subresource write) keeps it."""
    live_entries = (live.get("metadata") or {}).get("managedFields")
    if not subresource:
        sent = _entries_or_nil((new.get("metadata") or {}).get("managedFields"))
        if sent is not None and (not sent or (len(sent) == 1 and _is_zero(sent[0]))):
            return {}, {}
        if sent:
            try:
                managed, times = _decode(sent)
            except _DecodeError:
                managed, times = {}, {}
            if managed:
                return managed, times
    try:
        return _decode(live_entries)
    except _DecodeError:
        return {}, {}


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    schema: Schema,
    api_version: str,
    now: str,
    subresource: str = "",
    has_status_subresource: bool = False,
) -> list[dict[str, Any]]:
    """managedFields after a non-apply write of `new` over `old` (None for a create) by `manager`.

    The changed fields move to `manager`'s Update entry; an object already written without
    managedFields stays untracked; an object whose lists cannot be indexed keeps `old`'s entries.
    """
    live_obj = _without_managed_fields(old)
    new_obj = _without_managed_fields(new)
    owners = _Owners(*_decode_live_or_new(old or {}, new, bool(subresource)))
    creating = not (live_obj.get("metadata") or {}).get("uid")
    if validate(new_obj, schema, allow_duplicates=True) or validate(live_obj, schema, allow_duplicates=True):
        return _preserved(old)
    req = _Request(
        schema,
        api_version,
        now,
        subresource,
        has_status_subresource,
        _ignored(subresource, has_status_subresource, live_obj, new_obj),
    )
    try:
        owners = _update_chain(live_obj, new_obj, owners, manager, req, creating=creating)
    except StructureError:
        return _preserved(old)
    return _encode(owners.managed, owners.times)


def _preserved(old: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    entries = ((old or {}).get("metadata") or {}).get("managedFields")
    return copy.deepcopy(entries) if isinstance(entries, list) else []
