"""A password entry: a masked line edit with a button that shows or hides what was typed.

The button is a real tab stop (keyboard users can reach it), and ``clear`` also hides the text
again, so a password shown once is not left on screen for the next person.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QToolButton, QWidget

from ui.appearance import icon


class PasswordField(QWidget):
    def __init__(self, accessible_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setAccessibleName(accessible_name)
        self.show_button = QToolButton()
        self.show_button.setObjectName("revealButton")
        self.show_button.setCheckable(True)
        self.show_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.show_button.toggled.connect(self._set_shown)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.show_button)
        self.setFocusProxy(self.edit)
        self._set_shown(False)

    def text(self) -> str:
        return self.edit.text()

    def clear(self) -> None:
        self.edit.clear()
        self.show_button.setChecked(False)

    @property
    def shown(self) -> bool:
        return self.edit.echoMode() == QLineEdit.EchoMode.Normal

    def _set_shown(self, shown: bool) -> None:
        self.edit.setEchoMode(QLineEdit.EchoMode.Normal if shown
                              else QLineEdit.EchoMode.Password)
        self.show_button.setIcon(icon("eye-off" if shown else "eye"))
        what = self.edit.accessibleName().lower()
        tip = f"Hide the {what}" if shown else f"Show the {what}"
        self.show_button.setToolTip(tip)
        self.show_button.setAccessibleName(tip)
