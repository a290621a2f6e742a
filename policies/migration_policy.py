"""The legacy-migration mapping as reviewed data: ``migration.toml`` and its typed loader.

Every error names the file, the key and the reason, e.g.
``migration.toml: roles.codes.DES_RO is 'DES'; write it PRODUCT:ROLE, e.g. "DES:viewer".``
Unknown sections and keys are refused, so that a misspelt rule is never silently ignored.
Whether a PRODUCT:ROLE or an organisation type exists is the store's business: the migration
service checks those against the store's catalogue (policies never import services).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.loader import POLICY_DIR, read_toml
from policies.reader import PolicyReader

FIELDS = ("legacy_id", "email", "given_name", "family_name", "org_code", "org_name", "roles",
          "status", "last_login", "created")
LIMITED_FIELDS = ("legacy_id", "email", "given_name", "family_name", "org_code", "org_name",
                  "roles")
SIZE_BANDS = ("large", "medium", "small")
MAX_BATCH_SIZE = 100_000
STATUSES = ("active", "disabled")
_CODE = re.compile(r"^[A-Z0-9]{2,16}$")
_ROLE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")
_PRODUCT_ROLE = re.compile(r"^([A-Z0-9]{2,16}):([a-z][a-z0-9_]{0,63})$")

_SCHEMA: dict[str, frozenset[str]] = {
    "source": frozenset({"delimiters", "max_file_bytes", "max_columns", "max_record_chars"}),
    "columns": frozenset({*FIELDS, "required"}),
    "limits": frozenset({*LIMITED_FIELDS, "role_count"}),
    "roles": frozenset({"delimiters", "codes"}),
    "status": frozenset(STATUSES),
    "run": frozenset({"batch_size", "max_batches"}),
    "organisations": frozenset(),  # keys are organisation codes, checked on their own
}


def header_key(text: str) -> str:
    """How a header (or a JSON key) is compared: width-folded, lower case, and blind to spaces,
    underscores and hyphens, so "E-mail", "EMAIL" and "e_mail" are one spelling."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s_\-]+", "", folded)


@dataclass(frozen=True)
class OrganisationScope:
    code: str
    name: str
    type: str
    size: str  # a SIZE_BANDS value


