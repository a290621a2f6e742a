"""Delivering the outbox: .eml files, retries with backoff on the injected clock, and no message
sent twice when two desktops deliver at once."""

from __future__ import annotations

import os
import socket
import stat
import threading
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.authz import SYSTEM
from services.errors import PermissionDenied
from services.mail.delivery import DeliveryReport as Report
from services.mail.delivery import (
    backoff,
    deliver_one,
    deliver_pending,
    due_messages,
    transport_from_settings,
)
from services.mail.eml import EmlFolderTransport
from services.mail.outbox import enqueue, requeue
from services.settings import read_values, set_value
from services.store.schema import audit_event, outbox
from services.users import get_identity

TOKEN = "tok-Jd83kWq0zPv5NmXc2rLs6tYb9hGf4aQe"


@pytest.fixture(autouse=True)
def _scan_audit_for_these(secrets_to_scan: set[str]) -> None:
    """The shared audit scan (tests/conftest.py) also looks for this module's secrets."""
    secrets_to_scan.update({TOKEN})


class CountingFolder(EmlFolderTransport):
    """The real .eml transport, also counting what it was handed (shared between threads)."""

    def __init__(self, folder: Path, sent: list[str], lock: threading.Lock) -> None:
        super().__init__(folder)
        self.sent, self.lock = sent, lock

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        with self.lock:
            self.sent.append(str(message["Message-ID"]))


def _queue(ctx, make_person, n: int = 1) -> list[int]:
    ids = []
    for _ in range(n):
        person = get_identity(ctx, SYSTEM, make_person().subject)
        with ctx.store.write() as conn:
            ids.append(enqueue(ctx, conn, kind="reset_link", to_address=person.email,
                               identity_subject=person.subject,
                               values={"given_name": person.given_name, "token": TOKEN,
                                       "expires_at": "2026-01-05 09:30 UTC"}))
    return ids


def _rows(ctx, ids: list[int]) -> list[Any]:
    with ctx.store.read() as conn:
        return conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)
                            ).all()


def _closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---- the .eml folder -----------------------------------------------------------------------


