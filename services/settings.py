"""The store's settings: a typed, declared registry (KeePassXC style).

Every setting is declared once below — name, type, default, description and the action that
may change it — so the CLI, the GUI and the services all read the same list, and an unknown
name is refused instead of silently stored. Values live in the store, so every desktop working
on a shared store sees the same mail configuration:

- ordinary values in ``store_meta`` under the key ``setting.<name>``, as text;
- secret values (the SMTP password) sealed by the vault in the ``secret`` table under the
  name ``setting.<name>`` — never in ``store_meta``, logs, audit details or error messages
  (CRAFT.md: Picard's plaintext token in settings is the mistake to avoid).

Changing a setting writes an audit event with the before and after values; for a secret only
whether it is set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import InvalidInput
from services.store.schema import secret, store_meta

SettingValue = str | int | bool
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Setting:
    """One declared setting. ``kind`` is ``str``, ``int`` or ``bool``."""

    name: str
    kind: type[str] | type[int] | type[bool]
    default: SettingValue
    description: str
    action: Action = Action.MAIL_SEND  # who may change it
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    secret: bool = False  # sealed by the vault; never shown, logged or audited
    check: Callable[[str], str | None] | None = None  # returns what is wrong, or None

    @property
    def meta_key(self) -> str:
        return f"setting.{self.name}"

    def parse(self, text: str) -> SettingValue:
        """The typed value of ``text``, or ``InvalidInput`` saying what is expected."""
        value = text.strip()
        if self.kind is bool:
            if value.lower() in _TRUE:
                return True
            if value.lower() in _FALSE:
                return False
            raise InvalidInput(f"The setting {self.name} is true or false, not {value!r}.")
        if self.kind is int:
            try:
                number = int(value)
            except ValueError:
                raise InvalidInput(
                    f"The setting {self.name} is a whole number, not {value!r}.") from None
            if self.minimum is not None and number < self.minimum:
                raise InvalidInput(f"The setting {self.name} must be at least {self.minimum}.")
            if self.maximum is not None and number > self.maximum:
                raise InvalidInput(f"The setting {self.name} must be at most {self.maximum}.")
            return number
        if self.choices and value not in self.choices:
            raise InvalidInput(f"The setting {self.name} must be one of "
                               f"{', '.join(self.choices)}, not {value!r}.")
        if any(ch in value for ch in "\r\n\0"):
            raise InvalidInput(f"The setting {self.name} must be a single line of text.")
        problem = self.check(value) if self.check else None
        if problem:
            raise InvalidInput(f"The setting {self.name} {problem}.")
        return value

    def text(self, value: SettingValue) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def _mail_address(text: str) -> str | None:
    name, address = parseaddr(text)
    local, at, domain = address.rpartition("@")
    try:
        Address(display_name=name, username=local, domain=domain)
    except (ValueError, TypeError, IndexError):
        local = ""
    if not at or not local or not domain:
        return (f"must be an e-mail address such as 'Gatehouse <gatehouse@example.com>', "
                f"not {text!r}")
    return None


SETTINGS: Mapping[str, Setting] = {s.name: s for s in (
    Setting("mail_transport", str, "eml",
            "How mail in the outbox is delivered: 'eml' writes RFC 5322 .eml files to the "
            "outbox folder (for another program to send), 'smtp' sends through the SMTP server "
            "below over TLS 1.2 or newer.", choices=("eml", "smtp")),
    Setting("mail_outbox_folder", str, "",
            "Folder for .eml files when mail_transport is 'eml'; empty means 'outbox' in "
            "Gatehouse's user data folder."),
    Setting("mail_from", str, "Gatehouse <gatehouse@localhost>",
            "The From address of every message Gatehouse sends.", check=_mail_address),
    Setting("smtp_host", str, "", "SMTP server host name (as named in its certificate)."),
    Setting("smtp_port", int, 587,
            "SMTP server port: usually 587 for STARTTLS, 465 for implicit TLS.",
            minimum=1, maximum=65535),
    Setting("smtp_security", str, "starttls",
            "'starttls' (upgrade the connection before anything is sent) or 'implicit' (TLS "
            "from the first byte). Plaintext SMTP is not offered.",
            choices=("starttls", "implicit")),
    Setting("smtp_username", str, "", "SMTP user name; empty sends without signing in."),
    Setting("smtp_password", str, "",
            "SMTP password, sealed in the store by the vault; set it from standard input.",
            secret=True),
    Setting("smtp_ca_file", str, "",
            "PEM file of the certificate authority that signed the SMTP server's certificate; "
            "empty trusts the operating system's authorities."),
    Setting("smtp_timeout_seconds", int, 30, "Network timeout for each SMTP operation.",
            minimum=1, maximum=600),
    Setting("intake_imap_host", str, "",
            "IMAP server of the DES ACCESS mailbox (as named in its certificate), for reading "
            "reset requests straight from it; empty when requests are imported from saved "
            "files.", action=Action.INTAKE_REVIEW),
    Setting("intake_imap_port", int, 993,
            "IMAP server port: usually 993 for implicit TLS, 143 for STARTTLS.",
            action=Action.INTAKE_REVIEW, minimum=1, maximum=65535),
    Setting("intake_imap_security", str, "implicit",
            "'implicit' (TLS from the first byte) or 'starttls' (upgrade the connection "
            "before signing in). Plaintext IMAP is not offered.",
            action=Action.INTAKE_REVIEW, choices=("implicit", "starttls")),
    Setting("intake_imap_username", str, "", "User name of the DES ACCESS mailbox.",
            action=Action.INTAKE_REVIEW),
    Setting("intake_imap_password", str, "",
            "Password of the DES ACCESS mailbox, sealed in the store by the vault; set it "
            "from standard input.", action=Action.INTAKE_REVIEW, secret=True),
    Setting("intake_imap_folder", str, "INBOX",
            "The folder that receives the DES ACCESS requests. It is only read: messages "
            "stay unread on the server.", action=Action.INTAKE_REVIEW),
    Setting("intake_imap_ca_file", str, "",
            "PEM file of the certificate authority that signed the IMAP server's certificate; "
            "empty trusts the operating system's authorities.", action=Action.INTAKE_REVIEW),
    Setting("intake_imap_timeout_seconds", int, 30,
            "Network timeout for each IMAP operation.", action=Action.INTAKE_REVIEW,
            minimum=1, maximum=600),
    Setting("mail_max_attempts", int, 8,
            "Delivery attempts for one message before it is marked failed.",
            minimum=1, maximum=100),
    Setting("mail_retry_base_seconds", int, 60,
            "Wait after the first failed attempt; each further failure doubles it.",
            minimum=1, maximum=86_400),
    Setting("mail_retry_max_seconds", int, 6 * 3600,
            "The longest wait between two attempts, however many have failed.",
            minimum=1, maximum=7 * 86_400),
)}


@dataclass(frozen=True)
class SettingView:
    """A setting as shown to a person: a secret shows only whether it is set."""

    name: str
    value: str
    default: str
    is_default: bool
    description: str
    secret: bool
    choices: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "default": self.default,
                "is_default": self.is_default, "description": self.description,
                "secret": self.secret, "choices": list(self.choices)}


def setting(name: str) -> Setting:
    """The declared setting ``name``; ``InvalidInput`` listing the known names otherwise."""
    try:
        return SETTINGS[name]
    except KeyError:
        raise InvalidInput(f"There is no setting {name!r}; the settings are "
                           f"{', '.join(sorted(SETTINGS))}.") from None


def _plain(name: str) -> Setting:
    declared = setting(name)
    if declared.secret:
        raise InvalidInput(f"The setting {name} is a secret: it is set from standard input "
                           "and never shown.")
    return declared


def _secret(name: str) -> Setting:
    declared = setting(name)
    if not declared.secret:
        raise InvalidInput(f"The setting {name} is not a secret; set it as a plain value.")
    return declared


def _seal_context(declared: Setting) -> str:
    return f"secret:{declared.meta_key}"


# ---- reading -------------------------------------------------------------------------------


def read_value(conn: Connection, name: str) -> SettingValue:
    """The value of a non-secret setting (its default when never set), inside ``conn``."""
    declared = _plain(name)
    stored = conn.execute(select(store_meta.c.value).where(
        store_meta.c.key == declared.meta_key)).scalar_one_or_none()
    if stored is None:
        return declared.default
    return declared.parse(stored)


def get_value(ctx: Context, name: str) -> SettingValue:
    with ctx.store.read() as conn:
        return read_value(conn, name)


def get_str(ctx: Context, name: str) -> str:
    value = get_value(ctx, name)
    assert isinstance(value, str), name
    return value


def get_int(ctx: Context, name: str) -> int:
    value = get_value(ctx, name)
    assert isinstance(value, int) and not isinstance(value, bool), name
    return value


def read_values(conn: Connection) -> dict[str, SettingValue]:
    """Every non-secret setting at once (one query), defaults filled in."""
    stored = {row.key: row.value for row in conn.execute(
        select(store_meta.c.key, store_meta.c.value).where(store_meta.c.key.like("setting.%")))}
    values: dict[str, SettingValue] = {}
    for declared in SETTINGS.values():
        if declared.secret:
            continue
        text = stored.get(declared.meta_key)
        values[declared.name] = declared.default if text is None else declared.parse(text)
    return values


def get_secret(ctx: Context, name: str) -> str | None:
    """The unsealed secret, or None when it was never set. Only transports call this."""
    declared = _secret(name)
    with ctx.store.read() as conn:
        sealed = conn.execute(select(secret.c.ciphertext).where(
            secret.c.name == declared.meta_key)).scalar_one_or_none()
    if sealed is None:
        return None
    return ctx.vault.decrypt(sealed, _seal_context(declared)).decode()


def _secret_is_set(conn: Connection, declared: Setting) -> bool:
    return conn.execute(select(secret.c.name).where(
        secret.c.name == declared.meta_key)).first() is not None


def describe(ctx: Context, op: Operator) -> list[SettingView]:
    """Every setting with its current value, for ``mail settings show`` and the GUI."""
    require(op, Action.MAIL_SEND)
    views = []
    with ctx.store.read() as conn:
        values = read_values(conn)
        for declared in SETTINGS.values():
            if declared.secret:
                is_set = _secret_is_set(conn, declared)
                shown, is_default = ("(set)" if is_set else "(not set)"), not is_set
                default = "(not set)"
            else:
                value = values[declared.name]
                shown, is_default = declared.text(value), value == declared.default
                default = declared.text(declared.default)
            views.append(SettingView(declared.name, shown, default, is_default,
                                     declared.description, declared.secret, declared.choices))
    return views


# ---- changing ------------------------------------------------------------------------------


def set_value(ctx: Context, op: Operator, name: str, value: str | SettingValue) -> SettingValue:
    """Store a non-secret setting (text is parsed against its declaration); returns the value."""
    declared = _plain(name)
    require(op, declared.action)
    typed = declared.parse(value if isinstance(value, str) else declared.text(value))
    with ctx.store.write() as conn:
        before = read_value(conn, name)
        changed = conn.execute(update(store_meta).where(store_meta.c.key == declared.meta_key)
                               .values(value=declared.text(typed)))
        if changed.rowcount == 0:
            conn.execute(insert(store_meta).values(key=declared.meta_key,
                                                   value=declared.text(typed)))
        ctx.record(conn, op, "setting.change", "setting", name, change=Change(
            before={"value": declared.text(before)}, after={"value": declared.text(typed)}))
    return typed


def unset_value(ctx: Context, op: Operator, name: str) -> None:
    """Return a setting (secret or not) to its default; a secret is removed."""
    declared = setting(name)
    require(op, declared.action)
    with ctx.store.write() as conn:
        if declared.secret:
            was_set = _secret_is_set(conn, declared)
            conn.execute(delete(secret).where(secret.c.name == declared.meta_key))
            change = Change(before={"state": "set" if was_set else "not set"},
                            after={"state": "not set"})
        else:
            before = read_value(conn, name)
            conn.execute(delete(store_meta).where(store_meta.c.key == declared.meta_key))
            change = Change(before={"value": declared.text(before)},
                            after={"value": declared.text(declared.default)})
        ctx.record(conn, op, "setting.unset", "setting", name, change=change)


def set_secret(ctx: Context, op: Operator, name: str, value: str) -> None:
    """Seal ``value`` with the vault and store it; the audit event says only that it changed."""
    declared = _secret(name)
    require(op, declared.action)
    if not value:
        raise InvalidInput(f"The {name} is empty; to remove it use: mail settings unset {name}.")
    if any(ch in value for ch in "\r\n\0"):
        raise InvalidInput(f"The {name} must be a single line.")
    sealed = ctx.vault.encrypt(value.encode(), _seal_context(declared))
    with ctx.store.write() as conn:
        was_set = _secret_is_set(conn, declared)
        if was_set:
            conn.execute(update(secret).where(secret.c.name == declared.meta_key)
                         .values(ciphertext=sealed, created_at=ctx.now()))
        else:
            conn.execute(insert(secret).values(name=declared.meta_key, ciphertext=sealed,
                                               created_at=ctx.now()))
        ctx.record(conn, op, "setting.change", "setting", name, change=Change(
            before={"state": "set" if was_set else "not set"}, after={"state": "set"}))
