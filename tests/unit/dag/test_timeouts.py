"""Go durations (time.ParseDuration) and Contour's timeout settings (timeout.Parse), with their wording."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contour.dag.timeouts import DurationError, parse_go_duration, parse_go_duration_nanos, parse_timeout

MAX_NANOS = 2**63 - 1


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        pytest.param("0", 0, id="bare-zero"),
        pytest.param("-0", 0, id="signed-zero"),
        pytest.param("10m", 600 * 10**9, id="minutes"),
        pytest.param("1h30m", 5400 * 10**9, id="hours-minutes"),
        pytest.param("1.5s", 1_500_000_000, id="fraction"),
        pytest.param(".5s", 500_000_000, id="fraction-without-whole"),
        pytest.param("1.s", 10**9, id="point-without-fraction"),
        pytest.param("+5s", 5 * 10**9, id="plus-sign"),
        pytest.param("-1.5h", -5400 * 10**9, id="negative"),
        pytest.param("1h2m3.5s4ms", 3723_504_000_000, id="every-part"),
        pytest.param("3us", 3_000, id="us"),
        pytest.param("3\u00b5s", 3_000, id="micro-sign"),
        pytest.param("3\u03bcs", 3_000, id="greek-mu"),
        pytest.param("1.0000000001s", 10**9, id="sub-nanosecond-dropped"),
        pytest.param(f"{MAX_NANOS}ns", MAX_NANOS, id="int64-max"),
        pytest.param(f"-{MAX_NANOS + 1}ns", -(MAX_NANOS + 1), id="int64-min"),
    ],
)
def test_parse_go_duration(text: str, nanos: int) -> None:
    assert parse_go_duration_nanos(text) == nanos


def test_parse_go_duration_in_seconds() -> None:
    assert parse_go_duration("1m30s") == 90.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", 'time: invalid duration ""', id="empty"),
        pytest.param("-", 'time: invalid duration "-"', id="sign-only"),
        pytest.param("30", 'time: missing unit in duration "30"', id="missing-unit"),
        pytest.param("1s5", 'time: missing unit in duration "1s5"', id="trailing-number"),
        pytest.param("1d", 'time: unknown unit "d" in duration "1d"', id="unknown-unit"),
        pytest.param("1 s", 'time: unknown unit " s" in duration "1 s"', id="space-before-unit"),
        pytest.param(" 5s", 'time: invalid duration " 5s"', id="leading-space"),
        pytest.param(".s", 'time: invalid duration ".s"', id="no-digits"),
        pytest.param("s", 'time: invalid duration "s"', id="unit-only"),
        # Only ASCII digits count; Go's time package quotes other runes byte by byte.
        pytest.param("\u0665s", 'time: invalid duration "\\xd9\\xa5s"', id="arabic-digit"),
        pytest.param("\u00b2s", 'time: invalid duration "\\xc2\\xb2s"', id="superscript-digit"),
        pytest.param(f"{MAX_NANOS + 1}ns", f'time: invalid duration "{MAX_NANOS + 1}ns"', id="over-int64"),
        pytest.param("2562048h", 'time: invalid duration "2562048h"', id="over-292-years"),
    ],
)
def test_parse_go_duration_rejects_with_gos_message(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_go_duration_nanos(text)
    assert str(caught.value) == message


def test_five_thousand_digits_are_an_invalid_duration_not_a_crash() -> None:
    with pytest.raises(DurationError):
        parse_go_duration_nanos("1" * 5000 + "s")


@given(st.text(max_size=12))
def test_parse_go_duration_raises_only_duration_error(text: str) -> None:
    with contextlib.suppress(DurationError):
        assert isinstance(parse_go_duration_nanos(text), int)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", None, id="empty-default"),
        pytest.param(None, None, id="unset-default"),
        pytest.param("0", None, id="zero-default"),
        pytest.param("0s", None, id="zero-seconds-default"),
        pytest.param("0h0m", None, id="zero-parts-default"),
        pytest.param("infinity", 0.0, id="infinity-disabled"),
        pytest.param("infinite", 0.0, id="infinite-disabled"),
        pytest.param("30s", 30.0, id="seconds"),
        pytest.param("1m30s", 90.0, id="minutes-seconds"),
        pytest.param("1.5h", 5400.0, id="fractional-hours"),
        pytest.param("300ms", 0.3, id="milliseconds"),
    ],
)
def test_parse_timeout(value: str | None, expected: float | None) -> None:
    """Contour's timeout.Parse: a zero duration is Envoy's default (None), only infinity disables (0)."""
    assert parse_timeout(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "30", 'unable to parse timeout string "30": time: missing unit in duration "30"', id="unit"
        ),
        pytest.param(
            "thirty", 'unable to parse timeout string "thirty": time: invalid duration "thirty"', id="words"
        ),
        pytest.param(
            "Infinity",
            'unable to parse timeout string "Infinity": time: invalid duration "Infinity"',
            id="capitalised-infinity",
        ),
        pytest.param("-1s", 'invalid timeout "-1s": must not be negative', id="negative"),
    ],
)
def test_parse_timeout_rejects_with_contours_message(value: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_timeout(value)
    assert str(caught.value) == message
