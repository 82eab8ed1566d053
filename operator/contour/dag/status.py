"""Object status computed by a build: what the status writer patches onto each object.

Contour's HTTPProxy status has one condition it owns, `Valid` (a DetailedCondition with `errors[]` and
`warnings[]` sub-conditions), plus the summary fields `currentStatus` and `description`. The first error
flips `Valid` to False with reason `ErrorPresent`; warnings never change the condition's status. A
proxy whose errors include the `Orphaned` type is `orphaned`. This module accumulates those conditions
during a build (several processors and include chains may add to the same object) and renders them
into `StatusUpdate`s, the JSON-shaped `status` objects the writer sends. Rendering is deterministic;
`lastTransitionTime` is left to the writer, which keeps the old value when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contour.dag.model import ObjectRef

GROUP_CONTOUR = "projectcontour.io"
VERSION_V1 = "v1"
PLURAL_HTTPPROXIES = "httpproxies"
PLURAL_DELEGATIONS = "tlscertificatedelegations"

VALID = "Valid"
ERROR_PRESENT_REASON = "ErrorPresent"
ERROR_PRESENT_MESSAGE = "At least one error present, see Errors for details"
ORPHANED = "Orphaned"
ORPHANED_MESSAGE = "this HTTPProxy is not part of a delegation chain from a root HTTPProxy"

# Kubernetes caps condition messages at 32768 characters; Contour truncates longer ones.
_MAX_MESSAGE = 32768


def _truncate(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return message[: _MAX_MESSAGE - 3] + "..."


@dataclass(frozen=True)
class StatusUpdate:
    """The whole `status` object to write to one object, JSON-shaped (camelCase)."""

    group: str
    version: str
    plural: str
    ref: ObjectRef
    generation: int
    status: dict[str, Any]


@dataclass(frozen=True)
class SubCondition:
    type: str
    reason: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "status": "True", "reason": self.reason, "message": self.message}


@dataclass
class DetailedCondition:
    """A positive-polarity condition (`Valid`) with error and warning sub-conditions, in insertion order."""

    type: str
    ok_reason: str
    ok_message: str
    errors: list[SubCondition] = field(default_factory=list)
    warnings: list[SubCondition] = field(default_factory=list)

    def add_error(self, error_type: str, reason: str, message: str) -> None:
        self.errors.append(SubCondition(error_type, reason, _truncate(message)))

    def add_warning(self, warning_type: str, reason: str, message: str) -> None:
        self.warnings.append(SubCondition(warning_type, reason, _truncate(message)))

    def has_error(self, error_type: str) -> bool:
        return any(e.type == error_type for e in self.errors)

    def get_error(self, error_type: str) -> SubCondition | None:
        return next((e for e in self.errors if e.type == error_type), None)

    @property
    def status(self) -> str:
        return "False" if self.errors else "True"

    @property
    def reason(self) -> str:
        return ERROR_PRESENT_REASON if self.errors else self.ok_reason

    @property
    def message(self) -> str:
        return ERROR_PRESENT_MESSAGE if self.errors else self.ok_message

    def to_json(self, generation: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "observedGeneration": generation,
        }
        if self.errors:
            out["errors"] = [e.to_json() for e in self.errors]
        if self.warnings:
            out["warnings"] = [w.to_json() for w in self.warnings]
        return out


@dataclass
class ProxyStatus:
    """The status being built for one HTTPProxy."""

    ref: ObjectRef
    generation: int
    valid: DetailedCondition
    vhost: str = ""


@dataclass
class DelegationStatus:
    ref: ObjectRef
    generation: int
    valid: DetailedCondition


class RenderMemo:
    """Rendered updates of adopted (shared, never modified) ProxyStatus objects, from one build to the
    next; keeps what the last build used."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[ProxyStatus, StatusUpdate]] = {}
        self._next: dict[int, tuple[ProxyStatus, StatusUpdate]] = {}

    def render(self, ps: ProxyStatus) -> StatusUpdate:
        found = self._last.get(id(ps))
        if found is None or found[0] is not ps:
            found = (ps, _proxy_update(ps))
        self._next[id(ps)] = found
        return found[1]

    def begin(self) -> None:
        self._next = {}

    def end(self) -> None:
        self._last, self._next = self._next, {}


