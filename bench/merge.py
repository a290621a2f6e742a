"""Benchmark: suggested merges over 100,000 identities, and one merge planned and applied.
Prints one JSON object.

Measures (target in brackets):
- suggestion detection over ``--identities`` synthetic accounts [<= 5 s at 100,000];
- the pairwise-naive baseline (every pair compared by the same rules) on a ``--sample``
  subset, extrapolated to the full count by the number of pairs;
- how many of the duplicates planted by the generator are found (recall);
- plan + apply of one three-account merge in a fresh SQLite store.

    .venv/bin/python bench/merge.py [--identities N] [--sample N] [--seed S]

The generator is seeded: people get names from Faker's en_GB lists, an organisation and a
login ID ``given.family@domain`` (a numeric suffix when the ID is taken, as the legacy systems
did); about 4% of people hold a second account of one of four kinds: a numbered variant, the
same login ID in other letter case, a typo in one name, the same name under another ID.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Never the developer's real keyring.
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.memory_keyring.MemoryKeyring"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import string  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from rapidfuzz import fuzz  # noqa: E402

from services.merge.detect import (  # noqa: E402
    FUZZY_MIN,
    Candidate,
    casefold_login,
    name_key,
    suggest_merges,
)

TARGET_DETECT_S = 5.0
DUPLICATE_SHARE = 0.04
ORGS = (("NWGS", "northwind-gas.example"), ("BRWS", "brightwater.example"),
        ("PENN", "pennine-gt.example"), ("SEVN", "severn-igt.example"),
        ("ORCH", "orchard-energy.example"), ("TYNE", "tyne-valley.example"),
        ("CALD", "calder.example"), ("XOS", "xoserve.example"))


def _typo(rng: random.Random, text: str) -> str:
    """One letter replaced, dropped or doubled (not the first: see the detector's blocks)."""
    if len(text) < 4:
        return text + rng.choice(string.ascii_lowercase)
    pos = rng.randrange(1, len(text))
    kind = rng.randrange(3)
    if kind == 0:
        return text[:pos] + rng.choice(string.ascii_lowercase) + text[pos + 1:]
    if kind == 1:
        return text[:pos] + text[pos + 1:]
    return text[:pos] + text[pos] + text[pos:]


def generate(count: int, seed: int) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """``count`` candidates, oldest first, and the planted duplicate pairs (keys)."""
    from faker.providers.person.en_GB import Provider

    rng = random.Random(seed)
    given_names = sorted(set(Provider.first_names_male) | set(Provider.first_names_female))
    family_names = sorted(Provider.last_names)
    taken: set[str] = set()
    people: list[Candidate] = []
    planted: list[tuple[str, str]] = []

    def login_for(local: str, domain: str) -> str:
        login, n = f"{local}@{domain}", 1
        while login.lower() in taken:
            login, n = f"{local}{n}@{domain}", n + 1
        taken.add(login.lower())
        return login

    while len(people) < count:
        org, domain = ORGS[rng.randrange(len(ORGS))]
        given, family = rng.choice(given_names), rng.choice(family_names)
        local = f"{given}.{family}".lower().replace(" ", "").replace("'", "")
        key = f"p{len(people)}"
        people.append(Candidate(key, login_for(local, domain), given, family, org))
        if rng.random() >= DUPLICATE_SHARE or len(people) >= count:
            continue
        kind = rng.randrange(4)
        dup = f"p{len(people)}"
        if kind == 0:  # a numbered variant: the old ID could not be reused
            people.append(Candidate(dup, login_for(local, domain), given, family, org))
        elif kind == 1:  # the same ID typed in other letter case on a second system
            people.append(Candidate(dup, people[-1].login_id.title(), given, family, org))
        elif kind == 2:  # a typo in one name, under an ID made from it
            if rng.random() < 0.5:
                given2, family2 = _typo(rng, given), family
            else:
                given2, family2 = given, _typo(rng, family)
            local2 = f"{given2}.{family2}".lower().replace(" ", "").replace("'", "")
            people.append(Candidate(dup, login_for(local2, domain), given2, family2, org))
        else:  # the same name under another ID (initial and family name)
            people.append(Candidate(dup, login_for(f"{given[0]}{family}".lower(), domain),
                                    given, family, org))
        planted.append((key, dup))
    return people[:count], planted


def naive_pairs(candidates: list[Candidate]) -> int:
    """Every pair, the same rules, no index: what the detector avoids."""
    logins = [casefold_login(c.login_id) for c in candidates]
    bases = []
    for login in logins:
        local, _at, domain = login.rpartition("@")
        bases.append(f"{local.rstrip('0123456789')}@{domain}")
    names = [f"{name_key(c.given_name)} {name_key(c.family_name)}" for c in candidates]
    orgs = [c.org_code for c in candidates]
    hits = 0
    for i in range(len(candidates)):
        for j in range(i + 1, len(candidates)):
            if logins[i] == logins[j] or bases[i] == bases[j] or (
                    orgs[i] == orgs[j] and fuzz.ratio(names[i], names[j]) >= FUZZY_MIN):
                hits += 1
    return hits


def plan_and_apply() -> dict[str, float]:
    from services.auth import operator_for
    from services.authz import SYSTEM
    from services.context import open_context
    from services.merge import merge, plan_merge
    from services.orgs import add_org
    from services.setup import ensure_company
    from services.users import add_identity
    from services.vault import KeyAccess

    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp:
        path = Path(tmp) / "merge.db"
        access = KeyAccess(key_file=path.with_suffix(".key"),
                           passphrase="benchmark key file passphrase")  # noqa: S106
        ctx = open_context(f"sqlite:///{path}", access=access)
        try:
            ensure_company(ctx)
            add_org(ctx, SYSTEM, "NWGS", "Northwind Gas Shipping", "shipper")
            admin = add_identity(ctx, SYSTEM, "bench.admin@xoserve.example", "Bench", "Admin",
                                 "XOS", ["GATEHOUSE:platform_admin"])
            op = operator_for(admin)
            op = type(op)(**{**op.__dict__, "mfa_verified": True})
            for n, roles in enumerate((["DES:viewer"], ["DES:standard", "UKLINK:viewer"],
                                       ["APIDEV:developer"])):
                add_identity(ctx, SYSTEM, f"alex.morgan{n or ''}@northwind-gas.example", "Alex",
                             "Morgan", "NWGS", roles)
            started = time.perf_counter()
            plan = plan_merge(ctx, op, "alex.morgan@northwind-gas.example",
                              ["alex.morgan1@northwind-gas.example",
                               "alex.morgan2@northwind-gas.example"])
            planned = time.perf_counter()
            merge(ctx, op, plan)
            applied = time.perf_counter()
        finally:
            ctx.close()
    return {"plan_ms": round((planned - started) * 1000, 1),
            "apply_ms": round((applied - planned) * 1000, 1),
            "total_ms": round((applied - started) * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    candidates, planted = generate(args.identities, args.seed)
    runs: list[float] = []
    found: list[Any] = []
    for _ in range(args.runs):
        name_key.cache_clear()  # each run from cold, as a fresh process would
        started = time.perf_counter()
        found = suggest_merges(candidates)
        runs.append(time.perf_counter() - started)
    pairs_found = {frozenset((a, b)) for s in found for a in s.keys for b in s.keys if a != b}
    recalled = sum(1 for a, b in planted if frozenset((a, b)) in pairs_found)
    kinds: dict[str, int] = {}
    for s in found:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1

    sample = candidates[:args.sample]
    started = time.perf_counter()
    naive_hits = naive_pairs(sample)
    naive_s = time.perf_counter() - started
    scale = (args.identities * (args.identities - 1)) / (args.sample * (args.sample - 1))
    started = time.perf_counter()
    suggest_merges(sample)
    indexed_sample_s = time.perf_counter() - started
    best, median = min(runs), statistics.median(runs)

    result = {
        "benchmark": "merge",
        "identities": len(candidates),
        "seed": args.seed,
        "planted_duplicates": len(planted),
        "detection_s": {"median": round(median, 3), "best": round(best, 3),
                        "runs": [round(r, 3) for r in runs]},
        "suggestions": len(found),
        "suggestions_by_kind": dict(sorted(kinds.items())),
        "planted_found": recalled,
        "recall": round(recalled / len(planted), 4) if planted else None,
        "baseline": {
            "method": "pairwise-naive: every pair compared by the same rules",
            "sample": len(sample),
            "pairs": len(sample) * (len(sample) - 1) // 2,
            "naive_s": round(naive_s, 2),
            "naive_hits": naive_hits,
            "indexed_s_on_sample": round(indexed_sample_s, 3),
            "extrapolated_naive_s_at_full": round(naive_s * scale, 0),
        },
        "speedup_vs_extrapolated_naive": round(naive_s * scale / median, 0),
        "plan_and_apply_one_merge": plan_and_apply(),
        "target": {"detection_s": TARGET_DETECT_S},
        "met": {"detection": median <= TARGET_DETECT_S},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
