"""Strength estimate (zxcvbn score 0–4 and guesses) in bounded time for any length.

Choice and why
--------------
* Python ``zxcvbn`` 4.5.0 is exponential-ish in length: measured here on random printable
  strings, ~5 ms at 16 characters, ~45 ms at 40, ~380 ms at 64 (and ~60 s at 1000).
* ``zxcvbn-rs-py`` 0.3.0 (the Rust port) is far faster on ordinary input (0.1–0.7 ms up to 16
  characters) but not bounded either: it still *matches* the whole string while scoring only
  the first 100 characters, and look-alike-heavy random strings cost it ~10 ms at 20
  characters, ~26 ms at 24, up to ~570 ms at 100 and ~170–270 ms at 128. Its guesses also
  saturate at 2^64 (log10 19.27). So "score the first 100 characters and add the rest as
  entropy" fails the 50 ms bound.

So: the Rust port, on pieces of at most ``PIECE`` (20) code points, whose costs add up.

1. A password of at most ``PIECE`` code points (most real ones) gets exactly one zxcvbn call:
   the estimate is zxcvbn's own.
2. A longer one is first parsed LZ77-style into *new text* and *copies* of earlier text
   (at least ``MIN_COPY`` characters, overlapping allowed). A copy costs what zxcvbn's repeat
   matcher charges (the repeat count), plus where it came from when that is not simply the
   text just before it — so ``aaaa…`` ×128, ``passwordpassword…`` or a phrase typed twice
   stay as weak as the text repeated, however long they are.
3. New text is cut into pieces of at most ``PIECE`` code points, preferring a cut where the
   character class changes (letter/digit/space/symbol), so dictionary words are rarely split.
   Each piece is estimated by zxcvbn with the person's context; the guesses of the pieces and
   copies multiply (log10 values add). That is a little *below* zxcvbn's own formula for the
   whole (which also multiplies by the factorial of the number of matches), so a long password
   is never rated above what zxcvbn would say for its parts, and additional genuinely new text
   always adds its own guesses — a long strong password is never underrated for its length,
   unlike truncation at 100 characters (or the 2^64 cap of a single call).
4. Once the running total reaches 10^20 guesses (score 4 needs 10^10; a single zxcvbn call
   tops out at 2^64 ≈ 10^19.3; crack time at 10^4 guesses/s is then ~3·10^8 years) the rest
   is not estimated: the score can no longer change, and ``complete`` is False meaning "at
   least this many guesses".
5. zxcvbn's l33t matcher is exponential in the number of *distinct* look-alike characters
   (``4@8({[<3691!|70$5+%2``) in one call: 20 of them in 20 characters take ~47 ms alone. A
   call therefore holds at most ``MAX_LEET`` (10) distinct ones (≤ ~3 ms measured); a piece
   is cut earlier when the next character would exceed that.

Cost bound: about one zxcvbn call per 10–20 new code points (copies cost none), each of ≤ 20
code points and ≤ 10 distinct look-alike characters, and a strong piece ends the estimate
after one or two calls. ``bench/password_eval.py`` measures it: over 10,000 mixed candidates
of 4–128 code points the whole evaluation (all rules) had a median of ~1.4 ms and a p99 of
~10–11 ms, and the slowest of ~300 adversarial 128-code-point inputs 11–24 ms, on a busy
2-core machine — where one zxcvbn-rs call on the whole input reached p99 140–310 ms and a
maximum of 0.4–1 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from zxcvbn_rs_py import zxcvbn

PIECE = 20  # code points per zxcvbn call
MIN_PIECE = 10  # a cut looks back to here for a change of character class
MIN_COPY = 4  # shorter repeats are left to zxcvbn
MAX_LEET = 10  # distinct look-alike characters per call (see _LEET)
ENOUGH_LOG10 = 20.0  # above a single call's 2^64 cap (log10 19.27)
MAX_ESTIMATED = 1024  # the policy loader's ceiling on length.max

# Characters zxcvbn's l33t matcher reads as letters. It tries every combination of their
# readings, so its time doubles with each distinct one in a call: measured, 20 distinct in 20
# characters take ~47 ms, 16 take ~8.5 ms, 12 ~0.7 ms, 10 ~0.2 ms.
_LEET = frozenset("4@8({[<3691!|70$5+%2")

# zxcvbn's score thresholds on guesses (scoring.py: DELTA = 5).
_THRESHOLDS = (math.log10(1e3 + 5), math.log10(1e6 + 5), math.log10(1e8 + 5),
               math.log10(1e10 + 5))

# zxcvbn's feedback, reworded so that nothing quotes the password.
_WARNINGS = {
    "StraightRowsOfKeysAreEasyToGuess": "Straight rows of keys are easy to guess.",
    "ShortKeyboardPatternsAreEasyToGuess": "Short keyboard patterns are easy to guess.",
    "RepeatsLikeAaaAreEasyToGuess": "Repeated characters are easy to guess.",
    "RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess":
        "Repeated groups of characters are only slightly harder to guess than one.",
    "ThisIsATop10Password": "This is one of the 10 most common passwords.",
    "ThisIsATop100Password": "This is one of the 100 most common passwords.",
    "ThisIsACommonPassword": "This is a very common password.",
    "ThisIsSimilarToACommonlyUsedPassword": "This is similar to a commonly used password.",
    "SequencesLikeAbcAreEasyToGuess": "Sequences such as abc or 6543 are easy to guess.",
    "RecentYearsAreEasyToGuess": "Recent years are easy to guess.",
    "AWordByItselfIsEasyToGuess": "A single word is easy to guess.",
    "DatesAreOftenEasyToGuess": "Dates are easy to guess.",
    "NamesAndSurnamesByThemselvesAreEasyToGuess": "Names on their own are easy to guess.",
    "CommonNamesAndSurnamesAreEasyToGuess": "Common names and surnames are easy to guess.",
}
_SUGGESTIONS = {
    "UseAFewWordsAvoidCommonPhrases": "Use several words together, avoiding common phrases.",
    "NoNeedForSymbolsDigitsOrUppercaseLetters":
        "You do not need symbols, digits or capitals: length matters more.",
    "AddAnotherWordOrTwo": "Add another word or two; uncommon words are better.",
    "CapitalizationDoesntHelpVeryMuch": "Capital letters do not help very much.",
    "AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase":
        "All capitals are almost as easy to guess as all lower case.",
    "ReversedWordsArentMuchHarderToGuess": "Words spelt backwards are not much harder to guess.",
    "PredictableSubstitutionsDontHelpVeryMuch":
        "Predictable substitutions such as @ for a do not help very much.",
    "UseALongerKeyboardPatternWithMoreTurns": "Use a longer keyboard pattern with more turns.",
    "AvoidRepeatedWordsAndCharacters": "Avoid repeated words and characters.",
    "AvoidSequences": "Avoid sequences.",
    "AvoidRecentYears": "Avoid recent years.",
    "AvoidYearsThatAreAssociatedWithYou": "Avoid years that are associated with you.",
    "AvoidDatesAndYearsThatAreAssociatedWithYou":
        "Avoid dates and years that are associated with you.",
}
_REPEAT_WARNING = _WARNINGS["RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess"]
_REPEAT_CHAR_WARNING = _WARNINGS["RepeatsLikeAaaAreEasyToGuess"]
_REPEAT_SUGGESTION = _SUGGESTIONS["AvoidRepeatedWordsAndCharacters"]


@dataclass(frozen=True)
class Strength:
    score: int  # 0–4, zxcvbn's scale
    guesses_log10: float
    warning: str | None
    suggestions: tuple[str, ...]
    complete: bool  # False: estimation stopped at ENOUGH_LOG10; the guesses are a lower bound
    calls: int  # zxcvbn calls made

    @property
    def offline_seconds_log10(self) -> float:
        """An offline attack on the stored argon2id hash, at 10^4 guesses per second."""
        return self.guesses_log10 - 4.0


def score_for(guesses_log10: float) -> int:
    return sum(1 for bound in _THRESHOLDS if guesses_log10 >= bound)


def estimate(password: str, user_inputs: Sequence[str] = ()) -> Strength:
    """zxcvbn's estimate in bounded time; see the module docstring for the method."""
    text = _encodable(password[:MAX_ESTIMATED])
    inputs = [_encodable(word) for word in user_inputs]
    if len(text) <= PIECE and len(_LEET.intersection(text)) <= MAX_LEET:
        result = zxcvbn(text, inputs)
        only_warning, only_suggestions = _feedback(result)
        return Strength(int(result.score), float(result.guesses_log10), only_warning,
                        only_suggestions, True, 1)
    total = 0.0
    calls = 0
    warning: str | None = None
    weakest = math.inf
    suggestions: list[str] = []
    complete = True
    previous_literal = 0
    for start, end, distance in lz_parse(text):
        if total >= ENOUGH_LOG10:
            complete = False
            break
        if distance:
            # A copy: how many times the text `distance` back repeats (zxcvbn's repeat
            # model: base guesses x count), plus where it comes from unless that is simply
            # the run of new text just before it.
            total += math.log10((end - start) / distance + 1)
            if distance != previous_literal:
                total += math.log10(distance)
            previous_literal = 0
            warning = warning or (_REPEAT_CHAR_WARNING if distance == 1 else _REPEAT_WARNING)
            suggestions.append(_REPEAT_SUGGESTION)
            continue
        previous_literal = end - start
        for piece in _pieces(text[start:end]):
            if total >= ENOUGH_LOG10:
                complete = False
                break
            result = zxcvbn(piece, inputs)
            calls += 1
            total += float(result.guesses_log10)
            piece_warning, piece_suggestions = _feedback(result)
            if piece_warning and result.guesses_log10 < weakest:
                weakest = float(result.guesses_log10)
                warning = piece_warning
            suggestions.extend(piece_suggestions)
    score = score_for(total)
    if score >= 3:
        warning, suggestions = None, []
    return Strength(score, total, warning, tuple(dict.fromkeys(suggestions)), complete, calls)


