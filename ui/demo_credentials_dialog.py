"""Shows the demo accounts of a freshly seeded store, once: their passwords are stored only as
argon2 hashes, so this is the only moment anyone can read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from services.demo import DemoAccount

ROLE_NAMES = {"platform_admin": "Platform admin", "security_reviewer": "Security reviewer",
              "lso": "Local security officer", "user": "User"}


def credentials_text(accounts: Sequence[DemoAccount]) -> str:
    """The plain-text form printed to standard output."""
    width = max(len(a.email) for a in accounts)
    lines = ["Gatehouse created a demo store with these accounts. The passwords are shown "
             "only now and are not stored anywhere:"]
    lines += [f"  {ROLE_NAMES.get(a.role, a.role):<24} {a.email:<{width}}  {a.password}"
              for a in accounts]
    return "\n".join(lines)


class DemoCredentialsDialog(QDialog):
    def __init__(self, accounts: Sequence[DemoAccount], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Demo accounts")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # the passwords go with it
        intro = QLabel("This is a new demo store with synthetic people. Sign in with one of "
                       "these accounts. Note the password now: it is shown only once and is not "
                       "stored anywhere.")
        intro.setWordWrap(True)
        grid = QGridLayout()
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        for row, account in enumerate(accounts):
            grid.addWidget(QLabel(ROLE_NAMES.get(account.role, account.role)), row, 0)
            for column, text in ((1, account.email), (2, account.password)):
                label = QLabel(text)
                label.setFont(mono)
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                grid.addWidget(label, row, column)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(buttons)

    @classmethod
    def show_once(cls, accounts: Sequence[DemoAccount], parent: QWidget | None = None) -> None:
        """Open beside the sign-in dialog, not modal: the person reads one and types in the
        other."""
        dialog = cls(accounts, parent)
        dialog.show()
