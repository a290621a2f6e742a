"""Reading a legacy export: CSV (RFC 4180) or JSON Lines, streamed in bounded memory.

Whatever the bytes, the outcome is typed: :class:`SourceRejected` for the file as a whole
(empty, header only, binary, wrong encoding, unknown format, too large) or a :class:`SourceRow`
carrying a :class:`RowProblem` for one row (too long, too many columns, not JSON). No other
exception escapes for bad content (ASVS 1.2.10: imports validate with an allow-list).

Bounds: a physical line is read at most ``max_record_chars`` characters at a time, a record is
abandoned once it holds more than that, and ``csv.field_size_limit`` is set to the same value,
so a 10 MB cell or a row of 10,000 columns costs one record's worth of memory, never more.

Encoding: a UTF-8 byte-order mark means UTF-8; otherwise the first MiB must decode as UTF-8,
else as Windows-1252, else the file is refused. A later byte that is not valid in the chosen
encoding becomes U+FFFD and the row holding it is rejected by validation, not the file.

Rows are numbered 1, 2, … in file order (the header is not a row), blank lines skipped. The
number is stable for the same bytes, so a run keys its work on (source SHA-256, row number).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from policies.migration_policy import MigrationPolicy, header_key
from services.errors import InvalidInput

SAMPLE_BYTES = 1024 * 1024
FORMATS = ("csv", "jsonl")
INVALID_CHAR = "\ufffd"  # what an undecodable byte becomes; validation rejects the row
_CONTROL_OK = frozenset("\t\r\n\f")


class SourceRejected(InvalidInput):
    """The file as a whole cannot be read as a legacy export."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class RowProblem:
    code: str
    message: str


class SourceRow(NamedTuple):  # a named tuple: one is made per row, 3x cheaper than a dataclass
    number: int  # 1-based data row; the key a run re-reads by
    line: int  # physical line the row ends on, for people
    values: dict[str, str] | None  # field → cell text, for mapped columns only
    problem: RowProblem | None


@dataclass(frozen=True)
class SourceInfo:
    name: str  # the file name only: plans never carry machine paths
    size: int
    format: str
    encoding: str  # utf-8, utf-8-sig or cp1252
    delimiter: str | None  # CSV only
    header: tuple[str, ...]  # as written (CSV) or the first object's keys (JSON Lines)
    columns: dict[str, str]  # field → the header it was read from


class _RecordTooLong(Exception):
    """Raised by the line source inside the csv reader: the record is abandoned."""


