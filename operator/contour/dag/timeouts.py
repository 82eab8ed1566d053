"""Go durations and Contour's timeout settings, parsed the way Contour parses them.

HTTPProxy timeouts are Go `time.Duration` strings ("1.5s", "1h30m", "300ms") or "infinity"/"infinite".
Contour turns each into one of three settings: use Envoy's default (field unset), disabled (Envoy 0,
meaning no timeout), or a duration. Parse errors carry Go's own wording, because Contour copies them
into status messages ("time: invalid duration \"x\"").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


class DurationError(ValueError):
    """A string Go's time.ParseDuration rejects; str() is Go's message."""


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def parse_go_duration(text: str) -> float:
    """Seconds for a Go duration string, or DurationError with Go's wording.

    https://pkg.go.dev/time#ParseDuration: a possibly signed sequence of decimal numbers, each with an
    optional fraction and a unit suffix; "0" alone is allowed without a unit.
    """
    orig = text
    s = text
    sign = 1.0
    if s and s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise DurationError(f"time: invalid duration {_quote(orig)}")
    total = 0.0
    while s:
        i = 0
        while i < len(s) and s[i].isdigit():
            i += 1
        whole = s[:i]
        s = s[i:]
        frac = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and s[j].isdigit():
                j += 1
            frac = s[:j]
            s = s[j:]
        if not whole and not frac:
            raise DurationError(f"time: invalid duration {_quote(orig)}")
        k = 0
        while k < len(s) and s[k] != "." and not s[k].isdigit():
            k += 1
        unit = s[:k]
        s = s[k:]
        if not unit:
            raise DurationError(f"time: missing unit in duration {_quote(orig)}")
        if unit not in _UNITS:
            raise DurationError(f"time: unknown unit {_quote(unit)} in duration {_quote(orig)}")
        value = float(f"{whole or '0'}.{frac or '0'}")
        total += value * _UNITS[unit]
    return sign * total


@dataclass(frozen=True)
class TimeoutSetting:
    """Contour's timeout.Setting: default (None seconds), disabled, or a duration in seconds."""

    seconds: float | None = None
    disabled: bool = False

    @property
    def envoy_seconds(self) -> float | None:
        """What the model's `*_seconds` fields hold: None = Envoy default, 0 = no timeout."""
        if self.disabled:
            return 0.0
        return self.seconds


DEFAULT = TimeoutSetting()
DISABLED = TimeoutSetting(disabled=True)


def parse_timeout(text: str | None) -> TimeoutSetting:
    """Contour's timeout.Parse: "" -> default, "infinity"/"infinite" -> disabled, else a Go duration."""
    if text is None or text == "":
        return DEFAULT
    if text in ("infinity", "infinite"):
        return DISABLED
    seconds = parse_go_duration(text)
    if seconds < 0:
        raise DurationError(f"invalid timeout {_quote(text)}: must not be negative")
    if seconds == 0:
        return DISABLED
    return TimeoutSetting(seconds=seconds)
