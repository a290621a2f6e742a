"""Offered when the OS keyring cannot hold the master key: use a passphrase-protected key file.

DESIGN.md, Security model: never a plaintext fallback. The person sees why the keyring failed
and chooses the key file explicitly; a new file's passphrase is typed twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.appearance import icon

if TYPE_CHECKING:
    from services.vault import KeyAccess

MIN_PASSPHRASE = 12  # services.vault.MIN_PASSPHRASE; repeated to keep the import out of start-up


class KeyFileDialog(QDialog):
    def __init__(self, problem: str, default_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Gatehouse needs its master key")
        self.setWindowIcon(icon("key"))
        self.setMinimumWidth(520)

        intro = QLabel(problem)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        intro.setObjectName("formError")
        offer = QLabel(
            "Instead of the keyring, Gatehouse can keep the store's master key in a file "
            "protected by a passphrase. Choose the file (an existing key file of this store, "
            "or a new one) and its passphrase. Keep the passphrase safe: without it the "
            "store's secrets cannot be read.")
        offer.setWordWrap(True)

        self.path = QLineEdit(str(default_path))
        self.path.setAccessibleName("Key file")
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName("Passphrase")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName("Passphrase again")
        self.repeat_label = QLabel("Passphrase &again")
        self.repeat_label.setBuddy(self.repeat)
        form = QFormLayout()
        path_label = QLabel("Key &file")
        path_label.setBuddy(self.path)
        form.addRow(path_label, path_row)
        form.addRow("&Passphrase", self.passphrase)
        form.addRow(self.repeat_label, self.repeat)
        self.hint = QLabel()
        self.hint.setObjectName("fineprint")
        self.hint.setWordWrap(True)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton("Use this key file",
                                           QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(offer)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        for field in (self.path, self.passphrase, self.repeat):
            field.textChanged.connect(self._validate)
        self._validate()
        self.passphrase.setFocus()

    @classmethod
    def ask(cls, problem: str, default_path: Path,
            parent: QWidget | None = None) -> KeyAccess | None:
        """The key access the person chose, or None if they cancelled."""
        from services.vault import KeyAccess

        dialog = cls(problem, default_path, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return KeyAccess(key_file=dialog.chosen_path(), passphrase=dialog.passphrase.text())
        finally:
            dialog.passphrase.clear()
            dialog.repeat.clear()
            dialog.deleteLater()

    def chosen_path(self) -> Path:
        return Path(self.path.text().strip()).expanduser()

    def _creating(self) -> bool:
        return bool(self.path.text().strip()) and not self.chosen_path().exists()

    def _validate(self) -> None:
        creating = self._creating()
        self.repeat.setVisible(creating)
        self.repeat_label.setVisible(creating)
        passphrase = self.passphrase.text()
        if not self.path.text().strip():
            problem = "Choose where the key file is, or where to create it."
        elif len(passphrase) < MIN_PASSPHRASE:
            problem = (f"The passphrase needs at least {MIN_PASSPHRASE} characters "
                       f"({len(passphrase)} so far); several words work well.")
        elif creating and self.repeat.text() != passphrase:
            problem = "Type the same passphrase again to confirm it."
        else:
            problem = ""
        self.hint.setText(problem or ("A new key file will be created there." if creating
                                      else "The existing key file will be unlocked."))
        self.ok_button.setEnabled(not problem)

    def _browse(self) -> None:
        chosen, _filter = QFileDialog.getSaveFileName(
            self, "Key file", self.path.text(), "Gatehouse key files (*.key);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite)
        if chosen:
            self.path.setText(chosen)
