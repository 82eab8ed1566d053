"""Go's spelling of strings, because Contour's messages and regexes are compared byte for byte.

Contour builds status messages with `%q` (strconv.Quote) and Go's `time` package quotes the input of
a duration it rejects its own way; route matches escape literal text with `regexp.QuoteMeta`. Python's
`repr`, `json.dumps` and `re.escape` differ from all three, so the DAG and the Envoy translators spell
them through this module.
"""

from __future__ import annotations

_QUOTE_META = frozenset("\\.+*?()|[]{}^$")
_NAMED_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(value: object) -> str:
    """`strconv.Quote` (`%q`) of `str(value)`: a double-quoted Go literal; printable runes stay as
    they are.

    Go's unicode.IsPrint and Python's str.isprintable agree: letters, marks, numbers, punctuation,
    symbols and the ASCII space.
    """
    out = ['"']
    for char in str(value):
        escaped = _NAMED_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def go_time_quote(text: str) -> str:
    """The `time` package's own quote (in ParseDuration errors): `"` and `\\` are backslashed, every
    UTF-8 byte of a non-ASCII or control character becomes `\\xNN`."""
    out = ['"']
    for char in text:
        if char < " " or ord(char) >= 0x80:
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
        elif char in '"\\':
            out.append("\\" + char)
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_quote_meta(text: str) -> str:
    """`regexp.QuoteMeta`: backslash-escape exactly the RE2 metacharacters (`re.escape` escapes more)."""
    return "".join("\\" + c if c in _QUOTE_META else c for c in text)
