"""The Compliance page (issue 7, acceptance 5): each tab driven as a person would, its work run
through the task runner, its table model checked by Qt's model tester, and a screenshot of each
tab saved (to GATEHOUSE_SCREENSHOT_DIR when set, for review) — loopback only."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from services.auth import Session
from services.authz import Operator
from services.context import Context
from ui import compliance_tab
from ui.compliance_page import CompliancePage
from ui.compliance_server_model import ServerMatrixModel
from ui.main_window import MainWindow
from ui.task_runner import TaskRunner

CHROME_120 = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
IE_8 = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"
IE_11 = "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko"
JAVA_7 = "Java/1.7.0_25"
NAME = "gui.gatehouse.test"
V = ssl.TLSVersion


def screenshot(widget: QWidget, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GATEHOUSE_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"compliance-{name}.png"
    image = widget.grab()
    assert not image.isNull() and image.width() > 400
    assert image.save(str(path))
    return path


@pytest.fixture
def page(qtbot: QtBot, runner: TaskRunner) -> Iterator[CompliancePage]:
    widget = CompliancePage(runner)
    qtbot.addWidget(widget)
    widget.resize(1180, 720)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def wait_idle(qtbot: QtBot, runner: TaskRunner) -> None:
    qtbot.waitUntil(lambda: not runner.busy, timeout=30_000)


# ---- Browsers ----------------------------------------------------------------------------------


def test_browsers_tab_judges_pasted_user_agents(qtbot: QtBot, runner: TaskRunner,
                                                page: CompliancePage, qtmodeltester: object,
                                                tmp_path: Path) -> None:
    tab = page.browsers
    page.tabs.setCurrentWidget(tab)
    tab.input.setPlainText("\n".join([CHROME_120, IE_8, IE_11, JAVA_7, CHROME_120, ""]))
    tab.check_button.click()
    wait_idle(qtbot, runner)
    verdicts = {tab.model.record_at(r).verdict.user_agent: (   # type: ignore[union-attr]
        tab.model.record_at(r).verdict.verdict.value, tab.model.record_at(r).count)  # type: ignore[union-attr]
        for r in range(tab.model.rowCount())}
    assert verdicts == {CHROME_120: ("compliant", 2), IE_8: ("no_tls12", 1),
                        IE_11: ("unsupported_browser", 1), JAVA_7: ("no_tls12", 1)}
    assert "Not all compliant" in tab.banner.text() and tab.save_button.isEnabled()
    qtmodeltester.check(tab.model)  # type: ignore[attr-defined]
    screenshot(page, "browsers", tmp_path)


def test_browsers_tab_loads_a_file_and_refuses_nothing(qtbot: QtBot, page: CompliancePage,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    tab = page.browsers
    tab.check_button.click()
    assert "at least one User-Agent" in tab.banner.text()
    source = tmp_path / "uas.txt"
    source.write_text(f"{CHROME_120}\n{IE_8}\n")
    monkeypatch.setattr(type(tab), "ask_file", staticmethod(lambda _parent: source))
    tab.load_button.click()
    assert tab.input.toPlainText().splitlines() == [CHROME_120, IE_8]


# ---- Servers -------------------------------------------------------------------------------------


class LoopbackTls:
    def __init__(self, ca: trustme.CA, low: ssl.TLSVersion, high: ssl.TLSVersion,
                 ciphers: str | None) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():  # TLS 1.0 is deprecated: a legacy server is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx.minimum_version, self.ctx.maximum_version = low, high
        if ciphers:
            self.ctx.set_ciphers(ciphers)
        ca.issue_cert(NAME, key_type=trustme.KeyType.RSA).configure_cert(self.ctx)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    with self.ctx.wrap_socket(conn, server_side=True):
                        pass
                except (OSError, ssl.SSLError):
                    pass  # refused, or a raw probe that hung up

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(2)


@pytest.fixture
def tls_servers() -> Iterator[list[LoopbackTls]]:
    ca = trustme.CA()
    servers = [LoopbackTls(ca, V.TLSv1_2, V.TLSv1_3, "ECDHE+AESGCM:ECDHE+CHACHA20"),
               LoopbackTls(ca, V.TLSv1, V.TLSv1, "AES128-SHA:@SECLEVEL=0")]
    yield servers
    for server in servers:
        server.stop()


def test_servers_tab_shows_the_matrix_in_colour(qtbot: QtBot, runner: TaskRunner,
                                                page: CompliancePage, qtmodeltester: object,
                                                tls_servers: list[LoopbackTls],
                                                tmp_path: Path) -> None:
    tab = page.servers
    page.tabs.setCurrentWidget(tab)
    tab.timeout = 2.0
    modern, legacy = tls_servers
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = spare.getsockname()[1]
    tab.input.setPlainText(f"127.0.0.1:{modern.port}\n127.0.0.1:{legacy.port}  # TLS 1.0 only\n"
                           f"127.0.0.1:{dead}\n")
    tab.probe_button.click()
    wait_idle(qtbot, runner)
    model = tab.model
    assert model.rowCount() == 3
    cells = [model.cells(model.record_at(r)) for r in range(3)]  # type: ignore[arg-type]
    assert cells[0][1:6] == ("refused", "refused", "refused", "accepted", "accepted")
    assert cells[1][1:6] == ("refused", "accepted", "refused", "refused", "refused")
    assert cells[2][6] == "unreachable"
    # Colours: TLS 1.3 accepted is green, TLS 1.0 accepted is red.
    good = model.data(model.index(0, 5), Qt.ItemDataRole.BackgroundRole)
    bad = model.data(model.index(1, 2), Qt.ItemDataRole.BackgroundRole)
    assert good.color().name() == "#d8f0ec" and bad.color().name() == "#f8d7d3"
    assert "accepts TLSv1" in " ".join(model.record_at(1).findings)  # type: ignore[union-attr]
    tab.table.selectRow(0)
    assert "Certificate:" in tab.details.text() and "TLS 1.2 suites" in tab.details.text()
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    screenshot(page, "servers", tmp_path)


def test_servers_tab_refuses_a_bad_target_and_cancels(qtbot: QtBot, runner: TaskRunner,
                                                      page: CompliancePage) -> None:
    tab = page.servers
    page.tabs.setCurrentWidget(tab)
    tab.input.setPlainText("no-port-here")
    tab.probe_button.click()
    assert "HOST:PORT" in tab.banner.text() and not runner.busy
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        tab.timeout = 3.0
        tab.input.setPlainText("\n".join(f"127.0.0.1:{listener.getsockname()[1]}"
                                          for _ in range(40)))
        tab.probe_button.click()
        assert tab.cancel_button.isVisible()
        tab.cancel_button.click()
        wait_idle(qtbot, runner)
        assert "Cancelled" in tab.banner.text() and tab.probe_button.isEnabled()
    finally:
        listener.close()


# ---- Client test -------------------------------------------------------------------------------


def test_client_tab_lists_connecting_clients_live(qtbot: QtBot, runner: TaskRunner,
                                                  page: CompliancePage, qtmodeltester: object,
                                                  tmp_path: Path) -> None:
    tab = page.client
    page.tabs.setCurrentWidget(tab)
    tab.address.setText("127.0.0.1:0")
    with qtbot.waitSignal(tab.running_changed, timeout=20_000):
        tab.start_button.click()
    assert tab.endpoint is not None and "Listening on https://127.0.0.1:" in tab.status.text()
    port = tab.endpoint.port
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    for maximum in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        ctx.maximum_version = maximum
        with qtbot.waitSignal(tab.client_seen, timeout=10_000), \
                socket.create_connection(("127.0.0.1", port)) as raw, \
                ctx.wrap_socket(raw, server_hostname="client.test") as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nUser-Agent: {CHROME_120}\r\n\r\n".encode())
            while tls.recv(65536):
                pass
    cells = [tab.model.cells(tab.model.record_at(r))  # type: ignore[arg-type]
             for r in range(tab.model.rowCount())]
    assert [c[3] for c in cells] == ["TLSv1.3", "TLSv1.2"]
    assert all(c[2] == "compliant" and c[5] == "client.test" for c in cells)
    qtmodeltester.check(tab.model)  # type: ignore[attr-defined]
    screenshot(page, "client", tmp_path)
    with qtbot.waitSignal(tab.running_changed, timeout=20_000):
        tab.stop_button.click()
    assert tab.endpoint is None and tab.start_button.isEnabled()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_client_tab_refuses_a_bad_address(qtbot: QtBot, page: CompliancePage) -> None:
    tab = page.client
    tab.address.setText("8443")
    tab.start_button.click()
    assert "HOST:PORT" in tab.banner.text() and tab.endpoint is None


# ---- Logs --------------------------------------------------------------------------------------


def log_line(ip: str, user: str, protocol: str, ua: str) -> str:
    cipher = "ECDHE-RSA-AES128-GCM-SHA256" if protocol >= "TLSv1.2" else "AES128-SHA"
    return (f'{ip} - {user} [29/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" '
            f'{protocol} {cipher} "{ua}"\n')


def test_logs_tab_lockout_by_organisation_and_drill_down(
        qtbot: QtBot, runner: TaskRunner, ctx: Context, make_person: Callable[..., Operator],
        qtmodeltester: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reviewer = make_person("security_reviewer")
    make_person("lso", org="SHIPA", email="lso@shipa.example")
    for n in range(4):
        make_person(org="SHIPA", email=f"user{n}@shipa.example")
    make_person(org="SUPB", email="buyer@supb.example")
    lines = [log_line("198.51.100.1", f"user{n}@shipa.example", "TLSv1", CHROME_120)
             for n in range(4) for _ in range(n + 1)]
    lines += [log_line("198.51.100.2", "buyer@supb.example", "TLSv1.2", IE_11)] * 3
    lines += [log_line("198.51.100.3", "stranger@else.example", "TLSv1.1", CHROME_120)]
    lines += [log_line("198.51.100.4", "user0@shipa.example", "TLSv1.3", CHROME_120)] * 20
    lines += ["this line is not a log line\n"]
    log = tmp_path / "access.log"
    log.write_text("".join(lines))

    page = CompliancePage(runner, ctx, reviewer)
    qtbot.addWidget(page)
    page.resize(1180, 760)
    page.show()
    tab = page.logs
    page.tabs.setCurrentWidget(tab)
    monkeypatch.setattr(type(tab), "ask_files", staticmethod(lambda _parent: [log]))
    tab.load_button.click()
    assert tab.analyse_button.isEnabled()
    tab.analyse_button.click()
    wait_idle(qtbot, runner)
    orgs = [tab.orgs.record_at(r) for r in range(tab.orgs.rowCount())]
    assert [(o.code, o.requests) for o in orgs if o] == [("SHIPA", 10), ("SUPB", 3), ("", 1)]
    assert [c.email for c in orgs[0].contacts] == ["lso@shipa.example"]  # type: ignore[union-attr]
    assert "1 malformed" in tab.banner.text()
    assert [o.code for o in tab.chart.organisations] == ["SHIPA", "SUPB", ""]
    # Drill down: the first organisation is chosen; its users, most requests first.
    assert tab.users.rowCount() == 4
    assert tab.users.cells(tab.users.record_at(0))[0] == "user3@shipa.example"  # type: ignore[arg-type]
    tab.org_table.selectRow(1)
    assert [tab.users.cells(tab.users.record_at(0))[0]] == ["buyer@supb.example"]  # type: ignore[arg-type]
    qtmodeltester.check(tab.orgs)  # type: ignore[attr-defined]
    qtmodeltester.check(tab.users)  # type: ignore[attr-defined]
    tab.org_table.selectRow(0)
    screenshot(page, "logs", tmp_path)

    # Evidence: PDF printed from the HTML report, and the HTML itself.
    for name in ("lockout.pdf", "lockout.html"):
        target = tmp_path / name
        monkeypatch.setattr(compliance_tab, "ask_report_path",
                            lambda _parent, _suggested, target=target: target)
        tab.save_button.click()
        assert target.exists() and target.stat().st_size > 500
    pdf = (tmp_path / "lockout.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/Subtype /Image" in pdf  # the chart, drawn from the report's SVG
    assert "<svg" in (tmp_path / "lockout.html").read_text()


# ---- the page in the main window ----------------------------------------------------------------


def test_page_is_there_for_reviewers_only(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                          session_for: Callable[..., Session]) -> None:
    reviewer = MainWindow(ctx, session_for("security_reviewer"), runner)
    qtbot.addWidget(reviewer)
    assert isinstance(reviewer.show_page("compliance"), CompliancePage)
    keys = reviewer.keys
    assert keys.index("compliance") == keys.index("audit") - 1
    lso = MainWindow(ctx, session_for("lso", org="SHIPA"), runner)
    qtbot.addWidget(lso)
    assert "compliance" not in lso.keys
    wait_idle(qtbot, runner)


def test_models_pass_the_model_tester_empty(qtmodeltester: object) -> None:
    qtmodeltester.check(ServerMatrixModel())  # type: ignore[attr-defined]
