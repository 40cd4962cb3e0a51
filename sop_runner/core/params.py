"""Validate request data against an SOP's parameter schema before anyone is asked anything.

Every problem names the field and how to fix it; all problems are reported at once so the
requester fixes the form in one go.

Request data comes from people who may be hostile, and it ends up in Ansible variables,
NetBox objects and official documents. So besides its type every value is bounded: its
length, the characters it may hold (no control characters, lone surrogates or bidirectional
overrides, which hide text from an approver or end a line where a template does not expect
one), finite numbers in a range exact in a JSON or YAML reader, lists of a bounded number of
plain items, and the request as a whole. Error messages show a short, escaped preview of a
bad value, never the value itself.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import date
from typing import Any

from sop_runner.core.catalogue.model import Parameter, SopDefinition
from sop_runner.errors import InvalidInputError

MAX_STRING = 4096
"""Characters in a ``string`` value, a list item, and the text of any other scalar type."""
MAX_TEXT = 20_000
"""Characters in a ``text`` value (a justification, a description)."""
MAX_LIST_ITEMS = 100
MAX_INTEGER = 2**53
"""|n| bound of an ``integer`` on a side its parameter leaves open: exact as a JSON number."""
MAX_REQUEST_BYTES = 64 * 1024
"""UTF-8 bytes of every name and value of one request together."""
_PREVIEW = 40

_FQDN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")
_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
# C0 and C1 controls and DEL, lone surrogates, line/paragraph separators, bidirectional
# embeddings, overrides and isolates. ``text`` may keep line feeds and tabs.
_FORBIDDEN = "\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069"
_BAD_CHAR_TEXT = re.compile(f"[{_FORBIDDEN}]")
_BAD_CHAR_LINE = re.compile(f"[\t\n{_FORBIDDEN}]")
_SCALARS = (str, int, float)  # bool is an int


class _RefusedError(ValueError):
    """A value of the wrong shape (a list where one value belongs); reported like any other."""


def preview(value: Any) -> str:
    """A short, escaped picture of ``value`` for an error message (never the whole value)."""
    if isinstance(value, str):
        if len(value) > _PREVIEW:
            return f"{value[:_PREVIEW]!r}... ({len(value)} characters)"
        return repr(value)
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"a {value.bit_length()}-bit integer"
    text = repr(value)
    return text if len(text) <= _PREVIEW else f"{text[:_PREVIEW]}..."


def _single(raw: Any) -> str:
    """The text of a single value; refuses lists, objects and non-finite numbers."""
    if isinstance(raw, float) and not math.isfinite(raw):
        msg = "must be a finite number (NaN and infinity are refused)"
        raise ValueError(msg)
    if not isinstance(raw, _SCALARS):
        kind = "a list" if isinstance(raw, list | tuple) else "an object" if isinstance(raw, dict) else "that"
        msg = f"must be a single value, not {kind}; give it as text"
        raise _RefusedError(msg)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw.bit_length() > 64:
        msg = "is far too large a number"
        raise ValueError(msg)
    return str(raw)


def _bounded(value: str, limit: int, *, lines: bool) -> str:
    """``value`` if it fits ``limit`` characters and holds no forbidden character."""
    if len(value) > limit:
        msg = f"is {len(value)} characters long; shorten it to at most {limit}"
        raise ValueError(msg)
    bad = (_BAD_CHAR_TEXT if lines else _BAD_CHAR_LINE).search(value)
    if bad:
        allowed = "only line breaks and tabs are allowed" if lines else "put it on one line, without tabs"
        msg = (f"contains control or invisible character U+{ord(bad.group()):04X} at position {bad.start()}; "
               f"remove it ({allowed})")
        raise ValueError(msg)
    return value


def _limit(p: Parameter) -> int:
    if p.max_length is not None:
        return p.max_length
    return MAX_TEXT if p.type == "text" else MAX_STRING


def _coerce(p: Parameter, raw: Any) -> Any:
    """Convert one value to the parameter's type, raising ValueError with the fix."""
    t = p.type
    text = _single(raw)
    if t == "text":
        text = text.replace("\r\n", "\n")  # browsers send a textarea's line breaks as CRLF
    text = _bounded(text, _limit(p), lines=t == "text")
    if t in ("string", "text"):
        if not text.strip():
            msg = "must not be empty"
            raise ValueError(msg)
        if p.pattern and not re.fullmatch(p.pattern, text):
            msg = f"must match {p.pattern}"
            raise ValueError(msg)
        return text
    if t == "integer":
        if not _INTEGER.fullmatch(text):
            msg = "must be a whole number written with digits 0-9"
            raise ValueError(msg)
        ivalue = int(text)
        _range(p, ivalue, default_bound=MAX_INTEGER)
        return ivalue
    if t == "number":
        if not _NUMBER.fullmatch(text):
            msg = "must be a number written with digits 0-9 and a decimal point, e.g. 2.5"
            raise ValueError(msg)
        fvalue = float(text)
        if not math.isfinite(fvalue):
            msg = "must be a finite number (it is too large)"
            raise ValueError(msg)
        _range(p, fvalue)
        return fvalue
    if t == "boolean":
        word = text.strip().lower()
        if word in ("true", "ya", "yes", "1", "y"):
            return True
        if word in ("false", "tidak", "no", "0", "t", "n"):
            return False
        msg = "must be ya/tidak (true/false)"
        raise ValueError(msg)
    if t == "enum":
        if text not in p.choices:
            msg = f"must be one of: {', '.join(p.choices)}"
            raise ValueError(msg)
        return text
    if t == "ipv4":
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            msg = "must be an IPv4 address like 192.0.2.10"
            raise ValueError(msg) from None
    if t == "ipv4_prefix":
        try:
            return str(ipaddress.IPv4Network(text, strict=True))
        except ValueError:
            msg = "must be an IPv4 prefix like 10.20.0.0/24 (host bits zero)"
            raise ValueError(msg) from None
    if t == "fqdn":
        value = text.lower().rstrip(".")
        if not _FQDN.fullmatch(value):
            msg = "must be a domain name like app.wonosobokab.go.id"
            raise ValueError(msg)
        return value
    if t == "email":
        if not _EMAIL.fullmatch(text):
            msg = "must be an e-mail address like nama@wonosobokab.go.id"
            raise ValueError(msg)
        return text
    if t == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            msg = "must be a date YYYY-MM-DD"
            raise ValueError(msg) from None
    if t == "tenant":
        if not _SLUG.fullmatch(text):
            msg = "must be the SKPD's NetBox tenant slug, e.g. dinkes"
            raise ValueError(msg)
        return text
    msg = f"unknown parameter type {t}"
    raise ValueError(msg)


