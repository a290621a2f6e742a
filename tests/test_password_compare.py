"""Comparing the legacy and the updated policy on the same candidates: counts only."""

from __future__ import annotations

import json

import pytest

from policies.loader import POLICY_DIR
from policies.password_policy import load_password_policy
from services.errors import InvalidInput
from services.passwords import compare

LEGACY = load_password_policy(POLICY_DIR / "password-legacy.toml")
CURRENT = load_password_policy()

CANDIDATES = [
    "Password1",  # legacy: accepted (3 classes, 8 chars); new: short, common, weak
    "Xoserve2021!",  # legacy: accepted; new: short, banned terms
    "Summer2026!!",  # legacy: accepted; new: short, banned terms
    "maple obtuse quarry lantern",  # legacy: composition (lower + space = 2 classes); new: ok
    "Zq7#Lm2$vR9!xT4@pZ8&",  # both accept
    "short",  # both reject
    "aaaaaaaaaaaaaaaa",  # legacy: composition; new: too weak
]


def test_counts_per_policy_and_rule() -> None:
    result = compare([LEGACY, CURRENT], CANDIDATES)
    assert result.candidates == 7
    old, new = result.tallies
    assert (old.accepted, old.rejected) == (4, 3)
    assert (new.accepted, new.rejected) == (2, 5)
    old_rules, new_rules = dict(old.rules), dict(new.rules)
    assert old_rules == {"composition": 3, "too_short": 1}
    assert new_rules["too_short"] == 4
    assert new_rules["banned_terms"] >= 2
    assert new_rules["too_weak"] >= 2
    assert "composition" not in new_rules
    assert result.newly_rejected == 3  # Password1, Xoserve2021!, Summer2026!!
    assert result.newly_accepted == 1  # the passphrase
    assert result.accepted_by_all == 1 and result.rejected_by_all == 2
    # Most frequent rule first.
    assert list(new.rules) == sorted(new.rules, key=lambda kv: (-kv[1], kv[0]))


def test_as_dict_is_json_and_never_holds_a_candidate() -> None:
    document = compare([LEGACY, CURRENT], CANDIDATES).as_dict()
    text = json.dumps(document)
    assert json.loads(text)["policies"][1]["policy"] == CURRENT.name
    for candidate in CANDIDATES:
        if len(candidate) > 5:  # "short" is also an ordinary word
            assert candidate not in text


def test_a_single_policy_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least two policies"):
        compare([CURRENT], CANDIDATES)
