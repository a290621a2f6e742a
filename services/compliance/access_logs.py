"""Access-log analysis: who reaches the service over TLS below 1.2, and with which client.

``analyse`` reads access logs that record the negotiated protocol (formats and the
``log_format``/``LogFormat`` lines to configure are in ``services.compliance.log_formats``)
and counts requests by TLS protocol, by cipher, by User-Agent, by user and — when a
``classify`` function is given — by client class (a verdict or a client family: any string).
The lock-out summary counts the requests made with a protocol below TLS 1.2 by user and by
User-Agent: after the cut-over those clients cannot connect at all, which is why their logs
must be read before it (a TLS 1.0/1.1 row on a server that also offers 1.2 means the client
cannot do 1.2: servers pick the highest common version).

Rules:

- **Input.** Plain or gzip files (told apart by the gzip magic bytes, not the name), read as
  UTF-8 with undecodable bytes replaced. The format is detected per file from its first
  lines unless one is named.
- **Streaming, bounded memory.** Lines are read in chunks of 256 Ki characters; each line
  becomes one record (protocol, cipher, User-Agent, user) counted in a ``Counter``, so memory
  grows with the number of distinct records — in practice each user's few clients — never
  with the number of lines. nginx/Apache lines in the recommended layout are matched and
  counted a chunk at a time with no Python call per line (``RECOMMENDED_LAYOUT``); other
  lines go through the format's line parser. Work per User-Agent (``classify``) is done once
  per distinct User-Agent, after counting.
- **Malformed lines** (wrong shape, unknown protocol value) are counted with the first few
  kept as ``file:line`` examples; they never stop the analysis.
- **Plain HTTP** requests (no protocol logged, ``-``) are counted apart and are not lock-outs.
- **Who is locked out.** With ``noncompliant`` (a User-Agent → bool, e.g. "its verdict is
  not compliant"), each user's requests below TLS 1.2 *and* requests from non-compliant
  clients are counted in ``by_user_lockout`` (from the distinct records, after counting), for
  :mod:`services.compliance.lockout` to map to organisations. ``user_field`` names the
  field holding the user where a format has none of its own; with ``client_ips`` a request
  without a user is keyed by its client address (``CLIENT_IP_MARK``), which turns the
  bulk path off, so it is asked for only when the policy maps address ranges.
- **Progress and cancel.** ``progress(done, total)`` in bytes of input read (compressed bytes
  for gzip), called once per chunk (256 Ki characters); ``cancel()`` is checked as
  often, and a cancelled analysis returns what was counted so far with ``cancelled`` set.
"""

from __future__ import annotations

import gc
import gzip
import io
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from services.compliance.log_formats import (
    CLIENT_IP_MARK,
    FORMATS,
    RECOMMENDED_LAYOUT,
    SKIP,
    LineParser,
    decode_recommended,
    detect_format,
    make_parser,
)
from services.errors import InvalidInput, NotFound

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]  # e.g. threading.Event().is_set
Classify = Callable[[str], str]
NonCompliant = Callable[[str], bool]

# TLS 1.2 or higher only (programme decision 7): anything older is locked out at cut-over.
LEGACY_PROTOCOLS: Final = frozenset({"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"})
PLAIN_HTTP: Final = "plain-http"  # the key under which requests without TLS are counted
NO_USER: Final = "-"
_CHUNK_CHARS = 1 << 18  # lines of a chunk stay in the CPU cache while matched and counted
_DETECT_LINES = 50
_MAX_EXAMPLES = 5
_MALFORMED: Final = None
_GROUPS = operator.methodcaller("groups")


# ---- the report ------------------------------------------------------------------------------


def _ranked(counter: Counter[str]) -> list[dict[str, Any]]:
    """Most requests first, then by name, so that reports are stable."""
    return [{"name": name, "requests": count}
            for name, count in sorted(counter.items(), key=lambda item: (-item[1], item[0]))]


@dataclass
class LockoutSummary:
    """Requests made with a protocol below TLS 1.2: they fail after the cut-over."""

    requests: int = 0
    by_protocol: Counter[str] = field(default_factory=Counter)
    by_user: Counter[str] = field(default_factory=Counter)
    by_user_agent: Counter[str] = field(default_factory=Counter)
    by_client: Counter[str] = field(default_factory=Counter)  # only with ``classify``

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "by_protocol": _ranked(self.by_protocol),
                "by_user": _ranked(self.by_user), "by_user_agent": _ranked(self.by_user_agent),
                "by_client": _ranked(self.by_client)}


