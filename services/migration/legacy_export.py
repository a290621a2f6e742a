"""A synthetic legacy user export: realistic, deterministic for a seed, and fast.

It imitates what the legacy portal hands over: en_GB names; shippers, suppliers, GTs and IGTs
of a range of sizes (the organisations in scope of ``policies/migration.toml``); legacy role
codes; one person under several accounts — exact duplicates, case and whitespace variants,
numeric-suffix variants (``alex.morgan1@`` beside ``alex.morgan@``, same name and
organisation), one address under two organisations, disabled beside active; disabled accounts;
and a set rate of broken rows (missing or invalid e-mail, unknown organisation or role, control
characters, formula-like cells, over-long fields, confusable characters).

No real person: names come from Faker's en_GB lists, domains end in ``.example``. Names are
drawn in bulk from those lists with one seeded ``random.Random`` (a Faker call per row would
make a million rows take minutes).
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import TextIO

from policies.migration_policy import MigrationPolicy, OrganisationScope, load_migration_policy
from services.errors import InvalidInput
from services.migration.bulk import collector_paused

HEADER = ("User ID", "Username", "First Name", "Last Name", "Org Short Code", "Org Name",
          "Roles", "Status", "Last Login", "Created")
JSON_KEYS = ("legacy_id", "email", "first_name", "last_name", "org_code", "org_name", "roles",
             "status", "last_login", "created")
FORMATS = ("csv", "jsonl")
MAX_USERS = 5_000_000
_SIZE_WEIGHT = {"large": 12, "medium": 4, "small": 1}
_ORDINARY_ROLES = ("DES_RO", "DES_STD", "UKL_RO", "UKL_STD", "UKL_SUB", "API_DEV")
_ACTIVE_SPELLINGS = ("A", "A", "A", "Active", "ENABLED")
_DISABLED_SPELLINGS = ("D", "Disabled", "INACTIVE")
DUPLICATE_KINDS = ("exact", "case_variant", "numeric_suffix", "other_organisation",
                   "disabled_copy")
BROKEN_KINDS = ("missing_email", "invalid_email", "unknown_organisation", "unknown_role",
                "control_characters", "formula", "too_long", "confusable")
_EPOCH = date(2026, 10, 1)
_DAYS = [(_EPOCH - timedelta(days=n)).isoformat() for n in range(4001)]  # ISO text per age

Progress = Callable[[int, int], None]


@dataclass
class ExportSummary:
    """What was written, so that tests and benchmarks can check rates without re-reading."""

    rows: int = 0
    people: int = 0
    disabled: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)
    broken: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "people": self.people, "disabled": self.disabled,
                "duplicates": dict(sorted(self.duplicates.items())),
                "duplicate_rows": sum(self.duplicates.values()),
                "broken": dict(sorted(self.broken.items())),
                "broken_rows": sum(self.broken.values())}


@dataclass(frozen=True, slots=True)
class _Person:
    given: str
    family: str
    local: str  # e-mail local part as the person writes it (mixed case)
    org: OrganisationScope
    domain: str
    roles: str


def org_domain(org: OrganisationScope) -> str:
    return re.sub(r"[^a-z0-9]+", "-", org.name.lower()).strip("-") + ".example"


class _Generator:
    def __init__(self, policy: MigrationPolicy, seed: int, duplicate_rate: float,
                 broken_rate: float) -> None:
        from faker.providers.person.en_GB import Provider as Names

        self.rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
        self.orgs = list(policy.organisations.values())
        # Cumulative weights, computed once: random.choices would redo it on every call.
        self.org_weights = list(accumulate(_SIZE_WEIGHT[o.size] for o in self.orgs))
        self.domains = {o.code: org_domain(o) for o in self.orgs}
        self.given_names = sorted({*Names.first_names_male, *Names.first_names_female})
        surnames = dict(Names.last_names)
        self.family_names = sorted(surnames)
        self.family_weights = list(accumulate(float(surnames[n]) for n in self.family_names))
        self.duplicate_rate = duplicate_rate
        self.broken_rate = broken_rate
        self.taken: set[str] = set()
        self.bases: dict[tuple[str, str], str] = {}
        self.suffix: dict[str, int] = {}  # address without suffix → last suffix given
        self.lso_orgs: set[str] = set()
        self.people: list[_Person] = []
        self.next_id = 100_000
        self.summary = ExportSummary()

    # -- one row ---------------------------------------------------------------------------

    def _legacy_id(self) -> str:
        self.next_id += 1 + (self.rng.random() < 0.1)  # gaps, as deleted accounts leave
        return f"U{self.next_id:08d}"

    def _dates(self) -> tuple[str, str]:
        age = int(self.rng.random() * 3970) + 30  # days before the export
        if self.rng.random() < 0.06:
            return "", _DAYS[age]  # never signed in
        return _DAYS[int(self.rng.random() * (age + 1))], _DAYS[age]

    def _status(self, disabled: bool) -> str:
        return self.rng.choice(_DISABLED_SPELLINGS if disabled else _ACTIVE_SPELLINGS)

    def _roles(self, org: OrganisationScope) -> str:
        codes = self.rng.sample(_ORDINARY_ROLES, self.rng.choice((1, 1, 2, 2, 3)))
        # Every organisation has a local security officer, large ones a few.
        if org.code not in self.lso_orgs or self.rng.random() < 0.004:
            self.lso_orgs.add(org.code)
            codes.append("LSO")
        return self.rng.choice((";", ";", ";", "|")).join(codes)

    def _suffixed(self, base: str, domain: str) -> str:
        key = f"{base.lower()}@{domain}"
        n = self.suffix.get(key, 0) + 1
        while f"{base.lower()}{n}@{domain}" in self.taken:
            n += 1
        self.suffix[key] = n
        return f"{base}{n}"

    def _new_person(self) -> _Person:
        rng = self.rng
        org = rng.choices(self.orgs, cum_weights=self.org_weights)[0]
        given = rng.choice(self.given_names)
        family = rng.choices(self.family_names, cum_weights=self.family_weights)[0]
        base = self.bases.get((given, family))
        if base is None:
            base = self.bases[given, family] = re.sub(r"[^A-Za-z0-9.]", "", f"{given}.{family}")
        domain = self.domains[org.code]
        local = base
        # The legacy rule this programme ends: a second Alex Morgan became alex.morgan1@.
        if f"{base.lower()}@{domain}" in self.taken:
            local = self._suffixed(base, domain)
        self.taken.add(f"{local.lower()}@{domain}")
        person = _Person(given, family, local, org, domain, self._roles(org))
        self.people.append(person)
        self.summary.people += 1
        return person

    def _row(self, person: _Person, *, email: str | None = None, org: OrganisationScope | None
             = None, given: str | None = None, family: str | None = None,
             roles: str | None = None, disabled: bool | None = None,
             org_code: str | None = None) -> list[str]:
        if disabled is None:
            disabled = self.rng.random() < 0.05
        if disabled:
            self.summary.disabled += 1
        org = org or person.org
        last, created = self._dates()
        lower = self.rng.random() < 0.7  # most legacy usernames are stored in lower case
        address = email if email is not None else (
            f"{person.local.lower() if lower else person.local}@{person.domain}")
        return [self._legacy_id(), address, given if given is not None else person.given,
                family if family is not None else person.family,
                org_code if org_code is not None else org.code, org.name,
                roles if roles is not None else person.roles, self._status(disabled), last,
                created]

    def new_row(self) -> list[str]:
        return self._row(self._new_person())

    def duplicate_row(self) -> list[str]:
        rng = self.rng
        person = self.people[rng.randrange(len(self.people))]
        kind = rng.choices(DUPLICATE_KINDS, weights=(35, 25, 25, 5, 10))[0]
        self.summary.duplicates[kind] += 1
        address = f"{person.local.lower()}@{person.domain}"
        roles = rng.choice(_ORDINARY_ROLES)  # a second account, usually for another product
        if kind == "exact":
            return self._row(person, email=address, roles=roles, disabled=False)
        if kind == "case_variant":
            variant = rng.choice((f"{person.local}@{person.domain.upper()}",
                                  f" {address} ", f"{person.local.upper()}@{person.domain}"))
            return self._row(person, email=variant, roles=roles, disabled=False)
        if kind == "numeric_suffix":
            local = self._suffixed(person.local, person.domain).lower()
            self.taken.add(f"{local}@{person.domain}")
            return self._row(person, email=f"{local}@{person.domain}", roles=roles,
                             disabled=False)
        if kind == "other_organisation":
            others = [o for o in self.orgs if o.code != person.org.code]
            return self._row(person, email=address, org=rng.choice(others), roles=roles,
                             disabled=False)
        return self._row(person, email=address, roles=roles, disabled=True)  # disabled_copy

    def broken_row(self) -> list[str]:
        rng = self.rng
        kind = BROKEN_KINDS[rng.randrange(len(BROKEN_KINDS))]
        self.summary.broken[kind] += 1
        org = rng.choices(self.orgs, cum_weights=self.org_weights)[0]
        given = rng.choice(self.given_names)
        family = rng.choices(self.family_names, cum_weights=self.family_weights)[0]
        base = re.sub(r"[^a-z0-9.]", "", f"{given}.{family}".lower())
        # A number of its own keeps a broken row from also looking like someone's duplicate.
        address = f"{base}.x{self.next_id}@{self.domains[org.code]}"
        person = _Person(given, family, base, org, self.domains[org.code], "DES_RO")
        if kind == "missing_email":
            return self._row(person, email="", disabled=False)
        if kind == "invalid_email":
            bad = rng.choice((address.replace("@", "."), address.replace("@", "@@"),
                              f"{base}@", address.replace(".example", "..example")))
            return self._row(person, email=bad, disabled=False)
        if kind == "unknown_organisation":
            return self._row(person, email=address, org_code=rng.choice(("ZZQX", "OLDCO1")),
                             disabled=False)
        if kind == "unknown_role":
            return self._row(person, email=address, roles="DES_RO;" + rng.choice(
                ("DES_ADMIN", "SUPERUSER", "UKL_GOD")), disabled=False)
        if kind == "control_characters":
            return self._row(person, email=address, given=given[:1] + "\x07" + given[1:],
                             disabled=False)
        if kind == "formula":
            return self._row(person, email=address, family=rng.choice(
                ('=HYPERLINK("http://x.example","Click")', "+SUM(1,1)", "@cmd", "-2+3")),
                disabled=False)
        if kind == "too_long":
            # Past any sensible limit (the policy's is 200), whatever the name's length.
            return self._row(person, email=address, family=(family * 400)[:400],
                             disabled=False)
        # Confusable: a Cyrillic "а" (U+0430) in place of the Latin "a" or "e".
        fake = address.replace("a", "\u0430", 1) if "a" in base else "\u0435" + address[1:]
        return self._row(person, email=fake, disabled=False)

    def rows(self, users: int, progress: Progress | None) -> Iterator[list[str]]:
        plan = self._kinds(users)
        owed = 0
        for n, kind in enumerate(plan):
            if kind == 1 and not self.people:
                owed += 1  # no one to duplicate yet: pay the duplicate back later
                kind = 0
            elif kind == 0 and owed and self.people:
                owed -= 1
                kind = 1
            row = (self.new_row, self.duplicate_row, self.broken_row)[kind]()
            self.summary.rows += 1
            yield row
            if progress and (n + 1) % 50_000 == 0:
                progress(n + 1, users)

    def _kinds(self, users: int) -> bytearray:
        duplicates = round(users * self.duplicate_rate)
        broken = round(users * self.broken_rate)
        kinds = bytearray([0]) * (users - duplicates - broken)
        kinds += bytearray([1]) * duplicates + bytearray([2]) * broken
        self.rng.shuffle(kinds)  # type: ignore[arg-type]  # bytearray is a mutable sequence
        return kinds


def write_export(out: TextIO, *, users: int, seed: int, fmt: str = "csv",
                 duplicate_rate: float = 0.08, broken_rate: float = 0.02,
                 policy: MigrationPolicy | None = None,
                 progress: Progress | None = None) -> ExportSummary:
    """Write ``users`` rows of a synthetic legacy export to ``out`` (opened with newline="")."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Cannot write the export as {fmt!r}; choose csv or jsonl.")
    if not 1 <= users <= MAX_USERS:
        raise InvalidInput(f"--users must be between 1 and {MAX_USERS:,}; it is {users:,}.")
    if not (0 <= duplicate_rate <= 0.5 and 0 <= broken_rate <= 0.5):
        raise InvalidInput("The duplicate and broken-row rates must each be between 0 and 0.5.")
    gen = _Generator(policy or load_migration_policy(), seed, duplicate_rate, broken_rate)
    with collector_paused():
        _write(out, gen, users, fmt, progress)
    if progress:
        progress(users, users)
    return gen.summary


def _write(out: TextIO, gen: _Generator, users: int, fmt: str, progress: Progress | None
           ) -> None:
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
        writer.writerow(HEADER)
        chunk: list[list[str]] = []
        for row in gen.rows(users, progress):
            chunk.append(row)
            if len(chunk) >= 5000:
                writer.writerows(chunk)
                chunk.clear()
        writer.writerows(chunk)
    else:
        encode = json.JSONEncoder(ensure_ascii=False).encode
        for row in gen.rows(users, progress):
            out.write(encode(dict(zip(JSON_KEYS, row, strict=True))) + "\n")


def write_export_file(path: Path, **options: object) -> ExportSummary:
    """Write the export to ``path`` in UTF-8 (through a temporary file: never half a file)."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            summary = write_export(out, **options)  # type: ignore[arg-type]
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return summary
