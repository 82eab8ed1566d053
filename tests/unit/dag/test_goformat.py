"""Go's spellings: strconv.Quote, the time package's quote, regexp.QuoteMeta (outputs Go produces)."""

from __future__ import annotations

import pytest

from contour.dag.goformat import go_quote, go_quote_meta, go_time_quote


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param("default/kuard", '"default/kuard"', id="plain"),
        pytest.param('a"b\\c', '"a\\"b\\\\c"', id="quote-and-backslash"),
        pytest.param("a\nb\tc", '"a\\nb\\tc"', id="named-escapes"),
        pytest.param("\x00\x7f", '"\\x00\\x7f"', id="control-bytes"),
        pytest.param("caf\u00e9", '"caf\u00e9"', id="printable-unicode-kept"),
        pytest.param("\u00a0", '"\\u00a0"', id="no-break-space"),
        pytest.param("\u200b", '"\\u200b"', id="format-character"),
        pytest.param("\U000e0001", '"\\U000e0001"', id="astral-non-printable"),
    ],
)
def test_go_quote_is_strconv_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param("1x", '"1x"', id="plain"),
        pytest.param('"', '"\\""', id="quote"),
        pytest.param("caf\u00e9", '"caf\\xc3\\xa9"', id="utf8-bytes"),
        pytest.param("\n", '"\\x0a"', id="control"),
    ],
)
def test_go_time_quote_is_the_time_packages(text: str, quoted: str) -> None:
    assert go_time_quote(text) == quoted


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param(".example.com", r"\.example\.com", id="dots"),
        pytest.param("a-b_c", "a-b_c", id="dash-and-underscore-kept"),
        pytest.param("^$()[]{}|\\+*?.", r"\^\$\(\)\[\]\{\}\|\\\+\*\?\.", id="every-metacharacter"),
    ],
)
def test_go_quote_meta_is_regexp_quote_meta(text: str, quoted: str) -> None:
    assert go_quote_meta(text) == quoted
