"""Suggested merges: which accounts probably belong to one person, ranked, with reasons.

Works on plain records, so that the store (``suggest_for_store``) and a legacy migration plan
can both use it. Nothing merges from here: a suggestion only opens a plan for an admin to
decide on (programme decision 2).

Rules, each found through an index rather than by comparing all pairs (100,000 accounts would
be five billion pairs):

- the same login ID after normalisation (case, width: RFC 8265 as ``services.identity``);
- numeric-suffix variants of one login ID (``alex.morgan1@x`` beside ``alex.morgan@x``, made
  when a deleted ID could not be reused) — indexed by the ID with its trailing digits removed;
- the same name in the same organisation — indexed by (organisation, name);
- near-identical names in the same organisation (a typo in one of the two names) — compared
  with ``rapidfuzz`` only within blocks that share the organisation and the other name exactly,
  and only where at least one of the two spellings is rare (a typo makes a name few others
  have; Ann and Anna are both names).

A name shared by many people of one organisation is no evidence on its own (five John Smiths
in a shipper are five people), so name-only rules skip blocks larger than ``MAX_NAME_BLOCK``.
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]

MAX_NAME_BLOCK = 4  # people sharing one exact name in one organisation
MAX_FUZZY_BLOCK = 2000  # distinct names compared pairwise inside one block
FUZZY_MIN = 88.0  # rapidfuzz ratio (0-100) of whole names: near-identical
COMMON_NAME = 3  # holders across all candidates that make a name "in common use"
MAX_SUFFIX_GROUP = 12  # beyond this a run of numbered IDs is a naming scheme, not one person
_SUFFIX = re.compile(r"^(.*?\D)(\d{1,4})$")


@dataclass(frozen=True)
class Candidate:
    key: str  # the caller's handle: a subject id, a legacy account id
    login_id: str
    given_name: str
    family_name: str
    org_code: str


@dataclass(frozen=True)
class Suggestion:
    keys: tuple[str, ...]  # survivor first: the unsuffixed, then the earliest given
    score: float  # 0..1, higher is surer
    reasons: tuple[str, ...]  # sentences
    kind: str  # "same_login_id", "login_suffix", "same_name", "similar_name"

    def as_dict(self) -> dict[str, Any]:
        return {"keys": list(self.keys), "score": self.score, "reasons": list(self.reasons),
                "kind": self.kind}


def casefold_login(text: str) -> str:
    """Width-map, lower-case, NFC — the comparison form of ``normalise_email``, without the
    address validation (legacy data holds addresses that would not pass it)."""
    if text.isascii():  # NFKC and NFC leave ASCII as it is
        return text.strip().lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text.strip()).lower())


@lru_cache(maxsize=1 << 16)  # names repeat: a few thousand distinct among 100,000 people
def name_key(text: str) -> str:
    """A name for comparison: case, accents, spacing, hyphens and apostrophes ignored."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[-'’.]", " ", letters).split())


@dataclass(slots=True)
class _Item:
    index: int  # order given: earlier counts as older
    candidate: Candidate
    login: str
    base: str  # login with the local part's numeric suffix removed
    suffix: int  # -1: no numeric suffix
    given: str
    family: str
    org: str


def _item(index: int, c: Candidate) -> _Item:
    login = casefold_login(c.login_id)
    local, at, domain = login.rpartition("@")
    if not at:
        local, domain = login, ""
    match = _SUFFIX.match(local)
    base, suffix = (f"{match.group(1)}@{domain}", int(match.group(2))) if match \
        else (f"{local}@{domain}", -1)
    return _Item(index, c, login, base, suffix, name_key(c.given_name),
                 name_key(c.family_name), c.org_code.strip().upper())


def _survivor_order(item: _Item) -> tuple[int, int, int]:
    # The unsuffixed ID first (it is the one the person was first given), then the lower
    # suffix, then the earlier record.
    return (0 if item.suffix < 0 else 1, item.suffix, item.index)


