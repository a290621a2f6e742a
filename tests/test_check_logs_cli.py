"""`check logs` on the command line: exit 0 when every request used TLS 1.2 or newer, 1 when
someone would be locked out at the cut-over, 2 for bad input — with gzip input and a malformed
line counted, not fatal."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROME_120 = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
IE_10 = "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)"


def line(user: str, protocol: str, cipher: str, ua: str) -> str:
    # The layout policies recommend (log_format gatehouse_tls in log_formats.py).
    return (f'192.0.2.7 - {user} [29/Nov/2026:10:00:00 +0000] "GET /des HTTP/1.1" 200 512 "-" '
            f'{protocol} {cipher} "{ua}"\n')


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", "check", "logs", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_modern_traffic_is_compliant(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(line("alice", "TLSv1.3", "TLS_AES_128_GCM_SHA256", CHROME_120) * 3
                   + "this line is not a request\n")
    done = run(str(log), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["requests"] == 3 and report["malformed"] == 1
    assert report["lockout"]["requests"] == 0


def test_legacy_protocol_users_are_named_and_exit_1(tmp_path: Path) -> None:
    log = tmp_path / "access.log.gz"
    with gzip.open(log, "wt") as handle:
        handle.write(line("alice", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", CHROME_120))
        handle.write(line("bob", "TLSv1", "AES128-SHA", IE_10) * 2)
    done = run(str(log), "--json")
    assert done.returncode == 1, done.stderr
    lockout = json.loads(done.stdout)["lockout"]
    assert lockout["requests"] == 2
    assert lockout["by_user"] == [{"name": "bob", "requests": 2}]
    assert any(row["name"].startswith("no_tls12") for row in lockout["by_client"])
    text = run(str(log))
    assert text.returncode == 1 and "below TLS 1.2" in text.stdout and "bob" in text.stdout


def test_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run(str(tmp_path / "nope.log"))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
