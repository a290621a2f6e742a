"""The transactional outbox and the mail templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.authz import SYSTEM
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from services.mail import templates
from services.mail.outbox import enqueue, list_outbox, read_body, requeue, seal_values
from services.mail.templates import TemplateError, render
from services.store.schema import identity, outbox
from services.users import get_identity

TOKEN = "tok-7Hq2xVwP3mZk9LrT4nYb8sDc1fGj5aEe"
RESET_VALUES = {"given_name": "Alex", "token": TOKEN, "expires_at": "2026-01-05 09:30 UTC"}


@pytest.fixture(autouse=True)
def _scan_audit_for_these(secrets_to_scan: set[str]) -> None:
    """The shared audit scan (tests/conftest.py) also looks for this module's secrets."""
    secrets_to_scan.update({TOKEN})


def _person(ctx, make_person, email="alex.morgan@northwind.example"):
    op = make_person(email=email)
    return get_identity(ctx, SYSTEM, op.subject)


def _count(ctx) -> int:
    with ctx.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


# ---- templates -----------------------------------------------------------------------------


def test_every_shipped_template_renders_with_its_declared_values() -> None:
    kinds = templates.available()
    assert {"reset_link", "password_changed", "intake_rejected"} <= set(kinds)
    for kind in kinds:
        declared = templates.load(kind).requires
        values = {name: f"<{name}>" for name in declared}
        mail = render(kind, values)
        assert mail.subject and "\n" not in mail.subject
        for name in declared:
            assert f"<{name}>" in mail.subject + mail.body
        assert "$" not in mail.body.replace("$$", "")
        assert mail.body.endswith("\n")


def test_reset_link_carries_the_code_and_its_expiry() -> None:
    mail = render("reset_link", {**RESET_VALUES, "purpose": "self_service"})
    assert TOKEN in mail.body and "2026-01-05 09:30 UTC" in mail.body
    assert mail.body.startswith("Hello Alex,")


def test_missing_values_and_unknown_templates_are_programming_errors() -> None:
    with pytest.raises(TemplateError, match=r"needs the values \['token'\]"):
        render("reset_link", {"given_name": "Alex", "expires_at": "soon"})
    with pytest.raises(TemplateError, match="no mail template"):
        render("welcome_pack", {})
    with pytest.raises(TemplateError, match="not a mail template name"):
        render("../terms", {})


def test_template_placeholders_must_be_declared(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "sloppy.txt").write_text("Subject: Hi $given_name\nRequires: given_name\n\n"
                                         "Your code: $token\n", encoding="utf-8")
    (tmp_path / "headless.txt").write_text("Hello\n", encoding="utf-8")
    monkeypatch.setattr(templates, "TEMPLATE_DIR", tmp_path)
    templates.load.cache_clear()
    try:
        with pytest.raises(TemplateError, match=r"\['token'\] are not declared"):
            templates.load("sloppy")
        with pytest.raises(TemplateError, match="blank line"):
            templates.load("headless")
    finally:
        templates.load.cache_clear()


def test_a_value_cannot_inject_a_header(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "greeting.txt").write_text("Subject: Hello $given_name\nRequires: given_name"
                                           "\n\nHi\n", encoding="utf-8")
    monkeypatch.setattr(templates, "TEMPLATE_DIR", tmp_path)
    templates.load.cache_clear()
    try:
        assert render("greeting", {"given_name": "Alex"}).subject == "Hello Alex"
        with pytest.raises(TemplateError, match="one line"):
            render("greeting", {"given_name": "Alex\r\nBcc: everyone@example.com"})
    finally:
        templates.load.cache_clear()


# ---- the outbox ----------------------------------------------------------------------------


def test_enqueued_message_exists_once_the_transaction_commits(ctx, make_person) -> None:
    person = _person(ctx, make_person)
    with ctx.store.write() as conn:
        outbox_id = enqueue(ctx, conn, kind="reset_link", to_address=person.email,
                            identity_subject=person.subject, values=RESET_VALUES)
    with ctx.store.read() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()
    assert (row.kind, row.to_address, row.status, row.attempts, row.version) == (
        "reset_link", "alex.morgan@northwind.example", "pending", 0, 1)
    assert row.subject_line == "Your Gatehouse password reset code"
    assert row.next_attempt_at == ctx.now()
    assert row.identity_subject == person.subject


