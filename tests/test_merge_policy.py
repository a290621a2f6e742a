"""The [merge] table of identity.toml: the shipped rule, and refusals that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.loader import PolicyError
from policies.merge_policy import load_merge_policy


def test_the_shipped_policy_keeps_admin_and_reviewer_apart() -> None:
    policy = load_merge_policy()
    assert ("GATEHOUSE:platform_admin", "GATEHOUSE:security_reviewer") in policy.exclusive_roles
    assert policy.exclusive_with("GATEHOUSE:security_reviewer") == ("GATEHOUSE:platform_admin",)
    assert policy.exclusive_with("DES:viewer") == ()


@pytest.mark.parametrize(("body", "message"), [
    ("[signin]\n", "the [merge] table is missing"),
    ("[merge]\nexclusive_roles = [[\"DES:viewer\"]]\n", "exclusive_roles entry 1"),
    ("[merge]\nexclusive_roles = [[\"des viewer\", \"DES:standard\"]]\n", "PRODUCT:role"),
    ("[merge]\nexclusive_roles = [[\"DES:viewer\", \"DES:viewer\"]]\n", "with itself"),
    ("[merge]\nexclusive_role = []\n", "merge.exclusive_role is not a known setting"),
    ("[merge]\nexclusive_roles = \"DES:viewer\"\n", "must be a list of role pairs"),
])
def test_a_malformed_merge_table_is_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "identity.toml"
    path.write_text(body)
    with pytest.raises(PolicyError, match=re.escape(message)) as caught:
        load_merge_policy(path)
    assert str(caught.value).startswith("identity.toml: ")
