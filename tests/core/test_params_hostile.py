"""Property: hostile request data is refused naming its field, or kept as inert data of its type.

Every distinct parameter shape of the real catalogue (type, pattern, bounds, choices) gets
Jinja, HTML, shell, control and invisible characters, lone surrogates, huge strings, NaN and
infinities, huge integers, nested lists and objects. Whatever comes back must be plain data of
the declared type within the bounds of core/params.py; anything else must be an
InvalidInputError naming the field. No other exception may escape.
"""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sop_runner.core import params as P
from sop_runner.core.catalogue.loader import load_catalogue
from sop_runner.core.catalogue.model import Parameter, SopDefinition
from sop_runner.core.params import validate_params
from sop_runner.errors import InvalidInputError

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = load_catalogue(REPO / "sops")

# Values that pass the catalogue's string patterns (the first that matches is used).
_PATTERNED = ["srv-01", "data_pegawai", "01:00-05:00", "198512012010011007", "+62 812 3456 7890", "latest"]
_GOOD = {"text": "Untuk SIMPUS puskesmas", "string": "srv-01", "boolean": "ya", "ipv4": "192.0.2.10",
         "ipv4_prefix": "10.20.0.0/24", "fqdn": "app.wonosobokab.go.id", "email": "nama@wonosobokab.go.id",
         "date": "2026-12-04", "tenant": "dinkes", "list": ["srv-01"]}
_STR_TYPES = {"string", "text", "enum", "ipv4", "ipv4_prefix", "fqdn", "email", "date", "tenant"}
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _has_hidden(value: str, allowed: str = "") -> bool:
    """Whether ``value`` holds a control, surrogate, line-separator or bidi character (Unicode's own classes)."""
    return any(c not in allowed and (unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in _BIDI)
               for c in value)


def _good(p: Parameter) -> Any:
    """A valid value for ``p``."""
    if p.type == "enum":
        return p.choices[0]
    if p.type in ("integer", "number"):
        low = p.min if p.min is not None else 1
        return int(low) if p.type == "integer" else low
    if p.type == "string" and p.pattern:
        found = [v for v in _PATTERNED if re.fullmatch(p.pattern, v)]
        assert found, f"add a value matching {p.pattern} to _PATTERNED"
        return found[0]
    return _GOOD[p.type]


def _baseline(sop: SopDefinition) -> dict[str, Any]:
    return {p.name: _good(p) for p in sop.parameters}


def _shapes() -> list[str]:
    """``sop-id.parameter`` of one parameter per distinct parameter shape in the catalogue."""
    seen: dict[tuple[Any, ...], str] = {}
    for sop in CATALOGUE.sops.values():
        for p in sop.parameters:
            shape = (p.type, p.pattern, p.min, p.max, p.max_length, tuple(p.choices), p.required, repr(p.default))
            seen.setdefault(shape, f"{sop.id}.{p.name}")
    return list(seen.values())


SHAPES = _shapes()

_NASTY = ["{{ lookup('pipe', 'id > /tmp/pwned') }}", "{% for x in range(9) %}{{ x }}{% endfor %}", "{{ 7*7 }}",
          "{# c #}", "<script>alert(1)</script>", '<a href="javascript:alert(1)">x</a>',
          '<link rel="attachment" href="file:///etc/shadow">', '<img src="http://127.0.0.1:8001/">', "$(id)",
          "`id`", "'; DROP TABLE events; --", "../../etc/passwd", "\x00", "\x1b[31m", "\r", "\n", "\t", "\x85",
          "\u202e", "\u2066", "\u2028", "\ufeff", "\ud800", "\udfff", "\x7f", "NaN", "nan", "inf", "-Infinity",
          "1e999", "-1e999", "1e-999", "\u0663", "1_000", "0x10", " 5 ", "+7", "-0", "9" * 30, "ya", "true",
          "dinkes", "srv-01", "192.0.2.10", "2026-12-04", "a" * 64]
_atom = st.one_of(
    st.sampled_from(_NASTY),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, categories=["Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Nd"]), max_size=20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.booleans(),
    st.none(),
)
_hostile = st.one_of(
    _atom,
    st.lists(st.sampled_from(_NASTY), min_size=1, max_size=4).map("".join),
    st.tuples(st.sampled_from(_NASTY), st.integers(min_value=1000, max_value=70_000)).map(lambda t: t[0] * t[1]),
    st.integers(min_value=90, max_value=160).map(lambda n: ["p"] * n),
    st.recursive(_atom, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=3), max_leaves=12),
)


def test_every_sop_accepts_its_baseline() -> None:
    """The catalogue and the validator agree: the property below starts from valid requests."""
    assert not CATALOGUE.problems
    assert len(CATALOGUE.sops) >= 68
    for sop in CATALOGUE.sops.values():
        validate_params(sop, _baseline(sop))


def _assert_inert(p: Parameter, raw: Any, value: Any) -> None:
    if raw is None or raw == "":
        assert value == p.default
        return
    limit = p.max_length or (P.MAX_TEXT if p.type == "text" else P.MAX_STRING)
    if p.type in _STR_TYPES:
        assert type(value) is str
        assert len(value) <= limit
        assert not _has_hidden(value, "\n\t" if p.type == "text" else "")
    elif p.type == "integer":
        assert type(value) is int
        assert abs(value) <= P.MAX_INTEGER
        assert p.min is None or value >= p.min
        assert p.max is None or value <= p.max
    elif p.type == "number":
        assert type(value) is float
        assert math.isfinite(value)
    elif p.type == "boolean":
        assert type(value) is bool
    else:
        assert p.type == "list"
        assert type(value) is list
        assert len(value) <= P.MAX_LIST_ITEMS
        for item in value:
            assert type(item) is str
            assert len(item) <= limit
            assert not _has_hidden(item)


@pytest.mark.parametrize("where", SHAPES)
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                  HealthCheck.data_too_large])
@given(raw=_hostile)
def test_hostile_value_is_refused_with_its_field_or_inert(where: str, raw: Any) -> None:
    sop_id, name = where.rsplit(".", 1)
    sop = CATALOGUE.sops[sop_id]
    param = next(p for p in sop.parameters if p.name == name)
    request = {**_baseline(sop), param.name: raw}
    try:
        out = validate_params(sop, request)
    except InvalidInputError as exc:
        problems = str(exc).splitlines()[1:]
        assert problems
        for line in problems:  # every problem is about the hostile field (the rest is valid)
            assert line.strip().startswith((f"{param.name}: ", f"{param.name}[", "request: "))
        assert param.name in str(exc)
        assert len(str(exc)) < 20_000  # previews, never a megabyte echoed back
        return
    _assert_inert(param, raw, out[param.name])
