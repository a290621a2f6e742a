"""Offline breached-password check against the Pwned Passwords list, in a compact binary.

Source format (the public download): text lines ``SHA1HEX:COUNT`` — the full-hash file, 40 hex
digits per line — or a folder of range files named by the first five hex digits (``21BD1.txt``)
whose lines carry the remaining 35 (``0018A45C4D1DEF81644B54AB7F969B88D65:10``). Counts are
dropped.

Binary format (``.ghpw``), built once by :func:`build_breached_file`:

* a 32-byte header: magic ``GHPWNED\\0``, format version (u16), record size in bytes (u16),
  4 reserved bytes, the number of records (u64), 8 reserved bytes — little-endian;
* then the records: the first ``record size`` bytes of each SHA-1, sorted, without duplicates.

Records default to 8 bytes (64 bits) instead of 20: the full list (~930 million hashes) is
~7.4 GB instead of ~18.6 GB. Truncation can only add false positives, never miss a breached
password; for a file of N records the chance that a password *not* in the list is reported
as breached is about N / 2^(8·size) — for N = 10^9 and 8 bytes, 5.4·10^-11 per check (one
false alarm in ~18 billion checks). 10 bytes makes it 8.3·10^-16.

Look-up is a binary search over the records through ``mmap``: ~log2(N) reads of ``size`` bytes
(30 for the full list), no loading, and the operating system caches the pages it touches.
"""

from __future__ import annotations

import hashlib
import heapq
import mmap
import os
import re
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from services.errors import InvalidInput

MAGIC = b"GHPWNED\x00"
VERSION = 1
HEADER = struct.Struct("<8sHHIQ8x")
DEFAULT_RECORD_BYTES = 8
RUN_RECORDS = 4_000_000  # records sorted in memory at a time when the input is unsorted

_HEX = re.compile(r"[0-9A-Fa-f]+")
_RANGE_NAME = re.compile(r"^([0-9A-Fa-f]{5})(\.txt)?$")


def false_positive_rate(records: int, record_bytes: int) -> float:
    """Chance that a password not in the list matches a truncated record."""
    return records / float(2 ** (8 * record_bytes))


def sha1_of(password: str) -> bytes:
    # Pwned Passwords hashes the UTF-8 bytes of the password.
    return hashlib.sha1(password.encode("utf-8", "surrogatepass"), usedforsecurity=False).digest()


# ---- building ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildReport:
    lines: int
    records: int
    record_bytes: int
    out: str
    false_positive_rate: float

    def as_dict(self) -> dict[str, object]:
        return {"lines": self.lines, "records": self.records, "record_bytes": self.record_bytes,
                "out": self.out, "false_positive_rate": self.false_positive_rate}


def _source_files(source: Path) -> Iterator[tuple[Path, str]]:
    """(file, hex prefix for its lines) — '' for full-hash lines."""
    if source.is_dir():
        names = sorted(p for p in source.iterdir() if p.is_file())
        for path in names:
            match = _RANGE_NAME.match(path.name)
            if not match:
                raise InvalidInput(f"{path}: not a Pwned Passwords range file (expected a name "
                                   "of five hex digits, e.g. 21BD1.txt); remove it or name the "
                                   "full-hash file instead.")
            yield path, match.group(1).upper()
    elif source.is_file():
        yield source, ""
    else:
        raise InvalidInput(f"{source}: no such file or folder; name the Pwned Passwords "
                           "download (a SHA-1 text file, or the folder of range files).")


