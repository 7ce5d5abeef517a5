"""orchestra.cjson gives what json.loads and json.dumps give, byte for byte and error for error."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

from orchestra import cjson

VALUES = [
    {},
    [],
    "",
    0,
    -1.5,
    None,
    True,
    {"b": 1, "a": [1, 2.5, 1e300, -0.0, 10**40, "x"], "c": {"z": None, "y": False}},
    {"task": "add the endpoint — naïve café ☕ \U0001f600", "tab\there": 'line\nbreak "quoted" \\ /'},
    {"argv": ["git", "\udcff\udc80 bytes that were not UTF-8", "\x00\x1f\x7f"]},
    [float("inf"), float("-inf")],
    {"3": 3, "10": 10, "": "empty key"},
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("compact", [False, True])
def test_dumps_is_json_dumps(value, sort_keys, compact):
    separators = (",", ":") if compact else None
    assert cjson.dumps(value, sort_keys=sort_keys, compact=compact) == json.dumps(
        value, sort_keys=sort_keys, separators=separators
    )


@pytest.mark.parametrize("value", VALUES)
def test_loads_reads_what_json_writes(value):
    for text in (json.dumps(value), json.dumps(value, indent=2), "  \n" + json.dumps(value) + "\r\n\t"):
        assert cjson.loads(text) == json.loads(text)
        assert cjson.loads(text.encode("utf-8")) == json.loads(text.encode("utf-8"))


def test_loads_reads_nan_and_text_json_reads_as_bytes():
    assert math.isnan(cjson.loads("[NaN]")[0])
    assert cjson.loads('"caf\u00e9"'.encode("utf-16")) == "café"  # json detects UTF-16 from the bytes
    assert cjson.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # and a UTF-8 byte-order mark


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x",
        '{"a": }',
        '{"a": 1} {"b": 2}',
        "[1, 2",
        '"unterminated',
        '{"a": 1,}',
        "\ufeff{}",
        b"\xff\xfe\x00",
    ],
)
def test_bad_text_raises_what_json_raises(text):
    try:
        json.loads(text)
    except ValueError as error:
        expected = error
    with pytest.raises(type(expected), match=f"^{re.escape(str(expected))}$"):
        cjson.loads(text)


def test_what_json_cannot_encode_it_refuses_the_same_way():
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        cjson.dumps({"a": {1, 2}})
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference detected"):
        cjson.dumps(looped)


def test_a_python_without_the_c_halves_gets_the_pure_python_modules():
    """`orchestra.cjson` and the state file's time check take `json` and `datetime` where the
    standard library's C halves (`_json`, `_datetime`) are missing, as on another Python."""
    probe = """
import sys
sys.modules["_json"] = sys.modules["_datetime"] = None  # importing either now raises ImportError
from orchestra import cjson, state
assert not cjson.C
print(cjson.dumps({"b": [1.5, "\\u00e9"], "a": None}, sort_keys=True, compact=True))
print(cjson.loads(' {"x": [1, true]} '))
print(state.record_problem({"created_at": "2026-12-04T23:27:29+00:00"}), state.record_problem({"created_at": "soon"}))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"a":null,"b":[1.5,"\\u00e9"]}',
        "{'x': [1, True]}",
        "None 'created_at' is \"soon\", not an ISO 8601 time",
    ]
