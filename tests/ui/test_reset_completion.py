"""Completing a password reset from the sign-in dialog, with codes read from the outbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from services.auth import sign_in
from services.authz import SYSTEM, Operator
from services.context import Context
from services.errors import MfaCodeRequired
from services.reset import REQUEST_ANSWER, UNUSABLE_CODE_MESSAGE, force_reset
from services.users import get_identity
from tests.ui.conftest import PASSWORD, mailed_codes, wait_idle
from ui.reset_completion_dialog import DONE_TEXT, ResetCompletionDialog
from ui.sign_in_dialog import SignInDialog
from ui.task_runner import TaskRunner

NEW_PASSWORD = "walnut harbour cobalt thistle"


def _open(qtbot: QtBot, ctx: Context, runner: TaskRunner) -> tuple[SignInDialog,
                                                                    ResetCompletionDialog]:
    sign_in_dialog = SignInDialog(runner)
    qtbot.addWidget(sign_in_dialog)
    assert not sign_in_dialog.reset_link.isEnabled()  # not before the store is open
    sign_in_dialog.set_context(ctx)
    sign_in_dialog.show()
    assert sign_in_dialog.reset_link.isEnabled()
    sign_in_dialog.reset_link.click()
    dialog = sign_in_dialog.reset_dialog
    assert isinstance(dialog, ResetCompletionDialog) and dialog.isVisible()
    return sign_in_dialog, dialog


def _fill(qtbot: QtBot, dialog: ResetCompletionDialog, code: str, new: str) -> None:
    for field, text in ((dialog.code, code), (dialog.form.new, new),
                        (dialog.form.confirm, new)):
        field.edit.clear()
        qtbot.keyClicks(field.edit, text)


def _submit(qtbot: QtBot, runner: TaskRunner, dialog: ResetCompletionDialog) -> None:
    dialog.set_button.click()
    wait_idle(qtbot, runner)


def test_complete_a_forced_reset_with_the_mailed_code(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator], secrets_to_scan: set[str]) -> None:
    admin = make_person("platform_admin")
    person = make_person(password=PASSWORD)
    email = get_identity(ctx, SYSTEM, person.subject).email
    force_reset(ctx, admin, person.login_id, reason="suspected compromise")
    [code] = mailed_codes(ctx, email)
    secrets_to_scan.update({code, NEW_PASSWORD})
    sign_in_dialog, dialog = _open(qtbot, ctx, runner)

    # A wrong code: said so, and that field cleared.
    _fill(qtbot, dialog, "x" * 43, NEW_PASSWORD)
    _submit(qtbot, runner, dialog)
    assert dialog.message.text() == UNUSABLE_CODE_MESSAGE
    assert dialog.code.text() == "" and not dialog.done_ok

    # A refused password keeps the code usable: only the password is typed again.
    _fill(qtbot, dialog, code, "password123")
    qtbot.waitUntil(lambda: dialog.form.meter.evaluation is not None, timeout=30_000)
    assert not dialog.form.meter.evaluation.accepted
    _submit(qtbot, runner, dialog)
    assert dialog.message.text().startswith("The new password was not accepted.")
    assert "Too common" in dialog.message.text()
    assert dialog.code.text() == code and dialog.form.password() == ""

    completed: list[str] = []
    dialog.completed.connect(completed.append)
    _fill(qtbot, dialog, code, NEW_PASSWORD)
    _submit(qtbot, runner, dialog)
    assert completed == [person.subject] and dialog.done_ok
    assert dialog.success.text() == DONE_TEXT == \
        "Your new password is set. Sign in with your new password."
    assert (dialog.code.text(), dialog.form.password(), dialog.form.confirm.text()) == \
        ("", "", "")
    assert dialog.close_button.text() == "Back to sign in" and dialog.set_button.isHidden()
    # Nobody is signed in by the reset; the person signs in themselves.
    assert sign_in_dialog.session is None and sign_in_dialog.isVisible()
    assert sign_in(ctx, person.login_id, NEW_PASSWORD).operator.subject == person.subject
    assert get_identity(ctx, SYSTEM, person.subject).status == "active"

    dialog.close_button.click()
    qtbot.waitUntil(lambda: sign_in_dialog.reset_dialog is None)


def test_ask_for_a_code_then_use_it(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                    make_person: Callable[..., Operator],
                                    secrets_to_scan: set[str]) -> None:
    person = make_person(password=PASSWORD)
    email = get_identity(ctx, SYSTEM, person.subject).email
    _sign_in, dialog = _open(qtbot, ctx, runner)
    dialog.request_button.click()
    assert dialog.request_answer.text() == "Type your e-mail address first."
    qtbot.keyClicks(dialog.request_email, email.upper())
    with qtbot.waitSignal(dialog.code_requested, timeout=30_000):
        dialog.request_button.click()
    assert dialog.request_answer.text() == REQUEST_ANSWER
    [code] = mailed_codes(ctx, email)
    secrets_to_scan.update({code, NEW_PASSWORD})
    _fill(qtbot, dialog, code, NEW_PASSWORD)
    _submit(qtbot, runner, dialog)
    assert dialog.done_ok
    assert sign_in(ctx, email, NEW_PASSWORD).operator.subject == person.subject

    # Unknown addresses get the very same answer (OWASP: no account enumeration).
    dialog.request_email.setText("nobody@nowhere.example")
    with qtbot.waitSignal(dialog.code_requested, timeout=30_000):
        dialog.request_button.click()
    assert dialog.request_answer.text() == REQUEST_ANSWER
    dialog.close()
    wait_idle(qtbot, runner)


def test_authenticator_field_appears_when_the_service_asks(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import services.reset

    calls: list[str | None] = []

    def fake_complete(_ctx: object, _token: str, _password: str, *,
                      otp: str | None = None) -> str:
        calls.append(otp)
        if otp is None:
            raise MfaCodeRequired("This account has two-step verification: enter the current "
                               "code from your authenticator app as well as the reset code.")
        return "subject"

    monkeypatch.setattr(services.reset, "complete_reset", fake_complete)
    _sign_in, dialog = _open(qtbot, ctx, runner)
    assert dialog.otp.isHidden()
    _fill(qtbot, dialog, "some-code", NEW_PASSWORD)
    _submit(qtbot, runner, dialog)
    assert not dialog.otp.isHidden()
    assert dialog.message.text().startswith("This account has two-step verification")
    assert dialog.code.text() == "some-code"  # still needed with the authenticator code
    qtbot.keyClicks(dialog.otp, "654321")
    _submit(qtbot, runner, dialog)
    assert calls == [None, "654321"] and dialog.done_ok
    dialog.close()
    wait_idle(qtbot, runner)


def test_keyboard_order_is_the_reset_then_asking_for_a_code(qtbot: QtBot, ctx: Context,
                                                            runner: TaskRunner) -> None:
    from tests.ui.test_sign_in_dialog import _next_tab_stop

    _sign_in, dialog = _open(qtbot, ctx, runner)
    dialog.code.edit.setFocus()
    stops = [dialog.code.edit]
    while len(stops) < 9:
        stops.append(_next_tab_stop(stops[-1]))
    assert stops == [dialog.code.edit, dialog.code.show_button, dialog.form.new.edit,
                     dialog.form.new.show_button, dialog.form.confirm.edit,
                     dialog.form.confirm.show_button, dialog.close_button,
                     dialog.request_email, dialog.request_button]  # Set is off until filled
    dialog.close()
    wait_idle(qtbot, runner)
