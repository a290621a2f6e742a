"""`check browser` as a reviewer or script runs it, in a subprocess with no store: --ua and
--file, text and --json, exit 0 all compliant / 1 any not / 2 bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROME_120 = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/120.0.0.0 Safari/537.36")
IE_11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
EDGE_15 = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/52.0.2743.116 Safari/537.36 Edge/15.15063")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_one_compliant_ua_exits_0_with_its_row() -> None:
    result = run("check", "browser", "--ua", CHROME_120, "--json")
    assert result.returncode == 0, result.stderr
    document = as_json(result)
    assert document["compliant"] is True and document["checked"] == 1
    (only,) = document["results"]
    assert only["verdict"] == "compliant" and only["client"] == "Chrome 120"
    assert only["capability"]["id"] == "chrome" and only["user_agent"] == CHROME_120
    assert "Chrome 57" in only["reason"]


def test_non_compliant_ua_exits_1_and_says_why_in_text() -> None:
    result = run("check", "browser", "--ua", IE_11)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("unsupported_browser: Internet Explorer 11")
    assert "does not support" in result.stdout and "[capability row: ie]" in result.stdout


def test_repeated_ua_and_json_before_the_command() -> None:
    result = run("--json", "check", "browser", "--ua", EDGE_15, "--ua", CHROME_120)
    assert result.returncode == 1
    document = as_json(result)
    assert document["counts"] == {"below_policy_floor": 1, "compliant": 1}
    assert [r["family"] for r in document["results"]] == ["edge_html", "chrome"]


def test_file_of_mixed_clients(tmp_path: Path) -> None:
    listing = tmp_path / "uas.txt"
    listing.write_text("\n".join([CHROME_120, "Java/1.7.0_25", "", CHROME_120,
                                  "curl/7.29.0", "garbage !!", "Java/1.8.0_151"]) + "\n",
                       encoding="utf-8")
    result = run("check", "browser", "--file", str(listing), "--json")
    assert result.returncode == 1
    document = as_json(result)
    assert (document["checked"], document["distinct"]) == (6, 5)
    assert document["counts"] == {"compliant": 3, "no_tls12": 1, "uncertain": 1, "unknown": 1}
    by_ua = {r["user_agent"]: r for r in document["results"]}
    assert by_ua[CHROME_120]["count"] == 2
    assert by_ua["Java/1.7.0_25"]["verdict"] == "no_tls12"
    text = run("check", "browser", "--file", str(listing))
    assert text.returncode == 1
    assert "compliant 3, no_tls12 1, uncertain 1, unknown 1" in text.stdout


def test_file_of_only_compliant_clients_exits_0(tmp_path: Path) -> None:
    listing = tmp_path / "uas.txt"
    listing.write_text(f"{CHROME_120}\r\nJava/1.8.0_151\r\npython-requests/2.31.0\r\n",
                       encoding="utf-8")
    result = run("check", "browser", "--file", str(listing), "--json")
    assert result.returncode == 0, result.stdout
    assert as_json(result)["counts"] == {"compliant": 3}


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"Mozilla/5.0 \xe9\xff\n")
    bad_policy = tmp_path / "tls.toml"
    bad_policy.write_text("name = 'x'\n", encoding="utf-8")
    cases = [
        (("--ua", ""), "empty User-Agent"),
        ((), "No User-Agent to check"),
        (("--file", str(empty)), "No User-Agent to check"),
        (("--file", str(tmp_path / "missing.txt")), "does not exist"),
        (("--file", str(latin)), "not UTF-8"),
        (("--ua", CHROME_120, "--policy", str(bad_policy)), "tls.toml: protocols.allowed is "
         "missing"),
        (("--bogus",), "unrecognized arguments"),
    ]
    for extra, message in cases:
        result = run("check", "browser", *extra)
        assert result.returncode == 2, (extra, result.stdout)
        assert message in result.stderr, (extra, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert result.stdout == ""
