"""The audit trail: append-only events, each HMAC-SHA256-chained to the one before.

An event's MAC covers its sequence number, every field and the previous event's MAC, under a
key sealed by the vault, so an edited, deleted, inserted or reordered event breaks the chain
where it happened. Cutting events off the end leaves a valid shorter chain: a checkpoint (count
and head MAC) kept outside the store catches that (OWASP logging cheat sheet; ASVS 16.4).
Events never carry a password, token or seed: ``append`` refuses field names that suggest one.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import json.encoder
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Connection, func, select, update

from services.store.schema import GENESIS_HASH, audit_event, audit_head

_SECRET_WORDS = ("password", "hash", "token", "secret", "seed", "otp", "passphrase", "key")
FIELDS = (
    "seq", "event_id", "at", "actor", "action", "target_type", "target_id", "result", "reason",
    "before", "after", "correlation_id", "prev_hash",
)


@dataclass
class Change:
    """Before and after values of the fields an action changed."""

    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


# One encoder, built once: ``json.dumps`` with these options builds a new one on every call,
# which cost more than the encoding itself for the small payloads of an audit event.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            default=str)
_STRING = json.encoder.encode_basestring  # a JSON string as _ENCODER writes it (no ASCII escape)


def _canonical(value: Mapping[str, Any]) -> str:
    return _ENCODER.encode(value)


def _check_no_secrets(values: Mapping[str, Any]) -> None:
    for name in values:
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise ValueError(f"audit values must not carry secrets: field {name!r}")


def _at_text(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _mac(key: bytes, row: Mapping[str, Any]) -> str:
    payload = {name: row[name] for name in FIELDS}
    payload["at"] = _at_text(row["at"])
    return hmac.new(key, _canonical(payload).encode(), hashlib.sha256).hexdigest()


def time_ordered_ids(count: int) -> list[str]:
    """``count`` new UUIDs (version 7, RFC 9562: a millisecond timestamp, then random bits),
    ascending. Unique like version 4 ones, but bulk inserts of them append to an index instead
    of touching a random page of it for every row."""
    ms = time.time_ns() // 1_000_000
    pool = os.urandom(10 * count)
    tails = sorted(int.from_bytes(pool[i:i + 10], "big") >> 6 for i in range(0, 10 * count, 10))
    out = []
    for tail in tails:
        rand_a, rand_b = tail >> 62, tail & ((1 << 62) - 1)
        h = f"{(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


class AuditLog:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def append(
        self,
        conn: Connection,
        *,
        at: datetime,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        result: str = "success",
        reason: str = "",
        change: Change | None = None,
        correlation_id: str | None = None,
    ) -> int:
        """Append one event inside the caller's transaction; returns its sequence number."""
        change = change or Change()
        _check_no_secrets(change.before)
        _check_no_secrets(change.after)
        # Lock the head row: appenders queue, so the chain stays one line (PostgreSQL;
        # SQLite's BEGIN IMMEDIATE already serialises writers).
        head = conn.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
            .with_for_update()
        ).one()
        row = {
            "seq": head.seq + 1,
            "event_id": str(uuid.uuid4()),
            "at": at,
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "result": result,
            "reason": reason,
            "before": _canonical(change.before),
            "after": _canonical(change.after),
            "correlation_id": correlation_id or str(uuid.uuid4()),
            "prev_hash": head.hash,
        }
        row["hash"] = _mac(self._key, row)
        conn.execute(audit_event.insert().values(**row))
        conn.execute(
            update(audit_head).where(audit_head.c.id == 1).values(seq=row["seq"], hash=row["hash"])
        )
        return int(row["seq"])

    def append_many(self, conn: Connection, events: list[dict[str, Any]], *, at: datetime,
                    actor: str, correlation_id: str) -> list[tuple[int, str]]:
        """Append several events at once inside the caller's transaction — still one event,
        with its own MAC in the chain, per item — for bulk work such as a migration batch.

        Each item holds ``action``, ``target_type``, ``target_id`` and optionally ``result``,
        ``reason``, ``before`` and ``after``. Returns (sequence number, event id) per item.
        """
        if not events:
            return []
        head = conn.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
            .with_for_update()
        ).one()
        seq, prev = int(head.seq), str(head.hash)
        key = self._key
        ids = time_ordered_ids(len(events))
        # The canonical payload of each event (what _mac computes) written directly, the batch's
        # constant fields encoded once: keys in sorted order, strings as _ENCODER writes them.
        # tests/test_audit_tamper.py and the run's tests verify the chain with _mac.
        dialect = conn.dialect
        when = audit_event.c.at.type.dialect_impl(dialect).bind_processor(dialect)
        at_value = when(at) if when else at
        common = (f',"actor":{_STRING(actor)},"after":', f',"at":{_STRING(_at_text(at))}'
                  ',"before":', f',"correlation_id":{_STRING(correlation_id)},"event_id":')
        encoded: dict[str, str] = {}  # actions, types, results, reasons repeat in a batch

        def once(text: str) -> str:
            found = encoded.get(text)
            if found is None:
                found = encoded[text] = _STRING(text)
            return found

        checked: set[tuple[str, ...]] = set()
        empty = _canonical({})
        rows: list[tuple[Any, ...]] = []
        out: list[tuple[int, str]] = []
        mac = hmac.digest
        for event, event_id in zip(events, ids, strict=True):
            before, after = event.get("before") or {}, event.get("after") or {}
            names = (*before, "", *after)
            if names not in checked:  # a batch repeats a few shapes many times
                _check_no_secrets(before)
                _check_no_secrets(after)
                checked.add(names)
            seq += 1
            action, target_type = event["action"], event["target_type"]
            target_id = event["target_id"]
            result, reason = event.get("result", "success"), event.get("reason", "")
            before_text = _canonical(before) if before else empty
            after_text = _canonical(after)
            payload = "".join((
                '{"action":', once(action), common[0], _STRING(after_text), common[1],
                once(before_text), common[2], _STRING(event_id), ',"prev_hash":', _STRING(prev),
                ',"reason":', once(reason), ',"result":', once(result), ',"seq":', str(seq),
                ',"target_id":', _STRING(target_id), ',"target_type":', once(target_type), "}"))
            digest = mac(key, payload.encode(), "sha256").hex()
            rows.append((seq, event_id, at_value, actor, action, target_type, target_id, result,
                         reason, before_text, after_text, correlation_id, prev, digest))
            prev = digest
            out.append((seq, event_id))
        # At the driver level: a batch is thousands of rows, and per-row statement processing
        # would cost more than the MACs.
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        names = (*FIELDS, "hash")
        marks = ",".join([mark] * len(names))
        conn.exec_driver_sql(  # column names from FIELDS only
            f"INSERT INTO audit_event ({','.join(names)}) VALUES ({marks})",  # noqa: S608
            rows)
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
        return out

    def verify(self, conn: Connection, checkpoint: Checkpoint | None = None) -> VerifyResult:
        expected_seq, prev, count = 1, GENESIS_HASH, 0
        # A checkpoint of an empty trail has no head event to meet: it holds from the start.
        checkpoint_seen = checkpoint is not None and checkpoint.count == 0
        for row in iter_events(conn):
            count += 1
            if row["seq"] != expected_seq:
                kind = "missing" if row["seq"] > expected_seq else "out of order"
                return VerifyResult(False, count - 1, expected_seq,
                                    f"event {expected_seq} is {kind}: the next event found is "
                                    f"{row['seq']} (deleted or inserted events)")
            if row["prev_hash"] != prev:
                return VerifyResult(False, count - 1, row["seq"],
                                    f"event {row['seq']} does not follow event {row['seq'] - 1} "
                                    "(the chain is broken: events deleted, inserted or reordered)")
            # Bytes, not str: compare_digest raises on a forged non-ASCII MAC instead of failing.
            if not hmac.compare_digest(_mac(self._key, row).encode(), str(row["hash"]).encode()):
                return VerifyResult(False, count - 1, row["seq"],
                                    f"event {row['seq']} was altered after it was written "
                                    "(its MAC does not match its content)")
            if checkpoint and row["seq"] == checkpoint.count:
                if row["hash"] != checkpoint.head_hash:
                    return VerifyResult(False, count - 1, row["seq"],
                                        f"event {row['seq']} differs from the checkpoint's head "
                                        "(the trail was rewritten after the checkpoint)")
                checkpoint_seen = True
            prev, expected_seq = row["hash"], expected_seq + 1
        if checkpoint and not checkpoint_seen:
            return VerifyResult(False, count, count + 1,
                                f"the trail ends at event {count} but the checkpoint recorded "
                                f"{checkpoint.count} events: events were cut off the end")
        return VerifyResult(True, count, None, "the audit trail is intact", head_hash=prev)

    def checkpoint(self, conn: Connection) -> Checkpoint:
        result = self.verify(conn)
        if not result.ok:
            raise ValueError(result.reason)
        return Checkpoint(count=result.count, head_hash=result.head_hash)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int  # events that verified
    first_bad_seq: int | None
    reason: str
    head_hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"intact": self.ok, "events_verified": self.count,
                "first_bad_event": self.first_bad_seq, "reason": self.reason,
                "head_hash": self.head_hash or None}


