"""The offline breached-password list: conversion of the Pwned Passwords SHA-1 text formats to
the compact sorted binary, binary search through mmap, and the policy rule using it."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from pathlib import Path

import pytest

from policies.password_policy import load_password_policy
from services.errors import InvalidInput
from services.passwords import PasswordContext, evaluate
from services.passwords.breached import (
    HEADER,
    BreachedList,
    build_breached_file,
    false_positive_rate,
    sha1_of,
)

BREACHED = ["P@ssw0rd123456", "correct horse battery staple", "Sommer2019!",
            "Summer of '69 forever", "Grüße aus Köln 2020"]


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def filler(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.randbytes(20).hex().upper() for _ in range(count)]


def write_full_hash_file(path: Path, hashes: list[str]) -> Path:
    path.write_text("".join(f"{h}:{i % 97 + 1}\r\n" for i, h in enumerate(hashes)),
                    encoding="ascii")
    return path


def test_sha1_matches_pwned_passwords_convention() -> None:
    # The well-known first entry of the Pwned Passwords range API docs: "password".
    assert sha1_hex("password") == "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
    assert sha1_of("password").hex().upper() == sha1_hex("password")


@pytest.mark.parametrize("record_bytes", [8, 10, 20])
def test_full_hash_file_round_trip(tmp_path: Path, record_bytes: int) -> None:
    hashes = filler(5000, 1) + [sha1_hex(p) for p in BREACHED]
    random.Random(2).shuffle(hashes)  # unsorted input
    hashes.append(hashes[0].lower())  # a duplicate, in lower case
    source = write_full_hash_file(tmp_path / "pwned.txt", hashes)
    report = build_breached_file(source, tmp_path / "pwned.ghpw", record_bytes,
                                 run_records=700)  # several sorted runs, merged
    assert report.lines == len(hashes)
    assert report.records == len(hashes) - 1
    listing = BreachedList(tmp_path / "pwned.ghpw")
    assert listing.count == report.records and listing.record_bytes == record_bytes
    size = (tmp_path / "pwned.ghpw").stat().st_size
    assert size == HEADER.size + report.records * record_bytes
    for password in BREACHED:
        assert listing.contains(password)
    for password in ["maple obtuse quarry lantern", "", "P@ssw0rd12345", "Summer2019!"]:
        assert not listing.contains(password)
    for digest in hashes[:200]:
        assert listing.contains_digest(bytes.fromhex(digest))
    listing.close()


def test_records_are_sorted_and_unique(tmp_path: Path) -> None:
    hashes = sorted(filler(3000, 3))
    source = write_full_hash_file(tmp_path / "sorted.txt", hashes + hashes[:10])
    build_breached_file(source, tmp_path / "out.ghpw", 8)
    data = (tmp_path / "out.ghpw").read_bytes()[HEADER.size:]
    records = [data[i:i + 8] for i in range(0, len(data), 8)]
    assert records == sorted(set(records)) and len(records) == 3000


def test_range_file_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ranges"
    folder.mkdir()
    by_prefix: dict[str, list[str]] = {}
    for digest in [sha1_hex(p) for p in BREACHED] + filler(500, 4):
        by_prefix.setdefault(digest[:5], []).append(digest[5:])
    for prefix, suffixes in by_prefix.items():
        (folder / f"{prefix}.txt").write_text(
            "".join(f"{s}:{n + 1}\n" for n, s in enumerate(suffixes)), encoding="ascii")
    report = build_breached_file(folder, tmp_path / "r.ghpw")
    assert report.records == 505
    listing = BreachedList(tmp_path / "r.ghpw")
    assert all(listing.contains(p) for p in BREACHED)
    assert not listing.contains("not in the list at all")


def test_malformed_input_is_reported_with_its_line(tmp_path: Path) -> None:
    source = tmp_path / "bad.txt"
    source.write_text(f"{sha1_hex('a')}:1\nNOT-A-HASH:2\n", encoding="ascii")
    with pytest.raises(InvalidInput, match=r"bad\.txt, line 2: expected 40 hex digits"):
        build_breached_file(source, tmp_path / "x.ghpw")
    assert not (tmp_path / "x.ghpw").exists()
    ntlm = tmp_path / "ntlm.txt"
    ntlm.write_text("8846F7EAEE8FB117AD06BDD830B7586C:1\n", encoding="ascii")
    with pytest.raises(InvalidInput, match="SHA-1 \\(not NTLM\\)"):
        build_breached_file(ntlm, tmp_path / "x.ghpw")
    with pytest.raises(InvalidInput, match="no such file or folder"):
        build_breached_file(tmp_path / "missing.txt", tmp_path / "x.ghpw")
    with pytest.raises(InvalidInput, match="use 4 to 20"):
        build_breached_file(source, tmp_path / "x.ghpw", 3)


def test_damaged_or_foreign_files_are_refused(tmp_path: Path) -> None:
    source = write_full_hash_file(tmp_path / "p.txt", filler(100, 5))
    build_breached_file(source, tmp_path / "ok.ghpw")
    data = (tmp_path / "ok.ghpw").read_bytes()
    (tmp_path / "cut.ghpw").write_bytes(data[:-3])
    with pytest.raises(InvalidInput, match="damaged"):
        BreachedList(tmp_path / "cut.ghpw")
    (tmp_path / "foreign.ghpw").write_bytes(b"SQLite format 3\x00" + data[16:])
    with pytest.raises(InvalidInput, match="not a Gatehouse breached-password file"):
        BreachedList(tmp_path / "foreign.ghpw")
    (tmp_path / "empty.ghpw").write_bytes(b"")
    with pytest.raises(InvalidInput, match="too short"):
        BreachedList(tmp_path / "empty.ghpw")


def test_empty_source_gives_an_empty_list(tmp_path: Path) -> None:
    source = tmp_path / "empty.txt"
    source.write_text("\n", encoding="ascii")
    report = build_breached_file(source, tmp_path / "e.ghpw")
    assert report.records == 0
    assert not BreachedList(tmp_path / "e.ghpw").contains("anything")


def test_false_positive_rate_is_stated() -> None:
    assert false_positive_rate(10**9, 8) == pytest.approx(5.42e-11, rel=0.01)
    assert false_positive_rate(10**9, 10) < 1e-15


def test_policy_rule_uses_the_file(tmp_path: Path) -> None:
    hashes = filler(1000, 6) + [sha1_hex(p) for p in BREACHED]
    source = write_full_hash_file(tmp_path / "pwned.txt", hashes)
    build_breached_file(source, tmp_path / "pwned.ghpw")
    policy = replace(load_password_policy(), breached_path=tmp_path / "pwned.ghpw")
    person = PasswordContext(has_mfa=True)
    breached = evaluate("correct horse battery staple", person, policy)
    assert "breached" in breached.codes
    message = next(f.message for f in breached.failures if f.code == "breached")
    assert message.startswith("Found in a list of passwords exposed in data breaches")
    # Unicode: checked in NFC and as typed.
    decomposed = "Gru\u0308ße aus Ko\u0308ln 2020"
    assert "breached" in evaluate(decomposed, person, policy).codes
    assert "breached" not in evaluate("maple obtuse quarry lantern", person, policy).codes
    # Rebuilding the file is noticed: the new list is used.
    write_full_hash_file(source, [*filler(10, 7), sha1_hex("maple obtuse quarry lantern")])
    build_breached_file(source, tmp_path / "pwned.ghpw")
    assert "breached" in evaluate("maple obtuse quarry lantern", person, policy).codes
