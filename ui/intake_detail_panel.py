"""The panel beside the reset-request queue: one request in full, what its flags mean, and the
decision buttons.

A request flagged spoofed or malformed is approved only after the reviewer ticks that they have
checked it with the person another way (``services.intake.approve(force=True)``, which the
service insists on, not only this panel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.intake_model import FLAG_EXPLANATION, RISKY, STATUS_TEXT

if TYPE_CHECKING:
    from services.intake import IntakeItem

FIELDS = (
    ("from", "From (as written)"),
    ("identity", "Identity"),
    ("subject", "Subject"),
    ("received", "Received (UTC)"),
    ("message_id", "Message-ID"),
    ("source", "Saved in"),
    ("status", "Status"),
    ("version", "Version"),
)


def _value_label() -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)  # mail headers are never markup
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class IntakeDetailPanel(QFrame):
    approve_requested = Signal(bool)  # force
    reject_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self.item: IntakeItem | None = None
        self.heading = QLabel("No request selected")
        self.heading.setObjectName("panelHeading")
        self.placeholder = QLabel("Select a request in the table to review it.")
        self.placeholder.setObjectName("fineprint")
        self.placeholder.setWordWrap(True)
        self.values = {name: _value_label() for name, _title in FIELDS}
        self.form_box = QWidget()
        form = QFormLayout(self.form_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.setVerticalSpacing(2)
        for name, title in FIELDS:
            caption = QLabel(title)
            caption.setObjectName("caption")
            form.addRow(caption, self.values[name])
        self.flags = _value_label()
        self.flags.setObjectName("warningNote")
        self.decision = _value_label()
        self.decision.setObjectName("fineprint")
        self.force = QCheckBox("I checked it with the &person another way")
        self.force.setToolTip("Needed to approve a request flagged spoofed or malformed: for "
                              "example, you rang the person on a number you already had")
        self.approve_button = QPushButton("Approve…")
        self.approve_button.setToolTip("E-mail a reset code to the identity's stored address")
        self.reject_button = QPushButton("Reject…")
        self.reject_button.setObjectName("dangerButton")
        self.reject_button.setToolTip("Refuse the request with a reason the person is told")
        self.approve_button.clicked.connect(self._approve_clicked)
        self.reject_button.clicked.connect(self.reject_requested)
        self.force.toggled.connect(self._force_toggled)
        actions = QHBoxLayout()
        actions.addWidget(self.approve_button)
        actions.addWidget(self.reject_button)
        actions.addStretch(1)
        self.why_not = QLabel()
        self.why_not.setObjectName("fineprint")
        self.why_not.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.form_box)
        layout.addWidget(self.flags)
        layout.addWidget(self.decision)
        layout.addWidget(self.force)
        layout.addLayout(actions)
        layout.addWidget(self.why_not)
        layout.addStretch(1)
        self._busy = False
        self.clear()

    def _approve_clicked(self) -> None:
        self.approve_requested.emit(self.force.isChecked() and self.force.isVisible())

    def _force_toggled(self, _checked: bool) -> None:
        self._update_buttons()

    def clear(self) -> None:
        self.item = None
        self.heading.setText("No request selected")
        self.placeholder.show()
        for widget in (self.form_box, self.flags, self.decision, self.force, self.why_not,
                       self.approve_button, self.reject_button):
            widget.hide()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    def show_item(self, item: IntakeItem) -> None:
        changed = self.item is None or self.item.id != item.id
        self.item = item
        self.heading.setText(f"Request #{item.id}")
        text = {
            "from": item.from_address or "(no usable sender)",
            "identity": item.matched_login_id or "No live identity has this address",
            "subject": item.subject_line or "(no subject)",
            "received": item.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            "message_id": item.message_id or "(none)",
            "source": item.source,
            "status": STATUS_TEXT.get(item.status, item.status),
            "version": str(item.version),
        }
        for name, label in self.values.items():
            label.setText(text[name])
        self.placeholder.hide()
        self.form_box.show()
        notes = [FLAG_EXPLANATION.get(flag, flag) for flag in item.flags]
        if item.parse_error:
            notes.append(f"What could not be read: {item.parse_error}.")
        self.flags.setText("\n\n".join(notes))
        self.flags.setVisible(bool(notes))
        if item.status != "pending":
            when = item.decided_at.strftime("%Y-%m-%d %H:%M UTC") if item.decided_at else ""
            verdict = STATUS_TEXT.get(item.status, item.status)
            reason = f" Reason: {item.reason}" if item.reason else ""
            self.decision.setText(f"{verdict} by {item.decided_by} at {when}.{reason}")
            self.decision.show()
        else:
            self.decision.hide()
        pending = item.status == "pending"
        risky = bool(RISKY & set(item.flags))
        if changed:
            self.force.setChecked(False)
        self.force.setVisible(pending and risky and item.matched_subject is not None)
        self.approve_button.setVisible(pending)
        self.reject_button.setVisible(pending)
        self._update_buttons()

    def _update_buttons(self) -> None:
        item = self.item
        if item is None:
            return
        pending = item.status == "pending"
        risky = bool(RISKY & set(item.flags))
        can_approve = item.matched_subject is not None and (not risky or self.force.isChecked())
        self.approve_button.setEnabled(pending and can_approve and not self._busy)
        self.reject_button.setEnabled(pending and not self._busy)
        if not pending:
            why = ""
        elif item.matched_subject is None:
            why = "Approve is off: there is no identity to send a reset code to."
        elif risky and not self.force.isChecked():
            why = ("Approve is off until you tick that you have checked the request with the "
                   "person another way.")
        else:
            why = ""
        self.why_not.setText(why)
        self.why_not.setVisible(bool(why))
