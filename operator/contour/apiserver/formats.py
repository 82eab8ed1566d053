"""The string formats a CRD schema can ask the API server to check, with kube-openapi's rules.

Only the formats in `structural.VALIDATED_FORMATS` are checked (the server strips any other format,
including int32/int64, before validating), and only on string values. Each checker follows
k8s.io/kube-openapi/pkg/validation/strfmt: IPv4 tolerates leading zeros (ParseIPSloppy), date-time
needs a time zone, uuid allows upper case and missing dashes.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import date

_UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID3 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID4 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_UUID5 = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_TIME = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOSTNAME = re.compile(
    r"^([a-zA-Z0-9]((-?[a-zA-Z0-9]{0,62})?)|([a-zA-Z0-9](([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.)){1,}"
    r"([a-zA-Z]){2,63})$"
)
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$")
_BSON = re.compile(r"^[0-9a-fA-F]{24}$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGBCOLOR = re.compile(
    r"^rgb\(\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*,"
    r"\s*(0|[1-9]\d?|1\d\d?|2[0-4]\d|25[0-5])\s*\)$"
)
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$|^/\S*$")
_GO_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$")
_DURATION_WORDS = re.compile(
    r"^(\d+)\s*(ns|nanoseconds?|us|µs|microseconds?|ms|milliseconds?|s|seconds?|sec|m|mins?|minutes?|h"
    r"|hours?|hr|d|days?|w|wk|weeks?)$"
)


def _sloppy_ipv4(text: str) -> bool:
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part.isascii() or not part.isdigit() or len(part) > 3 or int(part) > 255:
            return False
    return True


def is_ipv4(text: str) -> bool:
    return "." in text and (_sloppy_ipv4(text) or _is_ipv6_mapped(text))


def _is_ipv6_mapped(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def is_ipv6(text: str) -> bool:
    if ":" not in text or "%" in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_cidr(text: str) -> bool:
    address, sep, prefix = text.partition("/")
    if not sep or not prefix.isascii() or not prefix.isdigit():
        return False
    if _sloppy_ipv4(address):
        return int(prefix) <= 32
    return is_ipv6(address) and int(prefix) <= 128


def is_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def is_datetime(text: str) -> bool:
    if len(text) < 4:
        return False
    parts = text.lower().split("t")
    if len(parts) < 2 or not is_date(parts[0]):
        return False
    match = _TIME.match(parts[1])
    if match is None:
        return False
    return match.group(1) <= "23" and match.group(2) <= "59" and match.group(3) <= "59"


def is_hostname(text: str) -> bool:
    return bool(_HOSTNAME.match(text)) and len(text) <= 255 and all(len(p) <= 63 for p in text.split("."))


def is_byte(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def is_duration(text: str) -> bool:
    return bool(_GO_DURATION.match(text) or _DURATION_WORDS.match(text.strip()))


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return total % 10 == 0


def is_creditcard(text: str) -> bool:
    digits = re.sub(r"[^0-9]", "", text)
    return 12 < len(digits) < 20 and _luhn(digits)


def is_isbn10(text: str) -> bool:
    clean = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\d{9}[\dX]", clean):
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(clean))
    return total % 11 == 0


def is_isbn13(text: str) -> bool:
    clean = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\d{13}", clean):
        return False
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(clean))
    return total % 10 == 0


CHECKERS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": lambda s: bool(_BSON.match(s)),
    "uri": lambda s: bool(_URI.match(s)),
    "email": lambda s: bool(_EMAIL.match(s)),
    "hostname": is_hostname,
    "ipv4": is_ipv4,
    "ipv6": is_ipv6,
    "cidr": is_cidr,
    "mac": lambda s: bool(_MAC.match(s)),
    "uuid": lambda s: bool(_UUID.match(s)),
    "uuid3": lambda s: bool(_UUID3.match(s)),
    "uuid4": lambda s: bool(_UUID4.match(s)),
    "uuid5": lambda s: bool(_UUID5.match(s)),
    "isbn": lambda s: is_isbn10(s) or is_isbn13(s),
    "isbn10": is_isbn10,
    "isbn13": is_isbn13,
    "creditcard": is_creditcard,
    "ssn": lambda s: bool(_SSN.match(s)),
    "hexcolor": lambda s: bool(_HEXCOLOR.match(s)),
    "rgbcolor": lambda s: bool(_RGBCOLOR.match(s)),
    "byte": is_byte,
    "password": lambda _s: True,
    "date": is_date,
    "duration": is_duration,
    "datetime": is_datetime,
}


def check(fmt: str, text: str) -> bool:
    """Whether `text` is valid for `fmt` (a validated format name, dashes allowed)."""
    checker = CHECKERS.get(fmt.replace("-", ""))
    return True if checker is None else checker(text)
