"""Banned terms, matched the way Microsoft Entra ID's password protection does, but configurable.

1. Fold the password (case, look-alike substitutions: see ``normalise.Folder``).
2. Find banned terms in it as substrings, and — for terms of at least ``fuzzy_min_length``
   characters — at edit distance 1 (one character missing, extra or different).
3. Score: each banned term used counts 1 point, each remaining character 1 point; the
   cheapest cover of the password is taken (an attacker starts from the words he knows).
   Fewer than ``min_points`` is rejected.

Banned terms are the most common passwords (the top ``common_terms_top`` of the shipped list),
the company and product names, month and season names and, from the password as typed,
four-digit years in the policy's range; the caller adds the person's own context terms and
(beyond Entra) each copy of earlier text, which adds nothing an attacker must guess.

Edit distance 1 is found by the pigeonhole principle: one edit leaves one half of a term
intact, so each term's two halves are dictionary keys; a hit is then checked in the three
window lengths around it. No per-term scan: the cost grows with the password's length, not
with the number of banned terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from policies.password_policy import PasswordPolicy
from services.passwords.normalise import Folder

HALVES_FROM = 6  # fuzzy terms this long are found by their halves (3+ characters each)

# Categories, in the order a term is attributed when it appears in several lists.
COMMON, COMPANY, CALENDAR, YEAR, REPEAT = "common", "company", "calendar", "year", "repeat"

CATEGORY_WORDS = {
    COMMON: "a common password",
    COMPANY: "a company or product name",
    CALENDAR: "a month or season name",
    YEAR: "a year",
    REPEAT: "repeated text",
    "given_name": "your first name",
    "family_name": "your surname",
    "email": "your email name",
    "organisation": "your organisation's name",
}


@dataclass(frozen=True)
class TermMatch:
    start: int
    end: int
    category: str
    fuzzy: bool


class TermIndex:
    """Folded terms with their category, searchable by substring and at edit distance 1."""

    def __init__(self, terms: Iterable[tuple[str, str]], *, min_length: int,
                 fuzzy_min_length: int) -> None:
        self.exact: dict[str, str] = {}
        # Terms of HALVES_FROM or more characters, split in two halves: half → (term, True
        # if it is the first half).
        self.halves: dict[str, list[tuple[str, bool]]] = {}
        # Shorter fuzzy terms (whose halves would be 2 characters, found everywhere): each
        # one-character deletion → (term, deleted position), and the term → (term, -1).
        self.deletions: dict[str, list[tuple[str, int]]] = {}
        for term, category in terms:
            if len(term) < min_length or term in self.exact:
                continue
            self.exact[term] = category
            if len(term) < fuzzy_min_length:
                continue
            if len(term) >= HALVES_FROM:
                middle = len(term) // 2
                self.halves.setdefault(term[:middle], []).append((term, True))
                self.halves.setdefault(term[middle:], []).append((term, False))
            else:
                self.deletions.setdefault(term, []).append((term, -1))
                for j in range(len(term)):
                    self.deletions.setdefault(term[:j] + term[j + 1:], []).append((term, j))
        self.exact_lengths = sorted({len(t) for t in self.exact})
        self.half_lengths = sorted({len(h) for h in self.halves})
        short = {len(t) for t in self.exact if fuzzy_min_length <= len(t) < HALVES_FROM}
        self.short_windows = sorted(short | {n - 1 for n in short} | {n + 1 for n in short})

    def __len__(self) -> int:
        return len(self.exact)

    @property
    def longest_match(self) -> int:
        """The most characters one match can cover (a fuzzy match may hold one extra)."""
        return max(self.exact_lengths, default=0) + 1

    def find(self, text: str, *, fuzzy: bool = True) -> list[TermMatch]:
        """Every occurrence in the folded ``text``, exact and (optionally) at distance 1."""
        found: list[TermMatch] = []
        n = len(text)
        exact = self.exact
        for size in self.exact_lengths:
            if size > n:
                break
            for i in range(n - size + 1):
                category = exact.get(text[i:i + size])
                if category is not None:
                    found.append(TermMatch(i, i + size, category, False))
        if fuzzy:
            found.extend(self._find_near(text))
            found.extend(self._find_near_short(text))
        return found

    def _find_near(self, text: str) -> Iterable[TermMatch]:
        """Occurrences at edit distance exactly 1, by the pigeonhole principle.

        One edit changes at most one half of a term, so the other half occurs unchanged:
        find the halves exactly (one look-up per position and half length), then check the
        three window lengths (one character missing, changed, extra) around each hit.
        """
        halves, exact, n = self.halves, self.exact, len(text)
        seen: set[tuple[int, int, str]] = set()
        verdicts: dict[tuple[str, str], bool] = {}  # repeated text repeats the same checks
        for size in self.half_lengths:
            if size > n:
                break
            for i in range(n - size + 1):
                for term, first in halves.get(text[i:i + size], ()):
                    length = len(term)
                    for window in (length - 1, length, length + 1):
                        start = i if first else i + size - window
                        end = start + window
                        if start < 0 or end > n or (start, end, term) in seen:
                            continue
                        candidate = text[start:end]
                        verdict = verdicts.get((candidate, term))
                        if verdict is None:
                            # A window holding the exact term plus a character at one end is
                            # the exact match and a character (Entra's example counts
                            # "contoso!" as 2 points, not 1).
                            verdict = term not in candidate and _within_one(candidate, term)
                            verdicts[candidate, term] = verdict
                        if verdict:
                            seen.add((start, end, term))
                            yield TermMatch(start, end, exact[term], True)


    def _find_near_short(self, text: str) -> Iterable[TermMatch]:
        """Edit distance 1 for short terms: look up the window and its one-character
        deletions (a window of length L is a term of L+1 missing one, of L with one changed,
        or of L-1 with one extra)."""
        deletions, exact, n = self.deletions, self.exact, len(text)
        for size in self.short_windows:
            if size > n:
                break
            for i in range(n - size + 1):
                window = text[i:i + size]
                for term, j in deletions.get(window, ()):
                    if j >= 0 and len(term) == size + 1:
                        yield TermMatch(i, i + size, exact[term], True)
                for j in range(size):
                    for term, k in deletions.get(window[:j] + window[j + 1:], ()):
                        if k == j and len(term) == size and term != window:
                            yield TermMatch(i, i + size, exact[term], True)
                        elif k == -1 and 0 < j < size - 1:
                            # One extra character inside the term (at either end it is
                            # the exact term plus a character: see _find_near).
                            yield TermMatch(i, i + size, exact[term], True)


def _within_one(a: str, b: str) -> bool:
    """Levenshtein distance of a and b is at most 1 (their lengths differ by at most 1)."""
    if len(a) < len(b):
        a, b = b, a
    p = 0
    limit = len(b)
    while p < limit and a[p] == b[p]:
        p += 1
    if len(a) == len(b):
        return a[p + 1:] == b[p + 1:]
    return a[p + 1:] == b[p:]


def year_matches(text: str, years: tuple[int, int] | None) -> list[TermMatch]:
    """Four-digit years in range, found in the password *before* folding (0→o would hide them)."""
    if years is None:
        return []
    first, last = years
    found = []
    for i in range(len(text) - 3):
        chunk = text[i:i + 4]
        if chunk.isascii() and chunk.isdigit() and first <= int(chunk) <= last:
            found.append(TermMatch(i, i + 4, YEAR, False))
    return found


@dataclass(frozen=True)
class PointsScore:
    points: int
    categories: tuple[str, ...]  # of the banned terms in the cheapest cover, first-seen order


def score_points(length: int, matches: Sequence[TermMatch]) -> PointsScore:
    """Entra's points: the cheapest cover by banned terms (1 point each) and single characters."""
    ending: dict[int, list[TermMatch]] = {}
    for match in matches:
        ending.setdefault(match.end, []).append(match)
    best = [0] * (length + 1)
    via: list[TermMatch | None] = [None] * (length + 1)
    for i in range(1, length + 1):
        best[i] = best[i - 1] + 1
        for match in ending.get(i, ()):
            if best[match.start] + 1 < best[i]:
                best[i] = best[match.start] + 1
                via[i] = match
    used: list[str] = []
    i = length
    while i > 0:
        step = via[i]
        if step is None:
            i -= 1
        else:
            used.append(step.category)
            i = step.start
    return PointsScore(best[length], tuple(dict.fromkeys(reversed(used))))


