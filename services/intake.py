"""The ``DES ACCESS`` mailbox intake: password reset requests sent by e-mail, queued for review.

People still ask for a reset by writing to the service mailbox with ``DES ACCESS`` in the
subject (programme decision 4). ``ingest`` reads what was saved from that mailbox — one
``.eml`` file, a folder of them, an mbox file or a Maildir — and puts every request in the
``intake_message`` queue; an admin then approves (a reset code is mailed to the identity's
stored address) or rejects with a reason.

Rules, in the order they are applied to each message:

- **Requests.** A message whose Subject contains ``DES ACCESS`` in any case, anywhere (runs of
  white space count as one space, so a folded subject still matches) is a request. Others are
  ignored and only counted.
- **Nothing is lost.** A message that cannot be read or parsed, has no usable single From
  address, or has header bytes that are not valid UTF-8 is queued with ``parse_error`` set and
  the flag ``malformed`` — even when its subject cannot be read, since it might be a request.
- **Flags** (the item is queued all the same): ``unmatched`` when the From address is not the
  login ID of a live identity; ``duplicate`` when the queue already holds the same Message-ID
  or the same raw bytes (SHA-256); ``spoofed`` when an ``Authentication-Results`` header
  (RFC 8601) reports ``dmarc=fail``, ``spf=fail`` or ``spf=softfail``, or ``Received-SPF``
  says fail/softfail. Such headers are only ever used to *raise* a flag: a forged "pass"
  clears nothing, so a sender cannot talk its way past review by adding one.
- **Reading the same source again** is the normal daily routine (a mailbox only grows), so a
  message whose exact bytes were already queued *from the same source* (the same .eml file,
  or the same mbox or Maildir path) is skipped and counted as ``already_ingested`` — never
  silently: the report and the audit event carry the count. The same bytes arriving from a
  different source, or the same Message-ID with different bytes (a resend, a second copy), are
  queued and flagged ``duplicate`` so that a reviewer sees both and approves at most one.

What is read: a single file (an mbox when it starts with ``From ``, else one message), a
Maildir's ``new`` and ``cur`` (not its sub-folders), or the ``*.eml`` files directly in a
folder. ``received_at`` is when Gatehouse read the message (the sender's Date header can say
anything). Message bodies are never stored or audited: the queue keeps the sender as written,
the subject, the Message-ID, a SHA-256 of the raw message and where it came from, so a reviewer
can open the original.
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import errors as email_errors
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from services.audit import Change
from services.authz import Action, Operator, require
from services.context import Context
from services.errors import Conflict, InvalidInput, NotFound
from services.identity import normalise_email
from services.mail.outbox import enqueue
from services.reset import issue_reset
from services.store.schema import INTAKE_STATUSES, identity, intake_message

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]  # e.g. threading.Event().is_set

SUBJECT_MARK = "des access"
FLAGS = ("malformed", "unmatched", "duplicate", "spoofed")
FORCE_REQUIRED = frozenset({"malformed", "spoofed"})
MAX_REASON = 500
_CHUNK = 500  # bound parameters per IN (...) query
_SURROGATE = re.compile("[\udc80-\udcff]")
_AUTH_RESULT = re.compile(r"\b(dmarc|spf)\s*=\s*([a-z]+)", re.IGNORECASE)
_BAD_FROM_DEFECTS = (email_errors.InvalidHeaderDefect, email_errors.HeaderMissingRequiredValue,
                     email_errors.UndecodableBytesDefect)


# ---- the report ----------------------------------------------------------------------------


@dataclass
class IntakeReport:
    source: str
    kind: str  # eml, eml-folder, mbox, maildir, imap
    read: int = 0
    queued: int = 0
    ignored: int = 0  # subject without DES ACCESS
    already_ingested: int = 0  # same bytes from the same source, skipped
    matched: int = 0
    flagged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLAGS, 0))
    item_ids: list[int] = field(default_factory=list)
    cancelled: bool = False  # stopped before writing: nothing was queued

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "read": self.read,
                "queued": self.queued, "ignored": self.ignored,
                "already_ingested": self.already_ingested, "matched": self.matched,
                "flagged": dict(self.flagged), "item_ids": list(self.item_ids),
                "cancelled": self.cancelled}


# ---- reading the source --------------------------------------------------------------------


@dataclass(frozen=True)
class RawMessage:
    source: str  # the file, "<mailbox path>#<key>", or an IMAP URL ending ";UID=<n>"
    data: bytes | None
    read_error: str | None = None


@dataclass(frozen=True)
class MailSource:
    kind: str
    container: str
    count: int
    messages: Generator[RawMessage, None, None]
    # What the sources of this container's messages begin with (mbox and Maildir keys, IMAP
    # UIDs), so that a message read again from the same container counts as already read.
    member_prefix: str | None = None
    already_ingested: int = 0  # skipped before reading (IMAP: UIDs read earlier)
    # Called inside the transaction that queues the messages (IMAP: remember how far it read).
    record: Callable[[Connection], None] | None = None


def _read_file(path: Path) -> RawMessage:
    try:
        return RawMessage(str(path), path.read_bytes())
    except OSError as exc:
        return RawMessage(str(path), None, f"the file could not be read ({exc.strerror or exc})")


def _from_files(files: list[Path]) -> Generator[RawMessage, None, None]:
    for path in files:
        yield _read_file(path)


def _from_mailbox(box: mailbox.Mailbox[Any], container: str,
                  keys: list[Any]) -> Generator[RawMessage, None, None]:
    try:
        for key in keys:
            source = f"{container}#{key}"
            try:
                yield RawMessage(source, box.get_bytes(key))
            except (OSError, KeyError) as exc:
                yield RawMessage(source, None, f"the message could not be read ({exc})")
    finally:
        box.close()


def _open_source(path: Path) -> MailSource:
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            maildir = mailbox.Maildir(str(path), factory=None, create=False)
            keys = sorted(maildir.keys())
            return MailSource("maildir", str(path), len(keys),
                              _from_mailbox(maildir, str(path), keys), f"{path}#")
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".eml")
        if not files:
            raise InvalidInput(f"{path} holds no .eml files and is not a Maildir (a folder "
                               "with cur and new); point intake at the saved mailbox.")
        return MailSource("eml-folder", str(path), len(files), _from_files(files))
    if path.is_file():
        with path.open("rb") as handle:
            start = handle.read(5)
        if start == b"From ":
            box = mailbox.mbox(str(path), create=False)
            keys = list(box.iterkeys())  # int keys, in file order
            return MailSource("mbox", str(path), len(keys), _from_mailbox(box, str(path), keys),
                              f"{path}#")
        return MailSource("eml", str(path), 1, _from_files([path]))
    raise NotFound(f"There is no file or folder {path}; give the path of a saved .eml file, a "
                   "folder of them, an mbox file or a Maildir.")


# ---- parsing one message -------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    source: str
    raw_sha256: str
    is_request: bool
    message_id: str | None = None
    from_address: str | None = None
    login_id: str | None = None
    subject_line: str | None = None
    parse_error: str | None = None
    spoofed: bool = False


def _clean(text: str | None, limit: int) -> str | None:
    """Text safe for both databases: no lone surrogates, no NUL, bounded length."""
    if text is None:
        return None
    return _SURROGATE.sub("\ufffd", text).replace("\0", "\ufffd")[:limit]


def _header_values(message: EmailMessage, name: str) -> list[tuple[Any, str | None]]:
    """Each ``name`` header parsed, with a problem when its raw bytes are not UTF-8.

    The byte parser keeps non-ASCII header bytes as surrogates; RFC 6532 allows UTF-8 there,
    so those are decoded as UTF-8, and anything else is undecodable.
    """
    values = []
    for key, raw in message.raw_items():
        if key.lower() != name.lower():
            continue
        text, problem = str(raw), None
        if _SURROGATE.search(text):
            data = text.encode("ascii", "surrogateescape")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("utf-8", "replace")
                problem = f"the {name} header holds bytes that are not valid UTF-8"
        unfolded = text.replace("\r", "").replace("\n", "")
        values.append((policy.default.header_factory(name, unfolded), problem))
    return values


def _subject(message: EmailMessage) -> tuple[str | None, bool, str | None]:
    """(subject shown, is a request, problem)."""
    values = _header_values(message, "Subject")
    if not values:
        return None, False, None
    texts = [" ".join(str(header).split()) for header, _problem in values]
    is_request = any(SUBJECT_MARK in text.casefold() for text in texts)
    problems = [problem for _header, problem in values if problem]
    if len(values) > 1:
        problems.append(f"the message has {len(values)} Subject headers; one is allowed")
    return texts[0], is_request, problems[0] if problems else None


def _sender(message: EmailMessage) -> tuple[str | None, str | None, str | None]:
    """(From address as written, its login ID, problem)."""
    values = _header_values(message, "From")
    if not values:
        return None, None, "the message has no From address"
    if len(values) > 1:
        return str(values[0][0]), None, "the message has more than one From header"
    header, problem = values[0]
    addresses: tuple[Any, ...] = getattr(header, "addresses", ())
    written = addresses[0].addr_spec if len(addresses) == 1 else str(header)
    if problem:
        return written, None, problem
    if len(addresses) != 1:
        return written or None, None, (f"the From header names {len(addresses)} addresses; a "
                                       "request needs exactly one")
    bad = [d for d in header.defects if isinstance(d, _BAD_FROM_DEFECTS)]
    if bad:
        return written, None, f"the From header is damaged ({bad[0]})"
    try:
        return written, normalise_email(written).login_id, None
    except InvalidInput as exc:
        return written, None, f"the sender address is not usable: {exc}"


def _spoofed(message: EmailMessage) -> bool:
    for header, _problem in _header_values(message, "Authentication-Results"):
        for _method, result in _AUTH_RESULT.findall(str(header)):
            if result.lower() in ("fail", "softfail"):
                return True
    for header, _problem in _header_values(message, "Received-SPF"):
        words = str(header).split()
        if words and words[0].lower() in ("fail", "softfail"):
            return True
    return False


def _parse(raw: RawMessage) -> _Parsed:
    data = raw.data
    if data is None:
        digest = hashlib.sha256(b"unreadable:" + raw.source.encode()).hexdigest()
        return _Parsed(raw.source, digest, True, parse_error=raw.read_error)
    digest = hashlib.sha256(data).hexdigest()
    try:
        parsed = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        assert isinstance(parsed, EmailMessage)
        message = parsed
        if not message.keys():
            return _Parsed(raw.source, digest, True,
                           parse_error="no e-mail headers were found: not an e-mail message")
        subject, is_request, subject_problem = _subject(message)
        from_address, login_id, from_problem = _sender(message)
        message_ids = [str(h).strip() for h, _p in _header_values(message, "Message-ID")]
        spoofed = _spoofed(message)
    except Exception as exc:  # the email package can raise almost anything on hostile input
        return _Parsed(raw.source, digest, True,
                       parse_error=f"the message cannot be parsed ({type(exc).__name__}: {exc})")
    problem = subject_problem or from_problem  # only kept when the message is queued
    return _Parsed(
        source=raw.source, raw_sha256=digest, is_request=is_request or bool(subject_problem),
        message_id=_clean(message_ids[0], 998) if message_ids and message_ids[0] else None,
        from_address=_clean(from_address, 320), login_id=login_id,
        subject_line=_clean(subject, 2000), parse_error=problem, spoofed=spoofed)


# ---- ingest --------------------------------------------------------------------------------


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def sources_under(conn: Connection, prefix: str) -> list[str]:
    """The queued messages' sources that begin with ``prefix`` (one container's members)."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = conn.execute(select(intake_message.c.source).where(
        intake_message.c.source.like(pattern, escape="\\"))).scalars()
    return [source for source in found if source.startswith(prefix)]  # LIKE ignores case


