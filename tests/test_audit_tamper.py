"""The audit trail is tamper-evident: an edited, deleted, inserted or reordered event breaks the
HMAC chain where it happened, and events cut off the end are caught against a checkpoint kept
outside the store. Each case is checked in-process and through ``audit verify`` (exit 1, the
JSON names the first bad event)."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, delete, insert, select, update

from services.audit import Change, Checkpoint, VerifyResult
from services.authz import SYSTEM
from services.context import Context
from services.orgs import add_org
from services.setup import ensure_company
from services.store.schema import audit_event, audit_head
from services.users import add_identity, disable_identity, rename_identity
from tests.conftest import Cli

CONTENT = [c.name for c in audit_event.columns if c.name != "seq"]


@pytest.fixture
def trail(ctx: Context) -> int:
    """A small, realistic trail; returns its length."""
    ensure_company(ctx)
    add_org(ctx, SYSTEM, "NWGS", "Northwind Gas Shipping", "shipper")
    add_org(ctx, SYSTEM, "BRWS", "Brightwater Energy Supply", "supplier")
    a = add_identity(ctx, SYSTEM, "alex.morgan@northwind.example", "Alex", "Morgan", "NWGS",
                     ["DES:viewer"])
    add_identity(ctx, SYSTEM, "sam.taylor@brightwater.example", "Sam", "Taylor", "BRWS")
    add_identity(ctx, SYSTEM, "jo.evans@northwind.example", "Jo", "Evans", "NWGS")
    rename_identity(ctx, SYSTEM, a.subject, a.version, "Alexandra", "Morgan")
    ctx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    disable_identity(ctx, SYSTEM, "jo.evans@northwind.example", reason="left the company")
    with ctx.store.read() as conn:
        result = ctx.audit.verify(conn)
    assert result.ok
    assert result.count == 8
    return result.count


@pytest.fixture
def raw(db_url: str) -> Iterator[Engine]:
    """What an attacker with database access has: a plain connection, no service code."""
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def verify(ctx: Context, checkpoint: Checkpoint | None = None) -> VerifyResult:
    with ctx.store.read() as conn:
        return ctx.audit.verify(conn, checkpoint)


def row(conn: Connection, seq: int) -> dict[str, Any]:
    return dict(conn.execute(select(audit_event).where(audit_event.c.seq == seq)).mappings().one())


def renumber(conn: Connection, first: int, by: int) -> None:
    """Shift events from ``first`` on by ``by``, one row at a time so the key never collides."""
    seqs = conn.execute(select(audit_event.c.seq).where(audit_event.c.seq >= first)
                        .order_by(audit_event.c.seq.desc() if by > 0 else audit_event.c.seq)
                        ).scalars().all()
    for seq in seqs:
        conn.execute(update(audit_event).where(audit_event.c.seq == seq).values(seq=seq + by))


def forged(conn: Connection, seq: int, prev_hash: str, mac: str) -> dict[str, Any]:
    template = row(conn, 2)
    template.update(seq=seq, event_id=str(uuid.uuid4()), actor="system",
                    action="identity.create", reason="", prev_hash=prev_hash, hash=mac)
    return template


# Each tamper edits the store like an attacker would and returns (first bad event, reason).
def edit_reason(conn: Connection, n: int) -> tuple[int, str]:
    conn.execute(update(audit_event).where(audit_event.c.seq == 8).values(reason="routine"))
    return 8, "was altered"


def edit_after_values(conn: Connection, n: int) -> tuple[int, str]:
    after = row(conn, 4)["after"].replace("DES:viewer", "GATEHOUSE:platform_admin")
    conn.execute(update(audit_event).where(audit_event.c.seq == 4).values(after=after))
    return 4, "was altered"


def edit_time(conn: Connection, n: int) -> tuple[int, str]:
    at = row(conn, 7)["at"]
    conn.execute(update(audit_event).where(audit_event.c.seq == 7)
                 .values(at=at - timedelta(days=1)))
    return 7, "was altered"


def edit_actor_and_rehash_without_the_key(conn: Connection, n: int) -> tuple[int, str]:
    import hashlib

    conn.execute(update(audit_event).where(audit_event.c.seq == 5).values(
        actor="someone.else@example.com",
        hash=hashlib.sha256(b"attacker does not hold the HMAC key").hexdigest()))
    return 5, "was altered"


def delete_middle(conn: Connection, n: int) -> tuple[int, str]:
    conn.execute(delete(audit_event).where(audit_event.c.seq == 4))
    return 4, "event 4 is missing"


def delete_middle_and_renumber(conn: Connection, n: int) -> tuple[int, str]:
    conn.execute(delete(audit_event).where(audit_event.c.seq == 4))
    renumber(conn, 5, -1)
    return 4, "does not follow event 3"


def insert_forged_and_renumber(conn: Connection, n: int) -> tuple[int, str]:
    prev = row(conn, 3)["hash"]
    renumber(conn, 4, +1)
    conn.execute(insert(audit_event).values(**forged(conn, 4, prev, secrets.token_hex(32))))
    return 4, "was altered"


def insert_forged_at_the_end(conn: Connection, n: int) -> tuple[int, str]:
    head = row(conn, n)["hash"]
    conn.execute(insert(audit_event).values(**forged(conn, n + 1, head, "0" * 64)))
    conn.execute(update(audit_head).values(seq=n + 1, hash="0" * 64))
    return n + 1, "was altered"


def insert_forged_with_a_non_hex_mac(conn: Connection, n: int) -> tuple[int, str]:
    head = row(conn, n)["hash"]
    conn.execute(insert(audit_event).values(**forged(conn, n + 1, head, "\u00e9" * 64)))
    return n + 1, "was altered"


def replay_an_old_event_at_the_end(conn: Connection, n: int) -> tuple[int, str]:
    copy = row(conn, 2)
    copy.update(seq=n + 1, event_id=str(uuid.uuid4()))
    conn.execute(insert(audit_event).values(**copy))
    return n + 1, f"does not follow event {n}"


def swap_two_events(conn: Connection, n: int) -> tuple[int, str]:
    third, sixth = row(conn, 3), row(conn, 6)
    conn.execute(update(audit_event).where(audit_event.c.seq == 3)
                 .values(event_id=str(uuid.uuid4())))  # free the unique event id first
    conn.execute(update(audit_event).where(audit_event.c.seq == 6)
                 .values(**{c: third[c] for c in CONTENT}))
    conn.execute(update(audit_event).where(audit_event.c.seq == 3)
                 .values(**{c: sixth[c] for c in CONTENT}))
    return 3, "does not follow event 2"


TAMPERS: list[Callable[[Connection, int], tuple[int, str]]] = [
    edit_reason, edit_after_values, edit_time, edit_actor_and_rehash_without_the_key,
    delete_middle, delete_middle_and_renumber, insert_forged_and_renumber,
    insert_forged_at_the_end, insert_forged_with_a_non_hex_mac, replay_an_old_event_at_the_end,
    swap_two_events,
]
# Each kind of tampering is also shown to the command line (each start costs about a second).
VIA_CLI = {edit_reason, delete_middle, insert_forged_and_renumber, insert_forged_at_the_end,
           swap_two_events}


def test_an_intact_trail_verifies_in_process_and_on_the_command_line(
        ctx: Context, trail: int, db_url: str, cli: Cli) -> None:
    result = verify(ctx)
    assert (result.ok, result.count, result.first_bad_seq) == (True, trail, None)

    cli.share_keys()
    run = cli("--db", db_url, "audit", "verify", "--json")
    assert run.code == 0, run.err
    assert run.json() == {"intact": True, "events_verified": trail, "first_bad_event": None,
                          "reason": "the audit trail is intact", "head_hash": result.head_hash}


def test_tampering_is_detected_at_the_first_bad_event(
        ctx: Context, trail: int, raw: Engine, db_url: str, cli: Cli,
        subtests: pytest.Subtests) -> None:
    """Every tampering on one store, each undone before the next (a subtest per tampering)."""
    cli.share_keys()
    with raw.connect() as conn:
        original = [dict(r) for r in conn.execute(
            select(audit_event).order_by(audit_event.c.seq)).mappings()]
        head = dict(conn.execute(select(audit_head)).mappings().one())

    for tamper in TAMPERS:
        with subtests.test(tamper=tamper.__name__):
            try:
                with raw.begin() as conn:
                    first_bad, reason = tamper(conn, trail)

                result = verify(ctx)
                assert not result.ok
                assert result.first_bad_seq == first_bad
                assert reason in result.reason

                if tamper in VIA_CLI:
                    run = cli("--db", db_url, "audit", "verify", "--json")
                    assert run.code == 1, run.err
                    report = run.json()
                    assert report["intact"] is False  # type: ignore[index]
                    assert report["first_bad_event"] == first_bad  # type: ignore[index]
                    assert reason in report["reason"]  # type: ignore[index]
                    assert run.err == ""
            finally:
                with raw.begin() as conn:  # put the trail back exactly as it was
                    conn.execute(delete(audit_event))
                    conn.execute(insert(audit_event), original)
                    conn.execute(update(audit_head).values(**head))
                assert verify(ctx).ok


def test_cutting_the_tail_passes_alone_but_fails_against_a_checkpoint(
        ctx: Context, trail: int, raw: Engine, db_url: str, cli: Cli, tmp_path: Path) -> None:
    cli.share_keys()
    checkpoint_file = tmp_path / "audit.checkpoint"
    written = cli("--db", db_url, "audit", "checkpoint", str(checkpoint_file), "--json")
    assert written.code == 0, written.err
    checkpoint = Checkpoint.from_json(checkpoint_file.read_text())
    with ctx.store.read() as conn:
        assert checkpoint == ctx.audit.checkpoint(conn)
    assert checkpoint.count == trail

    with raw.begin() as conn:  # cut the last three events and make the head agree
        conn.execute(delete(audit_event).where(audit_event.c.seq > trail - 3))
        conn.execute(update(audit_head).values(seq=trail - 3, hash=row(conn, trail - 3)["hash"]))

    alone = verify(ctx)
    assert (alone.ok, alone.count) == (True, trail - 3)  # a hash chain alone cannot tell
    run = cli("--db", db_url, "audit", "verify", "--json")
    assert run.code == 0, run.err

    against = verify(ctx, checkpoint)
    assert not against.ok
    assert against.first_bad_seq == trail - 2
    assert f"ends at event {trail - 3}" in against.reason
    assert f"recorded {trail} events" in against.reason
    run = cli("--db", db_url, "audit", "verify", "--checkpoint", str(checkpoint_file), "--json")
    assert run.code == 1, run.err
    report = run.json()
    assert report["first_bad_event"] == trail - 2  # type: ignore[index]
    assert "cut off the end" in report["reason"]  # type: ignore[index]


def test_a_checkpoint_still_holds_after_later_events(ctx: Context, trail: int) -> None:
    with ctx.store.read() as conn:
        checkpoint = ctx.audit.checkpoint(conn)
    add_org(ctx, SYSTEM, "PENN", "Pennine Gas Transmission", "gt")
    result = verify(ctx, checkpoint)
    assert (result.ok, result.count) == (True, trail + 1)


def test_a_checkpoint_of_an_empty_trail_holds(ctx: Context) -> None:
    with ctx.store.read() as conn:
        empty = ctx.audit.checkpoint(conn)
    assert empty.count == 0
    ensure_company(ctx)
    assert verify(ctx, empty).ok


def test_a_checkpoint_from_a_rewritten_trail_is_caught(ctx: Context, trail: int) -> None:
    with ctx.store.read() as conn:
        real = ctx.audit.checkpoint(conn)
    other = Checkpoint(count=real.count, head_hash=secrets.token_hex(32))
    result = verify(ctx, other)
    assert not result.ok
    assert result.first_bad_seq == trail
    assert "differs from the checkpoint" in result.reason


def test_a_checkpoint_file_that_is_not_one_is_bad_input(
        ctx: Context, trail: int, db_url: str, cli: Cli, tmp_path: Path) -> None:
    cli.share_keys()
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"count": 3}))
    run = cli("--db", db_url, "audit", "verify", "--checkpoint", str(bogus))
    assert run.code == 2
    assert run.err_lines == [f"gatehouse: {bogus} is not a Gatehouse audit checkpoint."]


SECRET_NAMES = ("password", "new_password", "password_hash", "reset_token", "totp_seed",
                "api_secret", "passphrase", "master_key", "OTP", "Password")


def test_append_refuses_a_before_or_after_field_named_like_a_secret(ctx: Context) -> None:
    ensure_company(ctx)
    with ctx.store.read() as conn:
        before = conn.execute(select(audit_head)).one()
    for name in SECRET_NAMES:
        for change in (Change(after={name: "x"}), Change(before={name: "x"})):
            with pytest.raises(ValueError, match="must not carry secrets"), \
                    ctx.store.write() as conn:
                ctx.record(conn, SYSTEM, "identity.update", "identity", "s-1", change=change)
    with ctx.store.read() as conn:
        assert conn.execute(select(audit_head)).one() == before
    assert verify(ctx).count == 1
    with ctx.store.write() as conn:  # ordinary field names are fine
        ctx.record(conn, SYSTEM, "identity.update", "identity", "s-1",
                   change=Change(before={"given_name": "Al"}, after={"given_name": "Alex"}))
    assert verify(ctx).count == 2
