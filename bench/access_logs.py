"""Benchmark: access-log analysis over 1,000,000 generated nginx lines. Prints one JSON object.

The log is written in the recommended ``gatehouse_tls`` layout (see
``services.compliance.log_formats``) with a realistic skew: a few thousand distinct
User-Agents drawn from a Zipf-like distribution (a handful of browsers carry most requests,
a long tail of old browsers, API clients and one-offs); each named user has one to three
clients of their own; each client always negotiates the same protocol and cipher; 2 % plain
HTTP; ~0.1 % malformed lines. Measures, with targets in brackets:

- ``analyse`` with a ``classify`` hook (ua-parser family and major version, no cache: called
  once per distinct User-Agent) [median of 3 runs >= 250,000 lines/s; peak RSS of this whole
  process <= 300 MB];
- the same file gzip-compressed;
- baselines in the same run: a naive per-line regex with one ``Counter`` per view over every
  line, and that regex plus ua-parser per line with no cache (on a sample, since it is slow).

    .venv/bin/python bench/access_logs.py [--lines N] [--uas N] [--users N] [--keep DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import gzip  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from ua_parser import Parser, RegexResolver, load_builtins  # noqa: E402

from services.compliance.access_logs import LEGACY_PROTOCOLS, analyse  # noqa: E402

RUNS = 3
TARGET_LINES_PER_S = 250_000
TARGET_PEAK_RSS_MB = 300
MALFORMED_RATE = 0.001
PLAIN_HTTP_RATE = 0.02

_WINDOWS = ("Windows NT 10.0; Win64; x64", "Windows NT 6.1; Win64; x64", "Windows NT 6.3",
            "Windows NT 6.1; WOW64", "Windows NT 10.0")
_MACS = ("Macintosh; Intel Mac OS X 10_15_7", "Macintosh; Intel Mac OS X 10_13_6",
         "Macintosh; Intel Mac OS X 10_11_6")


def user_agents(count: int, rng: random.Random) -> list[tuple[str, bool]]:
    """``count`` distinct (User-Agent, can only do TLS < 1.2), the popular ones first."""
    popular = [
        (f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
         f"Safari/537.36", False) for v in (131, 130, 129) for os_ in _WINDOWS[:2] + _MACS[:1]]
    popular += [(f"Mozilla/5.0 ({_WINDOWS[0]}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", False)
                for v in (133, 132, 128)]
    popular += [(f"Mozilla/5.0 ({_WINDOWS[0]}) AppleWebKit/537.36 (KHTML, like Gecko) "
                 f"Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0", False) for v in (131, 130)]
    popular += [("Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko", False),
                ("Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)", True),
                ("Java/1.7.0_25", True), ("curl/7.29.0", False)]
    seen = {ua for ua, _legacy in popular}
    out = list(popular)
    makers: list[Callable[[], tuple[str, bool]]] = [
        lambda: (f"Mozilla/5.0 ({rng.choice(_WINDOWS)}) AppleWebKit/537.36 (KHTML, like "
                 f"Gecko) Chrome/{rng.randint(49, 131)}.0.{rng.randint(1000, 6999)}."
                 f"{rng.randint(0, 250)} Safari/537.36", False),
        lambda: (f"Mozilla/5.0 ({rng.choice(_WINDOWS)}; rv:{(v := rng.randint(45, 133))}.0) "
                 f"Gecko/20100101 Firefox/{v}.0", False),
        lambda: (f"Mozilla/5.0 ({rng.choice(_MACS)}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 f"Version/{rng.randint(9, 18)}.{rng.randint(0, 6)} Safari/605.1.15", False),
        lambda: (f"Mozilla/4.0 (compatible; MSIE {rng.choice((7, 8, 9))}.0; Windows NT "
                 f"{rng.choice(('5.1', '6.0', '6.1'))}; Trident/{rng.randint(4, 5)}.0; "
                 f".NET CLR {rng.randint(1, 3)}.{rng.randint(0, 5)}.{rng.randint(1000, 50727)})",
                 True),
        lambda: (f"Java/1.{rng.randint(6, 8)}.0_{rng.randint(1, 400)}", rng.random() < 0.5),
        lambda: (f"curl/7.{rng.randint(19, 88)}.{rng.randint(0, 9)}", False),
        lambda: (f"python-requests/2.{rng.randint(2, 32)}.{rng.randint(0, 5)}", False),
        lambda: (f"Mozilla/5.0 (Linux; U; Android 4.{rng.randint(0, 3)}.{rng.randint(1, 4)}; "
                 f"en-gb; GT-I{rng.randint(9000, 9999)} Build/JDQ39) AppleWebKit/534.30 "
                 f"(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30", True),
        lambda: (f"okhttp/{rng.randint(3, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 3)}", False),
        lambda: (f"PartnerSync/{rng.randint(1, 9)}.{rng.randint(0, 99)} (.NET Framework "
                 f"4.{rng.randint(0, 8)}; build {rng.randint(100, 9999)})", rng.random() < 0.3),
    ]
    while len(out) < count:
        ua, legacy = rng.choice(makers)()
        if ua not in seen:
            seen.add(ua)
            out.append((ua, legacy))
    return out


def zipf_weights(count: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank ** exponent) for rank in range(1, count + 1)))


def generate(path: Path, lines: int, uas: int, users: int, seed: int = 7) -> None:
    """Each named user has one to three clients of their own (drawn from the skewed pool);
    anonymous requests (API clients, monitoring, one-offs) draw from the whole pool."""
    rng = random.Random(seed)
    pool = user_agents(uas, rng)
    ua_weights = zipf_weights(len(pool), 1.1)
    people = [f"user{n:05d}@org{n % 400:03d}.example" for n in range(users)]
    own = {person: rng.choices(range(len(pool)), cum_weights=ua_weights, k=rng.randint(1, 3))
           for person in people}
    people.append("-")
    user_weights = zipf_weights(len(people), 0.8)
    rng.shuffle(people)
    modern = (("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
              ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
              ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"))
    legacy = (("TLSv1", "ECDHE-RSA-AES128-SHA"), ("TLSv1", "AES128-SHA"),
              ("TLSv1.1", "ECDHE-RSA-AES256-SHA"))
    # A client negotiates the same protocol and cipher with the same server every time (the
    # server picks from what the client offers), so each User-Agent gets one pair.
    negotiated = [rng.choice(legacy if is_legacy else modern) for _ua, is_legacy in pool]
    with path.open("w", encoding="utf-8") as handle:
        remaining = lines
        while remaining:
            batch = min(remaining, 50_000)
            remaining -= batch
            anonymous = iter(rng.choices(range(len(pool)), cum_weights=ua_weights, k=batch))
            out = []
            for user in rng.choices(people, cum_weights=user_weights, k=batch):
                index = next(anonymous) if user == "-" else rng.choice(own[user])
                ua = pool[index][0]
                roll = rng.random()
                if roll < MALFORMED_RATE:
                    out.append(f"truncated line {roll}\n")
                    continue
                protocol, cipher = ("-", "-") if roll < PLAIN_HTTP_RATE else negotiated[index]
                out.append(f"203.0.113.{index % 250} - {user} [29/Nov/2026:10:00:00 +0000] "
                           f'"GET /des/search?q={index} HTTP/1.1" 200 {512 + index} '
                           f'"https://portal.example/" {protocol} {cipher} "{ua}"\n')
            handle.writelines(out)


UNCACHED = Parser(RegexResolver(load_builtins()))  # ua-parser's Rust resolver, no cache


def classify(ua: str) -> str:
    """Stand-in for the compliance verdict: the client family and major version. No cache of
    its own: ``analyse`` calls it once per distinct User-Agent, the baseline once per line."""
    result = UNCACHED.parse_user_agent(ua)
    return f"{result.family} {result.major}" if result and result.major else "unknown"


NAIVE = re.compile(r'^(\S+) \S+ (\S+) \[([^\]]*)\] "([^"]*)" (\d{3}) (\S+) "([^"]*)" '
                   r'(\S+) (\S+) "([^"]*)"$')


def naive(path: Path, limit: int | None, per_line_ua: Callable[[str], str] | None
          ) -> tuple[int, float, dict[str, int]]:
    """Per-line regex, one Counter per view, optional per-line UA parsing with no cache."""
    by_protocol: Counter[str] = Counter()
    by_user: Counter[str] = Counter()
    by_ua: Counter[str] = Counter()
    by_client: Counter[str] = Counter()
    lockout_user: Counter[str] = Counter()
    lockout_ua: Counter[str] = Counter()
    malformed = read = 0
    started = time.perf_counter()
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in itertools.islice(handle, limit):
            read += 1
            match = NAIVE.match(line.rstrip("\n"))
            if match is None:
                malformed += 1
                continue
            user, protocol, ua = match.group(2), match.group(8), match.group(10)
            by_protocol[protocol] += 1
            by_user[user] += 1
            by_ua[ua] += 1
            if per_line_ua is not None:
                by_client[per_line_ua(ua)] += 1
            if protocol in LEGACY_PROTOCOLS:
                lockout_user[user] += 1
                lockout_ua[ua] += 1
    elapsed = time.perf_counter() - started
    return read, elapsed, {"malformed": malformed, "lockout": sum(lockout_user.values())}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--uas", type=int, default=3_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--uncached-sample", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="write the generated logs here and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        log = work / "access_tls.log"
        started = time.perf_counter()
        generate(log, args.lines, args.uas, args.users)
        generate_s = time.perf_counter() - started
        gz = work / "access_tls.log.gz"
        with log.open("rb") as source, gzip.open(gz, "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        rss_before = peak_rss_mb()

        # The machine may be shared: every timing is the median of RUNS runs (best shown too).
        fast_runs, report = [], None
        for _ in range(RUNS):
            started = time.perf_counter()
            report = analyse(log, classify=classify)
            fast_runs.append(time.perf_counter() - started)
        assert report is not None
        rss_after = peak_rss_mb()

        started = time.perf_counter()
        gz_report = analyse(gz, classify=classify)
        gzip_s = time.perf_counter() - started
        assert gz_report.as_dict()["by_user_agent"] == report.as_dict()["by_user_agent"]

        naive_runs = []
        for _ in range(RUNS):
            read, elapsed, naive_counts = naive(log, None, None)
            naive_runs.append(elapsed)
        assert naive_counts["malformed"] == report.malformed
        assert naive_counts["lockout"] == report.lockout.requests
        sample, uncached_s, _ = naive(log, args.uncached_sample, classify)
        fast_s = statistics.median(fast_runs)
        rate = report.lines / fast_s
        naive_rate = read / statistics.median(naive_runs)
        uncached_rate = sample / uncached_s
        result: dict[str, Any] = {
            "benchmark": "access_logs",
            "lines": report.lines,
            "log_mb": round(log.stat().st_size / 2**20, 1),
            "gzip_mb": round(gz.stat().st_size / 2**20, 1),
            "distinct_user_agents": report.distinct_user_agents,
            "distinct_users": len(report.by_user),
            "distinct_clients": len(report.by_client),
            "malformed": report.malformed,
            "lockout_requests": report.lockout.requests,
            "generate_s": round(generate_s, 2),
            "runs": RUNS,
            "analyse_s": round(fast_s, 3),
            "lines_per_s": round(rate),
            "lines_per_s_best": round(report.lines / min(fast_runs)),
            "gzip_analyse_s": round(gzip_s, 3),
            "gzip_lines_per_s": round(gz_report.lines / gzip_s),
            "peak_rss_mb": round(rss_after, 1),
            "rss_before_analyse_mb": round(rss_before, 1),
            "baseline_naive_regex_lines_per_s": round(naive_rate),
            "baseline_naive_regex_lines_per_s_best": round(read / min(naive_runs)),
            "baseline_naive_regex_plus_uncached_ua_parser_lines_per_s": round(uncached_rate),
            "baseline_uncached_sample_lines": sample,
            "speedup_vs_naive_regex": round(rate / naive_rate, 2),
            "speedup_vs_naive_uncached": round(rate / uncached_rate, 1),
            "target_lines_per_s": TARGET_LINES_PER_S,
            "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
            "meets_targets": rate >= TARGET_LINES_PER_S and rss_after <= TARGET_PEAK_RSS_MB,
        }
        print(json.dumps(result))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
