"""Servers tab: probe targets (off the GUI thread, with progress and cancel) and show the
protocol matrix in colour, with the chosen server's certificate and findings below."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.compliance_server_model import ServerMatrixModel
from ui.compliance_tab import CheckTab, fine, make_table
from ui.task_runner import TaskControl, TaskRunner

if TYPE_CHECKING:
    from services.compliance.tls_probe import ServerReport


def parse_targets(text: str) -> list[tuple[str, int]]:
    from services.errors import InvalidInput

    targets = []
    for raw in text.splitlines():
        line = raw.partition("#")[0].strip()
        if not line:
            continue
        host, sep, port = line.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InvalidInput(f"The target {line!r} must be written HOST:PORT, e.g. "
                               "portal.example.com:443.")
        targets.append((host.strip("[]"), int(port)))
    if not targets:
        raise InvalidInput("Type at least one target as HOST:PORT, one per line.")
    return targets


class ServersTab(CheckTab):
    KIND = "tls"

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.timeout = 5.0
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("portal.example.com:443\nmail.example.com:25  "
                                      "# one HOST:PORT per line")
        self.input.setMaximumHeight(90)
        self.starttls = QComboBox()
        self.starttls.addItem("Direct TLS", None)
        self.starttls.addItem("SMTP STARTTLS", "smtp")
        self.probe_button = QPushButton("Probe")
        self.probe_button.setDefault(True)
        self.probe_button.clicked.connect(self.probe)
        actions = QHBoxLayout()
        actions.addWidget(fine("SSL 3.0 to TLS 1.1 are probed with hand-built ClientHellos, so "
                               "the verdict does not depend on this machine's OpenSSL."), 1)
        actions.addWidget(self.starttls)
        actions.addWidget(self.probe_button)
        actions.addWidget(self.save_button)
        self.model = ServerMatrixModel(self)
        self.table = make_table(self.model)
        self.table.setColumnWidth(0, 200)
        for column in range(1, 6):
            self.table.setColumnWidth(column, 90)
        self.table.setColumnWidth(6, 110)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setObjectName("fineprint")
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.input)
        layout.addLayout(actions)
        layout.addLayout(self.busy_row)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)

    def set_busy(self, busy: bool) -> None:
        self.probe_button.setEnabled(not busy)

    def probe(self) -> None:
        from services.errors import InvalidInput

        try:
            targets = parse_targets(self.input.toPlainText())
        except InvalidInput as exc:
            self.say(str(exc), "bad")
            return
        starttls = self.starttls.currentData()
        timeout = self.timeout

        def work(control: TaskControl) -> list[ServerReport]:
            from services.compliance.tls_probe import probe_many

            return probe_many(targets, timeout=timeout, starttls=starttls,
                              progress=control.progress, cancel=lambda: control.cancelled)

        self.run(work, self._show)

    def _show(self, reports: list[ServerReport]) -> None:
        self.model.set_records(reports)
        compliant = all(r.compliant for r in reports)
        self.document = {"compliant": compliant, "targets": [r.as_dict() for r in reports]}
        failing = sum(not r.compliant for r in reports)
        self.say(f"{len(reports)} server(s) probed: " + (
            "all compliant." if compliant else f"{failing} not compliant."),
            "good" if compliant else "bad")
        if reports:
            self.table.selectRow(0)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        report = self.model.record_at(current.row())
        if report is None:
            self.details.clear()
            return
        lines = [f"{report.host}:{report.port} — {report.detail}"]
        cert = report.certificate
        if cert is not None:
            lines.append(f"Certificate: {cert.subject}, issued by {cert.issuer}; {cert.key_type} "
                         f"{cert.key_bits} bits, {cert.signature_algorithm}; expires "
                         f"{cert.not_after[:10]} ({cert.days_to_expiry} days); chain "
                         f"{'valid' if cert.chain_valid else 'NOT valid'}; name "
                         f"{'matches' if cert.hostname_match else 'does NOT match'}.")
        if report.tls12_ciphers:
            lines.append("TLS 1.2 suites: " + ", ".join(
                c.name + ("" if c.allowed else " (not allowed)") for c in report.tls12_ciphers))
        lines += [f"• {finding}" for finding in report.findings]
        self.details.setText("\n".join(lines))
