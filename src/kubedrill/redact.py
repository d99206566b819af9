"""Redaction: no private key, token or certificate body leaves kubedrill in a report, journal or log.

``redact`` walks any JSON-like value: values under secret-looking keys become ``<redacted>``, and PEM
blocks, bearer tokens and JWTs inside any string are replaced wherever they appear.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(
    r"(secret|token|passw(or)?d|private|credential|api[-_]?key|client[-_]?key|auth|bearer)", re.IGNORECASE
)
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")


def redact_text(text: str) -> str:
    text = _PEM.sub(REDACTED, text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def redact(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEY.search(key):
        if isinstance(value, dict | list):
            return redact(value)  # keep structure, redact the leaves below
        return REDACTED if value not in (None, "", [], {}) else value
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