@dataclass
class UserLockout:
    """One user's (or, for ``CLIENT_IP_MARK`` keys, one address's) requests that fail after
    the cut-over: below TLS 1.2, or from a client the policy does not accept — or both."""

    requests: int = 0
    legacy_tls: int = 0
    non_compliant_client: int = 0
    user_agents: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "legacy_tls": self.legacy_tls,
                "non_compliant_client": self.non_compliant_client,
                "user_agents": _ranked(self.user_agents)[:5]}


def shown_user(key: str) -> str:
    """A user key as a person reads it (client addresses as ``address 10.0.0.1``)."""
    return f"address {key[len(CLIENT_IP_MARK):]}" if key.startswith(CLIENT_IP_MARK) else key


@dataclass
class LogReport:
    sources: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # source → format read
    lines: int = 0  # lines read, directives and blank lines excluded
    requests: int = 0  # well-formed request lines (TLS and plain HTTP)
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)  # "file:line: text"
    by_protocol: Counter[str] = field(default_factory=Counter)  # PLAIN_HTTP for no TLS
    by_cipher: Counter[str] = field(default_factory=Counter)  # "TLSv1.2 ECDHE-…"
    by_user: Counter[str] = field(default_factory=Counter)  # NO_USER when not logged
    by_user_agent: Counter[str] = field(default_factory=Counter)
    # User-Agent → protocol → requests: which protocols each client used.
    user_agent_protocols: dict[str, Counter[str]] = field(default_factory=dict)
    by_client: Counter[str] = field(default_factory=Counter)  # only with ``classify``
    client_protocols: dict[str, Counter[str]] = field(default_factory=dict)
    lockout: LockoutSummary = field(default_factory=LockoutSummary)
    # user (or CLIENT_IP_MARK + address) → what of theirs fails; only with ``noncompliant``
    by_user_lockout: dict[str, UserLockout] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def distinct_user_agents(self) -> int:
        return len(self.by_user_agent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources), "formats": dict(self.formats),
            "lines": self.lines, "requests": self.requests, "malformed": self.malformed,
            "malformed_examples": list(self.malformed_examples),
            "by_protocol": _ranked(self.by_protocol), "by_cipher": _ranked(self.by_cipher),
            "by_user": [{**row, "name": shown_user(row["name"])}
                        for row in _ranked(self.by_user)],
            "by_user_agent": [
                {**row, "protocols": dict(sorted(self.user_agent_protocols[row["name"]]
                                                 .items()))}
                for row in _ranked(self.by_user_agent)],
            "by_client": [
                {**row, "protocols": dict(sorted(self.client_protocols[row["name"]].items()))}
                for row in _ranked(self.by_client)],
            "distinct_user_agents": self.distinct_user_agents,
            "lockout": self.lockout.as_dict(), "cancelled": self.cancelled,
            "by_user_lockout": [
                {"user": shown_user(user), **entry.as_dict()}
                for user, entry in sorted(self.by_user_lockout.items(),
                                          key=lambda item: (-item[1].requests, item[0]))],
        }


# ---- reading ---------------------------------------------------------------------------------


def _open_text(path: Path) -> tuple[IO[bytes], io.TextIOWrapper]:
    """(the raw file, for progress in bytes; the decoded text, gzip or not)."""
    raw = path.open("rb")
    try:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        return raw, io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
    except BaseException:
        raw.close()
        raise


def _chunks(text: io.TextIOWrapper) -> Iterator[list[str]]:
    """Lists of whole lines (without their newline), about ``_CHUNK_CHARS`` at a time.

    ``read`` + ``split`` keeps the splitting in C; a line longer than a chunk is carried over
    until its end is read.
    """
    carry = ""
    try:
        while True:
            block = text.read(_CHUNK_CHARS)
            if not block:
                if carry:
                    yield [carry]
                return
            lines = (carry + block).split("\n") if carry else block.split("\n")
            carry = lines.pop()
            if lines:
                yield lines
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise InvalidInput(f"The log could not be read to the end ({exc}); check that the "
                           "file is complete and not damaged.") from exc