def _full_name(item: _Item) -> str:
    return f"{item.given} {item.family}"


def _shown(item: _Item) -> str:
    return item.candidate.login_id


class _Evidence:
    """Pairs and groups found, keyed so that one pair is reported once, best rule first."""

    def __init__(self) -> None:
        self.groups: list[Suggestion] = []
        self.covered: set[tuple[int, int]] = set()

    def add_group(self, members: list[_Item], score: float, reasons: list[str],
                  kind: str) -> None:
        members = sorted(members, key=_survivor_order)
        pairs = {(min(a.index, b.index), max(a.index, b.index))
                 for a in members for b in members if a.index != b.index}
        if pairs <= self.covered:
            return
        self.covered |= pairs
        self.groups.append(Suggestion(tuple(m.candidate.key for m in members),
                                      round(min(max(score, 0.0), 1.0), 3), tuple(reasons), kind))


def _names_agree(items: list[_Item]) -> tuple[bool, float]:
    first = _full_name(items[0])
    worst = min((fuzz.ratio(first, _full_name(i)) for i in items[1:]), default=100.0)
    return worst >= FUZZY_MIN, worst


def _login_groups(items: list[_Item], found: _Evidence, cancelled: Cancelled | None) -> None:
    by_base: dict[str, list[_Item]] = defaultdict(list)
    for item in items:
        by_base[item.base].append(item)
    for n, members in enumerate(by_base.values()):
        if len(members) < 2:
            continue
        if cancelled and n % 4096 == 0 and cancelled():
            return
        by_login: dict[str, list[_Item]] = defaultdict(list)
        for m in members:
            by_login[m.login].append(m)
        for same in by_login.values():
            if len(same) > 1:
                agree, _ = _names_agree(same)
                reasons = [f"{len(same)} accounts have the login ID {same[0].login} once case "
                           "and width are ignored."]
                if not agree:
                    reasons.append("Their names differ, so check that they are one person.")
                found.add_group(same, 0.99 if agree else 0.8, reasons, "same_login_id")
        if len(by_login) < 2 or len(by_login) > MAX_SUFFIX_GROUP:
            continue
        agree, worst = _names_agree(sorted(members, key=_survivor_order))
        orgs = {m.org for m in members}
        ordered = sorted(members, key=_survivor_order)
        reasons = [f"{', '.join(_shown(m) for m in ordered[1:])} "
                   f"{'is a numbered variant' if len(ordered) == 2 else 'are numbered variants'}"
                   f" of {_shown(ordered[0]) if ordered[0].suffix < 0 else ordered[0].base}."]
        score = 0.6
        if agree:
            score += 0.3
            reasons.append("The names match" + ("" if worst == 100 else " closely") + ".")
        else:
            reasons.append("The names differ, so these may be different people.")
        if len(orgs) == 1:
            score += 0.05
            reasons.append(f"All are in {next(iter(orgs))}.")
        found.add_group(members, score, reasons, "login_suffix")


def _name_groups(items: list[_Item], found: _Evidence, cancelled: Cancelled | None) -> None:
    by_name: dict[tuple[str, str, str], list[_Item]] = defaultdict(list)
    for item in items:
        if item.given and item.family:
            by_name[(item.org, item.given, item.family)].append(item)
    for n, ((org, _g, _f), members) in enumerate(by_name.items()):
        if cancelled and n % 4096 == 0 and cancelled():
            return
        if not 2 <= len(members) <= MAX_NAME_BLOCK:
            continue
        name = f"{members[0].candidate.given_name} {members[0].candidate.family_name}"
        # Fewer holders of the name, surer evidence.
        score = 0.75 - 0.1 * (len(members) - 2)
        found.add_group(members, score, [f"{len(members)} accounts in {org} are held by "
                                         f"{name}."], "same_name")


