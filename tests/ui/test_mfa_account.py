"""My account's two-step verification section: the status, the wizard, new recovery codes."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from services.auth import sign_in
from services.authz import Operator
from services.context import Context
from tests.conftest import enrol_verified
from tests.ui.conftest import PASSWORD, Alerts, wait_idle
from ui.account_page import AccountPage
from ui.mfa_enrolment_wizard import CODES
from ui.task_runner import TaskRunner


def test_status_and_the_set_up_button_before_enrolment(
        qtbot: QtBot, ctx: Context, runner: TaskRunner,
        make_person: Callable[..., Operator]) -> None:
    person = make_person("lso", password=PASSWORD)
    page = AccountPage(ctx, sign_in(ctx, person.login_id, PASSWORD), runner)
    qtbot.addWidget(page)
    page.activate()
    qtbot.waitUntil(lambda: page.mfa.status is not None, timeout=30_000)
    wait_idle(qtbot, runner)
    assert page.mfa.status_label.text().startswith("Not set up. Your role requires it by")
    assert page.mfa.set_up_button.isEnabled() and not page.mfa.codes_button.isEnabled()
    page.mfa.set_up_button.click()
    wizard = page.mfa.launcher.wizard
    assert wizard is not None and wizard.isVisible()
    wizard.cancel_button.click()
    qtbot.waitUntil(lambda: page.mfa.launcher.wizard is None)


def test_new_recovery_codes_are_shown_once(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, make_person: Callable[..., Operator],
        shown: Alerts, secrets_to_scan: set[str]) -> None:
    person = make_person("lso", password=PASSWORD)
    verified = enrol_verified(ctx, sign_in(ctx, person.login_id, PASSWORD), secrets_to_scan)
    page = AccountPage(ctx, verified, runner)
    qtbot.addWidget(page)
    page.activate()
    qtbot.waitUntil(lambda: page.mfa.status is not None, timeout=30_000)
    wait_idle(qtbot, runner)
    assert page.mfa.status_label.text().startswith("On since")
    assert "10 recovery codes left" in page.mfa.status_label.text()
    assert page.mfa.codes_button.isEnabled()
    page.mfa.codes_button.click()
    qtbot.waitUntil(lambda: page.mfa.codes_dialog is not None, timeout=30_000)
    dialog = page.mfa.codes_dialog
    assert dialog is not None and dialog.step == CODES and shown.confirmations
    codes = dialog.codes_view.toPlainText().split()[1::2]
    secrets_to_scan.update(codes)
    assert len(codes) == 10
    dialog.stored.setChecked(True)
    dialog.next_button.click()
    qtbot.waitUntil(lambda: page.mfa.codes_dialog is None, timeout=30_000)
    wait_idle(qtbot, runner)
