"""The second factor in the sign-in dialog (issue 6): the code step, recovery codes, and the
enrolment wizard when two-step verification is required — forced after the grace period,
offered with "Later" during it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pyotp
from pytestqt.qtbot import QtBot

from services.auth import MfaStep, Session, sign_in, sign_in_with_recovery_code
from services.authz import Action, Operator, allowed
from services.clock import ManualClock
from services.context import Context
from tests.conftest import enrol_verified
from tests.ui.conftest import PASSWORD, save_screenshot, wait_idle
from ui.mfa_enrolment_wizard import CODES, CONFIRM, DONE, SCAN, MfaEnrolmentWizard
from ui.sign_in_dialog import SignInDialog
from ui.task_runner import TaskRunner


def _dialog(qtbot: QtBot, ctx: Context, runner: TaskRunner) -> SignInDialog:
    dialog = SignInDialog(runner)
    qtbot.addWidget(dialog)
    dialog.set_context(ctx)
    dialog.show()
    return dialog


def _password(qtbot: QtBot, dialog: SignInDialog, runner: TaskRunner, login_id: str) -> None:
    dialog.email.setText(login_id)
    dialog.password.setText(PASSWORD)
    dialog.accept_terms.setChecked(True)
    dialog.sign_in_button.click()
    qtbot.waitUntil(lambda: dialog.steps.currentWidget() is not dialog.credentials_page
                    or dialog.wizard is not None or dialog.session is not None, timeout=30_000)
    wait_idle(qtbot, runner)


def _enrolled(ctx: Context, make_person: Callable[..., Operator],
              secrets_to_scan: set[str]) -> tuple[Operator, str, list[str]]:
    """An LSO with an authenticator: (person, secret, recovery codes)."""
    person = make_person("lso", password=PASSWORD)
    seen: set[str] = set()
    enrol_verified(ctx, sign_in(ctx, person.login_id, PASSWORD), seen)
    secrets_to_scan.update(seen)
    secret = next(s for s in seen if "-" not in s)
    return person, secret, sorted(s for s in seen if "-" in s)


def _code(dialog: SignInDialog, qtbot: QtBot, runner: TaskRunner, code: str) -> None:
    dialog.code.setText(code)
    dialog.sign_in_button.click()
    wait_idle(qtbot, runner)


def test_code_needed_asks_for_the_code_and_refuses_a_wrong_one(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner,
        make_person: Callable[..., Operator], secrets_to_scan: set[str]) -> None:
    person, secret, _codes = _enrolled(ctx, make_person, secrets_to_scan)
    clock.advance(timedelta(seconds=30))  # the enrolment's own code cannot be replayed
    dialog = _dialog(qtbot, ctx, runner)
    _password(qtbot, dialog, runner, person.login_id)
    assert dialog.steps.currentWidget() is dialog.code_page
    assert dialog.code.hasFocus() and dialog.sign_in_button.text() == "&Verify"
    assert dialog.session is None

    right = pyotp.TOTP(secret).at(clock.now())
    _code(dialog, qtbot, runner, "000000" if right != "000000" else "111111")
    assert dialog.message.text().startswith("That code was not accepted")
    assert dialog.code.text() == "" and dialog.steps.currentWidget() is dialog.code_page

    with qtbot.waitSignal(dialog.signed_in, timeout=30_000) as signal:
        dialog.code.setText(right)
        dialog.sign_in_button.click()
    session = signal.args[0]
    assert session.mfa is MfaStep.VERIFIED and session.operator.mfa_verified
    assert allowed(session.operator, Action.IDENTITY_UPDATE, org_id=person.organisation_id)
    assert dialog.result() == SignInDialog.DialogCode.Accepted


def test_repeated_wrong_codes_pause_verification(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator], secrets_to_scan: set[str]) -> None:
    person, secret, _codes = _enrolled(ctx, make_person, secrets_to_scan)
    dialog = _dialog(qtbot, ctx, runner)
    _password(qtbot, dialog, runner, person.login_id)
    wrong = "000000" if pyotp.TOTP(secret).at(ctx.now()) != "000000" else "111111"
    for _ in range(5):
        _code(dialog, qtbot, runner, wrong)
    assert dialog.message.text().startswith("Two-step verification is paused for this account")
    assert dialog.session is None and dialog.isVisible()


def test_recovery_code_signs_in_and_prompts_re_enrolment_when_few_are_left(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator], secrets_to_scan: set[str]) -> None:
    person, _secret, codes = _enrolled(ctx, make_person, secrets_to_scan)
    dialog = _dialog(qtbot, ctx, runner)
    _password(qtbot, dialog, runner, person.login_id)
    dialog.recovery_toggle.click()
    assert dialog.using_recovery and dialog.code_caption.text() == "&Recovery code"
    with qtbot.waitSignal(dialog.signed_in, timeout=30_000) as signal:
        dialog.code.setText(codes[0].lower())  # as typed: case does not matter
        dialog.sign_in_button.click()
    first = signal.args[0]
    assert first.mfa is MfaStep.VERIFIED and first.recovery_codes_left == 9
    assert not first.reenrol_advised
    wait_idle(qtbot, runner)

    for code in codes[1:7]:  # six more used elsewhere: three remain after the next one
        sign_in_with_recovery_code(ctx, sign_in(ctx, person.login_id, PASSWORD), code)
    again = _dialog(qtbot, ctx, runner)
    _password(qtbot, again, runner, person.login_id)
    again.recovery_toggle.click()
    _code(again, qtbot, runner, codes[7])
    assert again.steps.currentWidget() is again.offer_page
    assert "2 of them are left" in again.offer_text.text()
    assert again.later_button.isVisible() and again.session is None
    with qtbot.waitSignal(again.signed_in, timeout=30_000) as later:
        again.later_button.click()
    assert later.args[0].reenrol_advised and later.args[0].mfa is MfaStep.VERIFIED


def _through_wizard(qtbot: QtBot, wizard: MfaEnrolmentWizard, runner: TaskRunner,
                    ctx: Context, secrets_to_scan: set[str]) -> None:
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == SCAN, timeout=30_000)
    wait_idle(qtbot, runner)
    secret = wizard.key_field.text().replace(" ", "")
    secrets_to_scan.add(secret)
    wizard.next_button.click()
    assert wizard.step == CONFIRM
    wizard.code.setText(pyotp.TOTP(secret).at(ctx.now()))
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == CODES, timeout=30_000)
    secrets_to_scan.update(wizard.codes_view.toPlainText().split()[1::2])
    wizard.stored.setChecked(True)
    wizard.next_button.click()
    assert wizard.step == DONE
    wizard.next_button.click()


def test_enrol_now_opens_only_the_wizard_and_ends_verified(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner,
        make_person: Callable[..., Operator], secrets_to_scan: set[str]) -> None:
    person = make_person("lso", password=PASSWORD)
    assert sign_in(ctx, person.login_id, PASSWORD).mfa is MfaStep.ENROL_SOON  # grace starts
    clock.advance(timedelta(days=15))  # the 14-day grace period is over
    dialog = _dialog(qtbot, ctx, runner)
    _password(qtbot, dialog, runner, person.login_id)
    wizard = dialog.wizard
    assert wizard is not None and wizard.isVisible() and wizard.forced
    assert wizard.isModal() or wizard.windowModality() != wizard.windowModality().NonModal
    assert not dialog.sign_in_button.isEnabled()  # nothing else until it is done
    assert "Nothing else is possible until it is set up" in wizard.deadline.text()
    assert dialog.session is None
    with qtbot.waitSignal(dialog.signed_in, timeout=30_000) as signal:
        _through_wizard(qtbot, wizard, runner, ctx, secrets_to_scan)
    session: Session = signal.args[0]
    assert session.mfa is MfaStep.VERIFIED and session.operator.restriction is None
    assert session.operator.mfa_verified


def test_cancelling_a_forced_enrolment_returns_to_the_password(
        qtbot: QtBot, ctx: Context, clock: ManualClock, runner: TaskRunner,
        make_person: Callable[..., Operator]) -> None:
    person = make_person("lso", password=PASSWORD)
    sign_in(ctx, person.login_id, PASSWORD)
    clock.advance(timedelta(days=15))
    dialog = _dialog(qtbot, ctx, runner)
    _password(qtbot, dialog, runner, person.login_id)
    wizard = dialog.wizard
    assert wizard is not None
    wizard.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.wizard is None)
    assert dialog.steps.currentWidget() is dialog.credentials_page
    assert dialog.message.text().startswith("Two-step verification is required for your "
                                            "account and must be set up")
    assert dialog.session is None and dialog.isVisible()


def test_enrol_soon_offers_the_wizard_with_later(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator], secrets_to_scan: set[str],
        tmp_path: Path) -> None:
    admin = make_person("platform_admin", password=PASSWORD)
    dialog = _dialog(qtbot, ctx, runner)
    _password(qtbot, dialog, runner, admin.login_id)
    assert dialog.steps.currentWidget() is dialog.offer_page
    assert "must use two-step verification by" in dialog.offer_text.text()
    assert dialog.sign_in_button.text() == "&Set up now…" and dialog.later_button.isVisible()
    save_screenshot(dialog, "mfa_sign_in_offer", tmp_path)
    # "Set up now", then cancelled: back to the offer, still not signed in.
    dialog.sign_in_button.click()
    wizard = dialog.wizard
    assert wizard is not None and not wizard.forced
    wizard.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.wizard is None)
    assert dialog.steps.currentWidget() is dialog.offer_page and dialog.session is None
    with qtbot.waitSignal(dialog.signed_in, timeout=30_000) as signal:
        dialog.later_button.click()
    session: Session = signal.args[0]
    assert session.mfa is MfaStep.ENROL_SOON and not session.operator.mfa_verified
    # Later: reading is allowed, privileged changes are not.
    assert allowed(session.operator, Action.IDENTITY_READ)
    assert not allowed(session.operator, Action.IDENTITY_UPDATE)


def test_enrol_soon_set_up_now_ends_verified(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator], secrets_to_scan: set[str]) -> None:
    admin = make_person("platform_admin", password=PASSWORD)
    dialog = _dialog(qtbot, ctx, runner)
    _password(qtbot, dialog, runner, admin.login_id)
    dialog.sign_in_button.click()
    wizard = dialog.wizard
    assert wizard is not None
    with qtbot.waitSignal(dialog.signed_in, timeout=30_000) as signal:
        _through_wizard(qtbot, wizard, runner, ctx, secrets_to_scan)
    assert signal.args[0].mfa is MfaStep.VERIFIED
    assert allowed(signal.args[0].operator, Action.IDENTITY_UPDATE)