def _coerce_list(p: Parameter, raw: Any) -> tuple[list[str], list[str]]:
    """(items, problems) of a list parameter: a JSON list or comma-separated text."""
    if isinstance(raw, str):
        items: list[Any] = [x.strip() for x in raw.split(",") if x.strip()]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        return [], [f"{p.name}: {preview(raw)} must be a list of values or comma-separated text"]
    if len(items) > MAX_LIST_ITEMS:
        return [], [f"{p.name}: has {len(items)} items; give at most {MAX_LIST_ITEMS}"]
    out: list[str] = []
    problems: list[str] = []
    for i, item in enumerate(items):
        try:
            out.append(_item(p, item))
        except ValueError as exc:
            problems.append(f"{p.name}[{i}]: {preview(item)} {exc}")
    if not out and not problems and p.required and p.default is None:
        problems.append(f"{p.name}: required ({p.label}); give at least one item")
    return out, problems


def _item(p: Parameter, item: Any) -> str:
    """One item of a list parameter: a plain one-line text (numbers are written as text)."""
    if isinstance(item, bool):
        msg = "must be text or a number, not true/false"
        raise _RefusedError(msg)
    text = _bounded(_single(item), _limit(p), lines=False)
    if not text.strip():
        msg = "must not be empty; leave the item out instead"
        raise ValueError(msg)
    return text


def _range(p: Parameter, value: float, default_bound: float | None = None) -> None:
    low = p.min if p.min is not None else (-default_bound if default_bound is not None else None)
    high = p.max if p.max is not None else default_bound
    if low is not None and value < low:
        msg = f"must be at least {low:g}" if p.min is not None else f"must be at least {int(low)}"
        raise ValueError(msg)
    if high is not None and value > high:
        msg = f"must be at most {high:g}" if p.max is not None else f"must be at most {int(high)}"
        raise ValueError(msg)


def _size(value: Any, cap: int) -> int:
    """UTF-8 bytes ``value`` takes, counted without recursion and stopping past ``cap``."""
    total, stack = 0, [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item.encode("utf-8", "surrogatepass"))
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2  # decimal digits, without str() of a huge number
        elif isinstance(item, list | tuple):
            total += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 24
    return total


def _request_size(given: dict[Any, Any]) -> str | None:
    """The problem of a request over :data:`MAX_REQUEST_BYTES`, naming its largest fields."""
    sizes = {name: _size(name, MAX_REQUEST_BYTES) + _size(value, MAX_REQUEST_BYTES) for name, value in given.items()}
    total = sum(sizes.values())
    if total <= MAX_REQUEST_BYTES:
        return None
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    names = ", ".join(f"{_field(k)} ({v} bytes)" for k, v in largest)
    more = " or more" if any(v > MAX_REQUEST_BYTES for v in sizes.values()) else ""  # _size stopped counting
    return (f"request: {total} bytes{more} in all; at most {MAX_REQUEST_BYTES} are accepted. "
            f"Shorten the largest fields: {names}")


def _field(name: Any) -> str:
    """A field name as given, or an escaped preview when it is no plain name."""
    return name if isinstance(name, str) and name.isidentifier() and len(name) <= 64 else preview(name)


def validate_params(sop: SopDefinition, given: dict[str, Any]) -> dict[str, Any]:
    """Return the typed parameters with defaults filled in, or raise naming every bad field."""
    problems: list[str] = []
    known = {p.name for p in sop.parameters}
    for name in sorted(set(given) - known, key=str):
        problems.append(f"{_field(name)}: {sop.id} has no such parameter; known: {', '.join(sorted(known)) or 'none'}")
    too_big = _request_size(given)
    if too_big:
        problems.append(too_big)
    out: dict[str, Any] = {}
    for p in sop.parameters:
        raw = given.get(p.name)
        if raw is None or raw == "":
            if p.required and p.default is None:
                problems.append(f"{p.name}: required ({p.label}); give it with --param {p.name}=VALUE")
                continue
            out[p.name] = p.default
            continue
        if p.type == "list":
            out[p.name], item_problems = _coerce_list(p, raw)
            problems += item_problems
            continue
        try:
            out[p.name] = _coerce(p, raw)
        except ValueError as exc:
            problems.append(f"{p.name}: {preview(raw)} {exc}")
    if problems:
        raise InvalidInputError(
            "invalid request for " + sop.id + ":\n  " + "\n  ".join(problems),
            hint="correct the named fields and submit again; nothing was created",
        )
    return out
