"""The DES ACCESS mailbox intake over real .eml, mbox and Maildir fixtures built here."""

from __future__ import annotations

import mailbox
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.authz import SYSTEM
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from services.intake import approve, get_item, ingest, list_queue, reject
from services.store.schema import audit_event, intake_message, outbox, reset_token
from services.users import get_identity

BODY = "Please reset my DES password, I am locked out."
ALEX = "alex.morgan@northwind.example"
SPOOF_RESULTS = ("Authentication-Results: mx.xoserve.example; spf=pass "
                 "smtp.mailfrom=bulk.example; dkim=none; dmarc=fail (p=REJECT) "
                 "header.from=northwind.example")


def raw_mail(*, sender: str | None = "Alex Morgan <Alex.Morgan@Northwind.Example>",
             subject: str | None = "DES ACCESS", message_id: str | None = "<req-1@nw.example>",
             headers: tuple[str, ...] = (), body: str = BODY, crlf: bool = False,
             raw_subject: bytes | None = None) -> bytes:
    lines = ["Received: from mail.northwind.example by mx.xoserve.example; "
             "Mon, 05 Jan 2026 08:00:01 +0000"]
    if sender is not None:
        lines.append(f"From: {sender}")
    lines.append("To: DES Access <des.access@xoserve.example>")
    if subject is not None:
        lines.append(f"Subject: {subject}")
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    lines += ["Date: Mon, 05 Jan 2026 08:00:00 +0000", *headers]
    end = "\r\n" if crlf else "\n"
    head = end.join(lines).encode()
    if raw_subject is not None:
        head += end.encode() + b"Subject: " + raw_subject
    return head + (end + end + body + end).encode()


@pytest.fixture
def people(ctx, make_person) -> dict[str, Any]:
    """The admin reviewing the queue and the identity whose address the requests use."""
    admin = make_person("platform_admin")
    alex = get_identity(ctx, SYSTEM, make_person(email=ALEX).subject)
    return {"admin": admin, "alex": alex}


def _by_source(items) -> dict[str, Any]:
    return {Path(i.source.split("#")[0]).name + (
        "#" + i.source.split("#")[1] if "#" in i.source else ""): i for i in items}


def _trail(ctx) -> str:
    with ctx.store.read() as conn:
        return " ".join(" ".join(map(str, r)) for r in conn.execute(select(audit_event)))


