"""Validate request data against an SOP's parameter schema before anyone is asked anything.

Every problem names the field and how to fix it; all problems are reported at once so the
requester fixes the form in one go.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from typing import Any

from sop_runner.core.catalogue.model import Parameter, SopDefinition
from sop_runner.errors import InvalidInputError

_FQDN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _coerce(p: Parameter, raw: Any) -> Any:
    """Convert one value to the parameter's type, raising ValueError with the fix."""
    t = p.type
    if t in ("string", "text"):
        value = str(raw)
        if not value.strip():
            msg = "must not be empty"
            raise ValueError(msg)
        if p.pattern and not re.fullmatch(p.pattern, value):
            msg = f"must match {p.pattern}"
            raise ValueError(msg)
        return value
    if t == "integer":
        try:
            ivalue = int(str(raw), 10)
        except ValueError:
            msg = "must be a whole number"
            raise ValueError(msg) from None
        _range(p, ivalue)
        return ivalue
    if t == "number":
        try:
            fvalue = float(str(raw))
        except ValueError:
            msg = "must be a number"
            raise ValueError(msg) from None
        _range(p, fvalue)
        return fvalue
    if t == "boolean":
        text = str(raw).strip().lower()
        if text in ("true", "ya", "yes", "1", "y"):
            return True
        if text in ("false", "tidak", "no", "0", "t", "n"):
            return False
        msg = "must be ya/tidak (true/false)"
        raise ValueError(msg)
    if t == "enum":
        if str(raw) not in p.choices:
            msg = f"must be one of: {', '.join(p.choices)}"
            raise ValueError(msg)
        return str(raw)
    if t == "ipv4":
        try:
            return str(ipaddress.IPv4Address(str(raw)))
        except ValueError:
            msg = "must be an IPv4 address like 192.0.2.10"
            raise ValueError(msg) from None
    if t == "ipv4_prefix":
        try:
            return str(ipaddress.IPv4Network(str(raw), strict=True))
        except ValueError:
            msg = "must be an IPv4 prefix like 10.20.0.0/24 (host bits zero)"
            raise ValueError(msg) from None
    if t == "fqdn":
        value = str(raw).lower().rstrip(".")
        if not _FQDN.match(value):
            msg = "must be a domain name like app.wonosobokab.go.id"
            raise ValueError(msg)
        return value
    if t == "email":
        if not _EMAIL.match(str(raw)):
            msg = "must be an e-mail address like nama@wonosobokab.go.id"
            raise ValueError(msg)
        return str(raw)
    if t == "date":
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            msg = "must be a date YYYY-MM-DD"
            raise ValueError(msg) from None
    if t == "tenant":
        if not _SLUG.match(str(raw)):
            msg = "must be the SKPD's NetBox tenant slug, e.g. dinkes"
            raise ValueError(msg)
        return str(raw)
    if t == "list":
        if isinstance(raw, list):
            return [str(x) for x in raw]
        return [x.strip() for x in str(raw).split(",") if x.strip()]
    msg = f"unknown parameter type {t}"
    raise ValueError(msg)


def _range(p: Parameter, value: float) -> None:
    if p.min is not None and value < p.min:
        msg = f"must be at least {p.min:g}"
        raise ValueError(msg)
    if p.max is not None and value > p.max:
        msg = f"must be at most {p.max:g}"
        raise ValueError(msg)


def validate_params(sop: SopDefinition, given: dict[str, Any]) -> dict[str, Any]:
    """Return the typed parameters with defaults filled in, or raise naming every bad field."""
    problems: list[str] = []
    known = {p.name for p in sop.parameters}
    for name in sorted(set(given) - known):
        problems.append(f"{name}: {sop.id} has no parameter {name!r}; known: {', '.join(sorted(known)) or 'none'}")
    out: dict[str, Any] = {}
    for p in sop.parameters:
        raw = given.get(p.name)
        if raw is None or raw == "":
            if p.required and p.default is None:
                problems.append(f"{p.name}: required ({p.label}); give it with --param {p.name}=VALUE")
                continue
            out[p.name] = p.default
            continue
        try:
            out[p.name] = _coerce(p, raw)
        except ValueError as exc:
            problems.append(f"{p.name}: {raw!r} {exc}")
    if problems:
        raise InvalidInputError(
            "invalid request for " + sop.id + ":\n  " + "\n  ".join(problems),
            hint="correct the named fields and submit again; nothing was created",
        )
    return out
