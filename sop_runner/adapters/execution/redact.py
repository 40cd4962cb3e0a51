"""Remove secret values from files and data before anything is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MASK = "********"


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every secret value (longest first, so one containing another is caught whole)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_data(data: Any, secrets: list[str]) -> Any:
    """Redact strings anywhere inside lists and dicts."""
    if isinstance(data, str):
        return redact_text(data, secrets)
    if isinstance(data, list):
        return [redact_data(x, secrets) for x in data]
    if isinstance(data, dict):
        return {k: redact_data(v, secrets) for k, v in data.items()}
    return data


def scrub_tree(root: Path, secrets: list[str]) -> int:
    """Rewrite files under ``root`` that contain a secret; return how many were rewritten."""
    wanted = [s for s in secrets if s and len(s) >= 4]
    if not wanted:
        return 0
    count = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if any(s in text for s in wanted):
            path.write_text(redact_text(text, wanted), encoding="utf-8")
            count += 1
    return count
