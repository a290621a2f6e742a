"""The profile editor under My account: only the fields the role may change are editable, a
stale save says "changed by someone else" and offers a reload, and a change of e-mail is
confirmed with the code mailed to the new address (never shown in the window)."""

from __future__ import annotations

import re
from collections.abc import Callable

from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from services.auth import Session
from services.authz import SYSTEM
from services.context import Context
from services.identity_lifecycle import preview_claim
from services.profile import UNUSABLE_CODE, update_profile
from services.store.schema import outbox
from services.users import add_identity, get_identity
from tests.ui.conftest import Alerts, wait_idle
from ui.account_page import AccountPage
from ui.profile_editor import CONFLICT_TEXT, READ_ONLY_TIP, ProfileEditor
from ui.task_runner import TaskRunner


def _page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> AccountPage:
    page = AccountPage(ctx, session, runner)
    qtbot.addWidget(page)
    page.show()
    return page


def _type(qtbot: QtBot, editor: ProfileEditor, name: str, text: str) -> None:
    editor.fields[name].clear()
    qtbot.keyClicks(editor.fields[name], text)


def _mailed_codes(ctx: Context, address: str) -> list[str]:
    with ctx.store.read() as conn:
        rows = conn.execute(select(outbox.c.body_sealed).where(
            func.lower(outbox.c.to_address) == address.lower(),
            outbox.c.kind == "email_change")
            .order_by(outbox.c.id)).all()
    bodies = [ctx.vault.decrypt(r.body_sealed, "outbox-body").decode() for r in rows]
    return [c for body in bodies for c in dict.fromkeys(re.findall(r"[\w-]{43}", body))]


def test_a_person_corrects_their_own_details(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                             shown: Alerts,
                                             session_for: Callable[..., Session]) -> None:
    session = session_for()  # an ordinary self-service user
    page = _page(qtbot, ctx, session, runner)  # kept: qtbot holds widgets only weakly
    editor = page.profile
    # policies/identity.toml [profile] self: names, phone and job title, not the e-mail.
    assert editor.editable == {"given_name", "family_name", "phone", "job_title"}
    assert not any(edit.isReadOnly() for edit in editor.fields.values())
    assert editor.change_email_button.isHidden()
    assert "e-mail can be changed by your local security officer" in \
        editor.explanation.text()
    assert not editor.save_button.isEnabled()  # nothing changed yet

    _type(qtbot, editor, "given_name", "Testina")
    _type(qtbot, editor, "phone", "+44 121 623 2000")
    assert editor.changes() == {"given_name": "Testina", "phone": "+44 121 623 2000"}
    assert editor.save_button.isEnabled()
    with qtbot.waitSignal(editor.saved, timeout=30_000):
        editor.save_button.click()
    wait_idle(qtbot, runner)
    stored = get_identity(ctx, SYSTEM, session.operator.subject)
    assert (stored.given_name, stored.phone, stored.family_name) == (
        "Testina", "+44 121 623 2000", session.identity.family_name)
    assert editor.banner.isVisibleTo(editor) and "saved" in editor.banner.text()
    assert editor.detail is not None and editor.detail.version == stored.version
    assert not editor.save_button.isEnabled() and editor.changes() == {}
    assert shown.errors == [] and shown.internal == []

    # A value the service refuses: said inline, in the service's words, nothing stored.
    _type(qtbot, editor, "phone", "call me")
    editor.save_button.click()
    wait_idle(qtbot, runner)
    assert editor.message.isVisibleTo(editor)
    assert "is not a phone number" in editor.message.text()
    assert get_identity(ctx, SYSTEM, session.operator.subject).phone == "+44 121 623 2000"

    # Undo puts back what was read.
    editor.revert_button.click()
    assert editor.fields["phone"].text() == "+44 121 623 2000"
    assert not editor.save_button.isEnabled()


