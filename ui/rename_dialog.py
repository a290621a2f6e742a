"""Correct a person's name (DESIGN.md rule 6: fix a misspelt name without delete and re-create)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QWidget


class RenameDialog(QDialog):
    def __init__(self, login_id: str, given: str, family: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rename identity")
        self.given = QLineEdit(given)
        self.family = QLineEdit(family)
        note = QLabel(f"Correct the name of {login_id}. The change is recorded in the audit "
                      "trail with the old and new names.")
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save = self.buttons.addButton("Rename", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow(note)
        layout.addRow("&Given name", self.given)
        layout.addRow("&Family name", self.family)
        layout.addRow(self.buttons)
        for field in (self.given, self.family):
            field.textChanged.connect(self._validate)
        self._validate()

    def _validate(self) -> None:
        # Full checks (control characters, length) are the service's; this only avoids
        # sending something that is certainly refused.
        self.save.setEnabled(bool(self.given.text().strip() and self.family.text().strip()))

    @classmethod
    def ask(cls, login_id: str, given: str, family: str,
            parent: QWidget | None = None) -> tuple[str, str] | None:
        """The new (given, family) names, or None if the person cancelled."""
        dialog = cls(login_id, given, family, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.given.text(), dialog.family.text()
        finally:
            dialog.deleteLater()
