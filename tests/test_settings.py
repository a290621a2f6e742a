"""The declared settings registry: typed round trips, refusals, and the sealed SMTP password."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from services.errors import InvalidInput, PermissionDenied
from services.mail.delivery import transport_from_settings
from services.mail.eml import EmlFolderTransport, default_outbox_folder
from services.mail.smtp import SmtpTransport
from services.settings import (
    SETTINGS,
    describe,
    get_int,
    get_secret,
    get_str,
    get_value,
    set_secret,
    set_value,
    setting,
    unset_value,
)
from services.store.schema import audit_event, secret, store_meta

SMTP_PASSWORD = "Quiet-Harbour-7-Lantern!"


@pytest.fixture(autouse=True)
def _scan_audit_for_these(secrets_to_scan: set[str]) -> None:
    """The shared audit scan (tests/conftest.py) also looks for this module's secrets."""
    secrets_to_scan.update({SMTP_PASSWORD, "Second-Harbour-Lantern-8"})


def _all_text(ctx, table) -> str:
    with ctx.store.read() as conn:
        return "\n".join(" ".join(map(str, row)) for row in conn.execute(select(table)).all())


def test_every_setting_is_declared_once_with_a_default_that_parses() -> None:
    assert len(SETTINGS) == len({s.name for s in SETTINGS.values()})
    for name, declared in SETTINGS.items():
        assert declared.name == name
        assert declared.description.strip().endswith(".")
        assert declared.parse(declared.text(declared.default)) == declared.default
    assert [s.name for s in SETTINGS.values() if s.secret] == ["smtp_password",
                                                              "intake_imap_password"]


def test_defaults_before_anything_is_set(ctx) -> None:
    assert get_str(ctx, "mail_transport") == "eml"
    assert get_int(ctx, "smtp_port") == 587
    assert get_str(ctx, "smtp_security") == "starttls"
    assert get_secret(ctx, "smtp_password") is None


def test_round_trip_is_typed_and_stored_under_setting_keys(ctx, make_person) -> None:
    admin = make_person("platform_admin")
    assert set_value(ctx, admin, "smtp_port", " 465 ") == 465
    assert set_value(ctx, admin, "smtp_host", "mail.xoserve.example") == "mail.xoserve.example"
    assert set_value(ctx, admin, "smtp_security", "implicit") == "implicit"
    assert get_value(ctx, "smtp_port") == 465
    assert get_int(ctx, "smtp_port") == 465
    assert get_str(ctx, "smtp_host") == "mail.xoserve.example"
    with ctx.store.read() as conn:
        stored = {row.key: row.value for row in conn.execute(select(
            store_meta.c.key, store_meta.c.value).where(store_meta.c.key.like("setting.%")))}
    assert stored == {"setting.smtp_port": "465", "setting.smtp_host": "mail.xoserve.example",
                      "setting.smtp_security": "implicit"}
    # Setting it again updates the one row; unset returns to the default.
    set_value(ctx, admin, "smtp_port", 2525)
    assert get_int(ctx, "smtp_port") == 2525
    unset_value(ctx, admin, "smtp_port")
    assert get_int(ctx, "smtp_port") == 587
    views = {v.name: v for v in describe(ctx, admin)}
    assert views["smtp_port"].is_default and views["smtp_port"].value == "587"
    assert views["smtp_host"].value == "mail.xoserve.example"
    assert not views["smtp_host"].is_default


@pytest.mark.parametrize(("name", "value", "words"), [
    ("smtp_port", "seventy", "whole number"),
    ("smtp_port", "70000", "at most 65535"),
    ("smtp_port", "0", "at least 1"),
    ("smtp_security", "none", "starttls, implicit"),
    ("mail_transport", "pigeon", "eml, smtp"),
    ("mail_from", "not an address", "e-mail address"),
    ("smtp_host", "mail.example\r\nX-Evil: 1", "single line"),
])
def test_bad_values_are_refused_with_the_reason(ctx, make_person, name, value, words) -> None:
    admin = make_person("platform_admin")
    with pytest.raises(InvalidInput, match=words):
        set_value(ctx, admin, name, value)
    assert get_value(ctx, name) == SETTINGS[name].default


def test_unknown_setting_is_refused_everywhere(ctx, make_person) -> None:
    admin = make_person("platform_admin")
    for call in (lambda: setting("smtp_pasword"), lambda: get_value(ctx, "colour"),
                 lambda: set_value(ctx, admin, "colour", "blue"),
                 lambda: unset_value(ctx, admin, "colour")):
        with pytest.raises(InvalidInput, match=r"no setting .* the settings are"):
            call()
    assert "setting.colour" not in _all_text(ctx, store_meta)