def test_a_stale_save_is_refused_and_reload_shows_the_current_details(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        session_for: Callable[..., Session]) -> None:
    session = session_for()
    page = _page(qtbot, ctx, session, runner)  # kept: qtbot holds widgets only weakly
    editor = page.profile
    subject = session.operator.subject
    # Someone else changes the identity after the page read it.
    update_profile(ctx, SYSTEM, subject, {"job_title": "Analyst"})
    _type(qtbot, editor, "family_name", "Mine")
    editor.save_button.click()
    wait_idle(qtbot, runner)
    assert editor.message.text() == CONFLICT_TEXT
    assert editor.fields["family_name"].text() == "Mine"  # what was typed is kept
    assert get_identity(ctx, SYSTEM, subject).family_name == session.identity.family_name
    assert shown.errors == []  # inline, not a message box

    with qtbot.waitSignal(editor.loaded, timeout=30_000):
        editor.reload_button.click()
    wait_idle(qtbot, runner)
    assert editor.fields["job_title"].text() == "Analyst"
    assert editor.message.isHidden()
    _type(qtbot, editor, "family_name", "Mine")
    with qtbot.waitSignal(editor.saved, timeout=30_000):
        editor.save_button.click()
    wait_idle(qtbot, runner)
    stored = get_identity(ctx, SYSTEM, subject)
    assert (stored.family_name, stored.job_title) == ("Mine", "Analyst")


def test_fields_the_role_may_not_change_are_read_only(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        session_for: Callable[..., Session]) -> None:
    lso = session_for("lso", org="NWGS")
    outsider = add_identity(ctx, SYSTEM, "kim.lee@elsewhere.example", "Kim", "Lee", "XOS")
    editor = ProfileEditor(ctx, lso.operator, runner)
    qtbot.addWidget(editor)
    editor.show_detail(outsider)  # another organisation: an LSO may change nothing there
    assert editor.editable == frozenset()
    assert all(edit.isReadOnly() and edit.toolTip() == READ_ONLY_TIP
               for edit in editor.fields.values())
    assert editor.change_email_button.isHidden()
    assert editor.explanation.text().startswith("Your role may not change any of these")
    qtbot.keyClicks(editor.fields["given_name"], "Mallory")  # read-only: typing does nothing
    assert editor.fields["given_name"].text() == "Kim" and not editor.save_button.isEnabled()

    own = add_identity(ctx, SYSTEM, "ann.ray@northwind.example", "Ann", "Ray", "NWGS")
    editor.show_detail(own)  # their own organisation: every field, the e-mail too
    assert editor.editable == {"given_name", "family_name", "phone", "job_title", "email"}
    assert not any(edit.isReadOnly() for edit in editor.fields.values())
    assert not editor.change_email_button.isHidden()


def test_changing_the_email_needs_the_code_sent_to_the_new_address(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts,
        session_for: Callable[..., Session], secrets_to_scan: set[str]) -> None:
    session = session_for("platform_admin")  # admins may change their own login ID
    page = _page(qtbot, ctx, session, runner)
    editor = page.profile
    old_login = session.operator.login_id
    assert not editor.change_email_button.isHidden()
    editor.change_email_button.click()
    assert editor.email_box.isVisibleTo(editor) and editor.code.isHidden()
    assert not editor.send_code_button.isEnabled()
    qtbot.keyClicks(editor.new_email, "New.Address@Xoserve.example")
    with qtbot.waitSignal(editor.code_sent, timeout=30_000):
        editor.send_code_button.click()
    wait_idle(qtbot, runner)
    codes = _mailed_codes(ctx, "New.Address@Xoserve.example")
    assert len(codes) == 1
    secrets_to_scan.add(codes[0])
    note = editor.code_note.text()
    assert note.startswith("A confirmation code was sent to new.address@xoserve.example.")
    assert codes[0] not in note  # proving the address is the point: never shown here
    assert editor.code.isVisibleTo(editor)

    # A wrong code: refused in place, the login ID unchanged.
    qtbot.keyClicks(editor.code, "not-the-code")
    editor.confirm_code_button.click()
    wait_idle(qtbot, runner)
    assert editor.email_error.text() == UNUSABLE_CODE
    assert get_identity(ctx, SYSTEM, session.operator.subject).login_id == old_login

    editor.code.clear()
    qtbot.keyClicks(editor.code, codes[0])
    with qtbot.waitSignal(editor.saved, timeout=30_000):
        editor.confirm_code_button.click()
    wait_idle(qtbot, runner)
    stored = get_identity(ctx, SYSTEM, session.operator.subject)
    assert stored.login_id == "new.address@xoserve.example"
    assert stored.subject == session.operator.subject  # the subject id stays
    assert editor.email_value.text() == stored.email
    assert editor.email_box.isHidden()
    assert page.values["login_id"].text() == "new.address@xoserve.example"
    assert preview_claim(ctx, SYSTEM, old_login).reusable_after is not None  # tombstoned
    assert shown.errors == [] and shown.internal == []
