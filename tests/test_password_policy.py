"""The password policy files and their typed loader: values, and errors naming file, key and
reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicyError
from policies.loader import POLICY_DIR
from policies.password_policy import load_password_policy

SHIPPED = POLICY_DIR / "password.toml"
COMMON_LIST = (POLICY_DIR.parent / "resources" / "passwords" / "common-passwords.txt").resolve()


def write_policy(tmp_path: Path, *replacements: tuple[str, str], name: str = "p.toml") -> Path:
    """The shipped policy with text replaced (each replacement must apply)."""
    text = SHIPPED.read_text(encoding="utf-8")
    text = text.replace('"../resources/passwords/common-passwords.txt"', f'"{COMMON_LIST}"')
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_policy_values() -> None:
    policy = load_password_policy()
    assert (policy.min_length_with_mfa, policy.min_length_without_mfa, policy.max_length) == \
        (12, 15, 128)
    assert policy.min_length(has_mfa=True) == 12 and policy.min_length(has_mfa=False) == 15
    assert policy.min_score == 3
    assert policy.context_enabled and policy.banned_enabled and policy.common_enabled
    assert policy.banned_min_points == 5
    assert dict(policy.substitutions) == {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s",
                                          "7": "t", "@": "a", "$": "s"}
    assert {"xoserve", "correla", "gemini", "uk link", "data enquiry service"} <= \
        set(policy.company_terms)
    assert {"january", "summer", "winter", "autumn", "spring"} <= set(policy.calendar_terms)
    assert policy.banned_years == (1900, 2099)
    assert policy.common_top >= 3000  # OWASP ASVS L1
    assert policy.common_list == COMMON_LIST
    assert policy.history_remember == 5
    assert policy.composition_min_classes == 0 and policy.expiry_days == 0  # NIST: both off
    assert policy.breached_path is None


def test_legacy_policy_values() -> None:
    legacy = load_password_policy(POLICY_DIR / "password-legacy.toml")
    assert legacy.min_length(has_mfa=False) == 8
    assert legacy.composition_min_classes == 3
    assert legacy.expiry_days == 90
    assert legacy.min_score == 0
    assert not (legacy.banned_enabled or legacy.common_enabled or legacy.context_enabled)


def test_describe_names_every_enabled_rule() -> None:
    rules = dict(load_password_policy().describe())
    assert set(rules) == {"length", "strength", "context", "banned", "common", "history"}
    assert "15 characters" in rules["length"] and "12" in rules["length"]
    legacy = dict(load_password_policy(POLICY_DIR / "password-legacy.toml").describe())
    assert "composition" in legacy and "90 days" in legacy["expiry"]


def test_maximum_below_64_is_refused(tmp_path: Path) -> None:
    path = write_policy(tmp_path, ("max = 128", "max = 32"))
    with pytest.raises(PolicyError) as err:
        load_password_policy(path)
    message = str(err.value)
    assert message.startswith("p.toml: length.max is 32")
    assert "at least 64" in message


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("min_score = 3", "min_score = 5", "p.toml: strength.min_score is 5; it must be at least 0 "
                                       "and at most 4."),
    ("min_score = 3", 'min_score = "3"', "p.toml: strength.min_score must be a whole number, "
                                         "not '3'."),
    ("min_without_mfa = 15", "min_without_mfa = 10", "p.toml: length.min_without_mfa is 10; it "
                                                     "must not be below length.min_with_mfa"),
    ("min_with_mfa = 12", "min_with_mfa = 6", "p.toml: length.min_with_mfa is 6"),
    ("enabled = true\nmin_term_length = 4", "enabled = 1\nmin_term_length = 4",
     "p.toml: context.enabled must be true or false, not 1."),
    ("remember = 5", "remembr = 5", "p.toml: history.remembr is not a known key"),
    ("[expiry]", "[expiri]", "p.toml: expiri is not a known section"),
    ('"xoserve", ', '"xo", ', "p.toml: banned.company holds 'xo', shorter than "
                              "banned.min_term_length (4)"),
    ('"0" = "o"', '"0" = "oo"', "p.toml: banned.substitutions maps '0' to 'oo'"),
    ("years = [1900, 2099]", "years = [2099, 1900]", "p.toml: banned.years is [2099, 1900]"),
    ("years = [1900, 2099]", "years = 1900", "p.toml: banned.years must be [first, last]"),
    ("min_classes = 0", "", "p.toml: composition.min_classes is missing"),
    ('enabled = false\npath = ""', 'enabled = true\npath = "nowhere.ghpw"',
     "p.toml: breached.path names"),
    ('enabled = false\npath = ""', 'enabled = true\npath = ""', "p.toml: breached.path is "
                                                               "empty"),
])
def test_loader_errors_name_file_key_and_reason(tmp_path: Path, old: str, new: str,
                                                expected: str) -> None:
    path = write_policy(tmp_path, (old, new))
    with pytest.raises(PolicyError) as err:
        load_password_policy(path)
    assert str(err.value).startswith(expected), str(err.value)


def test_missing_common_list_is_refused(tmp_path: Path) -> None:
    path = write_policy(tmp_path, (str(COMMON_LIST), str(tmp_path / "gone.txt")))
    with pytest.raises(PolicyError, match=r"^p\.toml: common\.list names .*gone.txt, which does "
                                          r"not exist"):
        load_password_policy(path)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"absent\.toml: the policy file is missing"):
        load_password_policy(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[length\nmax = 1", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.toml: not valid TOML"):
        load_password_policy(bad)


def test_years_can_be_switched_off_and_values_changed(tmp_path: Path) -> None:
    path = write_policy(tmp_path, ("years = [1900, 2099]", "years = []"),
                        ("min_points = 5", "min_points = 7"), ("max = 128", "max = 64"))
    policy = load_password_policy(path)
    assert policy.banned_years is None
    assert policy.banned_min_points == 7
    assert policy.max_length == 64
