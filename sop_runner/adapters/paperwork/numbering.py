"""Letter numbers as the Tata Naskah Dinas writes them: ``<klasifikasi>/<urut>/<unit>/<tahun>``.

The sequence comes from the register in the database (``EventStore.reserve_number``); this
module only formats and reads the number.
"""

from __future__ import annotations

import re

# Classification codes are dotted digits (Klasifikasi Arsip: "000.5.4"); the unit code is
# letters, digits, dots and hyphens ("Diskominfo", "Diskominfo.3").
NUMBER_RE = re.compile(r"(?P<klasifikasi>\d{3}(?:\.\d+)*)/(?P<urut>\d+)/(?P<unit>[A-Za-z0-9.\-]+)/(?P<tahun>\d{4})")


def letter_number(classification: str, sequence: int, unit: str, year: int) -> str:
    """``000.5.4/117/Diskominfo/2026``; ValueError naming the part that does not fit."""
    number = f"{classification}/{sequence}/{unit}/{year}"
    if not NUMBER_RE.fullmatch(number):
        msg = (
            f"letter number {number!r} does not fit <klasifikasi>/<urut>/<unit>/<tahun>: check "
            "organisation.classification (dotted digits, e.g. 000.5.4) and organisation.unit (e.g. Diskominfo)"
        )
        raise ValueError(msg)
    return number
