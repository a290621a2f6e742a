"""Start an MFA enrolment campaign: a role, the organisations (or all), and the date.

The date means the end of that day, UTC — as the command line's ``mfa campaign start --by``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

ROLES = (("lso", "Local security officers"), ("platform_admin", "Platform admins"),
         ("security_reviewer", "Security reviewers"))


@dataclass(frozen=True)
class CampaignRequest:
    role: str
    org_codes: tuple[str, ...]  # empty: every organisation
    enrol_by: datetime


def end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


class MfaCampaignDialog(QDialog):
    def __init__(self, organisations: list[tuple[str, str]], today: date,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start an MFA campaign")
        self.setMinimumWidth(460)
        note = QLabel("Everyone holding the role (in the organisations ticked, or everywhere "
                      "if none is ticked) must set up two-step verification by the date; "
                      "reminders are queued in the outbox now.")
        note.setWordWrap(True)
        self.role = QComboBox()
        for value, text in ROLES:
            self.role.addItem(text, value)
        self.organisations = QListWidget()
        self.organisations.setAccessibleName("Organisations")
        for code, name in organisations:
            item = QListWidgetItem(f"{name} ({code})")
            item.setData(Qt.ItemDataRole.UserRole, code)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.organisations.addItem(item)
        self.organisations.setMaximumHeight(160)
        self.date = QDateEdit()
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        first = QDate(today.year, today.month, today.day)
        self.date.setMinimumDate(first)
        self.date.setDate(first.addDays(28))
        form = QFormLayout()
        form.addRow("&Role", self.role)
        form.addRow("&Organisations", self.organisations)
        form.addRow("&Enrol by (end of day, UTC)", self.date)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton("&Start campaign",
                                           QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.role.setFocus()

    def request(self) -> CampaignRequest:
        codes = tuple(str(self.organisations.item(i).data(Qt.ItemDataRole.UserRole))
                      for i in range(self.organisations.count())
                      if self.organisations.item(i).checkState() == Qt.CheckState.Checked)
        chosen = self.date.date()
        return CampaignRequest(role=str(self.role.currentData()), org_codes=codes,
                               enrol_by=end_of_day(date(chosen.year(), chosen.month(),
                                                        chosen.day())))

    @classmethod
    def ask(cls, organisations: list[tuple[str, str]], today: date,
            parent: QWidget | None = None) -> CampaignRequest | None:
        """The campaign to start, or None if the person cancelled (tests replace this)."""
        dialog = cls(organisations, today, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.request()
        finally:
            dialog.deleteLater()