def _known(conn: Connection, parsed: list[_Parsed]) -> tuple[dict[str, list[str]], set[str]]:
    """Sources already queued per raw SHA-256, and the Message-IDs already queued."""
    sources: dict[str, list[str]] = {}
    for chunk in _chunks(sorted({p.raw_sha256 for p in parsed})):
        for row in conn.execute(select(
                intake_message.c.raw_sha256, intake_message.c.source).where(
                intake_message.c.raw_sha256.in_(chunk))):
            sources.setdefault(row.raw_sha256, []).append(row.source)
    message_ids: set[str] = set()
    for chunk in _chunks(sorted({p.message_id for p in parsed if p.message_id})):
        message_ids.update(conn.execute(select(intake_message.c.message_id).where(
            intake_message.c.message_id.in_(chunk))).scalars())
    return sources, message_ids


def _live_subjects(conn: Connection, login_ids: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(login_ids))):
        for row in conn.execute(select(identity.c.login_id, identity.c.subject).where(
                identity.c.login_id.in_(chunk), identity.c.status != "deleted")):
            found[row.login_id] = row.subject
    return found


def _same_source(known: str, source: MailSource, parsed: _Parsed) -> bool:
    if known == parsed.source:
        return True
    return source.member_prefix is not None and known.startswith(source.member_prefix)


