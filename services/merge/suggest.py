"""Suggested merges among the store's live identities (the detector over ``identity`` rows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from services.authz import Action, Operator, require
from services.context import Context
from services.merge.detect import Cancelled, Candidate, Progress, Suggestion, suggest_merges
from services.orgs import org_by_code
from services.store.schema import identity, organisation

LIVE = ("active", "reset_required", "locked", "disabled")  # not deleted, not merged


@dataclass(frozen=True)
class SuggestedAccount:
    subject: str
    login_id: str
    given_name: str
    family_name: str
    org_code: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "login_id": self.login_id,
                "given_name": self.given_name, "family_name": self.family_name,
                "org_code": self.org_code, "status": self.status}


@dataclass(frozen=True)
class StoreSuggestion:
    suggestion: Suggestion  # keys are subject ids, survivor first
    accounts: tuple[SuggestedAccount, ...]  # in the same order as the keys

    def as_dict(self) -> dict[str, Any]:
        return {**self.suggestion.as_dict(), "accounts": [a.as_dict() for a in self.accounts]}


def suggest_for_store(ctx: Context, op: Operator, *, org_code: str | None = None,
                      progress: Progress | None = None,
                      cancelled: Cancelled | None = None) -> list[StoreSuggestion]:
    """Suggested merges among live identities (of one organisation with ``org_code``), best
    first. Reading only: nothing merges without a decision."""
    require(op, Action.IDENTITY_MERGE)
    query = (select(identity.c.subject, identity.c.login_id, identity.c.given_name,
                    identity.c.family_name, organisation.c.code, identity.c.status)
             .join(organisation, organisation.c.id == identity.c.organisation_id)
             .where(identity.c.status.in_(LIVE))
             .order_by(identity.c.created_at, identity.c.subject))
    with ctx.store.read() as conn:
        if org_code:
            query = query.where(identity.c.organisation_id == org_by_code(conn, org_code).id)
        rows = conn.execute(query).all()
    accounts = {r.subject: SuggestedAccount(r.subject, r.login_id, r.given_name, r.family_name,
                                            r.code, r.status) for r in rows}
    found = suggest_merges(
        (Candidate(r.subject, r.login_id, r.given_name, r.family_name, r.code) for r in rows),
        progress=progress, cancelled=cancelled)
    return [StoreSuggestion(s, tuple(accounts[k] for k in s.keys)) for s in found]