@dataclass(frozen=True)
class Checkpoint:
    count: int
    head_hash: str

    def to_json(self) -> str:
        return json.dumps({"format": "gatehouse-audit-checkpoint/1", "count": self.count,
                           "head_hash": self.head_hash}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        data = json.loads(text)
        if data.get("format") != "gatehouse-audit-checkpoint/1":
            raise ValueError("not a Gatehouse audit checkpoint")
        return cls(count=int(data["count"]), head_hash=str(data["head_hash"]))


def iter_events(conn: Connection, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """All events in sequence order, streamed in batches."""
    columns = [audit_event.c[name] for name in (*FIELDS, "hash")]
    last = 0
    while True:
        rows = conn.execute(
            select(*columns).where(audit_event.c.seq > last).order_by(audit_event.c.seq)
            .limit(batch)
        ).mappings().all()
        if not rows:
            return
        for row in rows:
            yield dict(row)
        last = rows[-1]["seq"]


def count_events(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(audit_event)).scalar_one())


# ---- export --------------------------------------------------------------------------------

EXPORT_FIELDS = (*FIELDS, "hash")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise_cell(value: str) -> str:
    """OWASP CSV injection: a cell a spreadsheet would run as a formula is prefixed with '."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _export_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["at"] = _at_text(row["at"])
    return out


def export_csv(events: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in events:
        writer.writerow({k: neutralise_cell(str(v)) for k, v in _export_row(row).items()})
        count += 1
    return count


def export_jsonl(events: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    count = 0
    for row in events:
        record = _export_row(row)
        record["before"] = json.loads(record["before"])
        record["after"] = json.loads(record["after"])
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def csv_text(events: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    export_csv(events, buffer)
    return buffer.getvalue()
