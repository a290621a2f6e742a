"""Candidate passwords for the old-versus-new comparison: a built-in sample and a person's file.

The sample is the same on every run (a fixed seed), so two admins showing the comparison to
the organisation show the same figures. It mixes what the policy change is about:

- the most common passwords (the top of the shipped list), which both policies should refuse
  but the legacy one often accepted once decorated;
- passwords written *for* the legacy rules: a word, capital first, a year and a symbol
  ("Summer2026!", "Xoserve2021!", "P@ssw0rd1") — the old policy accepts these;
- strong ones: four-word passphrases and 20-character random strings, which the new policy
  accepts (and the legacy policy refuses when they lack three character classes).

No candidate is ever shown: the comparison reports only counts.
"""

from __future__ import annotations

import random
import string
from functools import cache
from pathlib import Path

SEED = 2026
TOP_COMMON = 200

_LEGACY_WORDS = (
    "password", "welcome", "summer", "winter", "spring", "autumn", "january", "october",
    "december", "xoserve", "correla", "gemini", "dragon", "monkey", "football", "sunshine",
    "princess", "letmein", "london", "chelsea", "liverpool", "arsenal", "manchester", "master",
)
_LEET = str.maketrans({"a": "@", "o": "0", "e": "3", "s": "$", "i": "1"})
# Neutral words for passphrases: not names, places, months or products.
_PHRASE_WORDS = (
    "copper", "lantern", "meadow", "violin", "glacier", "pepper", "harbour", "thistle",
    "orbit", "saddle", "marble", "quill", "tundra", "biscuit", "falcon", "ripple",
    "cobalt", "walnut", "ember", "canyon", "velvet", "pylon", "juniper", "mosaic",
    "kettle", "plank", "nectar", "basalt", "whistle", "gravel", "otter", "prism",
    "anchor", "tapestry", "ledger", "cinder", "fjord", "hazel", "lobster", "mantle",
    "nutmeg", "parsnip", "quartz", "rafter", "sorrel", "tinder", "umber", "vortex",
)
_SYMBOLS = "!#$%&*?@"


def _common(top: int) -> list[str]:
    found: list[str] = []
    from services.passwords.evaluate import default_policy

    with default_policy().common_list.open(encoding="utf-8") as handle:
        for line in handle:
            word = line.strip()
            if word and not word.startswith("#"):
                found.append(word)
                if len(found) == top:
                    break
    return found


@cache
def builtin_sample() -> tuple[str, ...]:
    """About 450 candidates, the same on every run (see the module docstring)."""
    # Not for secrets: a fixed seed so the sample, and so the figures, never change.
    rng = random.Random(SEED)  # noqa: S311
    sample = _common(TOP_COMMON)
    for word in _LEGACY_WORDS:
        year = rng.randrange(1990, 2027)
        symbol = rng.choice(_SYMBOLS)
        sample += [f"{word.capitalize()}{year}{symbol}",
                   f"{word.capitalize()}{rng.randrange(1, 100)}",
                   f"{word.capitalize().translate(_LEET)}{rng.randrange(1, 10)}",
                   f"{word.capitalize()}{symbol}{year % 100:02d}"]
    for _ in range(80):
        sample.append(" ".join(rng.sample(_PHRASE_WORDS, 4)))
    alphabet = string.ascii_letters + string.digits + string.punctuation
    for _ in range(70):
        sample.append("".join(rng.choice(alphabet) for _ in range(20)))
    return tuple(sample)


def sample_size() -> int:
    return len(builtin_sample())


def read_candidates(path: Path) -> list[str]:
    """One candidate per line of a UTF-8 text file; empty lines are skipped."""
    from services.errors import InvalidInput

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read the candidates file {path}: "
                           f"{exc.strerror or exc}. Choose another file.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InvalidInput(f"{path.name}, line {line}: not valid UTF-8; save the file as "
                           "UTF-8 text (one candidate password per line).") from None
    candidates = [line for line in text.splitlines() if line]
    if not candidates:
        raise InvalidInput(f"{path.name} holds no candidate passwords; put one per line.")
    return candidates
