"""Tick validation and rollup formatting by auditor's rules, in Python.

The same contract as auditor's topology/tick_parser.cpp and bench/kstreams' TickParser
(DESIGN.md "Input record"): a JSON object (strict UTF-8, at most 64 KiB, nothing after it),
non-empty UTF-8 names of at most 256 bytes, an integer count in 1..1e9 (absent = 1), an
optional RFC 3339 or integer epoch-ms timestamp, no duplicate known field, ignored fields
that are JSON as a whole (no lone surrogate escapes, nested at most 64 levels). The reason
for an invalid record does not matter here: the app only counts and drops them.

Python's json module (its C scanner) does the JSON syntax; the hooks below make it as strict
as auditor: NaN/Infinity are rejected, floats are marked (1.0 and 1e3 are not integers),
objects keep their pairs so duplicates can be seen. Rfc3339 is a port of event_time.cpp.
"""

import json
import re

MAX_TICK_BYTES = 64 * 1024
MAX_NAME_BYTES = 256
MAX_COUNT = 1_000_000_000
MAX_DEPTH = 64
MIN_EVENT_TIME = -62167219200000  # 0000-01-01T00:00:00Z
MAX_EVENT_TIME = 253402300799999  # 9999-12-31T23:59:59.999Z

_KNOWN = ("process_name", "process_activity", "count", "timestamp")


class _Obj(list):
    """A JSON object as its (key, value) pairs, in order (duplicates kept)."""

    __slots__ = ()


class _Float:
    """A JSON number with a fraction or an exponent: never an integer here."""

    __slots__ = ()


_FLOAT = _Float()


def _float(_text):
    return _FLOAT


def _constant(_text):
    raise ValueError("NaN and Infinity are not JSON")


_decode = json.JSONDecoder(
    object_pairs_hook=_Obj, parse_float=_float, parse_constant=_constant
).decode
# A \u escape of a UTF-16 surrogate (maybe part of a valid pair): then every string is checked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _utf8_len(s):
    """UTF-8 length of s, or -1 when it holds a lone surrogate (from a \\u escape)."""
    if s.isascii():
        return len(s)
    try:
        return len(s.encode("utf-8"))
    except UnicodeEncodeError:
        return -1


def _valid_ignored(value, depth, check_strings):
    """An ignored value: nested at most MAX_DEPTH levels, no string with a lone surrogate."""
    if depth > MAX_DEPTH:
        return False
    cls = value.__class__
    if cls is _Obj:
        for k, v in value:
            if check_strings and _utf8_len(k) < 0:
                return False
            if not _valid_ignored(v, depth + 1, check_strings):
                return False
    elif cls is list:
        for v in value:
            if not _valid_ignored(v, depth + 1, check_strings):
                return False
    elif cls is str:
        return not check_strings or _utf8_len(value) >= 0
    return True


def parse(data):
    """(process_name, process_activity, count, timestamp ms or None), or None if invalid."""
    if data is None or len(data) > MAX_TICK_BYTES:
        return None
    try:
        doc = _decode(data.decode("utf-8"))  # strict UTF-8: no surrogates, no overlongs
    except (ValueError, RecursionError):
        return None
    if doc.__class__ is not _Obj:
        return None
    check_strings = b"\\u" in data and _SURROGATE_ESCAPE.search(data) is not None
    name = activity = None
    count = 1
    timestamp = None
    seen = set()
    for key, value in doc:
        if key in _KNOWN:
            if key in seen:
                return None  # duplicate
            seen.add(key)
            if key == "process_name" or key == "process_activity":
                if value.__class__ is not str:
                    return None
                n = _utf8_len(value)
                if n < 1 or n > MAX_NAME_BYTES:
                    return None
                if key == "process_name":
                    name = value
                else:
                    activity = value
            elif key == "count":
                if value.__class__ is not int or value < 1 or value > MAX_COUNT:
                    return None  # bool is not int here (true is not a count)
                count = value
            else:
                cls = value.__class__
                if cls is str:
                    if check_strings and _utf8_len(value) < 0:
                        return None
                    timestamp = parse_rfc3339(value)
                    if timestamp is None:
                        return None
                elif cls is int and MIN_EVENT_TIME <= value <= MAX_EVENT_TIME:
                    timestamp = value
                else:
                    return None
        else:
            if check_strings and _utf8_len(key) < 0:
                return None
            if (value.__class__ in (_Obj, list) or check_strings) and not _valid_ignored(
                value, 1, check_strings
            ):
                return None
    if name is None or activity is None:
        return None
    return name, activity, count, timestamp


