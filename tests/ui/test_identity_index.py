"""The in-memory identity index behind the Users table (Qt-free)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from services.auth import Session
from services.authz import SYSTEM
from services.context import Context
from services.identity_index import SORT_KEYS, IdentityIndex, _haystack, load_identity_index
from services.users import add_identity, disable_identity, get_identity, list_identities

WORDS = ("ann", "anna", "bob", "smith", "smythe", "orchard", "tyne", "Zoë", "de la", "o'neil")


def _synthetic(n: int, seed: int = 7) -> IdentityIndex:
    rng = random.Random(seed)
    given = [rng.choice(WORDS).title() for _ in range(n)]
    family = [rng.choice(WORDS).title() + str(rng.randrange(3)) for _ in range(n)]
    logins = [f"{g}.{f}{i}@x.example".lower().replace(" ", "") for i, (g, f) in
              enumerate(zip(given, family, strict=True))]
    codes = [rng.choice(("ORCH", "TYNE", "XOS")) for _ in range(n)]
    names = [f"{c.title()} Ltd" for c in codes]
    return IdentityIndex(
        subjects=[f"s{i}" for i in range(n)], login_ids=logins, given_names=given,
        family_names=family, org_codes=codes, org_names=names,
        statuses=[rng.choice(("active", "disabled", "reset_required")) for _ in range(n)],
        updated=[f"2026-01-{rng.randrange(1, 29):02d} 09:00:00" for _ in range(n)],
        haystacks=[_haystack(*f) for f in zip(logins, given, family, codes, names, strict=True)])


def _brute(index: IdentityIndex, text: str) -> set[int]:
    words = text.casefold().split()
    return {i for i, h in enumerate(index.haystacks) if all(w in h for w in words)}


def test_typing_and_erasing_give_exactly_the_matches_in_order() -> None:
    index = _synthetic(2000)
    typed = ("s", "sm", "smi", "smit", "smith", "smith ", "smith o", "smith or", "smith orc")
    for key in SORT_KEYS:
        for descending in (False, True):
            previous = None
            # Type, erase (answered from recent results), then jump to unrelated text.
            for text in (*typed, *typed[::-1], "", "zo", "zoë", "ZOË TY", "de la"):
                result = index.search(text, key, descending, previous)
                matches = _brute(index, text)
                assert result.rows == [r for r in index.order(key, descending) if r in matches]
                for shown, row in enumerate(result.rows):
                    assert index.display_row(result, row) == shown
                previous = result
            missing = next(r for r in range(len(index)) if r not in set(previous.rows))
            assert index.display_row(previous, missing) is None


def test_orders_are_sorted_and_stable() -> None:
    index = _synthetic(1000)
    logins = [index.login_ids[i] for i in index.order("login_id")]
    assert logins == sorted(logins)
    orgs = [index.org_names[i].casefold() for i in index.order("organisation")]
    assert orgs == sorted(orgs)
    names = index.order("name")
    within = [i for i in index.order("status") if index.statuses[i] == "active"]
    assert within == [i for i in names if index.statuses[i] == "active"]  # ties by name
    assert index.order("updated_at", descending=True) == index.order("updated_at")[::-1]


def test_load_matches_the_listing_service(ctx: Context,
                                          session_for: Callable[..., Session]) -> None:
    admin = session_for("platform_admin").operator
    for n in range(5):
        add_identity(ctx, SYSTEM, f"p{n}@xoserve.example", "Pat", f"Person{n}", "XOS")
    disable_identity(ctx, SYSTEM, "p0@xoserve.example")
    index = load_identity_index(ctx, admin)
    listed = list_identities(ctx, admin)
    assert sorted(index.subjects) == sorted(s.subject for s in listed)
    row = index.position(get_identity(ctx, SYSTEM, "p0@xoserve.example").subject)
    assert row is not None and index.statuses[row] == "disabled"
    assert len(index.updated[row]) == 19 and index.updated[row].startswith("2026-01-05 09:00")


def test_update_moves_a_renamed_row() -> None:
    index = _synthetic(50)
    first = index.order("name")[0]
    summary_time = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)

    class Summary:  # the fields IdentityIndex.update reads
        subject = index.subjects[first]
        login_id = index.login_ids[first]
        given_name = "Zed"
        family_name = "Zzyzx"
        org_code = index.org_codes[first]
        org_name = index.org_names[first]
        status = "active"
        updated_at = summary_time

    assert index.update(Summary()) == first  # type: ignore[arg-type]
    assert index.order("name")[-1] == first
    assert index.updated[first] == "2026-02-01 12:00:00"
    assert index.search("zzyzx").rows == [first]
