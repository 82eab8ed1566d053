"""Parsing API requests: which resource a URL names, and the body and query options it carries.

The URL grammar is the real server's: `/api/v1/...` for the core group and `/apis/GROUP/VERSION/...`
for the others, then `[namespaces/NS/]PLURAL[/NAME[/SUBRESOURCE]]`, with the legacy `watch/` prefix.
Bodies are JSON or YAML and are capped at 3 MiB; anything malformed is a 400 with a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from contour.apiserver import errors
from contour.apiserver.protobuf import decode_protobuf

MAX_BODY = 3 * 1024 * 1024
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None  # None: not namespaced in the URL (cluster-scoped, or across namespaces)
    name: str | None
    subresource: str
    legacy_watch: bool


def parse_path(path: str) -> ResourcePath | None:
    """None when the path is not a resource path (discovery, health and OpenAPI are routed elsewhere)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    legacy_watch = rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and not (group == "" and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else ""
    return ResourcePath(group, version, plural, namespace, name, subresource, legacy_watch)


def decode_body(data: bytes, content_type: str) -> Any:
    media = content_type.split(";", 1)[0].strip().lower()
    if len(data) > MAX_BODY:
        raise errors.too_large()
    if media == "application/vnd.kubernetes.protobuf":
        return decode_protobuf(data)
    if media == "application/cbor":
        raise errors.unsupported_media_type(
            "application/json, application/yaml, application/vnd.kubernetes.protobuf"
        )
    if not data.strip():
        raise errors.bad_request("the request body is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid UTF-8: {exc}") from None
    if media in ("application/yaml", "application/apply-patch+yaml", "text/yaml"):
        try:
            return yaml.load(text, Loader=_YAML_LOADER)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")