def _parse_records(source: Path, record_bytes: int,
                   counter: list[int]) -> Iterator[bytes]:
    for path, prefix in _source_files(source):
        want = 40 - len(prefix)
        with path.open("r", encoding="ascii", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                text = line.strip()
                if not text:
                    continue
                counter[0] += 1
                digest = text.split(":", 1)[0].strip()
                if len(digest) != want or not _HEX.fullmatch(digest):
                    raise InvalidInput(
                        f"{path}, line {number}: expected {want} hex digits of a SHA-1"
                        f"{' (the 5-digit prefix is the file name)' if prefix else ''}, "
                        "optionally followed by :COUNT; is this the SHA-1 (not NTLM) download?")
                yield bytes.fromhex(prefix + digest)[:record_bytes]


def _write_run(records: list[bytes], directory: Path, index: int) -> Path:
    path = directory / f"run{index:05d}.bin"
    records.sort()
    with path.open("wb") as handle:
        handle.write(b"".join(records))
    return path


def _read_run(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(size * 65536):
            for offset in range(0, len(block), size):
                yield block[offset:offset + size]


def write_records(out: Path, records: Iterable[bytes], record_bytes: int) -> int:
    """Write sorted ``records`` (duplicates dropped) with a header; atomic; returns the count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    count = 0
    last = b""
    with tmp.open("wb") as handle:
        handle.write(HEADER.pack(MAGIC, VERSION, record_bytes, 0, 0))
        batch: list[bytes] = []
        append = batch.append
        for record in records:
            if record <= last:
                if record == last:
                    continue
                raise ValueError("records must be written in ascending order")
            append(record)
            last = record
            if len(batch) == 65536:
                handle.write(b"".join(batch))
                count += 65536
                batch.clear()
        handle.write(b"".join(batch))
        count += len(batch)
        handle.seek(0)
        handle.write(HEADER.pack(MAGIC, VERSION, record_bytes, 0, count))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, out)
    return count


def build_breached_file(source: Path, out: Path, record_bytes: int = DEFAULT_RECORD_BYTES,
                        *, run_records: int = RUN_RECORDS) -> BuildReport:
    """Convert the Pwned Passwords SHA-1 text download into the compact sorted binary.

    Sorted input (the full-hash download is sorted) streams straight through; otherwise runs
    of ``run_records`` are sorted in memory, spilled to a temporary folder beside ``out`` and
    merged, so memory stays bounded for the full list.
    """
    if not 4 <= record_bytes <= 20:
        raise InvalidInput(f"A record of {record_bytes} bytes is not allowed; use 4 to 20 "
                           "(8 is the default).")
    counter = [0]
    with tempfile.TemporaryDirectory(prefix="ghpw-", dir=out.parent if out.parent.exists()
                                     else None) as scratch:
        scratch_dir = Path(scratch)
        runs: list[Path] = []
        ordered: list[bytes] = []
        pending: list[bytes] = []
        in_order = True
        for record in _parse_records(source, record_bytes, counter):
            if in_order and (not ordered or record >= ordered[-1]):
                ordered.append(record)
                if len(ordered) >= run_records:
                    runs.append(_write_run(ordered, scratch_dir, len(runs)))
                    ordered = [ordered[-1]]  # keep the last, to go on checking the order
                continue
            in_order = False
            pending.append(record)
            if len(pending) >= run_records:
                runs.append(_write_run(pending, scratch_dir, len(runs)))
                pending = []
        for leftover in (ordered, pending):
            if leftover:
                runs.append(_write_run(leftover, scratch_dir, len(runs)))
        streams: list[Iterator[bytes]] = [_read_run(r, record_bytes) for r in runs]
        count = write_records(out, heapq.merge(*streams), record_bytes)
    return BuildReport(counter[0], count, record_bytes, str(out),
                       false_positive_rate(count, record_bytes))


# ---- looking up ----------------------------------------------------------------------------


class BreachedList:
    """A built binary file, opened read-only through mmap."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as handle:
            header = handle.read(HEADER.size)
            if len(header) < HEADER.size:
                raise InvalidInput(f"{path}: too short to be a breached-password file; build it "
                                   "with: python main.py password breached-build SRC OUT.")
            magic, version, size, _, count = HEADER.unpack(header)
            if magic != MAGIC or version != VERSION or not 4 <= size <= 20:
                raise InvalidInput(f"{path}: not a Gatehouse breached-password file (version "
                                   f"{VERSION}); build it with: python main.py password "
                                   "breached-build SRC OUT.")
            expected = HEADER.size + count * size
            actual = os.fstat(handle.fileno()).st_size
            if actual != expected:
                raise InvalidInput(f"{path}: holds {actual} bytes where its header promises "
                                   f"{expected}; the file is damaged — build it again.")
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if count else None
        self.record_bytes: int = size
        self.count: int = count

    def contains_digest(self, digest: bytes) -> bool:
        if self._map is None:
            return False
        size, data = self.record_bytes, self._map
        key = digest[:size]
        lo, hi = 0, self.count
        base = HEADER.size
        while lo < hi:
            mid = (lo + hi) >> 1
            offset = base + mid * size
            probe = data[offset:offset + size]
            if probe < key:
                lo = mid + 1
            elif probe > key:
                hi = mid
            else:
                return True
        return False

    def contains(self, password: str) -> bool:
        return self.contains_digest(sha1_of(password))

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


@lru_cache(maxsize=4)
def open_breached(path: Path, _stamp: tuple[int, int] = (0, 0)) -> BreachedList:
    return BreachedList(path)


def breached_list_for(path: Path) -> BreachedList:
    """The opened list for ``path``, reopened when the file is rebuilt (size or mtime change)."""
    stat = path.stat()
    return open_breached(path, (stat.st_size, stat.st_mtime_ns))

