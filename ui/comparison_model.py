"""The comparison table: for each rule, how many candidates it rejects under the old and the
new policy, and the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt

from ui.record_table_model import RecordTableModel

if TYPE_CHECKING:
    from services.passwords import Comparison

SORT_ROLE = Qt.ItemDataRole.UserRole.value + 1
POLICY_LABELS = ("Old policy", "New policy")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

# Short names for the table and the chart; the engine's own description is the tooltip.
RULE_NAMES = {
    "invalid_characters": "Invalid characters",
    "too_short": "Too short",
    "too_long": "Too long",
    "contains_given_name": "First name",
    "contains_family_name": "Surname",
    "contains_email_name": "Email name",
    "contains_organisation": "Organisation name",
    "too_common": "Too common",
    "banned_terms": "Banned words",
    "composition": "Character mix",
    "too_weak": "Too weak",
    "breached": "Breached",
    "reused": "Reused",
}


def rule_meanings() -> dict[str, str]:
    """Failure code → what it means, as a sentence start ("Shorter than the minimum…")."""
    from services.passwords.evaluate import rules_by_code

    return {code: text[:1].upper() + text[1:] for code, text in rules_by_code().items()}


def rule_name(code: str) -> str:
    return RULE_NAMES.get(code, code.replace("_", " ").capitalize())


def ordered_codes(comparison: Comparison) -> list[str]:
    """Every rule that rejected something; most rejections under the new policy first (the
    order the CLI prints)."""
    old, new = dict(comparison.tallies[0].rules), dict(comparison.tallies[-1].rules)
    return sorted(set(old) | set(new), key=lambda c: (-new.get(c, 0), -old.get(c, 0), c))


@dataclass(frozen=True)
class RuleRow:
    code: str
    old: int
    new: int
    meaning: str

    @property
    def change(self) -> int:
        return self.new - self.old


class ComparisonModel(RecordTableModel[RuleRow]):
    """Rows are failure codes; with more than two policies, the first and the last count."""

    COLUMNS = ("Rule", "Code", *POLICY_LABELS, "Change")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._comparison: Comparison | None = None

    @property
    def comparison(self) -> Comparison | None:
        return self._comparison

    def set_comparison(self, comparison: Comparison | None) -> None:
        self._comparison = comparison
        if comparison is None:
            self.set_records([])
            return
        meanings = rule_meanings()
        old, new = dict(comparison.tallies[0].rules), dict(comparison.tallies[-1].rules)
        self.set_records([RuleRow(code, old.get(code, 0), new.get(code, 0),
                                  meanings.get(code, code))
                          for code in ordered_codes(comparison)])

    def codes(self) -> list[str]:
        return [row.code for row in self._records]

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 2 <= section < len(self.COLUMNS):
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return _RIGHT
            if role == Qt.ItemDataRole.ToolTipRole and self._comparison is not None \
                    and section < 4:
                tally = self._comparison.tallies[0 if section == 2 else -1]
                return f"Candidates each rule rejects under {tally.policy} ({tally.source})"
        return super().headerData(section, orientation, role)

    def cells(self, record: RuleRow) -> tuple[str, ...]:
        change = f"{record.change:+,}" if record.change else "0"
        return (rule_name(record.code), record.code, f"{record.old:,}", f"{record.new:,}",
                change)

    def cell_role(self, record: RuleRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column >= 2 else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{record.meaning} ({record.code})"
        if role == SORT_ROLE:
            return (rule_name(record.code), record.code, record.old, record.new,
                    record.change)[column]
        return None
