"""The sign-in terms text and its version (a digest of the text, so any edit is a new version)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


@lru_cache(maxsize=1)
def terms_text() -> str:
    return (RESOURCES / "terms.txt").read_text(encoding="utf-8").strip()


@lru_cache(maxsize=1)
def terms_version() -> str:
    return "sha256:" + hashlib.sha256(terms_text().encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def privacy_text() -> str:
    return (RESOURCES / "privacy.txt").read_text(encoding="utf-8").strip()