@dataclass(frozen=True)
class MigrationPolicy:
    """The mapping, validated. Build it with :func:`load_migration_policy`."""

    name: str
    system: str
    sha256: str  # of the file's bytes: a plan records it, a run compares it
    delimiters: tuple[str, ...]
    max_file_bytes: int
    max_columns: int
    max_record_chars: int
    header_aliases: dict[str, str]  # header_key(spelling) → field
    spellings: dict[str, tuple[str, ...]]  # field → spellings as written, for messages
    required: tuple[str, ...]
    limits: dict[str, int]  # field → longest value in characters
    max_roles: int
    role_delimiters: tuple[str, ...]
    role_codes: dict[str, tuple[str, str]]  # legacy code (upper case) → (product, role)
    status_map: dict[str, str]  # legacy value (upper case) → active | disabled
    batch_size: int
    max_batches: int
    organisations: dict[str, OrganisationScope]

    def batch_size_for(self, identities: int) -> int:
        """Identities per batch for a plan of ``identities``: ``batch_size``, or larger so
        that there are at most ``max_batches`` (up to MAX_BATCH_SIZE)."""
        spread = -(-identities // self.max_batches)  # ceiling
        return min(max(self.batch_size, spread), max(self.batch_size, MAX_BATCH_SIZE))


class _Reader(PolicyReader):
    shipped = "policies/migration.toml"

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, not {value!r}.")
        return value.strip()

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a non-empty list of non-empty strings.")
        return tuple(dict.fromkeys(value))

    def table(self, key: str) -> dict[str, Any]:
        value = self.raw(key)
        if not isinstance(value, dict) or not value:
            raise self.fail(key, "must be a non-empty table.")
        return value


def _columns(reader: _Reader) -> tuple[dict[str, str], dict[str, tuple[str, ...]],
                                        tuple[str, ...]]:
    aliases: dict[str, str] = {}
    spellings: dict[str, tuple[str, ...]] = {}
    for field in FIELDS:
        key = f"columns.{field}"
        names = reader.strings(key)
        spellings[field] = names
        for name in names:
            folded = header_key(name)
            if not folded:
                raise reader.fail(key, f"holds {name!r}, which has no letters or digits.")
            other = aliases.get(folded)
            if other is not None and other != field:
                raise reader.fail(key, f"holds {name!r}, which columns.{other} also accepts; "
                                  "a header must map to one field only.")
            aliases[folded] = field
    required = reader.strings("columns.required")
    for field in required:
        if field not in FIELDS:
            raise reader.fail("columns.required", f"holds {field!r}, which is not a field "
                              f"(fields: {', '.join(FIELDS)}).")
    for must in ("legacy_id", "email", "given_name", "family_name", "org_code", "status"):
        if must not in required:
            raise reader.fail("columns.required", f"must include {must!r}: no account can be "
                              "migrated without it.")
    return aliases, spellings, required


def _role_codes(reader: _Reader) -> dict[str, tuple[str, str]]:
    codes: dict[str, tuple[str, str]] = {}
    for code, target in reader.table("roles.codes").items():
        key = f"roles.codes.{code}"
        if not _ROLE_CODE.match(code.upper()):
            raise reader.fail(key, "is not a usable legacy code: letters, digits, '_', '.' "
                              "or '-', at most 32.")
        match = _PRODUCT_ROLE.match(target) if isinstance(target, str) else None
        if match is None:
            raise reader.fail(key, f"is {target!r}; write it PRODUCT:ROLE, e.g. "
                              '"DES:viewer".')
        if code.upper() in codes:
            raise reader.fail(key, "is listed twice (codes are compared in upper case).")
        codes[code.upper()] = (match.group(1), match.group(2))
    return codes


def _statuses(reader: _Reader) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for status in STATUSES:
        for value in reader.strings(f"status.{status}"):
            folded = value.strip().upper()
            if mapping.get(folded, status) != status:
                raise reader.fail(f"status.{status}", f"holds {value!r}, which status."
                                  f"{mapping[folded]} also holds.")
            mapping[folded] = status
    return mapping


def _organisations(reader: _Reader) -> dict[str, OrganisationScope]:
    orgs: dict[str, OrganisationScope] = {}
    for code, entry in reader.table("organisations").items():
        key = f"organisations.{code}"
        if not _CODE.match(code):
            raise reader.fail(key, "is not an organisation code: 2 to 16 capital letters or "
                              "digits.")
        if not isinstance(entry, dict) or set(entry) != {"name", "type", "size"}:
            raise reader.fail(key, "must be a table with exactly name, type and size.")
        name = reader.text(f"{key}.name", entry["name"])
        if len(name) > 200:
            raise reader.fail(f"{key}.name", "is longer than 200 characters.")
        org_type = reader.text(f"{key}.type", entry["type"]).lower()
        size = reader.text(f"{key}.size", entry["size"]).lower()
        if size not in SIZE_BANDS:
            raise reader.fail(f"{key}.size", f"is {size!r}; use one of {', '.join(SIZE_BANDS)}.")
        orgs[code] = OrganisationScope(code=code, name=name, type=org_type, size=size)
    return orgs


def load_migration_policy(path: Path | None = None) -> MigrationPolicy:
    """Read and validate a migration policy file (default: the shipped ``migration.toml``)."""
    path = path or POLICY_DIR / "migration.toml"
    data = read_toml(path)
    reader = _Reader(data, path)
    reader.check_known_keys(_SCHEMA, top_level=("name", "system"), open_tables=("organisations",))
    aliases, spellings, required = _columns(reader)
    delimiters = reader.strings("source.delimiters")
    for delimiter in delimiters:
        if len(delimiter) != 1 or delimiter in "\"\r\n" or delimiter.isalnum():
            raise reader.fail("source.delimiters", f"holds {delimiter!r}; a CSV delimiter is "
                              "one character that is not a letter, digit, quote or newline.")
    role_delimiters = reader.strings("roles.delimiters")
    for delimiter in role_delimiters:
        if len(delimiter) != 1 or delimiter.isalnum() or delimiter in "_.-":
            raise reader.fail("roles.delimiters", f"holds {delimiter!r}; use single characters "
                              "that cannot occur inside a legacy role code.")
    limits = {field: reader.integer(f"limits.{field}", minimum=1, maximum=10_000)
              for field in LIMITED_FIELDS}
    name = data.get("name", path.stem)
    return MigrationPolicy(
        name=reader.text("name", name),
        system=reader.text("system", reader.raw("system")),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        delimiters=delimiters,
        max_file_bytes=reader.integer("source.max_file_bytes", minimum=1024,
                                      maximum=64 * 1024**3),
        max_columns=reader.integer("source.max_columns", minimum=len(required),
                                   maximum=10_000),
        max_record_chars=reader.integer("source.max_record_chars", minimum=1024,
                                        maximum=16 * 1024**2),
        header_aliases=aliases,
        spellings=spellings,
        required=required,
        limits=limits,
        max_roles=reader.integer("limits.role_count", minimum=1, maximum=200),
        role_delimiters=role_delimiters,
        role_codes=_role_codes(reader),
        status_map=_statuses(reader),
        batch_size=reader.integer("run.batch_size", minimum=1, maximum=MAX_BATCH_SIZE),
        max_batches=reader.integer("run.max_batches", minimum=1, maximum=100_000),
        organisations=_organisations(reader),
    )
