"""Go duration parsing for `?delay=` and `delayRetry=`: the same values and errors as time.ParseDuration."""

from __future__ import annotations

import pytest

from contour.echo.durations import DurationError, parse_duration_nanoseconds

SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("1s", SECOND),
        ("500ms", SECOND // 2),
        ("1m30s", 90 * SECOND),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("10μs", 10_000),
        ("7ns", 7),
        ("1.5h", 5400 * SECOND),
        (".5s", SECOND // 2),
        ("1.s", SECOND),
        ("-2s", -2 * SECOND),
        ("+3ms", 3_000_000),
        ("1h2m3s4ms5us6ns", 3723 * SECOND + 4_005_006),
        ("0.3333333333s", 333_333_333),
    ],
)
def test_valid_durations(text: str, nanoseconds: int) -> None:
    assert parse_duration_nanoseconds(text) == nanoseconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("s", 'time: invalid duration "s"'),
        (".s", 'time: invalid duration ".s"'),
        ("-", 'time: invalid duration "-"'),
        ("1", 'time: missing unit in duration "1"'),
        ("1.2.3s", 'time: missing unit in duration "1.2.3s"'),
        ("3d", 'time: unknown unit "d" in duration "3d"'),
        ("9999999999h", 'time: invalid duration "9999999999h"'),
    ],
)
def test_invalid_durations_give_go_messages(text: str, message: str) -> None:
    with pytest.raises(DurationError) as raised:
        parse_duration_nanoseconds(text)
    assert str(raised.value) == message
