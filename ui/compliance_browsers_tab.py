"""Browsers tab: paste or load User-Agents, judge them (off the GUI thread), see the verdicts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.compliance_browser_model import BrowserRow, BrowserVerdictModel
from ui.compliance_tab import CheckTab, fine, make_table
from ui.task_runner import TaskControl, TaskRunner


def judge(uas: list[str], control: TaskControl) -> list[BrowserRow]:
    from services.compliance.browsers import judge_user_agent

    seen = Counter(uas)
    rows = []
    for done, (ua, count) in enumerate(seen.items(), start=1):
        control.raise_if_cancelled()
        rows.append(BrowserRow(judge_user_agent(ua), count))
        control.progress(done, len(seen))
    return rows


class BrowsersTab(CheckTab):
    KIND = "browser"

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Paste User-Agent strings here, one per line")
        self.input.setMaximumHeight(110)
        self.load_button = QPushButton("Load file…")
        self.load_button.clicked.connect(self._load)
        self.check_button = QPushButton("Check")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.check)
        actions = QHBoxLayout()
        actions.addWidget(fine("Browsers: Edge 16+, Chrome 57+, Firefox 52+, Safari 11+; "
                               "Internet Explorer is not supported. API clients: TLS 1.2+."), 1)
        actions.addWidget(self.load_button)
        actions.addWidget(self.check_button)
        actions.addWidget(self.save_button)
        self.model = BrowserVerdictModel(self)
        self.table = make_table(self.model)
        for column, width in enumerate((150, 60, 170, 420)):
            self.table.setColumnWidth(column, width)
        layout = QVBoxLayout(self)
        layout.addWidget(self.input)
        layout.addLayout(actions)
        layout.addLayout(self.busy_row)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)

    @staticmethod
    def ask_file(parent: QWidget) -> Path | None:
        """The file chosen in the standard file dialog, or None (tests replace this)."""
        chosen, _filter = QFileDialog.getOpenFileName(
            parent, "Choose a file of User-Agents", str(Path.home()),
            "Text files (*.txt *.log *.csv);;All files (*)")
        return Path(chosen) if chosen else None

    def _load(self) -> None:
        path = self.ask_file(self)
        if path is None:
            return
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            self.say(f"{path.name} cannot be read ({exc.strerror}); choose another file.", "bad")
            return
        self.input.setPlainText(text)

    def set_busy(self, busy: bool) -> None:
        self.check_button.setEnabled(not busy)
        self.load_button.setEnabled(not busy)

    def check(self) -> None:
        uas = [line.strip() for line in self.input.toPlainText().splitlines() if line.strip()]
        if not uas:
            self.say("Paste at least one User-Agent, or load a file of them.", "bad")
            return
        self.run(lambda control: judge(uas, control), self._show)

    def _show(self, rows: list[BrowserRow]) -> None:
        self.model.set_records(rows)
        counts: Counter[str] = Counter()
        for row in rows:
            counts[row.verdict.verdict.value] += row.count
        compliant = all(row.verdict.compliant for row in rows)
        self.document = self._document(rows, counts, compliant)
        summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items()))
        self.say(("All compliant: " if compliant else "Not all compliant: ") + summary,
                 "good" if compliant else "bad")

    @staticmethod
    def _document(rows: list[BrowserRow], counts: Counter[str],
                  compliant: bool) -> dict[str, Any]:
        return {"checked": sum(r.count for r in rows), "distinct": len(rows),
                "compliant": compliant, "counts": dict(sorted(counts.items())),
                "results": [{**r.verdict.as_dict(), "count": r.count} for r in rows]}
