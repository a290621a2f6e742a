"""Client test tab: start and stop the client test endpoint and watch clients connect.

The endpoint runs on its own threads (``services.compliance.client_endpoint``); starting it
(certificate, version check) and stopping it (joining its threads) go through the task runner.
Each client it reports is handed to the GUI thread by a queued signal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ui.compliance_client_model import ClientRecordModel
from ui.compliance_tab import CheckTab, fine, make_table
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.compliance.client_endpoint import ClientEndpoint, ClientRecord


class _Relay(QObject):
    """Lives on the GUI thread; the endpoint's threads emit on it (a queued delivery)."""

    arrived = Signal(object)


class ClientTestTab(CheckTab):
    client_seen = Signal(object)  # ClientRecord, after it is in the table
    running_changed = Signal(bool)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.endpoint: ClientEndpoint | None = None
        self._relay = _Relay(self)
        self._relay.arrived.connect(self._arrived)
        self.address = QLineEdit("127.0.0.1:8443")
        self.address.setAccessibleName("Listen on")
        self.address.setMaximumWidth(220)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("Stopped.")
        self.status.setObjectName("fineprint")
        self.status.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Listen on"))
        controls.addWidget(self.address)
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.status, 1)
        self.model = ClientRecordModel(self)
        self.table = make_table(self.model)
        for column, width in enumerate((70, 150, 130, 80, 260, 120)):
            self.table.setColumnWidth(column, width)
        layout = QVBoxLayout(self)
        layout.addWidget(fine("Point an API client or an old browser at the address (https://"
                              "…): the endpoint accepts TLS 1.0 to 1.3 so that old clients can "
                              "connect at all, reads what each one offers before the "
                              "handshake, and answers with its verdict."))
        layout.addLayout(controls)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)

    @property
    def running(self) -> bool:
        return self.endpoint is not None

    def start(self) -> None:
        from services.compliance.client_endpoint import parse_listen
        from services.errors import InvalidInput

        try:
            host, port = parse_listen(self.address.text())
        except InvalidInput as exc:
            self.say(str(exc), "bad")
            return
        relay = self._relay

        def deliver(record: ClientRecord) -> None:
            if shiboken6.isValid(relay):
                relay.arrived.emit(record)

        def work(_control: TaskControl) -> ClientEndpoint:
            from services.compliance.client_endpoint import ClientEndpoint

            endpoint = ClientEndpoint(host, port, on_client=deliver)
            endpoint.start()
            return endpoint

        self.start_button.setEnabled(False)
        self.address.setEnabled(False)
        self.banner.hide()
        self._runner.submit(work, owner=self, on_result=self._started, on_error=self._failed)

    def _started(self, endpoint: ClientEndpoint) -> None:
        self.endpoint = endpoint
        self.stop_button.setEnabled(True)
        note = endpoint.local_note()
        self.status.setText(f"Listening on {endpoint.url} (accepts "
                            f"{', '.join(endpoint.local_versions)})." + (f" {note}" if note
                                                                         else ""))
        self.running_changed.emit(True)

    def _failed(self, exc: Exception) -> None:
        self.show_error(exc)
        self.start_button.setEnabled(True)
        self.address.setEnabled(True)

    def stop(self) -> None:
        endpoint, self.endpoint = self.endpoint, None
        if endpoint is None:
            return
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping…")

        def work(_control: TaskControl) -> None:
            endpoint.stop()

        self._runner.submit(work, owner=self, on_done=self._stopped)

    def _stopped(self) -> None:
        self.status.setText("Stopped.")
        self.start_button.setEnabled(True)
        self.address.setEnabled(True)
        self.running_changed.emit(False)

    def _arrived(self, record: object) -> None:
        self.model.add(record)  # type: ignore[arg-type]
        self.table.scrollToBottom()
        self.client_seen.emit(record)
