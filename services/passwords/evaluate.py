"""Judge a password against a policy: every broken rule, in words a person understands.

Never echoes the password: messages name the *kind* of problem ("Contains your surname"),
never the text that caused it, and nothing here logs. The cost is bounded for any input: the
rules look at the first ``length.max`` code points only (a longer password is refused for its
length anyway), term matching is linear in length, and the strength estimate is bounded
(see ``strength.py``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from policies.password_policy import PasswordPolicy, load_password_policy
from services.passwords.banned import (
    CATEGORY_WORDS,
    REPEAT,
    TermIndex,
    TermMatch,
    common_ranks,
    folder_for,
    global_index,
    score_points,
    year_matches,
)
from services.passwords.breached import BreachedList, breached_list_for
from services.passwords.composition import CLASS_NAMES, character_classes
from services.passwords.context import PasswordContext
from services.passwords.history import check_history
from services.passwords.normalise import prepare
from services.passwords.outcome import Evaluation, Failure
from services.passwords.strength import display_time, estimate, lz_parse

_CONTEXT_RULES = (
    ("given_name", "contains_given_name", "Contains your first name."),
    ("family_name", "contains_family_name", "Contains your surname."),
    ("email", "contains_email_name", "Contains your email name (the part before the @)."),
    ("organisation", "contains_organisation", "Contains your organisation's name or code."),
)
_TOP_BRACKETS = (10, 100, 1_000, 10_000, 100_000, 1_000_000)

SUGGEST_LONGER = "Use a passphrase: four or more unrelated words, with spaces if you like."
SUGGEST_NO_PERSONAL = "Leave out your name, email and organisation: they are guessed first."
SUGGEST_OWN_WORDS = ("Avoid company and product names, months, seasons and years; add words "
                     "of your own that others would not guess.")
SUGGEST_NEW = "Choose a password you have not used anywhere else."


@lru_cache(maxsize=1)
def default_policy() -> PasswordPolicy:
    return load_password_policy()


def warm_up(policy: PasswordPolicy | None = None) -> None:
    """Pay the first evaluation's one-off cost (~0.2 s: zxcvbn's dictionaries, the common
    list, the banned-term index) now — e.g. off the GUI thread — not on the first keystroke."""
    evaluate("warm-up", None, policy)


def _has_control(text: str) -> bool:
    # Control, surrogate, private-use and unassigned code points cannot be typed reliably.
    return any(unicodedata.category(ch) in ("Cc", "Cs", "Cn") for ch in text)


def _common_bracket(rank: int, top: int) -> int:
    return next((b for b in _TOP_BRACKETS if rank <= b and b <= top), top)


def evaluate(password: str, context: PasswordContext | None = None,
             policy: PasswordPolicy | None = None, *,
             breached: BreachedList | None = None) -> Evaluation:
    """Every rule of ``policy`` except history (see :func:`check_history`), in bounded time.

    ``breached`` overrides the policy's breached-password file (tests, benchmarks).
    """
    policy = policy or default_policy()
    context = context or PasswordContext()
    text = prepare(password)
    length = len(text)
    min_length = policy.min_length(context.has_mfa)
    failures: list[Failure] = []
    suggestions: list[str] = []

    if _has_control(text):
        failures.append(Failure("invalid_characters", "Contains a control character (such "
                                "as a line break) or a code point that is not a character, "
                                "which cannot be typed reliably; remove it."))
    if length < min_length:
        failures.append(Failure("too_short", f"Too short: {length} characters; use at least "
                                f"{min_length}."))
        suggestions.append(SUGGEST_LONGER)
    if length > policy.max_length:
        failures.append(Failure("too_long", f"Too long: {length} characters; use at most "
                                f"{policy.max_length}."))

    # NIST SP 800-63B-4: nothing is truncated for hashing; only the judging stops at the
    # maximum length, beyond which the password is refused anyway.
    work = text[:policy.max_length]
    folder = folder_for(policy.substitutions)
    folded = folder.fold(work)

    context_matches = _context_matches(folded, context, policy)
    if policy.context_enabled:
        seen = {m.category for m in context_matches
                if not m.fuzzy and m.end - m.start >= policy.context_min_term_length}
        for category, code, message in _CONTEXT_RULES:
            if category in seen:
                failures.append(Failure(code, message))
        if seen:
            suggestions.append(SUGGEST_NO_PERSONAL)

    if policy.common_enabled:
        rank = common_ranks(policy.common_list, policy.substitutions).get(folded)
        if rank is not None and rank <= policy.common_top:
            failures.append(Failure("too_common", "Too common: appears in the top "
                                    f"{_common_bracket(rank, policy.common_top):,} passwords."))

    points: int | None = None
    if policy.banned_enabled:
        index = global_index(policy)
        # Beyond Entra: text repeating earlier text (4+ characters) adds nothing an attacker
        # must guess, so each copy counts as one banned term ("Summer2026!" x 11 is 4 points).
        copies = [TermMatch(start, end, REPEAT, False)
                  for start, end, distance in lz_parse(folded) if distance]
        # Each point covers at most the longest term, context term, year or copy, so a long
        # enough password has the points whatever it holds: skip the search.
        longest = max([index.longest_match, 4] + [m.end - m.start for m in context_matches]
                      + [m.end - m.start for m in copies])
        floor = -(-len(folded) // longest)
        if floor >= policy.banned_min_points:
            points = floor  # at least
        else:
            points = _banned_points(policy, index, folded, work, context_matches + copies,
                                    failures, suggestions)

    if policy.composition_min_classes and \
            character_classes(work) < policy.composition_min_classes:
        failures.append(Failure("composition", f"Needs at least "
                                f"{policy.composition_min_classes} of: "
                                f"{', '.join(CLASS_NAMES)}."))

    inputs = context.user_inputs() + [t.replace(" ", "") for t in policy.company_terms]
    strength = estimate(work, inputs)
    if policy.min_score and strength.score < policy.min_score:
        detail = f" {strength.warning}" if strength.warning else ""
        failures.append(Failure("too_weak", f"Too easy to guess: strength {strength.score} of "
                                f"4, at least {policy.min_score} needed.{detail}"))
    if strength.score < max(3, policy.min_score):
        suggestions.extend(strength.suggestions)

    found = breached
    if found is None and policy.breached_path is not None:
        found = breached_list_for(policy.breached_path)
    if found is not None and (found.contains(text)
                              or (text != password and found.contains(password))):
        failures.append(Failure("breached", "Found in a list of passwords exposed in data "
                                "breaches, which attackers try first; choose another."))
        suggestions.append(SUGGEST_NEW)

    seconds_log10 = strength.offline_seconds_log10
    return Evaluation(
        accepted=not failures,
        score=strength.score,
        failures=tuple(failures),
        suggestions=tuple(dict.fromkeys(suggestions)),
        guesses_log10=strength.guesses_log10,
        estimate_complete=strength.complete,
        crack_time_seconds=10 ** min(seconds_log10, 300.0),
        crack_time_display=display_time(seconds_log10),
        length=length,
        min_length=min_length,
        max_length=policy.max_length,
        banned_points=points,
        banned_points_needed=policy.banned_min_points if policy.banned_enabled else None,
        policy=policy.name,
    )


def _banned_points(policy: PasswordPolicy, index: TermIndex, folded: str, work: str,
                   extra: list[TermMatch], failures: list[Failure],
                   suggestions: list[str]) -> int:
    """Entra-style points; adds the ``banned_terms`` failure when they fall short. ``extra``:
    the person's context terms and the copies of earlier text."""
    matches = index.find(folded)
    matches += year_matches(work, policy.banned_years)
    matches += [m for m in extra if m.end - m.start >= policy.banned_min_term_length]
    result = score_points(len(folded), matches)
    if result.points < policy.banned_min_points and result.categories:
        words = _join([CATEGORY_WORDS[c] for c in result.categories])
        failures.append(Failure(
            "banned_terms", f"Too predictable: built mostly from {words} "
            f"({result.points} of the {policy.banned_min_points} points needed)."))
        suggestions.append(SUGGEST_OWN_WORDS)
    return result.points


