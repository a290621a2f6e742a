"""policies/tls.toml and its loader: the shipped values, and errors that name file, key and
reason for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import PolicyError
from policies.loader import POLICY_DIR
from policies.tls_policy import load_tls_policy

SHIPPED = (POLICY_DIR / "tls.toml").read_text(encoding="utf-8")


def test_shipped_policy_is_the_programme_rule() -> None:
    policy = load_tls_policy()
    assert policy.allowed_protocols == ("TLSv1.2", "TLSv1.3")
    assert policy.lowest_protocol == "TLSv1.2"
    assert not policy.protocol_allowed("TLSv1.1") and policy.protocol_allowed("TLSv1.3")
    assert policy.browser_floors == {"edge": 16, "chrome": 57, "firefox": 52, "safari": 11}
    assert policy.unsupported_browsers == {"ie"}
    assert {"edge_chromium", "opera", "samsung_internet", "brave", "vivaldi",
            "android_webview"} <= policy.chromium_based
    assert len(policy.tls12_ciphers) == 6
    assert all(s.startswith("ECDHE-") and ("GCM" in s or "CHACHA20" in s)
               for s in policy.tls12_ciphers)
    assert (policy.min_days_to_expiry, policy.min_rsa_bits, policy.min_ecdsa_bits) == \
        (30, 2048, 256)
    assert policy.require_valid_chain and policy.require_hostname_match


def _write(tmp_path: Path, old: str, new: str) -> Path:
    assert old in SHIPPED, old
    path = tmp_path / "tls.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    ('allowed = ["TLSv1.2", "TLSv1.3"]', 'allowed = ["TLSv1", "TLSv1.1"]',
     "tls.toml: protocols.allowed allows neither TLSv1.2 nor TLSv1.3"),
    ('allowed = ["TLSv1.2", "TLSv1.3"]', 'allowed = ["TLS1.2"]',
     "tls.toml: protocols.allowed holds 'TLS1.2', which is not known"),
    ("chrome = 57,", "chrome = 0,", "tls.toml: browsers.floors.chrome is 0"),
    ("chrome = 57,", "chrome = true,", "browsers.floors.chrome must be a whole number"),
    ("edge = 16, ", "", "browsers.floors has no floor for edge"),
    ("safari = 11 }", "safari = 11, lynx = 2 }", "browsers.floors.lynx is not a browser"),
    ('unsupported = ["ie"]', 'unsupported = ["netscape"]',
     "browsers.unsupported holds 'netscape'"),
    ('"vivaldi",', '"yandex",', "browsers.chromium_based holds 'yandex'"),
    ('"ECDHE-RSA-AES128-GCM-SHA256",', '"AES128-SHA",',
     "ciphers.tls12 holds 'AES128-SHA'; only ECDHE suites"),
    ("min_rsa_bits = 2048", "min_rsa_bits = 1024", "certificates.min_rsa_bits is 1024"),
    ("min_days_to_expiry = 30", "min_days_to_expiry = \"30\"",
     "certificates.min_days_to_expiry must be a whole number"),
    ("require_valid_chain = true", "require_valid_chain = 1",
     "certificates.require_valid_chain must be true or false"),
    ("min_ecdsa_bits = 256\n", "", "certificates.min_ecdsa_bits is missing"),
    ("[ciphers]", "[cipher]", "tls.toml: cipher is not a known section"),
    ("min_rsa_bits", "min_rsa_bit", "certificates.min_rsa_bit is not a known key"),
    ('name = "TLS 1.2 or higher"', "name = 12", "tls.toml: name must be a non-empty string"),
    ("[protocols]", "[protocols", "tls.toml: not valid TOML"),
])
def test_each_mistake_is_named(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_tls_policy(_write(tmp_path, old, new))
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"tls\.toml: the policy file is missing"):
        load_tls_policy(tmp_path / "tls.toml")
