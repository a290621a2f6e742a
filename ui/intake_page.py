"""Reset requests (platform admins): the ``DES ACCESS`` mailbox queue, its import and review.

Import reads a saved mailbox (an .eml file or a folder of them, an mbox file, a Maildir) with
``services.intake.ingest``, or the mailbox server's folder with ``services.intake_imap``, in
the task runner, with progress and Cancel. Approve and Reject send the version of the request
that was read, so a decision made meanwhile on another desktop is refused with a "reload"
sentence instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui import alerts
from ui.appearance import icon
from ui.intake_detail_panel import IntakeDetailPanel
from ui.intake_model import IDENTITY_COLUMN, ITEM_ID_ROLE, IntakeModel, IntakeProxyModel
from ui.reason_dialog import ReasonDialog
from ui.task_runner import TaskControl, TaskHandle, TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context
    from services.intake import IntakeItem, IntakeReport


def report_text(report: IntakeReport) -> str:
    """An import's outcome in sentences, the flags last with what to do about them."""
    if report.cancelled:
        return ("The import was cancelled before anything was queued. Import the mailbox "
                "again when you are ready; nothing is queued twice.")
    name = "the mailbox server" if report.kind == "imap" else (
        Path(report.source).name or report.source)
    text = (f"Read {report.read:,} {'message' if report.read == 1 else 'messages'} from "
            f"{name}: {report.queued:,} queued ({report.matched:,} matched to an identity), "
            f"{report.ignored:,} without DES ACCESS in the subject ignored, "
            f"{report.already_ingested:,} already imported earlier.")
    flagged = [f"{count:,} {flag}" for flag, count in report.flagged.items() if count]
    if flagged:
        text += (f" Flagged: {', '.join(flagged)}; select each flagged request to see what "
                 "to check before deciding.")
    return text