def _context_matches(folded: str, context: PasswordContext,
                     policy: PasswordPolicy) -> list[TermMatch]:
    if not (policy.context_enabled or policy.banned_enabled):
        return []
    folder = folder_for(policy.substitutions)
    terms = tuple((folder.fold(t), c) for t, c in context.terms())
    if not terms:
        return []
    index = _context_index(terms, min(policy.context_min_term_length,
                                      policy.banned_min_term_length),
                           policy.banned_fuzzy_min_length)
    return index.find(folded, fuzzy=policy.banned_enabled)


@lru_cache(maxsize=64)
def _context_index(terms: tuple[tuple[str, str], ...], min_length: int,
                   fuzzy_min_length: int) -> TermIndex:
    # A live meter evaluates every keystroke for the same person: build their index once.
    return TermIndex(terms, min_length=min_length, fuzzy_min_length=fuzzy_min_length)


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def validate_new_password(password: str, context: PasswordContext,
                          policy: PasswordPolicy | None = None,
                          history_hashes: Sequence[str] = ()) -> Evaluation:
    """The whole check for a password being set (reset completion, change password).

    Every rule, including history against ``history_hashes`` (the identity's stored argon2id
    hashes, newest first; only the policy's last N are compared). Raises nothing: the caller
    refuses the change when ``accepted`` is False and shows the failures' messages.
    """
    policy = policy or default_policy()
    result = evaluate(password, context, policy)
    if policy.history_remember and history_hashes:
        reused = check_history(password, history_hashes, remember=policy.history_remember)
        if reused is not None:
            result = result.with_failure(reused)
    return result


def rules_by_code() -> dict[str, str]:
    """Every failure code this engine can report, with what it means (for reports)."""
    return {
        "invalid_characters": "contains control or invisible characters",
        "too_short": "shorter than the minimum length",
        "too_long": "longer than the maximum length",
        "contains_given_name": "contains the person's first name",
        "contains_family_name": "contains the person's surname",
        "contains_email_name": "contains the person's email name",
        "contains_organisation": "contains the organisation's name or code",
        "too_common": "one of the most common passwords",
        "banned_terms": "built mostly from banned words",
        "composition": "too few character classes",
        "too_weak": "strength estimate below the minimum",
        "breached": "found in the breached-password list",
        "reused": "one of the person's recent passwords",
    }

