"""The Organisations table (a few hundred rows at most: a plain list is enough)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

if TYPE_CHECKING:
    from services.orgs import Organisation

ModelIndex = QModelIndex | QPersistentModelIndex

COLUMNS = ("Code", "Name", "Type")
TYPE_TEXT = {"shipper": "Shipper", "supplier": "Supplier", "gt": "Gas transporter",
             "igt": "Independent gas transporter", "cdsp": "Central data service provider",
             "other": "Other"}


class OrgsModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._orgs: list[Organisation] = []

    def set_orgs(self, orgs: list[Organisation]) -> None:
        self.beginResetModel()
        self._orgs = list(orgs)
        self.endResetModel()

    def org_at(self, row: int) -> Organisation | None:
        return self._orgs[row] if 0 <= row < len(self._orgs) else None

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt idiom)
        return 0 if parent.isValid() else len(self._orgs)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        org = self.org_at(index.row())
        if org is None:
            return None
        return (org.code, org.name, TYPE_TEXT.get(org.type, org.type))[index.column()] \
            if 0 <= index.column() < len(COLUMNS) else None