def test_no_message_when_the_transaction_rolls_back(ctx, make_person) -> None:
    person = _person(ctx, make_person)
    before = _count(ctx)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), ctx.store.write() as conn:
        enqueue(ctx, conn, kind="reset_link", to_address=person.email,
                identity_subject=person.subject, values=RESET_VALUES)
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == before + 1
        raise Boom
    assert _count(ctx) == before


def test_body_is_sealed_at_rest(ctx, make_person) -> None:
    person = _person(ctx, make_person)
    with ctx.store.write() as conn:
        outbox_id = enqueue(ctx, conn, kind="reset_link", to_address=person.email,
                            identity_subject=person.subject, values=RESET_VALUES)
    with ctx.store.read() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).one()
    assert TOKEN not in " ".join(map(str, row))
    assert row.body_sealed.startswith("v1.")
    assert TOKEN in read_body(ctx, row.body_sealed)


def test_sealed_values_read_back_as_the_rendered_body(ctx) -> None:
    """Bulk work seals a template's values instead of its text; reading renders them."""
    sealed = seal_values(ctx, "reset_link", RESET_VALUES)
    assert TOKEN not in sealed and sealed.startswith("v1.")
    assert read_body(ctx, sealed) == render("reset_link", RESET_VALUES).body
    assert len(sealed) < len(ctx.vault.encrypt(render("reset_link", RESET_VALUES).body.encode(),
                                               "outbox-body")) / 2


def test_mail_goes_only_to_the_stored_address(ctx, make_person) -> None:
    person = _person(ctx, make_person)
    before = _count(ctx)
    # The same login ID typed differently is still not the stored address.
    for typed in ("ALEX.MORGAN@northwind.example", "alex.morgan@northwind.example\r\nBcc: x@y"):
        with pytest.raises(InvalidInput), ctx.store.write() as conn:
            enqueue(ctx, conn, kind="reset_link", to_address=typed,
                    identity_subject=person.subject, values=RESET_VALUES)
    with pytest.raises(InvalidInput), ctx.store.write() as conn:
        enqueue(ctx, conn, kind="reset_link", to_address="a@x.example, b@y.example",
                identity_subject=None, values=RESET_VALUES)
    with pytest.raises(NotFound), ctx.store.write() as conn:
        enqueue(ctx, conn, kind="reset_link", to_address=person.email,
                identity_subject="00000000-0000-0000-0000-000000000000", values=RESET_VALUES)
    with ctx.store.read() as conn:
        stored = conn.execute(select(identity.c.email).where(
            identity.c.subject == person.subject)).scalar_one()
    assert stored == "alex.morgan@northwind.example"
    assert _count(ctx) == before


def test_listing_and_requeueing(ctx, make_person) -> None:
    admin = make_person("platform_admin")
    person = _person(ctx, make_person)
    with ctx.store.write() as conn:
        outbox_id = enqueue(ctx, conn, kind="password_changed", to_address=person.email,
                            identity_subject=person.subject,
                            values={"given_name": "Alex", "changed_at": "now"})
    items = list_outbox(ctx, admin, status="pending")
    assert [i.id for i in items] == [outbox_id]
    assert "body" not in " ".join(items[0].as_dict())
    with pytest.raises(PermissionDenied):
        list_outbox(ctx, make_person())
    with pytest.raises(InvalidInput, match="only a failed message"):
        requeue(ctx, admin, outbox_id, items[0].version)
    with ctx.store.write() as conn:
        conn.execute(outbox.update().where(outbox.c.id == outbox_id).values(
            status="failed", attempts=8, version=outbox.c.version + 1, next_attempt_at=None))
    with pytest.raises(Conflict):
        requeue(ctx, admin, outbox_id, items[0].version)
    again = requeue(ctx, admin, outbox_id, items[0].version + 1)
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, ctx.now())
