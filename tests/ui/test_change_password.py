"""Changing my password from My account, end to end through the service and the store."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from services.auth import Session, sign_in
from services.context import Context
from services.errors import MfaCodeRequired, SignInFailed
from services.store.schema import outbox
from tests.ui.conftest import PASSWORD, wait_idle
from ui.account_page import AccountPage
from ui.change_password_dialog import WRONG_CURRENT, ChangePasswordDialog
from ui.task_runner import TaskRunner

NEW_PASSWORD = "copper lantern meadow violin quill"
WEAK = "Summer2026!!"


def _dialog(qtbot: QtBot, ctx: Context, session: Session,
            runner: TaskRunner) -> tuple[AccountPage, ChangePasswordDialog]:
    page = AccountPage(ctx, session, runner)
    qtbot.addWidget(page)
    page.show()
    page.change_password_button.click()
    dialog = page.change_dialog
    assert isinstance(dialog, ChangePasswordDialog) and dialog.isVisible()
    assert dialog.current.edit.hasFocus() or not dialog.isActiveWindow()
    return page, dialog


def _fill(qtbot: QtBot, dialog: ChangePasswordDialog, current: str, new: str,
          confirm: str | None = None) -> None:
    for field, text in ((dialog.current, current), (dialog.form.new, new),
                        (dialog.form.confirm, new if confirm is None else confirm)):
        field.edit.clear()
        qtbot.keyClicks(field.edit, text)


def _outcome(qtbot: QtBot, runner: TaskRunner, dialog: ChangePasswordDialog) -> None:
    qtbot.mouseClick(dialog.change_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, runner)


def test_change_password_end_to_end(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                    session_for: Callable[..., Session],
                                    secrets_to_scan: set[str]) -> None:
    secrets_to_scan.update({NEW_PASSWORD, WEAK, PASSWORD})
    session = session_for()
    login = session.operator.login_id
    page, dialog = _dialog(qtbot, ctx, session, runner)

    # A wrong current password: said plainly, that field cleared, the new one kept.
    _fill(qtbot, dialog, "not my password", NEW_PASSWORD)
    _outcome(qtbot, runner, dialog)
    assert dialog.message.text() == WRONG_CURRENT
    assert dialog.current.text() == "" and dialog.form.password() == NEW_PASSWORD
    assert not dialog.done_ok

    # A new password the policy refuses: every reason listed, the new fields cleared.
    _fill(qtbot, dialog, PASSWORD, WEAK)
    qtbot.waitUntil(lambda: not dialog.form.check.pending, timeout=30_000)
    assert dialog.form.meter.evaluation is not None
    assert not dialog.form.meter.evaluation.accepted  # the meter said so first
    _outcome(qtbot, runner, dialog)
    text = dialog.message.text()
    assert text.startswith("The new password was not accepted. Choose one that meets every "
                           "rule:\n• Too short: 12 characters; use at least 15.")
    assert "• Too predictable" in text
    assert dialog.form.password() == "" and dialog.form.confirm.text() == ""
    assert dialog.current.text() == PASSWORD  # still right, so kept
    assert WEAK not in text

    # Success: a message, every field scrubbed, and the new password signs in.
    changed: list[bool] = []
    dialog.password_changed.connect(lambda: changed.append(True))
    _fill(qtbot, dialog, PASSWORD, NEW_PASSWORD)
    _outcome(qtbot, runner, dialog)
    assert changed == [True] and dialog.done_ok
    assert dialog.success.text().startswith("Your password has been changed.")
    assert session.identity.email in dialog.success.text()
    assert dialog.message.isHidden()
    assert (dialog.current.text(), dialog.form.password(), dialog.form.confirm.text()) == \
        ("", "", "")
    assert dialog.change_button.isHidden() and dialog.close_button.text() == "Close"
    assert sign_in(ctx, login, NEW_PASSWORD).operator.subject == session.operator.subject
    with pytest.raises(SignInFailed):
        sign_in(ctx, login, PASSWORD)
    with ctx.store.read() as conn:
        kinds = conn.execute(select(outbox.c.kind).where(
            outbox.c.to_address == session.identity.email)).scalars().all()
    assert kinds == ["password_changed"]

    # Closing deletes the dialog; a second one refuses the password just set (history).
    dialog.close_button.click()
    qtbot.waitUntil(lambda: page.change_dialog is None)
    page.change_password_button.click()
    again = page.change_dialog
    assert again is not None and again.current.text() == ""
    _fill(qtbot, again, NEW_PASSWORD, NEW_PASSWORD)
    _outcome(qtbot, runner, again)
    assert "Used before: choose a password that differs from your last 5 passwords." in \
        again.message.text()
    again.close()
    wait_idle(qtbot, runner)


def test_confirmation_must_match(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                 session_for: Callable[..., Session]) -> None:
    _page, dialog = _dialog(qtbot, ctx, session_for(), runner)
    assert not dialog.change_button.isEnabled()
    _fill(qtbot, dialog, PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD[:-1])
    assert dialog.form.match.text() == "The two new passwords do not match yet."
    assert not dialog.change_button.isEnabled()
    wait_idle(qtbot, runner)  # the meter's evaluation
    dialog.submit()  # Enter with the button off does nothing either
    assert not runner.busy
    assert dialog.message.text() == "Type the same new password in both new-password fields."
    qtbot.keyClicks(dialog.form.confirm.edit, NEW_PASSWORD[-1])
    assert dialog.form.match.text() == "The two new passwords match."
    assert dialog.change_button.isEnabled()
    dialog.close()
    wait_idle(qtbot, runner)


def test_authenticator_field_appears_when_the_service_asks(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, session_for: Callable[..., Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import services.reset

    calls: list[str | None] = []

    def fake_change(_ctx: object, _op: object, _current: str, _new: str, *,
                    otp: str | None = None) -> None:
        calls.append(otp)
        if otp is None:
            raise MfaCodeRequired("Enter the current code from your authenticator app.")

    monkeypatch.setattr(services.reset, "change_password", fake_change)
    _page, dialog = _dialog(qtbot, ctx, session_for(), runner)
    assert dialog.otp.isHidden()
    _fill(qtbot, dialog, PASSWORD, NEW_PASSWORD)
    _outcome(qtbot, runner, dialog)
    assert not dialog.otp.isHidden() and dialog.otp_caption.isVisible()
    assert dialog.message.text() == "Enter the current code from your authenticator app."
    qtbot.keyClicks(dialog.otp, "123456")
    _outcome(qtbot, runner, dialog)
    assert calls == [None, "123456"] and dialog.done_ok
    dialog.close()
    wait_idle(qtbot, runner)
