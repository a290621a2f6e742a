"""Password policy engine: evaluation time and breached-password look-up. Prints one JSON object.

Targets (issue 3): per evaluation median ≤ 2 ms, p99 ≤ 20 ms over 10,000 mixed candidates
(lengths 4–128, common and random, seeded); the worst single input up to the maximum length
≤ 50 ms; breached look-up in a 10-million-entry file ≤ 0.1 ms median.

Baselines in the same run, on the same inputs:
* the plain Python ``zxcvbn`` call — on every 10th candidate, each truncated to
  ``BASELINE_CAP`` (40) code points, because uncut it takes ~0.4 s at 64 characters and
  ~60 s at 1000 (it would not finish); our time on the *same* sample, uncut, is beside it;
* ``zxcvbn-rs-py`` called once on the whole input (what "just use the Rust port" gives);
* for the look-up, ``bisect`` on the same 10 million records held in a Python list, with the
  time it takes to load them (the mmap file needs no loading).

Timings are wall-clock per call (``perf_counter_ns``) in this process, after one warm-up call
(the first call's cost — loading dictionaries and building the term index — is reported
separately). The breached file is built in a temporary folder and is in the page cache.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import heapq
import json
import math
import os
import platform
import random
import statistics
import string
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zxcvbn import zxcvbn as python_zxcvbn  # noqa: E402
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # noqa: E402
from zxcvbn_rs_py import zxcvbn as rust_zxcvbn  # noqa: E402

from services.passwords import PasswordContext, default_policy, evaluate  # noqa: E402
from services.passwords.breached import (  # noqa: E402
    BreachedList,
    build_breached_file,
    sha1_of,
    write_records,
)

SEED = 20260303
CANDIDATES = 10_000
BASELINE_EVERY = 10
BASELINE_CAP = 40
BREACHED_ENTRIES = 10_000_000
LOOKUPS = 20_000
CONVERT_LINES = 200_000
MAX_LENGTH = 128

CONTEXT = PasswordContext(given_name="Alex", family_name="Morgan",
                          email="alex.morgan@xoserve.com", org_name="Xoserve", org_code="XOS")
PRINTABLE = string.ascii_letters + string.digits + string.punctuation
LEET = "4@8({[<3691!|70$5+%2"
COMPANY = ["Xoserve", "Correla", "Gemini", "UKLink", "Summer", "Winter", "January", "Alex",
           "Morgan"]


def _words() -> tuple[list[str], list[str]]:
    common = FREQUENCY_LISTS["passwords"]
    english = [w for w in FREQUENCY_LISTS["english_wikipedia"][:20000]
               if w.isalpha() and 3 <= len(w) <= 10]
    return common, english


def _mutate(rng: random.Random, word: str) -> str:
    choice = rng.randrange(6)
    if choice == 0:
        word = word.capitalize()
    elif choice == 1:
        word = word + str(rng.randrange(1950, 2030))
    elif choice == 2:
        word = word.capitalize() + rng.choice("!?#.") * rng.randrange(1, 3)
    elif choice == 3:
        word = word.translate(str.maketrans("aeios", "@3105"))
    elif choice == 4:
        word = word + str(rng.randrange(0, 10_000))
    return word


def make_candidates(rng: random.Random) -> list[tuple[str, str]]:
    """(kind, password) pairs, lengths 4–128: common (mutated), phrases, random, patterns."""
    common, english = _words()
    out: list[tuple[str, str]] = []
    while len(out) < CANDIDATES:
        roll = rng.random()
        if roll < 0.35:
            word = common[min(int(rng.paretovariate(0.6)) - 1, len(common) - 1)]
            pw = _mutate(rng, word)
            if rng.random() < 0.3:
                pw = rng.choice(COMPANY) + pw
            kind = "common"
        elif roll < 0.55:
            count = rng.randrange(2, 16)
            sep = rng.choice([" ", "-", "", ".", " "])
            pw = sep.join(rng.choice(english) for _ in range(count))
            kind = "phrase"
        elif roll < 0.90:
            length = rng.randrange(4, MAX_LENGTH + 1)
            alphabet = rng.choice([PRINTABLE, string.ascii_lowercase + string.digits,
                                   PRINTABLE + "äöüßéèñçøåæœ€£¥©®中文字日本語한국어😀🔒"])
            pw = "".join(rng.choice(alphabet) for _ in range(length))
            kind = "random"
        else:
            unit = rng.choice(["a", "ab", "abc123", "password", "qwerty", "1234567890",
                               "Summer2026!", "xoserve", "!@#$", "zxcvbnm,./"])
            pw = unit * (MAX_LENGTH // len(unit) + 1)
            pw = pw[:rng.randrange(4, MAX_LENGTH + 1)]
            kind = "pattern"
        pw = pw[:MAX_LENGTH]
        if len(pw) >= 4:
            out.append((kind, pw))
    return out


def adversarial(rng: random.Random) -> list[tuple[str, str]]:
    """Inputs of the maximum length chosen to be slow for zxcvbn's matchers."""
    n = MAX_LENGTH
    cases = [
        ("all-distinct look-alikes, repeated", (LEET * 7)[:n]),
        ("look-alikes shuffled", "".join(rng.sample(LEET * 7, n))),
        ("same character", "a" * n),
        ("two-character repeat", "ab" * (n // 2)),
        ("digits", "".join(rng.choice(string.digits) for _ in range(n))),
        ("alphabet sequence", (string.ascii_lowercase * 5)[:n]),
        ("keyboard rows", ("qwertyuiopasdfghjklzxcvbnm" * 5)[:n]),
        ("common words joined", "".join(rng.choice(FREQUENCY_LISTS["passwords"][:2000])
                                        for _ in range(40))[:n]),
        ("look-alike words joined", "".join(
            _mutate(rng, w) for w in rng.sample(FREQUENCY_LISTS["passwords"][:500], 40))[:n]),
        ("dates", "".join(f"{rng.randrange(1, 29):02d}{rng.randrange(1, 13):02d}"
                          f"{rng.randrange(1950, 2030)}" for _ in range(16))[:n]),
        ("non-Latin", "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(n))),
        ("emoji", "".join(chr(rng.randrange(0x1F600, 0x1F64F)) for _ in range(n))),
        ("over the maximum (10,000 code points)", "".join(rng.choice(PRINTABLE)
                                                          for _ in range(10_000))),
    ]
    for i in range(300):
        alphabet = rng.choice([PRINTABLE, LEET, LEET + string.ascii_lowercase,
                               LEET + string.digits])
        cases.append((f"random search #{i}", "".join(rng.choice(alphabet) for _ in range(n))))
    return cases


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 4)

    return {"median_ms": round(statistics.median(ordered), 4), "p90_ms": pct(0.90),
            "p99_ms": pct(0.99), "max_ms": round(ordered[-1], 4)}


def bench_evaluate(rng: random.Random) -> dict[str, object]:
    policy = default_policy()
    cold = timed_ms(lambda: evaluate("cold start", CONTEXT, policy))
    candidates = make_candidates(rng)
    samples: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    rejected = 0
    for kind, pw in candidates:
        holder: list[bool] = []
        ms = timed_ms(lambda pw=pw, holder=holder: holder.append(  # type: ignore[misc]
            evaluate(pw, CONTEXT, policy).accepted))
        samples.append(ms)
        by_kind[kind].append(ms)
        rejected += not holder[0]
    lengths = [len(pw) for _, pw in candidates]

    # Baselines on every 10th candidate.
    sample = candidates[::BASELINE_EVERY]
    ours = [timed_ms(lambda pw=pw: evaluate(pw, CONTEXT, policy)) for _, pw in sample]
    user_inputs = CONTEXT.user_inputs()
    python = [timed_ms(lambda pw=pw: python_zxcvbn(pw[:BASELINE_CAP], user_inputs))
              for _, pw in sample]
    rust = [timed_ms(lambda pw=pw: rust_zxcvbn(pw, user_inputs)) for _, pw in sample]
    ours_s, python_s, rust_s = summary(ours), summary(python), summary(rust)
    return {
        "candidates": len(candidates),
        "length_min": min(lengths), "length_max": max(lengths),
        "length_median": statistics.median(lengths),
        "rejected": rejected,
        "cold_first_call_ms": round(cold, 2),
        **summary(samples),
        "targets": {"median_ms": 2.0, "p99_ms": 20.0},
        "by_kind": {k: {"count": len(v), **summary(v)} for k, v in sorted(by_kind.items())},
        "baseline_python_zxcvbn": {
            "sample": len(sample), "input_cap_code_points": BASELINE_CAP,
            "note": "plain zxcvbn 4.5.0 on every 10th candidate cut to 40 code points (uncut "
                    "it does not finish); ours on the same sample uncut",
            **python_s,
            "ours_on_same_sample": ours_s,
            "ratio_median": round(python_s["median_ms"] / ours_s["median_ms"], 2),
            "ratio_p99": round(python_s["p99_ms"] / ours_s["p99_ms"], 2),
            "ratio_max": round(python_s["max_ms"] / ours_s["max_ms"], 2),
        },
        "reference_zxcvbn_rs_single_call": {
            "sample": len(sample),
            "note": "zxcvbn-rs-py once on the whole, uncut input",
            **rust_s,
        },
    }


def bench_worst(rng: random.Random) -> dict[str, object]:
    policy = default_policy()
    worst_ms, worst_kind = 0.0, ""
    results = []
    for kind, pw in adversarial(rng):
        runs = sorted(timed_ms(lambda pw=pw: evaluate(pw, CONTEXT, policy)) for _ in range(3))
        ms = runs[1]  # the median of three, so a scheduler hiccup is not "the worst input"
        results.append(ms)
        if ms > worst_ms:
            worst_ms, worst_kind = ms, kind
    return {"inputs": len(results), "length": MAX_LENGTH, "worst_ms": round(worst_ms, 3),
            "worst_kind": worst_kind, "median_ms": round(statistics.median(results), 3),
            "target_ms": 50.0,
            "note": "median of 3 runs per input; random searches over look-alike-heavy "
                    "alphabets, repeats, sequences, dates, non-Latin, and one input of "
                    "10,000 code points (refused for length, judged on the first 128)"}


def sorted_random_keys(rng: random.Random, count: int, size: int) -> Iterator[bytes]:
    """``count`` uniform random keys in ascending order, without sorting: the order statistics
    of uniform values are cumulative sums of exponential gaps (10 million records sorted as
    Python bytes would take most of a minute)."""
    scale = 256 ** size
    # The sum of `count` gaps is count ± sqrt(count): a 10-sigma margin keeps it below scale.
    step = scale / (count + 10 * math.isqrt(count) + 1)
    total = 0.0
    for _ in range(count):
        total += rng.expovariate(1.0)
        yield min(int(total * step), scale - 1).to_bytes(size, "big")


def _bisect_baseline(loaded: list[bytes], probes: list[str], size: int) -> list[float]:
    def contains(pw: str) -> bool:
        key = hashlib.sha1(pw.encode(), usedforsecurity=False).digest()[:size]
        i = bisect.bisect_left(loaded, key)
        return i < len(loaded) and loaded[i] == key

    return [timed_ms(lambda pw=pw: contains(pw)) for pw in probes]


def bench_breached(rng: random.Random, tmp: Path) -> dict[str, object]:
    size = 8
    hits = [f"bench-breached-{i}" for i in range(LOOKUPS // 2)]
    misses = [f"bench-absent-{i}" for i in range(LOOKUPS // 2)]
    start = time.perf_counter()
    known = sorted(sha1_of(h)[:size] for h in hits)
    path = tmp / "breached.ghpw"
    count = write_records(path, heapq.merge(
        sorted_random_keys(rng, BREACHED_ENTRIES - len(known), size), known), size)
    build_s = time.perf_counter() - start

    found = BreachedList(path)
    probes = hits + misses
    rng.shuffle(probes)
    samples, correct = [], 0
    hit_set = set(hits)
    for pw in probes:
        holder: list[bool] = []
        samples.append(timed_ms(lambda pw=pw, holder=holder: holder.append(  # type: ignore[misc]
            found.contains(pw))))
        correct += holder[0] == (pw in hit_set)

    # Baseline: the same records in memory, searched with bisect (after loading them).
    start = time.perf_counter()
    with path.open("rb") as handle:
        handle.seek(32)
        blob = handle.read()
    loaded = [blob[i:i + size] for i in range(0, len(blob), size)]
    del blob
    load_s = time.perf_counter() - start

    baseline = _bisect_baseline(loaded, probes, size)
    del loaded
    gc.collect()

    # The text converter, on a sample in the download's full-hash format.
    text_path = tmp / "sample-pwned.txt"
    with text_path.open("w", encoding="ascii") as handle:
        for _ in range(CONVERT_LINES):
            handle.write(f"{rng.randbytes(20).hex().upper()}:{rng.randrange(1, 5000)}\n")
    start = time.perf_counter()
    report = build_breached_file(text_path, tmp / "sample.ghpw", size)
    convert_s = time.perf_counter() - start
    result = summary(samples)
    found.close()
    return {
        "entries": count, "record_bytes": size,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "false_positive_rate_per_check": count / 2 ** (8 * size),
        "build_s": round(build_s, 2),
        "lookups": len(probes), "correct": correct, **result,
        "target_median_ms": 0.1,
        "baseline_bisect_in_memory": {"load_s": round(load_s, 2), **summary(baseline),
                                      "ratio_median": round(
                                          summary(baseline)["median_ms"]
                                          / max(result["median_ms"], 1e-9), 2)},
        "text_conversion": {"lines": report.lines, "seconds": round(convert_s, 2),
                            "lines_per_s": round(report.lines / convert_s)},
    }


def main() -> None:
    started = time.perf_counter()
    rng = random.Random(SEED)
    evaluation = bench_evaluate(rng)
    worst = bench_worst(rng)
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp:
        breached = bench_breached(rng, Path(tmp))
    document = {
        "benchmark": "password_eval",
        "seed": SEED,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "evaluate": evaluation,
        "worst_single_input": worst,
        "breached_lookup": breached,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
