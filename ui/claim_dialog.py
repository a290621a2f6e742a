"""Give a deleted account's login ID to someone new (programme decision: a deleted ID may be
reused, so no more ``alex.morgan1@``).

Before the Claim button can be pressed the admin is shown who held the ID before — when, by
which subject id (``services.identity_lifecycle.preview_claim``) — and ticks that they have
read it; the new identity gets a new subject id and inherits nothing (OpenID Connect: an e-mail
may be reused, a subject id never). While the ID is still cooling off, or a live identity holds
it, the dialog says so and offers nothing to claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.fit_to_content import HeightFitter
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.identity_lifecycle import ClaimPreview
    from services.orgs import Organisation
    from services.users import IdentityDetail


class ClaimDialog(QDialog):
    """Opened window-modal (``open``); ``claimed`` carries the new identity."""

    claimed = Signal(object)  # IdentityDetail
    preview_shown = Signal(object)  # ClaimPreview

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner, email: str = "",
                 org_code: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._org_code = org_code
        self._busy = False
        self.preview: ClaimPreview | None = None
        self.setWindowTitle("Reuse a login ID")
        self.setMinimumWidth(560)

        intro = QLabel("Give the login ID of a deleted identity to someone new. The new identity "
                       "gets a new subject id and inherits nothing of the previous holder: no "
                       "roles, password, MFA enrolment, reset codes or terms acceptance.")
        intro.setWordWrap(True)
        self.email = QLineEdit(email)
        self.email.setObjectName("claimEmail")
        self.email.setPlaceholderText("the login ID (e-mail) to reuse")
        self.email.setAccessibleName("Login ID to reuse")
        self.check_button = QPushButton("C&heck")
        self.check_button.setToolTip("Show who held this login ID before")
        self.check_button.setAutoDefault(False)  # Enter in the address checks it
        self.check_button.clicked.connect(self.check)
        self.email.returnPressed.connect(self.check)
        self.email.textChanged.connect(self._email_edited)
        email_row = QHBoxLayout()
        email_row.addWidget(self.email, 1)
        email_row.addWidget(self.check_button)

        # The previous holders: what the admin must read before confirming.
        self.warning = alerts.inline_label("warningNote")
        self.warning.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.given = QLineEdit()
        self.given.setAccessibleName("Given name")
        self.family = QLineEdit()
        self.family.setAccessibleName("Family name")
        self.org = QComboBox()
        self.org.setAccessibleName("Organisation")
        self.acknowledge = QCheckBox(
            "I have &read who held this login ID before; the new identity inherits nothing")
        self.message = alerts.inline_label()
        for field in (self.given, self.family):
            field.textChanged.connect(self._validate)
        self.acknowledge.toggled.connect(self._validate)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        email_caption = QLabel("&Login ID")
        email_caption.setBuddy(self.email)
        form.addRow(email_caption, email_row)
        form.addRow(self.warning)
        entries: tuple[tuple[str, QWidget], ...] = (
            ("&Given name", self.given), ("&Family name", self.family),
            ("&Organisation", self.org))
        for caption_text, widget in entries:
            caption = QLabel(caption_text)
            caption.setBuddy(widget)
            form.addRow(caption, widget)
        form.addRow(self.acknowledge)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.claim_button = buttons.addButton("&Claim login ID",
                                              QDialogButtonBox.ButtonRole.AcceptRole)
        self.claim_button.setDefault(True)
        buttons.accepted.connect(self.claim)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.setTabOrder(self.email, self.check_button)
        self._fitter = HeightFitter(self)
        self._set_details_enabled(False)
        self._validate()
        self._load_orgs()
        if email.strip():
            QTimer.singleShot(0, self, self.check)
        else:
            self.email.setFocus()

    # ---- the organisations, and the preview ------------------------------------------------

    def _load_orgs(self) -> None:
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> list[Organisation]:
            from services.orgs import list_orgs

            return list_orgs(ctx, op)

        self._runner.submit(work, owner=self, on_result=self._orgs_arrived)

    def _orgs_arrived(self, orgs: list[Organisation]) -> None:
        self.org.clear()
        for org in orgs:
            self.org.addItem(f"{org.name} ({org.code})", org.code)
        if self._org_code is not None:
            found = self.org.findData(self._org_code)
            if found >= 0:
                self.org.setCurrentIndex(found)

    def _email_edited(self) -> None:
        # A different address: what was shown no longer applies to it.
        self.preview = None
        self.warning.hide()
        self.acknowledge.setChecked(False)
        self._set_details_enabled(False)
        self._validate()

    def check(self) -> None:
        address = self.email.text().strip()
        if not address or self._busy:
            return
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> ClaimPreview:
            from services.identity_lifecycle import preview_claim

            return preview_claim(ctx, op, address)

        self.message.hide()
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._previewed, on_error=self._failed,
                            on_done=self._done)

    def _previewed(self, preview: ClaimPreview) -> None:
        self.preview = preview
        self.warning.setText(preview.warning())
        self.warning.show()
        self._set_details_enabled(preview.claimable and bool(preview.previous))
        self._validate()
        self._fitter.request()
        if preview.claimable and preview.previous:
            self.given.setFocus(Qt.FocusReason.OtherFocusReason)
        self.preview_shown.emit(preview)

    def _set_details_enabled(self, enabled: bool) -> None:
        for widget in (self.given, self.family, self.org, self.acknowledge):
            widget.setEnabled(enabled)

    # ---- claiming ------------------------------------------------------------------------

    def ready(self) -> bool:
        preview = self.preview
        return (preview is not None and preview.claimable and bool(preview.previous)
                and self.acknowledge.isChecked() and bool(self.given.text().strip())
                and bool(self.family.text().strip()) and self.org.currentData() is not None)

    def _validate(self) -> None:
        self.claim_button.setEnabled(not self._busy and self.ready())
        self.check_button.setEnabled(not self._busy and bool(self.email.text().strip()))

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._validate()

    def _done(self) -> None:
        self._set_busy(False)

    def claim(self) -> None:
        if self._busy or not self.ready() or self.preview is None:
            return
        ctx, op = self._ctx, self._operator
        # The address the preview was shown for: it is what the admin acknowledged.
        address, org_code = self.preview.login_id, str(self.org.currentData())
        given, family = self.given.text(), self.family.text()

        def work(_control: TaskControl) -> IdentityDetail:
            from services.identity_lifecycle import claim_login_id

            return claim_login_id(ctx, op, address, given, family, org_code, acknowledged=True)

        self.message.hide()
        self._set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._claimed, on_error=self._failed,
                            on_done=self._done)

    def _claimed(self, detail: IdentityDetail) -> None:
        self.claimed.emit(detail)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.message.setText(str(exc))
        self.message.show()
        self._fitter.request()
