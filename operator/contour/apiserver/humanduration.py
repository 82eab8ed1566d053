"""Ages as `kubectl get` shows them (`45s`, `5m30s`, `2d3h`), computed by the server for Table rows.

The real server renders every AGE cell and every CRD `date` column with apimachinery's
`duration.HumanDuration(time.Since(t))`; this is the same function of (timestamp, now), with `now` passed
in so the code stays pure.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_SECOND = 1_000_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE


def human_duration(elapsed: timedelta) -> str:
    """apimachinery's `HumanDuration`: about two significant units, `<invalid>` for clearly negative ages."""
    nanos = (elapsed.days * 86_400 + elapsed.seconds) * _SECOND + elapsed.microseconds * 1_000
    seconds = int(nanos / _SECOND)  # Go's int(d.Seconds()) truncates toward zero
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = nanos // _MINUTE
    if minutes < 10:
        rest = (nanos // _SECOND) % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = nanos // _HOUR
    if hours < 8:
        rest = (nanos // _MINUTE) % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


class InvalidTimestampError(ValueError):
    """Not an RFC 3339 time as `metav1.Time` accepts it."""


def parse_timestamp(value: object) -> datetime | None:
    """A `metav1.Time` from JSON: None for absent, empty or null (Go's zero time); raises when malformed."""
    if value is None or value in {"", "null"}:
        return None
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise InvalidTimestampError(repr(value))
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    whole, dot, rest = text.partition(".")
    if dot:  # Python takes at most microseconds; Go keeps nanoseconds, which never change an age string
        digits = re.match(r"\d+", rest)
        assert digits is not None
        text = f"{whole}.{digits.group()[:6].ljust(6, '0')}{rest[digits.end() :]}"
    return datetime.fromisoformat(text)


def age(timestamp: object, now: datetime) -> str:
    """`translateTimestampSince`: `<unknown>` for a missing time, `<invalid>` for a malformed one."""
    try:
        moment = parse_timestamp(timestamp)
    except InvalidTimestampError:
        return "<invalid>"
    if moment is None:
        return "<unknown>"
    return human_duration(now - moment)


def rfc3339(timestamp: object) -> str:
    """`t.UTC().Format(time.RFC3339)`, as the default table's `Created At` column prints it."""
    try:
        moment = parse_timestamp(timestamp)
    except InvalidTimestampError:
        moment = None
    if moment is None:
        return "0001-01-01T00:00:00Z"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
