"""Errors as the real API server reports them: `Status` objects with a reason, a code and causes.

Every failure a client can cause ends as an `APIError` carrying the exact Status body the real
kube-apiserver would send (kubectl and kr8s print `message` and branch on `reason` and `code`), so
handlers raise and one place turns the exception into a response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One `details.causes` entry: a field path (`spec.virtualhost.fqdn`), a reason and a message.

    `reason` is a CauseType of the real server: FieldValueInvalid, FieldValueRequired,
    FieldValueNotSupported, FieldValueDuplicate, FieldValueTooLong, FieldValueTooMany,
    FieldValueForbidden, FieldValueTypeInvalid, FieldManagerConflict, UnexpectedServerResponse...
    `message` is the error body without the field (`Required value`, `Invalid value: "x": detail`).
    """

    reason: str
    message: str
    field: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class APIError(Exception):
    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        }
        if self.reason:  # the real server leaves an unknown reason out rather than sending ""
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        return body


def _details(group: str, kind: str, name: str, causes: list[Cause] | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    if causes:
        details["causes"] = [c.as_dict() for c in causes]
    return details


def qualified(resource_or_kind: str, group: str) -> str:
    return f"{resource_or_kind}.{group}" if group else resource_or_kind


def not_found(group: str, plural: str, name: str) -> APIError:
    return APIError(
        404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(group, plural, name)
    )


def already_exists(group: str, plural: str, name: str) -> APIError:
    return APIError(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        _details(group, plural, name),
    )


def conflict(group: str, plural: str, name: str, why: str) -> APIError:
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}',
        _details(group, plural, name),
    )


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(group: str, kind: str, name: str, causes: list[Cause]) -> APIError:
    """422 Invalid: `Kind.group "name" is invalid: field: message` (several in brackets, comma-joined)."""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return APIError(
        422,
        "Invalid",
        f'{qualified(kind, group)} "{name}" is invalid: {summary}',
        _details(group, kind, name, causes),
    )


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> APIError:
    return APIError(405, "MethodNotAllowed", message, {})


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(
        415,
        "UnsupportedMediaType",
        ("the body of the request was in an unknown format - accepted media types include: " + content_type),
    )


def too_large() -> APIError:
    return APIError(413, "RequestEntityTooLarge", "the request entity is too large")


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


def unauthorized() -> APIError:
    return APIError(401, "Unauthorized", "Unauthorized")


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}")
