"""Logs tab: analyse access logs (off the GUI thread, with progress and cancel), then the
lock-out summary by organisation — a chart and a table — and the users of the organisation
chosen. With a store, users map to organisations and their LSOs through it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.compliance_lockout_chart import LockoutChart
from ui.compliance_lockout_model import LockoutUserModel, OrgLockoutModel
from ui.compliance_tab import CheckTab, fine, make_table
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.compliance.lockout import LockoutList
    from services.context import Context

FORMATS = ("auto", "nginx", "apache", "alb", "iis", "appgw", "frontdoor")


def analyse_logs(paths: list[Path], fmt: str, ctx: Context | None, op: Operator | None,
                 control: TaskControl) -> tuple[dict[str, Any], LockoutList]:
    from policies.tls_policy import load_tls_policy
    from services.compliance.access_logs import analyse
    from services.compliance.browsers import NON_COMPLIANT, judge_user_agent
    from services.compliance.lockout import lockout_by_organisation

    policy = load_tls_policy()
    report = analyse(paths, fmt=fmt, progress=control.progress,
                     cancel=lambda: control.cancelled,
                     classify=lambda ua: judge_user_agent(ua).verdict.value,
                     noncompliant=lambda ua: judge_user_agent(ua).verdict in NON_COMPLIANT,
                     client_ips=bool(policy.ip_ranges))
    control.raise_if_cancelled()
    lockout = lockout_by_organisation(report, policy, ctx=ctx, op=op)
    return {**report.as_dict(), "lockout_list": lockout.as_dict()}, lockout


class LogsTab(CheckTab):
    KIND = "logs"

    def __init__(self, runner: TaskRunner, ctx: Context | None = None,
                 operator: Operator | None = None, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self._ctx, self._operator = ctx, operator
        self.files: list[Path] = []
        self.files_label = QLabel("No log chosen.")
        self.files_label.setObjectName("fineprint")
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        self.load_button = QPushButton("Load logs…")
        self.load_button.clicked.connect(self._choose)
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setEnabled(False)
        self.analyse_button.clicked.connect(self.analyse)
        actions = QHBoxLayout()
        actions.addWidget(self.files_label, 1)
        actions.addWidget(QLabel("Format"))
        actions.addWidget(self.format)
        actions.addWidget(self.load_button)
        actions.addWidget(self.analyse_button)
        actions.addWidget(self.save_button)
        self.chart = LockoutChart()
        self.orgs = OrgLockoutModel(self)
        self.org_table = make_table(self.orgs)
        for column, width in enumerate((100, 150, 75, 105, 150, 50)):
            self.org_table.setColumnWidth(column, width)
        self.users = LockoutUserModel(self)
        self.user_table = make_table(self.users)
        for column, width in enumerate((230, 120, 80, 100, 140)):
            self.user_table.setColumnWidth(column, width)
        self.org_table.selectionModel().currentRowChanged.connect(self._org_changed)
        self.users_title = QLabel("Users")
        summary = QWidget()
        top = QHBoxLayout(summary)
        top.setContentsMargins(0, 0, 0, 0)
        self.chart.setMaximumWidth(420)
        top.addWidget(self.chart, 1)
        top.addWidget(self.org_table, 3)
        drill = QWidget()
        bottom = QVBoxLayout(drill)
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.users_title)
        bottom.addWidget(self.user_table)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(summary)
        split.addWidget(drill)
        layout = QVBoxLayout(self)
        layout.addWidget(fine("Requests below TLS 1.2 and requests from clients the policy does "
                              "not accept fail at the cut-over. Users map to organisations "
                              "through the identity store" + (
                                  "" if ctx is not None else " (no store: address ranges only)")
                              + "; the LSOs of each organisation are the contacts."))
        layout.addLayout(actions)
        layout.addLayout(self.busy_row)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)

    @staticmethod
    def ask_files(parent: QWidget) -> list[Path]:
        """The files chosen in the standard dialog (tests replace this)."""
        chosen, _filter = QFileDialog.getOpenFileNames(
            parent, "Choose access logs", str(Path.home()),
            "Logs (*.log *.gz *.json *.txt);;All files (*)")
        return [Path(name) for name in chosen]

    def _choose(self) -> None:
        files = self.ask_files(self)
        if files:
            self.set_files(files)

    def set_files(self, files: list[Path]) -> None:
        self.files = list(files)
        self.files_label.setText(", ".join(p.name for p in self.files[:3])
                                 + (f" and {len(self.files) - 3} more" if len(self.files) > 3
                                    else ""))
        self.analyse_button.setEnabled(bool(self.files))

    def set_busy(self, busy: bool) -> None:
        self.analyse_button.setEnabled(not busy and bool(self.files))
        self.load_button.setEnabled(not busy)

    def analyse(self) -> None:
        files, fmt, ctx, op = list(self.files), self.format.currentText(), self._ctx, \
            self._operator
        self.run(lambda control: analyse_logs(files, fmt, ctx, op, control), self._show)

    def _show(self, result: tuple[dict[str, Any], LockoutList]) -> None:
        document, lockout = result
        self.document = document
        self.chart.set_organisations(lockout.organisations)
        self.orgs.set_records(lockout.organisations)
        self.users.set_records([])
        failing = lockout.requests
        malformed = document["malformed"]
        self.say(f"{document['requests']:,} requests read ({malformed:,} malformed "
                 f"line{'' if malformed == 1 else 's'} skipped). " + (
                     f"{failing:,} requests from {len(lockout.organisations)} organisation(s) "
                     "would fail at the cut-over." if failing else
                     "Nobody would be locked out."), "bad" if failing else "good")
        if lockout.organisations:
            self.org_table.selectRow(0)

    def _org_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        org = self.orgs.record_at(current.row())
        self.users.set_records(org.users if org else [])
        self.users_title.setText(f"Users of {org.code or 'no organisation'}" if org else "Users")