# ---------------------------------------------------------------------------------------
# RFC 3339, exactly as auditor reads and writes it (topology/event_time.cpp): "T", "t" or a
# space between date and time, an optional fraction truncated to milliseconds, "Z", "z" or
# a "+hh:mm" offset, days checked per month, no leap second, years 0000-9999.

_MS_MINUTE = 60_000
_MS_HOUR = 3_600_000
_MS_DAY = 86_400_000
_DIGITS = frozenset("0123456789")
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(y, m, d):
    # Howard Hinnant's days_from_civil; Python's // floors, so era needs no adjustment.
    y -= 1 if m <= 2 else 0
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _num(s, pos, n):
    part = s[pos : pos + n]
    if len(part) != n or not _DIGITS.issuperset(part):
        return -1
    return int(part)


def parse_rfc3339(s):
    """Epoch milliseconds, or None."""
    n = len(s)
    if n < 20 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":" or s[16] != ":":
        return None
    year, month, day = _num(s, 0, 4), _num(s, 5, 2), _num(s, 8, 2)
    hour, minute, second = _num(s, 11, 2), _num(s, 14, 2), _num(s, 17, 2)
    if min(year, month, day, hour, minute, second) < 0:
        return None
    if month < 1 or month > 12 or day < 1:
        return None
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > (29 if month == 2 and leap else _DAYS[month - 1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    pos = 19
    millis = 0
    if s[pos] == ".":
        pos += 1
        first = pos
        while pos < n and s[pos] in _DIGITS:
            pos += 1
        if pos == first:
            return None
        millis = int((s[first : min(pos, first + 3)] + "00")[:3])
    if pos >= n:
        return None
    z = s[pos]
    offset = 0
    if z == "Z" or z == "z":
        pos += 1
    elif z == "+" or z == "-":
        off_hour, off_minute = _num(s, pos + 1, 2), _num(s, pos + 4, 2)
        if off_hour < 0 or pos + 3 >= n or s[pos + 3] != ":" or off_minute < 0:
            return None
        if off_hour > 23 or off_minute > 59:
            return None
        offset = off_hour * _MS_HOUR + off_minute * _MS_MINUTE
        if z == "-":
            offset = -offset
        pos += 6
    else:
        return None
    if pos != n:
        return None
    t = (
        _days_from_civil(year, month, day) * _MS_DAY
        + hour * _MS_HOUR
        + minute * _MS_MINUTE
        + second * 1000
        + millis
        - offset
    )
    if t < MIN_EVENT_TIME or t > MAX_EVENT_TIME:
        return None
    return t


def format_rfc3339(t):
    """"2026-11-22T09:47:00Z", or with ".250" when the milliseconds are not zero."""
    days, ms = divmod(t, _MS_DAY)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    text = "%04d-%02d-%02dT%02d:%02d:%02d" % (
        year, month, day, ms // _MS_HOUR, ms // _MS_MINUTE % 60, ms // 1000 % 60)
    if ms % 1000:
        text += ".%03d" % (ms % 1000)
    return text + "Z"


# ---------------------------------------------------------------------------------------
# Rollups in auditor's format (topology/rollup_format.cpp)

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(s):
    """A JSON string as nlohmann::json dumps it with ensure_ascii=false."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = ['"']
    for c in s:
        e = _ESCAPES.get(c)
        if e is not None:
            out.append(e)
        elif c < " ":
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def rollup_key(name, activity, window, start):
    """{"process_activity":..,"process_name":..,"window":"1m","window_start":".."}"""
    return (
        '{"process_activity":' + quote(activity) + ',"process_name":' + quote(name)
        + ',"window":"' + window + '","window_start":"' + format_rfc3339(start) + '"}'
    )


def rollup_value(name, activity, window, start, end, count, ticks):
    """auditor's rollup value; `final` is always false (every update is published)."""
    return (
        '{"process_name":' + quote(name) + ',"process_activity":' + quote(activity)
        + ',"window":"' + window + '","window_start":"' + format_rfc3339(start)
        + '","window_end":"' + format_rfc3339(end) + '","count":' + str(count)
        + ',"ticks":' + str(ticks) + ',"final":false}'
    )
