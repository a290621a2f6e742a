"""The sign-in dialog: email, password and the terms to accept (DESIGN.md rule 8), then the
second factor (issue 6): the authenticator code (or a recovery code), or the enrolment wizard
when two-step verification is required — straight into it once the grace period is over, as an
offer with "Later" while it runs.

It opens before the store is ready (the store opens in the background, see ``ui.app``), so
the Sign in button waits for both the store and the accepted terms. Heavy modules are imported
only inside the work, to keep start-up fast.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from services.terms import privacy_text, terms_text, terms_version
from ui import alerts
from ui.appearance import icon
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.auth import Session
    from services.context import Context
    from ui.mfa_enrolment_wizard import MfaEnrolmentWizard
    from ui.reset_completion_dialog import ResetCompletionDialog


class SignInDialog(QDialog):
    signed_in = Signal(object)  # Session
    first_shown = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._ctx: Context | None = None
        self._busy = False
        self._announced = False
        self.session: Session | None = None
        self.setObjectName("signInDialog")
        self.setWindowTitle("Sign in to Gatehouse")
        self.setWindowIcon(icon("gatehouse"))
        self.setMinimumWidth(460)

        heading = QLabel("Sign in to Gatehouse")
        heading.setObjectName("dialogHeading")
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@company.example")
        self.email.setAccessibleName("Email address")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        # DESIGN.md rule 4: people reset their own password; the code comes by e-mail.
        self.reset_link = QPushButton("Have a reset code? Complete a password reset…")
        self.reset_link.setObjectName("linkButton")
        self.reset_link.setAutoDefault(False)
        self.reset_link.clicked.connect(self.open_reset_completion)
        self.reset_dialog: ResetCompletionDialog | None = None
        reset_row = QHBoxLayout()
        reset_row.setContentsMargins(0, 0, 0, 0)
        reset_row.addWidget(self.reset_link)
        reset_row.addStretch(1)
        form = QFormLayout()
        form.addRow("&Email address", self.email)
        form.addRow("&Password", self.password)
        form.addRow("", reset_row)

        terms = QLabel(terms_text())
        terms.setWordWrap(True)
        terms.setTextFormat(Qt.TextFormat.PlainText)
        terms.setObjectName("termsText")
        version = QLabel(f"Terms version {terms_version()}")
        version.setObjectName("fineprint")
        self.accept_terms = QCheckBox("I &accept these terms")
        self.privacy_button = QPushButton("Privacy notice…")
        self.privacy_button.setObjectName("linkButton")
        self.privacy_button.setAutoDefault(False)
        self.privacy_button.clicked.connect(self._show_privacy)
        terms_box = QFrame()
        terms_box.setObjectName("termsBox")
        terms_layout = QVBoxLayout(terms_box)
        terms_layout.addWidget(terms)
        row = QHBoxLayout()
        row.addWidget(self.accept_terms)
        row.addStretch(1)
        row.addWidget(self.privacy_button)
        terms_layout.addLayout(row)
        terms_layout.addWidget(version)

        self.message = alerts.inline_label()
        self.store_status = QLabel("Opening the store…")
        self.store_status.setObjectName("fineprint")
        self.store_status.setWordWrap(True)

        buttons = QDialogButtonBox()
        self.sign_in_button = buttons.addButton("Sign in",
                                                QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.setDefault(True)  # Enter in either field signs in
        self.quit_button = buttons.addButton("Quit", QDialogButtonBox.ButtonRole.RejectRole)
        self.quit_button.setAutoDefault(False)
        self.sign_in_button.clicked.connect(self.submit)
        buttons.rejected.connect(self.reject)

        self.later_button = buttons.addButton("&Later", QDialogButtonBox.ButtonRole.ActionRole)
        self.later_button.setAutoDefault(False)
        self.later_button.clicked.connect(self.later)
        self.later_button.hide()

        credentials = QWidget()
        credentials_layout = QVBoxLayout(credentials)
        credentials_layout.setContentsMargins(0, 0, 0, 0)
        credentials_layout.addLayout(form)
        credentials_layout.addWidget(terms_box)
        self.credentials_page = credentials
        self.steps = QStackedWidget()
        self.steps.addWidget(credentials)
        self.steps.addWidget(self._code_page())
        self.steps.addWidget(self._offer_page())
        self.wizard: MfaEnrolmentWizard | None = None
        self._pending: Session | None = None  # password accepted, second factor not yet

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.steps)
        layout.addWidget(self.message)
        layout.addWidget(self.store_status)
        layout.addWidget(buttons)

        QWidget.setTabOrder(self.email, self.password)
        QWidget.setTabOrder(self.password, self.reset_link)
        QWidget.setTabOrder(self.reset_link, self.accept_terms)
        QWidget.setTabOrder(self.accept_terms, self.privacy_button)
        QWidget.setTabOrder(self.privacy_button, self.sign_in_button)
        QWidget.setTabOrder(self.sign_in_button, self.quit_button)
        self.accept_terms.toggled.connect(self._update_button)
        self._update_button()
        self.email.setFocus()

    # ---- entry points --------------------------------------------------------------------

    @classmethod
    def ask(cls, ctx: Context, runner: TaskRunner,
            parent: QWidget | None = None) -> Session | None:
        """Show the dialog modally; the signed-in session, or None if the person quit."""
        dialog = cls(runner, parent)
        dialog.set_context(ctx)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return dialog.session if accepted else None

    def set_context(self, ctx: Context, *, suggested_email: str = "",
                    note: str = "") -> None:
        """The store is open: signing in may start."""
        self._ctx = ctx
        self.store_status.setText(note or f"Store: {ctx.store.display_url}")
        if suggested_email and not self.email.text():
            self.email.setText(suggested_email)
            self.password.setFocus()
        self._update_button()

    def set_store_problem(self, text: str) -> None:
        """The store could not be opened: say so where the person is looking."""
        self.store_status.setText(text)
        self.store_status.setObjectName("formError")
        self.store_status.style().polish(self.store_status)

    # ---- behaviour -----------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._announced:
            self._announced = True
            # After the first paint has been queued, not before: "shown" means on screen.
            # The dialog as context: the timer dies with it.
            QTimer.singleShot(0, self, self._announce_shown)

    def _announce_shown(self) -> None:
        self.first_shown.emit()

    def _update_button(self) -> None:
        ready = self._ctx is not None and not self._busy and self.wizard is None
        if self.steps.currentWidget() is self.credentials_page:
            self.sign_in_button.setEnabled(ready and self.accept_terms.isChecked())
        else:
            self.sign_in_button.setEnabled(ready)
        self.later_button.setEnabled(ready)
        self.code.setEnabled(not self._busy)
        self.recovery_toggle.setEnabled(not self._busy)
        self.reset_link.setEnabled(ready)
        self.reset_link.setToolTip("" if self._ctx is not None
                                   else "Available once the store is open.")
        self.email.setEnabled(not self._busy)
        self.password.setEnabled(not self._busy)
        self.accept_terms.setEnabled(not self._busy)

    def open_reset_completion(self) -> None:
        """The reset-completion dialog, window-modal over this one; it signs nobody in."""
        from ui.reset_completion_dialog import ResetCompletionDialog

        if self._ctx is None:
            return
        if self.reset_dialog is not None:
            self.reset_dialog.raise_()
            return
        dialog = ResetCompletionDialog(self._ctx, self._runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the fields go with it
        dialog.destroyed.connect(self._reset_dialog_gone)
        # A bound method, not a lambda capturing self: when the closing dialog deletes itself
        # and drops such a lambda, PySide6 6.11 releases this dialog's wrapper with it and the
        # process aborts in malloc (see ui/fit_to_content.py).
        dialog.finished.connect(self._reset_dialog_finished)
        self.reset_dialog = dialog
        dialog.open()

    def _reset_dialog_finished(self, _result: int) -> None:
        self.password.setFocus()

    def _reset_dialog_gone(self) -> None:
        self.reset_dialog = None

    def _show_privacy(self) -> None:
        alerts.show_info(self, privacy_text(), "Privacy notice")

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def submit(self) -> None:
        """The default button: sign in, verify the code, or set up two-step verification."""
        current = self.steps.currentWidget()
        if current is self.code_page:
            self.submit_code()
            return
        if current is self.offer_page:
            self.open_wizard()
            return
        if self._ctx is None or self._busy or not self.accept_terms.isChecked():
            return
        email, password = self.email.text().strip(), self.password.text()
        # Scrub the field straight away (Electrum): the text lives on only in this call.
        self.password.clear()
        if not email or not password:
            self._say("Type your email address and your password, then sign in.")
            (self.email if not email else self.password).setFocus()
            return
        self._say("")
        self._busy = True
        self._update_button()
        ctx = self._ctx

        def work(_control: TaskControl) -> Session:
            from services.auth import accept_terms, sign_in

            session = sign_in(ctx, email, password)
            if not session.terms_accepted:
                # The box was ticked against the version shown, which is the current one.
                accept_terms(ctx, session.operator, terms_version())
                session = dataclasses.replace(session, terms_accepted=True)
            return session

        self._runner.submit(work, owner=self, on_result=self._signed_in,
                            on_error=self._failed, on_done=self._idle)

    def _idle(self) -> None:
        self._busy = False
        self._update_button()
        if self.steps.currentWidget() is self.code_page and self.isVisible():
            self.code.setFocus()  # it was disabled while the work ran

    def _failed(self, exc: Exception) -> None:
        # The service's text is deliberately generic (OWASP): shown as it is.
        self._say(str(exc))
        self.password.setFocus()

    # ---- the second factor (issue 6) -----------------------------------------------------

    def _code_page(self) -> QWidget:
        page = QWidget()
        self.code_page = page
        self.code_prompt = QLabel()
        self.code_prompt.setWordWrap(True)
        self.code_caption = QLabel()
        self.code = QLineEdit()
        self.code.setAccessibleName("Verification code")
        self.code.setMaximumWidth(220)
        self.code_caption.setBuddy(self.code)
        self.recovery_toggle = QPushButton()
        self.recovery_toggle.setObjectName("linkButton")
        self.recovery_toggle.setAutoDefault(False)
        self.recovery_toggle.clicked.connect(self.toggle_recovery)
        self.using_recovery = False
        row = QHBoxLayout()
        row.addWidget(self.code_caption)
        row.addWidget(self.code)
        row.addStretch(1)
        toggle_row = QHBoxLayout()
        toggle_row.addWidget(self.recovery_toggle)
        toggle_row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.code_prompt)
        layout.addLayout(row)
        layout.addLayout(toggle_row)
        layout.addStretch(1)
        self._show_code_mode()
        return page

    def _offer_page(self) -> QWidget:
        page = QWidget()
        self.offer_page = page
        self.offer_text = QLabel()
        self.offer_text.setWordWrap(True)
        self.offer_text.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.offer_text)
        layout.addStretch(1)
        return page

    def _show_code_mode(self) -> None:
        if self.using_recovery:
            self.code_prompt.setText("Type one of the recovery codes you stored when you set "
                                     "up two-step verification. Each code works once.")
            self.code_caption.setText("&Recovery code")
            self.code.setPlaceholderText("XXXXX-XXXXX")
            self.code.setMaxLength(24)
            self.recovery_toggle.setText("Use the code from my authenticator app instead")
        else:
            self.code_prompt.setText("Your password is correct. Type the code your "
                                     "authenticator app shows for Gatehouse now.")
            self.code_caption.setText("&Code")
            self.code.setPlaceholderText("123456")
            self.code.setMaxLength(9)
            self.recovery_toggle.setText("Use a recovery code instead")

    def _go(self, page: QWidget, button_text: str) -> None:
        self.steps.setCurrentWidget(page)
        self.sign_in_button.setText(button_text)
        self.later_button.setVisible(page is self.offer_page)
        self.reset_link.setVisible(page is self.credentials_page)
        self._update_button()

    def toggle_recovery(self) -> None:
        self.using_recovery = not self.using_recovery
        self.code.clear()
        self._show_code_mode()
        self.code.setFocus()

    def _signed_in(self, session: Session) -> None:
        from services.auth import MfaStep

        self._pending = session
        if session.mfa is MfaStep.CODE_NEEDED:
            self.using_recovery = False
            self._show_code_mode()
            self._go(self.code_page, "&Verify")
            self.code.setFocus()
        elif session.mfa is MfaStep.ENROL_NOW:
            # After the grace period (or an admin's reset) enrolling is all that is allowed.
            self.open_wizard(forced=True)
        elif session.mfa is MfaStep.ENROL_SOON:
            when = session.enrol_by.strftime("%d %B %Y") if session.enrol_by else "soon"
            self.offer_text.setText(
                f"Your account must use two-step verification by {when}. It takes a minute "
                "with an authenticator app on your phone.\n\nUntil it is set up you can look "
                "around, but not change anything that needs your role's privileges.")
            self._go(self.offer_page, "&Set up now…")
            self.sign_in_button.setFocus()
        else:
            self._finish(session)

    def submit_code(self) -> None:
        if self._ctx is None or self._busy or self._pending is None:
            return
        code = self.code.text().strip()
        self.code.clear()
        if not code:
            self._say("Type the code, then verify.")
            self.code.setFocus()
            return
        ctx, session, recovery = self._ctx, self._pending, self.using_recovery

        def work(_control: TaskControl) -> Session:
            from services.auth import complete_sign_in, sign_in_with_recovery_code

            if recovery:
                return sign_in_with_recovery_code(ctx, session, code)
            return complete_sign_in(ctx, session, code)

        self._say("")
        self._busy = True
        self._update_button()
        self._runner.submit(work, owner=self, on_result=self._verified,
                            on_error=self._code_failed, on_done=self._idle)

    def _code_failed(self, exc: Exception) -> None:
        from services.mfa.errors import CodeRejected, MfaLocked

        # CodeRejected and MfaLocked are generic sentences: shown as they are.
        self._say(str(exc))
        if not isinstance(exc, CodeRejected | MfaLocked):
            # Too late, or the authenticator was reset meanwhile: start from the password.
            self._back_to_password()
            return
        self.code.setFocus()

    def _verified(self, session: Session) -> None:
        self._pending = session
        if session.reenrol_advised:
            left = session.recovery_codes_left
            self.offer_text.setText(
                f"You signed in with a recovery code; {left} of them are left. If your phone "
                "is lost, set up two-step verification again now: new recovery codes come "
                "with it.")
            self._go(self.offer_page, "&Set up again now…")
            self.sign_in_button.setFocus()
            return
        self._finish(session)

    def later(self) -> None:
        if self._pending is not None and self.wizard is None:
            self._finish(self._pending)

    def open_wizard(self, *, forced: bool = False) -> None:
        from ui.mfa_enrolment_wizard import MfaEnrolmentWizard

        if self._ctx is None or self._pending is None:
            return
        if self.wizard is not None:
            self.wizard.raise_()
            return
        wizard = MfaEnrolmentWizard(self._ctx, self._pending, self._runner, self,
                                    forced=forced)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the secret goes with it
        wizard.finished.connect(self._wizard_finished)
        wizard.destroyed.connect(self._wizard_gone)
        self.wizard = wizard
        self._update_button()
        wizard.open()

    def _wizard_finished(self, _result: int) -> None:
        from services.auth import MfaStep

        wizard = self.wizard
        if wizard is None:
            return
        session = wizard.session
        if session.mfa is MfaStep.VERIFIED and session.operator.mfa_verified:
            self.wizard = None
            self._finish(session)
            return
        if wizard.forced:
            self.wizard = None
            self._back_to_password()
            self._say("Two-step verification is required for your account and must be set "
                      "up before you can use Gatehouse. Sign in again to set it up.")
            return
        self.wizard = None
        self._update_button()
        self.sign_in_button.setFocus()

    def _wizard_gone(self) -> None:
        self.wizard = None
        if self.isVisible():
            self._update_button()

    def _back_to_password(self) -> None:
        self._pending = None
        self.code.clear()
        self._go(self.credentials_page, "Sign in")
        self.password.setFocus()

    def _finish(self, session: Session) -> None:
        self._pending = None
        self.session = session
        self.signed_in.emit(session)
        self.accept()
