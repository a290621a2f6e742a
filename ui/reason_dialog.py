"""Ask for the reason behind an action (rejecting a reset request, forcing a reset).

The reason goes into the audit trail (and, for a rejection, to the person), so it is required
and bounded here the way the services bound it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

MAX_REASON = 500  # services.intake.MAX_REASON


class ReasonDialog(QDialog):
    def __init__(self, title: str, explanation: str, action: str, *, danger: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(480)
        note = QLabel(explanation)
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.PlainText)
        caption = QLabel("&Reason (recorded in the audit trail)")
        self.reason = QPlainTextEdit()
        self.reason.setAccessibleName("Reason")
        self.reason.setTabChangesFocus(True)  # Tab moves on, as in a line edit
        self.reason.setFixedHeight(84)
        caption.setBuddy(self.reason)
        self.hint = QLabel()
        self.hint.setObjectName("fineprint")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton(action, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setDefault(True)
        if danger:
            self.ok_button.setObjectName("dangerDefault")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(caption)
        layout.addWidget(self.reason)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        self.reason.textChanged.connect(self._validate)
        self._validate()
        self.reason.setFocus()

    def text(self) -> str:
        return " ".join(self.reason.toPlainText().split())

    def _validate(self) -> None:
        length = len(self.text())
        self.ok_button.setEnabled(0 < length <= MAX_REASON)
        if length == 0:
            self.hint.setText("Type a reason to continue.")
        elif length > MAX_REASON:
            self.hint.setText(f"{length} characters: shorten it to {MAX_REASON} or fewer.")
        else:
            self.hint.setText(f"{length} of {MAX_REASON} characters.")

    @classmethod
    def ask(cls, title: str, explanation: str, action: str, *, danger: bool = False,
            parent: QWidget | None = None) -> str | None:
        """The reason typed (white space tidied), or None if the person cancelled."""
        dialog = cls(title, explanation, action, danger=danger, parent=parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.text()
        finally:
            dialog.deleteLater()
