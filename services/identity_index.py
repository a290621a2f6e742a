"""A compact in-memory index of every identity an operator may see, for large interactive tables.

Paging through ``list_identities`` with ``LIKE`` costs ~0.5 s per keystroke at 100,000
identities, which is too slow to search as someone types. Instead the desktop table loads one
row per identity once — one SELECT with no join and no per-row objects — into parallel lists,
precomputes a case-folded haystack per row and the sort orders, and filters those in memory
(Anki's browser keeps ids and searches in the backend, never in widgets; this is that backend
for a desktop that holds the whole visible set).

The rows an operator sees are exactly those ``services.users`` lets them list: the same scoping
query is reused, so visibility is decided in one place.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, select, type_coerce

from services.authz import Operator
from services.context import Context
from services.store.schema import identity, organisation
from services.users import HIDDEN_STATUSES, IdentitySummary, scope_identities

Progress = Callable[[int, int], None]

SORT_KEYS = ("login_id", "name", "organisation", "status", "updated_at")
# Field separator inside a haystack: whitespace splits the query into words, so no word can
# contain it, and a word therefore never matches across two fields.
_SEP = "\x1f"


def _utc_text(value: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC: sorts as time, and is what the table shows."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    # SQLite keeps UTC as ISO text (services.store.schema.UTCDateTime); parsing 100,000 of
    # them into datetimes would cost more than the whole query, and the text already sorts.
    return str(value)[:19]


def _haystack(login_id: str, given: str, family: str, org_code: str, org_name: str) -> str:
    return _SEP.join((login_id, given, family, org_code, org_name)).casefold()


@dataclass(frozen=True)
class SearchResult:
    """The identities matching ``text``, sorted by ``sort_key``.

    ``positions`` are ascending places in ``order`` (all rows in the ascending order of
    ``sort_key``); a descending view reads them backwards. Keeping places rather than row
    numbers lets a search walk the haystacks in display order, which is sequential in memory
    (scanning them in a shuffled order is about five times slower at 100,000 rows).
    """

    text: str
    sort_key: str
    descending: bool
    order: list[int] = field(repr=False)
    positions: list[int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.positions)

    def row(self, display_row: int) -> int:
        """The index row shown at ``display_row`` (0 <= display_row < len(self))."""
        places = self.positions
        place = places[len(places) - 1 - display_row] if self.descending \
            else places[display_row]
        return self.order[place]

    @property
    def rows(self) -> list[int]:
        """All matching index rows, in display order (tests and small callers)."""
        return [self.row(r) for r in range(len(self))]


RECENT_SEARCHES = 8


@dataclass
class IdentityIndex:
    subjects: list[str]
    login_ids: list[str]
    given_names: list[str]
    family_names: list[str]
    org_codes: list[str]
    org_names: list[str]
    statuses: list[str]
    updated: list[str]  # UTC text, see _utc_text
    haystacks: list[str]
    _orders: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _ranks: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _view_key: str | None = field(default=None, repr=False)
    _view_haystacks: list[str] = field(default_factory=list, repr=False)
    _recent: OrderedDict[tuple[str, str], list[int]] = field(default_factory=OrderedDict,
                                                             repr=False)
    _positions: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.subjects)

    # ---- look-ups ------------------------------------------------------------------------

    def position(self, subject: str) -> int | None:
        """The row number of ``subject``, or None if it is not in the index."""
        if self._positions is None:
            self._positions = {s: i for i, s in enumerate(self.subjects)}
        return self._positions.get(subject)

    def order(self, sort_key: str, descending: bool = False) -> list[int]:
        """All row numbers sorted by ``sort_key`` (computed once per key, then cached)."""
        if sort_key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {sort_key!r}")
        cached = self._orders.get(sort_key)
        if cached is None:
            cached = self._orders[sort_key] = self._sorted(sort_key)
        return cached[::-1] if descending else cached

    def _sorted(self, sort_key: str) -> list[int]:
        rows = range(len(self.subjects))
        if sort_key == "name":
            keys = [f"{f.casefold()}\0{g.casefold()}\0{lo}" for g, f, lo in
                    zip(self.given_names, self.family_names, self.login_ids, strict=True)]
            return sorted(rows, key=keys.__getitem__)
        if sort_key == "login_id":
            return sorted(rows, key=self.login_ids.__getitem__)
        # Other columns hold many equal values: ties keep the name order (Python's sort is
        # stable), so the rows within one organisation or status read alphabetically.
        primary: Sequence[str]
        if sort_key == "organisation":
            folded = {name: name.casefold() for name in set(self.org_names)}
            primary = [folded[name] for name in self.org_names]
        elif sort_key == "status":
            primary = self.statuses
        else:
            primary = self.updated
        return sorted(self.order("name"), key=primary.__getitem__)

    def _rank(self, sort_key: str) -> list[int]:
        """The place of every row in the ascending order of ``sort_key``."""
        rank = self._ranks.get(sort_key)
        if rank is None:
            rank = [0] * len(self.subjects)
            for place, row in enumerate(self.order(sort_key)):
                rank[row] = place
            self._ranks[sort_key] = rank
        return rank

    def _view(self, sort_key: str) -> list[str]:
        """The haystacks in the order of ``sort_key``, as fresh strings laid out in that order.

        Only the current sort key's copy is kept (about 12 MB at 100,000 rows).
        """
        if self._view_key != sort_key:
            haystacks = self.haystacks
            # encode/decode makes a new string object: allocated one after another, the
            # copies sit in memory in display order.
            self._view_haystacks = [haystacks[row].encode().decode()
                                    for row in self.order(sort_key)]
            self._view_key = sort_key
        return self._view_haystacks

    # ---- searching -----------------------------------------------------------------------

    def search(self, text: str, sort_key: str = "name", descending: bool = False,
               previous: SearchResult | None = None) -> SearchResult:
        """Rows whose login ID, names or organisation contain every word of ``text``.

        When ``text`` only extends ``previous.text`` (the person typed another character),
        every match is already among the previous matches, so only those are scanned; the
        last few results are kept, so erasing a character costs nothing.
        """
        words = text.casefold().split()
        order = self.order(sort_key)
        key = (" ".join(words), sort_key)
        positions = self._recent.get(key)
        if positions is not None:
            self._recent.move_to_end(key)
        else:
            haystacks = self._view(sort_key)
            remaining = words
            if (previous is not None and previous.order is order
                    and text.startswith(previous.text)):
                positions = previous.positions
            elif words:
                first, remaining = words[0], words[1:]
                positions = [p for p, hay in enumerate(haystacks) if first in hay]
            else:
                positions = list(range(len(order)))
            for word in remaining:
                positions = [p for p in positions if word in haystacks[p]]
            self._recent[key] = positions
            if len(self._recent) > RECENT_SEARCHES:
                self._recent.popitem(last=False)
        return SearchResult(text=text, sort_key=sort_key, descending=descending, order=order,
                            positions=positions)

    def display_row(self, result: SearchResult, row: int) -> int | None:
        """Where index row ``row`` is shown in ``result``, or None if it does not match."""
        place = self._rank(result.sort_key)[row]
        positions = result.positions
        found = bisect_left(positions, place)
        if found == len(positions) or positions[found] != place:
            return None
        return len(positions) - 1 - found if result.descending else found

    # ---- changes made through this desktop -----------------------------------------------

    def update(self, summary: IdentitySummary) -> int | None:
        """Refresh one identity after a change this program made; returns its row number.

        Cached orders are dropped because a new name or status can move the row.
        """
        row = self.position(summary.subject)
        if row is None:
            return None
        self.login_ids[row] = summary.login_id
        self.given_names[row] = summary.given_name
        self.family_names[row] = summary.family_name
        self.org_codes[row] = summary.org_code
        self.org_names[row] = summary.org_name
        self.statuses[row] = summary.status
        self.updated[row] = _utc_text(summary.updated_at)
        self.haystacks[row] = _haystack(summary.login_id, summary.given_name,
                                        summary.family_name, summary.org_code, summary.org_name)
        self._orders.clear()
        self._ranks.clear()
        self._recent.clear()
        self._view_key = None
        return row


def load_identity_index(ctx: Context, op: Operator, *, include_deleted: bool = False,
                        progress: Progress | None = None) -> IdentityIndex:
    """Every identity ``op`` may list (the same scope as ``services.users.list_identities``)."""
    query = scope_identities(
        select(identity.c.subject, identity.c.login_id, identity.c.given_name,
               identity.c.family_name, identity.c.organisation_id, identity.c.status,
               type_coerce(identity.c.updated_at, String)),
        op,
    )
    # No "status <> 'deleted'" in SQL: SQLite would then walk the partial login-ID index and
    # fetch each row from the table (about three times slower than a plain scan); deleted
    # rows and merged aliases are few, so they are dropped here instead.
    with ctx.store.read() as conn:
        orgs = {row.id: (row.code, row.name) for row in
                conn.execute(select(organisation.c.id, organisation.c.code, organisation.c.name))}
        # Plain tuples from the driver: building 100,000 SQLAlchemy rows would cost a quarter
        # of the load. The query has no result processors (updated_at is read as text).
        fetched: Sequence[Any] = conn.execute(query).cursor.fetchall()
    if progress:
        progress(1, 3)
    rows = [row for row in fetched if include_deleted or row[5] not in HIDDEN_STATUSES]
    del fetched
    if not rows:
        return IdentityIndex([], [], [], [], [], [], [], [], [])
    columns = map(list, zip(*rows, strict=True))
    subjects, login_ids, given, family, org_ids, statuses, updated = columns
    del rows
    org_codes = [orgs[org_id][0] for org_id in org_ids]
    org_names = [orgs[org_id][1] for org_id in org_ids]
    updated = ([text[:19] for text in updated] if isinstance(updated[0], str)
               else [_utc_text(value) for value in updated])
    sep = _SEP
    index = IdentityIndex(
        subjects=subjects, login_ids=login_ids, given_names=given, family_names=family,
        org_codes=org_codes, org_names=org_names, statuses=statuses, updated=updated,
        # The same text as _haystack, inlined: a function call per row is measurable here.
        haystacks=[f"{lo}{sep}{g}{sep}{f}{sep}{c}{sep}{n}".casefold() for lo, g, f, c, n in
                   zip(login_ids, given, family, org_codes, org_names, strict=True)],
    )
    if progress:
        progress(2, 3)
    index.order("name")  # the default order, computed here rather than on the GUI thread
    if progress:
        progress(3, 3)
    return index
