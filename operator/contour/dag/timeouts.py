"""Go durations and Contour's timeout settings, parsed the way Contour parses them.

HTTPProxy timeouts and the Ingress timeout annotations are Go `time.Duration` strings ("1.5s",
"1h30m", "300ms") or "infinity"/"infinite". Contour's `timeout.Parse` turns each into one of three
settings, which the DAG model spells as: None (use Envoy's default: "" or any zero duration), 0.0
(disabled: "infinity"/"infinite"), or a positive number of seconds. Parse errors carry Go's and
Contour's wording, because Contour copies them into status messages.
"""

from __future__ import annotations

from contour.dag.goformat import go_quote, go_time_quote

_NANOS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_DIGITS = frozenset("0123456789")
_MAX_NANOS = 2**63  # a time.Duration is an int64 count of nanoseconds
_MAX_DIGITS = len(str(_MAX_NANOS))


class DurationError(ValueError):
    """A string Go's time.ParseDuration (or Contour's timeout.Parse) rejects; str() is their message."""


def _leading_digits(s: str) -> tuple[str, str]:
    i = 0
    while i < len(s) and s[i] in _DIGITS:
        i += 1
    return s[:i], s[i:]


def parse_go_duration_nanos(text: str) -> int:
    """Nanoseconds in a Go duration string, or DurationError with Go's wording.

    https://pkg.go.dev/time#ParseDuration: a possibly signed sequence of decimal numbers, each with an
    optional fraction and a unit suffix ("0" alone needs no unit); only ASCII digits count, and a
    total beyond int64 nanoseconds (about 292 years) is invalid.
    """
    invalid = DurationError(f"time: invalid duration {go_time_quote(text)}")
    s = text
    negative = False
    if s[:1] in ("-", "+"):
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if s[0] != "." and s[0] not in _DIGITS:
            raise invalid
        whole, s = _leading_digits(s)
        fraction = ""
        has_fraction = False
        if s.startswith("."):
            fraction, s = _leading_digits(s[1:])
            has_fraction = bool(fraction)
        if not whole and not has_fraction:
            raise invalid
        i = 0
        while i < len(s) and s[i] != "." and s[i] not in _DIGITS:
            i += 1
        unit, s = s[:i], s[i:]
        if not unit:
            raise DurationError(f"time: missing unit in duration {go_time_quote(text)}")
        scale = _NANOS_PER_UNIT.get(unit)
        if scale is None:
            raise DurationError(f"time: unknown unit {go_time_quote(unit)} in duration {go_time_quote(text)}")
        if len(whole.lstrip("0")) > _MAX_DIGITS:
            raise invalid
        value = int(whole or "0") * scale
        # Digits past the 18th change the value by less than a nanosecond (Go drops them too).
        fraction = fraction[:18]
        if fraction:
            value += int(fraction) * scale // 10 ** len(fraction)
        total += value
        if total > _MAX_NANOS:
            raise invalid
    if negative:
        return -total
    if total > _MAX_NANOS - 1:
        raise invalid
    return total


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string, or DurationError with Go's wording."""
    return parse_go_duration_nanos(text) / 1e9


def parse_timeout(text: str | None) -> float | None:
    """Contour's timeout.Parse in the model's terms.

    None means "use Envoy's default" ("", or any zero duration such as "0s"); 0.0 means disabled
    ("infinity" or "infinite"); otherwise a positive number of seconds. Malformed values raise
    DurationError with Contour's message. Contour would pass a negative duration on to Envoy, which
    rejects the whole update; it is refused here instead.
    """
    if not text:
        return None
    if text in ("infinity", "infinite"):
        return 0.0
    try:
        nanos = parse_go_duration_nanos(text)
    except DurationError as exc:
        raise DurationError(f"unable to parse timeout string {go_quote(text)}: {exc}") from None
    if nanos < 0:
        raise DurationError(f"invalid timeout {go_quote(text)}: must not be negative")
    return nanos / 1e9 if nanos else None