def ingest(ctx: Context, op: Operator, path: str | Path, *, progress: Progress | None = None,
           cancel: Cancel | None = None) -> IntakeReport:
    """Queue the ``DES ACCESS`` requests found at ``path`` (see the module's rules).

    Messages are read and parsed first, without holding the store; then one transaction
    queues them all and writes the ``intake.ingest`` audit event with the counts. Cancelling
    while reading stops before anything is written (the report says ``cancelled``).
    """
    require(op, Action.INTAKE_REVIEW)
    where = Path(path).expanduser().resolve()
    return ingest_source(ctx, op, _open_source(where), progress=progress, cancel=cancel)


def ingest_source(ctx: Context, op: Operator, source: MailSource, *,
                  progress: Progress | None = None, cancel: Cancel | None = None
                  ) -> IntakeReport:
    """``ingest`` of an opened source (a saved mailbox, or ``services.intake_imap``)."""
    require(op, Action.INTAKE_REVIEW)
    where = source.container
    report = IntakeReport(where, source.kind, already_ingested=source.already_ingested)
    parsed: list[_Parsed] = []
    if progress:
        progress(0, source.count)
    for raw in source.messages:
        if cancel and cancel():
            report.cancelled = True
            source.messages.close()
            return report
        report.read += 1
        item = _parse(raw)
        if item.is_request:
            parsed.append(item)
        else:
            report.ignored += 1
        if progress:
            progress(report.read, source.count)
    with ctx.store.write() as conn:
        _queue(ctx, conn, source, parsed, report)
        if source.record is not None:
            source.record(conn)
        ctx.record(conn, op, "intake.ingest", "intake_source", where, change=Change(
            after={"kind": source.kind, "read": report.read, "queued": report.queued,
                   "ignored": report.ignored, "already_ingested": report.already_ingested,
                   "matched": report.matched, **report.flagged}))
    return report


