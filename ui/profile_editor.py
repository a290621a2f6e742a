"""Profile details a person may correct themselves (DESIGN.md rule 6), or an LSO or platform admin
for the people they manage: only the fields the role may change are editable.

Which fields those are is the service's answer (``services.profile.editable_fields``, from
``policies/identity.toml``); the service checks again on save. A save carries the version that
was read, so an edit made meanwhile by someone else is refused ("changed by someone else —
reload"), never overwritten. Changing the e-mail changes the login ID: a code is sent to the
new address and the change happens only when that code is typed back here. The code is never
shown: proving the new address is its whole point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
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

from ui import alerts
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.profile import EmailChangeRequest
    from services.users import IdentityDetail

# (field, caption with mnemonic) in form order; the e-mail is shown apart, it needs a code.
TEXT_FIELDS = (
    ("given_name", "&Given name"),
    ("family_name", "&Family name"),
    ("phone", "&Phone"),
    ("job_title", "&Job title"),
)
READ_ONLY_TIP = "Your role may not change this; ask your local security officer or a " \
                "platform admin."
CONFLICT_TEXT = ("These details were changed by someone else since you opened them, so your "
                 "changes were not saved. Reload to see the current details, then make your "
                 "changes again.")


class ProfileEditor(QFrame):
    """Edits one identity's profile; ``saved`` carries the identity as stored afterwards."""

    saved = Signal(object)  # IdentityDetail
    loaded = Signal(object)  # IdentityDetail, after show_detail or a reload
    code_sent = Signal(object)  # EmailChangeRequest

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self.detail: IdentityDetail | None = None
        self.editable: frozenset[str] = frozenset()
        self._busy = False

        heading = QLabel("Profile")
        heading.setObjectName("panelHeading")
        self.explanation = QLabel()
        self.explanation.setObjectName("fineprint")
        self.explanation.setWordWrap(True)

        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        form.setVerticalSpacing(8)
        form.setHorizontalSpacing(16)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, caption_text in TEXT_FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"profile_{name}")
            edit.setMaxLength(200)
            edit.setAccessibleName(caption_text.replace("&", ""))
            edit.textChanged.connect(self._edited)
            edit.returnPressed.connect(self.save)
            caption = QLabel(caption_text)
            caption.setBuddy(edit)
            form.addRow(caption, edit)
            self.fields[name] = edit
        self.fields["phone"].setPlaceholderText("e.g. +44 121 623 2000")

        # The e-mail (login ID): shown as text, changed only through a confirmed code.
        self.email_value = QLabel()
        self.email_value.setTextFormat(Qt.TextFormat.PlainText)
        self.email_value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.change_email_button = QPushButton("C&hange e-mail…")
        self.change_email_button.setToolTip(
            "The e-mail is the login ID: a code is sent to the new address and the change "
            "happens when it is typed back here.")
        self.change_email_button.clicked.connect(self.open_email_change)
        email_row = QHBoxLayout()
        email_row.addWidget(self.email_value, 1)
        email_row.addWidget(self.change_email_button)
        email_caption = QLabel("E-mail (login ID)")
        form.addRow(email_caption, email_row)

        self.email_box = QFrame()
        self.email_box.setObjectName("subtleBox")
        self.new_email = QLineEdit()
        self.new_email.setObjectName("newEmail")
        self.new_email.setPlaceholderText("new.address@example.com")
        self.new_email.setAccessibleName("New e-mail address")
        self.new_email.textChanged.connect(self._email_edited)
        self.new_email.returnPressed.connect(self.send_code)
        self.send_code_button = QPushButton("&Send code")
        self.send_code_button.clicked.connect(self.send_code)
        self.cancel_email_button = QPushButton("Cancel")
        self.cancel_email_button.clicked.connect(self.close_email_change)
        self.code_note = alerts.inline_label("banner", tone="good")
        self.code = QLineEdit()
        self.code.setObjectName("emailCode")
        self.code.setPlaceholderText("the code from the e-mail")
        self.code.setAccessibleName("Confirmation code")
        self.code.textChanged.connect(self._email_edited)
        self.code.returnPressed.connect(self.confirm_code)
        self.confirm_code_button = QPushButton("C&onfirm")
        self.confirm_code_button.clicked.connect(self.confirm_code)
        self.email_error = alerts.inline_label()
        email_form = QFormLayout(self.email_box)
        new_caption = QLabel("&New e-mail")
        new_caption.setBuddy(self.new_email)
        send_row = QHBoxLayout()
        send_row.addWidget(self.new_email, 1)
        send_row.addWidget(self.send_code_button)
        send_row.addWidget(self.cancel_email_button)
        email_form.addRow(new_caption, send_row)
        email_form.addRow(self.code_note)
        self.code_caption = QLabel("Co&de")
        self.code_caption.setBuddy(self.code)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code, 1)
        code_row.addWidget(self.confirm_code_button)
        email_form.addRow(self.code_caption, code_row)
        email_form.addRow(self.email_error)

        self.message = alerts.inline_label()
        self.banner = alerts.inline_label("banner", tone="good")
        self.save_button = QPushButton("&Save changes")
        self.save_button.setObjectName("primaryButton")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("&Undo changes")
        self.revert_button.setToolTip("Put back the details as they were read")
        self.revert_button.clicked.connect(self.revert)
        self.reload_button = QPushButton("&Reload")
        self.reload_button.setToolTip("Read these details again from the store")
        self.reload_button.clicked.connect(self.reload)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        buttons.addWidget(self.reload_button)

        # Enter in a field saves (returnPressed); in a dialog no other button may take it.
        for button in (self.change_email_button, self.send_code_button,
                       self.cancel_email_button, self.confirm_code_button, self.save_button,
                       self.revert_button, self.reload_button):
            button.setAutoDefault(False)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.explanation)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.email_box)
        layout.addWidget(self.message)
        layout.addWidget(self.banner)
        layout.addLayout(buttons)
        self.email_box.hide()
        self._update_buttons()

    # ---- showing -------------------------------------------------------------------------

    def show_detail(self, detail: IdentityDetail) -> None:
        """Fill the form from ``detail`` (the version read is the one a save carries)."""
        from services.profile import editable_fields

        self.detail = detail
        # A policy look-up with no store access: safe on the GUI thread.
        self.editable = editable_fields(self._ctx, self._operator, detail)
        for name, edit in self.fields.items():
            value = getattr(detail, name) or ""
            edit.blockSignals(True)
            edit.setText(value)
            edit.blockSignals(False)
            edit.setReadOnly(name not in self.editable)
            edit.setToolTip("" if name in self.editable else READ_ONLY_TIP)
        self.email_value.setText(detail.email)
        self.change_email_button.setVisible("email" in self.editable)
        if "email" not in self.editable:
            self.close_email_change()
        self._explain()
        self.message.hide()
        self._update_buttons()
        self.loaded.emit(detail)

    def _explain(self) -> None:
        from services.profile import FIELD_LABELS

        if not self.editable:
            self.explanation.setText("Your role may not change any of these details; ask your "
                                     "local security officer or a platform admin.")
            return
        names = [FIELD_LABELS[n] for n in (*self.fields, "email") if n in self.editable]
        fixed = [FIELD_LABELS[n] for n in (*self.fields, "email") if n not in self.editable]
        text = f"You may change the {_join(names)}."
        if fixed:
            text += (f" The {_join(fixed)} can be changed by your local security officer or a "
                     "platform admin.")
        text += " Every change is recorded in the audit trail."
        self.explanation.setText(text)

    def changes(self) -> dict[str, str]:
        """The editable fields whose text differs from what was read."""
        if self.detail is None:
            return {}
        found = {}
        for name, edit in self.fields.items():
            if name in self.editable and edit.text().strip() != (getattr(self.detail, name)
                                                                 or ""):
                found[name] = edit.text()
        return found

    def _edited(self) -> None:
        self.banner.hide()
        self._update_buttons()

    def _update_buttons(self) -> None:
        dirty = bool(self.changes())
        idle = not self._busy and self.detail is not None
        self.save_button.setEnabled(idle and dirty)
        self.revert_button.setEnabled(idle and dirty)
        self.reload_button.setEnabled(idle)
        self._email_edited()

    def _email_edited(self) -> None:
        idle = not self._busy and self.detail is not None
        self.send_code_button.setEnabled(idle and bool(self.new_email.text().strip()))
        self.confirm_code_button.setEnabled(idle and bool(self.code.text().strip()))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def _done(self) -> None:
        self._set_busy(False)

    # ---- saving --------------------------------------------------------------------------

    def save(self) -> None:
        changes = self.changes()
        if self.detail is None or not changes or self._busy:
            return
        ctx, op = self._ctx, self._operator
        subject, version = self.detail.subject, self.detail.version

        def work(_control: TaskControl) -> IdentityDetail:
            from services.profile import update_profile

            return update_profile(ctx, op, subject, changes, expected_version=version)

        self.message.hide()
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._saved, on_error=self._save_failed,
                            on_done=self._done)

    def _saved(self, detail: IdentityDetail) -> None:
        self.show_detail(detail)
        self.banner.setProperty("tone", "good")
        self.banner.setText("Your changes were saved.")
        self.banner.show()
        self.saved.emit(detail)

    def _save_failed(self, exc: Exception) -> None:
        from services.errors import Conflict

        # A stale version: keep what was typed so nothing is lost, and offer the reload.
        self.message.setText(CONFLICT_TEXT if isinstance(exc, Conflict) else str(exc))
        self.message.show()
        if isinstance(exc, Conflict):
            self.reload_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def revert(self) -> None:
        if self.detail is not None:
            self.show_detail(self.detail)
            self.banner.hide()

    def reload(self) -> None:
        if self.detail is None or self._busy:
            return
        ctx, op, subject = self._ctx, self._operator, self.detail.subject

        def work(_control: TaskControl) -> IdentityDetail:
            from services.users import get_identity

            return get_identity(ctx, op, subject)

        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._reloaded, on_done=self._done)

    def _reloaded(self, detail: IdentityDetail) -> None:
        self.banner.hide()
        self.show_detail(detail)

    # ---- changing the e-mail -------------------------------------------------------------

    def open_email_change(self) -> None:
        self.email_box.show()
        self.code_note.hide()
        self.code_caption.hide()
        self.code.hide()
        self.confirm_code_button.hide()
        self.email_error.hide()
        self.new_email.setFocus(Qt.FocusReason.OtherFocusReason)

    def close_email_change(self) -> None:
        self.new_email.clear()
        self.code.clear()
        self.email_box.hide()

    def send_code(self) -> None:
        if self.detail is None or self._busy or not self.new_email.text().strip():
            return
        ctx, op = self._ctx, self._operator
        subject, address = self.detail.subject, self.new_email.text()

        def work(_control: TaskControl) -> EmailChangeRequest:
            from services.profile import request_email_change

            request, _code = request_email_change(ctx, op, subject, address)
            return request  # the code goes by mail only

        self.email_error.hide()
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._code_sent,
                            on_error=self._email_failed, on_done=self._done)

    def _code_sent(self, request: EmailChangeRequest) -> None:
        expires = request.expires_at[:16].replace("T", " ")
        self.code_note.setText(f"A confirmation code was sent to {request.new_login_id}. Type "
                               f"it below before {expires} UTC; the login ID changes only "
                               "then. Asking again replaces the code.")
        self.code_note.show()
        self.code_caption.show()
        self.code.show()
        self.confirm_code_button.show()
        self.code.setFocus(Qt.FocusReason.OtherFocusReason)
        self.code_sent.emit(request)

    def confirm_code(self) -> None:
        token = self.code.text().strip()
        if not token or self._busy:
            return
        ctx = self._ctx

        def work(_control: TaskControl) -> IdentityDetail:
            from services.profile import confirm_email_change

            return confirm_email_change(ctx, token)

        self.email_error.hide()
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._email_changed,
                            on_error=self._email_failed, on_done=self._done)

    def _email_changed(self, detail: IdentityDetail) -> None:
        self.close_email_change()
        self.show_detail(detail)
        self.banner.setText(f"The e-mail and login ID are now {detail.login_id}. The old login "
                            "ID is kept from reuse for the cooling-off period.")
        self.banner.show()
        self.saved.emit(detail)

    def _email_failed(self, exc: Exception) -> None:
        self.email_error.setText(str(exc))
        self.email_error.show()


class ProfileDialog(QDialog):
    """The profile editor for someone the operator manages (from the Users page)."""

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 detail: IdentityDetail, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Profile of {detail.login_id}")
        self.setMinimumWidth(560)
        self.editor = ProfileEditor(ctx, operator, runner)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAutoDefault(False)  # Enter in a field saves; it must not close the dialog
        close.setDefault(False)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor)
        layout.addWidget(buttons)
        self.editor.show_detail(detail)
        self.editor.fields["given_name"].setFocus()


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
