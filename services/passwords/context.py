"""The person a password is for: the words an attacker who knows them would try first.

NIST SP 800-63B-4 3.1.1.2 lists context-specific words (user name, the service's name) among
the values a blocklist must hold. zxcvbn matches its ``user_inputs`` as whole strings, so the
given and family names, the email local part and its pieces, and the organisation's name and
code are passed as separate words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words of an organisation's name that say nothing about it ("British Gas Trading Limited").
_ORG_FILLER = frozenset({
    "the", "and", "of", "for", "limited", "ltd", "plc", "llp", "group", "holdings", "company",
    "services", "service", "trading", "energy", "supply", "supplies", "networks", "network",
    "gas", "power", "utilities", "international", "solutions", "uk",
})
_SPLIT = re.compile(r"[\s._+\-']+")


@dataclass(frozen=True)
class PasswordContext:
    """Who the password is for. Every field is optional; empty strings are ignored."""

    given_name: str = ""
    family_name: str = ""
    email: str = ""
    org_name: str = ""
    org_code: str = ""
    has_mfa: bool = False

    @property
    def email_local(self) -> str:
        return self.email.rpartition("@")[0] if "@" in self.email else self.email

    def terms(self) -> list[tuple[str, str]]:
        """(lower-case word, category) pairs; categories name the rule a match breaks."""
        out: list[tuple[str, str]] = []
        for text, category in ((self.given_name, "given_name"),
                               (self.family_name, "family_name")):
            out.extend((w, category) for w in _forms(text))
        out.extend((w, "email") for w in _forms(self.email_local))
        org_words = [w for w in _SPLIT.split(self.org_name.lower()) if w]
        org_forms = _forms(self.org_name, whole_only=True)
        org_forms += [w for w in org_words if w not in _ORG_FILLER]
        org_forms += _forms(self.org_code, whole_only=True)
        out.extend((w, "organisation") for w in org_forms)
        return [(w, c) for w, c in dict.fromkeys(out) if w]

    def user_inputs(self) -> list[str]:
        """The same words for zxcvbn, each a separate string."""
        return list(dict.fromkeys(w for w, _ in self.terms()))


def _forms(text: str, *, whole_only: bool = False) -> list[str]:
    """"Mary-Jane O'Neil" → the whole, the whole without separators, and each part."""
    lowered = " ".join(text.lower().split())
    if not lowered:
        return []
    parts = [p for p in _SPLIT.split(lowered) if p]
    forms = [lowered, "".join(parts)]
    if not whole_only:
        forms += parts
    return list(dict.fromkeys(forms))
