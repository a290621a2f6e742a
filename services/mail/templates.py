"""Mail templates: plain-text files under ``resources/mail/``, one per kind of message.

A template starts with header lines, a blank line, then the body::

    Subject: Your Gatehouse password reset code
    Requires: given_name token expires_at

    Hello $given_name, ...

``$name`` placeholders (``string.Template``; ``$$`` is a literal dollar) are filled from the
values the caller gives. Every placeholder must be declared in ``Requires`` and every declared
value must be given, so a template and its callers cannot silently drift apart.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "resources" / "mail"
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")  # fits outbox.kind; no path separators
MAX_SUBJECT = 300  # outbox.subject_line


class TemplateError(ValueError):
    """A template is missing, malformed, or was given the wrong values (a programming error)."""


@dataclass(frozen=True)
class Template:
    kind: str
    subject: string.Template
    body: string.Template
    requires: frozenset[str]


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


def available() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.txt") if _KIND.fullmatch(p.stem))


@lru_cache(maxsize=32)
def load(kind: str) -> Template:
    if not _KIND.fullmatch(kind):
        raise TemplateError(f"{kind!r} is not a mail template name")
    path = TEMPLATE_DIR / f"{kind}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"There is no mail template {kind!r} (expected {path}); the "
                            f"templates are {', '.join(available())}.") from None
    head, sep, body = text.partition("\n\n")
    if not sep:
        raise TemplateError(f"{path}: the header lines must be followed by a blank line")
    headers: dict[str, str] = {}
    for line in head.splitlines():
        name, colon, value = line.partition(":")
        if not colon or name.strip().lower() not in ("subject", "requires"):
            raise TemplateError(f"{path}: unexpected header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if not headers.get("subject"):
        raise TemplateError(f"{path}: no Subject line")
    template = Template(kind, string.Template(headers["subject"]), string.Template(body),
                        frozenset(headers.get("requires", "").replace(",", " ").split()))
    used = set(template.subject.get_identifiers()) | set(template.body.get_identifiers())
    if not template.subject.is_valid() or not template.body.is_valid():
        raise TemplateError(f"{path}: a '$' is neither a placeholder nor written '$$'")
    if used - template.requires:
        raise TemplateError(f"{path}: placeholders {sorted(used - template.requires)} are not "
                            "declared in its Requires line")
    return template


def render(kind: str, values: dict[str, str]) -> RenderedMail:
    """The subject and body of ``kind`` filled with ``values`` (extra values are ignored)."""
    template = load(kind)
    missing = template.requires - values.keys()
    if missing:
        raise TemplateError(f"The mail template {kind!r} needs the values {sorted(missing)}")
    text_values = {name: str(values[name]) for name in template.requires}
    subject = template.subject.substitute(text_values)
    # A line break in a header would let a value inject headers of its own.
    if any(ch in subject for ch in "\r\n\0") or len(subject) > MAX_SUBJECT:
        raise TemplateError(f"The subject of {kind!r} must be one line of at most "
                            f"{MAX_SUBJECT} characters")
    body = template.body.substitute(text_values).rstrip("\n") + "\n"
    return RenderedMail(subject, body)