def test_changing_settings_needs_the_mail_role(ctx, make_person) -> None:
    person = make_person()
    reviewer = make_person("security_reviewer")
    for op in (person, reviewer):
        with pytest.raises(PermissionDenied):
            set_value(ctx, op, "smtp_host", "mail.example")
        with pytest.raises(PermissionDenied):
            set_secret(ctx, op, "smtp_password", SMTP_PASSWORD)
        with pytest.raises(PermissionDenied):
            describe(ctx, op)
    assert get_str(ctx, "smtp_host") == ""


def test_smtp_password_is_sealed_never_plain(ctx, make_person) -> None:
    admin = make_person("platform_admin")
    set_secret(ctx, admin, "smtp_password", SMTP_PASSWORD)
    assert get_secret(ctx, "smtp_password") == SMTP_PASSWORD
    # Not in store_meta, not in the audit trail; only a vault ciphertext in the secret table.
    assert SMTP_PASSWORD not in _all_text(ctx, store_meta)
    assert SMTP_PASSWORD not in _all_text(ctx, audit_event)
    with ctx.store.read() as conn:
        sealed = conn.execute(select(secret.c.ciphertext).where(
            secret.c.name == "setting.smtp_password")).scalar_one()
        events = conn.execute(select(audit_event.c.action, audit_event.c.target_id,
                                     audit_event.c.after).where(
            audit_event.c.target_id == "smtp_password")).all()
    assert sealed.startswith("v1.") and SMTP_PASSWORD not in sealed
    assert [(e.action, e.after) for e in events] == [("setting.change", '{"state":"set"}')]
    views = {v.name: v for v in describe(ctx, admin)}
    assert views["smtp_password"].value == "(set)"
    assert SMTP_PASSWORD not in repr(describe(ctx, admin))
    # A secret is not read or written as a plain value, and an empty one is not stored.
    with pytest.raises(InvalidInput, match="secret"):
        get_value(ctx, "smtp_password")
    with pytest.raises(InvalidInput, match="secret"):
        set_value(ctx, admin, "smtp_password", "typed-on-a-command-line")
    with pytest.raises(InvalidInput, match="not a secret"):
        set_secret(ctx, admin, "smtp_host", "x")
    with pytest.raises(InvalidInput, match="empty"):
        set_secret(ctx, admin, "smtp_password", "")
    # Replacing and removing it.
    set_secret(ctx, admin, "smtp_password", "Second-Harbour-Lantern-8")
    assert get_secret(ctx, "smtp_password") == "Second-Harbour-Lantern-8"
    unset_value(ctx, admin, "smtp_password")
    assert get_secret(ctx, "smtp_password") is None
    assert {v.name: v for v in describe(ctx, admin)}["smtp_password"].value == "(not set)"


def test_sealed_password_is_bound_to_its_name(ctx, make_person) -> None:
    """Copying the ciphertext under another secret's name does not unseal it."""
    from services.errors import VaultUnavailable

    admin = make_person("platform_admin")
    set_secret(ctx, admin, "smtp_password", SMTP_PASSWORD)
    with ctx.store.read() as conn:
        sealed = conn.execute(select(secret.c.ciphertext).where(
            secret.c.name == "setting.smtp_password")).scalar_one()
    with pytest.raises(VaultUnavailable):
        ctx.vault.decrypt(sealed, "secret:audit-hmac-key")


def test_transport_follows_the_settings(ctx, make_person, tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    default = transport_from_settings(ctx)
    assert isinstance(default, EmlFolderTransport)
    assert default.folder == default_outbox_folder()
    set_value(ctx, admin, "mail_outbox_folder", str(tmp_path / "out"))
    chosen = transport_from_settings(ctx)
    assert isinstance(chosen, EmlFolderTransport) and chosen.folder == tmp_path / "out"

    set_value(ctx, admin, "mail_transport", "smtp")
    with pytest.raises(InvalidInput, match="No SMTP server"):
        transport_from_settings(ctx)
    set_value(ctx, admin, "smtp_host", "mail.xoserve.example")
    set_value(ctx, admin, "smtp_username", "gatehouse")
    with pytest.raises(InvalidInput, match="no SMTP password"):
        transport_from_settings(ctx)
    set_secret(ctx, admin, "smtp_password", SMTP_PASSWORD)
    smtp = transport_from_settings(ctx)
    assert isinstance(smtp, SmtpTransport)
    assert (smtp.host, smtp.port, smtp.security, smtp.username) == (
        "mail.xoserve.example", 587, "starttls", "gatehouse")
    assert SMTP_PASSWORD not in repr(smtp) and SMTP_PASSWORD not in smtp.description
