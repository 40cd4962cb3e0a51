"""Bounds on free text people write into a run: comments, reasons, notes.

They are stored in signed events and printed in official letters, so they are checked like
request parameters: a size an official can read, and no control characters that could hide
or reorder what is shown (terminal escapes, bidirectional overrides).
"""

from __future__ import annotations

import unicodedata

from sop_runner.errors import InvalidInputError

MAX_COMMENT = 4000
_ALLOWED_CONTROLS = {"\n", "\t"}


def checked_text(field: str, value: str, *, required: bool = False, max_len: int = MAX_COMMENT) -> str:
    """Return ``value`` unchanged when it is acceptable free text; else refuse naming ``field``."""
    if required and not value.strip():
        raise InvalidInputError(f"{field}: must not be empty", hint=f"pass a {field} (-m TEXT)")
    if len(value) > max_len:
        raise InvalidInputError(
            f"{field}: {len(value)} characters, at most {max_len}",
            hint=f"shorten the {field}; attach long material with --evidence FILE",
        )
    for ch in value:
        if ch in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") or (category == "Cf" and ch not in "\u200c\u200d"):
            raise InvalidInputError(
                f"{field}: contains the control character U+{ord(ch):04X}",
                hint=f"remove control and formatting characters from the {field}",
            )
    return value