def _fuzzy_block(block: list[_Item], found: _Evidence, differing: str, common: str,
                 frequency: Counter[str]) -> None:
    """Near-identical names in one block, whose members share ``common`` (the other name).

    The whole name is compared, not the differing part alone: one wrong letter in a short
    given name (Kieran / Kueran) is a large share of that name but a small one of the person's.
    """
    if len(block) < 2:
        return
    holders: dict[str, list[_Item]] = defaultdict(list)
    for item in block:
        holders[getattr(item, differing)].append(item)
    if len(holders) < 2 or len(holders) > MAX_FUZZY_BLOCK:
        return
    keys = list(holders)
    names = [f"{common} {k}" for k in keys]
    what = "given" if differing == "given" else "family"
    for a_pos in range(len(keys) - 1):
        # C++ scoring of one name against the rest of the block: no Python loop over pairs.
        for _other, ratio, offset in process.extract(
                names[a_pos], names[a_pos + 1:], scorer=fuzz.ratio, score_cutoff=FUZZY_MIN,
                limit=None):
            one, other = holders[keys[a_pos]], holders[keys[a_pos + 1 + offset]]
            # Two names both in common use (Ann / Anna, Willis / Williams) are two names, not
            # a typo: a typo makes a name few others have.
            if min(frequency[keys[a_pos]], frequency[keys[a_pos + 1 + offset]]) >= COMMON_NAME:
                continue
            # A name held by many people of one block is no evidence about any one of them.
            if len(one) * len(other) > MAX_NAME_BLOCK:
                continue
            score = 0.45 + 0.2 * (ratio - FUZZY_MIN) / (100 - FUZZY_MIN)
            for a in one:
                for b in other:
                    shown_a = a.candidate.given_name if what == "given" \
                        else a.candidate.family_name
                    shown_b = b.candidate.given_name if what == "given" \
                        else b.candidate.family_name
                    found.add_group([a, b], score, [
                        f"Both are in {a.org} with {what} names that differ by a letter or "
                        f"two ({shown_a} / {shown_b}; the whole names {ratio:.0f}% alike) and "
                        "the other name the same."], "similar_name")


def _similar_names(items: list[_Item], found: _Evidence, cancelled: Cancelled | None) -> None:
    by_family: dict[tuple[str, str], list[_Item]] = defaultdict(list)
    by_given: dict[tuple[str, str, str], list[_Item]] = defaultdict(list)
    for item in items:
        if item.given and item.family:
            by_family[(item.org, item.family)].append(item)
            # The family name's first letter narrows a common given name's block; a typo in
            # the first letter is rarer than elsewhere.
            by_given[(item.org, item.given, item.family[:1])].append(item)
    given_count = Counter(i.given for i in items)
    family_count = Counter(i.family for i in items)
    blocks = [(b, "given", b[0].family, given_count) for b in by_family.values()
              if len(b) > 1] + \
             [(b, "family", b[0].given, family_count) for b in by_given.values() if len(b) > 1]
    for n, (block, differing, common, frequency) in enumerate(blocks):
        if cancelled and n % 1024 == 0 and cancelled():
            return
        _fuzzy_block(block, found, differing, common, frequency)


def suggest_merges(candidates: Iterable[Candidate], *, progress: Progress | None = None,
                   cancelled: Cancelled | None = None) -> list[Suggestion]:
    """Suggested merges, best first. Give candidates oldest first: among equals, the earlier
    becomes the suggested survivor. A cancelled run returns early with what it found so far
    (the caller that cancelled discards it)."""
    # Hundreds of thousands of small objects are made here and all live to the end, with no
    # reference cycles: the cyclic collector re-scanning them is a quarter of the run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        items = [_item(n, c) for n, c in enumerate(candidates)]
        found = _Evidence()
        steps = (_login_groups, _name_groups, _similar_names)
        for step_no, step in enumerate(steps):
            if cancelled and cancelled():
                break
            step(items, found, cancelled)
            if progress:
                progress(step_no + 1, len(steps))
        return sorted(found.groups, key=lambda s: (-s.score, s.keys))
    finally:
        if collecting:
            gc.enable()
