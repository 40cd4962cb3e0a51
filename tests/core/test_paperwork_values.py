"""How role results print in the paperwork: nested values as nested bullets, never as Python dicts."""

from __future__ import annotations

import markdown

from sop_runner.adapters.paperwork.render import cell, uraian


def test_a_nested_result_prints_as_nested_bullets_with_indonesian_labels() -> None:
    capacity = {"host": "hv-01", "before": {"vcpus": 2, "memory_mb": 1024}, "after": {"vcpus": 4, "memory_mb": 2048}}
    md = uraian(capacity, "host_capacity")
    assert "{" not in md and "'" not in md, md
    lines = md.splitlines()
    assert lines[0] == "- Kapasitas host:"
    assert "    - Host: **hv-01**" in lines
    assert lines.index("    - Sebelum:") < lines.index("        - vCPU: **2**") < lines.index("    - Sesudah:")
    assert "        - Memori (MB): **2048**" in lines
    # Python-Markdown reads the four-space indent as real nesting: one list per level.
    assert markdown.markdown(md).count("<ul>") == 4


def test_a_list_of_rows_is_numbered_and_a_scalar_stays_on_one_line() -> None:
    md = uraian([{"name": "srv-01", "position": 10}, {"name": "srv-02", "position": 12}], "items")
    assert md.splitlines() == ["- Rincian:", "    - 1:", "        - Nama: **srv-01**", "        - Posisi (U): **10**",
                               "    - 2:", "        - Nama: **srv-02**", "        - Posisi (U): **12**"]
    assert uraian(True, "upgrade_needed") == "- upgrade_needed: **ya**"
    assert uraian(["a", "b"], "paths") == "- paths: **a, b**"
    assert uraian({}, "findings") == "- findings: **-**"


def test_a_table_cell_flattens_a_mapping_to_one_line() -> None:
    assert cell({"vcpus": 2, "live": True}) == "vCPU: 2; live: ya"
    assert cell([{"name": "a|b"}]) == "Nama: a\\|b"
    assert cell(None) == "-"