def _encodable(text: str) -> str:
    """Lone surrogates (which no keyboard produces, but a paste can) as U+FFFD: the Rust
    extension accepts only valid UTF-8. The evaluation refuses them anyway."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def lz_parse(text: str) -> list[tuple[int, int, int]]:
    """Greedy LZ77 parse into (start, end, distance) runs: distance 0 for new text, else
    how far back the copied text starts (overlapping copies allowed: "aaaa" is 1 back)."""
    runs: list[tuple[int, int, int]] = []
    literal_start = 0
    i, n = 0, len(text)
    while i < n:
        size = 0
        source = text.rfind(text[i:i + MIN_COPY], 0, i + MIN_COPY - 1) if i else -1
        if source >= 0 and i + MIN_COPY <= n:
            size = MIN_COPY
            # Extend while the longer string still occurs starting before i.
            while i + size < n:
                longer = text.rfind(text[i:i + size + 1], 0, i + size)
                if longer < 0:
                    break
                source = longer
                size += 1
        if size:
            if literal_start < i:
                runs.append((literal_start, i, 0))
            runs.append((i, i + size, i - source))
            i += size
            literal_start = i
        else:
            i += 1
    if literal_start < n:
        runs.append((literal_start, n, 0))
    return runs


def _char_class(ch: str) -> int:
    if ch.isalpha():
        return 0
    if ch.isdigit():
        return 1
    if ch.isspace():
        return 2
    return 3


def _pieces(text: str) -> list[str]:
    """Cut new text into zxcvbn calls of at most PIECE code points and MAX_LEET distinct
    look-alike characters, preferring a change of character class for a length cut."""
    out = []
    while text:
        leet: set[str] = set()
        cut = len(text)
        for j, ch in enumerate(text):
            if ch in _LEET and ch not in leet:
                if len(leet) == MAX_LEET:
                    cut = j
                    break
                leet.add(ch)
            if j == PIECE:
                cut = PIECE
                for k in range(PIECE, MIN_PIECE - 1, -1):
                    if _char_class(text[k - 1]) != _char_class(text[k]):
                        cut = k
                        break
                break
        out.append(text[:cut])
        text = text[cut:]
    return out


def _feedback(result: object) -> tuple[str | None, tuple[str, ...]]:
    feedback = getattr(result, "feedback", None)
    if feedback is None:
        return None, ()
    warning = feedback.warning
    text = _WARNINGS.get(_member_name(warning)) if warning is not None else None
    names = [_member_name(s) for s in feedback.suggestions]
    return text, tuple(_SUGGESTIONS[n] for n in names if n in _SUGGESTIONS)


def _member_name(member: object) -> str:
    # The Rust extension's enums are not Python Enums: repr() is "Suggestion.AvoidSequences".
    return repr(member).rpartition(".")[2]


def display_time(seconds_log10: float) -> str:
    """Like zxcvbn's display: "less than a second" … "centuries"."""
    if seconds_log10 >= 11:
        return "centuries"
    seconds = 10 ** seconds_log10
    for unit, size in (("century", 3_153_600_000), ("year", 31_536_000),
                       ("month", 2_592_000), ("day", 86_400), ("hour", 3_600),
                       ("minute", 60), ("second", 1)):
        if seconds >= size:
            count = round(seconds / size)
            if unit == "century":
                return "centuries"
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a second"
