"""Go duration strings (`1s`, `500ms`, `1m30s`), because `?delay=` and `delayRetry=` use Go's syntax.

The grammar and the error texts follow Go's `time.ParseDuration`, so a client sees the same 500
message the reference echo server gives for a bad value.
"""

from __future__ import annotations

_NANOSECONDS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 MICRO SIGN
    "μs": 1_000,  # U+03BC GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_MAX_NANOSECONDS = (1 << 63) - 1
_NUMBER_CHARS = frozenset("0123456789.")


class DurationError(ValueError):
    """A string that Go's time.ParseDuration would reject; the message is Go's."""


def parse_duration(text: str) -> float:
    """Return the duration in seconds; negative durations are allowed, as in Go."""
    return parse_duration_nanoseconds(text) / 1e9


def parse_duration_nanoseconds(text: str) -> int:
    invalid = DurationError(f'time: invalid duration "{text}"')
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if rest[0] not in _NUMBER_CHARS:
            raise invalid
        whole_end = _digits_end(rest, 0)
        whole = rest[:whole_end]
        fraction = ""
        end = whole_end
        if end < len(rest) and rest[end] == ".":
            fraction_end = _digits_end(rest, end + 1)
            fraction = rest[end + 1 : fraction_end]
            end = fraction_end
        if not whole and not fraction:
            raise invalid
        unit_end = end
        while unit_end < len(rest) and rest[unit_end] not in _NUMBER_CHARS:
            unit_end += 1
        unit = rest[end:unit_end]
        if not unit:
            raise DurationError(f'time: missing unit in duration "{text}"')
        scale = _NANOSECONDS_PER_UNIT.get(unit)
        if scale is None:
            raise DurationError(f'time: unknown unit "{unit}" in duration "{text}"')
        value = int(whole or "0") * scale
        if fraction:
            # Go truncates the fractional part towards zero at nanosecond precision.
            value += int(fraction) * scale // (10 ** len(fraction))
        total += value
        if total > _MAX_NANOSECONDS:
            raise invalid
        rest = rest[unit_end:]
    return -total if negative else total


def _digits_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return end