def _queue(ctx: Context, conn: Connection, source: MailSource, parsed: list[_Parsed],
           report: IntakeReport) -> None:
    earlier_sources, seen_ids = _known(conn, parsed)
    seen_digests = set(earlier_sources)
    subjects = _live_subjects(conn, [p.login_id for p in parsed if p.login_id])
    now = ctx.now()
    for item in parsed:
        if any(_same_source(known, source, item)
               for known in earlier_sources.get(item.raw_sha256, ())):
            report.already_ingested += 1
            continue
        matched = subjects.get(item.login_id) if item.login_id else None
        flags = {
            "malformed": item.parse_error is not None,
            "unmatched": matched is None,
            "duplicate": item.raw_sha256 in seen_digests
            or (item.message_id is not None and item.message_id in seen_ids),
            "spoofed": item.spoofed,
        }
        result = conn.execute(insert(intake_message).values(
            received_at=now, source=_clean(item.source, 4000), message_id=item.message_id,
            from_address=item.from_address, subject_line=item.subject_line,
            matched_subject=matched, flags=",".join(f for f in FLAGS if flags[f]),
            parse_error=_clean(item.parse_error, 2000), raw_sha256=item.raw_sha256,
            status="pending", version=1))
        assert result.inserted_primary_key is not None
        report.item_ids.append(int(result.inserted_primary_key[0]))
        report.queued += 1
        report.matched += matched is not None
        for name in FLAGS:
            report.flagged[name] += flags[name]
        seen_digests.add(item.raw_sha256)
        if item.message_id:
            seen_ids.add(item.message_id)


# ---- the queue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeItem:
    id: int
    version: int
    received_at: datetime
    source: str
    message_id: str | None
    from_address: str | None
    subject_line: str | None
    flags: tuple[str, ...]
    matched_subject: str | None
    matched_login_id: str | None
    status: str
    parse_error: str | None
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["flags"] = list(self.flags)
        data["received_at"] = self.received_at.isoformat()
        data["decided_at"] = self.decided_at.isoformat() if self.decided_at else None
        return data


def _item_query() -> Any:
    return (select(intake_message.c.id, intake_message.c.version, intake_message.c.received_at,
                   intake_message.c.source, intake_message.c.message_id,
                   intake_message.c.from_address, intake_message.c.subject_line,
                   intake_message.c.flags, intake_message.c.matched_subject,
                   identity.c.login_id.label("matched_login_id"), intake_message.c.status,
                   intake_message.c.parse_error, intake_message.c.reason,
                   intake_message.c.decided_by, intake_message.c.decided_at)
            .select_from(intake_message.outerjoin(
                identity, identity.c.subject == intake_message.c.matched_subject)))


def _item(row: Any) -> IntakeItem:
    data = dict(row._mapping)
    data["flags"] = tuple(f for f in data["flags"].split(",") if f)
    return IntakeItem(**data)


