"""Plain HTTP(S) health checks (``/readyz``, ``/healthz``, ``/-/ready``), with client certificates.

Used for component health in ``kubedrill status`` and while ``kubedrill up`` waits for readiness.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def get(
    url: str,
    *,
    ca: Path | None = None,
    cert: tuple[Path, Path] | None = None,
    timeout_s: float = 2.0,
) -> Check:
    """GET ``url``; ok when the answer is 2xx. Never raises: a failure is a Check with the reason."""
    verify_arg: bool | str = str(ca) if ca else True
    try:
        r = requests.get(
            url,
            verify=verify_arg,
            cert=(str(cert[0]), str(cert[1])) if cert else None,
            timeout=timeout_s,
        )
    except requests.RequestException as e:
        return Check(False, f"{type(e).__name__}: {_short(e)}")
    body = r.text.strip()
    return Check(200 <= r.status_code < 300, f"HTTP {r.status_code} {body[:200]}")


def _short(e: Exception) -> str:
    text = str(e)
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host"):
        if marker in text:
            return marker
    return text[:200]
