"""Canonical JSON and hashing: the one way the core turns data into bytes it signs or chains."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal data always hashes equal."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str | bytes) -> str:
    """Hex SHA-256 of text (UTF-8) or bytes."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(raw).hexdigest()


def digest(data: Any) -> str:
    """SHA-256 of the canonical JSON of ``data``."""
    return sha256_hex(canonical_json(data))
