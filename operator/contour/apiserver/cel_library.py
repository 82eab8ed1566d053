"""Kubernetes' CEL library functions that the `cel` (cel-rust) package does not ship.

cel-rust implements the CEL core (macros, has, size, contains/startsWith/endsWith/matches, duration,
timestamp, conversions). Kubernetes adds the cel-go strings extension and its own lists, regex, URL
and IP libraries (k8s.io/apiserver/pkg/cel/library). The ones CRDs use are provided here as plain
functions: cel-rust treats `x.f(a)` as `f(x, a)`, so receiver-style calls reach them unchanged.

A function given arguments it has no overload for raises TypeError; the evaluator reports it like
cel-go's "no such overload".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import re2

_NO_OVERLOAD = "no such overload"


def _require(condition: bool) -> None:
    if not condition:
        raise TypeError(_NO_OVERLOAD)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def index_of(receiver: Any, target: Any, offset: Any = 0) -> int:
    """strings: 'abc'.indexOf('c'[, offset]) in code points; lists: [1, 2].indexOf(2)."""
    if isinstance(receiver, list):
        for index, item in enumerate(receiver):
            if item == target and type(item) is type(target):
                return index
        return -1
    _require(isinstance(receiver, str) and isinstance(target, str) and _is_int(offset))
    if offset < 0 or offset > len(receiver):
        raise IndexError(f"index out of range: {offset}")
    return int(receiver.find(target, offset))


def last_index_of(receiver: Any, target: Any, offset: Any = None) -> int:
    if isinstance(receiver, list):
        for index in range(len(receiver) - 1, -1, -1):
            item = receiver[index]
            if item == target and type(item) is type(target):
                return index
        return -1
    _require(isinstance(receiver, str) and isinstance(target, str))
    if offset is None:
        return int(receiver.rfind(target))
    _require(_is_int(offset))
    if offset < 0 or offset > len(receiver):
        raise IndexError(f"index out of range: {offset}")
    return int(receiver.rfind(target, 0, offset + len(target)))


def substring(receiver: Any, start: Any, end: Any = None) -> str:
    _require(isinstance(receiver, str) and _is_int(start) and (end is None or _is_int(end)))
    stop = len(receiver) if end is None else end
    if start < 0 or start > len(receiver):
        raise IndexError(f"index out of range: {start}")
    if stop < start or stop > len(receiver):
        raise IndexError(f"index out of range: {stop}")
    return str(receiver[start:stop])


def char_at(receiver: Any, index: Any) -> str:
    _require(isinstance(receiver, str) and _is_int(index))
    if index < 0 or index > len(receiver):
        raise IndexError(f"index out of range: {index}")
    return str(receiver[index : index + 1])


def lower_ascii(receiver: Any) -> str:
    _require(isinstance(receiver, str))
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in receiver)


def upper_ascii(receiver: Any) -> str:
    _require(isinstance(receiver, str))
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in receiver)


def replace(receiver: Any, old: Any, new: Any, limit: Any = -1) -> str:
    _require(isinstance(receiver, str) and isinstance(old, str) and isinstance(new, str) and _is_int(limit))
    return str(receiver.replace(old, new, limit if limit >= 0 else -1))


def split(receiver: Any, separator: Any, limit: Any = -1) -> list[str]:
    _require(isinstance(receiver, str) and isinstance(separator, str) and _is_int(limit))
    if limit == 0:
        return []
    if separator == "":
        parts = list(receiver)
        if limit > 0 and len(parts) > limit:
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
        return parts
    return [str(p) for p in receiver.split(separator, limit - 1 if limit > 0 else -1)]


def join(receiver: Any, separator: Any = "") -> str:
    _require(isinstance(receiver, list) and isinstance(separator, str))
    _require(all(isinstance(item, str) for item in receiver))
    return str(separator.join(receiver))


def trim(receiver: Any) -> str:
    _require(isinstance(receiver, str))
    return str(receiver.strip())


def is_sorted(receiver: Any) -> bool:
    _require(isinstance(receiver, list))
    return all(receiver[i] <= receiver[i + 1] for i in range(len(receiver) - 1))


def list_sum(receiver: Any) -> Any:
    _require(isinstance(receiver, list))
    return sum(receiver) if receiver else 0


def list_min(receiver: Any) -> Any:
    _require(isinstance(receiver, list))
    if not receiver:
        raise ValueError("min called on empty list")
    return min(receiver)


def list_max(receiver: Any) -> Any:
    _require(isinstance(receiver, list))
    if not receiver:
        raise ValueError("max called on empty list")
    return max(receiver)


def find(receiver: Any, pattern: Any) -> str:
    _require(isinstance(receiver, str) and isinstance(pattern, str))
    match = re2.compile(pattern).search(receiver)
    return str(match.group(0)) if match else ""


def find_all(receiver: Any, pattern: Any, limit: Any = -1) -> list[str]:
    _require(isinstance(receiver, str) and isinstance(pattern, str) and _is_int(limit))
    found = [str(m.group(0)) for m in re2.compile(pattern).finditer(receiver)]
    return found if limit < 0 else found[:limit]


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # Kubernetes' isIP uses netip.ParseAddr: no zones, no leading zeros (Python agrees on those).
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_ip(receiver: Any) -> bool:
    _require(isinstance(receiver, str))
    address = _parse_ip(receiver)
    # IPv4-mapped IPv6 addresses are rejected by the Kubernetes library.
    return address is not None and not (isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped)


def is_cidr(receiver: Any) -> bool:
    _require(isinstance(receiver, str))
    address, sep, prefix = receiver.partition("/")
    if not sep or not re.fullmatch(r"[0-9]{1,3}", prefix) or not is_ip(address):
        return False
    try:
        ipaddress.ip_network(receiver, strict=False)
    except ValueError:
        return False
    return True


def is_url(receiver: Any) -> bool:
    """Go's url.ParseRequestURI accepts absolute URLs and absolute paths."""
    _require(isinstance(receiver, str))
    if not receiver or " " in receiver:
        return False
    if receiver.startswith("/"):
        return True
    try:
        parts = urlsplit(receiver)
    except ValueError:
        return False
    return bool(parts.scheme) and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme) is not None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "charAt": char_at,
    "indexOf": index_of,
    "lastIndexOf": last_index_of,
    "lowerAscii": lower_ascii,
    "upperAscii": upper_ascii,
    "replace": replace,
    "split": split,
    "substring": substring,
    "trim": trim,
    "join": join,
    "isSorted": is_sorted,
    "sum": list_sum,
    "min": list_min,
    "max": list_max,
    "find": find,
    "findAll": find_all,
    "isIP": is_ip,
    "isCIDR": is_cidr,
    "isURL": is_url,
}

# Functions and macros cel-rust implements natively (program.functions() lists functions and
# operators; macros such as has/all/exists/exists_one/filter/map never appear there).
NATIVE_FUNCTIONS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "dyn",
        "type",
        "duration",
        "timestamp",
        "hasValue",
        "value",
        "orValue",
        "or",
        "optional.of",
        "optional.none",
        "getFullYear",
        "getMonth",
        "getDayOfYear",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