class _HashingReader(io.RawIOBase):
    """Passes a binary file through while hashing every byte read (one pass, no re-read)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self.digest.update(data)
        self.count += len(data)
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while chunk := self._raw.read(1024 * 1024):
            self.digest.update(chunk)


class _BoundedLines:
    """Physical lines for the csv reader, none longer than ``limit`` characters, and no record
    longer than ``limit`` in total. An iterator class, not a generator, so that it can raise
    :class:`_RecordTooLong` through the csv reader and still go on with the next line."""

    def __init__(self, text: IO[str], limit: int) -> None:
        self.text = text
        self.limit = limit
        self.record_chars = 0
        self.line = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.limit + 1)
        if not line:
            raise StopIteration
        self.line += 1
        if len(line) > self.limit:
            while line and not line.endswith(("\n", "\r")):
                line = self.text.readline(self.limit)  # skip the rest, a bounded chunk at once
            self.record_chars = 0
            raise _RecordTooLong
        self.record_chars += len(line)
        if self.record_chars > self.limit:
            self.record_chars = 0
            raise _RecordTooLong
        return line


def _detect_encoding(sample: bytes, complete: bool) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                          codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise SourceRejected("binary", "The file holds NUL bytes: it is binary, or UTF-16/32 "
                             "text. Export it again as CSV or JSON Lines in UTF-8.")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        raise SourceRejected("encoding", "The file is neither UTF-8 nor Windows-1252 text; "
                             "export it again in UTF-8.") from None


def _looks_binary(text: str) -> bool:
    controls = sum(1 for ch in text if ch < " " and ch not in _CONTROL_OK)
    return controls > max(8, len(text) // 100)


def _first_csv_record(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error:
        return []


class LegacySource:
    """One legacy export file. ``open_source`` checks the whole-file properties; ``rows()``
    then streams the rows once; ``sha256`` is known once ``rows()`` has finished."""

    def __init__(self, path: Path, policy: MigrationPolicy, info: SourceInfo) -> None:
        self.path = path
        self.policy = policy
        self.info = info
        self.sha256: str | None = None
        self.rows_read = 0
        self._hashing: _HashingReader | None = None

    @property
    def bytes_read(self) -> int:
        """Bytes read so far (ahead of the rows given out by up to one buffer): progress."""
        return self._hashing.count if self._hashing else 0

    def _field_of(self, header: str) -> str | None:
        return self.policy.header_aliases.get(header_key(header))

    def rows(self) -> Iterator[SourceRow]:
        limit = self.policy.max_record_chars
        with self.path.open("rb") as raw:
            hashing = self._hashing = _HashingReader(raw)
            text = io.TextIOWrapper(io.BufferedReader(hashing, 256 * 1024),
                                    encoding=self.info.encoding, errors="replace", newline="")
            lines = _BoundedLines(text, limit)
            if self.info.format == "csv":
                yield from self._csv_rows(lines)
            else:
                yield from self._jsonl_rows(lines)
            hashing.drain()
            self.sha256 = hashing.digest.hexdigest()
        if self.rows_read == 0:
            raise SourceRejected("no_rows", f"{self.info.name} has a header but no rows; check "
                                 "that the export finished.")

    def _csv_rows(self, lines: _BoundedLines) -> Iterator[SourceRow]:
        previous = csv.field_size_limit(self.policy.max_record_chars)
        try:
            reader = csv.reader(lines, delimiter=self.info.delimiter or ",", strict=False)
            width = len(self.info.header)
            positions = [(i, self._field_of(h)) for i, h in enumerate(self.info.header)]
            mapped = [(i, f) for i, f in positions if f is not None]
            header_done = False
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except _RecordTooLong:
                    lines.record_chars = 0
                    if header_done:
                        yield self._problem(lines.line, "too_long", "The row is longer than "
                                            f"{self.policy.max_record_chars:,} characters.")
                    header_done = True
                    continue
                except csv.Error as exc:
                    lines.record_chars = 0
                    header_done = True
                    yield self._problem(lines.line, "malformed", f"The row is not valid CSV "
                                        f"({exc}).")
                    continue
                lines.record_chars = 0
                if not header_done:
                    header_done = True
                    continue
                if not record or record == [""]:
                    continue  # a blank line
                if len(record) != width:
                    yield self._problem(lines.line, "columns", f"The row has {len(record):,} "
                                        f"fields where the header has {width}.")
                    continue
                self.rows_read += 1
                yield SourceRow(self.rows_read, lines.line,
                                {field: record[i] for i, field in mapped}, None)
        finally:
            csv.field_size_limit(previous)

    def _jsonl_rows(self, lines: _BoundedLines) -> Iterator[SourceRow]:
        limit = self.policy.max_columns
        while True:
            try:
                line = next(lines)
            except StopIteration:
                return
            except _RecordTooLong:
                yield self._problem(lines.line, "too_long", "The line is longer than "
                                    f"{self.policy.max_record_chars:,} characters.")
                continue
            lines.record_chars = 0
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                yield self._problem(lines.line, "malformed", "The line is not valid JSON.")
                continue
            if not isinstance(obj, dict):
                yield self._problem(lines.line, "malformed", "The line is JSON but not an "
                                    "object of field names and values.")
                continue
            if len(obj) > limit:
                yield self._problem(lines.line, "columns", f"The object has {len(obj):,} "
                                    f"fields; at most {limit} are accepted.")
                continue
            values: dict[str, str] = {}
            problem = None
            for key, value in obj.items():
                field = self._field_of(key)
                if field is None:
                    continue
                if value is None:
                    value = ""
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    value = str(value)
                elif not isinstance(value, str):
                    problem = f"The value of {key[:40]!r} is not text, a number or null."
                    break
                values[field] = value
            if problem:
                yield self._problem(lines.line, "malformed", problem)
                continue
            self.rows_read += 1
            yield SourceRow(self.rows_read, lines.line, values, None)

    def _problem(self, line: int, code: str, message: str) -> SourceRow:
        self.rows_read += 1
        return SourceRow(self.rows_read, line, None, RowProblem(code, message))


def _csv_header(policy: MigrationPolicy, text: str, name: str) -> tuple[str, list[str]]:
    """The delimiter whose header maps the most known columns (ties: policy order)."""
    best: tuple[int, str, list[str]] | None = None
    for delimiter in policy.delimiters:
        header = _first_csv_record(text, delimiter)
        known = sum(1 for h in header if header_key(h) in policy.header_aliases)
        if best is None or known > best[0]:
            best = (known, delimiter, header)
    assert best is not None  # the policy lists at least one delimiter
    known, delimiter, header = best
    if known == 0:
        raise SourceRejected("unknown_format", f"{name} is neither JSON Lines nor a CSV file "
                             "whose first line names the columns (e.g. User ID, Username, "
                             "First Name); check that this is the legacy user export.")
    if len(header) > policy.max_columns:
        raise SourceRejected("columns", f"{name} has {len(header):,} columns; at most "
                             f"{policy.max_columns} are accepted.")
    return delimiter, header


def _columns(policy: MigrationPolicy, header: list[str], name: str) -> dict[str, str]:
    columns: dict[str, str] = {}
    for cell in header:
        field = policy.header_aliases.get(header_key(cell))
        if field is None:
            continue
        if field in columns:
            raise SourceRejected("duplicate_column", f"{name} has two columns for {field} "
                                 f"({columns[field]!r} and {cell!r}); remove one.")
        columns[field] = cell
    missing = [f for f in policy.required if f not in columns]
    if missing:
        wanted = "; ".join(f"{f} (e.g. {', '.join(policy.spellings[f][:3])})" for f in missing)
        raise SourceRejected("missing_columns", f"{name} has no column for {wanted}. Rename "
                             "the header or add the spelling to policies/migration.toml.")
    return columns


def open_source(path: Path, policy: MigrationPolicy, *, fmt: str | None = None) -> LegacySource:
    """Check the file as a whole (size, encoding, format, header) and return it ready to read.

    Raises :class:`SourceRejected` with a sentence saying what is wrong and what to do.
    """
    name = path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
    except IsADirectoryError:
        raise SourceRejected("not_a_file", f"{name} is a folder; name the export file.") from None
    except FileNotFoundError:
        raise SourceRejected("missing", f"There is no file {name}; check the path.") from None
    except OSError as exc:
        raise SourceRejected("unreadable", f"{name} cannot be read ({exc.strerror}).") from None
    if fmt is not None and fmt not in FORMATS:
        raise SourceRejected("unknown_format", f"Cannot read {fmt!r}; the formats are csv and "
                             "jsonl.")
    if size > policy.max_file_bytes:
        raise SourceRejected("too_large", f"{name} is {size / 1024**3:.1f} GiB; the limit is "
                             f"{policy.max_file_bytes / 1024**3:.1f} GiB (policies/migration."
                             "toml, source.max_file_bytes). Split the export into parts.")
    if not sample.strip():
        raise SourceRejected("empty", f"{name} is empty; export the legacy users again.")
    encoding = _detect_encoding(sample, complete=len(sample) == size)
    text = sample.decode(encoding, errors="replace")
    del sample
    if _looks_binary(text):
        raise SourceRejected("binary", f"{name} holds control characters throughout: it is not "
                             "a text export. Export the legacy users as CSV or JSON Lines.")
    # Slices, not lstrip()/split() copies of the whole sample: sniffing stays ~2 MiB.
    head = text[:4096]
    start = len(head) - len(head.lstrip())
    end = text.find("\n", start)
    first_line = text[start:] if end < 0 else text[start:end]
    detected = "jsonl" if first_line.startswith("{") else "csv"
    fmt = fmt or detected
    if fmt == "jsonl":
        try:
            first = json.loads(first_line)
        except (ValueError, RecursionError):
            first = None
        if not isinstance(first, dict):
            raise SourceRejected("unknown_format", f"{name} does not start with a JSON object "
                                 "on its first line, so it is not JSON Lines.")
        header = [str(k) for k in first][: policy.max_columns]
        columns = _columns(policy, header, name)
        info = SourceInfo(name, size, "jsonl", encoding, None, tuple(header), columns)
        return LegacySource(path, policy, info)
    if first_line.startswith(("[", "{")):
        raise SourceRejected("unknown_format", f"{name} is JSON but not JSON Lines; write one "
                             "object per line.")
    if len(first_line) > policy.max_record_chars:
        raise SourceRejected("unknown_format", f"The first line of {name} is longer than "
                             f"{policy.max_record_chars:,} characters: it is not a header.")
    delimiter, header = _csv_header(policy, first_line, name)
    columns = _columns(policy, header, name)
    info = SourceInfo(name, size, "csv", encoding, delimiter, tuple(header), columns)
    return LegacySource(path, policy, info)
