"""Login IDs: one function turns an email as typed into the normalised login ID.

RFC 8265 UsernameCaseMapped for comparison (width-map, lower-case, NFC): the company treats
``Alex.Morgan@`` and ``alex.morgan@`` as one person. UTS #39 confusable and mixed-script checks
only *flag* an address; they are never a normalisation. Lower-casing can map the Kelvin sign to
``k``, so mail always goes to the stored address, never to the one typed.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from confusable_homoglyphs import categories, confusables
from email_validator import EmailNotValidError, validate_email

from services.errors import InvalidInput

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit, as email-validator enforces


@dataclass(frozen=True)
class NormalisedEmail:
    login_id: str  # the key: one live identity per login ID
    email: str  # as entered (trimmed, NFC), where mail is sent
    flags: tuple[str, ...]  # e.g. ("mixed_script", "confusable")

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def _casemap(text: str) -> str:
    # Width-map (NFKC folds full-width forms), lower-case, then NFC: RFC 8265 section 3.3.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).lower())


def normalise_email(typed: str) -> NormalisedEmail:
    text = unicodedata.normalize("NFC", typed.strip())
    if not text:
        raise InvalidInput("The email address is empty; type the person's corporate email.")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise InvalidInput(
            f"The email address {text!r} contains control or invisible characters; retype it."
        )
    try:
        parsed = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{text!r} is not a valid email address: {exc}") from None
    local = _casemap(parsed.local_part)
    domain = _casemap(parsed.domain)
    flags: list[str] = []
    for part in (parsed.local_part, parsed.domain):
        if confusables.is_mixed_script(part) and "mixed_script" not in flags:
            flags.append("mixed_script")
        if confusables.is_dangerous(part) and "confusable" not in flags:
            flags.append("confusable")
    return NormalisedEmail(
        login_id=f"{local}@{domain}",
        email=f"{parsed.local_part}@{parsed.domain}",
        flags=tuple(flags),
    )


def describe_flags(address: NormalisedEmail) -> str:
    scripts = sorted(categories.unique_aliases(address.email.replace("@", "").replace(".", "")))
    return (
        f"The address {address.email!r} mixes scripts ({', '.join(scripts)}) or contains "
        "characters that look like others, so it could be mistaken for a different address"
    )


def login_key(typed: str) -> str:
    """The login ID for look-ups: normalised when valid, else a digest of what was typed.

    Sign-in and reset requests key their counters and records on this. Text that is not an
    address is never stored as typed: people type their password into the email field.
    """
    try:
        return normalise_email(typed).login_id
    except InvalidInput:
        digest = hashlib.sha256(_casemap(typed.strip()).encode()).hexdigest()[:16]
        return f"not-an-address:{digest}"
