"""The Compliance page (platform admins and security reviewers): the TLS 1.2-only checks in
four tabs — Browsers, Servers, Client test, Logs. Each tab hands its work to the one task
runner; the engine is ``services.compliance``, the same the ``check`` commands use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from ui.compliance_browsers_tab import BrowsersTab
from ui.compliance_client_tab import ClientTestTab
from ui.compliance_logs_tab import LogsTab
from ui.compliance_servers_tab import ServersTab
from ui.task_runner import TaskRunner

if TYPE_CHECKING:
    from services.authz import Operator
    from services.context import Context


class CompliancePage(QWidget):
    def __init__(self, runner: TaskRunner, ctx: Context | None = None,
                 operator: Operator | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("TLS 1.2 compliance")
        title.setObjectName("pageTitle")
        self.tabs = QTabWidget()
        self.browsers = BrowsersTab(runner)
        self.servers = ServersTab(runner)
        self.client = ClientTestTab(runner)
        self.logs = LogsTab(runner, ctx, operator)
        self.tabs.addTab(self.browsers, "Browsers")
        self.tabs.addTab(self.servers, "Servers")
        self.tabs.addTab(self.client, "Client test")
        self.tabs.addTab(self.logs, "Logs")
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def shutdown(self) -> None:
        """Stop the client test endpoint if it runs (the window is closing)."""
        endpoint, self.client.endpoint = self.client.endpoint, None
        if endpoint is not None:
            endpoint.stop()