def list_queue(ctx: Context, op: Operator, *,
               status: str | None = "pending") -> list[IntakeItem]:
    """The queue, oldest first; ``status=None`` lists every decision too."""
    require(op, Action.INTAKE_REVIEW)
    if status is not None and status not in INTAKE_STATUSES:
        raise InvalidInput(f"There is no queue status {status!r}; use one of "
                           f"{', '.join(INTAKE_STATUSES)}.")
    query = _item_query().order_by(intake_message.c.id)
    if status is not None:
        query = query.where(intake_message.c.status == status)
    with ctx.store.read() as conn:
        return [_item(row) for row in conn.execute(query).all()]


def _load(conn: Connection, item_id: int) -> IntakeItem:
    row = conn.execute(_item_query().where(intake_message.c.id == item_id)).one_or_none()
    if row is None:
        raise NotFound(f"There is no intake request {item_id}; list them with: python main.py "
                       "reset queue.")
    return _item(row)


def get_item(ctx: Context, op: Operator, item_id: int) -> IntakeItem:
    require(op, Action.INTAKE_REVIEW)
    with ctx.store.read() as conn:
        return _load(conn, item_id)


def _decide(ctx: Context, conn: Connection, op: Operator, item: IntakeItem,
            expected_version: int, status: str, reason: str | None) -> None:
    if item.version != expected_version:
        raise Conflict(f"Intake request {item.id}")
    if item.status != "pending":
        raise InvalidInput(f"Intake request {item.id} was already {item.status} by "
                           f"{item.decided_by}; nothing was changed.")
    changed = conn.execute(update(intake_message).where(and_(
        intake_message.c.id == item.id, intake_message.c.version == expected_version,
        intake_message.c.status == "pending")).values(
        status=status, decided_by=op.login_id, decided_at=ctx.now(), reason=reason,
        version=expected_version + 1))
    if changed.rowcount != 1:
        raise Conflict(f"Intake request {item.id}")


def _live_identity(conn: Connection, subject: str) -> Any:
    return conn.execute(select(identity.c.subject, identity.c.email, identity.c.given_name)
                        .where(identity.c.subject == subject,
                               identity.c.status != "deleted")).one_or_none()


def approve(ctx: Context, op: Operator, item_id: int, expected_version: int, *,
            force: bool = False) -> IntakeItem:
    """Approve a request: in one transaction, mark it approved and issue a self-service reset
    (``services.reset.issue_reset`` creates the code and mails it to the stored address).

    Only a request matched to a live identity can be approved. One flagged ``spoofed`` or
    ``malformed`` needs ``force=True``: the reviewer has checked it another way.
    """
    require(op, Action.INTAKE_REVIEW)
    with ctx.store.write() as conn:
        item = _load(conn, item_id)
        if item.matched_subject is None or _live_identity(conn, item.matched_subject) is None:
            raise InvalidInput(f"Intake request {item_id} is not from the address of a live "
                               "identity, so there is nobody to send a reset to; reject it.")
        risky = sorted(FORCE_REQUIRED & set(item.flags))
        if risky and not force:
            raise InvalidInput(f"Intake request {item_id} is flagged {', '.join(risky)}; check "
                               "with the person another way, then approve it with force.")
        _decide(ctx, conn, op, item, expected_version, "approved", None)
        issue_reset(ctx, conn, op, item.matched_subject, purpose="self_service")
        ctx.record(conn, op, "intake.approve", "intake_message", str(item_id),
                   change=Change(before={"status": "pending"}, after={
                       "status": "approved", "identity": item.matched_subject,
                       "flags": list(item.flags), "forced": bool(force and risky)}))
        return _load(conn, item_id)


def reject(ctx: Context, op: Operator, item_id: int, expected_version: int,
           reason: str) -> IntakeItem:
    """Reject a request with a reason; a matched identity is told so at its stored address."""
    require(op, Action.INTAKE_REVIEW)
    text = " ".join(reason.split())
    if not text:
        raise InvalidInput("Give a reason for rejecting the request; the person is told it.")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"The reason is {len(text)} characters long; keep it under "
                           f"{MAX_REASON}.")
    with ctx.store.write() as conn:
        item = _load(conn, item_id)
        _decide(ctx, conn, op, item, expected_version, "rejected", text)
        person = (_live_identity(conn, item.matched_subject)
                  if item.matched_subject is not None else None)
        if person is not None:
            enqueue(ctx, conn, kind="intake_rejected", to_address=person.email,
                    identity_subject=person.subject,
                    values={"given_name": person.given_name, "reason": text})
        ctx.record(conn, op, "intake.reject", "intake_message", str(item_id), reason=text,
                   change=Change(before={"status": "pending"}, after={
                       "status": "rejected", "identity": item.matched_subject,
                       "notified": person is not None}))
        return _load(conn, item_id)
