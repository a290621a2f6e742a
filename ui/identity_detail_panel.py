"""The panel beside the Users table: one identity in full, with the actions the operator may use.

Hiding a button is convenience, not security: the services check every action themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.users_model import STATUS_TEXT

if TYPE_CHECKING:
    from services.authz import Action, Operator
    from services.users import IdentityDetail

FIELDS = (
    ("login_id", "Login ID"),
    ("email", "Email"),
    ("given_name", "Given name"),
    ("family_name", "Family name"),
    ("organisation", "Organisation"),
    ("status", "Status"),
    ("roles", "Roles"),
    ("flags", "Flags"),
    ("subject", "Subject id"),
    ("version", "Version"),
    ("updated", "Updated (UTC)"),
)


def _value_label(wrap: bool) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(wrap)  # addresses and ids read better whole than broken
    return label


def _may_manage(op: Operator, action: Action, detail: IdentityDetail) -> bool:
    """The service's own rule (scope, and nobody more privileged than the operator), asked
    without touching the store."""
    from services.errors import PermissionDenied
    from services.users import require_manage

    try:
        require_manage(op, action, detail)
    except PermissionDenied:
        return False
    return True


class IdentityDetailPanel(QFrame):
    rename_requested = Signal()
    disable_requested = Signal()
    force_reset_requested = Signal()
    reload_requested = Signal()

    def __init__(self, operator: Operator, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self._operator = operator
        self.detail: IdentityDetail | None = None
        self.heading = QLabel("No identity selected")
        self.heading.setObjectName("panelHeading")
        self.heading.setWordWrap(True)
        self.placeholder = QLabel("Select an identity in the table to see its details.")
        self.placeholder.setObjectName("fineprint")
        self.placeholder.setWordWrap(True)
        self.values = {name: _value_label(name in ("roles", "flags")) for name, _title in FIELDS}
        self.form_box = QWidget()
        form = QFormLayout(self.form_box)
        form.setContentsMargins(0, 0, 0, 0)
        # Caption above value: the panel is narrow and the values (addresses, ids) are long.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.setVerticalSpacing(2)
        for name, title in FIELDS:
            caption = QLabel(title)
            caption.setObjectName("caption")
            form.addRow(caption, self.values[name])

        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Correct the person's given or family name")
        self.disable_button = QPushButton("Disable…")
        self.disable_button.setObjectName("dangerButton")
        self.force_reset_button = QPushButton("Force password reset…")
        self.force_reset_button.setToolTip(
            "Make the person choose a new password: the current one stops working and a "
            "reset code is e-mailed to them. You never see or choose the new password.")
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read this identity again from the store")
        self.rename_button.clicked.connect(self.rename_requested)
        self.disable_button.clicked.connect(self.disable_requested)
        self.force_reset_button.clicked.connect(self.force_reset_requested)
        self.reload_button.clicked.connect(self.reload_requested)
        actions = QHBoxLayout()
        actions.addWidget(self.rename_button)
        actions.addWidget(self.disable_button)
        actions.addStretch(1)
        actions.addWidget(self.reload_button)
        more_actions = QHBoxLayout()
        more_actions.addWidget(self.force_reset_button)
        more_actions.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.form_box)
        layout.addLayout(actions)
        layout.addLayout(more_actions)
        layout.addStretch(1)
        self.clear()

    def clear(self) -> None:
        self.detail = None
        self.heading.setText("No identity selected")
        self.placeholder.show()
        self.form_box.hide()
        for button in self._buttons():
            button.hide()

    def show_loading(self) -> None:
        self.placeholder.setText("Loading…")
        self.set_busy(True)

    def set_busy(self, busy: bool) -> None:
        for button in self._buttons():
            button.setEnabled(not busy)

    def _buttons(self) -> tuple[QPushButton, ...]:
        return (self.rename_button, self.disable_button, self.force_reset_button,
                self.reload_button)

    def show_detail(self, detail: IdentityDetail) -> None:
        from services.authz import Action

        self.detail = detail
        self.heading.setText(f"{detail.given_name} {detail.family_name}")
        roles = ", ".join(f"{product}: {role}" for product, role in detail.entitlements)
        flags = ", ".join(detail.flags)
        text = {
            "login_id": detail.login_id,
            "email": detail.email,
            "given_name": detail.given_name,
            "family_name": detail.family_name,
            "organisation": f"{detail.org_name} ({detail.org_code})",
            "status": STATUS_TEXT.get(detail.status, detail.status),
            "roles": roles or "None",
            "flags": flags or "None",
            "subject": detail.subject,
            "version": str(detail.version),
            "updated": detail.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for name, label in self.values.items():
            label.setText(text[name])
        self.values["flags"].setObjectName("warningText" if flags else "")
        self.placeholder.hide()
        self.placeholder.setText("Select an identity in the table to see its details.")
        self.form_box.show()
        op = self._operator
        # The same rule the services apply (services.users.require_manage): scope, and never
        # someone more privileged than the operator.
        self.rename_button.setVisible(_may_manage(op, Action.IDENTITY_UPDATE, detail))
        self.disable_button.setVisible(
            _may_manage(op, Action.IDENTITY_DISABLE, detail) and detail.subject != op.subject
            and detail.status != "disabled")
        # Not on oneself (that is Change password, under My account), and only where a reset
        # can be started (services.reset: active or already waiting for a new password).
        self.force_reset_button.setVisible(
            _may_manage(op, Action.RESET_FORCE, detail) and detail.subject != op.subject
            and detail.status in ("active", "reset_required"))
        self.reload_button.show()
        self.set_busy(False)
