"""Durations the way Contour spells them, because names and hashes depend on the spelling.

Contour hashes Go's `time.Duration.String()` into cluster names (for example an idle-connection timeout
of 90 s contributes "1m30s"), so reproducing the exact text keeps our cluster names equal to Contour's.
The protobuf side needs `google.protobuf.Duration` messages built from seconds without float drift.
Parsing Go durations is the DAG's job (`contour.dag.timeouts`).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import duration_pb2

_NANOS_PER_SECOND = 1_000_000_000


def to_nanos(seconds: float) -> int:
    """Whole nanoseconds in `seconds` (rounded, so 0.1 s is exactly 100,000,000 ns)."""
    return round(seconds * _NANOS_PER_SECOND)


def duration(seconds: float) -> Any:
    """A `google.protobuf.Duration` of `seconds`."""
    nanos = to_nanos(seconds)
    return duration_pb2.Duration(seconds=nanos // _NANOS_PER_SECOND, nanos=nanos % _NANOS_PER_SECOND)


def _trim(whole: int, fraction: int, digits: int) -> str:
    text = str(whole)
    if fraction:
        text += "." + str(fraction).rjust(digits, "0").rstrip("0")
    return text


def go_duration_string(seconds: float) -> str:
    """Go's `time.Duration.String()` for `seconds`: "0s", "1.5ms", "2s", "1m30s", "1h0m0s"."""
    nanos = to_nanos(seconds)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < _NANOS_PER_SECOND:
        for unit, size, digits in (("ms", 1_000_000, 6), ("µs", 1_000, 3), ("ns", 1, 0)):
            if nanos >= size:
                return sign + _trim(nanos // size, nanos % size, digits) + unit
    hours, rest = divmod(nanos, 3600 * _NANOS_PER_SECOND)
    minutes, rest = divmod(rest, 60 * _NANOS_PER_SECOND)
    text = _trim(rest // _NANOS_PER_SECOND, rest % _NANOS_PER_SECOND, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text
