"""The side-by-side preview of a merge: one column per account, and the merged result.

Rows are the attributes a merge decides (login ID, organisation, status, password, roles
product by product, MFA); cells an admin must settle are highlighted as conflicts, and roles
the survivor gains are marked in the result column. Built from a ``services.merge.MergePlan``,
which is read-only data: the model never touches the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from ui.users_model import STATUS_TEXT

if TYPE_CHECKING:
    from services.merge import AccountSnapshot, MergePlan

ModelIndex = QModelIndex | QPersistentModelIndex

CONFLICT_BACKGROUND = QColor("#fdecea")
CONFLICT_TEXT = QColor("#8a1c13")
GAINED_BACKGROUND = QColor("#e6f4ea")
GAINED_TEXT = QColor("#17572b")
RESULT_BACKGROUND = QColor("#f1f7f6")
# Cell states, for tests and the delegate-free colouring below.
PLAIN, CONFLICT, GAINED = "plain", "conflict", "gained"
STATE_ROLE = Qt.ItemDataRole.UserRole.value + 1


def _products(plan: MergePlan) -> list[str]:
    roles = {r for a in plan.accounts for r in a.entitlements}
    return sorted({r.partition(":")[0] for r in roles})


def _in_product(roles: tuple[str, ...], code: str) -> list[str]:
    return [r.partition(":")[2] for r in roles if r.partition(":")[0] == code]


class MergePreviewModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plan: MergePlan | None = None
        self._rows: list[tuple[str, str]] = []  # (kind, product code or "")

    def set_plan(self, plan: MergePlan | None) -> None:
        self.beginResetModel()
        self.plan = plan
        self._rows = []
        if plan is not None:
            self._rows = [("login_id", ""), ("name", ""), ("organisation", ""),
                          ("status", ""), ("password", "")]
            self._rows += [("product", code) for code in _products(plan)]
            self._rows += [("mfa", ""), ("resets", "")]
        self.endResetModel()

    # ---- what a cell shows -------------------------------------------------------------

    def _conflict_roles(self) -> set[str]:
        plan = self.plan
        if plan is None:
            return set()
        return {r for c in plan.conflicts if c.kind == "exclusive_roles" for r in c.choices}

    def _org_conflict(self) -> bool:
        return self.plan is not None and any(c.kind == "organisation"
                                             for c in self.plan.conflicts)

    def _account_cell(self, account: AccountSnapshot, kind: str, code: str) -> tuple[str, str]:
        from services.merge.mfa_rule import mfa_required

        if kind == "login_id":
            return account.login_id, PLAIN
        if kind == "name":
            return f"{account.given_name} {account.family_name}", PLAIN
        if kind == "organisation":
            return account.org_code, CONFLICT if self._org_conflict() else PLAIN
        if kind == "status":
            return STATUS_TEXT.get(account.status, account.status), PLAIN
        if kind == "password":
            return ("Set" if account.has_password else "None yet"), PLAIN
        if kind == "product":
            roles = _in_product(account.entitlements, code)
            clash = any(f"{code}:{r}" in self._conflict_roles() for r in roles)
            return ", ".join(roles) or "—", CONFLICT if clash else PLAIN
        if kind == "mfa":
            return ("Required" if mfa_required(account.entitlements) else "Not required"), PLAIN
        return str(account.open_resets), PLAIN

    def _result_cell(self, kind: str, code: str) -> tuple[str, str]:
        plan = self.plan
        assert plan is not None
        if kind == "login_id":
            return plan.login_id, PLAIN
        if kind == "name":
            return f"{plan.survivor.given_name} {plan.survivor.family_name}", PLAIN
        if kind == "organisation":
            if plan.organisation is None:
                return "Choose below", CONFLICT
            return plan.organisation, PLAIN
        if kind == "status":
            changed = plan.status != plan.survivor.status
            return STATUS_TEXT.get(plan.status, plan.status), GAINED if changed else PLAIN
        if kind == "password":
            return ("The survivor's" if plan.survivor.has_password else "None yet"), PLAIN
        if kind == "product":
            roles = _in_product(plan.entitlements, code)
            dropped = _in_product(plan.dropped_roles, code)
            text = ", ".join(roles) or "—"
            if dropped:
                text += f"  (not kept: {', '.join(dropped)})"
            if any(f"{code}:{r}" in self._conflict_roles() for r in roles):
                return text + "  — choose below", CONFLICT
            gained = any(f"{code}:{r}" in plan.gained_roles for r in roles)
            return text, GAINED if gained else PLAIN
        if kind == "mfa":
            return ("Required: must enrol" if plan.mfa_required else "Not required"), PLAIN
        return (f"{plan.revoke_resets} revoked" if plan.revoke_resets else "0"), PLAIN

    def cell(self, row: int, column: int) -> tuple[str, str]:
        """(text, state) of a cell; state is PLAIN, CONFLICT or GAINED."""
        plan = self.plan
        if plan is None or not 0 <= row < len(self._rows):
            return "", PLAIN
        kind, code = self._rows[row]
        accounts = plan.accounts
        if column < len(accounts):
            return self._account_cell(accounts[column], kind, code)
        return self._result_cell(kind, code)

    def row_title(self, row: int) -> str:
        kind, code = self._rows[row]
        return {"login_id": "Login ID", "name": "Name", "organisation": "Organisation",
                "status": "Status", "password": "Password", "product": f"{code} roles",
                "mfa": "MFA", "resets": "Open reset links"}[kind]

    # ---- QAbstractTableModel -------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt idiom)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() or self.plan is None:
            return 0
        return len(self.plan.accounts) + 1

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        plan = self.plan
        if role != Qt.ItemDataRole.DisplayRole or plan is None:
            return None
        if orientation == Qt.Orientation.Vertical:
            return self.row_title(section) if 0 <= section < len(self._rows) else None
        if section == 0:
            return "Survivor"
        if 0 < section < len(plan.accounts):
            return f"Absorbed ({section})"
        if section == len(plan.accounts):
            return "Result"
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.plan is None:
            return None
        row, column = index.row(), index.column()
        if not (0 <= row < len(self._rows) and 0 <= column < self.columnCount()):
            return None
        text, state = self.cell(row, column)
        result = column == len(self.plan.accounts)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if role == Qt.ItemDataRole.ToolTipRole and state == CONFLICT:
                return " ".join(c.message for c in self.plan.conflicts)
            return text
        if role == STATE_ROLE:
            return state
        if role == Qt.ItemDataRole.BackgroundRole:
            if state == CONFLICT:
                return QBrush(CONFLICT_BACKGROUND)
            if state == GAINED:
                return QBrush(GAINED_BACKGROUND)
            return QBrush(RESULT_BACKGROUND) if result else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if state == CONFLICT:
                return QBrush(CONFLICT_TEXT)
            return QBrush(GAINED_TEXT) if state == GAINED else None
        if role == Qt.ItemDataRole.FontRole and (result or state == CONFLICT):
            font = QFont()
            font.setBold(True)
            return font
        return None
