"""The password policy in words: every rule, including the ones switched off and why.

The sentences for rules in force are the policy's own (``PasswordPolicy.describe``, the same
text ``python main.py password policy`` prints); this view adds the rules that are off, so a
reader sees that composition rules and expiry were left out on purpose, not forgotten.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from policies.password_policy import PasswordPolicy

# (rule in PasswordPolicy.describe, title, sentence when the rule is off)
RULES = (
    ("length", "Length", ""),
    ("strength", "Strength", "Off: no minimum strength estimate."),
    ("context", "Your own details", "Off: your names and organisation are not checked."),
    ("banned", "Banned words", "Off: no banned words are checked."),
    ("common", "Common passwords", "Off: common passwords are not checked."),
    ("history", "History", "Off: an earlier password may be used again."),
    ("composition", "Character mix",
     "Off: any mix of characters is fine, spaces included. NIST SP 800-63B-4 advises against "
     "rules such as \"a capital, a digit and a symbol\": they make passwords harder to "
     "remember, not to guess."),
    ("expiry", "Expiry",
     "Off: passwords do not expire (NIST SP 800-63B-4). Change yours at once if you think "
     "someone else knows it."),
    ("breached", "Breached passwords",
     "Off: no list of breached passwords is installed on this system yet."),
)


def rule_rows(policy: PasswordPolicy) -> list[tuple[str, str, bool]]:
    """(title, sentence, in force) for every rule, in a fixed order."""
    described = dict(policy.describe())
    rows = [(title, described.get(key, off), key in described) for key, title, off in RULES]
    known = {key for key, _title, _off in RULES}
    # A rule the policy describes that this view does not know yet is still shown.
    rows += [(key.capitalize(), text, True) for key, text in described.items()
             if key not in known]
    return rows


class PolicyView(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.heading = QLabel("Password policy")
        self.heading.setObjectName("panelHeading")
        self.source = QLabel("Loading the policy…")
        self.source.setObjectName("fineprint")
        self.source.setWordWrap(True)
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(14)
        self._grid.setVerticalSpacing(8)
        self._grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.source)
        layout.addSpacing(4)
        layout.addLayout(self._grid)
        layout.addStretch(1)
        self.rows: list[tuple[str, str, bool]] = []

    def show_policy(self, policy: PasswordPolicy) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.heading.setText(policy.name)
        self.source.setText(f"Every rule a new password must meet (from {Path(policy.source).name}"
                            "). The same rules apply when you change or reset a password.")
        self.source.setToolTip(policy.source)
        self.rows = rule_rows(policy)
        for row, (title, text, on) in enumerate(self.rows):
            caption = QLabel(title)
            caption.setObjectName("ruleTitle" if on else "ruleTitleOff")
            sentence = QLabel(text)
            sentence.setObjectName("" if on else "ruleOff")
            sentence.setWordWrap(True)
            sentence.setTextFormat(Qt.TextFormat.PlainText)
            self._grid.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
            self._grid.addWidget(sentence, row, 1)
