"""Add an organisation (platform admins): code, name and type, checked before it is sent."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QWidget,
)

from ui.alerts import inline_label
from ui.orgs_model import TYPE_TEXT


class AddOrgDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add organisation")
        self.code = QLineEdit()
        self.code.setPlaceholderText("e.g. NWGS")
        self.code.setMaxLength(16)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Northwind Gas Shipping")
        self.type = QComboBox()
        for code, text in TYPE_TEXT.items():
            self.type.addItem(text, code)
        self.message = inline_label()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        add = buttons.addButton("Add", QDialogButtonBox.ButtonRole.AcceptRole)
        add.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow("&Code", self.code)
        layout.addRow("&Name", self.name)
        layout.addRow("&Type", self.type)
        layout.addRow(self.message)
        layout.addRow(buttons)
        self.values: tuple[str, str, str] | None = None

    def accept(self) -> None:
        # The service's own validation (no store access), so mistakes show here, in place.
        from services.errors import InvalidInput
        from services.orgs import validate_org

        try:
            self.values = validate_org(self.code.text(), self.name.text(),
                                       str(self.type.currentData()))
        except InvalidInput as exc:
            self.message.setText(str(exc))
            self.message.show()
            return
        super().accept()

    @classmethod
    def ask(cls, parent: QWidget | None = None) -> tuple[str, str, str] | None:
        """(code, name, type) checked by ``services.orgs.validate_org``, or None."""
        dialog = cls(parent)
        try:
            return dialog.values if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()