# ---- analysis --------------------------------------------------------------------------------


def analyse(paths: Sequence[str | Path] | str | Path, *, fmt: str = "auto",
            classify: Classify | None = None, progress: Progress | None = None,
            cancel: Cancel | None = None, noncompliant: NonCompliant | None = None,
            user_field: str | None = None, client_ips: bool = False) -> LogReport:
    """Count the requests in ``paths`` by protocol, cipher, User-Agent, user (see the module).

    ``fmt`` is ``auto`` (detected per file) or one of ``FORMATS``. ``classify`` maps a
    User-Agent to a class (for instance a compliance verdict); it is called once per distinct
    User-Agent.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise InvalidInput(f"There is no log format {fmt!r}; use auto or one of "
                           f"{', '.join(FORMATS)}.")
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not files:
        raise InvalidInput("Give at least one access log to analyse.")
    for path in files:
        if not path.is_file():
            raise NotFound(f"There is no log file {path}; give the path of an access log "
                           "(plain or .gz).")
    total = sum(path.stat().st_size for path in files)
    report = LogReport(sources=[str(path) for path in files])
    counts: Counter[Any] = Counter()  # record → requests
    fast: Counter[Any] = Counter()  # RECOMMENDED_LAYOUT key → requests
    if progress:
        progress(0, total)
    # The records are acyclic tuples of strings: the cyclic collector only slows the counting
    # (it re-walks the growing Counter), so it is paused while reading and restored after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _read_all(files, fmt, report, counts, fast, total, progress, cancel,
                  user_field=user_field, client_ips=client_ips)
        for key, count in fast.items():
            counts[decode_recommended(key)] += count
        _fold(report, counts, classify)
        if noncompliant is not None:
            _fold_users(report, counts, noncompliant)
    finally:
        if collecting:
            gc.enable()
    return report


def _read_all(files: list[Path], fmt: str, report: LogReport, counts: Counter[Any],
              fast: Counter[Any], total: int, progress: Progress | None,
              cancel: Cancel | None, *, user_field: str | None, client_ips: bool) -> None:
    done = 0
    for path in files:
        raw, text = _open_text(path)
        with raw, text:
            chunks = _chunks(text)
            first = next(chunks, [])
            if not first:
                report.formats[str(path)] = "empty"
                continue
            name = fmt if fmt != "auto" else detect_format(first[:_DETECT_LINES])
            report.formats[str(path)] = name
            parser = make_parser(name, user_field=user_field, client_ips=client_ips)
            # The bulk path keys lines by user only; client addresses need the line parser.
            bulk = name in ("nginx", "apache") and not client_ips
            line_number = 0
            for lines in itertools.chain([first], chunks):
                if cancel and cancel():
                    report.cancelled = True
                    break
                if bulk:
                    _count_combined(report, path, line_number, lines, parser, counts, fast)
                else:
                    _count(report, path, line_number, lines, parser, counts)
                line_number += len(lines)
                if progress:
                    progress(done + raw.tell(), total)
        if report.cancelled:
            break
        done += path.stat().st_size


def _count(report: LogReport, path: Path, first_number: int, lines: list[str],
           parser: LineParser, counts: Counter[Any]) -> None:
    # Each record is its own counting key: Counter.update over a map runs the counting loop
    # in C, and memory follows the distinct records, not the lines.
    malformed = counts[_MALFORMED]
    keys = list(map(parser, lines))
    counts.update(keys)
    if counts[_MALFORMED] > malformed and len(report.malformed_examples) < _MAX_EXAMPLES:
        _examples(report, path, first_number, lines, keys)


def _count_combined(report: LogReport, path: Path, first_number: int, lines: list[str],
                    parser: LineParser, counts: Counter[Any], fast: Counter[Any]) -> None:
    """nginx/Apache: the recommended layout in bulk, any other line through ``parser``."""
    matches = list(map(RECOMMENDED_LAYOUT.fullmatch, lines))
    fast.update(map(_GROUPS, filter(None, matches)))
    if None not in matches:
        return
    others = list(itertools.compress(range(len(lines)), map(operator.not_, matches)))
    rest = [lines[index] for index in others]
    malformed = counts[_MALFORMED]
    keys = list(map(parser, rest))
    counts.update(keys)
    if counts[_MALFORMED] > malformed:
        for index, key in zip(others, keys, strict=True):
            if key is _MALFORMED and len(report.malformed_examples) < _MAX_EXAMPLES:
                _example(report, path, first_number + index, lines[index])


def _examples(report: LogReport, path: Path, first_number: int, lines: list[str],
              keys: list[Any]) -> None:
    for offset, key in enumerate(keys):
        if key is _MALFORMED:
            _example(report, path, first_number + offset, lines[offset])
            if len(report.malformed_examples) >= _MAX_EXAMPLES:
                return


def _example(report: LogReport, path: Path, index: int, line: str) -> None:
    """Keep a malformed line (``index`` counts from 0) as ``file:line: text``."""
    text = line.rstrip("\r\n")
    shown = text if len(text) <= 200 else text[:200] + "…"
    report.malformed_examples.append(f"{path}:{index + 1}: {shown}")


def _fold(report: LogReport, counts: Counter[Any], classify: Classify | None) -> None:
    """Turn the per-record counts into the report's views; ``classify`` once per User-Agent.

    The records are first summed by (protocol, cipher, User-Agent) and by (protocol, user):
    two small tables, so that each view is built from the smaller one.
    """
    report.malformed = counts.pop(_MALFORMED, 0)
    counts.pop(SKIP, None)
    by_ua: dict[tuple[str | None, str | None, str], int] = {}
    by_user: dict[tuple[str | None, str | None], int] = {}
    ua_get, user_get = by_ua.get, by_user.get
    for (protocol, cipher, ua, user), count in counts.items():
        key = (protocol, cipher, ua)
        by_ua[key] = ua_get(key, 0) + count
        who = (protocol, user)
        by_user[who] = user_get(who, 0) + count
    classes: dict[str, str] = {}
    lockout = report.lockout
    for (protocol, cipher, ua), count in by_ua.items():
        shown_protocol = protocol or PLAIN_HTTP
        report.requests += count
        report.by_protocol[shown_protocol] += count
        if protocol is not None:
            report.by_cipher[f"{protocol} {cipher or '-'}"] += count
        report.by_user_agent[ua] += count
        report.user_agent_protocols.setdefault(ua, Counter())[shown_protocol] += count
        label = None
        if classify is not None:
            label = classes.get(ua)
            if label is None:
                label = classes[ua] = classify(ua)
            report.by_client[label] += count
            report.client_protocols.setdefault(label, Counter())[shown_protocol] += count
        if protocol in LEGACY_PROTOCOLS:
            lockout.requests += count
            lockout.by_protocol[protocol] += count
            lockout.by_user_agent[ua] += count
            if label is not None:
                lockout.by_client[label] += count
    for (protocol, user), count in by_user.items():
        report.by_user[user or NO_USER] += count
        if protocol in LEGACY_PROTOCOLS:
            lockout.by_user[user or NO_USER] += count
    report.lines = report.requests + report.malformed


def _fold_users(report: LogReport, counts: Counter[Any], noncompliant: NonCompliant) -> None:
    """Per user: requests below TLS 1.2 and requests from non-compliant clients (one pass
    over the distinct records; ``noncompliant`` once per distinct User-Agent)."""
    judged: dict[str, bool] = {}
    for record, count in counts.items():
        if not isinstance(record, tuple):
            continue
        protocol, _, ua, user = record
        bad_client = judged.get(ua)
        if bad_client is None:
            bad_client = judged[ua] = noncompliant(ua)
        legacy = protocol in LEGACY_PROTOCOLS
        if not (legacy or bad_client):
            continue
        entry = report.by_user_lockout.get(user or NO_USER)
        if entry is None:
            entry = report.by_user_lockout[user or NO_USER] = UserLockout()
        entry.requests += count
        entry.legacy_tls += count if legacy else 0
        entry.non_compliant_client += count if bad_client else 0
        entry.user_agents[ua] += count


def iter_records(lines: Iterable[str], fmt: str) -> Iterator[tuple[Any, ...] | None]:
    """Each line's record (or ``None`` when malformed), directives left out — for tests and
    for drilling down into a few lines; ``analyse`` is the fast path."""
    parser = make_parser(fmt)
    for line in lines:
        record = parser(line)
        if record is not SKIP:
            yield record if isinstance(record, tuple) else None
