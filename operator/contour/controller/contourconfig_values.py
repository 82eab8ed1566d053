"""Value checks for Contour's configuration: each takes a decoded value and its dotted key and returns
it typed, or raises ConfigError naming the key and the value (see contour.controller.contourconfig).

The access log checks follow Contour's `apis/projectcontour/v1alpha1/accesslog.go`: JSON fields are
known names, Envoy command operators, or `key=FORMAT` pairs whose operators Contour knows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import pydantic

from contour.api.projectcontour import v1alpha1 as api
from contour.dag.global_headers import header_name_error
from contour.dag.model import ObjectRef
from contour.dag.policy import canonical_header_key
from contour.dag.timeouts import DurationError, parse_go_duration_nanos, parse_timeout
from contour.envoy.access_log import JSON_FIELD_FORMATS, SIMPLE_OPERATORS, json_field_map


class ConfigError(ValueError):
    """A configuration Contour refuses to start with; str() names the key (and the value)."""


@dataclass(frozen=True)
class CustomTag:
    tag_name: str
    literal: str = ""
    request_header_name: str = ""


# --- value kinds: each checks a decoded value and returns it typed, or raises ConfigError ------------

Check = Callable[[Any, str], Any]


def fail(path: str, value: Any, why: str) -> ConfigError:
    return ConfigError(f"{path}: invalid value {value!r}: {why}")


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: expected a boolean, got {type_name(value)} {value!r}")
    return value


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{path}: expected a string, got {type_name(value)} {value!r}")
    return value


def number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}: expected a number, got {type_name(value)} {value!r}")
    if value < 0:
        raise fail(path, value, "must not be negative")
    return float(value)


def int_range(low: int, high: int) -> Check:
    def check(value: Any, path: str) -> int:
        if not is_int(value):
            raise ConfigError(f"{path}: expected an integer, got {type_name(value)} {value!r}")
        if not low <= value <= high:
            raise fail(path, value, f"must be in the range {low}-{high}")
        return int(value)

    return check


UINT32_MAX: Final = 2**32 - 1
uint32 = int_range(0, UINT32_MAX)
min1 = int_range(1, UINT32_MAX)  # Contour: "minimum value is 1"
port = int_range(0, 65535)
byte = int_range(0, 255)


def str_list(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list, got {type_name(value)} {value!r}")
    return tuple(string(v, f"{path}[{i}]") for i, v in enumerate(value))


def str_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type_name(value)} {value!r}")
    return {string(k, path): string(v, f"{path}.{k}") for k, v in value.items()}


def enum(*allowed: str) -> Check:
    def check(value: Any, path: str) -> str:
        text = string(value, path)
        if text not in allowed:
            raise fail(path, text, "must be one of " + ", ".join(repr(a) for a in allowed))
        return text

    return check


def timeout(value: Any, path: str) -> float | None:
    """Contour's timeout.Parse: "" or zero -> None (Envoy's default), "infinity" -> 0.0 (disabled)."""
    text = string(value, path)
    try:
        return parse_timeout(text)
    except DurationError as exc:
        raise fail(path, text, str(exc)) from None


def timeout_text(value: Any, path: str) -> str:
    """A timeout kept as its text (the DAG parses it again where it is used), checked like `timeout`."""
    timeout(value, path)
    return str(value)


def duration(value: Any, path: str) -> float:
    """A Go duration that cannot be "infinity" (connect timeouts)."""
    text = string(value, path)
    try:
        nanos = parse_go_duration_nanos(text)
    except DurationError as exc:
        raise fail(path, text, str(exc)) from None
    if nanos < 0:
        raise fail(path, text, "must not be negative")
    return nanos / 1e9


def tls_version(value: Any, path: str) -> str:
    text = string(value, path)
    if text not in ("", "1.2", "1.3"):
        raise fail(path, text, "TLS protocol version must be 1.2 or 1.3")
    return text


FILE_CIPHERS: Final = frozenset(
    {
        "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]",
        "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]",
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-RSA-AES128-SHA",
        "AES128-GCM-SHA256",
        "AES128-SHA",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-AES256-SHA",
        "ECDHE-RSA-AES256-SHA",
        "AES256-GCM-SHA384",
        "AES256-SHA",
    }
)
# The CRD's list (apis/projectcontour/v1alpha1 ValidTLSCiphers) has single CHACHA20 suites, no groups.
SPEC_CIPHERS: Final = (FILE_CIPHERS - {c for c in FILE_CIPHERS if c.startswith("[")}) | {
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
}


def ciphers(valid: frozenset[str]) -> Check:
    def check(value: Any, path: str) -> tuple[str, ...]:
        unique: dict[str, None] = {}
        for i, cipher in enumerate(str_list(value, path)):
            if cipher.strip() not in valid:
                raise fail(f"{path}[{i}]", cipher, "not a cipher suite Envoy supports")
            unique.setdefault(cipher.strip())
        return tuple(unique)

    return check


def http_versions(value: Any, path: str) -> tuple[str, ...]:
    found: list[str] = []
    for i, version in enumerate(str_list(value, path)):
        canonical = {"http/1.1": "HTTP/1.1", "http/2": "HTTP/2"}.get(version.lower())
        if canonical is None:
            raise fail(f"{path}[{i}]", version, "HTTP version must be HTTP/1.1 or HTTP/2")
        found.append(canonical)
    return tuple(dict.fromkeys(found))


def header_names(value: Any, path: str) -> tuple[str, ...]:
    names = str_list(value, path)
    for i, name in enumerate(names):
        if msg := header_name_error(canonical_header_key(name)):
            raise fail(f"{path}[{i}]", name, f"invalid header name: {msg}")
    return names


def header_map(value: Any, path: str) -> dict[str, str]:
    headers = str_map(value, path)
    for name in headers:
        if msg := header_name_error(canonical_header_key(name)):
            raise fail(f"{path}.{name}", name, f"invalid header name: {msg}")
    return headers


def object_ref(value: Any, path: str) -> ObjectRef | None:
    """{name, namespace}: both or neither (Contour's NamespacedName.Validate)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type_name(value)} {value!r}")
    for key in value.keys() - {"name", "namespace"}:
        raise ConfigError(f"unknown field {path}.{key}")
    name = string(value.get("name", ""), f"{path}.name").strip()
    namespace = string(value.get("namespace", ""), f"{path}.namespace").strip()
    if not name and not namespace:
        return None
    if not namespace:
        raise ConfigError(f"{path}.namespace: must be defined")
    if not name:
        raise ConfigError(f"{path}.name: must be defined")
    return ObjectRef(namespace, name)


def slash_ref(value: Any, path: str) -> ObjectRef | None:
    """`namespace/name`, the config file's form for extension services."""
    text = string(value, path)
    if not text:
        return None
    namespace, _, name = text.partition("/")
    if not namespace or not name or "/" in name:
        raise fail(path, text, "must be NAMESPACE/NAME")
    return ObjectRef(namespace, name)


def sampling(value: Any, path: str) -> float:
    text = string(value, path)
    try:
        sampling = float(text)
    except ValueError:
        raise fail(path, text, "invalid tracing sampling: not a number") from None
    if not math.isfinite(sampling) or sampling < 0:
        raise fail(path, text, "invalid tracing sampling: must be a non-negative number")
    return sampling


def custom_tags(value: Any, path: str) -> tuple[CustomTag, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list, got {type_name(value)} {value!r}")
    tags: list[CustomTag] = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type_name(item)} {item!r}")
        for key in item.keys() - {"tagName", "literal", "requestHeaderName"}:
            raise ConfigError(f"unknown field {where}.{key}")
        tag = CustomTag(
            tag_name=string(item.get("tagName", ""), f"{where}.tagName"),
            literal=string(item.get("literal", ""), f"{where}.literal"),
            request_header_name=string(item.get("requestHeaderName", ""), f"{where}.requestHeaderName"),
        )
        if not tag.tag_name:
            raise ConfigError(f"{where}.tagName: must be defined")
        if any(t.tag_name == tag.tag_name for t in tags):
            raise fail(f"{where}.tagName", tag.tag_name, "tagName is duplicate")
        if bool(tag.literal) == bool(tag.request_header_name):
            raise ConfigError(f"{where}: must set exactly one of literal or requestHeaderName")
        tags.append(tag)
    return tuple(tags)


def rate_limit_policy(value: Any, path: str) -> Mapping[str, Any]:
    try:
        return api.DefaultGlobalRateLimitPolicy.model_validate(value).dump()
    except pydantic.ValidationError as exc:
        raise pydantic_error(exc, path) from None


def http_settings(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type_name(value)} {value!r}")
    checks: dict[str, Check] = {
        "pathPrefix": string,
        "allowedAuthorizationHeaders": header_names,
        "allowedUpstreamHeaders": header_names,
    }
    for key in value.keys() - checks.keys():
        raise ConfigError(f"unknown field {path}.{key}")
    return {key: checks[key](v, f"{path}.{key}") for key, v in value.items()}


# operator -> (arguments optional, truncation disallowed)
_COMPLEX_OPERATORS: Final = {
    "ENVIRONMENT": (False, False),
    "METADATA": (False, False),
    "REQ": (False, False),
    "REQ_WITHOUT_QUERY": (False, False),
    "RESP": (False, False),
    "START_TIME": (True, True),
    "TRAILER": (False, False),
}
_COMMAND_OPERATOR: Final = re.compile(r"%(([A-Z0-9_]+)(\([^)]+\)(:[0-9]+)?)?%)?")


def access_log_format_error(text: str) -> str | None:
    """Contour's parseAccessLogFormatString: why `text` is not a valid Envoy format, or None."""
    for match in _COMMAND_OPERATOR.finditer(text):
        op, args, truncation = match.group(2), match.group(3), match.group(4)
        if not op:
            return f"invalid Envoy format: {match.group(0)}"
        if op in SIMPLE_OPERATORS and op not in _COMPLEX_OPERATORS:
            continue
        if op not in _COMPLEX_OPERATORS:
            return f"invalid Envoy format: {match.group(0)}, invalid Envoy operator: {op}"
        args_optional, no_truncation = _COMPLEX_OPERATORS[op]
        if not args_optional and not args:
            return f"invalid Envoy format: {match.group(0)}, arguments required for operator: {op}"
        if no_truncation and truncation:
            return f"invalid Envoy format: {match.group(0)}, operator {op} cannot have truncation length"
    return None


def json_fields(value: Any, path: str) -> tuple[str, ...]:
    fields = str_list(value, path)
    for key, fmt in json_field_map(fields).items():
        if not fmt:
            raise fail(path, key, "invalid JSON log field name")
        if JSON_FIELD_FORMATS.get(key) != fmt and (why := access_log_format_error(fmt)):
            raise fail(path, f"{key}={fmt}", f"invalid JSON field: {why}")
    return fields


def format_string(value: Any, path: str) -> str:
    text = string(value, path)
    if not text:
        return text
    if why := access_log_format_error(text):
        raise fail(path, text, f"invalid access log format: {why}")
    if not text.endswith("\n"):
        raise fail(path, text, "invalid access log format: must end in newline")
    return text


def pydantic_error(exc: pydantic.ValidationError, prefix: str) -> ConfigError:
    first = exc.errors()[0]
    path = prefix
    for part in first["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if first["type"] == "extra_forbidden":
        return ConfigError(f"unknown field {path}")
    return ConfigError(f"{path}: invalid value {first.get('input')!r}: {first['msg']}")
