"""Run the same candidate passwords through two (or more) policies, to show what changes.

Admins use it to tell the organisation what the updated policy means: how many of a sample of
passwords each policy accepts, and which rules reject them. Only counts leave this module,
never a candidate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policies.password_policy import PasswordPolicy
from services.errors import InvalidInput
from services.passwords.context import PasswordContext
from services.passwords.evaluate import evaluate


@dataclass(frozen=True)
class PolicyTally:
    policy: str
    source: str
    accepted: int
    rejected: int
    rules: tuple[tuple[str, int], ...]  # failure code → candidates it rejects, most first

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "source": self.source, "accepted": self.accepted,
                "rejected": self.rejected, "rules": dict(self.rules)}


@dataclass(frozen=True)
class Comparison:
    candidates: int
    tallies: tuple[PolicyTally, ...]  # in the order the policies were given (old first)
    accepted_by_all: int
    rejected_by_all: int
    newly_rejected: int  # accepted by the first policy, rejected by the last
    newly_accepted: int  # rejected by the first policy, accepted by the last

    def as_dict(self) -> dict[str, Any]:
        return {"candidates": self.candidates,
                "policies": [t.as_dict() for t in self.tallies],
                "accepted_by_all": self.accepted_by_all,
                "rejected_by_all": self.rejected_by_all,
                "newly_rejected": self.newly_rejected,
                "newly_accepted": self.newly_accepted}


def compare(policies: Sequence[PasswordPolicy], passwords: Iterable[str],
            context: PasswordContext | None = None) -> Comparison:
    """Evaluate every candidate under every policy (history is not part of a comparison)."""
    if len(policies) < 2:
        raise InvalidInput("Name at least two policies to compare (the old one first).")
    context = context or PasswordContext()
    accepted = [0] * len(policies)
    rules: list[Counter[str]] = [Counter() for _ in policies]
    total = all_ok = none_ok = newly_rejected = newly_accepted = 0
    for password in passwords:
        total += 1
        verdicts = []
        for i, policy in enumerate(policies):
            result = evaluate(password, context, policy)
            verdicts.append(result.accepted)
            accepted[i] += result.accepted
            rules[i].update(set(result.codes))
        all_ok += all(verdicts)
        none_ok += not any(verdicts)
        newly_rejected += verdicts[0] and not verdicts[-1]
        newly_accepted += verdicts[-1] and not verdicts[0]
    tallies = tuple(
        PolicyTally(p.name, p.source, accepted[i], total - accepted[i],
                    tuple(sorted(rules[i].items(), key=lambda kv: (-kv[1], kv[0]))))
        for i, p in enumerate(policies))
    return Comparison(total, tallies, all_ok, none_ok, newly_rejected, newly_accepted)