def _eml_folder(folder: Path) -> Path:
    folder.mkdir()
    files = {
        "01-good.eml": raw_mail(subject="Re: please des Access for me", crlf=True),
        "02-stranger.eml": raw_mail(sender="Sam <sam@elsewhere.example>",
                                    message_id="<req-2@elsewhere.example>"),
        "03-spoofed.eml": raw_mail(message_id="<req-3@nw.example>", headers=(SPOOF_RESULTS,)),
        "04-softfail.eml": raw_mail(message_id="<req-4@nw.example>", headers=(
            "Authentication-Results: mx.xoserve.example; spf=softfail "
            "smtp.mailfrom=northwind.example",)),
        # Same Message-ID as 01, other bytes: a second copy of the same request.
        "05-copy.eml": raw_mail(subject="DES ACCESS", headers=("X-Copy: yes",)),
        "06-no-from.eml": raw_mail(sender=None, message_id="<req-6@nw.example>"),
        "07-undecodable.eml": raw_mail(subject=None, message_id="<req-7@nw.example>",
                                       raw_subject=b"DES ACCESS \xff\xfe\xfd"),
        "08-garbage.eml": b"\x00\x01\x02\x03 not mail at all \xff\xfe",
        "09-lunch.eml": raw_mail(subject="Lunch on Friday?", message_id="<lunch@nw.example>"),
        "10-two-senders.eml": raw_mail(sender="alex.morgan@northwind.example, "
                                              "sam@elsewhere.example",
                                       message_id="<req-10@nw.example>"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "README.txt").write_text("not a message")
    return folder


def test_eml_folder_queues_requests_with_flags(ctx, people, tmp_path: Path) -> None:
    folder = _eml_folder(tmp_path / "saved")
    progress: list[tuple[int, int]] = []
    report = ingest(ctx, people["admin"], folder,
                    progress=lambda done, total: progress.append((done, total)))
    assert report.as_dict() == {
        "source": str(folder.resolve()), "kind": "eml-folder", "read": 10, "queued": 9,
        "ignored": 1, "already_ingested": 0, "matched": 5,
        "flagged": {"malformed": 4, "unmatched": 4, "duplicate": 1, "spoofed": 2},
        "item_ids": report.item_ids, "cancelled": False}
    assert progress[0] == (0, 10) and progress[-1] == (10, 10)
    items = _by_source(list_queue(ctx, people["admin"]))
    assert set(items) == {"01-good.eml", "02-stranger.eml", "03-spoofed.eml",
                          "04-softfail.eml", "05-copy.eml", "06-no-from.eml",
                          "07-undecodable.eml", "08-garbage.eml", "10-two-senders.eml"}
    good = items["01-good.eml"]
    assert (good.flags, good.matched_subject, good.matched_login_id, good.status) == (
        (), people["alex"].subject, ALEX, "pending")
    assert good.from_address == "Alex.Morgan@Northwind.Example"  # as written
    assert good.subject_line == "Re: please des Access for me"
    assert good.message_id == "<req-1@nw.example>" and good.parse_error is None
    assert good.received_at == ctx.now()
    assert items["02-stranger.eml"].flags == ("unmatched",)
    assert items["02-stranger.eml"].from_address == "sam@elsewhere.example"
    assert items["03-spoofed.eml"].flags == ("spoofed",)
    assert items["04-softfail.eml"].flags == ("spoofed",)
    assert items["05-copy.eml"].flags == ("duplicate",)
    no_from = items["06-no-from.eml"]
    assert no_from.flags == ("malformed", "unmatched") and "no From" in no_from.parse_error
    undecodable = items["07-undecodable.eml"]
    assert undecodable.flags == ("malformed",)  # the From still matches Alex
    assert "not valid UTF-8" in undecodable.parse_error
    assert "DES ACCESS" in undecodable.subject_line and "\ufffd" in undecodable.subject_line
    garbage = items["08-garbage.eml"]
    assert garbage.flags == ("malformed", "unmatched")
    assert "not an e-mail message" in garbage.parse_error
    assert "2 addresses" in items["10-two-senders.eml"].parse_error
    # One audit event with the counts; never a message body.
    with ctx.store.read() as conn:
        events = conn.execute(select(audit_event).where(
            audit_event.c.action == "intake.ingest")).all()
    assert len(events) == 1 and '"queued":9' in events[0].after
    assert BODY not in _trail(ctx)


def test_mixed_case_and_folded_subjects_match_others_are_ignored(ctx, people,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "subjects"
    folder.mkdir()
    subjects = {"a": "des access", "b": "Fwd: [External] Des Access request",
                "c": "DES\n ACCESS", "d": "=?utf-8?q?DES_ACCESS_f=C3=BCr_Alex?=",
                "e": "DESACCESS", "f": "Access to DES", "g": "password reset"}
    for n, (name, subject) in enumerate(subjects.items()):
        (folder / f"{name}.eml").write_bytes(raw_mail(subject=subject,
                                                      message_id=f"<s{n}@nw.example>"))
    report = ingest(ctx, people["admin"], folder)
    assert (report.queued, report.ignored) == (4, 3)
    queued = {Path(i.source).stem: i.subject_line for i in list_queue(ctx, people["admin"])}
    assert queued == {"a": "des access", "b": "Fwd: [External] Des Access request",
                      "c": "DES ACCESS", "d": "DES ACCESS für Alex"}


def test_mbox_with_a_malformed_message_and_an_exact_duplicate(ctx, people,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "des-access.mbox"
    box = mailbox.mbox(str(path))
    box.add(raw_mail())
    box.add(raw_mail())  # delivered twice: same bytes
    box.add(raw_mail(sender="not an address", message_id="<bad@nw.example>"))
    box.add(raw_mail(subject="Newsletter", message_id="<news@nw.example>"))
    box.add(raw_mail(sender="sam@elsewhere.example", message_id="<sam@x.example>"))
    box.close()
    report = ingest(ctx, people["admin"], path)
    assert (report.kind, report.read, report.queued, report.ignored) == ("mbox", 5, 4, 1)
    items = list_queue(ctx, people["admin"])
    assert [i.source for i in items] == [f"{path.resolve()}#{k}" for k in (0, 1, 2, 4)]
    assert [i.flags for i in items] == [(), ("duplicate",), ("malformed", "unmatched"),
                                       ("unmatched",)]
    assert items[2].parse_error == ("the From header is damaged (addr-spec local part with "
                                    "no domain)")


def test_maildir_new_and_cur(ctx, people, tmp_path: Path) -> None:
    path = tmp_path / "Maildir"
    box = mailbox.Maildir(str(path), create=True)
    first = box.add(raw_mail())
    box.add(raw_mail(message_id="<req-9@nw.example>", headers=(SPOOF_RESULTS,)))
    box.add(raw_mail(sender=None, message_id="<req-10@nw.example>"))
    box.close()
    # A message someone already opened in a mail client sits in cur/ with flags.
    os.rename(path / "new" / first, path / "cur" / f"{first}:2,S")
    report = ingest(ctx, people["admin"], path)
    assert (report.kind, report.read, report.queued, report.matched) == ("maildir", 3, 3, 2)
    assert report.flagged == {"malformed": 1, "unmatched": 1, "duplicate": 0, "spoofed": 1}
    sources = {i.source for i in list_queue(ctx, people["admin"])}
    assert f"{path.resolve()}#{first}" in sources


def test_single_eml_file(ctx, people, tmp_path: Path) -> None:
    path = tmp_path / "request.eml"
    path.write_bytes(raw_mail(crlf=True))
    report = ingest(ctx, people["admin"], path)
    assert (report.kind, report.queued, report.matched) == ("eml", 1, 1)
    [item] = list_queue(ctx, people["admin"])
    assert item.source == str(path.resolve()) and item.matched_login_id == ALEX


def test_reading_the_same_source_again_skips_and_counts(ctx, people, tmp_path: Path) -> None:
    folder = _eml_folder(tmp_path / "saved")
    first = ingest(ctx, people["admin"], folder)
    again = ingest(ctx, people["admin"], str(folder) + "/")  # the same folder, spelt otherwise
    assert (again.read, again.queued, again.already_ingested, again.ignored) == (10, 0, 9, 1)
    assert len(list_queue(ctx, people["admin"])) == first.queued
    with ctx.store.read() as conn:
        after = conn.execute(select(audit_event.c.after).where(
            audit_event.c.action == "intake.ingest").order_by(audit_event.c.seq)).scalars().all()
    assert '"already_ingested":9' in after[1] and '"queued":0' in after[1]

    # The same bytes from another place are queued, flagged as duplicates.
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(folder / "01-good.eml", other / "copy-of-good.eml")
    elsewhere = ingest(ctx, people["admin"], other)
    assert (elsewhere.queued, elsewhere.flagged["duplicate"]) == (1, 1)

    # An mbox that grew: only the new message is queued.
    path = tmp_path / "grows.mbox"
    box = mailbox.mbox(str(path))
    box.add(raw_mail(message_id="<m1@nw.example>"))
    box.flush()
    assert ingest(ctx, people["admin"], path).queued == 1
    box.add(raw_mail(message_id="<m2@nw.example>"))
    box.close()
    grown = ingest(ctx, people["admin"], path)
    assert (grown.queued, grown.already_ingested) == (1, 1)
    assert grown.flagged["duplicate"] == 0


def test_cancel_while_reading_writes_nothing(ctx, people, tmp_path: Path) -> None:
    folder = _eml_folder(tmp_path / "saved")
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    report = ingest(ctx, people["admin"], folder, cancel=cancel)
    assert report.cancelled and report.read == 3 and report.queued == 0
    assert list_queue(ctx, people["admin"], status=None) == []
    assert "intake.ingest" not in _trail(ctx)


def test_intake_needs_the_review_role(ctx, people, make_person, tmp_path: Path) -> None:
    path = tmp_path / "request.eml"
    path.write_bytes(raw_mail())
    for op in (make_person(), make_person("lso"), make_person("security_reviewer")):
        with pytest.raises(PermissionDenied):
            ingest(ctx, op, path)
        with pytest.raises(PermissionDenied):
            list_queue(ctx, op)
    assert list_queue(ctx, people["admin"], status=None) == []


def test_unusable_paths_are_explained(ctx, people, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no file or folder"):
        ingest(ctx, people["admin"], tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match=r"no \.eml files and is not a Maildir"):
        ingest(ctx, people["admin"], tmp_path / "empty")
    with pytest.raises(InvalidInput, match="no queue status"):
        list_queue(ctx, people["admin"], status="done")


# ---- review --------------------------------------------------------------------------------


def _queued(ctx, people, tmp_path: Path) -> dict[str, Any]:
    ingest(ctx, people["admin"], _eml_folder(tmp_path / "saved"))
    return _by_source(list_queue(ctx, people["admin"]))


def _outbox(ctx) -> list[Any]:
    with ctx.store.read() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


def test_approve_issues_a_reset_to_the_stored_address(ctx, people, tmp_path: Path,
                                                      secrets_to_scan: set[str]) -> None:
    items = _queued(ctx, people, tmp_path)
    good = items["01-good.eml"]
    done = approve(ctx, people["admin"], good.id, good.version)
    assert (done.status, done.decided_by, done.decided_at, done.version) == (
        "approved", people["admin"].login_id, ctx.now(), good.version + 1)
    with ctx.store.read() as conn:
        tokens = conn.execute(select(reset_token).where(
            reset_token.c.subject == people["alex"].subject)).all()
    assert [(t.purpose, t.created_by) for t in tokens] == [
        ("self_service", people["admin"].login_id)]
    [mail] = _outbox(ctx)
    # The stored address, not "Alex.Morgan@Northwind.Example" as the request was written.
    assert (mail.kind, mail.to_address, mail.identity_subject) == (
        "reset_link", ALEX, people["alex"].subject)
    # The code itself is only in the sealed mail: the audit scan after this test checks it.
    from services.mail.outbox import read_body

    code = re.search(r"--token=(\S+)", read_body(ctx, mail.body_sealed))
    assert code is not None and len(code.group(1)) >= 43  # 256 bits, base64url
    secrets_to_scan.add(code.group(1))
    assert [i.id for i in list_queue(ctx, people["admin"], status="approved")] == [good.id]
    with pytest.raises(Conflict):
        approve(ctx, people["admin"], good.id, good.version)
    with pytest.raises(InvalidInput, match="already approved"):
        approve(ctx, people["admin"], good.id, done.version)
    assert len(_outbox(ctx)) == 1


def test_flagged_requests_need_force_and_unmatched_ones_cannot_be_approved(
        ctx, people, tmp_path: Path) -> None:
    items = _queued(ctx, people, tmp_path)
    spoofed, undecodable = items["03-spoofed.eml"], items["07-undecodable.eml"]
    for item in (spoofed, undecodable):
        with pytest.raises(InvalidInput, match="with force"):
            approve(ctx, people["admin"], item.id, item.version)
    for item in (items["02-stranger.eml"], items["06-no-from.eml"]):
        with pytest.raises(InvalidInput, match="nobody to send a reset to"):
            approve(ctx, people["admin"], item.id, item.version, force=True)
    assert _outbox(ctx) == [] and len(list_queue(ctx, people["admin"])) == 9
    forced = approve(ctx, people["admin"], spoofed.id, spoofed.version, force=True)
    assert forced.status == "approved"
    with ctx.store.read() as conn:
        event = conn.execute(select(audit_event).where(
            audit_event.c.action == "intake.approve")).one()
    assert '"forced":true' in event.after and '"spoofed"' in event.after


def test_approve_is_all_or_nothing(ctx, people, tmp_path: Path) -> None:
    """If the identity went away since intake, nothing is approved and no mail is queued."""
    items = _queued(ctx, people, tmp_path)
    good = items["01-good.eml"]
    from services.store.schema import identity

    with ctx.store.write() as conn:
        conn.execute(identity.update().where(identity.c.subject == people["alex"].subject)
                     .values(status="deleted", version=identity.c.version + 1))
    with pytest.raises(InvalidInput):
        approve(ctx, people["admin"], good.id, good.version)
    assert get_item(ctx, people["admin"], good.id).status == "pending"
    assert _outbox(ctx) == []


def test_reject_needs_a_reason_and_tells_the_matched_person(ctx, people,
                                                            tmp_path: Path) -> None:
    items = _queued(ctx, people, tmp_path)
    spoofed, stranger = items["03-spoofed.eml"], items["02-stranger.eml"]
    with pytest.raises(InvalidInput, match="Give a reason"):
        reject(ctx, people["admin"], spoofed.id, spoofed.version, "   ")
    done = reject(ctx, people["admin"], spoofed.id, spoofed.version,
                  "DMARC failed:  not sent by\nyour mail system")
    assert (done.status, done.reason) == ("rejected", "DMARC failed: not sent by your mail "
                                                      "system")
    [mail] = _outbox(ctx)
    assert (mail.kind, mail.to_address) == ("intake_rejected", ALEX)
    from services.mail.outbox import read_body

    assert "DMARC failed: not sent by your mail system" in read_body(ctx, mail.body_sealed)
    # An unmatched sender is never written to: mail goes only to stored addresses.
    reject(ctx, people["admin"], stranger.id, stranger.version, "Not a known account")
    assert len(_outbox(ctx)) == 1
    with pytest.raises(Conflict):
        reject(ctx, people["admin"], stranger.id, stranger.version, "again")
    with pytest.raises(NotFound):
        reject(ctx, people["admin"], 99_999, 1, "no such request")
    assert {i.status for i in list_queue(ctx, people["admin"], status="rejected")} == {
        "rejected"}
    with ctx.store.read() as conn:
        rows = conn.execute(select(intake_message.c.status)).scalars().all()
    assert sorted(rows).count("rejected") == 2
    assert BODY not in _trail(ctx)


def test_review_needs_the_review_role(ctx, people, make_person, tmp_path: Path) -> None:
    good = _queued(ctx, people, tmp_path)["01-good.eml"]
    lso = make_person("lso", org="XOS")
    with pytest.raises(PermissionDenied):
        approve(ctx, lso, good.id, good.version)
    with pytest.raises(PermissionDenied):
        reject(ctx, lso, good.id, good.version, "no")
    assert get_item(ctx, people["admin"], good.id).status == "pending"
