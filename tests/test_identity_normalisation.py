"""Login IDs: RFC 8265 UsernameCaseMapped for comparison, UTS #39 checks only as flags, mail to
the address as stored (docs: research/security-requirements.md, Identity)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.authz import SYSTEM, Operator
from services.context import Context
from services.errors import AlreadyExists, InvalidInput
from services.identity import login_key, normalise_email
from services.users import add_identity, get_identity

KELVIN = "\u212a"  # KELVIN SIGN: lower-cases to a plain "k"
CYRILLIC_A = "\u0430"


@pytest.mark.parametrize(("typed", "login_id", "email"), [
    # Trimmed; the local part keeps its case for mail, the login ID is lower-cased.
    ("  Alex.Morgan@Northwind.EXAMPLE \t", "alex.morgan@northwind.example",
     "Alex.Morgan@northwind.example"),
    # NFC: a decomposed é becomes the single code point in both forms.
    ("E\u0301lise.Durand@example.com", "\u00e9lise.durand@example.com",
     "\u00c9lise.Durand@example.com"),
    # Kelvin sign: canonically equivalent to K, so NFC already makes it K in the stored
    # address; the login ID lower-cases it to "k".
    (f"{KELVIN}elvin.Hart@example.com", "kelvin.hart@example.com", "Kelvin.Hart@example.com"),
    # Full-width letters are width-mapped in the login ID only; mail keeps them as typed.
    ("\uff21\uff4c\uff45\uff58@example.com", "alex@example.com",
     "\uff21\uff4c\uff45\uff58@example.com"),
    # IDNA: the Unicode and the ACE (xn--) spelling of a domain are one login ID.
    ("jo@B\u00dcCHER.example", "jo@b\u00fccher.example", "jo@b\u00fccher.example"),
    ("jo@xn--bcher-kva.example", "jo@b\u00fccher.example", "jo@b\u00fccher.example"),
])
def test_normalisation(typed: str, login_id: str, email: str) -> None:
    address = normalise_email(typed)
    assert address.login_id == login_id
    assert address.email == email
    assert address.email.split("@")[0] == unicodedata.normalize("NFC", typed.strip()).split("@")[0]
    assert not address.flagged
    assert unicodedata.is_normalized("NFC", address.login_id)


@pytest.mark.parametrize("typed", [
    "", "   ", "alex.morgan", "alex@@example.com", "alex@localhost", "alex morgan@example.com",
    "alex@exa mple.com", ".alex@example.com", "alex..morgan@example.com",
    "alex@" + "d" * 64 + ".example", "a" * 250 + "@example.com",
])
def test_an_invalid_address_is_refused_with_a_sentence(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_email(typed)
    message = str(refused.value)
    assert "email address" in message
    assert message.rstrip().endswith(".")


@pytest.mark.parametrize("typed", [
    "al\u200bex@example.com",  # zero-width space
    "alex\u00ad@example.com",  # soft hyphen
    "\u202ealex@example.com",  # right-to-left override
    "alex@exam\u200dple.com",  # zero-width joiner in the domain
    "al\x00ex@example.com",
    "al\tex@example.com",
    "alex\x1b[31m@example.com",
])
def test_control_and_invisible_characters_are_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="control or invisible characters; retype it"):
        normalise_email(typed)


@pytest.mark.parametrize("typed", [
    f"{CYRILLIC_A}lex.morgan@example.com",  # Cyrillic а in a Latin local part
    f"alex.morgan@ex{CYRILLIC_A}mple.com",  # … and in the domain
    "p\u0430ypal@example.com",
])
def test_mixed_script_and_confusable_addresses_are_flagged_not_rewritten(typed: str) -> None:
    address = normalise_email(typed)
    assert "mixed_script" in address.flags
    assert "confusable" in address.flags
    assert CYRILLIC_A in address.login_id  # UTS #39 skeletons never become the login ID


def test_plain_latin_and_plain_single_script_addresses_are_not_flagged() -> None:
    assert normalise_email("alex.morgan@example.com").flags == ()
    assert normalise_email("\u00e9lise.durand@example.com").flags == ()


def test_add_identity_refuses_a_flagged_address_unless_confirmed(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    admin = make_person("platform_admin")
    latin = add_identity(ctx, admin, "alex.morgan@example.com", "Alex", "Morgan", "XOS")
    lookalike = f"{CYRILLIC_A}lex.morgan@example.com"

    with pytest.raises(InvalidInput) as refused:
        add_identity(ctx, admin, lookalike, "Alex", "Morgan", "XOS")
    assert "--allow-confusable" in str(refused.value)
    assert "mixes scripts" in str(refused.value)

    flagged = add_identity(ctx, admin, lookalike, "Alex", "Morgan", "XOS", allow_flagged=True)
    assert flagged.subject != latin.subject
    assert set(flagged.flags) == {"mixed_script", "confusable"}
    assert get_identity(ctx, admin, lookalike).flags == flagged.flags
    assert get_identity(ctx, admin, "alex.morgan@example.com").flags == ()


def test_kelvin_sign_and_full_width_map_to_one_login_id_but_mail_goes_to_the_stored_address(
        ctx: Context, make_person: Callable[..., Operator]) -> None:
    make_person("platform_admin")
    typed = "\uff2b\uff45\uff4c\uff56\uff49\uff4e.Hart@example.com"  # full-width "Kelvin"
    detail = add_identity(ctx, SYSTEM, f"  {typed} ", "Kelvin", "Hart", "XOS")
    assert detail.login_id == "kelvin.hart@example.com"
    assert detail.email == typed  # trimmed, otherwise as typed: mail goes here

    assert get_identity(ctx, SYSTEM, "KELVIN.HART@example.com").subject == detail.subject
    for variant in ("kelvin.hart@example.com", f"{KELVIN}ELVIN.HART@example.com"):
        with pytest.raises(AlreadyExists):
            add_identity(ctx, SYSTEM, variant, "Kelvin", "Hart", "XOS")
    assert get_identity(ctx, SYSTEM, detail.subject).email == typed


def test_login_key_of_an_invalid_address_is_one_key_that_hides_the_text() -> None:
    # People type their password into the email field: it must not be stored as typed.
    key = login_key("  NOT AN EMAIL ")
    assert key == login_key("not an email") and key.startswith("not-an-address:")
    assert "email" not in key.lower().removeprefix("not-an-address:")
    assert login_key("Alex.Morgan@Example.COM") == "alex.morgan@example.com"


# ---- properties ----------------------------------------------------------------------------

_LOCAL_CHARS = st.sampled_from([
    *"abcxyzABCXYZ0189._-+", "\u00e9", "E\u0301", "\u00df", KELVIN, "\uff21", "\uff4b",
    "\u0130", "\u01c5", "\u00c5", "\u212b", CYRILLIC_A, "\u03b1", "\u00f1", "\u1e9e"])
_LABEL_CHARS = st.sampled_from([*"abcxyzABCXYZ019-", "\u00fc", "\u00e9", "\uff41"])

addresses = st.builds(
    lambda local, labels, pad: f"{pad}{local}@{'.'.join(labels)}.example{pad}",
    st.lists(_LOCAL_CHARS, min_size=1, max_size=12).map("".join),
    st.lists(st.lists(_LABEL_CHARS, min_size=1, max_size=10).map("".join),
             min_size=1, max_size=2),
    st.sampled_from(["", " ", "\t "]),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(addresses)
def test_normalisation_is_idempotent_and_the_stored_address_maps_back(typed: str) -> None:
    try:
        address = normalise_email(typed)
    except InvalidInput:
        assume(False)
        return
    again = normalise_email(address.login_id)
    assert again.login_id == address.login_id
    assert normalise_email(address.email).login_id == address.login_id
    assert address.login_id == address.login_id.strip()
    assert address.email == address.email.strip()
    assert unicodedata.is_normalized("NFC", address.login_id)
    assert unicodedata.is_normalized("NFC", address.email)
    # Case variants of what was typed share the login ID (checked where upper/lower-casing is
    # a plain case variant: ASCII).
    if typed.isascii():
        assert normalise_email(typed.upper()).login_id == address.login_id
        assert normalise_email(typed.lower()).login_id == address.login_id