class StatusCollector:
    """Collects conditions during one build; `updates()` renders them, sorted by kind and object.

    `adopt` takes a finished ProxyStatus that others share (an incremental build's fragment) without
    copying it: it is copied only if this build adds to it, and rendered through `render_memo`.
    """

    def __init__(self, render_memo: RenderMemo | None = None) -> None:
        self._proxies: dict[ObjectRef, ProxyStatus] = {}
        self._adopted: set[ObjectRef] = set()
        self._delegations: dict[ObjectRef, DelegationStatus] = {}
        self._extra: dict[tuple[str, str, ObjectRef], StatusUpdate] = {}
        self._render_memo = render_memo
        if render_memo is not None:
            render_memo.begin()

    def proxy(self, ref: ObjectRef, generation: int) -> ProxyStatus:
        """The status entry for an HTTPProxy, created Valid on first use (Contour's ProxyAccessor)."""
        ps = self._proxies.get(ref)
        if ps is None:
            ps = ProxyStatus(ref, generation, DetailedCondition(VALID, "Valid", "Valid HTTPProxy"))
            self._proxies[ref] = ps
        elif ref in self._adopted:
            self._adopted.discard(ref)
            cond = ps.valid
            copied = DetailedCondition(
                cond.type, cond.ok_reason, cond.ok_message, list(cond.errors), list(cond.warnings)
            )
            ps = self._proxies[ref] = ProxyStatus(ps.ref, ps.generation, copied, ps.vhost)
        return ps

    def adopt(self, ps: ProxyStatus) -> bool:
        """Use `ps` as it is for its proxy when nothing was recorded for it yet; False otherwise."""
        if ps.ref in self._proxies:
            return False
        self._proxies[ps.ref] = ps
        self._adopted.add(ps.ref)
        return True

    def delegation(self, ref: ObjectRef, generation: int) -> DelegationStatus:
        ds = self._delegations.get(ref)
        if ds is None:
            cond = DetailedCondition(VALID, "Valid", "Valid TLSCertificateDelegation")
            ds = DelegationStatus(ref, generation, cond)
            self._delegations[ref] = ds
        return ds

    def set_update(self, update: StatusUpdate) -> None:
        """Record a fully rendered status for another kind (Ingress etc.); the last one set wins."""
        self._extra[(update.group, update.plural, update.ref)] = update

    @property
    def proxies(self) -> dict[ObjectRef, ProxyStatus]:
        return self._proxies

    def updates(self) -> list[StatusUpdate]:
        out: list[StatusUpdate] = []
        memo = self._render_memo
        for ref in sorted(self._proxies, key=lambda r: (r.namespace, r.name)):
            ps = self._proxies[ref]
            out.append(memo.render(ps) if memo is not None and ref in self._adopted else _proxy_update(ps))
        if memo is not None:
            memo.end()
        for ref in sorted(self._delegations):
            ds = self._delegations[ref]
            out.append(
                StatusUpdate(
                    GROUP_CONTOUR,
                    VERSION_V1,
                    PLURAL_DELEGATIONS,
                    ref,
                    ds.generation,
                    {"conditions": [ds.valid.to_json(ds.generation)]},
                )
            )
        for key in sorted(self._extra, key=lambda k: (k[0], k[1], k[2])):
            out.append(self._extra[key])
        return out


def _proxy_update(ps: ProxyStatus) -> StatusUpdate:
    cond = ps.valid
    orphan = cond.get_error(ORPHANED)
    if not cond.errors:
        current, description = "valid", cond.message
    elif orphan is not None:
        current, description = "orphaned", orphan.message
    else:
        current, description = "invalid", cond.message
    status = {
        "currentStatus": current,
        "description": description,
        "conditions": [cond.to_json(ps.generation)],
    }
    return StatusUpdate(GROUP_CONTOUR, VERSION_V1, PLURAL_HTTPPROXIES, ps.ref, ps.generation, status)