def test_eml_folder_gets_one_whole_private_file_per_message(ctx, make_person,
                                                            tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    folder = tmp_path / "outbox"
    set_value(ctx, admin, "mail_outbox_folder", str(folder))
    ids = _queue(ctx, make_person, 2)
    report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert (report.due, report.sent, report.stopped) == (2, 2, None)
    files = sorted(folder.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no temp files left behind
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    rows = _rows(ctx, ids)
    for path, row in zip(files, rows, strict=True):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        data = path.read_bytes()
        assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")  # RFC 5322 CRLF
        mail = BytesParser(policy=policy.default).parsebytes(data)
        assert mail["Message-ID"] == row.message_id
        assert mail["To"] == row.to_address and mail["Date"] is not None
        assert TOKEN in mail.get_body().get_content()
        assert (row.status, row.attempts, row.sent_at) == ("sent", 1, ctx.now())
    # Sending a row again (after a requeue) replaces its file rather than adding one.
    with ctx.store.write() as conn:
        conn.execute(outbox.update().where(outbox.c.id == ids[0]).values(
            status="failed", version=outbox.c.version + 1))
    requeue(ctx, admin, ids[0], rows[0].version + 1)
    assert deliver_pending(ctx, admin, transport_from_settings(ctx)).sent == 1
    assert sorted(folder.iterdir()) == files


def test_unwritable_folder_is_a_retry_not_a_loss(ctx, make_person, tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    [outbox_id] = _queue(ctx, make_person)
    report = deliver_pending(ctx, admin, EmlFolderTransport(blocker))
    assert report.sent == 0 and report.retrying == 1 and report.stopped
    [row] = _rows(ctx, [outbox_id])
    assert row.status == "pending" and "Cannot write to the outbox folder" in row.last_error


# ---- retries -------------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 60, 3600).total_seconds() for n in range(1, 9)] == [
        60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff(10_000, 60, 3600) == timedelta(hours=1)


def _unreachable_smtp(ctx, admin) -> None:
    for name, value in (("mail_transport", "smtp"), ("smtp_host", "127.0.0.1"),
                        ("smtp_port", _closed_port()), ("smtp_timeout_seconds", 5),
                        ("mail_max_attempts", 3), ("mail_retry_base_seconds", 60)):
        set_value(ctx, admin, name, value)


def test_retry_with_backoff_then_failed_after_max_attempts(ctx, make_person, clock) -> None:
    admin = make_person("platform_admin")
    _unreachable_smtp(ctx, admin)
    [outbox_id] = _queue(ctx, make_person)
    transport = transport_from_settings(ctx)

    report = deliver_pending(ctx, admin, transport)
    assert (report.due, report.sent, report.retrying, report.failed) == (1, 0, 1, 0)
    assert report.stopped and "Cannot reach the mail server 127.0.0.1" in report.stopped
    [row] = _rows(ctx, [outbox_id])
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending", 1, clock.now() + timedelta(seconds=60))
    assert row.last_error == report.stopped and row.sent_at is None

    # Not due again until the backoff has passed: a run in between does nothing.
    clock.advance(timedelta(seconds=59))
    assert due_messages(ctx) == []
    assert deliver_pending(ctx, admin, transport).due == 0
    clock.advance(timedelta(seconds=1))
    assert [d.id for d in due_messages(ctx)] == [outbox_id]

    deliver_pending(ctx, admin, transport)
    [row] = _rows(ctx, [outbox_id])
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending", 2, clock.now() + timedelta(seconds=120))
    clock.advance(timedelta(seconds=120))
    report = deliver_pending(ctx, admin, transport)
    assert (report.retrying, report.failed) == (0, 1)
    [row] = _rows(ctx, [outbox_id])
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    clock.advance(timedelta(days=1))
    assert due_messages(ctx) == []


def test_unusable_transport_stops_the_run_after_one_message(ctx, make_person) -> None:
    """A dead server fails one message, not every message in the outbox."""
    admin = make_person("platform_admin")
    _unreachable_smtp(ctx, admin)
    first, second = _queue(ctx, make_person, 2)
    report = deliver_pending(ctx, admin, transport_from_settings(ctx))
    assert (report.due, report.retrying, report.stopped is not None) == (2, 1, True)
    one, two = _rows(ctx, [first, second])
    assert (one.attempts, two.attempts, two.last_error, two.status) == (1, 0, None, "pending")


def test_delivery_needs_the_mail_role(ctx, make_person, tmp_path: Path) -> None:
    ids = _queue(ctx, make_person)
    for op in (make_person(), make_person("security_reviewer"), make_person("lso")):
        with pytest.raises(PermissionDenied):
            deliver_pending(ctx, op, EmlFolderTransport(tmp_path))
    assert _rows(ctx, ids)[0].status == "pending" and not list(tmp_path.glob("*.eml"))


def test_cancel_and_limit(ctx, make_person, tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    ids = _queue(ctx, make_person, 4)
    seen: list[tuple[int, int]] = []
    report = deliver_pending(ctx, admin, EmlFolderTransport(tmp_path), limit=3,
                             progress=lambda done, total: seen.append((done, total)),
                             cancel=lambda: len(seen) > 2)
    assert (report.due, report.sent, report.cancelled) == (3, 2, True)
    assert seen == [(0, 3), (1, 3), (2, 3)]
    assert [r.status for r in _rows(ctx, ids)] == ["sent", "sent", "pending", "pending"]


def test_each_run_is_audited_without_message_content(ctx, make_person, tmp_path: Path) -> None:
    admin = make_person("platform_admin")
    _queue(ctx, make_person, 2)
    deliver_pending(ctx, admin, EmlFolderTransport(tmp_path))
    with ctx.store.read() as conn:
        events = conn.execute(select(audit_event).where(
            audit_event.c.action == "mail.deliver")).all()
        trail = " ".join(" ".join(map(str, r)) for r in conn.execute(select(audit_event)))
    assert len(events) == 1
    assert events[0].actor == admin.login_id and '"sent":2' in events[0].after
    assert TOKEN not in trail


# ---- two deliverers ------------------------------------------------------------------------


def test_stale_snapshot_never_sends_twice(ctx, make_person, tmp_path: Path) -> None:
    """Desktop A and B read the same due list; A delivers; B's claims all fail."""
    ids = _queue(ctx, make_person, 3)
    sent: list[str] = []
    lock = threading.Lock()
    with ctx.store.read() as conn:
        values = read_values(conn)
    seen_by_a, seen_by_b = due_messages(ctx), due_messages(ctx)
    assert seen_by_a == seen_by_b and len(seen_by_a) == 3
    report_a, report_b = Report("a"), Report("b")
    transport_a = CountingFolder(tmp_path / "a", sent, lock)
    transport_b = CountingFolder(tmp_path / "b", sent, lock)
    for item in seen_by_a:
        deliver_one(ctx, transport_a, item, values, report_a)
    for item in seen_by_b:
        deliver_one(ctx, transport_b, item, values, report_b)
    assert (report_a.sent, report_b.sent, report_b.skipped) == (3, 0, 3)
    assert len(sent) == len(set(sent)) == 3
    assert not (tmp_path / "b").exists()
    assert [r.status for r in _rows(ctx, ids)] == ["sent"] * 3


def test_two_deliverers_racing_send_each_message_once(ctx, make_person, tmp_path: Path) -> None:
    """Two threads list the same messages (a barrier holds both until each has its list),
    then race to claim them: every message goes out exactly once."""
    admin = make_person("platform_admin")
    ids = _queue(ctx, make_person, 12)
    sent: list[str] = []
    lock = threading.Lock()
    both_listed = threading.Barrier(2, timeout=60)
    reports: dict[str, Report] = {}
    failures: list[BaseException] = []

    def desktop(name: str) -> None:
        def progress(done: int, total: int) -> None:
            if done == 0:
                assert total == 12
                both_listed.wait()

        try:
            reports[name] = deliver_pending(ctx, admin,
                                            CountingFolder(tmp_path / name, sent, lock),
                                            progress=progress)
        except BaseException as exc:  # reported to the main thread below
            failures.append(exc)

    threads = [threading.Thread(target=desktop, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(sent) == len(set(sent)) == 12
    assert reports["a"].sent + reports["b"].sent == 12
    assert reports["a"].skipped + reports["b"].skipped == 12
    rows = _rows(ctx, ids)
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    on_disk = [p.name for name in ("a", "b") if (tmp_path / name).exists()
               for p in (tmp_path / name).iterdir()]
    assert len(on_disk) == 12 and len(set(on_disk)) == 12
    assert all(os.path.getsize(tmp_path / n / f) > 0 for n in ("a", "b")
               if (tmp_path / n).exists() for f in os.listdir(tmp_path / n))
