"""The bounded strength estimate: any input up to the maximum length in bounded time, long
weak passwords still weak, long strong ones never rated below their parts."""

from __future__ import annotations

import math
import random
import string
import time

import pytest

from services.passwords import PasswordContext, evaluate
from services.passwords.strength import MAX_LEET, PIECE, _pieces, estimate, lz_parse, score_for

ALEX = PasswordContext(given_name="Alex", family_name="Morgan",
                       email="alex.morgan@xoserve.com", org_name="Xoserve", org_code="XOS")
LEET = "4@8({[<3691!|70$5+%2"


def _adversarial() -> list[str]:
    rng = random.Random(7)
    printable = string.ascii_letters + string.digits + string.punctuation
    cases = [(LEET * 7)[:128], "a" * 128, "ab" * 64, (string.ascii_lowercase * 5)[:128],
             ("qwertyuiop" * 13)[:128], "".join(rng.choice(printable) for _ in range(128)),
             "".join(rng.choice(LEET) for _ in range(128)),
             "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(128)),
             "".join(rng.choice(printable) for _ in range(5000))]
    cases += ["".join(rng.choice(LEET + string.ascii_lowercase) for _ in range(128))
              for _ in range(10)]
    return cases


@pytest.mark.parametrize("password", _adversarial())
def test_any_input_is_evaluated_in_bounded_time(password: str) -> None:
    evaluate("warm up", ALEX)
    start = time.perf_counter()
    evaluate(password, ALEX)
    # The target is 50 ms (bench/password_eval.py measures it); 1 s is a bound that does
    # not flake on a loaded machine but fails on the exponential cases (seconds to minutes).
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("password", ["a" * 128, "password" * 16, "ab" * 64,
                                      (string.ascii_lowercase * 5)[:128],
                                      "Summer2026" * 12, ("qwertyuiop" * 13)[:128],
                                      "P@ssw0rd" * 16])
def test_long_weak_passwords_are_still_rejected(password: str) -> None:
    result = evaluate(password[:128], ALEX)
    assert not result.accepted
    assert "too_weak" in result.codes
    assert result.score <= 2


def test_long_strong_passwords_are_never_underrated() -> None:
    rng = random.Random(11)
    alphabet = string.ascii_letters + string.digits + string.punctuation
    for _ in range(10):
        text = "".join(rng.choice(alphabet) for _ in range(128))
        head = estimate(text[:PIECE])
        whole = estimate(text)
        assert whole.score == 4
        assert whole.guesses_log10 >= head.guesses_log10
    # A phrase longer than one zxcvbn call keeps adding new words' guesses.
    short = estimate("maple obtuse quarry")
    longer = estimate("maple obtuse quarry lantern violet hammock")
    assert longer.guesses_log10 > short.guesses_log10
    assert evaluate("maple obtuse quarry lantern violet hammock " * 2).score == 4


def test_a_repeat_costs_what_zxcvbn_charges_for_repeats() -> None:
    # zxcvbn's repeat matcher: guesses of the repeated text x the number of repeats.
    base = estimate("Summer2026!")
    repeated = estimate("Summer2026!" * 11)
    assert repeated.guesses_log10 == pytest.approx(base.guesses_log10 + math.log10(11),
                                                   abs=0.05)
    once = estimate("maple obtuse quarry lantern")
    twice = estimate("maple obtuse quarry lantern maple obtuse quarry lantern")
    assert twice.guesses_log10 <= once.guesses_log10 + 2  # the space between, and the copy


def test_copies_and_pieces() -> None:
    assert lz_parse("a" * 10) == [(0, 1, 0), (1, 10, 1)]
    assert lz_parse("abcdXabcdY") == [(0, 5, 0), (5, 9, 5), (9, 10, 0)]
    pieces = _pieces("correct horse battery staple and more")
    assert all(len(p) <= PIECE for p in pieces)
    assert pieces[0].endswith(" ")  # cut where the character class changes
    for piece in _pieces((LEET * 3)[:60]):
        assert len(set(piece) & set(LEET)) <= MAX_LEET


def test_short_passwords_get_zxcvbn_own_estimate() -> None:
    from zxcvbn_rs_py import zxcvbn

    for password in ["Tr0ub4dor&3", "correcthorse", "alex.morgan2021"]:
        own = zxcvbn(password, ["alex", "morgan"])
        ours = estimate(password, ["alex", "morgan"])
        assert ours.score == int(own.score)
        assert ours.guesses_log10 == pytest.approx(own.guesses_log10)
        assert ours.complete and ours.calls == 1


def test_score_thresholds_match_zxcvbn() -> None:
    assert [score_for(x) for x in (0.5, 3.1, 6.1, 8.1, 10.1)] == [0, 1, 2, 3, 4]


def test_user_context_lowers_the_estimate() -> None:
    with_context = estimate("MorganAlexander", ALEX.user_inputs())
    without = estimate("MorganAlexander")
    assert with_context.guesses_log10 < without.guesses_log10
