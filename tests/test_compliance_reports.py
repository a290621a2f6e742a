"""Reports for the TLS checks (issue 7): HTML with inline SVG charts and everything escaped,
CSV that a spreadsheet cannot run, JSON; the format follows the file name."""

from __future__ import annotations

import csv
import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from services.compliance.reports import render_csv, render_html, write_report
from services.errors import InvalidInput

REPO = Path(__file__).resolve().parents[1]
EVIL_UA = '=HYPERLINK("http://x")<script>alert(1)</script>'


def browser_document() -> dict[str, object]:
    return {"compliant": False, "counts": {"unknown": 1, "no_tls12": 2},
            "results": [{"verdict": "unknown", "count": 1, "client": "", "user_agent": EVIL_UA,
                         "reason": "-not a client <b>we</b> know"},
                        {"verdict": "no_tls12", "count": 2, "client": "IE 8",
                         "user_agent": "Mozilla/4.0 (compatible; MSIE 8.0)", "reason": "@old"}]}


def test_html_is_self_contained_escaped_and_has_charts() -> None:
    page = render_html("browser", browser_document())
    assert "<svg" in page and "<rect" in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page and "&lt;b&gt;we&lt;/b&gt;" in page
    assert "http://x" in page and "src=" not in page and "<link" not in page


def test_csv_cells_cannot_run_as_formulas() -> None:
    rows = list(csv.reader(io.StringIO(render_csv("browser", browser_document()))))
    assert rows[0] == ["verdict", "count", "client", "reason", "user_agent"]
    assert rows[1][4] == "'" + EVIL_UA
    assert rows[1][3].startswith("'-") and rows[2][3] == "'@old"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_unknown_extension_and_kind_are_sentences(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"\.html, \.csv or \.json"):
        write_report(tmp_path / "r.pdf", "browser", browser_document())
    with pytest.raises(InvalidInput, match="no report"):
        write_report(tmp_path / "r.json", "servers", {})


def test_reports_from_the_command_line(tmp_path: Path) -> None:
    html_file, csv_file, json_file = (tmp_path / n for n in ("b.html", "b.csv", "b.json"))
    done = subprocess.run(
        [sys.executable, "main.py", "check", "browser", "--ua", EVIL_UA, "--ua",
         "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
         "--report", str(html_file), "--report", str(csv_file), "--report", str(json_file)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert "<svg" in html_file.read_text() and "<script" not in html_file.read_text()
    assert "'=HYPERLINK" in csv_file.read_text()
    document = json.loads(json_file.read_text())
    assert document["kind"] == "browser" and document["checked"] == 2


def test_tls_report_for_a_dead_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "tls.html"
    done = subprocess.run(
        [sys.executable, "main.py", "check", "tls", f"127.0.0.1:{port}", "--report", str(out),
         "--timeout", "1"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    page = out.read_text()
    assert "Servers accepting each protocol" in page and f"127.0.0.1:{port}" in page
    assert "unreachable" in page


def test_bad_report_name_is_exit_2_and_nothing_written(tmp_path: Path) -> None:
    good = tmp_path / "fine.html"
    done = subprocess.run(
        [sys.executable, "main.py", "check", "browser", "--ua", "curl/8.5.0", "--report",
         str(good), "--report", str(tmp_path / "bad.docx")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert not good.exists()
