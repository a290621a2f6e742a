"""One legacy row checked against the migration policy: an account, or the reasons it is not.

Checks follow an allow-list (ASVS 1.2.10): each field has a shape, a length limit and, for
organisations, roles and statuses, a closed list of values from ``policies/migration.toml``.
Cells that a spreadsheet would run as a formula, control or invisible characters, and addresses
that mix scripts or imitate other characters are refused, never cleaned up silently: a person
must look at them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from policies.migration_policy import MigrationPolicy
from services.errors import InvalidInput
from services.migration.addresses import fast_normalise, fast_plain
from services.migration.reader import INVALID_CHAR

FORMULA_START = ("=", "+", "-", "@")  # with tab, CR and NUL, caught as control characters
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_CONTROL_OR_RS = re.compile(r"[\x00-\x1d\x1f\x7f]")  # \x1e joins values in _quick
_FORMULA_OR_SPACE = frozenset(("=", "+", "-", "@", " "))
_AFTER_JOIN = tuple("\x1e" + c for c in "=+-@ ")  # a value after the first starting so
_LEGACY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")
_REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn")

REASONS = {
    "missing_value": "a required value is empty",
    "invalid_legacy_id": "the legacy id is not letters, digits and . _ : / -",
    "duplicate_legacy_id": "the legacy id appears on an earlier row",
    "missing_email": "the e-mail address is empty",
    "invalid_email": "the e-mail address is not valid",
    "confusable_email": "the e-mail address mixes scripts or imitates other characters",
    "unknown_organisation": "the organisation is not in the migration's scope",
    "unknown_role": "a role code is not in the policy",
    "too_many_roles": "the row lists more roles than the policy allows",
    "unknown_status": "the status is not one the policy knows",
    "control_characters": "a value holds control or invisible characters",
    "formula": "a value starts like a spreadsheet formula",
    "too_long": "a value is longer than the policy allows",
    "invalid_date": "a date is not YYYY-MM-DD",
    "invalid_encoding": "the row holds bytes that are not valid in the file's encoding",
    "columns": "the row has the wrong number of fields",
    "malformed": "the row is not valid CSV or JSON",
}


class Account(NamedTuple):
    """A valid legacy row (a named tuple: one is made per row, cheaper than a dataclass)."""

    row: int
    legacy_id: str
    login_id: str
    email: str  # as exported (trimmed, NFC, domain lower-cased): where mail is sent
    given_name: str
    family_name: str
    org_code: str
    status: str  # active | disabled
    roles: frozenset[tuple[str, str]]
    last_login: str  # ISO date or ""


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int
    line: int
    legacy_id: str  # as given, shortened: for a person to find the row
    org_code: str  # as given when in scope, else ""
    reasons: tuple[str, ...]  # codes from REASONS
    message: str  # sentences


def _refused_characters(value: str) -> bool:
    if value.isascii():
        return _ASCII_CONTROL.search(value) is not None
    return any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value)


def _shown(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _name(value: str) -> str:
    text = " ".join(value.split())
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _date(value: str) -> str | None:
    text = value.strip()
    if not text:
        return ""
    try:
        return (date.fromisoformat(text) if len(text) == 10
                else datetime.fromisoformat(text).date()).isoformat()
    except ValueError:
        return None


class RowValidator:
    """Validates rows in file order; remembers legacy ids to refuse a repeated one."""

    def __init__(self, policy: MigrationPolicy) -> None:
        self.policy = policy
        self.limits = policy.limits
        self._limited = tuple(policy.limits.items())  # (field, longest), for the quick path
        self.seen_ids: set[str] = set()
        self.role_split = re.compile("|".join(re.escape(d) for d in policy.role_delimiters))
        self._role_cache: dict[str, frozenset[tuple[str, str]] | str] = {}
        self._date_cache: dict[str, str | None] = {}
        self._names: dict[str, str] = {}
        self._org_codes = {code: code for code in policy.organisations}

    def _roles(self, cell: str) -> frozenset[tuple[str, str]] | str:
        """The roles of a cell, or the reason code it is refused for (cells repeat a lot)."""
        cached = self._role_cache.get(cell)
        if cached is not None:
            return cached
        codes = [c.strip().upper() for c in self.role_split.split(cell) if c.strip()]
        result: frozenset[tuple[str, str]] | str
        if len(codes) > self.policy.max_roles:
            result = "too_many_roles"
        elif any(c not in self.policy.role_codes for c in codes):
            result = "unknown_role"
        else:
            result = frozenset(self.policy.role_codes[c] for c in codes)
        if len(self._role_cache) < 100_000:
            self._role_cache[cell] = result
        return result

    def check(self, row: int, line: int, values: dict[str, str]) -> Account | Rejection:
        """An account, or the rejection with every reason found."""
        account = self._quick(row, values)
        return account if account is not None else self._thorough(row, line, values)

    def _quick(self, row: int, values: dict[str, str]) -> Account | None:
        """The common case, checked in one pass with no messages built: a plain ASCII row with
        every value present and allowed. ``None`` sends the row to :meth:`_thorough`, which
        decides it and explains why (the two must agree on every row the quick path accepts).
        """
        joined = "\x1e".join(values.values())
        if not joined.isascii() or _ASCII_CONTROL_OR_RS.search(joined) \
                or joined.count("\x1e") != len(values) - 1 or joined[:1] in _FORMULA_OR_SPACE:
            return None
        for start in _AFTER_JOIN:  # a later value starting like a formula or with a space
            if start in joined:
                return None
        for field, limit in self._limited:
            value = values.get(field)
            if value is not None and len(value) > limit:
                return None
        try:
            legacy_id = values["legacy_id"]
            email = values["email"]
            given, family = values["given_name"], values["family_name"]
            org_code = values["org_code"]
            status = self.policy.status_map[values["status"].strip().upper()]
        except KeyError:
            return None
        org = self._org_codes.get(org_code)  # the policy's own string: one per code
        if org is None or not (given.strip() and family.strip()) \
                or legacy_id in self.seen_ids or not _LEGACY_ID.fullmatch(legacy_id):
            return None
        roles = self._roles(values.get("roles", ""))
        last_login = self._date(values.get("last_login", ""))
        if isinstance(roles, str) or last_login is None \
                or self._date(values.get("created", "")) is None:
            return None
        address = fast_plain(email)
        if address is None:
            return None
        self.seen_ids.add(legacy_id)
        return Account(row=row, legacy_id=legacy_id, login_id=address[0], email=address[1],
                       given_name=self._plain_name(given), family_name=self._plain_name(family),
                       org_code=org, status=status, roles=roles, last_login=last_login)

    def _plain_name(self, cell: str) -> str:
        """An ASCII name with its spacing tidied; one string per distinct name (names repeat:
        a million rows hold a few thousand), which a million-row run keeps in memory."""
        name = self._names.get(cell)
        if name is None:
            name = " ".join(cell.split())
            if len(self._names) < 100_000:
                self._names[cell] = name
        return name

    def _date(self, value: str) -> str | None:
        cached = self._date_cache.get(value)
        if cached is None:
            cached = _date(value)
            if len(self._date_cache) < 100_000:
                self._date_cache[value] = cached
        return cached

    def _thorough(self, row: int, line: int, values: dict[str, str]) -> Account | Rejection:
        reasons: dict[str, str] = {}  # code → the first sentence explaining it

        def refuse(code: str, sentence: str) -> None:
            reasons.setdefault(code, sentence)

        for field, value in values.items():
            if INVALID_CHAR in value:
                refuse("invalid_encoding", f"The {field.replace('_', ' ')} holds bytes that are "
                       "not valid in the file's encoding.")
            elif _refused_characters(value):
                refuse("control_characters", f"The {field.replace('_', ' ')} "
                       f"{_shown(value)!r} holds control or invisible characters.")
            limit = self.limits.get(field)
            if limit is not None and len(value.strip()) > limit:
                refuse("too_long", f"The {field.replace('_', ' ')} is {len(value):,} characters "
                       f"long; at most {limit} are accepted.")
            elif value.lstrip().startswith(FORMULA_START) and field != "roles":
                refuse("formula", f"The {field.replace('_', ' ')} {_shown(value)!r} starts like "
                       "a spreadsheet formula.")
        for field in self.policy.required:
            if not values.get(field, "").strip() and field != "roles":
                code = "missing_email" if field == "email" else "missing_value"
                refuse(code, f"The {field.replace('_', ' ')} is empty.")

        legacy_id = values.get("legacy_id", "").strip()
        if legacy_id and not reasons.keys() & {"too_long", "control_characters", "formula"}:
            if not _LEGACY_ID.fullmatch(legacy_id):
                refuse("invalid_legacy_id", f"The legacy id {_shown(legacy_id)!r} is not "
                       "letters, digits and . _ : / -.")
            elif legacy_id in self.seen_ids:
                refuse("duplicate_legacy_id", f"The legacy id {legacy_id} appears on an "
                       "earlier row; legacy ids must be unique.")
            else:
                self.seen_ids.add(legacy_id)

        org_code = values.get("org_code", "").strip().upper()
        in_scope = org_code in self.policy.organisations
        if org_code and not in_scope:
            refuse("unknown_organisation", f"The organisation {_shown(org_code)!r} is not in "
                   "the migration's scope (policies/migration.toml, [organisations]).")

        status = self.policy.status_map.get(values.get("status", "").strip().upper())
        if status is None and values.get("status", "").strip():
            refuse("unknown_status", f"The status {_shown(values['status'].strip())!r} is not "
                   "one the policy knows.")

        roles = self._roles(values.get("roles", ""))
        if isinstance(roles, str):
            refuse(roles, "The roles " + _shown(values.get("roles", "")) + (
                " name a code the policy does not map." if roles == "unknown_role"
                else f" are more than {self.policy.max_roles}."))

        last_login = _date(values.get("last_login", ""))
        if last_login is None or _date(values.get("created", "")) is None:
            refuse("invalid_date", "A date is not written YYYY-MM-DD.")

        email_text = values.get("email", "")
        address = None
        if email_text.strip() and not reasons.keys() & {"too_long", "control_characters",
                                                        "formula", "invalid_encoding"}:
            try:
                address = fast_normalise(email_text)
            except InvalidInput as exc:
                refuse("invalid_email", str(exc))
            else:
                if address.flagged:
                    refuse("confusable_email", f"The address {_shown(address.email)!r} mixes "
                           "scripts or holds characters that imitate others; check it with "
                           "the person.")

        if reasons or address is None or status is None or isinstance(roles, str) \
                or last_login is None:
            if not reasons:  # a required field absent from the file's columns
                refuse("missing_value", "A required value is missing.")
            return Rejection(row, line, _shown(legacy_id, 64), org_code if in_scope else "",
                             tuple(reasons), " ".join(reasons.values()))
        return Account(row=row, legacy_id=legacy_id, login_id=address.login_id,
                       email=address.email, given_name=_name(values["given_name"]),
                       family_name=_name(values["family_name"]), org_code=org_code,
                       status=status, roles=roles, last_login=last_login)
