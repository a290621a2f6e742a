"""The `password` command group: check (stdin, exit 0/1/2, --json), compare, policy,
breached-build — as a person or script runs them, in a subprocess; and check with --email
against a store, in process."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from services.authz import SYSTEM, Operator
from services.cli.main import main as cli_main
from services.context import Context
from services.password_hash import hash_password

ROOT = Path(__file__).resolve().parents[1]
LEGACY = ROOT / "policies" / "password-legacy.toml"
CURRENT = ROOT / "policies" / "password.toml"


def run(*args: str, stdin: str | bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GATEHOUSE_DB", "GATEHOUSE_OPERATOR", "GATEHOUSE_PASSWORD")}
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, input=data, env=env,
                          capture_output=True, timeout=120, check=False)


def test_check_accepts_and_rejects_with_exit_codes() -> None:
    accepted = run("password", "check", "--json", stdin="maple obtuse quarry lantern\n")
    assert accepted.returncode == 0, accepted.stderr
    document = json.loads(accepted.stdout)
    assert document["accepted"] is True and document["score"] >= 3
    assert document["context_from"] == "options"

    rejected = run("password", "check", "--json", "--given", "Alex", "--family", "Morgan",
                   "--email", "alex.morgan@xoserve.com", stdin="alex.morgan2021\n")
    assert rejected.returncode == 1
    codes = {f["code"] for f in json.loads(rejected.stdout)["failures"]}
    assert {"contains_given_name", "contains_family_name", "contains_email_name"} <= codes
    for result in (accepted, rejected):
        assert b"maple obtuse quarry lantern" not in result.stdout + result.stderr
        assert b"alex.morgan2021" not in result.stdout + result.stderr


def test_check_text_output_and_mfa_minimum() -> None:
    result = run("password", "check", stdin="Xoserve2021!\n")
    assert result.returncode == 1
    text = result.stdout.decode()
    assert text.startswith("Rejected under 'Gatehouse password policy 2026'")
    assert "  - Too predictable: built mostly from a company or product name and a year" in text
    assert "Xoserve2021!" not in text
    short = "vq8 drift ka9 lo"[:13]
    assert run("password", "check", "--mfa", stdin=short + "\n").returncode == 0
    assert run("password", "check", stdin=short + "\n").returncode == 1


def test_check_bad_input_exits_2_with_one_line() -> None:
    result = run("password", "check", "--policy", "no-such-policy.toml", stdin="x\n")
    assert result.returncode == 2
    assert result.stderr.decode().strip() == \
        "gatehouse: no-such-policy.toml: the policy file is missing."
    result = run("password", "check", stdin=b"\xff\xfe broken\n")
    assert result.returncode == 2
    assert b"not valid UTF-8" in result.stderr and b"Traceback" not in result.stderr


def test_check_with_a_policy_file_and_breached_list(tmp_path: Path) -> None:
    source = tmp_path / "pwned.txt"
    digests = [hashlib.sha1(p.encode(), usedforsecurity=False).hexdigest().upper()
               for p in ("maple obtuse quarry lantern", "another one entirely")]
    source.write_text("".join(f"{d}:3\n" for d in digests), encoding="ascii")
    built = run("password", "breached-build", str(source), str(tmp_path / "pwned.ghpw"),
                "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["records"] == 2
    text = CURRENT.read_text(encoding="utf-8")
    text = text.replace('"../resources/', f'"{ROOT}/resources/')
    text = text.replace('enabled = false\npath = ""',
                        f'enabled = true\npath = "{tmp_path / "pwned.ghpw"}"')
    policy = tmp_path / "with-breached.toml"
    policy.write_text(text, encoding="utf-8")
    result = run("password", "check", "--json", "--policy", str(policy),
                 stdin="maple obtuse quarry lantern\n")
    assert result.returncode == 1
    assert [f["code"] for f in json.loads(result.stdout)["failures"]] == ["breached"]


def test_compare_reports_counts(tmp_path: Path) -> None:
    candidates = tmp_path / "candidates.txt"
    candidates.write_text("Password1\nXoserve2021!\n\nmaple obtuse quarry lantern\nshort\n",
                          encoding="utf-8")
    result = run("password", "compare", "--old", str(LEGACY), "--new", str(CURRENT),
                 str(candidates), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["candidates"] == 4  # the blank line is not a candidate
    old, new = document["policies"]
    assert (old["accepted"], new["accepted"]) == (2, 1)
    assert new["rules"]["too_short"] == 3
    assert document["newly_rejected"] == 2 and document["newly_accepted"] == 1
    assert b"Xoserve2021!" not in result.stdout

    text = run("password", "compare", "--old", str(LEGACY), "--new", str(CURRENT),
               str(candidates))
    assert text.returncode == 0
    assert "accepted by the old policy but rejected by the new: 2" in text.stdout.decode()

    bad = tmp_path / "latin1.txt"
    bad.write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    result = run("password", "compare", "--old", str(LEGACY), "--new", str(CURRENT), str(bad))
    assert result.returncode == 2
    assert "latin1.txt, line 2: not valid UTF-8" in result.stderr.decode()


def test_policy_shows_rules_in_words() -> None:
    result = run("password", "policy", "--policy", str(LEGACY), "--json")
    assert result.returncode == 0
    rules = {r["rule"]: r["text"] for r in json.loads(result.stdout)["rules"]}
    assert rules["expiry"] == "Expires after 90 days."
    assert "3 of" in rules["composition"]


# ---- --email against a store, as the signed-in operator (in process) -------------------------


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def test_check_reads_the_context_from_the_store(ctx: Context, db_url: str,
                                                make_person: Callable[..., Operator],
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from services.setup import ensure_company
    from services.users import add_identity

    ensure_company(ctx)
    own = "plum orbit kayak velvet"
    add_identity(ctx, SYSTEM, "Alex.Morgan@xoserve.com", "Alex", "Morgan", "XOS", [],
                 password_hash=hash_password(own))
    monkeypatch.setenv("GATEHOUSE_OPERATOR", "alex.morgan@xoserve.com")
    monkeypatch.setenv("GATEHOUSE_PASSWORD", own)
    _stdin(monkeypatch, "Morgan quarry lantern obtuse\n")
    code = cli_main(["--db", db_url, "password", "check", "--email", "alex.morgan@xoserve.com",
                     "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["context_from"] == "store"
    assert [f["code"] for f in document["failures"]] == ["contains_family_name"]

    # Someone in another organisation may not read Alex's details: refused, exit 2.
    make_person(org="OTH", password="their own pass phrase", email="other@oth.example")
    monkeypatch.setenv("GATEHOUSE_OPERATOR", "other@oth.example")
    monkeypatch.setenv("GATEHOUSE_PASSWORD", "their own pass phrase")
    _stdin(monkeypatch, "Morgan quarry lantern obtuse\n")
    code = cli_main(["--db", db_url, "password", "check", "--email", "alex.morgan@xoserve.com"])
    assert code == 2
    assert capsys.readouterr().err.startswith("gatehouse: ")
