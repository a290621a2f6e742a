"""Reading legacy exports: every kind of bad input ends in a typed rejection, in bounded
memory, never a traceback (issue 5, Bad input and faults; acceptance 3)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.migration_policy import MigrationPolicy, load_migration_policy
from services.migration.reader import SourceRejected, SourceRow, open_source

POLICY = load_migration_policy()
HEADER = "User ID,Username,First Name,Last Name,Org Short Code,Roles,Status"
GOOD = "U1,alex.morgan@northwind.example,Alex,Morgan,NWGS,DES_RO,A"


def read_all(path: Path, policy: MigrationPolicy = POLICY) -> list[SourceRow]:
    source = open_source(path, policy)
    return list(source.rows())


def read_all_lazily(path: Path) -> Iterator[SourceRow]:
    return open_source(path, POLICY).rows()


def rejected(path: Path) -> SourceRejected:
    with pytest.raises(SourceRejected) as caught:
        read_all(path)
    return caught.value


def write(tmp_path: Path, data: bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty"),
    (b"  \r\n\r\n", "empty"),
    (HEADER.encode() + b"\r\n", "no_rows"),
    (HEADER.encode() + b"\r\n\r\n\r\n", "no_rows"),
    (codecs.BOM_UTF16_LE + (HEADER + "\r\n" + GOOD).encode("utf-16-le"), "binary"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
    (b"\x81\x8d\x8f\x90\x9d" * 10 + b"\n", "encoding"),  # neither UTF-8 nor Windows-1252
    (b"name;value\nfoo;bar\n", "unknown_format"),
    (b'[{"email": "a@b.example"}]', "unknown_format"),
    (b"User ID,Username\r\nU1,a@b.example\r\n", "missing_columns"),
    (b"User ID,Username,E-mail,First Name,Last Name,Org,Roles,Status\r\n", "duplicate_column"),
    (b"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11\x12" * 10, "binary"),
])
def test_file_level_rejections(tmp_path: Path, data: bytes, code: str) -> None:
    error = rejected(write(tmp_path, data))
    assert error.code == code
    assert str(error).endswith(".")  # a sentence, saying what to do


def test_utf8_with_bom_and_windows_1252_are_detected(tmp_path: Path) -> None:
    text = (f"{HEADER}\r\nU1,zoe.bront\u00eb@northwind.example,Zo\u00eb,Bront\u00eb,NWGS,"
            "DES_RO,A\r\n")
    with_bom = write(tmp_path, codecs.BOM_UTF8 + text.encode(), "bom.csv")
    cp1252 = write(tmp_path, text.encode("cp1252"), "ansi.csv")
    for path, encoding in ((with_bom, "utf-8-sig"), (cp1252, "cp1252")):
        source = open_source(path, POLICY)
        rows = list(source.rows())
        assert source.info.encoding == encoding
        assert source.info.header[0] == "User ID"  # no BOM left on the first header
        assert rows[0].values is not None and rows[0].values["given_name"] == "Zo\u00eb"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_from_the_header(tmp_path: Path, delimiter: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(HEADER.split(","))
    writer.writerow(["U1", "a.b@northwind.example", "A", "B", "NWGS", "DES_RO;LSO", "A"])
    source = open_source(write(tmp_path, out.getvalue().encode()), POLICY)
    rows = list(source.rows())
    assert source.info.delimiter == delimiter
    assert rows[0].values is not None and rows[0].values["roles"] == "DES_RO;LSO"


def test_json_lines_rows_and_row_level_errors(tmp_path: Path) -> None:
    good = {"legacy_id": "U1", "email": "a.b@northwind.example", "first_name": "A",
            "last_name": "B", "org_code": "NWGS", "roles": "DES_RO", "status": "A"}
    lines = [json.dumps(good), "not json", "[1, 2]", json.dumps({**good, "roles": ["x"]}),
             "[" * 60_000, json.dumps({**good, "legacy_id": 42}), ""]
    source = open_source(write(tmp_path, "\n".join(lines).encode(), "x.jsonl"), POLICY)
    rows = list(source.rows())
    assert source.info.format == "jsonl"
    assert [r.problem.code if r.problem else "ok" for r in rows] == [
        "ok", "malformed", "malformed", "malformed", "malformed", "ok"]
    assert rows[-1].values is not None and rows[-1].values["legacy_id"] == "42"


def test_a_row_of_10000_columns_and_a_10_mb_cell_are_row_errors(tmp_path: Path) -> None:
    wide = "U2," + ",".join(["x"] * 10_000)
    huge = "U3," + "y" * (10 * 1024 * 1024) + ",A,B,NWGS,DES_RO,A"
    path = write(tmp_path, "\r\n".join([HEADER, GOOD, wide, huge, GOOD.replace("U1", "U4"),
                                       ""]).encode())
    tracemalloc.start()
    try:
        rows = read_all(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(r.number, r.problem.code if r.problem else "ok") for r in rows] == [
        (1, "ok"), (2, "columns"), (3, "too_long"), (4, "ok")]
    assert peak < 4 * 1024 * 1024  # a 10 MB cell never sits in memory whole


def test_a_10_mb_quoted_cell_over_many_lines_is_bounded(tmp_path: Path) -> None:
    cell = '"' + ("z" * 1023 + "\n") * (10 * 1024) + '"'  # 10 MiB over 10,240 lines
    path = write(tmp_path, "\r\n".join([HEADER, GOOD, f"U2,{cell},A,B,NWGS,DES_RO,A"]).encode())
    tracemalloc.start()
    try:
        codes = Counter(r.problem.code if r.problem else "ok" for r in read_all_lazily(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Once the record is abandoned, the rest of the cell reads as short broken rows: each is
    # rejected on its own, and none is kept by the reader.
    assert codes["ok"] == 1 and codes["too_long"] >= 1
    assert peak < 4 * 1024 * 1024


def test_a_2_gb_file_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:  # sparse: 2 GiB on paper, a few bytes on disk
        handle.write((HEADER + "\r\n" + GOOD + "\r\n").encode())
        handle.truncate(2 * 1024**3)
    started = time.monotonic()
    error = rejected(path)
    assert error.code == "too_large" and "Split the export" in str(error)
    assert time.monotonic() - started < 2


def test_a_long_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        for n in range(120_000):
            out.write(f"U{n},p{n}@northwind.example,Pat,Lee,NWGS,DES_RO,A\r\n")
    assert os.path.getsize(path) > 6 * 1024 * 1024
    tracemalloc.start()
    try:
        source = open_source(path, POLICY)
        count = sum(1 for _ in source.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 120_000
    assert peak < 4 * 1024 * 1024  # far below the file's size: rows are not kept
    assert source.sha256 is not None and len(source.sha256) == 64


def test_an_undecodable_byte_later_in_the_file_marks_only_its_row(tmp_path: Path) -> None:
    body = (HEADER + "\r\n" + GOOD + "\r\n").encode() + b"U2,x\xff@y.example,A,B,NWGS,DES_RO,A\r\n"
    rows = read_all(write(tmp_path, b"a" * 0 + body))
    # The sample is the whole file here, so it is read as Windows-1252; both rows survive.
    assert len(rows) == 2 and all(r.problem is None for r in rows)


# ---- acceptance 3: property tests ----------------------------------------------------------

_SMALL = MigrationPolicy(**{**POLICY.__dict__, "max_record_chars": 2048, "max_columns": 16})


def _only_typed(path: Path, policy: MigrationPolicy) -> None:
    try:
        source = open_source(path, policy)
        for row in source.rows():
            assert (row.values is None) != (row.problem is None)
            assert row.number >= 1
    except SourceRejected as error:
        assert error.code and str(error)


@settings(max_examples=200, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_give_only_typed_rejections(tmp_path: Path, data: bytes) -> None:
    _only_typed(write(tmp_path, data, "fuzz.bin"), _SMALL)


_cells = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FFF),
                 max_size=40) | st.sampled_from(
    ["", '"', '""', "\r\n", "\n", "=1+1", "a,b", "x" * 3000, "\x00", "\ufeff", "\ud7ff"])


@settings(max_examples=200, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from([*HEADER.split(","), "Org Name", "extra", "", "E-mail"]),
                       min_size=0, max_size=12),
       rows=st.lists(st.lists(_cells, max_size=14), max_size=12),
       delimiter=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]),
       terminator=st.sampled_from(["\r\n", "\n", "\r"]),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE]))
def test_arbitrary_csv_shapes_give_only_typed_rejections(
        tmp_path: Path, header: list[str], rows: list[list[str]], delimiter: str, encoding: str,
        terminator: str, quoting: int) -> None:
    out = io.StringIO()
    try:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator,
                            quoting=quoting,  # type: ignore[arg-type]
                            escapechar="\\")
        writer.writerow(header)
        writer.writerows(rows)
    except csv.Error:
        return  # a shape the csv module itself cannot write
    data = out.getvalue().encode(encoding, errors="replace")
    _only_typed(write(tmp_path, data, "shape.csv"), _SMALL)
