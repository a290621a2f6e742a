"""The MFA page (issue 6): enrolment coverage per organisation as a table and a chart, every
targeted person with their status, and — for a platform admin — resetting someone's MFA with a
reason, starting a campaign and sending reminders.

Platform admins and security reviewers see every organisation (reviewers read only); an LSO
sees their own organisation. The services decide: ``coverage_report`` scopes the rows itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.appearance import icon
from ui.mfa_campaign_dialog import MfaCampaignDialog
from ui.mfa_coverage_chart import MfaCoverageChart
from ui.mfa_coverage_model import MfaCoverageModel
from ui.mfa_people_model import STATUS_TEXT, MfaPeopleModel, MfaStatusFilter
from ui.reason_dialog import ReasonDialog
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.mfa.campaign import CampaignSummary, CoverageReport, ReportRow

FILTERS = (("Everyone", None), ("Overdue", "overdue"), ("Locked", "locked"),
           ("Pending", "pending"), ("Reset", "reset"), ("Enrolled", "enrolled"))


@dataclass
class Loaded:
    report: CoverageReport
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    organisations: list[tuple[str, str]] = field(default_factory=list)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _table(model: Any) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class MfaPage(QWidget):
    def __init__(self, ctx: Context, op: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from services.authz import Action, allowed

        self._ctx, self._op, self._runner = ctx, op, runner
        self.can_manage = allowed(op, Action.MFA_MANAGE)
        self.sees_all = allowed(op, Action.MFA_READ)  # else an LSO: their organisation
        self.report: CoverageReport | None = None
        self._organisations: list[tuple[str, str]] = []
        self._loading = False

        title = QLabel("Two-step verification")
        title.setObjectName("pageTitle")
        scope = "every organisation" if self.sees_all else "your organisation"
        note = QLabel(f"Who must use two-step verification (MFA) in {scope}, and who has set "
                      "it up. Coverage counts people with an authenticator, locked ones "
                      "included.")
        note.setObjectName("fineprint")
        note.setWordWrap(True)

        self.campaign = QComboBox()
        self.campaign.setAccessibleName("Campaign")
        self.campaign.addItem("Everyone required or targeted", None)
        self.campaign.setMinimumWidth(260)
        self.campaign.currentIndexChanged.connect(self._campaign_changed)
        campaign_caption = QLabel("&Campaign")
        campaign_caption.setBuddy(self.campaign)
        campaign_caption.setVisible(self.sees_all)
        self.campaign.setVisible(self.sees_all)
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Show people")
        for text, value in FILTERS:
            self.status_filter.addItem(text, value)
        self.status_filter.currentIndexChanged.connect(self._filter_changed)
        filter_caption = QLabel("S&how")
        filter_caption.setBuddy(self.status_filter)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.activate)
        filters = QHBoxLayout()
        filters.addWidget(campaign_caption)
        filters.addWidget(self.campaign)
        filters.addSpacing(16)
        filters.addWidget(filter_caption)
        filters.addWidget(self.status_filter)
        filters.addStretch(1)
        filters.addWidget(self.refresh_button)

        self.totals = QLabel("Loading…")
        self.totals.setObjectName("banner")
        self.totals.setWordWrap(True)
        self.result = alerts.inline_label("banner", tone="good")

        self.coverage_model = MfaCoverageModel(self)
        self.coverage_view = _table(self.coverage_model)
        self.coverage_view.setAccessibleName("Coverage by organisation")
        self.coverage_view.setMaximumHeight(220)
        self.coverage_view.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.chart = MfaCoverageChart()
        by_org = QHBoxLayout()
        by_org.addWidget(self.coverage_view, 5)
        by_org.addWidget(self.chart, 3)

        self.people_model = MfaPeopleModel(self)
        self.people = MfaStatusFilter(self.people_model)
        self.people_view = _table(self.people)
        self.people_view.setSortingEnabled(True)
        self.people_view.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # by organisation
        self.people_view.setAccessibleName("People")
        self.people_view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.people_caption = QLabel()
        self.people_caption.setObjectName("panelHeading")

        self.reset_button = QPushButton(icon("mfa"), "Re&set two-step verification…")
        self.reset_button.setToolTip("For a lost phone: the person sets it up again at their "
                                     "next sign-in and is told by e-mail")
        self.reset_button.clicked.connect(self.reset_selected)
        self.start_button = QPushButton(icon("add"), "Start &campaign…")
        self.start_button.clicked.connect(self.start_campaign)
        self.remind_button = QPushButton("Send re&minders")
        self.remind_button.setToolTip("Queue another reminder to each target of the chosen "
                                      "campaign who has not set up two-step verification")
        self.remind_button.clicked.connect(self.send_reminders)
        actions = QHBoxLayout()
        actions.addWidget(self.reset_button)
        actions.addStretch(1)
        actions.addWidget(self.start_button)
        actions.addWidget(self.remind_button)
        for button in (self.reset_button, self.start_button, self.remind_button):
            button.setVisible(self.can_manage)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addLayout(filters)
        layout.addWidget(self.totals)
        layout.addWidget(self.result)
        layout.addLayout(by_org)
        layout.addWidget(self.people_caption)
        layout.addWidget(self.people_view, 1)
        layout.addLayout(actions)
        QWidget.setTabOrder(self.campaign, self.status_filter)
        QWidget.setTabOrder(self.status_filter, self.refresh_button)
        QWidget.setTabOrder(self.refresh_button, self.coverage_view)
        QWidget.setTabOrder(self.coverage_view, self.people_view)
        QWidget.setTabOrder(self.people_view, self.reset_button)
        self._update_buttons()

    # ---- loading -------------------------------------------------------------------------

    def activate(self) -> None:
        self.load()

    def load(self) -> None:
        if self._loading:
            return
        ctx, op = self._ctx, self._op
        campaign_id = self.campaign.currentData()
        sees_all, can_manage = self.sees_all, self.can_manage

        def work(_control: TaskControl) -> Loaded:
            from services.mfa.campaign import coverage_report, list_campaigns
            from services.orgs import list_orgs

            report = coverage_report(ctx, op, campaign_id=campaign_id)
            campaigns = list_campaigns(ctx, op) if sees_all else []
            orgs = [(o.code, o.name) for o in list_orgs(ctx, op)] if can_manage else []
            return Loaded(report, campaigns, orgs)

        self._loading = True
        self._runner.submit(work, owner=self, on_result=self._loaded, on_done=self._loaded_done)

    def _loaded_done(self) -> None:
        self._loading = False

    def _loaded(self, loaded: Loaded) -> None:
        report = loaded.report
        self.report = report
        self._organisations = loaded.organisations
        if self.sees_all:
            self._fill_campaigns(loaded.campaigns, report.campaign_id)
        self.coverage_model.set_records(list(report.organisations))
        self.chart.set_coverage(report.organisations)
        self.people_model.set_records(list(report.rows))
        t = report.totals
        self.totals.setText(
            f"{t.total} people targeted: {t.with_mfa} with two-step verification "
            f"({t.coverage_percent:.1f} %), {t.pending} pending, {t.overdue} overdue, "
            f"{t.locked} locked, {t.reset} reset. As of "
            f"{report.generated_at:%Y-%m-%d %H:%M} UTC.")
        self._show_count()
        self._update_buttons()

    def _fill_campaigns(self, campaigns: list[dict[str, Any]], chosen: int | None) -> None:
        self.campaign.blockSignals(True)  # refilling is not a choice of the person
        try:
            self.campaign.clear()
            self.campaign.addItem("Everyone required or targeted", None)
            for c in campaigns:
                where = ", ".join(c["org_codes"]) or "all organisations"
                self.campaign.addItem(f"#{c['id']} {c['role']} in {where}, by "
                                      f"{c['enrol_by'][:10]} ({c['targets']} people)", c["id"])
            index = self.campaign.findData(chosen)
            self.campaign.setCurrentIndex(max(index, 0))
        finally:
            self.campaign.blockSignals(False)

    def _campaign_changed(self, _index: int) -> None:
        self._update_buttons()
        self.load()

    def _filter_changed(self, _index: int) -> None:
        self.people.set_status(self.status_filter.currentData())
        self._show_count()
        self._update_buttons()

    def _show_count(self) -> None:
        status = self.status_filter.currentData()
        shown = self.people.rowCount()
        what = f"{STATUS_TEXT[status].lower()} " if status else ""
        self.people_caption.setText(f"People ({shown} {what}shown)")

    # ---- actions -------------------------------------------------------------------------

    def selected_row(self) -> ReportRow | None:
        rows = self.people_view.selectionModel().selectedRows()
        if not rows:
            return None
        return self.people_model.record_at(self.people.mapToSource(rows[0]).row())

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.selected_row()
        self.reset_button.setEnabled(row is not None and row.subject != self._op.subject
                                     and row.status != "reset")
        self.reset_button.setToolTip(
            "You cannot reset your own two-step verification: ask another platform admin."
            if row is not None and row.subject == self._op.subject else
            "For a lost phone: the person sets it up again at their next sign-in and is told "
            "by e-mail")
        self.remind_button.setEnabled(self.campaign.currentData() is not None)

    def _say(self, text: str) -> None:
        self.result.setText(text)
        self.result.setVisible(bool(text))

    def reset_selected(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        reason = ReasonDialog.ask(
            "Reset two-step verification",
            f"{row.given_name} {row.family_name} ({row.login_id}) loses their authenticator "
            "and recovery codes, must set up two-step verification again at their next "
            "sign-in, and is told by e-mail.", "&Reset", danger=True, parent=self)
        if reason is None:
            return
        ctx, op, key = self._ctx, self._op, row.login_id

        def work(_control: TaskControl) -> str:
            from services.mfa.admin import reset_mfa

            reset_mfa(ctx, op, key, reason)
            return key

        self._runner.submit(work, owner=self, on_result=self._was_reset)

    def _was_reset(self, login_id: str) -> None:
        self._say(f"Two-step verification of {login_id} was reset; they set it up again at "
                  "their next sign-in.")
        self.load()

    def start_campaign(self) -> None:
        request = MfaCampaignDialog.ask(self._organisations, self._ctx.now().date(), self)
        if request is None:
            return
        ctx, op = self._ctx, self._op

        def work(_control: TaskControl) -> CampaignSummary:
            from services.mfa.campaign import start_campaign

            return start_campaign(ctx, op, role=request.role, enrol_by=request.enrol_by,
                                  org_codes=request.org_codes)

        self._runner.submit(work, owner=self, on_result=self._started)

    def _started(self, summary: CampaignSummary) -> None:
        self._say(f"Campaign #{summary.id} started: "
                  f"{_count(summary.targets, 'person', 'people')} must set up two-step "
                  f"verification by {summary.enrol_by:%Y-%m-%d %H:%M} UTC; "
                  f"{_count(summary.reminders_queued, 'reminder', 'reminders')} queued.")
        self.campaign.blockSignals(True)
        self.campaign.addItem(f"#{summary.id}", summary.id)
        self.campaign.setCurrentIndex(self.campaign.count() - 1)
        self.campaign.blockSignals(False)
        self.load()

    def send_reminders(self) -> None:
        campaign_id = self.campaign.currentData()
        if campaign_id is None:
            return
        ctx, op = self._ctx, self._op

        def work(_control: TaskControl) -> int:
            from services.mfa.campaign import send_reminders

            return send_reminders(ctx, op, int(campaign_id))

        self._runner.submit(work, owner=self, on_result=self._reminded)

    def _reminded(self, queued: int) -> None:
        self._say(f"{_count(queued, 'reminder', 'reminders')} queued in the outbox." if queued
                  else
                  "Everyone in this campaign has set up two-step verification: no reminder "
                  "was needed.")

