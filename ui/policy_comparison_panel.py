"""Old versus new: run candidate passwords through the legacy and the current policy.

``services.passwords.compare`` does the work in the task runner; the candidates are fed to it
one at a time through a generator that reports progress and honours Cancel, so a long file
never freezes the window. Only counts come back: no candidate is ever shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from services.passwords.candidates import TOP_COMMON, builtin_sample, read_candidates
from ui.alerts import inline_label
from ui.appearance import icon
from ui.comparison_model import SORT_ROLE, ComparisonModel
from ui.policy_comparison_chart import ComparisonChart
from ui.task_runner import TaskControl, TaskHandle, TaskRunner

if TYPE_CHECKING:
    from collections.abc import Iterator

    from services.passwords import Comparison

LEGACY_POLICY_FILE = "password-legacy.toml"
NEW_COLUMN = 3  # ComparisonModel: the new policy's count


def summary_text(comparison: Comparison) -> str:
    old, new = comparison.tallies[0], comparison.tallies[-1]
    return (f"Of {comparison.candidates:,} candidate passwords, the old policy ({old.policy}) "
            f"accepts {old.accepted:,} and the new one ({new.policy}) accepts {new.accepted:,}. "
            f"{comparison.newly_rejected:,} that the old policy accepted are now rejected; "
            f"{comparison.newly_accepted:,} that it rejected are now accepted.")


class PolicyComparisonPanel(QWidget):
    compared = Signal(object)  # Comparison

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._handle: TaskHandle | None = None
        self.candidates_file: Path | None = None

        intro = QLabel("Show what the updated policy changes: the same candidate passwords go "
                       "through the legacy policy and the current one, and you see how many "
                       "each accepts and which rules reject them. Only counts are shown, never "
                       "a candidate.")
        intro.setWordWrap(True)
        intro.setObjectName("fineprint")
        self.use_sample = QCheckBox(
            f"Include the &built-in sample: {len(builtin_sample()):,} candidates (the "
            f"{TOP_COMMON} most common passwords, passwords written for the old rules, "
            "passphrases and random strings)")
        self.use_sample.setChecked(True)
        self.file_label = QLabel("No file of your own chosen.")
        self.file_label.setObjectName("fineprint")
        self.file_label.setTextFormat(Qt.TextFormat.PlainText)
        self.choose_button = QPushButton(icon("open"), "Add a &file of candidates…")
        self.choose_button.setToolTip("A UTF-8 text file with one candidate password per line")
        self.choose_button.clicked.connect(self._choose_file)
        self.remove_button = QPushButton("Remove file")
        self.remove_button.clicked.connect(self._remove_file)
        self.remove_button.hide()
        file_row = QHBoxLayout()
        file_row.addWidget(self.choose_button)
        file_row.addWidget(self.remove_button)
        file_row.addWidget(self.file_label, 1)
        self.mfa = QCheckBox("Judge as accounts with &multi-factor authentication")

        self.run_button = QPushButton("&Run comparison")
        self.run_button.setObjectName("primaryButton")
        self.run_button.clicked.connect(self.run)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v of %m candidates")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.cancel_button)
        run_row.addStretch(0)

        self.summary = inline_label("banner")

        self.model = ComparisonModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setObjectName("comparisonTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(56)
        for column, width in enumerate((116, 136, 90, 90, 84)):
            self.table.setColumnWidth(column, width)
        self.table.setAccessibleName("Candidates each rule rejects, per policy")
        self.table.setToolTip("Candidates each rule rejects under the old and the new policy")
        self.chart = ComparisonChart()
        scroll = QScrollArea()
        scroll.setObjectName("chartScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.chart)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.viewport().setAutoFillBackground(False)
        self.results = QSplitter(Qt.Orientation.Horizontal)
        self.results.addWidget(self.table)
        self.results.addWidget(scroll)
        self.results.setChildrenCollapsible(False)
        self.results.setSizes([520, 500])
        self.results.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.use_sample)
        layout.addLayout(file_row)
        layout.addWidget(self.mfa)
        layout.addSpacing(4)
        layout.addLayout(run_row)
        layout.addWidget(self.summary)
        layout.addWidget(self.results, 1)
        self.placeholder = QLabel("Choose the candidates, then run the comparison.")
        self.placeholder.setObjectName("fineprint")
        layout.addWidget(self.placeholder)
        layout.addStretch(0)
        self.use_sample.toggled.connect(self._sample_toggled)
        self._update_run()

    # ---- choosing candidates ---------------------------------------------------------------

    @staticmethod
    def ask_candidates_file(parent: QWidget) -> Path | None:
        """The file chosen in the standard file dialog, or None (tests replace this)."""
        chosen, _filter = QFileDialog.getOpenFileName(
            parent, "Choose a file of candidate passwords", str(Path.home()),
            "Text files (*.txt *.lst *.csv);;All files (*)")
        return Path(chosen) if chosen else None

    def _choose_file(self) -> None:
        path = self.ask_candidates_file(self)
        if path is None:
            return
        self.candidates_file = path
        self.file_label.setText(f"Also: {path.name} (one candidate per line)")
        self.file_label.setToolTip(str(path))
        self.remove_button.show()
        self._update_run()

    def _remove_file(self) -> None:
        self.candidates_file = None
        self.file_label.setText("No file of your own chosen.")
        self.file_label.setToolTip("")
        self.remove_button.hide()
        self._update_run()

    def _sample_toggled(self, _checked: bool) -> None:
        self._update_run()

    def _update_run(self) -> None:
        has_input = self.use_sample.isChecked() or self.candidates_file is not None
        self.run_button.setEnabled(has_input and self._handle is None)
        self.run_button.setToolTip("" if has_input else
                                   "Include the built-in sample or add a file of candidates.")

    # ---- running -------------------------------------------------------------------------

    def run(self) -> None:
        if self._handle is not None:
            return
        sample = builtin_sample() if self.use_sample.isChecked() else ()
        path, has_mfa = self.candidates_file, self.mfa.isChecked()
        if not sample and path is None:
            return

        def work(control: TaskControl) -> Comparison:
            from policies.loader import POLICY_DIR
            from policies.password_policy import load_password_policy
            from services.passwords import PasswordContext, compare, default_policy

            candidates = list(sample) + (read_candidates(path) if path is not None else [])
            old = load_password_policy(POLICY_DIR / LEGACY_POLICY_FILE)
            new = default_policy()
            total = len(candidates)

            def feed() -> Iterator[str]:
                for done, candidate in enumerate(candidates):
                    control.raise_if_cancelled()
                    control.progress(done, total)
                    yield candidate
                control.progress(total, total)

            return compare([old, new], feed(), PasswordContext(has_mfa=has_mfa))

        self.progress.setRange(0, 0)  # busy until the first report gives the total
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.summary.hide()
        self._handle = self._runner.submit(
            work, owner=self, on_result=self._arrived, on_progress=self._progressed,
            on_cancelled=self._cancelled, on_done=self._finished)
        self._update_run()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self.cancel_button.setEnabled(False)

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _cancelled(self) -> None:
        self._say("The comparison was cancelled; nothing was counted. Run it again when "
                  "you are ready.", "")

    def _finished(self) -> None:
        self._handle = None
        self.progress.hide()
        self.cancel_button.hide()
        self._update_run()

    def _arrived(self, comparison: Comparison) -> None:
        self.model.set_comparison(comparison)
        # Most rejections under the new policy first, as the chart and the CLI order them.
        self.table.sortByColumn(NEW_COLUMN, Qt.SortOrder.DescendingOrder)
        self.chart.set_comparison(comparison)
        self._say(summary_text(comparison), "good")
        self.placeholder.hide()
        self.results.show()
        self.compared.emit(comparison)

    def _say(self, text: str, tone: str) -> None:
        self.summary.setText(text)
        self.summary.setProperty("tone", tone)
        self.summary.style().unpolish(self.summary)
        self.summary.style().polish(self.summary)
        self.summary.show()
