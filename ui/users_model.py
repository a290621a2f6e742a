"""The Users table: a model over the in-memory identity index (``services.identity_index``).

The model keeps only row numbers into the index's parallel lists and formats a cell when the
view asks for it (Anki's browser keeps ids and fetches lazily). Searching and sorting run in the
index — a case-folded substring scan and cached sort orders — never in a Python loop over
widgets or a proxy's per-row callback. Until the index has loaded, a first screen from a
``LIMIT`` query is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)

if TYPE_CHECKING:
    from services.identity_index import IdentityIndex, SearchResult
    from services.users import IdentitySummary

ModelIndex = QModelIndex | QPersistentModelIndex

# (sort key in services.identity_index, header)
COLUMNS = (
    ("login_id", "Login ID"),
    ("name", "Name"),
    ("organisation", "Organisation"),
    ("status", "Status"),
    ("updated_at", "Updated (UTC)"),
)

STATUS_TEXT = {"active": "Active", "reset_required": "Must set password", "locked": "Locked",
               "disabled": "Disabled", "deleted": "Deleted", "merged": "Merged (alias)"}
SUBJECT_ROLE = Qt.ItemDataRole.UserRole.value + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole.value + 2  # the status as stored ("merged", …)
LOGIN_ROLE = Qt.ItemDataRole.UserRole.value + 3  # the row's login ID, whatever the column
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole.value, Qt.ItemDataRole.ToolTipRole.value,
                    SUBJECT_ROLE, STATUS_ROLE, LOGIN_ROLE})


class UsersModel(QAbstractTableModel):
    """Rows are identities; ``search`` and ``sort`` re-select rows from the index."""

    rows_replaced = Signal()  # after every reset: the page restores its selection

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._index: IdentityIndex | None = None
        self._preview: list[IdentitySummary] = []
        self._result: SearchResult | None = None
        self._text = ""
        self._sort_key = "name"
        self._descending = False

    # ---- state ---------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True once the whole index is in; before that, only the first screen is shown."""
        return self._index is not None

    @property
    def identity_index(self) -> IdentityIndex | None:
        return self._index

    @property
    def total(self) -> int:
        return len(self._index) if self._index is not None else len(self._preview)

    @property
    def search_text(self) -> str:
        return self._text

    def set_preview(self, rows: list[IdentitySummary]) -> None:
        """The first screen, before the index has loaded (ignored once it has)."""
        if self._index is not None:
            return
        self.beginResetModel()
        self._preview = list(rows)
        self.endResetModel()
        self.rows_replaced.emit()

    def set_index(self, index: IdentityIndex) -> None:
        self._index = index
        self._preview = []
        self._result = None
        self._apply()

    def set_search(self, text: str) -> None:
        """Show the identities whose login ID, names or organisation hold every word."""
        if text == self._text and self._result is not None:
            return
        self._text = text
        self._apply()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        self._sort_key = COLUMNS[column][0]
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._result = None
        self._apply()

    def refresh_identity(self, summary: IdentitySummary) -> None:
        """A change made here (rename, disable): update the index and re-apply the view."""
        if self._index is None:
            return
        if self._index.update(summary) is not None:
            self._result = None
            self._apply()

    def _apply(self) -> None:
        if self._index is None:
            return
        result = self._index.search(self._text, self._sort_key, self._descending,
                                    previous=self._result)
        self.beginResetModel()
        self._result = result
        self.endResetModel()
        self.rows_replaced.emit()

    # ---- look-ups for the page -----------------------------------------------------------

    def subject_at(self, row: int) -> str | None:
        if self._index is None or self._result is None:
            return self._preview[row].subject if 0 <= row < len(self._preview) else None
        if not 0 <= row < len(self._result):
            return None
        return self._index.subjects[self._result.row(row)]

    def row_of(self, subject: str) -> int | None:
        if self._index is None or self._result is None:
            return next((i for i, s in enumerate(self._preview) if s.subject == subject), None)
        position = self._index.position(subject)
        if position is None:
            return None
        return self._index.display_row(self._result, position)  # None: filtered out

    # ---- QAbstractTableModel -------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt idiom)
        if parent.isValid():
            return 0
        if self._result is not None:
            return len(self._result)
        return len(self._preview) if self._index is None else 0

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section][1]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every role of every visible cell on each paint: reject roles first, then
        # read only the one field the column shows.
        if role not in _ROLES or not index.isValid():
            return None
        row, column = index.row(), index.column()
        if self._index is None or self._result is None:
            return self._preview_cell(row, column, role)
        if not 0 <= row < len(self._result):
            return None
        i, ix = self._result.row(row), self._index
        if role == SUBJECT_ROLE:
            return ix.subjects[i]
        if role == STATUS_ROLE:
            return ix.statuses[i]
        if role == LOGIN_ROLE:
            return ix.login_ids[i]
        if column == 0:
            return ix.login_ids[i]
        if column == 1:
            return f"{ix.family_names[i]}, {ix.given_names[i]}"
        if column == 2:
            return ix.org_names[i]
        if column == 3:
            status = ix.statuses[i]
            return STATUS_TEXT.get(status, status)
        return ix.updated[i][:16]

    def _preview_cell(self, row: int, column: int, role: int) -> Any:
        if not 0 <= row < len(self._preview):
            return None
        summary = self._preview[row]
        if role == SUBJECT_ROLE:
            return summary.subject
        if role == STATUS_ROLE:
            return summary.status
        if role == LOGIN_ROLE:
            return summary.login_id
        return (summary.login_id, f"{summary.family_name}, {summary.given_name}",
                summary.org_name, STATUS_TEXT.get(summary.status, summary.status),
                summary.updated_at.strftime("%Y-%m-%d %H:%M"))[column]


class UsersProxyModel(QSortFilterProxyModel):
    """Passes sorting to the source, whose index sorts 100,000 rows from a cached order.

    Qt's own proxy sort would call ``data()`` O(n log n) times through Python (seconds at this
    size); the proxy still gives the view the usual sort-indicator behaviour.
    """

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)
