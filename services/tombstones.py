"""Login IDs given up — by deleting an identity or changing its e-mail — and when another
identity may take them.

OpenID Connect's rule: an e-mail may be reused, a subject id never. A tombstone keeps which
subject held the ID, so that whoever gives it to someone new is told before confirming.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from services.errors import InvalidInput
from services.store.schema import id_tombstone


@dataclass(frozen=True)
class PreviousHolder:
    """An identity that held a login ID before."""

    subject: str
    reason: str  # "deleted" or "email_changed"
    given_up_at: datetime
    reusable_after: datetime
    claimed: bool  # someone has held the ID since

    def as_dict(self) -> dict[str, object]:
        return {"subject": self.subject, "reason": self.reason,
                "given_up_at": self.given_up_at.isoformat(),
                "reusable_after": self.reusable_after.isoformat(), "claimed": self.claimed}

    def sentence(self) -> str:
        how = "deleted" if self.reason == "deleted" else "moved to another address"
        return (f"Held until {self.given_up_at:%Y-%m-%d} by subject {self.subject} "
                f"({how}).")


def previous_holders(conn: Connection, login_id: str) -> list[PreviousHolder]:
    """Everyone who gave up ``login_id``, most recent first (restored ones excluded)."""
    rows = conn.execute(
        select(id_tombstone).where(id_tombstone.c.login_id == login_id,
                                   id_tombstone.c.closed_at.is_(None))
        .order_by(id_tombstone.c.deleted_at.desc(), id_tombstone.c.id.desc())
    ).all()
    return [PreviousHolder(subject=r.subject, reason=r.reason, given_up_at=r.deleted_at,
                           reusable_after=r.reusable_after, claimed=r.claimed_by is not None)
            for r in rows]


def cooling_off_until(conn: Connection, login_id: str, now: datetime) -> datetime | None:
    """When ``login_id`` becomes free to claim, if it is still cooling off; else None."""
    waits = [h.reusable_after for h in previous_holders(conn, login_id)
             if not h.claimed and h.reusable_after > now]
    return max(waits) if waits else None


def refuse_if_cooling_off(conn: Connection, login_id: str, now: datetime) -> None:
    until = cooling_off_until(conn, login_id, now)
    if until is not None:
        raise InvalidInput(
            f"The login ID {login_id!r} was given up recently and cannot be given to anyone "
            f"else until {until:%Y-%m-%d %H:%M} UTC; restore the identity that held it, or "
            "wait for the cooling-off to end and then claim it.")


def unclaimed(conn: Connection, login_id: str) -> list[PreviousHolder]:
    return [h for h in previous_holders(conn, login_id) if not h.claimed]
