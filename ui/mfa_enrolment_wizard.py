"""Setting up two-step verification (issue 6; Keycloak's CONFIGURE_TOTP required action).

Explanation → the QR code and the key → a code from the app to prove it → the recovery codes,
shown once → done. The secret and the recovery codes live only in this dialog's widgets and
are scrubbed when it closes; they are never logged. Every service call goes through the task
runner.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.appearance import icon
from ui.mfa_clipboard import CLEAR_AFTER_MS, guard
from ui.mfa_qr_view import QrCodeView
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from PySide6.QtPrintSupport import QPrinter

    from services.auth import Session
    from services.context import Context
    from services.mfa.enrolment import Confirmed, Enrolment

INTRO, SCAN, CONFIRM, CODES, DONE = range(5)
STEP_TITLES = ("Two-step verification", "Scan the QR code", "Enter a code from the app",
               "Store your recovery codes", "Two-step verification is on")


def _mono() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(max(font.pointSizeF(), 11.0))
    return font


def _text(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600), replacing any file there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class MfaEnrolmentWizard(QDialog):
    """``enrolled`` carries the session after enrolment (``VERIFIED``)."""

    enrolled = Signal(object)  # Session

    def __init__(self, ctx: Context, session: Session, runner: TaskRunner,
                 parent: QWidget | None = None, *, forced: bool = False) -> None:
        super().__init__(parent)
        self._ctx, self._runner = ctx, runner
        self.session: Session = session
        self.forced = forced
        self._busy = False
        self._secret = ""
        self._codes: tuple[str, ...] = ()
        self.setObjectName("mfaWizard")
        self.setWindowTitle("Set up two-step verification")
        self.setWindowIcon(icon("mfa"))
        self.setMinimumSize(600, 420)

        self.heading = QLabel()
        self.heading.setObjectName("dialogHeading")
        self.step_label = QLabel()
        self.step_label.setObjectName("fineprint")
        self.stack = QStackedWidget()
        self.stack.addWidget(self._intro_page())
        self.stack.addWidget(self._scan_page())
        self.stack.addWidget(self._confirm_page())
        self.stack.addWidget(self._codes_page())
        self.stack.addWidget(self._done_page())
        self.message = alerts.inline_label()

        self.back_button = QPushButton("&Back")
        self.back_button.setAutoDefault(False)
        self.back_button.clicked.connect(self.back)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        self.next_button = QPushButton("&Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.next_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.step_label)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._go(INTRO)

    # ---- pages ---------------------------------------------------------------------------

    def _intro_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.intro_text = _text(
            "Two-step verification protects your account even if your password becomes "
            "known: after your password, Gatehouse asks for a six-digit code from an "
            "authenticator app on your phone (for example Microsoft Authenticator, Google "
            "Authenticator or FreeOTP).\n\n"
            "You will need the phone in a moment. The steps: scan a QR code with the app, type "
            "the code it shows, then store ten recovery codes for the day the phone is lost.")
        layout.addWidget(self.intro_text)
        self.deadline = _text("")
        self.deadline.setObjectName("warningText")
        self.deadline.hide()
        layout.addWidget(self.deadline)
        layout.addStretch(1)
        if self.session.enrol_by is not None:
            when = self.session.enrol_by.strftime("%d %B %Y, %H:%M UTC")
            self.deadline.setText(
                f"Two-step verification is required for your account; the deadline was {when}."
                " Nothing else is possible until it is set up."
                if self.forced else
                f"Two-step verification is required for your account by {when}.")
            self.deadline.show()
        return page

    def _scan_page(self) -> QWidget:
        page = QWidget()
        self.qr = QrCodeView()
        instructions = _text(
            "Open your authenticator app, choose to add an account, and scan this code.\n\n"
            "If you cannot scan it, choose to enter a key instead and type the key below "
            "(spaces do not matter); the account name is your email address.")
        self.account_label = _text("")
        self.account_label.setObjectName("fineprint")
        key_caption = QLabel("&Key")
        key_caption.setObjectName("caption")
        self.key_field = QLineEdit()
        self.key_field.setReadOnly(True)
        self.key_field.setFont(_mono())
        self.key_field.setAccessibleName("Key for manual entry")
        self.key_field.setMinimumWidth(440)
        key_caption.setBuddy(self.key_field)
        self.copy_key_button = QPushButton("&Copy key")
        self.copy_key_button.setAutoDefault(False)
        self.copy_key_button.setToolTip(
            f"Copies the key; the clipboard is cleared after {CLEAR_AFTER_MS // 1000} seconds")
        self.copy_key_button.clicked.connect(self.copy_key)
        self.copied_note = QLabel("")
        self.copied_note.setObjectName("fineprint")
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_field, 1)
        key_row.addWidget(self.copy_key_button)
        side = QVBoxLayout()
        side.addWidget(instructions)
        side.addWidget(self.account_label)
        side.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop)
        top.addSpacing(12)
        top.addLayout(side, 1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(key_caption)
        layout.addLayout(key_row)
        layout.addWidget(self.copied_note)
        return page

    def _confirm_page(self) -> QWidget:
        page = QWidget()
        self.confirm_text = _text("Type the code your authenticator app shows for Gatehouse "
                                  "now. It proves the app is set up correctly.")
        caption = QLabel("Co&de")
        self.code = QLineEdit()
        self.code.setFont(_mono())
        self.code.setMaxLength(8)
        self.code.setPlaceholderText("123456")
        self.code.setAccessibleName("Code from the authenticator app")
        self.code.setValidator(QRegularExpressionValidator(r"[0-9 ]{0,9}", self.code))
        self.code.setMaximumWidth(180)
        caption.setBuddy(self.code)
        row = QHBoxLayout()
        row.addWidget(caption)
        row.addWidget(self.code)
        row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.confirm_text)
        layout.addLayout(row)
        layout.addStretch(1)
        return page

    def _codes_page(self) -> QWidget:
        page = QWidget()
        explanation = _text(
            "If you lose your phone, each of these codes signs you in once instead of a code "
            "from the app. This is the only time they are shown: save, print or copy them and "
            "keep them somewhere safe, apart from your phone.")
        self.codes_view = QPlainTextEdit()
        self.codes_view.setReadOnly(True)
        self.codes_view.setFont(_mono())
        self.codes_view.setAccessibleName("Recovery codes")
        self.codes_view.setTabChangesFocus(True)
        self.codes_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.codes_view.setMinimumHeight(130)
        self.save_button = QPushButton(icon("open"), "&Save…")
        self.print_button = QPushButton("&Print…")
        self.copy_codes_button = QPushButton("C&opy")
        for button, slot in ((self.save_button, self.save_codes),
                             (self.print_button, self.print_codes),
                             (self.copy_codes_button, self.copy_codes)):
            button.setAutoDefault(False)
            button.clicked.connect(slot)
        self.codes_note = QLabel("")
        self.codes_note.setObjectName("fineprint")
        self.codes_note.setWordWrap(True)
        actions = QVBoxLayout()
        actions.addWidget(self.save_button)
        actions.addWidget(self.print_button)
        actions.addWidget(self.copy_codes_button)
        actions.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.codes_view, 1)
        row.addLayout(actions)
        self.stored = QCheckBox("I have &stored these recovery codes somewhere safe")
        self.stored.toggled.connect(self._update_buttons)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(explanation)
        layout.addLayout(row)
        layout.addWidget(self.codes_note)
        layout.addWidget(self.stored)
        return page

    def _done_page(self) -> QWidget:
        page = QWidget()
        self.done_text = _text(
            "From now on, Gatehouse asks for a code from your authenticator app after your "
            "password. Keep your recovery codes safe; if you use one, make new ones in My "
            "account.")
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.done_text)
        layout.addStretch(1)
        return page

    # ---- navigation ----------------------------------------------------------------------

    @property
    def step(self) -> int:
        return self.stack.currentIndex()

    def _go(self, step: int) -> None:
        self.stack.setCurrentIndex(step)
        self.heading.setText(STEP_TITLES[step])
        self.step_label.setText(f"Step {step + 1} of {len(STEP_TITLES)}")
        self._say("")
        self.next_button.setText({INTRO: "&Next", SCAN: "&Next", CONFIRM: "&Confirm",
                                  CODES: "&Finish", DONE: "&Close"}[step])
        self._update_buttons()
        focus = {INTRO: self.next_button, SCAN: self.next_button, CONFIRM: self.code,
                 CODES: self.save_button, DONE: self.next_button}[step]
        focus.setFocus()

    def _update_buttons(self) -> None:
        step = self.step
        self.back_button.setVisible(step in (SCAN, CONFIRM))
        self.back_button.setEnabled(not self._busy)
        # Once confirmed, the enrolment is done: there is nothing to cancel any more.
        self.cancel_button.setVisible(step in (INTRO, SCAN, CONFIRM))
        enabled = not self._busy
        if step == CODES:
            enabled = self.stored.isChecked()
        self.next_button.setEnabled(enabled)
        self.code.setEnabled(not self._busy)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def back(self) -> None:
        if self.step in (SCAN, CONFIRM) and not self._busy:
            self._go(self.step - 1)

    def next(self) -> None:
        if self._busy:
            return
        step = self.step
        if step == INTRO:
            self._start()
        elif step == SCAN:
            self._go(CONFIRM)
        elif step == CONFIRM:
            self._confirm()
        elif step == CODES and self.stored.isChecked():
            self._scrub_codes()
            if self.step_label.isHidden():  # new codes only: nothing more to say
                self.accept()
                return
            self._go(DONE)
        elif step == DONE:
            self.accept()

    # ---- the service calls ---------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _idle(self) -> None:
        self._set_busy(False)

    def _start(self) -> None:
        ctx, op = self._ctx, self.session.operator

        def work(_control: TaskControl) -> Enrolment:
            from services.mfa.enrolment import start_enrolment

            return start_enrolment(ctx, op)

        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._started, on_error=self._failed,
                            on_done=self._idle)

    def _started(self, enrolment: Enrolment) -> None:
        self._secret = enrolment.secret
        self.qr.set_text(enrolment.uri)
        self.key_field.setText(enrolment.secret_groups)
        details = f"Account: {enrolment.issuer} ({enrolment.login_id})"
        if (enrolment.algorithm, enrolment.digits, enrolment.period) != ("SHA1", 6, 30):
            details += (f". When entering the key by hand choose {enrolment.algorithm}, "
                        f"{enrolment.digits} digits, every {enrolment.period} seconds.")
        self.account_label.setText(details)
        self.code.setMaxLength(enrolment.digits + 1)
        self.code.setPlaceholderText("0" * enrolment.digits)
        self._go(SCAN)

    def _confirm(self) -> None:
        code = "".join(self.code.text().split())
        if not code:
            self._say("Type the code your authenticator app shows, then confirm.")
            self.code.setFocus()
            return
        ctx, session = self._ctx, self.session

        def work(_control: TaskControl) -> tuple[Session, Confirmed]:
            from services.auth import complete_enrolment

            return complete_enrolment(ctx, session, code)

        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._confirmed,
                            on_error=self._failed, on_done=self._idle)

    def _confirmed(self, result: tuple[Session, Confirmed]) -> None:
        session, confirmed = result
        self.session = session
        self.code.clear()
        self._scrub_secret()
        self._show_codes(confirmed.recovery_codes)
        self.enrolled.emit(session)

    def show_new_codes(self, codes: tuple[str, ...]) -> None:
        """Only the recovery-codes step, for codes made anew in My account."""
        self.setWindowTitle("New recovery codes")
        self._show_codes(codes)
        self.step_label.hide()
        self.heading.setText("Your new recovery codes")

    def _show_codes(self, codes: tuple[str, ...]) -> None:
        self._codes = codes
        numbered = [f"{n:>2}.  {code}" for n, code in enumerate(self._codes, start=1)]
        half = (len(numbered) + 1) // 2  # two columns: all of them visible at once
        rows = [f"{left}      {right}".rstrip() for left, right in
                zip(numbered[:half], numbered[half:] + [""] * (len(numbered) % 2),
                                  strict=True)]
        self.codes_view.setPlainText("\n".join(rows))
        self._go(CODES)

    def _failed(self, exc: Exception) -> None:
        # Service sentences say what to do next, and never contain the secret or a code.
        self._say(str(exc))
        if self.step == CONFIRM:
            self.code.selectAll()
            self.code.setFocus()

    # ---- the key and the recovery codes --------------------------------------------------

    def copy_key(self) -> None:
        if self._secret:
            guard().copy(self._secret)
            self.copied_note.setText(f"Copied. The clipboard is cleared in "
                                     f"{CLEAR_AFTER_MS // 1000} seconds.")

    def codes_text(self) -> str:
        lines = [f"Gatehouse recovery codes for {self.session.identity.login_id}",
                 "Each code works once. Keep them apart from your phone.", ""]
        return "\n".join(lines + list(self._codes)) + "\n"

    def ask_save_path(self) -> Path | None:
        """Where to save the codes (tests replace this)."""
        name, _filter = QFileDialog.getSaveFileName(
            self, "Save recovery codes", "gatehouse-recovery-codes.txt",
            "Text files (*.txt)")
        return Path(name) if name else None

    def ask_printer(self) -> QPrinter | None:
        """The printer chosen in the print dialog, or None (tests replace this)."""
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter()
        dialog = QPrintDialog(printer, self)
        return printer if dialog.exec() == QDialog.DialogCode.Accepted else None

    def save_codes(self) -> None:
        path = self.ask_save_path()
        if path is None:
            return
        text = self.codes_text()

        def work(_control: TaskControl) -> Path:
            try:
                write_private_file(path, text)
            except OSError as exc:
                from services.errors import InvalidInput

                raise InvalidInput(f"The codes could not be saved to {path} "
                                   f"({exc.strerror}); choose another place.") from None
            return path

        self._runner.submit(work, owner=self, on_result=self._saved,
                            on_error=self._codes_failed)

    def _saved(self, path: Path) -> None:
        self.codes_note.setText(f"Saved to {path} (readable by you only).")

    def _codes_failed(self, exc: Exception) -> None:
        self.codes_note.setText(str(exc))

    def print_codes(self) -> None:
        from PySide6.QtGui import QTextDocument

        printer = self.ask_printer()
        if printer is None:
            return
        document = QTextDocument()
        document.setDefaultFont(_mono())
        document.setPlainText(self.codes_text())
        document.print_(printer)
        self.codes_note.setText("Sent to the printer.")

    def copy_codes(self) -> None:
        guard().copy("\n".join(self._codes))
        self.codes_note.setText(f"Copied. The clipboard is cleared in "
                                f"{CLEAR_AFTER_MS // 1000} seconds: paste them now.")

    # ---- closing -------------------------------------------------------------------------

    def _scrub_secret(self) -> None:
        self._secret = ""
        self.key_field.clear()
        self.qr.clear()

    def _scrub_codes(self) -> None:
        self._codes = ()
        self.codes_view.clear()

    def reject(self) -> None:
        if self.step == CODES and not self.stored.isChecked():
            # The codes are shown once: closing now would lose them.
            self._say("Store the recovery codes first (save, print or copy them), then tick "
                      "the box and finish.")
            return
        if self.step in (CODES, DONE):
            self.accept()  # enrolment is complete: closing is finishing
            return
        self._scrub_secret()
        super().reject()

    def accept(self) -> None:
        self._scrub_secret()
        self._scrub_codes()
        super().accept()
