"""The sign-in dialog: email, password and the terms to accept (DESIGN.md rule 8).

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

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(terms_box)
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
        ready = self._ctx is not None and not self._busy
        self.sign_in_button.setEnabled(ready and self.accept_terms.isChecked())
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

    def _failed(self, exc: Exception) -> None:
        # The service's text is deliberately generic (OWASP): shown as it is.
        self._say(str(exc))
        self.password.setFocus()

    def _signed_in(self, session: Session) -> None:
        self.session = session
        self.signed_in.emit(session)
        self.accept()
