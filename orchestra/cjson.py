"""JSON through the standard library's C scanner and encoder (`_json`), without importing `json`.

`json.loads` and `json.dumps` hand their work to `_json` already; importing the `json` package
first costs about 7 ms of a processor (it imports `re`, which imports `enum`, and compiles its
patterns), as much again as the hook handler's and the launcher's own work. Those two run for
every agent event and every agent start, so the modules they import (`orchestra.state`,
`orchestra.lifecycle`) read and write JSON here; everything else keeps `json`.

What this gives is what `json.loads(text)` and `json.dumps(value, ...)` give with their
defaults (`ensure_ascii`, NaN and Infinity allowed, circular references refused): text that
is not valid JSON is handed to `json.loads`, which raises its own `ValueError` with its own
message. A Python without `_json` uses `json` for everything.
"""

from __future__ import annotations

# `typing.TYPE_CHECKING` without importing typing, on the hook handler's path (mypy reads it as True)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # not CPython: the json package, whose loads and dumps do the same
    C = False
else:
    C = True

WHITESPACE = " \t\n\r"  # JSON's, and so json's: nothing else may stand around a value


class _Options:
    """The attributes `_json.make_scanner` reads, as `json.JSONDecoder()` sets them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_Options()) if C else None  # type: ignore[arg-type]  # (typeshed's stub)


def loads(data: str | bytes) -> Any:
    """`json.loads(data)`: the value, or `json`'s ValueError for text that is not one JSON value."""
    if _scan is not None:
        try:
            text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
            start = len(text) - len(text.lstrip(WHITESPACE))
            value, end = _scan(text, start)
        except (UnicodeDecodeError, StopIteration, ValueError):
            pass  # json says what is wrong (or reads a UTF-16 or BOM-led text, as it can)
        else:
            if not text[end:].strip(WHITESPACE):
                return value
    import json

    return json.loads(data)


def _unencodable(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, sort_keys: bool = False, compact: bool = False) -> str:
    """`json.dumps(value, sort_keys=sort_keys)`, with `separators=(",", ":")` when `compact`."""
    if not C:
        import json

        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":") if compact else None)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    key_separator, item_separator = (":", ",") if compact else (": ", ", ")
    encode = _json.make_encoder(
        {}, _unencodable, _json.encode_basestring_ascii, None, key_separator, item_separator, sort_keys, False, True
    )
    return "".join(encode(value, 0))
