"""The bounds of every request parameter: size, characters, finite numbers, lists, the request."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from sop_runner.cli.common import parse_params
from sop_runner.core import params as P
from sop_runner.core.catalogue.loader import load_catalogue
from sop_runner.core.catalogue.model import Parameter, SopDefinition
from sop_runner.core.params import validate_params
from sop_runner.errors import InvalidInputError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base_sop() -> SopDefinition:
    """A real SOP whose parameters each test replaces (validate_params reads id and parameters)."""
    return load_catalogue(REPO / "sops").sops["wonosobo-57"]


def _sop(base: SopDefinition, *params: Parameter) -> SopDefinition:
    return base.model_copy(update={"parameters": list(params)})


def _param(name: str, type_: str, **kw: Any) -> Parameter:
    return Parameter.model_validate({"name": name, "type": type_, "label": name.title(), **kw})


def _refused(sop: SopDefinition, given: dict[str, Any]) -> str:
    with pytest.raises(InvalidInputError) as info:
        validate_params(sop, given)
    return str(info.value)


# -- strings ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("type_", "limit"), [("string", P.MAX_STRING), ("text", P.MAX_TEXT)])
def test_length_limit_by_type(base_sop: SopDefinition, type_: str, limit: int) -> None:
    sop = _sop(base_sop, _param("field", type_))
    assert validate_params(sop, {"field": "a" * limit})["field"] == "a" * limit
    msg = _refused(sop, {"field": "a" * (limit + 1)})
    assert "field: 'aaaa" in msg
    assert f"is {limit + 1} characters long; shorten it to at most {limit}" in msg
    assert len(msg) < 500  # a preview, never the value


def test_catalogue_max_length_wins(base_sop: SopDefinition) -> None:
    short = _sop(base_sop, _param("code", "string", max_length=8))
    assert "at most 8" in _refused(short, {"code": "123456789"})
    long = _sop(base_sop, _param("letter", "string", max_length=10_000))
    assert validate_params(long, {"letter": "x" * 9000})["letter"] == "x" * 9000
    items = _sop(base_sop, _param("assets", "list", max_length=5))
    assert "assets[1]: 'too-long'" in _refused(items, {"assets": ["ok", "too-long"]})


def test_max_length_only_where_it_means_something() -> None:
    with pytest.raises(ValueError, match="max_length"):
        _param("count", "integer", max_length=3)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        _param("code", "string", max_length=0)


@pytest.mark.parametrize(
    ("char", "code"),
    [("\x00", "U+0000"), ("\x1b", "U+001B"), ("\x7f", "U+007F"), ("\x85", "U+0085"), ("\x9b", "U+009B"),
     ("\u202e", "U+202E"), ("\u2066", "U+2066"), ("\u2028", "U+2028"), ("\ud800", "U+D800"), ("\udfff", "U+DFFF")],
)
@pytest.mark.parametrize("type_", ["string", "text"])
def test_control_invisible_and_surrogate_characters_refused(
    base_sop: SopDefinition, type_: str, char: str, code: str
) -> None:
    sop = _sop(base_sop, _param("field", type_))
    msg = _refused(sop, {"field": f"abc{char}def"})
    assert "field: 'abc\\" in msg  # shown escaped, never raw
    assert f"{code} at position 3; remove it" in msg
    assert char not in msg


def test_text_keeps_line_breaks_and_tabs_and_string_does_not(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, _param("note", "text"), _param("name", "string"))
    out = validate_params(sop, {"note": "baris 1\r\nbaris 2\n\tmenjorok", "name": "srv-01"})
    assert out["note"] == "baris 1\nbaris 2\n\tmenjorok"  # a browser's CRLF becomes LF
    assert "U+000D" in _refused(sop, {"note": "a\rb", "name": "x"})  # a lone CR is no line break
    for char, code in (("\n", "U+000A"), ("\t", "U+0009")):
        msg = _refused(sop, {"note": "ok", "name": f"a{char}b"})
        assert f"name: 'a\\{char.encode('unicode_escape').decode()[1:]}b' contains control or invisible " \
               f"character {code}" in msg
        assert "put it on one line" in msg


@pytest.mark.parametrize("type_", ["fqdn", "email", "tenant", "enum", "date", "ipv4", "boolean"])
def test_other_text_types_refuse_a_trailing_newline(base_sop: SopDefinition, type_: str) -> None:
    good = {"fqdn": "app.wonosobokab.go.id", "email": "nama@wonosobokab.go.id", "tenant": "dinkes", "enum": "a",
            "date": "2026-12-04", "ipv4": "192.0.2.10", "boolean": "ya"}[type_]
    sop = _sop(base_sop, _param("field", type_, **({"choices": ["a"]} if type_ == "enum" else {})))
    validate_params(sop, {"field": good})
    assert "U+000A" in _refused(sop, {"field": good + "\n"})


# -- numbers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf, "NaN", "nan", "inf", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("type_", ["number", "integer"])
def test_non_finite_numbers_refused(base_sop: SopDefinition, type_: str, raw: Any) -> None:
    msg = _refused(_sop(base_sop, _param("size", type_)), {"size": raw})
    assert msg.count("size: ") == 1
    assert "finite" in msg or "must be a whole number" in msg or "must be a number" in msg


def test_number_accepts_plain_decimals(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, _param("ratio", "number", min=0))
    assert [validate_params(sop, {"ratio": r})["ratio"] for r in ("2.5", " 1e3 ", ".5", 3, 1.25)] == [
        2.5, 1000.0, 0.5, 3.0, 1.25]
    for raw in ("1_000", "0x10", "\u0663", "2,5", "1e", True):
        assert "ratio: " in _refused(sop, {"ratio": raw}), raw


def test_integer_default_bounds_and_catalogue_bounds(base_sop: SopDefinition) -> None:
    free = _sop(base_sop, _param("n", "integer"))
    assert validate_params(free, {"n": str(2**53)})["n"] == 2**53
    assert validate_params(free, {"n": -(2**53)})["n"] == -(2**53)
    assert f"must be at most {2**53}" in _refused(free, {"n": 2**53 + 1})
    assert f"must be at least {-(2**53)}" in _refused(free, {"n": str(-(2**53) - 1)})
    assert "n: a 3322-bit integer is far too large" in _refused(free, {"n": 10**1000})
    assert "at most 9007199254740992" in _refused(free, {"n": "9" * 4000})
    half_open = _sop(base_sop, _param("units", "integer", min=1))
    assert "at most 9007199254740992" in _refused(half_open, {"units": 2**60})
    assert "at least 1" in _refused(half_open, {"units": 0})
    rack = _sop(base_sop, _param("u_height", "integer", min=1, max=60))
    assert "at most 60" in _refused(rack, {"u_height": 61})
    for raw in ("\u0663", "1_0", "1.0", 1.5, "+", True, " "):
        assert "u_height: " in _refused(rack, {"u_height": raw}), raw
    assert validate_params(rack, {"u_height": " +42 "})["u_height"] == 42


# -- lists --------------------------------------------------------------------------------------
def test_list_item_count_and_items(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, _param("ports", "list"))
    assert validate_params(sop, {"ports": ["443", 80, " a "]})["ports"] == ["443", "80", " a "]
    assert validate_params(sop, {"ports": "443, 80,,"})["ports"] == ["443", "80"]
    assert len(validate_params(sop, {"ports": ["p"] * P.MAX_LIST_ITEMS})["ports"]) == P.MAX_LIST_ITEMS
    assert "ports: has 101 items; give at most 100" in _refused(sop, {"ports": ["p"] * 101})
    assert "ports: has 101 items" in _refused(sop, {"ports": ",".join(["p"] * 101)})


def test_list_items_name_their_index(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, _param("ports", "list"))
    msg = _refused(sop, {"ports": ["443", ["nested"], {"a": 1}, None, True, "", math.nan, "a\x00b", "x" * 5000]})
    for expected in ("ports[1]: a list of 1 items must be a single value, not a list",
                     "ports[2]: an object with 1 keys must be a single value, not an object",
                     "ports[3]: None must be a single value",
                     "ports[4]: True must be text or a number",
                     "ports[5]: '' must not be empty",
                     "ports[6]: nan must be a finite number",
                     "ports[7]: 'a\\x00b' contains control or invisible character U+0000",
                     "ports[8]: 'xxxx"):
        assert expected in msg
    assert "ports[0]" not in msg


def test_required_list_needs_an_item(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, _param("assets", "list"))
    assert "assets: required" in _refused(sop, {"assets": []})
    assert "assets: required" in _refused(sop, {"assets": " , ,"})


# -- shapes, unknown keys, the whole request ----------------------------------------------------
@pytest.mark.parametrize("type_", ["string", "text", "integer", "number", "boolean", "fqdn", "date", "tenant"])
def test_scalar_parameters_refuse_lists_and_objects(base_sop: SopDefinition, type_: str) -> None:
    sop = _sop(base_sop, _param("field", type_))
    assert "field: a list of 2 items must be a single value, not a list" in _refused(sop, {"field": ["a", "b"]})
    assert "field: an object with 1 keys must be a single value" in _refused(sop, {"field": {"{{ x }}": 1}})


def test_unknown_keys_are_named_without_dumping_them(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, _param("name", "string"))
    msg = _refused(sop, {"name": "ok", "nmae": "x", "k" * 10_000: "y", "a\x1bb": "z"})
    assert "nmae: wonosobo-57 has no such parameter; known: name" in msg
    assert "'kkkk" in msg
    assert "(10000 characters)" in msg
    assert "'a\\x1bb'" in msg
    assert "\x1b" not in msg
    assert len(msg) < 1000


def test_request_over_64_kib_names_its_largest_fields(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, *(_param(f"t{i}", "text") for i in range(20)))
    given = {f"t{i}": "x" * (1000 + 200 * i) for i in range(20)}  # 58,000 bytes: fits
    validate_params(sop, given)
    given.update({f"t{i}": "x" * 4000 for i in range(5)})  # 69,000 bytes
    msg = _refused(sop, given)
    assert "request: " in msg
    assert f"at most {P.MAX_REQUEST_BYTES} are accepted" in msg
    assert "t19 (" in msg


def test_every_problem_reported_at_once(base_sop: SopDefinition) -> None:
    sop = _sop(base_sop, _param("name", "string"), _param("size", "number"), _param("ports", "list"))
    msg = _refused(sop, {"name": "a\x00", "size": "NaN", "ports": [[1]], "extra": 1})
    for field in ("name: ", "size: ", "ports[0]: ", "extra: "):
        assert field in msg


# -- parse_params (the CLI's --param) -----------------------------------------------------------
def test_parse_params_refuses_bad_names_and_duplicates_at_once() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_params(["Server=a", "a b=1", "{{x}}=1", "ok=1", "ok=2", "=v", "noequals", "n\x1bx=1"])
    msg = str(info.value)
    for expected in ("--param 'Server': not a parameter name", "--param 'a b'", "--param '{{x}}'",
                     "--param ok: given twice", "--param '': not a parameter name",
                     "--param 'noequals' must be NAME=VALUE", "--param 'n\\x1bx'"):
        assert expected in msg


def test_parse_params_json_lists() -> None:
    assert parse_params(["ports=[\"443\", 80]", "note=[draft] teks", "x=a=b"]) == {
        "ports": ["443", 80], "note": "[draft] teks", "x": "a=b"}
    for value, expected in (("[NaN]", "NaN is not a finite number"), ("[1, -Infinity]", "-Infinity is not"),
                            ("[" * 50_000 + "]" * 50_000, "nested too deeply")):
        with pytest.raises(InvalidInputError, match="--param ports: ") as info:
            parse_params([f"ports={value}"])
        assert expected in str(info.value)