class IntakePage(QWidget):
    loaded = Signal()
    decided = Signal(object)  # IntakeItem
    imported = Signal(object)  # IntakeReport

    def __init__(self, ctx: Context, operator: Operator, runner: TaskRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx, self._operator, self._runner = ctx, operator, runner
        self._started = False
        self._selected: int | None = None
        self._import: TaskHandle | None = None

        title = QLabel("Reset requests")
        title.setObjectName("pageTitle")
        self.count = QLabel()
        self.count.setObjectName("fineprint")
        self.import_button = QPushButton(icon("intake"), "Import mailbox…")
        self.import_button.setToolTip("Read requests saved from the DES ACCESS mailbox")
        menu = QMenu(self.import_button)
        menu.addAction("From a file (.eml or mbox)…", self.import_from_file)
        menu.addAction("From a folder (.eml files or a Maildir)…", self.import_from_folder)
        server = menu.addAction("From the mailbox server (IMAP)", self.import_from_server)
        server.setToolTip("Read the new messages in the folder that the intake_imap_* mail "
                          "settings name, over TLS 1.2 or newer; they stay unread there")
        menu.setToolTipsVisible(True)
        self.import_button.setMenu(menu)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Read the queue again from the store")
        self.reload_button.clicked.connect(self.reload)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.count)
        header.addWidget(self.import_button)
        header.addWidget(self.reload_button)

        intro = QLabel("Password resets asked for by e-mail to the service mailbox with DES "
                       "ACCESS in the subject. Approving e-mails a reset code to the address "
                       "the store holds for the identity, never to the sender; rejecting tells "
                       "the person your reason.")
        intro.setObjectName("fineprint")
        intro.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setFormat("Reading message %v of %m")
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.clicked.connect(self.cancel_import)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.progress_box.hide()
        self.banner = alerts.inline_label("banner")
        self.show_decided = QCheckBox("Show &decided requests")
        self.show_decided.toggled.connect(self._show_decided_changed)

        self.model = IntakeModel(self)
        self.proxy = IntakeProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("intakeTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # oldest first
        self.table.verticalHeader().hide()
        horizontal = self.table.horizontalHeader()
        horizontal.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        horizontal.setStretchLastSection(False)
        horizontal.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for column, width in enumerate((40, 142, 160, 140, 172, 200, 76)):
            self.table.setColumnWidth(column, width)
        # The matched identity is in the panel (and the Unmatched flag says when there is
        # none): the table keeps its width for what tells requests apart.
        self.table.setColumnHidden(IDENTITY_COLUMN, True)
        self.table.setAccessibleName("Reset requests")
        self.panel = IntakeDetailPanel()
        self.panel.setMinimumWidth(320)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([730, 330])
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(intro)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.banner)
        layout.addWidget(self.show_decided)
        layout.addWidget(splitter, 1)

        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.panel.approve_requested.connect(self._approve)
        self.panel.reject_requested.connect(self._reject)
        self.setFocusProxy(self.table)

    # ---- loading -------------------------------------------------------------------------

    def activate(self) -> None:
        if not self._started:
            self.reload()

    def reload(self) -> None:
        self._started = True
        ctx, op = self._ctx, self._operator

        def work(_control: TaskControl) -> list[IntakeItem]:
            from services.intake import list_queue

            return list_queue(ctx, op, status=None)  # the proxy hides decided ones

        self.reload_button.setEnabled(False)
        self._runner.submit(work, owner=self, on_result=self._arrived,
                            on_done=lambda: self.reload_button.setEnabled(True))

    def _arrived(self, items: list[IntakeItem]) -> None:
        self.model.set_items(items)
        self._update_count()
        if self._selected is not None and not self.select_item(self._selected):
            self._selected = None
            self.panel.clear()
        self.loaded.emit()

    def _update_count(self) -> None:
        pending, total = self.model.pending, self.model.rowCount()
        self.count.setText(f"{pending:,} pending of {total:,} requests" if total
                           else "The queue is empty")

    def _show_decided_changed(self, shown: bool) -> None:
        self.proxy.set_show_decided(shown)
        if self._selected is not None:
            self.select_item(self._selected)

    # ---- selection -----------------------------------------------------------------------

    def select_item(self, item_id: int) -> bool:
        """Select a request by id (keyboard users and tests); False if it is not shown."""
        row = self.model.row_of(item_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        item = self.model.item_at(row)
        if item is not None:
            self._selected = item.id
            self.panel.show_item(item)
        return True

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item_id = current.data(ITEM_ID_ROLE) if current.isValid() else None
        if not isinstance(item_id, int):
            self._selected = None
            self.panel.clear()  # nothing shown is selected (e.g. the last one was decided)
            return
        row = self.model.row_of(item_id)
        item = self.model.item_at(row) if row is not None else None
        if item is not None:
            self._selected = item.id
            self.panel.show_item(item)

    # ---- decisions -----------------------------------------------------------------------

    def _decided(self, item: IntakeItem) -> None:
        # Unless decided requests are shown, the row leaves the list and the selection moves
        # on to the next request: the banner says what was done.
        self.model.replace_item(item)
        self._update_count()
        if item.status == "approved":
            self._say(f"Request #{item.id} approved: a reset code was e-mailed to "
                      f"{item.matched_login_id}.", "good")
        else:
            told = (f" {item.matched_login_id} is told the reason by e-mail."
                    if item.matched_login_id else "")
            self._say(f"Request #{item.id} rejected.{told}", "good")
        if self.panel.item is not None and self.panel.item.id == item.id:
            self.panel.show_item(item)
        self.decided.emit(item)

    def _approve(self, force: bool) -> None:
        item = self.panel.item
        if item is None:
            return
        text = (f"Approve request #{item.id}? A reset code is e-mailed to "
                f"{item.matched_login_id}, the address the store holds, not to the sender.")
        if force:
            text += (" The request is flagged; you have confirmed that you checked it with the "
                     "person another way. That is recorded in the audit trail.")
        if not alerts.confirm(self, text, "Approve"):
            return
        ctx, op = self._ctx, self._operator
        item_id, version = item.id, item.version  # the version read: stale is refused

        def work(_control: TaskControl) -> IntakeItem:
            from services.intake import approve

            return approve(ctx, op, item_id, version, force=force)

        self.panel.set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._decided,
                            on_done=lambda: self.panel.set_busy(False))

    def _reject(self) -> None:
        item = self.panel.item
        if item is None:
            return
        who = item.matched_login_id
        told = (f"{who} is told the reason by e-mail at their stored address." if who
                else "Nobody is e-mailed: the sender matches no identity.")
        sender = item.from_address or "an unknown sender"
        reason = ReasonDialog.ask(f"Reject request #{item.id}",
                                  f"Reject the reset request from {sender}. {told}", "Reject",
                                  danger=True, parent=self)
        if reason is None:
            return
        ctx, op = self._ctx, self._operator
        item_id, version = item.id, item.version

        def work(_control: TaskControl) -> IntakeItem:
            from services.intake import reject

            return reject(ctx, op, item_id, version, reason)

        self.panel.set_busy(True)
        self._runner.submit(work, owner=self, on_result=self._decided,
                            on_done=lambda: self.panel.set_busy(False))

    # ---- import --------------------------------------------------------------------------

    @staticmethod
    def ask_mailbox_file(parent: QWidget) -> Path | None:
        """A saved message or mbox file chosen by the person, or None (tests replace this)."""
        chosen, _filter = QFileDialog.getOpenFileName(
            parent, "Import a saved message or mbox file", str(Path.home()),
            "Mail (*.eml *.mbox *.mbx);;All files (*)")
        return Path(chosen) if chosen else None

    @staticmethod
    def ask_mailbox_folder(parent: QWidget) -> Path | None:
        """A folder of .eml files or a Maildir chosen by the person, or None."""
        chosen = QFileDialog.getExistingDirectory(
            parent, "Import a folder of .eml files or a Maildir", str(Path.home()))
        return Path(chosen) if chosen else None

    def import_from_file(self) -> None:
        path = self.ask_mailbox_file(self)
        if path is not None:
            self.import_mailbox(path)

    def import_from_folder(self) -> None:
        path = self.ask_mailbox_folder(self)
        if path is not None:
            self.import_mailbox(path)

    def import_mailbox(self, path: Path) -> None:
        ctx, op = self._ctx, self._operator

        def work(control: TaskControl) -> IntakeReport:
            from services.intake import ingest

            return ingest(ctx, op, path, progress=control.progress,
                          cancel=lambda: control.cancelled)

        self._start_import(work)

    def import_from_server(self) -> None:
        """Read the DES ACCESS folder on the IMAP server named in the mail settings."""
        ctx, op = self._ctx, self._operator

        def work(control: TaskControl) -> IntakeReport:
            from services.intake_imap import ingest_imap

            return ingest_imap(ctx, op, progress=control.progress,
                               cancel=lambda: control.cancelled)

        self._start_import(work)

    def _start_import(self, work: Callable[[TaskControl], IntakeReport]) -> None:
        if self._import is not None:
            return
        self.progress.setRange(0, 0)
        self.progress_box.show()
        self.cancel_button.setEnabled(True)
        self.import_button.setEnabled(False)
        self.banner.hide()
        self._import = self._runner.submit(
            work, owner=self, on_result=self._imported, on_progress=self._progressed,
            on_cancelled=self._import_cancelled, on_done=self._import_done)

    def cancel_import(self) -> None:
        if self._import is not None:
            self._import.cancel()
            self.cancel_button.setEnabled(False)

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _imported(self, report: IntakeReport) -> None:
        flagged = any(report.flagged.values())
        self._say(report_text(report), "" if report.cancelled or flagged else "good")
        self.imported.emit(report)
        self.reload()

    def _import_cancelled(self) -> None:
        # ingest queues everything in one transaction at the end, or nothing: if the cancel
        # came after that, the requests are queued all the same. Reloading shows which.
        self._say("The import was cancelled. The queue below is read again: it shows the "
                  "requests if the import had already finished, and none from this mailbox if "
                  "it had not. Import the mailbox again whenever you like; nothing is queued "
                  "twice.", "")
        self.reload()

    def _import_done(self) -> None:
        self._import = None
        self.progress_box.hide()
        self.import_button.setEnabled(True)

    def _say(self, text: str, tone: str) -> None:
        self.banner.setText(text)
        self.banner.setProperty("tone", tone)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.show()
