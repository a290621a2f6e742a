"""Each rule of the password engine on its own: length and Unicode, context, common, banned
terms (Entra-style folding, substring, edit distance 1, points), composition, strength."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import replace

import pytest

from policies.loader import POLICY_DIR
from policies.password_policy import PasswordPolicy, load_password_policy
from services.passwords import Evaluation, PasswordContext, evaluate
from services.passwords.banned import TermIndex, score_points, year_matches
from services.passwords.normalise import Folder

POLICY = load_password_policy()
LEGACY = load_password_policy(POLICY_DIR / "password-legacy.toml")
STRONG_TAIL = "quarry lantern obtuse"  # strong on its own: the rule under test decides
ALEX = PasswordContext(given_name="Alex", family_name="Morgan", email="alex.morgan@xoserve.com",
                       org_name="Xoserve", org_code="XOS")


def only(policy: PasswordPolicy, **changes: object) -> PasswordPolicy:
    return replace(policy, **changes)  # type: ignore[arg-type]


def codes(result: Evaluation) -> set[str]:
    return set(result.codes)


# ---- length and Unicode --------------------------------------------------------------------


def test_minimum_length_depends_on_mfa() -> None:
    password = "vq8 drift ka9 lo"[:13]  # 13 code points
    assert "too_short" in codes(evaluate(password, PasswordContext(has_mfa=False)))
    assert "too_short" not in codes(evaluate(password, PasswordContext(has_mfa=True)))
    result = evaluate("short", PasswordContext(has_mfa=False))
    message = next(f.message for f in result.failures if f.code == "too_short")
    assert message == "Too short: 5 characters; use at least 15."
    assert result.min_length == 15


def test_maximum_length_and_no_truncation() -> None:
    at_max = ("plum vivid orbit " * 8)[:128]
    over = at_max + "x"
    assert "too_long" not in codes(evaluate(at_max))
    result = evaluate(over)
    assert "too_long" in codes(result)
    assert result.length == 129
    assert "at most 128" in next(f.message for f in result.failures if f.code == "too_long")


def test_length_is_code_points_after_nfc() -> None:
    decomposed = "e\u0301" * 15  # 30 code points as typed, 15 after NFC ("é" x 15)
    assert len(decomposed) == 30
    result = evaluate(decomposed)
    assert result.length == 15
    assert len(unicodedata.normalize("NFC", decomposed)) == 15
    emoji = "🔒🌳🚲🎻" * 4  # 16 code points (each a single code point beyond the BMP)
    assert evaluate(emoji).length == 16
    assert "too_short" not in codes(evaluate(emoji))


def test_unicode_passwords_are_judged_not_refused() -> None:
    result = evaluate("Schöne grüne Wälder über Äckern", ALEX)
    assert result.accepted, result.failures
    japanese = evaluate("猫は静かな図書館で眠る夢を見た", PasswordContext(has_mfa=True))
    assert "invalid_characters" not in codes(japanese)


def test_control_characters_are_refused() -> None:
    result = evaluate("quarry lantern\nobtuse maple", ALEX)
    assert "invalid_characters" in codes(result)
    assert "line break" in result.failures[0].message


@pytest.mark.parametrize("password", ["", " ", "\ud800 lone surrogate here", "\U0010ffff" * 20,
                                      "\udc80" * 200, "a\x00b" * 10])
def test_unusual_code_points_are_judged_without_error(password: str) -> None:
    result = evaluate(password, PasswordContext(given_name="\ud800x", family_name="ab\x00cd"))
    assert not result.accepted
    if any(ch in password for ch in "\ud800\udc80\U0010ffff\x00"):
        assert "invalid_characters" in codes(result)


def test_emoji_sequences_with_joiners_are_allowed() -> None:
    family = "👨\u200d👩\u200d👧 " * 4 + "kayak orbit"
    assert "invalid_characters" not in codes(evaluate(family))


# ---- context -------------------------------------------------------------------------------


@pytest.mark.parametrize(("password", "code", "sentence"), [
    ("Alex " + STRONG_TAIL, "contains_given_name", "Contains your first name."),
    ("M0rgan " + STRONG_TAIL, "contains_family_name", "Contains your surname."),
    ("alex.morgan " + STRONG_TAIL, "contains_email_name",
     "Contains your email name (the part before the @)."),
    ("XOSERVE " + STRONG_TAIL, "contains_organisation",
     "Contains your organisation's name or code."),
])
def test_context_words_are_refused_with_a_sentence(password: str, code: str,
                                                   sentence: str) -> None:
    result = evaluate(password, ALEX)
    failure = next(f for f in result.failures if f.code == code)
    assert failure.message == sentence


def test_short_names_are_left_to_the_strength_estimate() -> None:
    # Names shorter than context.min_term_length (4) are not matched inside a password.
    person = PasswordContext(given_name="Li", family_name="Ng")
    assert not codes(evaluate("Li " + STRONG_TAIL, person)) & {"contains_given_name"}


def test_context_rule_can_be_switched_off() -> None:
    result = evaluate("Morgan " + STRONG_TAIL, ALEX, only(POLICY, context_enabled=False))
    assert "contains_family_name" not in codes(result)


# ---- common passwords ----------------------------------------------------------------------


def test_common_password_is_refused_with_its_bracket() -> None:
    result = evaluate("password")
    assert "Too common: appears in the top 10 passwords." in \
        [f.message for f in result.failures]
    folded = evaluate("P4$$W0RD")  # folded: "password"
    assert "too_common" in codes(folded)
    # Ranks 1,501 and 29,001 of the shipped list.
    assert "Too common: appears in the top 10,000 passwords." in \
        [f.message for f in evaluate("bonjour").failures]
    assert "Too common: appears in the top 30,000 passwords." in \
        [f.message for f in evaluate("zxcv4321").failures]


def test_common_list_size_is_configurable() -> None:
    assert "too_common" not in codes(evaluate("bonjour", policy=only(POLICY, common_top=1000)))


# ---- banned terms (Entra-style) ------------------------------------------------------------


def test_folding_undoes_case_and_substitutions_and_keeps_positions() -> None:
    folder = Folder(POLICY.substitutions)
    assert folder.fold("P@$$W0RD!") == "password!"
    assert folder.fold("X0$3RV3") == "xoserve"
    assert folder.fold("Ｘｏｓｅｒｖｅ") == "xoserve"  # full-width forms
    assert folder.fold("Élan") == "elan"
    for text in ("İstanbul straße", "ß", "ǅ"):
        assert len(folder.fold(text)) == len(text)


def test_term_index_substring_and_edit_distance_one() -> None:
    index = TermIndex([("xoserve", "company"), ("password", "common"), ("1234", "common")],
                      min_length=4, fuzzy_min_length=5)

    def spans(text: str) -> set[tuple[int, int, bool]]:
        return {(m.start, m.end, m.fuzzy) for m in index.find(text)}

    assert (3, 10, False) in spans("my-xoserve!")
    assert (0, 6, True) in spans("xosrve")  # one missing
    assert (0, 8, True) in spans("xosserve")  # one extra
    assert (0, 7, True) in spans("xoszrve")  # one different
    assert not any(f for *_, f in spans("xsoreve"))  # two edits: no match
    assert (0, 4, False) in spans("1234")
    assert not any(f for *_, f in spans("1235"))  # short terms: exact only
    assert not spans("pass")


def test_points_take_the_cheapest_cover() -> None:
    index = TermIndex([("summer", "calendar"), ("xoserve", "company")], min_length=4,
                      fuzzy_min_length=5)
    text = "summerxoserve!!"
    score = score_points(len(text), index.find(text))
    assert score.points == 4  # summer + xoserve + ! + !
    assert score.categories == ("calendar", "company")
    assert [m.start for m in year_matches("x2021y1899z", (1900, 2099))] == [1]


def test_banned_terms_rejected_with_categories_and_points() -> None:
    result = evaluate("Winter2025Xoserve")
    failure = next(f for f in result.failures if f.code == "banned_terms")
    assert failure.message == ("Too predictable: built mostly from a month or season name, a "
                               "year and a company or product name (3 of the 5 points "
                               "needed).")
    assert result.banned_points == 3 and result.banned_points_needed == 5


def test_fuzzy_company_name_counts_as_a_banned_term() -> None:
    result = evaluate("Xosreve2024!!")  # not a fuzzy match (a swap is two edits)…
    assert result.banned_points is not None and result.banned_points > 5
    result = evaluate("Xoserv32024!")  # …but one changed letter is
    assert "banned_terms" in codes(result)


def test_enough_own_characters_pass_the_points_rule() -> None:
    result = evaluate("Xoserve plum orbit kayak", ALEX)
    assert "banned_terms" not in codes(result)
    assert "contains_organisation" in codes(result)  # outright, as the person's organisation
    assert "banned_terms" not in codes(evaluate("Xoserve plum orbit kayak"))


def test_points_threshold_is_configurable() -> None:
    password = "Summer orbit!"
    assert "banned_terms" not in codes(evaluate(password, policy=only(POLICY,
                                                                      banned_min_points=5)))
    assert "banned_terms" in codes(evaluate(password, policy=only(POLICY,
                                                                  banned_min_points=12)))


def test_repeated_text_counts_as_one_banned_term() -> None:
    # Entra would give "Summer2026!" x 11 33 points; a copy of earlier text adds nothing new.
    result = evaluate("Summer2026!" * 11)
    assert not result.accepted
    failure = next(f for f in result.failures if f.code == "banned_terms")
    assert "repeated text" in failure.message
    assert result.banned_points == 4
    # Ordinary repeats of short words inside a phrase leave plenty of points.
    assert evaluate("the cat and the dog sat on the mat").accepted


def test_banned_rule_can_be_switched_off() -> None:
    result = evaluate("Summer2026!!", policy=only(POLICY, banned_enabled=False))
    assert "banned_terms" not in codes(result)
    assert result.banned_points is None


# ---- composition, strength -----------------------------------------------------------------


def test_composition_rule_in_the_legacy_policy_only() -> None:
    assert "composition" in codes(evaluate("alllowercase", policy=LEGACY))
    assert "composition" not in codes(evaluate("Lower1case", policy=LEGACY))
    assert evaluate("Password1", policy=LEGACY).accepted  # what the old policy let through
    assert "composition" not in codes(evaluate("alllowercase plum orbit"))


def test_strength_rule_reports_score_and_reason() -> None:
    result = evaluate("qwertyuiopasdfgh")
    failure = next(f for f in result.failures if f.code == "too_weak")
    assert failure.message.startswith(f"Too easy to guess: strength {result.score} of 4, at "
                                      "least 3 needed.")
    assert result.score < 3
    assert result.suggestions


def test_crack_time_is_reported() -> None:
    weak, strong = evaluate("aaaaaaaaaaaaaaaa"), evaluate("maple obtuse quarry lantern")
    assert weak.crack_time_display == "less than a second"
    assert strong.crack_time_display == "centuries"
    assert weak.crack_time_seconds < 1 < strong.crack_time_seconds
    assert set(json.loads(json.dumps(strong.as_dict()))) >= {"accepted", "score", "failures",
                                                            "suggestions",
                                                            "crack_time_seconds"}
