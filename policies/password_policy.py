"""The password policy as reviewed data: ``password.toml`` and its typed loader.

Every error names the file, the key and the reason, e.g.
``password.toml: length.max is 32; it must be at least 64.`` Unknown sections and keys are
refused too, so that a misspelt rule is never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from policies.loader import POLICY_DIR, read_toml
from policies.reader import PolicyReader

# NIST SP 800-63B-4 3.1.1.2: verifiers SHALL allow passwords of at least 64 characters. The
# upper bound keeps the strength estimate's cost bounded (it grows with length).
MAX_LENGTH_FLOOR = 64
MAX_LENGTH_CEILING = 1024

_SCHEMA: dict[str, frozenset[str]] = {
    "length": frozenset({"min_with_mfa", "min_without_mfa", "max"}),
    "strength": frozenset({"min_score"}),
    "context": frozenset({"enabled", "min_term_length"}),
    "banned": frozenset({"enabled", "min_points", "min_term_length", "fuzzy_min_length",
                         "common_terms_top", "years", "substitutions", "company", "calendar"}),
    "common": frozenset({"enabled", "list", "top"}),
    "history": frozenset({"remember"}),
    "composition": frozenset({"min_classes"}),
    "expiry": frozenset({"days"}),
    "breached": frozenset({"enabled", "path"}),
}


@dataclass(frozen=True)
class PasswordPolicy:
    """One password policy, validated. Build it with :func:`load_password_policy`."""

    name: str
    source: str  # the file it was read from, for messages and reports
    min_length_with_mfa: int
    min_length_without_mfa: int
    max_length: int
    min_score: int  # zxcvbn 0–4; 0 turns the strength rule off
    context_enabled: bool
    context_min_term_length: int
    banned_enabled: bool
    banned_min_points: int
    banned_min_term_length: int
    banned_fuzzy_min_length: int
    banned_common_terms_top: int
    banned_years: tuple[int, int] | None
    substitutions: tuple[tuple[str, str], ...]
    company_terms: tuple[str, ...]
    calendar_terms: tuple[str, ...]
    common_enabled: bool
    common_list: Path
    common_top: int
    history_remember: int  # 0 turns the history rule off
    composition_min_classes: int  # 0 turns composition rules off
    expiry_days: int  # 0: passwords do not expire
    breached_path: Path | None  # None: no breached-password check

    def min_length(self, has_mfa: bool) -> int:
        return self.min_length_with_mfa if has_mfa else self.min_length_without_mfa

    def describe(self) -> list[tuple[str, str]]:
        """Every rule in words, as (rule, sentence) pairs, for the policy viewer and reports."""
        rules = [
            ("length", f"At least {self.min_length_without_mfa} characters, or "
                       f"{self.min_length_with_mfa} for accounts with multi-factor "
                       f"authentication; at most {self.max_length}. Spaces and any Unicode "
                       "characters are allowed; nothing is cut off."),
        ]
        if self.min_score:
            rules.append(("strength", f"Estimated strength at least {self.min_score} of 4, "
                          "judged with your own names, email and organisation in mind."))
        if self.context_enabled:
            rules.append(("context", "Must not contain your first name, surname, email name "
                          "or organisation's name."))
        if self.banned_enabled:
            rules.append(("banned", "Must not be built mostly from banned words (common "
                          "passwords, company and product names, months, seasons, years), "
                          "even with letters swapped for look-alike digits or symbols."))
        if self.common_enabled:
            rules.append(("common", f"Must not be one of the {self.common_top:,} most common "
                          "passwords."))
        if self.history_remember:
            rules.append(("history", f"Must differ from your last {self.history_remember} "
                          "passwords."))
        if self.composition_min_classes:
            rules.append(("composition", f"Must use at least {self.composition_min_classes} "
                          "of: lower-case letters, capitals, digits, symbols."))
        if self.expiry_days:
            rules.append(("expiry", f"Expires after {self.expiry_days} days."))
        if self.breached_path is not None:
            rules.append(("breached", "Must not appear in the list of passwords exposed in "
                          "known data breaches."))
        return rules


class _Reader(PolicyReader):
    """The password policy's own value types: plain text, banned terms, file paths."""

    shipped = "policies/password.toml"

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}.")
        return value

    def terms(self, key: str, min_length: int) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings.")
        out: list[str] = []
        for term in value:
            cleaned = " ".join(term.lower().split())
            if len(cleaned) < min_length:
                raise self.fail(key, f"holds {term!r}, shorter than banned.min_term_length "
                                f"({min_length}), so it would never be matched; remove it.")
            out.append(cleaned)
        return tuple(dict.fromkeys(out))

    def path_value(self, key: str) -> Path:
        value = self.text(key)
        if not value.strip():
            raise self.fail(key, "is empty; name a file.")
        target = Path(value)
        if not target.is_absolute():
            target = (self.path.resolve().parent / target).resolve()
        if not target.is_file():
            raise self.fail(key, f"names {target}, which does not exist or is not a file.")
        return target


