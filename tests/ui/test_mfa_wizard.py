"""The enrolment wizard from start to finish (issue 6, acceptance 5): the test reads the key
from the dialog as a person would, computes the code with pyotp at the store's clock, confirms,
sees the recovery codes, and checks that the QR code on screen is the provisioning URI's."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pyotp
import pytest
import segno
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from services.auth import MfaStep, Session, sign_in
from services.authz import Operator
from services.context import Context
from services.mfa.enrolment import my_status
from services.store.schema import mfa_credential
from tests.ui.conftest import PASSWORD, Alerts, save_screenshot, wait_idle
from ui.appearance import RESOURCES
from ui.mfa_clipboard import CLEAR_AFTER_MS, guard
from ui.mfa_enrolment_wizard import CODES, CONFIRM, DONE, INTRO, SCAN, MfaEnrolmentWizard
from ui.mfa_qr_view import QUIET_ZONE, QrCodeView
from ui.task_runner import TaskRunner

STYLE = (RESOURCES / "style.qss").read_text(encoding="utf-8")


def _signed_in(ctx: Context, make_person: Callable[..., Operator],
               role: str = "platform_admin") -> Session:
    person = make_person(role, password=PASSWORD)
    session = sign_in(ctx, person.login_id, PASSWORD)
    assert session.mfa is MfaStep.ENROL_SOON  # required, in the grace period, not verified
    return session


def _wizard(qtbot: QtBot, ctx: Context, runner: TaskRunner, session: Session) -> MfaEnrolmentWizard:
    wizard = MfaEnrolmentWizard(ctx, session, runner)
    wizard.setStyleSheet(STYLE)  # as the application styles it, for the screenshots
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    return wizard


def _to_scan(qtbot: QtBot, wizard: MfaEnrolmentWizard, runner: TaskRunner) -> None:
    assert wizard.step == INTRO and wizard.next_button.isDefault()
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == SCAN, timeout=30_000)
    wait_idle(qtbot, runner)


def _modules_on_screen(view: QrCodeView) -> list[list[bool]]:
    """Read the QR code back from the rendered widget, one pixel at each module's centre."""
    image: QImage = view.grab().toImage()
    ratio = image.devicePixelRatio()
    x0, y0, module = view.geometry_of_modules()
    count = len(view.matrix)
    return [[image.pixelColor(int((x0 + (c + 0.5) * module) * ratio),
                              int((y0 + (r + 0.5) * module) * ratio)).lightness() < 128
             for c in range(count)] for r in range(count)]