# ---- the shipped lists ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def common_ranks(path: Path, substitutions: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """Folded common password → rank (1 = most common); the best rank wins on collisions."""
    folder = Folder(substitutions)
    ranks: dict[str, int] = {}
    rank = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            word = line.rstrip("\r\n")
            if not word or word.startswith("#"):
                continue
            rank += 1
            ranks.setdefault(folder.fold(word), rank)
    return ranks


@lru_cache(maxsize=4)
def folder_for(substitutions: tuple[tuple[str, str], ...]) -> Folder:
    return Folder(substitutions)


@lru_cache(maxsize=4)
def global_index(policy: PasswordPolicy) -> TermIndex:
    """The policy's global banned terms, folded and indexed (built once per policy)."""
    folder = folder_for(policy.substitutions)
    terms: list[tuple[str, str]] = []
    for term in policy.company_terms:
        terms.append((folder.fold(term), COMPANY))
    for term in policy.calendar_terms:
        terms.append((folder.fold(term), CALENDAR))
    if policy.banned_common_terms_top:
        ranks = common_ranks(policy.common_list, policy.substitutions)
        top = sorted((rank, word) for word, rank in ranks.items()
                     if rank <= policy.banned_common_terms_top)
        terms.extend((word, COMMON) for _, word in top)
    return TermIndex(terms, min_length=policy.banned_min_term_length,
                     fuzzy_min_length=policy.banned_fuzzy_min_length)
