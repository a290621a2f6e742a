"""The reset-request queue page over a queue built by services.intake.ingest from .eml files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from pytestqt.qtbot import QtBot

from services.auth import Session
from services.authz import SYSTEM, Operator
from services.context import Context
from services.intake import IntakeItem, approve, ingest, list_queue
from services.settings import set_secret, set_value
from services.users import get_identity
from tests.imap_server import Mailbox, serving
from tests.loopback_tls import server_context
from tests.ui.conftest import Alerts, mailed_codes, wait_idle
from ui.intake_model import FLAGS_COLUMN, IntakeModel, IntakeProxyModel
from ui.intake_page import IntakePage
from ui.reason_dialog import ReasonDialog
from ui.task_runner import TaskRunner

ALEX = "alex.morgan@northwind.example"
SPOOF = ("Authentication-Results: mx.xoserve.example; spf=pass smtp.mailfrom=bulk.example; "
         "dkim=none; dmarc=fail (p=REJECT) header.from=northwind.example")


def raw_mail(*, sender: str = "Alex Morgan <Alex.Morgan@Northwind.Example>",
             subject: str = "DES ACCESS", message_id: str = "<req-1@nw.example>",
             headers: tuple[str, ...] = ()) -> bytes:
    lines = [f"From: {sender}", "To: DES Access <des.access@xoserve.example>",
             f"Subject: {subject}", f"Message-ID: {message_id}",
             "Date: Mon, 05 Jan 2026 08:00:00 +0000", *headers]
    return ("\n".join(lines) + "\n\nPlease reset my DES password.\n").encode()


def mailbox_folder(folder: Path) -> Path:
    folder.mkdir()
    files = {
        "01-good.eml": raw_mail(),
        "02-stranger.eml": raw_mail(sender="Sam <sam@elsewhere.example>",
                                    message_id="<req-2@elsewhere.example>"),
        "03-spoofed.eml": raw_mail(message_id="<req-3@nw.example>", headers=(SPOOF,)),
        "04-copy.eml": raw_mail(headers=("X-Copy: yes",)),  # the same Message-ID as 01
        "05-garbage.eml": b"\x00\x01\x02 not mail at all \xff\xfe",
        "06-lunch.eml": raw_mail(subject="Lunch on Friday?", message_id="<lunch@nw.example>"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def admin(ctx: Context, make_person: Callable[..., Operator],
          session_for: Callable[..., Session]) -> Session:
    make_person(email=ALEX)
    return session_for("platform_admin")


def _page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner) -> IntakePage:
    page = IntakePage(ctx, session.operator, runner)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=30_000):
        page.activate()
    return page


def _imported_page(qtbot: QtBot, ctx: Context, session: Session, runner: TaskRunner,
                   tmp_path: Path) -> IntakePage:
    ingest(ctx, session.operator, mailbox_folder(tmp_path / "saved"))
    return _page(qtbot, ctx, session, runner)


def _by_file(page: IntakePage) -> dict[str, IntakeItem]:
    items = [page.model.item_at(row) for row in range(page.model.rowCount())]
    return {Path(item.source).name: item for item in items if item is not None}


def _select(qtbot: QtBot, page: IntakePage, item: IntakeItem) -> None:
    assert page.select_item(item.id)
    assert page.panel.item is not None and page.panel.item.id == item.id


def test_import_a_mailbox_folder(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                 admin: Session, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = mailbox_folder(tmp_path / "saved")
    page = _page(qtbot, ctx, admin, runner)
    assert page.count.text() == "The queue is empty"
    monkeypatch.setattr(IntakePage, "ask_mailbox_folder", staticmethod(lambda parent: folder))
    progress: list[int] = []
    page.progress.valueChanged.connect(progress.append)
    menu = page.import_button.menu()
    assert menu is not None
    assert [a.text() for a in menu.actions()] == ["From a file (.eml or mbox)…",
                                                  "From a folder (.eml files or a Maildir)…",
                                                  "From the mailbox server (IMAP)"]
    with qtbot.waitSignal(page.imported, timeout=30_000) as signal:
        menu.actions()[1].trigger()
    report = signal.args[0]
    assert (report.read, report.queued, report.ignored) == (6, 5, 1)
    qtbot.waitUntil(lambda: page.model.rowCount() == 5, timeout=30_000)
    assert progress and progress[-1] == 6
    assert page.banner.text().startswith("Read 6 messages from saved: 5 queued (3 matched to "
                                         "an identity), 1 without DES ACCESS in the subject "
                                         "ignored, 0 already imported earlier. Flagged: ")
    assert "1 spoofed" in page.banner.text() and "1 malformed" in page.banner.text()
    assert page.count.text() == "5 pending of 5 requests"
    assert page.progress_box.isHidden() and page.import_button.isEnabled()

    # Flags are spelled out in the table, with what they mean on hover.
    items = _by_file(page)
    model = page.model
    flags = {name: model.data(model.index(model.row_of(item.id) or 0, FLAGS_COLUMN))
             for name, item in items.items()}
    assert flags == {"01-good.eml": "", "02-stranger.eml": "Unmatched",
                     "03-spoofed.eml": "Spoofed", "04-copy.eml": "Duplicate",
                     "05-garbage.eml": "Malformed, Unmatched"}
    tip = model.data(model.index(model.row_of(items["03-spoofed.eml"].id) or 0, FLAGS_COLUMN),
                     3)  # Qt.ToolTipRole
    assert tip.startswith("Spoofed: the receiving mail server reports")

    # The same folder again: nothing is queued twice.
    with qtbot.waitSignal(page.imported, timeout=30_000) as signal:
        page.import_mailbox(folder)
    assert signal.args[0].already_ingested == 5 and signal.args[0].queued == 0
    wait_idle(qtbot, runner)
    assert page.model.rowCount() == 5


def test_approve_sends_a_code_to_the_stored_address(qtbot: QtBot, ctx: Context,
                                                    runner: TaskRunner, shown: Alerts,
                                                    admin: Session, tmp_path: Path) -> None:
    page = _imported_page(qtbot, ctx, admin, runner, tmp_path)
    good = _by_file(page)["01-good.eml"]
    _select(qtbot, page, good)
    assert page.panel.approve_button.isEnabled() and page.panel.force.isHidden()

    shown.confirm_answer = False  # the person thinks again: nothing happens
    page.panel.approve_button.click()
    assert len(shown.confirmations) == 1 and not runner.busy
    assert ALEX in shown.confirmations[0] and "not to the sender" in shown.confirmations[0]

    shown.confirm_answer = True
    with qtbot.waitSignal(page.decided, timeout=30_000) as signal:
        page.panel.approve_button.click()
    decided = signal.args[0]
    assert decided.status == "approved" and decided.decided_by == admin.operator.login_id
    assert len(mailed_codes(ctx, ALEX)) == 1  # issued and mailed in the same transaction
    assert page.count.text() == "4 pending of 5 requests"
    assert page.banner.text() == (f"Request #{good.id} approved: a reset code was e-mailed "
                                  f"to {ALEX}.")
    # Decided requests leave the list until "Show decided" is ticked; the selection moves on.
    assert page.proxy.rowCount() == 4
    assert page.panel.item is not None and page.panel.item.id != good.id
    assert page.panel.item.status == "pending"
    page.show_decided.setChecked(True)
    assert page.proxy.rowCount() == 5
    _select(qtbot, page, good)
    assert page.panel.approve_button.isHidden() and not page.panel.decision.isHidden()
    assert page.panel.decision.text().startswith(f"Approved by {admin.operator.login_id}")
    page.show_decided.setChecked(False)
    assert page.proxy.rowCount() == 4
    assert shown.errors == []


def test_spoofed_needs_the_explicit_check(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                          shown: Alerts, admin: Session,
                                          tmp_path: Path) -> None:
    page = _imported_page(qtbot, ctx, admin, runner, tmp_path)
    spoofed = _by_file(page)["03-spoofed.eml"]
    _select(qtbot, page, spoofed)
    panel = page.panel
    assert panel.flags.text().startswith("Spoofed: ")
    assert panel.force.isVisible() and not panel.force.isChecked()
    assert not panel.approve_button.isEnabled()
    assert panel.why_not.text().startswith("Approve is off until you tick")
    panel.force.setChecked(True)
    assert panel.approve_button.isEnabled() and panel.why_not.isHidden()
    with qtbot.waitSignal(page.decided, timeout=30_000) as signal:
        panel.approve_button.click()
    assert signal.args[0].status == "approved"
    assert "you have confirmed that you checked it" in shown.confirmations[-1]


def test_unmatched_can_only_be_rejected_with_a_reason(qtbot: QtBot, ctx: Context,
                                                      runner: TaskRunner, admin: Session,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    page = _imported_page(qtbot, ctx, admin, runner, tmp_path)
    stranger = _by_file(page)["02-stranger.eml"]
    _select(qtbot, page, stranger)
    panel = page.panel
    assert not panel.approve_button.isEnabled() and panel.force.isHidden()
    assert panel.why_not.text() == ("Approve is off: there is no identity to send a reset "
                                    "code to.")
    asked: list[str] = []

    def no_reason(cls: type, title: str, explanation: str, action: str, **_kw: object) -> None:
        asked.append(explanation)
        return None

    monkeypatch.setattr(ReasonDialog, "ask", classmethod(no_reason))
    panel.reject_button.click()  # cancelled: nothing happens
    assert not runner.busy and asked[0].endswith("Nobody is e-mailed: the sender matches no "
                                                 "identity.")
    monkeypatch.setattr(ReasonDialog, "ask",
                        classmethod(lambda cls, *a, **k: "Not one of our users."))
    with qtbot.waitSignal(page.decided, timeout=30_000) as signal:
        panel.reject_button.click()
    assert signal.args[0].status == "rejected"
    assert signal.args[0].reason == "Not one of our users."
    page.show_decided.setChecked(True)
    _select(qtbot, page, stranger)
    assert panel.decision.text().endswith("Reason: Not one of our users.")


def test_a_stale_decision_is_refused_with_the_reload_sentence(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, shown: Alerts, admin: Session,
        tmp_path: Path, session_for: Callable[..., Session]) -> None:
    page = _imported_page(qtbot, ctx, admin, runner, tmp_path)
    good = _by_file(page)["01-good.eml"]
    _select(qtbot, page, good)
    # Another admin, on another desktop, approves it after this page read it.
    approve(ctx, session_for("platform_admin").operator, good.id, good.version)
    page.panel.approve_button.click()
    wait_idle(qtbot, runner)
    assert shown.errors == [f"Intake request {good.id} was changed by someone else since you "
                            "opened it; reload it and try again."]
    assert len(mailed_codes(ctx, ALEX)) == 1  # only the other admin's

    # Reload shows the other admin's decision; the request is no longer pending here.
    with qtbot.waitSignal(page.loaded, timeout=30_000):
        page.reload_button.click()
    assert page.count.text() == "4 pending of 5 requests"
    assert page.proxy.rowCount() == 4 and page.panel.item is None


def test_cancelled_import_leaves_the_queue_as_the_store_has_it(
        qtbot: QtBot, ctx: Context, runner: TaskRunner, admin: Session,
        tmp_path: Path) -> None:
    folder = mailbox_folder(tmp_path / "saved")
    page = _page(qtbot, ctx, admin, runner)
    imported: list[object] = []
    page.imported.connect(imported.append)
    page.import_mailbox(folder)
    page.cancel_button.click()
    wait_idle(qtbot, runner)
    assert imported == []
    assert page.banner.text().startswith("The import was cancelled.")
    assert page.model.rowCount() == len(list_queue(ctx, admin.operator, status=None))
    assert page.import_button.isEnabled() and page.progress_box.isHidden()


def test_intake_models_pass_the_model_tester(qtmodeltester: object, ctx: Context,
                                             admin: Session, tmp_path: Path) -> None:
    ingest(ctx, admin.operator, mailbox_folder(tmp_path / "saved"))
    items = list_queue(ctx, admin.operator, status=None)
    model = IntakeModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    model.set_items(items)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    proxy = IntakeProxyModel()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)  # type: ignore[attr-defined]
    approve(ctx, admin.operator, items[0].id, items[0].version)
    model.replace_item(list_queue(ctx, admin.operator, status=None)[0])
    proxy.set_show_decided(False)
    assert proxy.rowCount() == len(items) - 1
    qtmodeltester.check(proxy)  # type: ignore[attr-defined]
    proxy.set_show_decided(True)
    assert proxy.rowCount() == len(items)


def test_only_platform_admins_get_the_page(ctx: Context,
                                           session_for: Callable[..., Session]) -> None:
    from ui.main_window import visible_pages

    assert "intake" in visible_pages(session_for("platform_admin").operator)
    for roles in (("lso",), ("security_reviewer",), ()):
        assert "intake" not in visible_pages(session_for(*roles).operator)
    assert get_identity(ctx, SYSTEM, session_for().operator.subject).status == "active"


def test_import_an_mbox_file(qtbot: QtBot, ctx: Context, runner: TaskRunner, admin: Session,
                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mailbox

    path = tmp_path / "des-access.mbox"
    box = mailbox.mbox(str(path))
    box.add(raw_mail())
    box.add(raw_mail(subject="Weekly report", message_id="<report@nw.example>"))
    box.close()
    page = _page(qtbot, ctx, admin, runner)
    monkeypatch.setattr(IntakePage, "ask_mailbox_file", staticmethod(lambda parent: path))
    menu = page.import_button.menu()
    assert menu is not None
    with qtbot.waitSignal(page.imported, timeout=30_000) as signal:
        menu.actions()[0].trigger()
    assert (signal.args[0].kind, signal.args[0].queued, signal.args[0].ignored) == ("mbox", 1, 1)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=30_000)
    assert page.banner.property("tone") == "good"  # nothing flagged


def test_import_from_the_mailbox_server(qtbot: QtBot, ctx: Context, runner: TaskRunner,
                                        admin: Session, shown: Alerts, tmp_path: Path,
                                        ca: trustme.CA, ca_file: Path) -> None:
    page = _page(qtbot, ctx, admin, runner)
    menu = page.import_button.menu()
    assert menu is not None
    from_server = menu.actions()[2]
    # Not set up yet: the error says which settings to set, and the page is usable again.
    from_server.trigger()
    qtbot.waitUntil(lambda: bool(shown.errors), timeout=30_000)
    assert "No mailbox server is set" in shown.errors[0] and "intake_imap_host" in shown.errors[0]
    wait_idle(qtbot, runner)
    assert page.import_button.isEnabled() and page.progress_box.isHidden()

    box = Mailbox("des.access@xoserve.example", "Mailbox-Password-Harbour-7",
                  {"INBOX": [raw_mail(), raw_mail(sender="Sam <sam@elsewhere.example>",
                                                  message_id="<req-2@elsewhere.example>")]})
    with serving(box, "implicit", server_context(ca)) as port:
        for name, value in (("intake_imap_host", "127.0.0.1"), ("intake_imap_port", port),
                            ("intake_imap_username", box.username),
                            ("intake_imap_ca_file", str(ca_file))):
            set_value(ctx, admin.operator, name, value)
        set_secret(ctx, admin.operator, "intake_imap_password", box.password)
        with qtbot.waitSignal(page.imported, timeout=30_000) as signal:
            from_server.trigger()
    assert (signal.args[0].kind, signal.args[0].queued) == ("imap", 2)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=30_000)
    assert page.banner.text().startswith("Read 2 messages from the mailbox server: 2 queued "
                                         "(1 matched to an identity)")
    assert box.opened == ["EXAMINE INBOX"] and not box.marked_seen
    wait_idle(qtbot, runner)