def test_whole_wizard_enrols_and_shows_recovery_codes_once(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, make_person: Callable[..., Operator],
        secrets_to_scan: set[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = _signed_in(ctx, make_person)
    wizard = _wizard(qtbot, ctx, runner, session)
    _to_scan(qtbot, wizard, runner)

    # The key as the person sees it: groups of four, read from the dialog.
    shown_key = wizard.key_field.text()
    groups = shown_key.split(" ")
    assert all(len(g) == 4 for g in groups[:-1]) and 0 < len(groups[-1]) <= 4
    secret = shown_key.replace(" ", "")
    assert len(secret) == 32  # 160 bits of base32
    secrets_to_scan.add(secret)

    # The QR code on screen is the provisioning URI: the rendered modules equal segno's matrix
    # for that URI, with the quiet zone around them left white.
    uri = pyotp.TOTP(secret).provisioning_uri(name=session.identity.login_id,
                                              issuer_name="Gatehouse")
    assert uri.startswith("otpauth://totp/Gatehouse:") and f"secret={secret}" in uri
    expected = [[bool(cell) for cell in row] for row in segno.make(uri, error="m").matrix]
    on_screen = _modules_on_screen(wizard.qr)
    assert on_screen == expected
    x0, _y0, module = wizard.qr.geometry_of_modules()
    assert module >= 3 and x0 >= QUIET_ZONE * module  # large enough to scan, with a margin
    save_screenshot(wizard, "mfa_wizard_qr", tmp_path)

    # Copy: the key goes to the clipboard and is cleared by the guard's 30 s timer.
    wizard.copy_key_button.click()
    clipboard = QGuiApplication.clipboard()
    assert clipboard.text() == secret
    assert guard().timer.isActive() and guard().timer.interval() == CLEAR_AFTER_MS == 30_000
    guard().timer.timeout.emit()
    assert clipboard.text() == ""

    wizard.next_button.click()
    assert wizard.step == CONFIRM and wizard.code.hasFocus()
    # A wrong code first: refused, the wizard stays on the step, the enrolment stays pending.
    qtbot.keyClicks(wizard.code, "000000" if pyotp.TOTP(secret).at(ctx.now()) != "000000"
                    else "111111")
    wizard.next_button.click()
    qtbot.waitUntil(lambda: not wizard.message.isHidden(), timeout=30_000)
    wait_idle(qtbot, runner)
    assert wizard.step == CONFIRM
    assert wizard.message.text().startswith("That code does not match the new authenticator.")
    assert not my_status(ctx, session.operator).enrolled

    wizard.code.setText(pyotp.TOTP(secret).at(ctx.now()))  # at the store's (manual) clock
    with qtbot.waitSignal(wizard.enrolled, timeout=30_000) as signal:
        wizard.next_button.click()
    verified = signal.args[0]
    assert verified.mfa is MfaStep.VERIFIED and verified.operator.mfa_verified
    assert wizard.session is verified
    assert wizard.step == CODES
    assert wizard.key_field.text() == "" and wizard.qr.matrix == ()  # the secret is scrubbed
    words = wizard.codes_view.toPlainText().split()
    shown_codes = {int(n.rstrip(".")): code for n, code in zip(words[::2], words[1::2],
                                                               strict=True)}
    codes = [shown_codes[n] for n in sorted(shown_codes)]
    assert sorted(shown_codes) == list(range(1, 11))
    assert len(codes) == 10 and all(len(c.replace("-", "")) == 10 for c in codes)
    secrets_to_scan.update(codes)
    status = my_status(ctx, verified.operator)
    assert status.enrolled and status.recovery_codes_left == 10
    save_screenshot(wizard, "mfa_wizard_codes", tmp_path)

    # Finishing needs the "stored" tick; closing now keeps the dialog open and says why.
    assert not wizard.next_button.isEnabled() and wizard.cancel_button.isHidden()
    wizard.reject()
    assert wizard.isVisible() and "Store the recovery codes first" in wizard.message.text()

    # Save writes a file only its owner can read; Print goes to the chosen printer.
    target = tmp_path / "codes.txt"
    monkeypatch.setattr(wizard, "ask_save_path", lambda: target)
    wizard.save_button.click()
    qtbot.waitUntil(lambda: target.exists() and "Saved to" in wizard.codes_note.text(),
                    timeout=30_000)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    saved = target.read_text()
    assert all(code in saved for code in codes)
    pdf = tmp_path / "codes.pdf"

    def printer() -> QPrinter:
        chosen = QPrinter(QPrinter.PrinterMode.ScreenResolution)
        chosen.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        chosen.setOutputFileName(str(pdf))
        return chosen

    monkeypatch.setattr(wizard, "ask_printer", printer)
    wizard.print_button.click()
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    wizard.copy_codes_button.click()
    assert clipboard.text().split("\n") == codes
    guard().clear_now()
    assert clipboard.text() == ""

    wizard.stored.setChecked(True)
    assert wizard.next_button.isEnabled()
    wizard.next_button.click()
    assert wizard.step == DONE and wizard.codes_view.toPlainText() == ""
    wizard.next_button.click()
    assert wizard.result() == MfaEnrolmentWizard.DialogCode.Accepted


def test_clipboard_is_left_alone_if_the_person_copied_something_else(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator]) -> None:
    wizard = _wizard(qtbot, ctx, runner, _signed_in(ctx, make_person, "lso"))
    _to_scan(qtbot, wizard, runner)
    wizard.copy_key_button.click()
    QGuiApplication.clipboard().setText("something the person copied later")
    guard().timer.timeout.emit()
    assert QGuiApplication.clipboard().text() == "something the person copied later"


def test_cancel_leaves_the_enrolment_unconfirmed(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator]) -> None:
    session = _signed_in(ctx, make_person)
    wizard = _wizard(qtbot, ctx, runner, session)
    _to_scan(qtbot, wizard, runner)
    assert wizard.back_button.isVisible()
    wizard.back_button.click()
    assert wizard.step == INTRO
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.step == SCAN, timeout=30_000)
    wait_idle(qtbot, runner)
    wizard.cancel_button.click()
    assert wizard.result() == MfaEnrolmentWizard.DialogCode.Rejected
    assert wizard.key_field.text() == "" and wizard.qr.matrix == ()
    status = my_status(ctx, session.operator)
    assert status.pending and not status.enrolled
    with ctx.store.read() as conn:
        statuses = conn.execute(select(mfa_credential.c.status).where(
            mfa_credential.c.subject == session.identity.subject)).scalars().all()
    assert statuses == ["pending"]  # one pending: a restart replaced the first


def test_replacing_an_authenticator_needs_a_verified_sign_in(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, make_person: Callable[..., Operator],
        shown: Alerts) -> None:
    from tests.conftest import enrol_verified

    person = make_person("lso", password=PASSWORD)
    enrol_verified(ctx, sign_in(ctx, person.login_id, PASSWORD))
    again = sign_in(ctx, person.login_id, PASSWORD)
    assert again.mfa is MfaStep.CODE_NEEDED
    # Pretend the code step was skipped: the service refuses, the wizard says so.
    from dataclasses import replace

    from services.auth import operator_for

    unverified = replace(again, mfa=MfaStep.NOT_REQUIRED,
                         operator=operator_for(again.identity))
    wizard = _wizard(qtbot, ctx, runner, unverified)
    wizard.next_button.click()
    qtbot.waitUntil(lambda: not wizard.message.isHidden(), timeout=30_000)
    wait_idle(qtbot, runner)
    assert wizard.step == INTRO
    assert wizard.message.text().startswith("You already have an authenticator.")
    assert shown.errors == [] and shown.internal == []
