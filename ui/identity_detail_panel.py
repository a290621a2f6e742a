"""The panel beside the Users table: one identity in full, with the actions the operator may use.

Hiding a button is convenience, not security: the services check every action themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ui.appearance import plain_scroll
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


class _Fields(QScrollArea):
    """The field list: as tall as it needs where there is room, scrolling where there is not
    (a short window squeezed the captions and cut wrapped roles to one line)."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self._content = content
        plain_scroll(self, content, "detailFields", horizontal=False)

    def sizeHint(self) -> QSize:
        # QScrollArea caps its hint at 24 lines; the fields need their own height to sit
        # above the buttons without a scroll bar when the window allows it.
        content = self._content
        width = self.viewport().width() or content.sizeHint().width()
        height = (content.heightForWidth(width) if content.hasHeightForWidth()
                  else content.sizeHint().height())
        return QSize(content.sizeHint().width(), max(height, content.sizeHint().height()))

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), 3 * self.fontMetrics().height())


def _may_manage(op: Operator, action: Action, detail: IdentityDetail) -> bool:
    """The service's own rule (scope, and nobody more privileged than the operator), asked
    without touching the store."""
    from services.errors import InvalidInput, PermissionDenied
    from services.users import require_manage

    try:
        require_manage(op, action, detail)
    except (PermissionDenied, InvalidInput):  # InvalidInput: a merged alias
        return False
    return True


def _may(op: Operator, action: Action) -> bool:
    from services.authz import allowed

    return allowed(op, action)


class IdentityDetailPanel(QFrame):
    rename_requested = Signal()
    disable_requested = Signal()
    force_reset_requested = Signal()
    reload_requested = Signal()
    delete_requested = Signal()
    restore_requested = Signal()
    claim_requested = Signal()
    edit_profile_requested = Signal()
    merge_requested = Signal()
    merge_history_requested = Signal()

    def __init__(self, operator: Operator, parent: QWidget | None = None, *,
                 profile_fields: Callable[[IdentityDetail], frozenset[str]] | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self._operator = operator
        # services.profile.editable_fields, bound to the context (a policy look-up, no store).
        self._profile_fields = profile_fields
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
        self.edit_profile_button = QPushButton("Edit profile…")
        self.edit_profile_button.setToolTip("Correct the names, phone, job title or e-mail "
                                            "(the e-mail with a code sent to the new address)")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("dangerButton")
        self.delete_button.setToolTip("Delete this identity (restorable during the cooling-off "
                                      "period)  (Del)")
        self.restore_button = QPushButton("Restore…")
        self.restore_button.setToolTip("Give this deleted identity back intact: its roles, "
                                       "password and MFA as they were  (Ctrl+Shift+R)")
        self.claim_button = QPushButton("Reuse login ID…")
        self.claim_button.setToolTip("Give this deleted identity's login ID to someone new, "
                                     "after the cooling-off period  (Ctrl+Shift+U)")
        self.merge_button = QPushButton("Merge with…")
        self.merge_button.setToolTip("Merge other accounts of this person into this one  "
                                     "(Ctrl+M)")
        self.merge_history_button = QPushButton("Merge history…")
        self.merge_history_button.setToolTip("The merges into this identity, and undoing one")
        self.merged_note = QLabel()
        self.merged_note.setObjectName("warningNote")
        self.merged_note.setWordWrap(True)
        self.merged_note.setTextFormat(Qt.TextFormat.PlainText)
        self.merged_note.hide()
        for button, signal in (
                (self.rename_button, self.rename_requested),
                (self.disable_button, self.disable_requested),
                (self.force_reset_button, self.force_reset_requested),
                (self.reload_button, self.reload_requested),
                (self.edit_profile_button, self.edit_profile_requested),
                (self.delete_button, self.delete_requested),
                (self.restore_button, self.restore_requested),
                (self.claim_button, self.claim_requested),
                (self.merge_button, self.merge_requested),
                (self.merge_history_button, self.merge_history_requested)):
            button.clicked.connect(signal)
        # Two buttons a row at most: the panel is narrow (320 px) and the labels must not clip.
        actions = QHBoxLayout()
        actions.addWidget(self.rename_button)
        actions.addWidget(self.edit_profile_button)
        actions.addStretch(1)
        more_actions = QHBoxLayout()
        more_actions.addWidget(self.force_reset_button)
        more_actions.addStretch(1)
        more_actions.addWidget(self.reload_button)
        lifecycle = QHBoxLayout()
        lifecycle.addWidget(self.disable_button)
        lifecycle.addWidget(self.delete_button)
        lifecycle.addWidget(self.restore_button)  # these two only on a deleted identity,
        lifecycle.addWidget(self.claim_button)  # the two above only on a live one
        lifecycle.addStretch(1)
        merging = QHBoxLayout()
        merging.addWidget(self.merge_button)
        merging.addWidget(self.merge_history_button)
        merging.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.merged_note)
        layout.addWidget(self.placeholder)
        self.fields = _Fields(self.form_box)
        layout.addWidget(self.fields)
        layout.addLayout(actions)
        layout.addLayout(more_actions)
        layout.addLayout(lifecycle)
        layout.addLayout(merging)
        layout.addStretch(1)
        self.clear()

    def clear(self) -> None:
        self.detail = None
        self.heading.setText("No identity selected")
        self.merged_note.hide()
        self.placeholder.show()
        self.fields.hide()
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
                self.reload_button, self.edit_profile_button, self.delete_button,
                self.restore_button, self.claim_button, self.merge_button,
                self.merge_history_button)

    def show_detail(self, detail: IdentityDetail, alias: str | None = None) -> None:
        """Show ``detail``; ``alias`` is the merged account selected in the table, whose
        look-up led to this identity (it was merged into it)."""
        from services.authz import Action

        self.detail = detail
        if alias:
            self.merged_note.setText(f"{alias} was merged into this identity; it remains as an "
                                     "alias of it. Undo the merge from Merge history.")
        self.merged_note.setVisible(bool(alias))
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
        self.fields.show()
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
        live = detail.status not in ("deleted", "merged")
        if not live:
            self.rename_button.hide()
            self.disable_button.hide()
        # Not on oneself: that is the profile under My account.
        self.edit_profile_button.setVisible(
            live and detail.subject != op.subject and self._profile_fields is not None
            and bool(self._profile_fields(detail)))
        self.delete_button.setVisible(
            live and detail.subject != op.subject
            and _may_manage(op, Action.IDENTITY_DELETE, detail))
        deleted = detail.status == "deleted"
        self.restore_button.setVisible(deleted and _may_manage(op, Action.IDENTITY_DELETE,
                                                               detail))
        self.claim_button.setVisible(deleted and _may(op, Action.IDENTITY_CLAIM))
        merging = live and _may(op, Action.IDENTITY_MERGE)
        self.merge_button.setVisible(merging)
        self.merge_history_button.setVisible(merging)
        self.reload_button.show()
        self.set_busy(False)