def _substitutions(reader: _Reader) -> tuple[tuple[str, str], ...]:
    key = "banned.substitutions"
    value = reader.raw(key)
    if not isinstance(value, dict):
        raise reader.fail(key, "must be a table of single characters, e.g. { \"0\" = \"o\" }.")
    pairs: list[tuple[str, str]] = []
    for source, target in value.items():
        if len(source) != 1 or not isinstance(target, str) or len(target) != 1:
            raise reader.fail(key, f"maps {source!r} to {target!r}; each side must be exactly "
                              "one character.")
        pairs.append((source, target.lower()))
    return tuple(pairs)


def _years(reader: _Reader) -> tuple[int, int] | None:
    key = "banned.years"
    value = reader.raw(key)
    if value == []:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise reader.fail(key, "must be [first, last] (two whole numbers) or [] for none.")
    first, last = value
    if not 1000 <= first <= last <= 9999:
        raise reader.fail(key, f"is {value}; use four-digit years with first <= last.")
    return first, last


def load_password_policy(path: Path | None = None) -> PasswordPolicy:
    """Read and validate a password policy file (default: the shipped ``password.toml``)."""
    path = path or POLICY_DIR / "password.toml"
    reader = _Reader(read_toml(path), path)
    reader.check_known_keys(_SCHEMA)
    name = reader.data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise reader.fail("name", "must be a non-empty string.")
    max_length = reader.integer("length.max", minimum=MAX_LENGTH_FLOOR,
                                maximum=MAX_LENGTH_CEILING)
    min_with_mfa = reader.integer("length.min_with_mfa", minimum=8, maximum=max_length)
    min_without_mfa = reader.integer("length.min_without_mfa", minimum=8, maximum=max_length)
    if min_without_mfa < min_with_mfa:
        raise reader.fail("length.min_without_mfa", f"is {min_without_mfa}; it must not be "
                          f"below length.min_with_mfa ({min_with_mfa}): a single factor "
                          "needs the longer password.")
    banned_min_term = reader.integer("banned.min_term_length", minimum=3, maximum=32)
    fuzzy_min = reader.integer("banned.fuzzy_min_length", minimum=4, maximum=64)
    common_enabled = reader.boolean("common.enabled")
    common_list = reader.path_value("common.list")
    breached_path = reader.path_value("breached.path") if reader.boolean("breached.enabled") \
        else None
    return PasswordPolicy(
        name=name.strip(),
        source=str(path),
        min_length_with_mfa=min_with_mfa,
        min_length_without_mfa=min_without_mfa,
        max_length=max_length,
        min_score=reader.integer("strength.min_score", minimum=0, maximum=4),
        context_enabled=reader.boolean("context.enabled"),
        context_min_term_length=reader.integer("context.min_term_length", minimum=3,
                                               maximum=32),
        banned_enabled=reader.boolean("banned.enabled"),
        banned_min_points=reader.integer("banned.min_points", minimum=1, maximum=64),
        banned_min_term_length=banned_min_term,
        banned_fuzzy_min_length=fuzzy_min,
        banned_common_terms_top=reader.integer("banned.common_terms_top", minimum=0,
                                               maximum=100_000),
        banned_years=_years(reader),
        substitutions=_substitutions(reader),
        company_terms=reader.terms("banned.company", banned_min_term),
        calendar_terms=reader.terms("banned.calendar", banned_min_term),
        common_enabled=common_enabled,
        common_list=common_list,
        common_top=reader.integer("common.top", minimum=1, maximum=10_000_000),
        history_remember=reader.integer("history.remember", minimum=0, maximum=24),
        composition_min_classes=reader.integer("composition.min_classes", minimum=0,
                                               maximum=4),
        expiry_days=reader.integer("expiry.days", minimum=0, maximum=3650),
        breached_path=breached_path,
    )
